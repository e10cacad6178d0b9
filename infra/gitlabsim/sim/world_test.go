package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// Dates relative to day0 (2025-03-10).
const (
	inAWeek   = "2025-03-17" // the default expiry of a rotated token
	inAYear   = "2026-03-10" // the latest expiry GitLab accepts, and the default of a created one
	pastAYear = "2026-03-11"
)

// world is a simulator with a group "course", a project "course/team-1" and
// users in every role, each with an api token.
type world struct {
	*env
	group   sim.Group
	project sim.Project
	users   map[string]sim.User  // by role: owner, maintainer, developer, outsider, admin
	tokens  map[string]sim.Token // api personal access token of each user
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{env: newEnv(t), users: map[string]sim.User{}, tokens: map[string]sim.Token{}}
	w.group = w.sim.AddGroup("course", 0)
	w.project = w.sim.AddProject(w.group.ID, "team-1")
	levels := map[string]int{"owner": 50, "maintainer": 40, "developer": 30}
	for _, role := range []string{"owner", "maintainer", "developer", "outsider", "admin"} {
		u := w.sim.AddUser(role, strings.ToUpper(role[:1])+role[1:], false)
		w.users[role] = u
		if level, ok := levels[role]; ok {
			if err := w.sim.AddMember("group", w.group.ID, u.ID, level); err != nil {
				t.Fatalf("AddMember(%s): %v", role, err)
			}
		}
		w.tokens[role] = w.token(t, sim.TokenSpec{UserID: u.ID, Name: role, Scopes: []string{"api"}})
	}
	if err := w.sim.SetAdmin(w.users["admin"].ID, true); err != nil {
		t.Fatalf("SetAdmin: %v", err)
	}
	return w
}

// as is a client-go client authenticated with the api token of role.
func (w *world) as(t *testing.T, role string) *gitlab.Client {
	t.Helper()
	return w.client(t, w.tokens[role].Value)
}

// date returns a client-go date.
func date(t *testing.T, s string) *gitlab.ISOTime {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	iso := gitlab.ISOTime(d)
	return &iso
}

// wantFailure checks that err is a client-go error response with the given
// status and body.
func wantFailure(t *testing.T, what string, err error, status int, body string) {
	t.Helper()
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) {
		t.Errorf("%s: got error %v, want %d %s", what, err, status, body)
		return
	}
	if got := strings.TrimSpace(string(er.Body)); er.Response.StatusCode != status || got != body {
		t.Errorf("%s: got %d %s, want %d %s", what, er.Response.StatusCode, got, status, body)
	}
}

// apiCall sends an API request with token as PRIVATE-TOKEN (or as
// Authorization when it starts with "Bearer ") and a JSON body when body
// is not empty, and checks status and body (the body when wantBody is not
// empty). It returns the body.
func (e *env) apiCall(t *testing.T, method, path, token, body string, wantStatus int, wantBody string) string {
	t.Helper()
	header := []string{"PRIVATE-TOKEN", token}
	if strings.HasPrefix(token, "Bearer ") {
		header = []string{"Authorization", token}
	}
	if body != "" {
		header = append(header, "Content-Type", "application/json")
	}
	resp, got := e.do(t, method, path, body, header...)
	got = strings.TrimSpace(got)
	if resp.StatusCode != wantStatus || (wantBody != "" && got != wantBody) {
		want := wantBody
		if want == "" {
			want = "any body"
		}
		t.Errorf("%s %s: got %d %s, want %d %s", method, path, resp.StatusCode, got, wantStatus, want)
	}
	return got
}

// tokenView is what every token answer shows, whatever its kind.
type tokenView struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Revoked     bool     `json:"revoked"`
	Active      bool     `json:"active"`
	CreatedAt   string   `json:"created_at"`
	Scopes      []string `json:"scopes"`
	UserID      int64    `json:"user_id"`
	ExpiresAt   *string  `json:"expires_at"`
	AccessLevel int      `json:"access_level"`
	Token       string   `json:"token"`
}

func decodeView(t *testing.T, body string) tokenView {
	t.Helper()
	var v tokenView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

func (v tokenView) expires() string {
	if v.ExpiresAt == nil {
		return "null"
	}
	return *v.ExpiresAt
}

// status returns how GET /api/v4/user answers token: "ok", "revoked",
// "expired" or the status and body.
func (e *env) status(t *testing.T, token string) string {
	t.Helper()
	resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", token)
	body = strings.TrimSpace(body)
	switch {
	case resp.StatusCode == 200:
		return "ok"
	case resp.StatusCode == 401 && body == bodyRevoked:
		return "revoked"
	case resp.StatusCode == 401 && body == bodyExpired:
		return "expired"
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}

func (e *env) wantStatus(t *testing.T, what, token, want string) {
	t.Helper()
	if got := e.status(t, token); got != want {
		t.Errorf("%s on GET /api/v4/user: got %s, want %s", what, got, want)
	}
}

// wantCount checks the request count of one route key.
func (e *env) wantCount(t *testing.T, key string, want int) {
	t.Helper()
	if got := e.sim.RequestCounts()[key]; got != want {
		t.Errorf("count of %q: got %d, want %d (all: %v)", key, got, want, e.sim.RequestCounts())
	}
}
