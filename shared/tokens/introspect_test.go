package tokens_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

// simNow is the simulator's and the clients' clock: 100 ms before a minute
// ends, so that a spent rate limit window resets (for the client's
// limiter) after a short real wait while the simulator stays in it.
var simNow = time.Date(2026, 11, 25, 10, 0, 59, 900_000_000, time.UTC)

func simClock() time.Time { return simNow }

// newSim starts a simulator on simNow.
func newSim(t *testing.T, opts ...sim.Option) (*sim.Sim, string) {
	t.Helper()
	return testenv.Sim(t, append([]sim.Option{sim.WithClock(simClock)}, opts...)...)
}

// addToken creates a token in the simulator and returns it as GitPulse
// configures it.
func addToken(t *testing.T, s *sim.Sim, baseURL string, spec sim.TokenSpec) (gitpulse.Token, sim.Token) {
	t.Helper()
	st, err := s.AddToken(spec)
	if err != nil {
		t.Fatalf("AddToken(%+v): %v", spec, err)
	}
	tok := gitpulse.Token{Name: "primary", Value: gitpulse.NewSecret(st.Value), URL: baseURL, Source: "env:GITLAB_TOKEN"}
	if spec.Kind == sim.KindOAuth {
		tok.Kind = gitpulse.KindOAuth
	}
	return tok, st
}

// newClient returns a chokepoint client that sends tok, with retries off
// and the simulator's clock.
func newClient(t *testing.T, provider gitlab.TokenProvider, mods ...func(*gitlab.Options)) *gitlab.Client {
	t.Helper()
	opts := gitlab.Options{Provider: provider, MaxRetries: -1, Timeout: 5 * time.Second, Now: simClock}
	for _, m := range mods {
		m(&opts)
	}
	c, err := gitlab.New(opts)
	if err != nil {
		t.Fatalf("gitlab.New: %v", err)
	}
	return c
}

// introspect runs Introspect for tok through client and checks that the
// status, its JSON, its failure and its findings never show tok's value.
func introspect(t *testing.T, client *gitlab.Client, tok gitpulse.Token) tokens.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := tokens.Introspect(ctx, client, tok, simNow)
	checkNoValue(t, tok.Value.Reveal(), got)
	return got
}

func checkNoValue(t *testing.T, value string, s tokens.Status) {
	t.Helper()
	if value == "" {
		t.Fatal("checkNoValue: empty token value")
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal status: %v", err)
	}
	shown := map[string]string{
		"status JSON": string(b),
		"status %v":   fmt.Sprintf("%v", s),
		"status %+v":  fmt.Sprintf("%+v", s),
		"status %#v":  fmt.Sprintf("%#v", s),
	}
	if s.Failure != nil {
		shown["failure"] = s.Failure.Error()
		shown["failure %+v"] = fmt.Sprintf("%+v", *s.Failure)
		if s.Failure.Err != nil {
			shown["failure cause"] = s.Failure.Err.Error()
		}
	}
	for _, f := range tokens.Evaluate(tokens.DefaultPolicy(), s, simNow) {
		shown["finding "+f.Code] = f.Message
	}
	for what, text := range shown {
		if strings.Contains(text, value) {
			t.Errorf("%s holds the token value", what)
		}
	}
}

// requests returns how often the simulator saw a route.
func requests(s *sim.Sim, route string) int { return s.RequestCounts()[route] }

const (
	routeSelf      = "GET /api/v4/personal_access_tokens/self"
	routeUser      = "GET /api/v4/user"
	routeTokenInfo = "GET /oauth/token/info"
)

func TestIntrospectPersonalToken(t *testing.T) {
	s, url := newSim(t)
	alice := s.AddUser("alice", "Alice Example", false)
	tok, st := addToken(t, s, url, sim.TokenSpec{
		UserID: alice.ID, Name: "gitpulse-dev", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: day(30),
	})

	got := introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)

	want := tokens.Status{
		Name: "primary", Source: "env:GITLAB_TOKEN", URL: url, Hash: tok.Hash(),
		Known: true, Kind: gitpulse.KindPersonal, TokenID: int64(st.ID), TokenName: "gitpulse-dev",
		UserID: int64(alice.ID), Username: "alice", Bot: false,
		Scopes:    []string{"read_api", "read_repository"},
		ExpiresAt: day(30), CreatedAt: at(simNow), LastUsedAt: at(simNow),
		Active: true, CheckedAt: simNow,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Introspect:\ngot  %+v\nwant %+v", got, want)
	}
	if got.Hash != gitpulse.NewSecret(st.Value).Hash() || !strings.HasPrefix(got.Hash, "sha256:") {
		t.Errorf("hash: got %q, want the sha256 of the token", got.Hash)
	}
	// 29 whole days left at 10:00: warning window.
	if got, want := summary(tokens.Evaluate(tokens.DefaultPolicy(), got, simNow)), []string{"warning expires_soon"}; !reflect.DeepEqual(got, want) {
		t.Errorf("findings: got %q, want %q", got, want)
	}
}

