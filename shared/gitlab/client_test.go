package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Routes as the simulator counts them.
const (
	routeUser = "GET /api/v4/user"
	routeSelf = "GET /api/v4/personal_access_tokens/self"
)

// t0 is the time the fake clocks start at.
var t0 = time.Date(2025, 3, 10, 12, 0, 30, 0, time.UTC)

// newClock returns a settable clock at t0.
func newClock() *testenv.Clock { return testenv.NewClock(t0) }

// addToken creates a token on the simulator or fails the test.
func addToken(t *testing.T, s *sim.Sim, spec sim.TokenSpec) sim.Token {
	t.Helper()
	if spec.Scopes == nil {
		spec.Scopes = []string{"api"}
	}
	tok, err := s.AddToken(spec)
	if err != nil {
		t.Fatalf("AddToken(%+v): %v", spec, err)
	}
	return tok
}

// static returns a provider for a token value at baseURL.
func static(baseURL, value string, kind gitpulse.TokenKind) gitlab.StaticToken {
	return gitlab.StaticToken{Name: "primary", Value: gitpulse.NewSecret(value), URL: baseURL, Kind: kind}
}

// newClient builds a Client or fails the test.
func newClient(t *testing.T, opts gitlab.Options) *gitlab.Client {
	t.Helper()
	c, err := gitlab.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// api returns the client-go client or fails the test.
func api(t *testing.T, c *gitlab.Client) *gl.Client {
	t.Helper()
	a, err := c.API(testContext(t))
	if err != nil {
		t.Fatalf("API: %v", err)
	}
	return a
}

// testContext is a context with a deadline, as every GitLab call needs.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// currentUser calls GET /user.
func currentUser(ctx context.Context, a *gl.Client) (*gl.User, error) {
	u, _, err := a.Users.CurrentUser(gl.WithContext(ctx))
	return u, err
}

// selfToken calls GET /personal_access_tokens/self.
func selfToken(ctx context.Context, a *gl.Client) error {
	_, _, err := a.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	return err
}

// wantCount checks how many requests the simulator saw on route.
func wantCount(t *testing.T, s *sim.Sim, route string, want int) {
	t.Helper()
	if got := s.RequestCounts()[route]; got != want {
		t.Errorf("requests to %s: got %d, want %d", route, got, want)
	}
}

func TestNewRequiresProvider(t *testing.T) {
	if _, err := gitlab.New(gitlab.Options{}); err == nil {
		t.Errorf("New without a provider: got no error, want one")
	}
}

func TestAPISendsToken(t *testing.T) {
	s, url := testenv.Sim(t)
	tok := addToken(t, s, sim.TokenSpec{Name: "sync", Scopes: []string{"read_api"}})
	c := newClient(t, gitlab.Options{Provider: static(url, tok.Value, gitpulse.KindUnknown)})
	a := api(t, c)
	ctx := testContext(t)

	u, err := currentUser(ctx, a)
	if err != nil {
		t.Fatalf("CurrentUser: %v", err)
	}
	if u.ID != int64(tok.UserID) {
		t.Errorf("CurrentUser ID: got %d, want %d (the token's owner)", u.ID, tok.UserID)
	}
	wantCount(t, s, routeUser, 1)

	pat, _, err := a.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if err != nil {
		t.Fatalf("GetSinglePersonalAccessToken: %v", err)
	}
	if pat.ID != int64(tok.ID) || pat.Name != "sync" {
		t.Errorf("self token: got id %d name %q, want id %d name %q", pat.ID, pat.Name, tok.ID, "sync")
	}
	if pat.LastUsedAt == nil {
		t.Errorf("self token last_used_at: got nil, want the time of the first call")
	}
	wantCount(t, s, routeSelf, 1)

	if again := api(t, c); again != a {
		t.Errorf("API for the same URL: got a new client, want the cached one")
	}
}

func TestAPIOAuthSendsBearer(t *testing.T) {
	s, url := testenv.Sim(t)
	tok := addToken(t, s, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"read_user"}})
	ctx := testContext(t)

	oauth := newClient(t, gitlab.Options{Provider: static(url, tok.Value, gitpulse.KindOAuth), MaxRetries: -1})
	u, err := currentUser(ctx, api(t, oauth))
	if err != nil {
		t.Fatalf("CurrentUser with an OAuth token: %v", err)
	}
	if u.ID != int64(tok.UserID) {
		t.Errorf("CurrentUser ID: got %d, want %d", u.ID, tok.UserID)
	}

	// The same value sent as PRIVATE-TOKEN is unknown to GitLab.
	plain := newClient(t, gitlab.Options{Provider: static(url, tok.Value, gitpulse.KindUnknown), MaxRetries: -1})
	_, err = currentUser(ctx, api(t, plain))
	if got := gitlab.Classify(err); got == nil || got.Kind != gitlab.FailUnauthorized {
		t.Errorf("OAuth token sent as PRIVATE-TOKEN: got %v, want %s", got, gitlab.FailUnauthorized)
	}
}

