package health_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
)

const (
	routeSelf = "GET /api/v4/personal_access_tokens/self"
	account   = "123456789012"
	secretARN = "arn:aws:secretsmanager:eu-central-1:" + account + ":secret:gitpulse/gitlab-token-AbC123"
)

// t0 is the time every fake clock starts at.
var t0 = time.Date(2025, 3, 10, 12, 0, 30, 0, time.UTC)

func TestReportFailingAndSummary(t *testing.T) {
	r := health.Report{Status: health.StatusFail, Checks: map[string]health.Check{
		"gitlab:primary": {Status: health.StatusFail, Reason: "401 token revoked"},
		"dynamodb":       {Status: health.StatusFail, Reason: "table x does not exist"},
		"gitlab:backup":  {Status: health.StatusOK},
	}}
	if got, want := r.Failing(), []string{"dynamodb", "gitlab:primary"}; !slices.Equal(got, want) {
		t.Errorf("Failing: got %q, want %q", got, want)
	}
	if got, want := r.Summary(), "dynamodb: table x does not exist; gitlab:primary: 401 token revoked"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}
}

// clock is a settable clock.
// fixture is a Checker over a moto table and a simulator token.
type fixture struct {
	sim     *sim.Sim
	token   sim.Token
	clock   *testenv.Clock
	table   string
	checker *health.Checker
}

// newFixture provisions a table, creates a token expiring 30 days after t0
// and builds a Checker (cache 1m, failures 10s) on one fake clock shared
// with the simulator.
func newFixture(t *testing.T, spec sim.TokenSpec) *fixture {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	clk := testenv.NewClock(t0)
	s, url := testenv.Sim(t, sim.WithClock(clk.Now))
	if spec.Scopes == nil {
		spec.Scopes = []string{"read_api"}
	}
	if spec.ExpiresAt == nil && spec.Kind != sim.KindOAuth {
		exp := t0.AddDate(0, 0, 30)
		spec.ExpiresAt = &exp
	}
	tok, err := s.AddToken(spec)
	if err != nil {
		t.Fatalf("AddToken: %v", err)
	}
	kind := gitpulse.KindUnknown
	if spec.Kind == sim.KindOAuth {
		kind = gitpulse.KindOAuth
	}
	client, err := gitlab.New(gitlab.Options{
		Provider:   gitlab.StaticToken{Name: "primary", Value: gitpulse.NewSecret(tok.Value), URL: url, Kind: kind},
		MaxRetries: -1,
	})
	if err != nil {
		t.Fatalf("gitlab.New: %v", err)
	}
	return &fixture{
		sim: s, token: tok, clock: clk, table: res.DataTable,
		checker: &health.Checker{
			DB:         dynamodb.NewFromConfig(cfg),
			Tables:     []string{res.DataTable},
			Tokens:     []health.Token{{Name: "primary", Source: "env:GITLAB_TOKEN", Kind: kind, Client: client}},
			CacheTTL:   time.Minute,
			FailureTTL: 10 * time.Second,
			Now:        clk.Now,
		},
	}
}

// check runs the checker and fails the test if the report holds the token.
func (f *fixture) check(t *testing.T) health.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	r := f.checker.Check(ctx)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal report: %v", err)
	}
	for _, secret := range []string{f.token.Value, account} {
		if strings.Contains(string(b), secret) {
			t.Errorf("report: got %s, want it without %q", b, secret)
		}
	}
	return r
}

func (f *fixture) wantSelfRequests(t *testing.T, want int) {
	t.Helper()
	if got := f.sim.RequestCounts()[routeSelf]; got != want {
		t.Errorf("requests to %s: got %d, want %d", routeSelf, got, want)
	}
}

