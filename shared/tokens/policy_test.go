package tokens_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

// now is the policy tests' clock: mid-morning UTC, so a token expiring
// tomorrow has 0 whole days left and one expiring today is dead already.
var now = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// day returns 00:00 UTC of the date offset days from now's date.
func day(offset int) *time.Time {
	t := time.Date(2026, 11, 25+offset, 0, 0, 0, 0, time.UTC)
	return &t
}

func at(t time.Time) *time.Time { return &t }

// healthy returns the status of a group token no policy finding applies to.
func healthy() tokens.Status {
	return tokens.Status{
		Name:      "primary",
		Source:    "secret:arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-AbCdEf",
		URL:       "https://gitlab.example.edu",
		Hash:      gitpulse.NewSecret("glpat-primaryprimaryprim").Hash(),
		Known:     true,
		Kind:      gitpulse.KindGroup,
		TokenID:   7,
		UserID:    21,
		Username:  "group_42_bot_0a1b2c3d",
		Bot:       true,
		GroupID:   42,
		Scopes:    []string{"read_api", "read_repository"},
		ExpiresAt: day(100),
		CreatedAt: at(day(-10).Add(15 * time.Hour)),
		Active:    true,
		CheckedAt: now,
	}
}

// personal turns s into a human's personal token.
func personal(s *tokens.Status) {
	s.Kind, s.Bot, s.GroupID, s.Username = gitpulse.KindPersonal, false, 0, "alice"
}

func failure(kind gitlab.FailureKind, status int) func(*tokens.Status) {
	return func(s *tokens.Status) {
		*s = tokens.Status{Name: s.Name, Source: s.Source, URL: s.URL, Hash: s.Hash, CheckedAt: s.CheckedAt,
			Failure: &gitlab.Failure{Kind: kind, Status: status, Message: fmt.Sprintf("%d %s", status, kind)}}
	}
}

func scopes(sc ...string) func(*tokens.Status) {
	return func(s *tokens.Status) { s.Scopes = sc }
}

func selfRotation(p *tokens.Policy) { p.SelfRotation = true }