func TestIntrospectBotTokens(t *testing.T) {
	tests := []struct {
		name           string
		spec           sim.TokenSpec
		kind           gitpulse.TokenKind
		group, project int64
		prefix         string
	}{
		{name: "group token", spec: sim.TokenSpec{Kind: sim.KindGroup, GroupID: 42},
			kind: gitpulse.KindGroup, group: 42, prefix: "group_42_bot_"},
		{name: "project token", spec: sim.TokenSpec{Kind: sim.KindProject, ProjectID: 1234},
			kind: gitpulse.KindProject, project: 1234, prefix: "project_1234_bot_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := newSim(t)
			tt.spec.Name, tt.spec.Scopes, tt.spec.ExpiresAt = "gitpulse", []string{"read_api", "read_repository"}, day(90)
			tok, _ := addToken(t, s, url, tt.spec)

			got := introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)

			if got.Failure != nil {
				t.Fatalf("failure: got %v, want none", got.Failure)
			}
			if got.Kind != tt.kind || !got.Bot || got.GroupID != tt.group || got.ProjectID != tt.project {
				t.Errorf("kind, bot, group, project: got %q, %t, %d, %d, want %q, true, %d, %d",
					got.Kind, got.Bot, got.GroupID, got.ProjectID, tt.kind, tt.group, tt.project)
			}
			if !strings.HasPrefix(got.Username, tt.prefix) {
				t.Errorf("username: got %q, want prefix %q", got.Username, tt.prefix)
			}
			if got.ExpiresAt == nil || !got.ExpiresAt.Equal(*day(90)) {
				t.Errorf("expires_at: got %v, want %v", got.ExpiresAt, day(90))
			}
			p := tokens.DefaultPolicy()
			p.Environment = "prod"
			if f := tokens.Evaluate(p, got, simNow); len(f) != 0 {
				t.Errorf("findings in prod: got %q, want none", summary(f))
			}
		})
	}
}

func TestIntrospectNoExpiry(t *testing.T) {
	s, url := newSim(t)
	tok, _ := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindGroup, GroupID: 7, Scopes: []string{"read_api", "read_repository"}})

	got := introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)

	if !got.Known || got.ExpiresAt != nil || got.Failure != nil {
		t.Fatalf("known, expires_at, failure: got %t, %v, %v, want true, nil, nil", got.Known, got.ExpiresAt, got.Failure)
	}
	if got, want := summary(tokens.Evaluate(tokens.DefaultPolicy(), got, simNow)), []string{"warning no_expiry"}; !reflect.DeepEqual(got, want) {
		t.Errorf("findings: got %q, want %q", got, want)
	}
}

func TestIntrospectOAuthToken(t *testing.T) {
	s, url := newSim(t)
	alice := s.AddUser("alice", "Alice Example", false)
	tok, _ := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindOAuth, UserID: alice.ID, Scopes: []string{"read_api", "read_repository"}})

	got := introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)

	want := tokens.Status{
		Name: "primary", Source: "env:GITLAB_TOKEN", URL: url, Hash: tok.Hash(),
		Known: true, Kind: gitpulse.KindOAuth, UserID: int64(alice.ID), Username: "alice",
		Scopes:    []string{"read_api", "read_repository"},
		ExpiresAt: at(simNow.Add(2 * time.Hour)), CreatedAt: at(simNow.Truncate(time.Second)),
		Active: true, CheckedAt: simNow,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Introspect:\ngot  %+v\nwant %+v", got, want)
	}
	if n := requests(s, routeSelf); n != 0 {
		t.Errorf("self endpoint calls: got %d, want 0 for a token configured as OAuth2", n)
	}
	if n := requests(s, routeTokenInfo); n != 1 {
		t.Errorf("token info calls: got %d, want 1", n)
	}
	if got, want := summary(tokens.Evaluate(tokens.DefaultPolicy(), got, simNow)), []string{"info oauth_short_lived"}; !reflect.DeepEqual(got, want) {
		t.Errorf("findings: got %q, want %q", got, want)
	}
}

