package sim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// day0 is the time every test starts at.
var day0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for sim.WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is a simulator behind a test HTTP server, on a fake clock set to day0.
type env struct {
	sim   *sim.Sim
	srv   *httptest.Server
	clock *fakeClock
}

func newEnv(t testing.TB, opts ...sim.Option) *env {
	t.Helper()
	clock := &fakeClock{now: day0}
	s := sim.New(append([]sim.Option{sim.WithClock(clock.Now)}, opts...)...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{sim: s, srv: srv, clock: clock}
}

// token adds a token or fails the test.
func (e *env) token(t testing.TB, spec sim.TokenSpec) sim.Token {
	t.Helper()
	tok, err := e.sim.AddToken(spec)
	if err != nil {
		t.Fatalf("AddToken(%+v): %v", spec, err)
	}
	return tok
}

// client is a client-go client for the simulator that never retries.
func (e *env) client(t testing.TB, token string) *gitlab.Client {
	t.Helper()
	c, err := gitlab.NewClient(token, gitlab.WithBaseURL(e.srv.URL+"/api/v4"), gitlab.WithCustomRetryMax(0))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// do sends a request with the given header pairs and returns the answer
// with its body read.
func (e *env) do(t testing.TB, method, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	return resp, string(b)
}

// get sends a GET with the given header pairs.
func (e *env) get(t testing.TB, path string, header ...string) (*http.Response, string) {
	t.Helper()
	return e.do(t, http.MethodGet, path, "", header...)
}