// summary renders findings as "severity code" lines, in order.
func summary(fs []tokens.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, string(f.Severity)+" "+f.Code)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	rotated := func(r tokens.Rotation) func(*tokens.Status) {
		return func(s *tokens.Status) { s.Rotation = &r }
	}
	tests := []struct {
		name   string
		status func(*tokens.Status)
		policy func(*tokens.Policy)
		now    time.Time // zero: now
		want   []string
		// msg, when set, must appear in the first finding's message.
		msg string
	}{
		{name: "healthy group token", want: []string{}},

		// Expiry windows, counted in whole days to 00:00 UTC of the date.
		{name: "31 days left", status: func(s *tokens.Status) { s.ExpiresAt = day(32) }, want: []string{}},
		{name: "exactly 30 days left", status: func(s *tokens.Status) { s.ExpiresAt = day(31) },
			want: []string{"warning expires_soon"}, msg: "token 'primary' expires in 30 days (2026-12-26): rotate it or create a new one before then"},
		{name: "8 days left", status: func(s *tokens.Status) { s.ExpiresAt = day(9) },
			want: []string{"warning expires_soon"}, msg: "in 8 days (2026-12-04)"},
		{name: "exactly 7 days left", status: func(s *tokens.Status) { s.ExpiresAt = day(8) },
			want: []string{"critical expires_soon"}, msg: "token 'primary' expires in 7 days (2026-12-03): rotate it or create a new one now"},
		{name: "1 day left", status: func(s *tokens.Status) { s.ExpiresAt = day(2) },
			want: []string{"critical expires_soon"}, msg: "in 1 day (2026-11-27)"},
		{name: "expiry date tomorrow: 0 days left", status: func(s *tokens.Status) { s.ExpiresAt = day(1) },
			want: []string{"critical expires_soon"}, msg: "expires in less than a day, at 00:00 UTC (2026-11-26)"},
		{name: "expiry date tomorrow, one second before midnight", status: func(s *tokens.Status) { s.ExpiresAt = day(1) },
			now: time.Date(2026, 11, 25, 23, 59, 59, 0, time.UTC), want: []string{"critical expires_soon"}},
		{name: "expiry date today: dead since 00:00 UTC", status: func(s *tokens.Status) { s.ExpiresAt = day(0) },
			want: []string{"critical token_expired"}, msg: "token 'primary' expired on 2026-11-25"},
		{name: "expiry date today, at exactly 00:00 UTC", status: func(s *tokens.Status) { s.ExpiresAt = day(0) },
			now: *day(0), want: []string{"critical token_expired"}},
		{name: "expired yesterday", status: func(s *tokens.Status) { s.ExpiresAt = day(-1) },
			want: []string{"critical token_expired"}, msg: "expired on 2026-11-24"},
		{name: "expiry in another location counts by its date", status: func(s *tokens.Status) {
			s.ExpiresAt = at(time.Date(2026, 12, 26, 23, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)))
		}, want: []string{"warning expires_soon"}, msg: "(2026-12-26)"},
		{name: "no expiry", status: func(s *tokens.Status) { s.ExpiresAt = nil },
			want: []string{"warning no_expiry"}, msg: "token 'primary' never expires"},
		{name: "windows are configurable", status: func(s *tokens.Status) { s.ExpiresAt = day(41) },
			policy: func(p *tokens.Policy) { p.WarningDays, p.CriticalDays = 60, 40 }, want: []string{"critical expires_soon"}},

		// Lifetime: creation date to expiry date.
		{name: "lifetime exactly 180 days", status: func(s *tokens.Status) { s.ExpiresAt = at(s.CreatedAt.AddDate(0, 0, 180)) },
			want: []string{}},
		{name: "lifetime 181 days", status: func(s *tokens.Status) { s.ExpiresAt = at(s.CreatedAt.AddDate(0, 0, 181)) },
			want: []string{"warning lifetime_too_long"}, msg: "token 'primary' lives 181 days (2026-11-15 to 2027-05-15), more than the policy maximum of 180"},
		{name: "lifetime check off", status: func(s *tokens.Status) { s.ExpiresAt = day(300) },
			policy: func(p *tokens.Policy) { p.MaxLifetimeDays = 0 }, want: []string{}},
		{name: "lifetime unknown without created_at", status: func(s *tokens.Status) { s.ExpiresAt, s.CreatedAt = day(300), nil },
			want: []string{}},

		// Scopes.
		{name: "missing read_repository", status: scopes("read_api"),
			want: []string{"warning missing_scope"}, msg: "token 'primary' lacks read_repository (it has read_api)"},
		{name: "missing read_api", status: scopes("read_repository"),
			want: []string{"warning missing_scope"}, msg: "lacks read_api"},
		{name: "missing both", status: scopes("read_user"),
			want: []string{"warning missing_scope"}, msg: "lacks read_api and read_repository"},
		{name: "api alone: nothing missing, too much", status: scopes("api"),
			want: []string{"warning excess_scope"}, msg: "token 'primary' has more scope than GitPulse needs (api): a leak would let it write to GitLab; replace it with a token that has only read_api and read_repository"},
		{name: "write_repository covers read_repository", status: scopes("read_api", "write_repository"),
			want: []string{"warning excess_scope"}, msg: "(write_repository)"},
		{name: "admin scopes", status: scopes("read_api", "read_repository", "sudo", "admin_mode", "create_runner", "manage_runner", "write_registry"),
			want: []string{"warning excess_scope"}, msg: "(write_registry, sudo, admin_mode, create_runner, manage_runner)"},
		{name: "read-only extras are fine", status: scopes("read_api", "read_repository", "read_user", "read_registry"), want: []string{}},
		{name: "self_rotate without self-rotation", status: scopes("read_api", "read_repository", "self_rotate"),
			want: []string{"warning excess_scope"}, msg: "(self_rotate)"},
		{name: "self-rotation with self_rotate", status: scopes("read_api", "read_repository", "self_rotate"),
			policy: selfRotation, want: []string{}},
		{name: "self-rotation with api only", status: scopes("api"), policy: selfRotation,
			want: []string{"info api_for_self_rotation"}, msg: "give its replacement self_rotate instead of api"},
		{name: "self-rotation with api and self_rotate", status: scopes("api", "self_rotate"), policy: selfRotation,
			want: []string{"warning excess_scope"}, msg: "(api)"},
		{name: "self-rotation without a rotation scope", status: scopes("read_api", "read_repository"), policy: selfRotation,
			want: []string{"warning missing_scope"}, msg: "lacks self_rotate"},
		{name: "a required write scope is not excess", status: scopes("read_api", "write_repository"),
			policy: func(p *tokens.Policy) { p.RequiredScopes = []string{"read_api", "write_repository"} }, want: []string{}},

		// Owner and environment.
		{name: "personal token in prod", status: personal, policy: func(p *tokens.Policy) { p.Environment = "prod" },
			want: []string{"warning personal_in_production"}, msg: "token 'primary' is a personal access token of user 'alice' in the production environment 'prod'"},
		{name: "personal token in Production", status: personal, policy: func(p *tokens.Policy) { p.Environment = "Production" },
			want: []string{"warning personal_in_production"}},
		{name: "personal token in dev", status: personal, policy: func(p *tokens.Policy) { p.Environment = "dev" }, want: []string{}},
		{name: "personal token, no environment", status: personal, want: []string{}},
		{name: "group token in prod", policy: func(p *tokens.Policy) { p.Environment = "prod" }, want: []string{}},
		{name: "service account token in prod", status: func(s *tokens.Status) { personal(s); s.Bot = true },
			policy: func(p *tokens.Policy) { p.Environment = "prod" }, want: []string{}},
		{name: "production names are configurable", status: personal,
			policy: func(p *tokens.Policy) { p.Environment, p.ProductionEnvironments = "live", []string{"live"} },
			want:   []string{"warning personal_in_production"}},

		// What GitLab answered.
		{name: "401 expired", status: failure(gitlab.FailTokenExpired, 401),
			want: []string{"critical token_expired"}, msg: "token 'primary' has expired (GitLab answers 401): create a new token in GitLab and store it in Secrets Manager secret arn:aws:secretsmanager:"},
		{name: "401 revoked", status: failure(gitlab.FailTokenRevoked, 401),
			want: []string{"critical token_revoked"}, msg: "token 'primary' was revoked in GitLab"},
		{name: "401 unknown", status: failure(gitlab.FailUnauthorized, 401),
			want: []string{"critical token_unknown"}, msg: "GitLab at https://gitlab.example.edu does not know token 'primary' (401)"},
		{name: "403 insufficient scope, self endpoint answered", status: func(s *tokens.Status) {
			s.Kind, s.Bot, s.GroupID, s.Username = gitpulse.KindUnknown, false, 0, ""
			s.Scopes = []string{"read_repository"}
			s.Failure = &gitlab.Failure{Kind: gitlab.FailInsufficientScope, Status: 403, Message: "403 token lacks a required scope"}
		}, want: []string{"critical insufficient_scope", "warning missing_scope"}, msg: "GitLab refused token 'primary' for lack of scope (403 insufficient_scope; it has read_repository)"},
		{name: "token unreadable", status: failure(gitlab.FailToken, 0),
			want: []string{"critical token_unreadable"}, msg: "token 'primary' could not be read from Secrets Manager secret"},
		{name: "429", status: failure(gitlab.FailRateLimited, 429),
			want: []string{"warning check_failed"}, msg: "could not check token 'primary': 429 rate_limited; the token may be fine"},
		{name: "5xx", status: failure(gitlab.FailServer, 502), want: []string{"warning check_failed"}},
		{name: "network", status: failure(gitlab.FailNetwork, 0), want: []string{"warning check_failed"}},
		{name: "timeout", status: failure(gitlab.FailTimeout, 0), want: []string{"warning check_failed"}},
		{name: "429 on /user keeps the self endpoint's findings", status: func(s *tokens.Status) {
			s.ExpiresAt = day(5)
			s.Failure = &gitlab.Failure{Kind: gitlab.FailRateLimited, Status: 429, Message: "429 rate limited by GitLab"}
		}, want: []string{"critical expires_soon", "warning check_failed"}},
		{name: "self endpoint says revoked", status: func(s *tokens.Status) { s.Active, s.Revoked = false, true },
			want: []string{"critical token_revoked"}},
		{name: "self endpoint says inactive", status: func(s *tokens.Status) { s.Active = false },
			want: []string{"critical token_revoked"}, msg: "GitLab reports token 'primary' as inactive"},

		// OAuth2 tokens live hours: no expiry windows, no lifetime.
		{name: "oauth token", status: func(s *tokens.Status) {
			personal(s)
			s.Kind, s.ExpiresAt, s.CreatedAt = gitpulse.KindOAuth, at(now.Add(2*time.Hour)), at(now)
		}, want: []string{"info oauth_short_lived"}, msg: "expires at 2026-11-25T11:30:00Z"},
		{name: "oauth token past its expiry", status: func(s *tokens.Status) {
			s.Kind, s.ExpiresAt = gitpulse.KindOAuth, at(now.Add(-time.Minute))
		}, want: []string{"critical token_expired"}, msg: "get a new OAuth2 access token"},
		{name: "oauth token without expiry", status: func(s *tokens.Status) { s.Kind, s.ExpiresAt = gitpulse.KindOAuth, nil },
			want: []string{"warning no_expiry"}},

		// Secrets Manager rotation.
		{name: "rotation disabled", status: rotated(tokens.Rotation{Enabled: false}),
			want: []string{"warning rotation_disabled"}, msg: "rotation is not enabled on Secrets Manager secret arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-AbCdEf, which holds token 'primary'"},
		{name: "rotated on schedule", status: rotated(tokens.Rotation{Enabled: true, EveryDays: 30, LastRotated: at(now.AddDate(0, 0, -30))}),
			want: []string{}},
		{name: "rotation a day late: within grace", status: rotated(tokens.Rotation{Enabled: true, EveryDays: 30, LastRotated: at(now.AddDate(0, 0, -31))}),
			want: []string{}},
		{name: "rotation past grace", status: rotated(tokens.Rotation{Enabled: true, EveryDays: 30, LastRotated: at(now.AddDate(0, 0, -31).Add(-time.Second))}),
			want: []string{"warning rotation_overdue"}, msg: "token 'primary' was last rotated on 2026-10-25, 31 days ago"},
		{name: "rotation enabled, never rotated", status: rotated(tokens.Rotation{Enabled: true, EveryDays: 30}),
			want: []string{"warning rotation_overdue"}, msg: "was never rotated"},
		{name: "rotation schedule unknown", status: rotated(tokens.Rotation{Enabled: true, LastRotated: day(-400)}), want: []string{}},

		// Several at once, most severe first.
		{name: "over-scoped personal token without expiry in prod", status: func(s *tokens.Status) {
			personal(s)
			s.Scopes, s.ExpiresAt = []string{"api"}, nil
			s.Rotation = &tokens.Rotation{}
		}, policy: func(p *tokens.Policy) { p.Environment = "prod" },
			want: []string{"warning no_expiry", "warning excess_scope", "warning personal_in_production", "warning rotation_disabled"}},
		{name: "expired with too much scope", status: func(s *tokens.Status) { s.ExpiresAt, s.Scopes = day(-1), []string{"api"} },
			want: []string{"critical token_expired", "warning excess_scope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy()
			if tt.status != nil {
				tt.status(&s)
			}
			p := tokens.DefaultPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			at := now
			if !tt.now.IsZero() {
				at = tt.now
			}
			got := tokens.Evaluate(p, s, at)
			if !reflect.DeepEqual(summary(got), tt.want) {
				t.Fatalf("Evaluate: got %q, want %q", summary(got), tt.want)
			}
			for _, f := range got {
				if !strings.Contains(f.Message, "'primary'") {
					t.Errorf("finding %s: got message %q, want it to name the token 'primary'", f.Code, f.Message)
				}
				if strings.Contains(f.Message, "glpat-") {
					t.Errorf("finding %s: message %q holds a token value", f.Code, f.Message)
				}
			}
			if tt.msg != "" && !strings.Contains(got[0].Message, tt.msg) {
				t.Errorf("message: got %q, want it to contain %q", got[0].Message, tt.msg)
			}
		})
	}
}

