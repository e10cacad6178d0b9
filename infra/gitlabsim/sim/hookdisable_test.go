package sim_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// flaky is a hook receiver that answers status (settable) and counts the
// deliveries it got.
type flaky struct {
	status atomic.Int32
	got    atomic.Int32
	url    string
}

func newFlaky(t *testing.T, status int) *flaky {
	f := &flaky{}
	f.status.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.got.Add(1)
		w.WriteHeader(int(f.status.Load()))
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// hookFixture is a project with one push hook to a flaky receiver.
type hookFixture struct {
	e      *env
	f      *flaky
	p      sim.Project
	author int
	hookID int
}

func newHookFixture(t *testing.T, status int, autoDisable bool) *hookFixture {
	e := newEnv(t)
	e.sim.SetHookAutoDisabling(autoDisable)
	f := newFlaky(t, status)
	p := e.sim.AddProject(e.sim.AddGroup("course", 0).ID, "team")
	h, err := e.sim.AddProjectHook(sim.ProjectHook{ProjectID: p.ID, URL: f.url, PushEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	return &hookFixture{e: e, f: f, p: p, author: e.sim.AddUser("ana", "Ana", false).ID, hookID: h.ID}
}

// push adds a commit and waits for its delivery (if any).
func (h *hookFixture) push(t *testing.T) {
	t.Helper()
	if _, err := h.e.sim.AddCommit(h.p.ID, sim.CommitSpec{AuthorID: h.author}); err != nil {
		t.Fatal(err)
	}
	h.e.sim.WaitHooks()
}

func (h *hookFixture) hook(t *testing.T) sim.ProjectHook {
	t.Helper()
	hs := h.e.sim.ProjectHooks(h.p.ID)
	if len(hs) != 1 {
		t.Fatalf("hooks: got %d, want 1", len(hs))
	}
	return hs[0]
}

// apiStatus is the hook's alert_status and disabled_until as the hooks API
// shows them.
func (h *hookFixture) apiStatus(t *testing.T, token string) (string, *time.Time) {
	t.Helper()
	got, _, err := h.e.client(t, token).Projects.GetProjectHook(h.p.ID, int64(h.hookID))
	if err != nil {
		t.Fatalf("get hook: %v", err)
	}
	return got.AlertStatus, got.DisabledUntil
}

// TestHookAutoDisabling: with auto-disabling on, a hook that fails four
// times in a row is disabled for a minute, then two, and its events are
// not sent meanwhile; a success resets it; the fortieth failure disables
// it for good. As GitLab's WebHooks::AutoDisabling (hookdisable.go).
func TestHookAutoDisabling(t *testing.T) {
	h := newHookFixture(t, http.StatusInternalServerError, true)
	tok := h.e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: h.p.ID, AccessLevel: 40, Scopes: []string{"api"}})
	for i := 1; i <= 3; i++ {
		h.push(t)
		if st, until := h.apiStatus(t, tok.Value); st != sim.HookExecutable || until != nil {
			t.Fatalf("after failure %d: got %s until %v, want executable (the grace of three)", i, st, until)
		}
	}
	h.push(t) // the fourth failure
	st, until := h.apiStatus(t, tok.Value)
	if st != sim.HookTemporarilyDisabled || until == nil || !until.Equal(day0.Add(time.Minute)) {
		t.Fatalf("after failure 4: got %s until %v, want temporarily_disabled until %v", st, until, day0.Add(time.Minute))
	}
	h.push(t) // not sent
	if n := h.f.got.Load(); n != 4 {
		t.Fatalf("deliveries while disabled: got %d in all, want 4 (the fifth push not sent)", n)
	}
	h.e.clock.Set(day0.Add(time.Minute + time.Second))
	h.push(t) // sent, fails: two minutes
	if st, until := h.apiStatus(t, tok.Value); h.f.got.Load() != 5 || st != sim.HookTemporarilyDisabled || !until.Equal(day0.Add(3*time.Minute+time.Second)) {
		t.Fatalf("after the minute: got %d deliveries, %s until %v, want 5, temporarily_disabled for 2 minutes", h.f.got.Load(), st, until)
	}
	h.f.status.Store(http.StatusAccepted)
	h.e.clock.Set(day0.Add(4 * time.Minute))
	h.push(t)
	if hk := h.hook(t); hk.RecentFailures != 0 || !hk.DisabledUntil.IsZero() {
		t.Fatalf("after a success: got %d failures, disabled until %v, want 0 and none", hk.RecentFailures, hk.DisabledUntil)
	}

	// Forty failures in a row, each after the last disablement ended.
	h.f.status.Store(http.StatusNotFound)
	at := day0.Add(time.Hour)
	for i := 1; i <= 40; i++ {
		h.e.clock.Set(at)
		h.push(t)
		at = at.Add(25 * time.Hour)
	}
	if st, _ := h.apiStatus(t, tok.Value); st != sim.HookDisabled {
		t.Fatalf("after 40 failures: got %s, want disabled", st)
	}
	sent := h.f.got.Load()
	h.e.clock.Set(at.Add(30 * 24 * time.Hour))
	h.push(t)
	if h.f.got.Load() != sent {
		t.Errorf("a disabled hook was sent a delivery a month later")
	}
}

// TestHookAutoDisablingOff: a self-managed GitLab's default, the
// simulator's: a hook that keeps failing is sent every event.
func TestHookAutoDisablingOff(t *testing.T) {
	h := newHookFixture(t, http.StatusInternalServerError, false)
	for range 10 {
		h.push(t)
	}
	if n := h.f.got.Load(); n != 10 {
		t.Errorf("deliveries: got %d, want 10", n)
	}
	tok := h.e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: h.p.ID, AccessLevel: 40, Scopes: []string{"api"}})
	if st, until := h.apiStatus(t, tok.Value); st != sim.HookExecutable || until != nil {
		t.Errorf("status: got %s until %v, want executable", st, until)
	}
}

