package sim_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

func TestFaultStatusForNextCalls(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	e.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: 502, Count: 2})
	c := e.client(t, tok.Value)

	for i := 1; i <= 2; i++ {
		_, _, err := c.Users.CurrentUser()
		var er *gitlab.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != 502 || string(er.Body) != `{"message":"502 Bad Gateway"}`+"\n" {
			t.Errorf("call %d: got %v, want 502 {\"message\":\"502 Bad Gateway\"}", i, err)
		}
	}
	if _, _, err := c.Users.CurrentUser(); err != nil {
		t.Errorf("call 3: got %v, want no error", err)
	}
	if got := e.sim.RequestCounts()["GET /api/v4/user"]; got != 3 {
		t.Errorf("count: got %d, want 3 (faulted calls count)", got)
	}
}

func TestFaultRetryLater(t *testing.T) {
	e := newEnv(t)
	e.sim.InjectFault(sim.Fault{Status: 429, Count: 1})
	resp, body := e.get(t, "/api/v4/version")
	if resp.StatusCode != 429 || body != "Retry later\n" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("got %d %q Retry-After %q, want 429 \"Retry later\\n\" Retry-After 1",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

func TestFaultDrop(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	e.sim.InjectFault(sim.Fault{Drop: true, Count: 1})
	c := e.client(t, tok.Value)

	_, _, err := c.Users.CurrentUser()
	var er *gitlab.ErrorResponse
	if err == nil || errors.As(err, &er) {
		t.Errorf("dropped call: got %v, want a transport error", err)
	}
	if _, _, err := c.Users.CurrentUser(); err != nil {
		t.Errorf("next call: got %v, want no error", err)
	}
}

func TestFaultLatency(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	const latency = 150 * time.Millisecond
	e.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/version", Latency: latency, Count: 1})

	start := time.Now()
	resp, _ := e.get(t, "/api/v4/version", "PRIVATE-TOKEN", tok.Value)
	if took := time.Since(start); took < latency || resp.StatusCode != 200 {
		t.Errorf("got %d after %v, want 200 after at least %v", resp.StatusCode, took, latency)
	}
}

func TestFaultScope(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	e.sim.InjectFault(sim.Fault{Status: 500, Fraction: 1}) // Every call, until cleared.
	e.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/projects", Status: 503})

	for range 3 {
		resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
		if resp.StatusCode != 500 || strings.TrimSpace(body) != `{"message":"500 Internal Server Error"}` {
			t.Errorf("/user: got %d %s, want 500 {\"message\":\"500 Internal Server Error\"}", resp.StatusCode, body)
		}
	}
	if resp, _ := e.get(t, "/-/sim/requests"); resp.StatusCode != 200 {
		t.Errorf("control API: got %d, want 200 (faults never apply)", resp.StatusCode)
	}

	e.sim.ClearFaults()
	if resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: got %d, want 200", resp.StatusCode)
	}
}