func TestEvaluateIsPure(t *testing.T) {
	s := healthy()
	s.ExpiresAt, s.Scopes = day(3), []string{"api"}
	before, _ := json.Marshal(s)
	first := tokens.Evaluate(tokens.DefaultPolicy(), s, now)
	second := tokens.Evaluate(tokens.DefaultPolicy(), s, now)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("second Evaluate: got %v, want %v", second, first)
	}
	if after, _ := json.Marshal(s); string(after) != string(before) {
		t.Errorf("status after Evaluate: got %s, want %s", after, before)
	}
}

func TestEvaluateAllDuplicates(t *testing.T) {
	a, b, c := healthy(), healthy(), healthy()
	b.Name, b.Source = "backup", "env:GITLAB_TOKENS[1]"
	c.Name, c.Source, c.Hash = "other", "env:GITLAB_TOKEN", gitpulse.NewSecret("glpat-otherotherotherothe").Hash()
	statuses := []tokens.Status{a, c, b}

	dups := tokens.Duplicates(statuses)
	if want := map[string][]int{a.Hash: {0, 2}}; !reflect.DeepEqual(dups, want) {
		t.Fatalf("Duplicates: got %v, want %v", dups, want)
	}

	got := tokens.EvaluateAll(tokens.DefaultPolicy(), statuses, now)
	want := [][]string{{"warning duplicate_token"}, {}, {"warning duplicate_token"}}
	for i := range want {
		if !reflect.DeepEqual(summary(got[i]), want[i]) {
			t.Errorf("EvaluateAll[%d] (%s): got %q, want %q", i, statuses[i].Name, summary(got[i]), want[i])
		}
	}
	wantMsg := "token 'backup' (environment variable GITLAB_TOKENS[1]) is the same token as 'primary' (Secrets Manager secret arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-AbCdEf): "
	if msg := got[2][0].Message; !strings.HasPrefix(msg, wantMsg) {
		t.Errorf("duplicate message: got %q, want prefix %q", msg, wantMsg)
	}
}