// TestTestHookReenables: POST .../hooks/:hook_id/test/push_events sends a
// sample push even to a disabled hook; 201 when the receiver answers 2xx,
// which re-enables the hook, 422 otherwise; five a minute per project and
// user; Maintainer and the api scope.
func TestTestHookReenables(t *testing.T) {
	h := newHookFixture(t, http.StatusBadGateway, true)
	for range 4 {
		h.push(t)
	}
	if hk := h.hook(t); hk.RecentFailures != 4 {
		t.Fatalf("failures: got %d, want 4", hk.RecentFailures)
	}
	tok := h.e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: h.p.ID, AccessLevel: 40, Scopes: []string{"api"}})
	path := "/api/v4/projects/" + strconv.Itoa(h.p.ID) + "/hooks/" + strconv.Itoa(h.hookID) + "/test/push_events"
	if resp, body := h.e.do(t, "POST", path, "", "PRIVATE-TOKEN", tok.Value); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("test with the receiver failing: got %d %s, want 422", resp.StatusCode, body)
	}
	if st, _ := h.apiStatus(t, tok.Value); st != sim.HookTemporarilyDisabled {
		t.Fatalf("after a failed test: got %s, want temporarily_disabled", st)
	}
	h.f.status.Store(http.StatusAccepted)
	c := h.e.client(t, tok.Value)
	resp, err := c.Projects.TriggerTestProjectHook(h.p.ID, int64(h.hookID), gitlab.ProjectHookEventPush)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("test with the receiver up: got %v, %v, want 201", resp, err)
	}
	if st, until := h.apiStatus(t, tok.Value); st != sim.HookExecutable || until != nil || h.hook(t).RecentFailures != 0 {
		t.Fatalf("after a test that succeeded: got %s until %v, want executable, re-enabled", st, until)
	}
	sent := h.f.got.Load()
	h.push(t)
	if h.f.got.Load() != sent+1 {
		t.Errorf("a push after the re-enabling test was not sent")
	}

	for _, tt := range []struct {
		name, path, token string
		want              int
	}{
		{"read_api", path, h.e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: h.p.ID, AccessLevel: 40, Scopes: []string{"read_api"}}).Value, 403},
		{"reporter", path, h.e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: h.p.ID, AccessLevel: 20, Scopes: []string{"api"}}).Value, 403},
		{"unknown hook", "/api/v4/projects/" + strconv.Itoa(h.p.ID) + "/hooks/999/test/push_events", tok.Value, 404},
		{"unknown trigger", "/api/v4/projects/" + strconv.Itoa(h.p.ID) + "/hooks/" + strconv.Itoa(h.hookID) + "/test/bogus_events", tok.Value, 400},
	} {
		if resp, body := h.e.do(t, "POST", tt.path, "", "PRIVATE-TOKEN", tt.token); resp.StatusCode != tt.want {
			t.Errorf("%s: got %d %s, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
	// Two tests so far this minute (the refused ones count not).
	for i := 3; i <= 5; i++ {
		if resp, body := h.e.do(t, "POST", path, "", "PRIVATE-TOKEN", tok.Value); resp.StatusCode != http.StatusCreated {
			t.Fatalf("test %d in the minute: got %d %s, want 201", i, resp.StatusCode, body)
		}
	}
	if resp, body := h.e.do(t, "POST", path, "", "PRIVATE-TOKEN", tok.Value); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("sixth test in the minute: got %d %s, want 429", resp.StatusCode, body)
	}
}
