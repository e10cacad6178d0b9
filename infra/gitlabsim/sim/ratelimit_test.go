package sim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

var rateLimitHeaders = []string{"RateLimit-Name", "RateLimit-Limit", "RateLimit-Observed", "RateLimit-Remaining", "RateLimit-Reset"}

// GitLab.com sends the RateLimit headers on every answer.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, sim.WithRateLimit(3), sim.WithGitLabComRateLimitHeaders())
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	start := day0.Add(30 * time.Second)
	windowEnd := day0.Add(time.Minute)
	e.clock.Set(start)

	for i := 1; i <= 3; i++ {
		resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: got %d %s, want 200", i, resp.StatusCode, body)
		}
		want := map[string]string{
			"RateLimit-Name":      "throttle_authenticated_api",
			"RateLimit-Limit":     "3",
			"RateLimit-Observed":  strconv.Itoa(i),
			"RateLimit-Remaining": strconv.Itoa(3 - i),
			"RateLimit-Reset":     strconv.FormatInt(windowEnd.Unix(), 10),
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("call %d %s: got %q, want %q", i, k, got, v)
			}
		}
	}

	resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
	if resp.StatusCode != http.StatusTooManyRequests || body != "Retry later\n" {
		t.Fatalf("call 4: got %d %q, want 429 \"Retry later\\n\"", resp.StatusCode, body)
	}
	want429 := map[string]string{
		"Content-Type":        "text/plain",
		"Retry-After":         "30",
		"RateLimit-ResetTime": windowEnd.Format(http.TimeFormat),
		"RateLimit-Remaining": "0",
		"RateLimit-Observed":  "4",
	}
	for k, v := range want429 {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("call 4 %s: got %q, want %q", k, got, v)
		}
	}

	e.clock.Set(windowEnd.Add(-100 * time.Millisecond))
	if resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value); resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After 0.1s before window end: got %q, want 1", resp.Header.Get("Retry-After"))
	}

	other := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	if resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", other.Value); resp.StatusCode != 200 {
		t.Errorf("another user in the same window: got %d, want 200", resp.StatusCode)
	}
	resp, _ = e.get(t, "/api/v4/user")
	if resp.StatusCode != 401 || resp.Header.Get("RateLimit-Name") != "throttle_unauthenticated_api" {
		t.Errorf("no token: got %d %q, want 401 throttle_unauthenticated_api", resp.StatusCode, resp.Header.Get("RateLimit-Name"))
	}

	e.clock.Set(windowEnd)
	resp, _ = e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Observed") != "1" {
		t.Errorf("next window: got %d, observed %q, want 200, 1", resp.StatusCode, resp.Header.Get("RateLimit-Observed"))
	}
}

func TestRateLimitOff(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	for range 5 {
		resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
		if resp.StatusCode != 200 {
			t.Fatalf("status: got %d, want 200", resp.StatusCode)
		}
		for _, h := range rateLimitHeaders {
			if got := resp.Header.Get(h); got != "" {
				t.Errorf("%s: got %q, want none", h, got)
			}
		}
	}
}

// A self-managed GitLab, the simulator's default, sends the RateLimit
// headers only when it throttles; the GitLab.com choice can be undone.
func TestRateLimitHeadersOnThrottleOnly(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []sim.Option
		undo bool
	}{
		{"default", nil, false},
		{"GitLab.com undone", []sim.Option{sim.WithGitLabComRateLimitHeaders()}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, append(tt.opts, sim.WithRateLimit(2))...)
			if tt.undo {
				e.sim.SetRateLimitHeadersOnEveryAnswer(false)
			}
			tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
			e.clock.Set(day0.Add(30 * time.Second))
			for i := 1; i <= 2; i++ {
				resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
				if resp.StatusCode != 200 {
					t.Fatalf("call %d: got %d, want 200", i, resp.StatusCode)
				}
				for _, h := range rateLimitHeaders {
					if got := resp.Header.Get(h); got != "" {
						t.Errorf("call %d %s: got %q, want none", i, h, got)
					}
				}
			}
			resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("call 3: got %d, want 429", resp.StatusCode)
			}
			for k, v := range map[string]string{"RateLimit-Limit": "2", "RateLimit-Observed": "3", "Retry-After": "30"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("call 3 %s: got %q, want %q", k, got, v)
				}
			}
		})
	}
}