func TestEvaluateAllKeepsSeverityOrder(t *testing.T) {
	a, b := healthy(), healthy()
	a.ExpiresAt = day(3)
	b.Name = "backup"
	got := tokens.EvaluateAll(tokens.DefaultPolicy(), []tokens.Status{a, b}, now)
	if want := []string{"critical expires_soon", "warning duplicate_token"}; !reflect.DeepEqual(summary(got[0]), want) {
		t.Errorf("EvaluateAll[0]: got %q, want %q", summary(got[0]), want)
	}
}

func TestDuplicatesIgnoresMissingHash(t *testing.T) {
	a, b := healthy(), healthy()
	a.Hash, b.Hash = "", ""
	if got := tokens.Duplicates([]tokens.Status{a, b}); len(got) != 0 {
		t.Errorf("Duplicates: got %v, want none", got)
	}
}

func TestSeverity(t *testing.T) {
	ranks := []tokens.Severity{"", tokens.SeverityInfo, tokens.SeverityWarning, tokens.SeverityCritical}
	for i, s := range ranks {
		if got := s.Rank(); got != i {
			t.Errorf("%q.Rank(): got %d, want %d", s, got, i)
		}
	}
	tests := []struct {
		findings []tokens.Finding
		want     tokens.Severity
	}{
		{nil, ""},
		{[]tokens.Finding{{Severity: tokens.SeverityInfo}}, tokens.SeverityInfo},
		{[]tokens.Finding{{Severity: tokens.SeverityWarning}, {Severity: tokens.SeverityCritical}, {Severity: tokens.SeverityInfo}}, tokens.SeverityCritical},
	}
	for _, tt := range tests {
		if got := tokens.Worst(tt.findings); got != tt.want {
			t.Errorf("Worst(%v): got %q, want %q", tt.findings, got, tt.want)
		}
	}
}