// swapProvider hands out whichever token was set last.
type swapProvider struct {
	mu  sync.Mutex
	tok gitpulse.Token
}

func (p *swapProvider) Token(context.Context) (gitpulse.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tok, nil
}

func (p *swapProvider) set(tok gitpulse.Token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tok = tok
}

func TestAPIAsksProviderOnEveryRequest(t *testing.T) {
	s, url := testenv.Sim(t)
	old := addToken(t, s, sim.TokenSpec{})
	next := addToken(t, s, sim.TokenSpec{})
	p := &swapProvider{tok: gitpulse.Token(static(url, old.Value, ""))}
	c := newClient(t, gitlab.Options{Provider: p, MaxRetries: -1})
	a := api(t, c)
	ctx := testContext(t)

	if u, err := currentUser(ctx, a); err != nil || u.ID != int64(old.UserID) {
		t.Fatalf("CurrentUser with the old token: got %v, %v, want user %d", u, err, old.UserID)
	}
	// Rotate: the old token dies, the provider hands out the new one, and
	// the same client-go client sends it.
	if err := s.RevokeToken(old.ID); err != nil {
		t.Fatal(err)
	}
	p.set(gitpulse.Token(static(url, next.Value, "")))
	u, err := currentUser(ctx, a)
	if err != nil {
		t.Fatalf("CurrentUser after the swap: %v", err)
	}
	if u.ID != int64(next.UserID) {
		t.Errorf("CurrentUser after the swap: got user %d, want %d", u.ID, next.UserID)
	}
}

func TestAPIFollowsTheProvidersInstance(t *testing.T) {
	s1, url1 := testenv.Sim(t)
	s2, url2 := testenv.Sim(t)
	tok1 := addToken(t, s1, sim.TokenSpec{})
	tok2 := addToken(t, s2, sim.TokenSpec{})
	p := &swapProvider{tok: gitpulse.Token(static(url1, tok1.Value, ""))}
	c := newClient(t, gitlab.Options{Provider: p, MaxRetries: -1})
	ctx := testContext(t)

	if _, err := currentUser(ctx, api(t, c)); err != nil {
		t.Fatalf("CurrentUser on the first instance: %v", err)
	}
	p.set(gitpulse.Token(static(url2, tok2.Value, "")))
	if _, err := currentUser(ctx, api(t, c)); err != nil {
		t.Fatalf("CurrentUser on the second instance: %v", err)
	}
	wantCount(t, s1, routeUser, 1)
	wantCount(t, s2, routeUser, 1)
}

func TestAPITokenUnreadable(t *testing.T) {
	cause := gitpulse.Errorf(gitpulse.ENOTFOUND, "read secret gitpulse/gitlab-token (AWSCURRENT): not found")
	c := newClient(t, gitlab.Options{Provider: failingProvider{cause}})
	_, err := c.API(testContext(t))
	if err == nil {
		t.Fatalf("API with an unreadable token: got no error, want one")
	}
	if !errors.Is(err, cause) {
		t.Errorf("API error: got %v, want it to wrap %v", err, cause)
	}
	f := gitlab.Classify(err)
	if f.Kind != gitlab.FailToken {
		t.Errorf("Classify: got %s, want %s", f.Kind, gitlab.FailToken)
	}
	if !strings.Contains(f.Message, "not found") {
		t.Errorf("Classify message: got %q, want it to say why", f.Message)
	}
}

type failingProvider struct{ err error }

func (p failingProvider) Token(context.Context) (gitpulse.Token, error) {
	return gitpulse.Token{}, p.err
}

// attempts is an interceptor that records every attempt it sees.
type attempts struct {
	mu      sync.Mutex
	headers []http.Header
}

func (a *attempts) intercept(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		a.mu.Lock()
		a.headers = append(a.headers, r.Header.Clone())
		a.mu.Unlock()
		return next.RoundTrip(r)
	})
}