// bearer sends every token as "Authorization: Bearer", as a deployment
// might: GitLab then answers the self endpoint with 400 for OAuth2 tokens.
func bearer(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if v := r.Header.Get("Private-Token"); v != "" {
			r = r.Clone(r.Context())
			r.Header.Del("Private-Token")
			r.Header.Set("Authorization", "Bearer "+v)
		}
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestIntrospectOAuthTokenFoundBySelfEndpoint400(t *testing.T) {
	s, url := newSim(t)
	tok, _ := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"api"}})
	tok.Kind = gitpulse.KindUnknown // not configured as OAuth2

	got := introspect(t, newClient(t, gitlab.StaticToken(tok), func(o *gitlab.Options) {
		o.Interceptors = []gl.Interceptor{bearer}
	}), tok)

	if got.Failure != nil {
		t.Fatalf("failure: got %v, want none", got.Failure)
	}
	if got.Kind != gitpulse.KindOAuth || !got.Known || !reflect.DeepEqual(got.Scopes, []string{"api"}) {
		t.Errorf("kind, known, scopes: got %q, %t, %v, want oauth, true, [api]", got.Kind, got.Known, got.Scopes)
	}
	if n := requests(s, routeSelf); n != 1 {
		t.Errorf("self endpoint calls: got %d, want 1", n)
	}
}

func TestIntrospectUnderScopedToken(t *testing.T) {
	s, url := newSim(t)
	tok, _ := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindGroup, GroupID: 42, Scopes: []string{"read_repository"}, ExpiresAt: day(60)})

	got := introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)

	// The self endpoint answers for any scope: what it told stays.
	if !got.Known || !reflect.DeepEqual(got.Scopes, []string{"read_repository"}) || got.ExpiresAt == nil {
		t.Errorf("known, scopes, expires_at: got %t, %v, %v, want true, [read_repository], %v", got.Known, got.Scopes, got.ExpiresAt, day(60))
	}
	if got.Failure == nil || got.Failure.Kind != gitlab.FailInsufficientScope || got.Failure.Status != http.StatusForbidden {
		t.Fatalf("failure: got %+v, want insufficient_scope 403 from GET /user", got.Failure)
	}
	// GET /user was refused, so the owner (and with it the kind) is unknown.
	if got.Kind != gitpulse.KindUnknown || got.Username != "" {
		t.Errorf("kind, username: got %q, %q, want unknown", got.Kind, got.Username)
	}
	want := []string{"critical insufficient_scope", "warning missing_scope"}
	if got := summary(tokens.Evaluate(tokens.DefaultPolicy(), got, simNow)); !reflect.DeepEqual(got, want) {
		t.Errorf("findings: got %q, want %q", got, want)
	}
}

// brokenSource is a token provider whose secret cannot be read.
type brokenSource struct{}

func (brokenSource) Token(context.Context) (gitpulse.Token, error) {
	return gitpulse.Token{}, gitpulse.Errorf(gitpulse.ENOTFOUND, "secret gitpulse/gitlab not found")
}