func TestDaysLeft(t *testing.T) {
	exp := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		now     time.Time
		want    int
		expired bool
	}{
		{time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 11, false},
		{time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC), 11, false},
		{time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), 0, false},
		{time.Date(2026, 12, 6, 0, 0, 1, 0, time.UTC), 0, false},
		{time.Date(2026, 12, 6, 23, 59, 59, 0, time.UTC), 0, false},
		{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), -1, true},
		{time.Date(2026, 12, 7, 0, 0, 1, 0, time.UTC), -1, true},
		{time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC), -2, true},
		{time.Date(2026, 12, 6, 20, 0, 0, 0, time.FixedZone("UTC+5", 5*3600)), 0, false},
	}
	for _, tt := range tests {
		if got := tokens.DaysLeft(tt.now, exp); got != tt.want {
			t.Errorf("DaysLeft(%s, %s): got %d, want %d", tt.now, exp.Format(time.DateOnly), got, tt.want)
		}
		if got := tokens.Expired(tt.now, exp); got != tt.expired {
			t.Errorf("Expired(%s, %s): got %t, want %t", tt.now, exp.Format(time.DateOnly), got, tt.expired)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	s := healthy()
	s.Failure = &gitlab.Failure{Kind: gitlab.FailRateLimited, Status: 429, Message: "429 rate limited by GitLab",
		Err: fmt.Errorf("wrapped cause that must not be shown")}
	s.Rotation = &tokens.Rotation{Enabled: true, EveryDays: 30, LastRotated: day(-3)}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("unmarshal into a map: %v", err)
	}
	for _, key := range []string{"name", "source", "token_hash", "kind", "user_id", "bot", "group_id", "scopes", "expires_at", "created_at", "active", "checked_at", "failure", "rotation"} {
		if _, ok := fields[key]; !ok {
			t.Errorf("JSON %s: got no %q field, want one", b, key)
		}
	}
	if want := `{"kind":"rate_limited","status":429,"message":"429 rate limited by GitLab"}`; string(fields["failure"]) != want {
		t.Errorf("failure JSON: got %s, want %s", fields["failure"], want)
	}
	if strings.Contains(string(b), "wrapped cause") {
		t.Errorf("JSON %s shows the failure's wrapped error", b)
	}

	var back tokens.Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if back.Failure == nil || back.Failure.Kind != gitlab.FailRateLimited || back.Failure.Status != 429 {
		t.Errorf("round-tripped failure: got %+v, want kind rate_limited, status 429", back.Failure)
	}
	back.Failure, s.Failure = nil, nil
	if !reflect.DeepEqual(back.Scopes, s.Scopes) || !back.ExpiresAt.Equal(*s.ExpiresAt) || back.Hash != s.Hash || back.Rotation.EveryDays != 30 {
		t.Errorf("round trip: got %+v, want %+v", back, s)
	}
	if !slices.Equal(back.Scopes, s.Scopes) {
		t.Errorf("round-tripped scopes: got %v, want %v", back.Scopes, s.Scopes)
	}
}
func TestDaysLeftBoundaries(t *testing.T) {
	at := func(day, hour, min, sec int) time.Time { return time.Date(2025, 3, day, hour, min, sec, 0, time.UTC) }
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name      string
		now       time.Time
		expiresAt time.Time
		want      int
	}{
		{name: "expires tomorrow, now just after midnight", now: at(10, 0, 0, 1), expiresAt: at(11, 0, 0, 0), want: 0},
		{name: "expires tomorrow, now in the morning", now: at(10, 6, 0, 0), expiresAt: at(11, 0, 0, 0), want: 0},
		{name: "expires tomorrow, now at noon", now: at(10, 12, 0, 0), expiresAt: at(11, 0, 0, 0), want: 0},
		{name: "expires tomorrow, now a second before midnight", now: at(10, 23, 59, 59), expiresAt: at(11, 0, 0, 0), want: 0},
		{name: "expires tomorrow, the date's time of day is ignored", now: at(10, 12, 0, 0), expiresAt: at(11, 23, 0, 0), want: 0},
		{
			name: "expires tomorrow, now exactly midnight (the last day has begun)", now: at(10, 0, 0, 0), expiresAt: at(11, 0, 0, 0), want: 0,
		},
		{name: "expires today, now at noon (expired at 00:00)", now: at(10, 12, 0, 0), expiresAt: at(10, 0, 0, 0), want: -1},
		{name: "expires today, now just after midnight", now: at(10, 0, 0, 1), expiresAt: at(10, 0, 0, 0), want: -1},
		{
			name: "expires today, now exactly midnight (expired this instant)", now: at(10, 0, 0, 0), expiresAt: at(10, 0, 0, 0), want: -1,
		},
		{name: "expires in 30 days", now: at(10, 12, 0, 0), expiresAt: at(10, 0, 0, 0).AddDate(0, 0, 30), want: 29},
		{name: "expires in 31 days", now: at(10, 12, 0, 0), expiresAt: at(10, 0, 0, 0).AddDate(0, 0, 31), want: 30},
		{name: "expired 9 days ago", now: at(10, 12, 0, 0), expiresAt: at(1, 0, 0, 0), want: -10},
		{name: "expiry date read in its own zone", now: at(10, 12, 0, 0), expiresAt: time.Date(2025, 3, 11, 23, 0, 0, 0, est), want: 0},
		{name: "now in another zone is taken as UTC", now: time.Date(2025, 3, 10, 22, 0, 0, 0, est), expiresAt: at(11, 0, 0, 0), want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokens.DaysLeft(tt.now, tt.expiresAt); got != tt.want {
				t.Errorf("DaysLeft(%v, %v): got %d, want %d", tt.now, tt.expiresAt, got, tt.want)
			}
		})
	}
}