func (a *attempts) seen() []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.headers
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetriesServerErrors(t *testing.T) {
	s, url := testenv.Sim(t)
	tok := addToken(t, s, sim.TokenSpec{})
	s.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: http.StatusBadGateway, Count: 2})
	rec := &attempts{}
	c := newClient(t, gitlab.Options{
		Provider:     static(url, tok.Value, ""),
		Interceptors: []gl.Interceptor{rec.intercept},
		UserAgent:    "gitpulse-test",
	})

	if _, err := currentUser(testContext(t), api(t, c)); err != nil {
		t.Fatalf("CurrentUser after two 502s: got %v, want success", err)
	}
	wantCount(t, s, routeUser, 3)
	seen := rec.seen()
	if len(seen) != 3 {
		t.Fatalf("interceptor: got %d attempts, want 3", len(seen))
	}
	for i, h := range seen {
		if got := h.Get("Private-Token"); got != tok.Value {
			t.Errorf("attempt %d PRIVATE-TOKEN: got %q, want the token", i, gitpulse.NewSecret(got).Hash())
		}
		if got := h.Get("User-Agent"); got != "gitpulse-test" {
			t.Errorf("attempt %d User-Agent: got %q, want %q", i, got, "gitpulse-test")
		}
	}
}

func TestRetriesGiveUp(t *testing.T) {
	s, url := testenv.Sim(t)
	tok := addToken(t, s, sim.TokenSpec{})
	s.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: http.StatusInternalServerError})
	c := newClient(t, gitlab.Options{Provider: static(url, tok.Value, ""), MaxRetries: 2})

	_, err := currentUser(testContext(t), api(t, c))
	f := gitlab.Classify(err)
	if f == nil || f.Kind != gitlab.FailServer || f.Status != http.StatusInternalServerError {
		t.Fatalf("Classify: got %+v, want %s with status 500", f, gitlab.FailServer)
	}
	wantCount(t, s, routeUser, 3) // the first attempt and 2 retries
}

func TestRetriesDisabled(t *testing.T) {
	s, url := testenv.Sim(t)
	tok := addToken(t, s, sim.TokenSpec{})
	s.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: http.StatusServiceUnavailable, Count: 1})
	c := newClient(t, gitlab.Options{Provider: static(url, tok.Value, ""), MaxRetries: -1})

	_, err := currentUser(testContext(t), api(t, c))
	if f := gitlab.Classify(err); f == nil || f.Kind != gitlab.FailServer {
		t.Fatalf("Classify: got %v, want %s", f, gitlab.FailServer)
	}
	wantCount(t, s, routeUser, 1)
}

func TestRateLimitedRetryPausesLimiter(t *testing.T) {
	s, url := testenv.Sim(t)
	tok := addToken(t, s, sim.TokenSpec{})
	s.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: http.StatusTooManyRequests, Count: 1}) // Retry-After: 1
	clk := newClock()
	c := newClient(t, gitlab.Options{
		Provider: static(url, tok.Value, ""),
		Now:      clk.Now,
		MaxWait:  10 * time.Millisecond, // keeps the retry quick; the limiter still records the full pause
	})

	if _, err := currentUser(testContext(t), api(t, c)); err != nil {
		t.Fatalf("CurrentUser after a 429: got %v, want success", err)
	}
	wantCount(t, s, routeUser, 2)
	if got, want := c.Limiter().PausedUntil(), t0.Add(time.Second); !got.Equal(want) {
		t.Errorf("PausedUntil: got %v, want %v (Retry-After: 1)", got, want)
	}

	lim := c.Limiter()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lim.Wait(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait during the pause with a canceled context: got %v, want %v", err, context.Canceled)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if err := lim.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait during the pause: got %v, want %v", err, context.DeadlineExceeded)
	}
	clk.Add(time.Second)
	if err := lim.Wait(testContext(t)); err != nil {
		t.Errorf("Wait after the pause: got %v, want nil", err)
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name      string
		maxWait   time.Duration
		wantErr   bool
		wantCalls int
	}{
		// Retry-After: 1 is longer than the call's deadline: the retry
		// waits for it and the deadline ends the call first.
		{name: "waits for Retry-After", maxWait: 0, wantErr: true, wantCalls: 1},
		// MaxWait caps the wait below the deadline: the retry is made.
		{name: "MaxWait caps the wait", maxWait: 10 * time.Millisecond, wantErr: false, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := testenv.Sim(t)
			tok := addToken(t, s, sim.TokenSpec{})
			s.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: http.StatusTooManyRequests, Count: 1})
			c := newClient(t, gitlab.Options{Provider: static(url, tok.Value, ""), MaxWait: tt.maxWait})
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()

			_, err := currentUser(ctx, api(t, c))
			if tt.wantErr {
				if f := gitlab.Classify(err); f == nil || f.Kind != gitlab.FailTimeout {
					t.Errorf("Classify: got %v, want %s", f, gitlab.FailTimeout)
				}
			} else if err != nil {
				t.Errorf("CurrentUser: got %v, want success", err)
			}
			wantCount(t, s, routeUser, tt.wantCalls)
		})
	}
}