func TestCheckOK(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	r := f.check(t)
	if r.Status != health.StatusOK {
		t.Fatalf("Status: got %q (%s), want %q", r.Status, r.Summary(), health.StatusOK)
	}
	if got := r.Failing(); len(got) != 0 {
		t.Errorf("Failing: got %q, want none", got)
	}
	db := r.Checks["dynamodb"]
	if db.Status != health.StatusOK || !slices.Equal(db.Tables, []string{f.table}) {
		t.Errorf("dynamodb check: got %+v, want ok with tables [%s]", db, f.table)
	}
	gl, ok := r.Checks["gitlab:primary"]
	if !ok {
		t.Fatalf("checks: got %v, want one named gitlab:primary", r.Checks)
	}
	if gl.Status != health.StatusOK || gl.Reason != "" {
		t.Errorf("gitlab check: got status %q reason %q, want ok and no reason", gl.Status, gl.Reason)
	}
	if gl.ExpiresAt != "2025-04-09" {
		t.Errorf("ExpiresAt: got %q, want %q", gl.ExpiresAt, "2025-04-09")
	}
	if gl.DaysLeft == nil || *gl.DaysLeft != 29 {
		t.Errorf("DaysLeft: got %v, want 29", gl.DaysLeft)
	}
	if gl.CheckedAt == nil || !gl.CheckedAt.Equal(t0) {
		t.Errorf("CheckedAt: got %v, want %v", gl.CheckedAt, t0)
	}
	f.wantSelfRequests(t, 1)
}

