package sync_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestRegisterHooksReenablesDisabledHooks: on a GitLab that auto-disables
// failing hooks, registering again re-enables a hook GitLab disabled (a
// test delivery, with the new secret, that the receiver answers 2xx), and
// when the receiver still fails says so per project without failing the
// registration or showing a secret.
func TestRegisterHooksReenablesDisabledHooks(t *testing.T) {
	clk := testenv.NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	s, url := testenv.Sim(t, sim.WithClock(clk.Now))
	s.SetHookAutoDisabling(true)
	g := s.AddGroup("course", 0)
	p := s.AddProject(g.ID, "team")
	teacher := s.AddUser("teacher", "Teacher", false)
	if err := s.AddMember("group", g.ID, teacher.ID, 50); err != nil {
		t.Fatal(err)
	}
	tok, err := s.AddToken(sim.TokenSpec{Kind: sim.KindPersonal, UserID: teacher.ID, Name: "hooks", Scopes: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := gitlab.New(gitlab.Options{Provider: gitlab.StaticToken(gitpulse.Token{Name: "t", Value: gitpulse.NewSecret(tok.Value), URL: url}), RequestsPerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sched := &gpsync.Scheduler{GitLab: client}

	var status atomic.Int32
	var mu sync.Mutex
	var tokens []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("X-Gitlab-Token"))
		mu.Unlock()
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(rcv.Close)
	hookURL := rcv.URL + "/api/v1/hooks/gitlab"
	register := func(secret string) gpsync.HookRegistration {
		t.Helper()
		done, err := sched.RegisterHooks(context.Background(), []int64{int64(p.ID)}, hookURL, gitpulse.NewSecret(secret))
		if err != nil || len(done) != 1 {
			t.Fatalf("register: got %+v, %v, want one registration", done, err)
		}
		if strings.Contains(done[0].Problem, secret) || strings.Contains(done[0].Problem, tok.Value) {
			t.Fatalf("the problem shows a secret: %s", done[0].Problem)
		}
		return done[0]
	}
	fail := func(n int) {
		t.Helper()
		status.Store(http.StatusBadGateway)
		for range n {
			if _, err := s.AddCommit(p.ID, sim.CommitSpec{AuthorID: teacher.ID}); err != nil {
				t.Fatal(err)
			}
			s.WaitHooks()
		}
		if hs := s.ProjectHooks(p.ID); len(hs) != 1 || hs[0].RecentFailures != n {
			t.Fatalf("after %d failed deliveries: got hooks %+v", n, hs)
		}
	}

	status.Store(http.StatusAccepted)
	if r := register("gph_first"); r.Action != "created" || r.AlertStatus != "executable" || r.Reenabled {
		t.Fatalf("first registration: got %+v, want created, executable", r)
	}
	fail(4) // GitLab disables it for a minute

	// The receiver is back: registering re-enables the hook.
	status.Store(http.StatusAccepted)
	r := register("gph_second")
	if r.Action != "updated" || r.AlertStatus != "executable" || !r.Reenabled || r.Problem != "" {
		t.Fatalf("registration of a disabled hook: got %+v, want updated, re-enabled, executable", r)
	}
	if hs := s.ProjectHooks(p.ID); hs[0].RecentFailures != 0 || !hs[0].DisabledUntil.IsZero() {
		t.Fatalf("hook after re-enabling: got %+v, want no failures", hs[0])
	}
	mu.Lock()
	last := tokens[len(tokens)-1]
	mu.Unlock()
	if last != "gph_second" {
		t.Errorf("the test delivery carried secret %q, want the new one (edit before test)", last)
	}

	// The receiver still fails: the hook stays disabled, and the
	// registration says why.
	clk.Add(2 * time.Minute)
	fail(4)
	r = register("gph_third")
	if r.Action != "updated" || r.AlertStatus != "temporarily_disabled" || r.Reenabled || !strings.Contains(r.Problem, "test delivery") {
		t.Fatalf("registration while the receiver fails: got %+v, want updated, temporarily_disabled, a problem", r)
	}
}