// GitLab.com sends RateLimit-* on every answer: the limiter pauses before
// the 429.
func TestRateLimitHeadersPauseLimiter(t *testing.T) {
	simClock := newClock() // 12:00:30: the window resets at 12:01:00
	s, url := testenv.Sim(t, sim.WithClock(simClock.Now), sim.WithRateLimit(2), sim.WithGitLabComRateLimitHeaders())
	tok := addToken(t, s, sim.TokenSpec{})
	clk := newClock()
	c := newClient(t, gitlab.Options{Provider: static(url, tok.Value, ""), Now: clk.Now, MaxRetries: -1})
	a := api(t, c)
	ctx := testContext(t)
	reset := time.Date(2025, 3, 10, 12, 1, 0, 0, time.UTC)

	if _, err := currentUser(ctx, a); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if got := c.Limiter().PausedUntil(); !got.IsZero() {
		t.Errorf("PausedUntil with budget left: got %v, want zero", got)
	}
	if _, err := currentUser(ctx, a); err != nil {
		t.Fatalf("second call: %v", err)
	}
	// RateLimit-Remaining: 0 on a success pauses until RateLimit-Reset.
	if got := c.Limiter().PausedUntil(); !got.Equal(reset) {
		t.Errorf("PausedUntil after the last allowed call: got %v, want %v", got, reset)
	}

	// The client's clock moves past the pause; GitLab's has not, so the
	// next call is throttled and, with retries off, fails as rate_limited.
	clk.Add(31 * time.Second)
	_, err := currentUser(ctx, a)
	f := gitlab.Classify(err)
	if f == nil || f.Kind != gitlab.FailRateLimited || f.Status != http.StatusTooManyRequests {
		t.Fatalf("Classify: got %+v, want %s with status 429", f, gitlab.FailRateLimited)
	}
	if got := f.Code(); got != gitpulse.ETHROTTLED {
		t.Errorf("Code: got %q, want %q", got, gitpulse.ETHROTTLED)
	}
	// Retry-After: 30 (seconds to the window's end) from the client's now.
	if got, want := c.Limiter().PausedUntil(), clk.Now().Add(30*time.Second); !got.Equal(want) {
		t.Errorf("PausedUntil after a 429: got %v, want %v", got, want)
	}
	wantCount(t, s, routeUser, 3)
}

// A self-managed GitLab (the simulator's default) sends RateLimit-* only on
// its 429: nothing pauses the limiter before it, the 429's Retry-After pauses
// every call after it, and the next window's call goes through.
func TestThrottleOnlyHeadersPauseLimiter(t *testing.T) {
	simClock := newClock() // 12:00:30: the window resets at 12:01:00
	s, url := testenv.Sim(t, sim.WithClock(simClock.Now), sim.WithRateLimit(2))
	tok := addToken(t, s, sim.TokenSpec{})
	clk := newClock()
	c := newClient(t, gitlab.Options{Provider: static(url, tok.Value, ""), Now: clk.Now, MaxRetries: -1})
	a := api(t, c)
	ctx := testContext(t)

	for i := 1; i <= 2; i++ {
		if _, err := currentUser(ctx, a); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := c.Limiter().PausedUntil(); !got.IsZero() {
			t.Errorf("PausedUntil after call %d (no RateLimit headers below the limit): got %v, want zero", i, got)
		}
	}
	_, err := currentUser(ctx, a)
	if f := gitlab.Classify(err); f == nil || f.Kind != gitlab.FailRateLimited || f.Status != http.StatusTooManyRequests {
		t.Fatalf("call 3: Classify got %+v, want %s with status 429", f, gitlab.FailRateLimited)
	}
	if got, want := c.Limiter().PausedUntil(), clk.Now().Add(30*time.Second); !got.Equal(want) {
		t.Errorf("PausedUntil after the 429: got %v, want %v (Retry-After 30)", got, want)
	}

	clk.Add(31 * time.Second)
	simClock.Add(31 * time.Second)
	if _, err := currentUser(ctx, a); err != nil {
		t.Fatalf("call in the next window: %v", err)
	}
	wantCount(t, s, routeUser, 4)
}