func TestCheckReportJSON(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	b, err := json.Marshal(f.check(t))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Status   string `json:"status"`
			Reason   string `json:"reason"`
			DaysLeft *int   `json:"days_left"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if got.Status != "ok" {
		t.Errorf("status: got %q, want ok in %s", got.Status, b)
	}
	if c := got.Checks["gitlab:primary"]; c.DaysLeft == nil || *c.DaysLeft != 29 {
		t.Errorf("checks.gitlab:primary.days_left: got %v, want 29 in %s", c.DaysLeft, b)
	}
	if strings.Contains(string(b), `"reason"`) {
		t.Errorf("report: got %s, want no reason fields when all is ok", b)
	}
}

func TestCheckOAuthToken(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"read_user"}})
	r := f.check(t)
	c := r.Checks["gitlab:primary"]
	if c.Status != health.StatusOK {
		t.Fatalf("gitlab check: got %q (%s), want ok", c.Status, c.Reason)
	}
	if c.ExpiresAt != "" || c.DaysLeft != nil {
		t.Errorf("OAuth check expiry: got %q/%v, want none", c.ExpiresAt, c.DaysLeft)
	}
	if got := f.sim.RequestCounts()["GET /api/v4/user"]; got != 1 {
		t.Errorf("requests to GET /api/v4/user: got %d, want 1", got)
	}
	f.wantSelfRequests(t, 0)
}

func TestCheckMissingTable(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	missing := testenv.Prefix(t) + "-missing"
	f.checker.Tables = []string{f.table, missing}
	r := f.check(t)
	if r.Status != health.StatusFail {
		t.Errorf("Status: got %q, want %q", r.Status, health.StatusFail)
	}
	if got, want := r.Failing(), []string{"dynamodb"}; !slices.Equal(got, want) {
		t.Errorf("Failing: got %q, want %q", got, want)
	}
	db := r.Checks["dynamodb"]
	if !strings.Contains(db.Reason, "table "+missing+" does not exist") {
		t.Errorf("dynamodb reason: got %q, want it to name %s as missing", db.Reason, missing)
	}
	if strings.Contains(db.Reason, f.table+" ") {
		t.Errorf("dynamodb reason: got %q, want it not to blame the existing table %s", db.Reason, f.table)
	}
	if !strings.Contains(r.Summary(), "dynamodb: table "+missing) {
		t.Errorf("Summary: got %q, want it to name the missing table", r.Summary())
	}
}

func TestCheckBadToken(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, f *fixture)
		want  string
	}{
		{
			name: "revoked",
			spoil: func(t *testing.T, f *fixture) {
				if err := f.sim.RevokeToken(f.token.ID); err != nil {
					t.Fatal(err)
				}
			},
			want: "gitlab token: 401 token revoked: create a new token in GitLab and store it in GITLAB_TOKEN",
		},
		{
			name: "expired",
			spoil: func(t *testing.T, f *fixture) {
				if err := f.sim.ExpireToken(f.token.ID); err != nil {
					t.Fatal(err)
				}
			},
			want: "401 token expired",
		},
		{
			name:  "past its expiry date",
			spoil: func(t *testing.T, f *fixture) { f.clock.Add(30 * 24 * time.Hour) },
			want:  "401 token expired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sim.TokenSpec{})
			tt.spoil(t, f)
			r := f.check(t)
			if r.Status != health.StatusFail {
				t.Errorf("Status: got %q, want %q", r.Status, health.StatusFail)
			}
			if got, want := r.Failing(), []string{"gitlab:primary"}; !slices.Equal(got, want) {
				t.Errorf("Failing: got %q, want %q", got, want)
			}
			c := r.Checks["gitlab:primary"]
			if !strings.Contains(c.Reason, tt.want) {
				t.Errorf("reason: got %q, want it to contain %q", c.Reason, tt.want)
			}
		})
	}
}

// TestCheckGitLabTroubleIsDegraded: a throttled or failing GitLab says
// nothing about the token; the report stays servable (degraded, not
// failing), and the reason says what happens.
func TestCheckGitLabTroubleIsDegraded(t *testing.T) {
	tests := []struct {
		name  string
		fault sim.Fault
		want  string
		short string
	}{
		{"throttled", sim.Fault{Status: 429}, "429", "GitLab is throttling requests"},
		{"GitLab down", sim.Fault{Status: 502}, "502 GitLab server error", "GitLab did not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sim.TokenSpec{})
			f.sim.InjectFault(tt.fault)
			r := f.check(t)
			if r.Status != health.StatusDegraded {
				t.Errorf("Status: got %q, want %q", r.Status, health.StatusDegraded)
			}
			c := r.Checks["gitlab:primary"]
			if c.Status != health.StatusDegraded || !strings.Contains(c.Reason, tt.want) {
				t.Errorf("check: got %s %q, want degraded naming %q", c.Status, c.Reason, tt.want)
			}
			if pub := r.Public().Checks["gitlab"]; pub.Reason != tt.short {
				t.Errorf("public reason: got %q, want %q", pub.Reason, tt.short)
			}
		})
	}
}

func TestCheckNamesSecretWithoutARN(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	f.checker.Tokens[0].Source = "secret:" + secretARN
	if err := f.sim.RevokeToken(f.token.ID); err != nil {
		t.Fatal(err)
	}
	reason := f.check(t).Checks["gitlab:primary"].Reason
	if want := "store it in secret gitpulse/gitlab-token"; !strings.Contains(reason, want) {
		t.Errorf("reason: got %q, want it to contain %q", reason, want)
	}
	if strings.Contains(reason, "arn:") {
		t.Errorf("reason: got %q, want it without the ARN", reason)
	}
}

func TestCheckCachesSuccessForCacheTTL(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	f.check(t)
	f.wantSelfRequests(t, 1)

	f.clock.Add(59 * time.Second) // longer than FailureTTL, shorter than CacheTTL
	r := f.check(t)
	f.wantSelfRequests(t, 1)
	if c := r.Checks["gitlab:primary"]; c.CheckedAt == nil || !c.CheckedAt.Equal(t0) {
		t.Errorf("cached CheckedAt: got %v, want %v", c.CheckedAt, t0)
	}

	f.clock.Add(time.Second) // CacheTTL has passed
	r = f.check(t)
	f.wantSelfRequests(t, 2)
	if c := r.Checks["gitlab:primary"]; c.CheckedAt == nil || !c.CheckedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("fresh CheckedAt: got %v, want %v", c.CheckedAt, t0.Add(time.Minute))
	}
}

func TestCheckCachesFailureForFailureTTL(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	if err := f.sim.RevokeToken(f.token.ID); err != nil {
		t.Fatal(err)
	}
	if r := f.check(t); r.Status != health.StatusFail {
		t.Fatalf("Status with a revoked token: got %q, want %q", r.Status, health.StatusFail)
	}
	f.wantSelfRequests(t, 1)

	f.clock.Add(9 * time.Second)
	f.check(t)
	f.wantSelfRequests(t, 1)

	f.clock.Add(time.Second) // FailureTTL has passed, CacheTTL has not
	f.check(t)
	f.wantSelfRequests(t, 2)
}

func TestCheckRecoversAfterFailureTTL(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	f.sim.InjectFault(sim.Fault{Status: 503, Count: 1})
	if r := f.check(t); r.Status != health.StatusDegraded {
		t.Fatalf("Status during the outage: got %q, want %q", r.Status, health.StatusDegraded)
	}
	f.clock.Add(10 * time.Second)
	if r := f.check(t); r.Status != health.StatusOK {
		t.Errorf("Status after the outage and FailureTTL: got %q (%s), want %q", r.Status, r.Summary(), health.StatusOK)
	}
	f.wantSelfRequests(t, 2)
}

func TestCheckConcurrentCallersShareOneCall(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	var wg sync.WaitGroup
	statuses := make(chan string, 8)
	for range 8 {
		wg.Go(func() { statuses <- f.checker.Check(t.Context()).Status })
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != health.StatusOK {
			t.Errorf("concurrent Check status: got %q, want %q", s, health.StatusOK)
		}
	}
	f.wantSelfRequests(t, 1)
}

// failingProvider cannot read its token.
type failingProvider struct{}

func (failingProvider) Token(context.Context) (gitpulse.Token, error) {
	return gitpulse.Token{}, gitpulse.Errorf(gitpulse.ENOTFOUND, "read secret gitpulse/gitlab-token (AWSCURRENT): not found")
}

func TestCheckTokenUnreadable(t *testing.T) {
	f := newFixture(t, sim.TokenSpec{})
	client, err := gitlab.New(gitlab.Options{Provider: failingProvider{}})
	if err != nil {
		t.Fatal(err)
	}
	f.checker.Tokens = append(f.checker.Tokens, health.Token{Name: "backup", Source: "secret:" + secretARN, Client: client})
	r := f.check(t)
	if got, want := r.Failing(), []string{"gitlab:backup"}; !slices.Equal(got, want) {
		t.Errorf("Failing: got %q, want %q", got, want)
	}
	if reason := r.Checks["gitlab:backup"].Reason; !strings.Contains(reason, "token unreadable") || !strings.Contains(reason, "not found") {
		t.Errorf("reason: got %q, want it to say the token is unreadable and why", reason)
	}
	if r.Checks["gitlab:primary"].Status != health.StatusOK {
		t.Errorf("gitlab:primary: got %+v, want ok", r.Checks["gitlab:primary"])
	}
}

// TestRefusedTokenDuringARotationWindow: a refused token while a rotation
// opened a moment ago is the rotation's window (degraded); the same long
// after the rotation opened is an outage (failing).
func TestRefusedTokenDuringARotationWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opened time.Duration
		want   string
	}{
		{"rotation opened 10 s ago", 10 * time.Second, health.StatusDegraded},
		{"rotation opened 3 min ago", 3 * time.Minute, health.StatusFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, sim.TokenSpec{})
			opened := f.clock.Now().Add(-tc.opened)
			f.checker.Tokens[0].Rotating = func() (time.Time, bool) { return opened, true }
			if err := f.sim.RevokeToken(f.token.ID); err != nil {
				t.Fatal(err)
			}
			if r := f.check(t); r.Status != tc.want {
				t.Errorf("got %q (%s), want %q", r.Status, r.Summary(), tc.want)
			}
		})
	}
}