func TestIntrospectFailures(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the simulator and returns the token to check
		// and, when the test needs it, another token provider.
		setup    func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider)
		mod      func(*gitlab.Options)
		kind     gitlab.FailureKind
		status   int
		tokKind  gitpulse.TokenKind
		findings []string
	}{
		{name: "revoked", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, st := addToken(t, s, url, sim.TokenSpec{Scopes: []string{"read_api"}, ExpiresAt: day(30)})
			if err := s.RevokeToken(st.ID); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
			return tok, nil
		}, kind: gitlab.FailTokenRevoked, status: 401, findings: []string{"critical token_revoked"}},
		{name: "expired", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, st := addToken(t, s, url, sim.TokenSpec{Scopes: []string{"read_api"}, ExpiresAt: day(30)})
			if err := s.ExpireToken(st.ID); err != nil {
				t.Fatalf("ExpireToken: %v", err)
			}
			return tok, nil
		}, kind: gitlab.FailTokenExpired, status: 401, findings: []string{"critical token_expired"}},
		{name: "unknown", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			return gitpulse.Token{Name: "primary", Value: gitpulse.NewSecret("glpat-notknowntothissim1"), URL: url, Source: "env:GITLAB_TOKEN"}, nil
		}, kind: gitlab.FailUnauthorized, status: 401, findings: []string{"critical token_unknown"}},
		{name: "oauth expired", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, st := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"api"}})
			if err := s.ExpireToken(st.ID); err != nil {
				t.Fatalf("ExpireToken: %v", err)
			}
			return tok, nil
		}, kind: gitlab.FailTokenExpired, status: 401, tokKind: gitpulse.KindOAuth, findings: []string{"critical token_expired"}},
		{name: "oauth revoked", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, st := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"api"}})
			if err := s.RevokeToken(st.ID); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
			return tok, nil
		}, kind: gitlab.FailTokenRevoked, status: 401, tokKind: gitpulse.KindOAuth, findings: []string{"critical token_revoked"}},
		{name: "5xx", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, _ := addToken(t, s, url, sim.TokenSpec{Scopes: []string{"read_api"}, ExpiresAt: day(30)})
			s.InjectFault(sim.Fault{PathPrefix: "/api/v4/personal_access_tokens/self", Status: http.StatusBadGateway})
			return tok, nil
		}, kind: gitlab.FailServer, status: 502, findings: []string{"warning check_failed"}},
		{name: "network", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, _ := addToken(t, s, url, sim.TokenSpec{Scopes: []string{"read_api"}, ExpiresAt: day(30)})
			s.InjectFault(sim.Fault{Drop: true})
			return tok, nil
		}, kind: gitlab.FailNetwork, findings: []string{"warning check_failed"}},
		{name: "timeout", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			tok, _ := addToken(t, s, url, sim.TokenSpec{Scopes: []string{"read_api"}, ExpiresAt: day(30)})
			s.InjectFault(sim.Fault{Latency: time.Second})
			return tok, nil
		}, mod: func(o *gitlab.Options) { o.Timeout = 50 * time.Millisecond },
			kind: gitlab.FailTimeout, findings: []string{"warning check_failed"}},
		{name: "token unreadable", setup: func(t *testing.T, s *sim.Sim, url string) (gitpulse.Token, gitlab.TokenProvider) {
			return gitpulse.Token{Name: "primary", Value: gitpulse.NewSecret("never-read-value"), URL: url, Source: "secret:arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-AbCdEf"}, brokenSource{}
		}, kind: gitlab.FailToken, findings: []string{"critical token_unreadable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := newSim(t)
			tok, provider := tt.setup(t, s, url)
			if provider == nil {
				provider = gitlab.StaticToken(tok)
			}
			var mods []func(*gitlab.Options)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}

			got := introspect(t, newClient(t, provider, mods...), tok)

			if got.Failure == nil {
				t.Fatalf("failure: got none, want %s", tt.kind)
			}
			if got.Failure.Kind != tt.kind || got.Failure.Status != tt.status {
				t.Errorf("failure: got %s %d (%s), want %s %d", got.Failure.Kind, got.Failure.Status, got.Failure.Message, tt.kind, tt.status)
			}
			if got.Known || got.Kind != tt.tokKind || got.Scopes != nil || got.Active {
				t.Errorf("known, kind, scopes, active: got %t, %q, %v, %t, want false, %q, nil, false", got.Known, got.Kind, got.Scopes, got.Active, tt.tokKind)
			}
			if got.Name != "primary" || got.Hash != tok.Hash() || !got.CheckedAt.Equal(simNow) {
				t.Errorf("name, hash, checked_at: got %q, %q, %v, want primary, %q, %v", got.Name, got.Hash, got.CheckedAt, tok.Hash(), simNow)
			}
			if f := summary(tokens.Evaluate(tokens.DefaultPolicy(), got, simNow)); !reflect.DeepEqual(f, tt.findings) {
				t.Errorf("findings: got %q, want %q", f, tt.findings)
			}
		})
	}
}

func TestIntrospectRateLimited(t *testing.T) {
	s, url := newSim(t, sim.WithRateLimit(1))
	tok, _ := addToken(t, s, url, sim.TokenSpec{Kind: sim.KindGroup, GroupID: 42, Scopes: []string{"read_api", "read_repository"}, ExpiresAt: day(5)})

	// The self endpoint spends the one request of this minute; GET /user
	// gets 429. What the self endpoint told is kept.
	got := introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)
	if got.Failure == nil || got.Failure.Kind != gitlab.FailRateLimited || got.Failure.Status != http.StatusTooManyRequests {
		t.Fatalf("failure: got %+v, want rate_limited 429", got.Failure)
	}
	if !got.Known || got.ExpiresAt == nil || !got.ExpiresAt.Equal(*day(5)) {
		t.Errorf("known, expires_at: got %t, %v, want true, %v", got.Known, got.ExpiresAt, day(5))
	}
	want := []string{"critical expires_soon", "warning check_failed"}
	if f := summary(tokens.Evaluate(tokens.DefaultPolicy(), got, simNow)); !reflect.DeepEqual(f, want) {
		t.Errorf("findings: got %q, want %q", f, want)
	}

	// Throttled from the first call: nothing known.
	got = introspect(t, newClient(t, gitlab.StaticToken(tok)), tok)
	if got.Failure == nil || got.Failure.Kind != gitlab.FailRateLimited || got.Known {
		t.Fatalf("second check: got known %t, failure %+v, want unknown and rate_limited", got.Known, got.Failure)
	}
	if n := requests(s, routeSelf); n != 2 {
		t.Errorf("self endpoint calls: got %d, want 2 (no retries)", n)
	}
}