func TestLimiterRate(t *testing.T) {
	tests := []struct {
		name    string
		perSec  float64
		wantNow int // calls allowed at once (the burst)
	}{
		{"default", 0, 10},
		{"2 per second", 2, 2},
		{"fractional", 0.5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, gitlab.Options{Provider: static("https://gitlab.example.edu", "x", ""), RequestsPerSecond: tt.perSec})
			lim := c.Limiter()
			for i := range tt.wantNow {
				if err := lim.Wait(testContext(t)); err != nil {
					t.Fatalf("Wait %d within the burst: got %v, want nil", i, err)
				}
			}
			// The next token is at least 100ms away; a 50ms deadline
			// cannot be met, and rate.Limiter says so without waiting.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := lim.Wait(ctx); err == nil {
				t.Errorf("Wait beyond the burst with a 50ms deadline: got nil, want an error")
			}
		})
	}
}

func TestLimiterWaitCanceled(t *testing.T) {
	lim := gitlab.NewLimiter(10, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lim.Wait(ctx); err == nil {
		t.Errorf("Wait with a canceled context: got nil, want an error")
	}
}

func TestLimiterObserve(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	unix := func(d time.Duration) string { return fmt.Sprint(now.Add(d).Unix()) }
	tests := []struct {
		name   string
		status int
		header map[string]string
		want   time.Duration // pause from now; -1 for none
	}{
		{"429 Retry-After seconds", 429, map[string]string{"Retry-After": "5"}, 5 * time.Second},
		{"429 Retry-After date", 429, map[string]string{"Retry-After": now.Add(10 * time.Second).Format(http.TimeFormat)}, 10 * time.Second},
		{"429 Retry-After date in the past", 429, map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"429 RateLimit-Reset", 429, map[string]string{"RateLimit-Reset": unix(20 * time.Second)}, 20 * time.Second},
		{"429 Retry-After wins over RateLimit-Reset", 429, map[string]string{"Retry-After": "3", "RateLimit-Reset": unix(20 * time.Second)}, 3 * time.Second},
		{"429 bad Retry-After falls back to RateLimit-Reset", 429, map[string]string{"Retry-After": "soon", "RateLimit-Reset": unix(7 * time.Second)}, 7 * time.Second},
		{"429 without headers", 429, nil, -1},
		{"200 with RateLimit-Remaining 0", 200, map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": unix(40 * time.Second)}, 40 * time.Second},
		{"200 with budget left", 200, map[string]string{"RateLimit-Remaining": "5", "RateLimit-Reset": unix(40 * time.Second)}, -1},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "9"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := gitlab.NewLimiter(10, func() time.Time { return now })
			rt := lim.Observe(roundTripFunc(func(*http.Request) (*http.Response, error) {
				h := http.Header{}
				for k, v := range tt.header {
					h.Set(k, v)
				}
				return &http.Response{StatusCode: tt.status, Header: h}, nil
			}))
			req, _ := http.NewRequest(http.MethodGet, "https://gitlab.example.edu/api/v4/user", nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			var want time.Time
			if tt.want >= 0 {
				want = now.Add(tt.want)
			}
			if got := lim.PausedUntil(); !got.Equal(want) {
				t.Errorf("PausedUntil: got %v, want %v", got, want)
			}
		})
	}
}

func TestLimiterObserveKeepsTheLongerPause(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	lim := gitlab.NewLimiter(10, func() time.Time { return now })
	for _, after := range []string{"30", "5"} {
		rt := lim.Observe(roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {after}}}, nil
		}))
		req, _ := http.NewRequest(http.MethodGet, "https://gitlab.example.edu/api/v4/user", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := lim.PausedUntil(), now.Add(30*time.Second); !got.Equal(want) {
		t.Errorf("PausedUntil after Retry-After 30 then 5: got %v, want %v", got, want)
	}
}

func TestLimiterObservePassesTransportErrors(t *testing.T) {
	lim := gitlab.NewLimiter(10, time.Now)
	boom := errors.New("connection reset")
	rt := lim.Observe(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, boom }))
	req, _ := http.NewRequest(http.MethodGet, "https://gitlab.example.edu/api/v4/user", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, boom) {
		t.Errorf("RoundTrip: got %v, want %v", err, boom)
	}
	if got := lim.PausedUntil(); !got.IsZero() {
		t.Errorf("PausedUntil: got %v, want zero", got)
	}
}

// closedURL returns the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}
