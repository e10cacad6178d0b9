package sim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// controlToken is a token as the control API shows it.
type controlToken struct {
	ID        int      `json:"id"`
	Token     string   `json:"token"`
	Kind      string   `json:"kind"`
	UserID    int      `json:"user_id"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
	Revoked   bool     `json:"revoked"`
	RevokeAt  *string  `json:"revoke_at"`
}

// call sends a control request, checks the status and decodes the answer
// into out unless it is nil.
func (e *env) call(t *testing.T, method, path, body string, wantStatus int, out any) {
	t.Helper()
	resp, got := e.do(t, method, path, body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, got, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(got), out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, got, err)
		}
	}
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t)
	userStatus := func(token string) int {
		resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", token)
		return resp.StatusCode
	}

	var user struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
		Bot      bool   `json:"bot"`
	}
	e.call(t, "POST", "/-/sim/users", `{"username":"alice","name":"Alice"}`, 201, &user)
	if user.ID != 1 || user.Username != "alice" || user.Bot {
		t.Errorf("user: got %+v, want id 1, alice, not a bot", user)
	}

	var tok controlToken
	e.call(t, "POST", "/-/sim/tokens", `{"user_id":1,"name":"t1","scopes":["read_api"],"expires_at":"2025-04-01"}`, 201, &tok)
	if tok.ID != 1 || tok.Kind != "personal" || tok.UserID != 1 || !strings.HasPrefix(tok.Token, "glpat-") ||
		tok.ExpiresAt == nil || *tok.ExpiresAt != "2025-04-01" {
		t.Errorf("token: got %+v, want id 1, personal, user 1, glpat- value, expires 2025-04-01", tok)
	}
	if got := userStatus(tok.Token); got != 200 {
		t.Errorf("new token: got %d, want 200", got)
	}

	var revoked controlToken
	e.call(t, "POST", "/-/sim/tokens/1/revoke", "", 200, &revoked)
	e.call(t, "POST", "/-/sim/tokens/1/revoke", "", 200, &revoked)
	if !revoked.Revoked {
		t.Errorf("revoked: got false, want true")
	}
	if got := userStatus(tok.Token); got != 401 {
		t.Errorf("revoked token: got %d, want 401", got)
	}
	e.call(t, "POST", "/-/sim/tokens/99/revoke", "", 404, nil)
	e.call(t, "POST", "/-/sim/tokens/99/expire", "", 404, nil)

	var second, expired controlToken
	e.call(t, "POST", "/-/sim/tokens", `{"user_id":1,"scopes":["api"],"expires_at":null}`, 201, &second)
	e.call(t, "POST", "/-/sim/tokens/2/expire", "", 200, &expired)
	if expired.ExpiresAt == nil || *expired.ExpiresAt != "2025-03-09" {
		t.Errorf("expired expires_at: got %v, want 2025-03-09", expired.ExpiresAt)
	}
	if got := userStatus(second.Token); got != 401 {
		t.Errorf("expired token: got %d, want 401", got)
	}

	var oauth controlToken
	e.call(t, "POST", "/-/sim/tokens", `{"kind":"oauth","user_id":1,"scopes":["api"],"expires_at":"2025-03-10T13:00:00Z"}`, 201, &oauth)
	if oauth.ExpiresAt == nil || *oauth.ExpiresAt != "2025-03-10T13:00:00Z" || len(oauth.Token) != 64 {
		t.Errorf("oauth token: got %+v, want expires 2025-03-10T13:00:00Z and a 64-digit value", oauth)
	}

	var bot controlToken
	e.call(t, "POST", "/-/sim/tokens", `{"kind":"project","project_id":7,"name":"ci","scopes":["api"]}`, 201, &bot)
	_, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", bot.Token)
	if !strings.Contains(body, `"username":"project_7_bot_`) || !strings.Contains(body, `"bot":true`) {
		t.Errorf("project bot user: got %s, want username project_7_bot_… and bot true", body)
	}

	var counts struct {
		Counts map[string]int `json:"counts"`
	}
	e.call(t, "GET", "/-/sim/requests", "", 200, &counts)
	if got := counts.Counts["GET /api/v4/user"]; got != 4 || len(counts.Counts) != 1 {
		t.Errorf("counts: got %v, want GET /api/v4/user 4 and nothing else", counts.Counts)
	}

	e.call(t, "PUT", "/-/sim/ratelimit", `{"per_minute":5}`, 200, nil)
	if resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", bot.Token); resp.Header.Get("RateLimit-Limit") != "" {
		t.Errorf("RateLimit-Limit as a self-managed GitLab (the default): got %q, want none below the limit", resp.Header.Get("RateLimit-Limit"))
	}
	e.call(t, "PUT", "/-/sim/ratelimit", `{"per_minute":5,"headers":"every"}`, 200, nil)
	if resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", bot.Token); resp.Header.Get("RateLimit-Limit") != "5" {
		t.Errorf("RateLimit-Limit as GitLab.com: got %q, want 5", resp.Header.Get("RateLimit-Limit"))
	}

	e.call(t, "POST", "/-/sim/faults", `{"path_prefix":"/api/v4/version","status":503,"count":5}`, 201, nil)
	if resp, _ := e.get(t, "/api/v4/version", "PRIVATE-TOKEN", bot.Token); resp.StatusCode != 503 {
		t.Errorf("faulted call: got %d, want 503", resp.StatusCode)
	}
	e.call(t, "DELETE", "/-/sim/faults", "", http.StatusNoContent, nil)
	if resp, _ := e.get(t, "/api/v4/version", "PRIVATE-TOKEN", bot.Token); resp.StatusCode != 200 {
		t.Errorf("after DELETE faults: got %d, want 200", resp.StatusCode)
	}

	e.call(t, "POST", "/-/sim/reset", "", http.StatusNoContent, nil)
	var after map[string]map[string]int
	e.call(t, "GET", "/-/sim/requests", "", 200, &after)
	if c, ok := after["counts"]; !ok || len(c) != 0 {
		t.Errorf("counts after reset: got %v, want an empty counts object", after)
	}
	if got := userStatus(bot.Token); got != 401 {
		t.Errorf("token after reset: got %d, want 401", got)
	}
}

func TestControlBadRequests(t *testing.T) {
	tests := []struct {
		method, path, body string
		want               string // part of the message
	}{
		{"POST", "/-/sim/users", `{`, "invalid JSON body"},
		{"POST", "/-/sim/users", `{"username":"a","nme":"x"}`, `unknown field "nme"`},
		{"POST", "/-/sim/users", `{"name":"x"}`, "username is required"},
		{"POST", "/-/sim/tokens", ``, "empty"},
		{"POST", "/-/sim/tokens", `{"scopes":["api"],"expires_at":"tomorrow"}`, "expires_at"},
		{"POST", "/-/sim/tokens", `{"kind":"robot","scopes":["api"]}`, `unknown kind "robot"`},
		{"POST", "/-/sim/tokens", `{"scopes":"api"}`, "scopes"},
		{"POST", "/-/sim/tokens", `{"name":"no scopes"}`, "scopes must not be empty"},
		{"POST", "/-/sim/tokens/abc/revoke", ``, "token id"},
		{"PUT", "/-/sim/ratelimit", `{"per_minute":-1}`, "per_minute"},
		{"PUT", "/-/sim/ratelimit", `{}`, "per_minute"},
		{"PUT", "/-/sim/ratelimit", `{"per_minute":5,"headers":"some"}`, "headers"},
		{"POST", "/-/sim/faults", `{"status":999}`, "status"},
		{"POST", "/-/sim/faults", `{"fraction":2}`, "fraction"},
		{"POST", "/-/sim/faults", `{"status":500}{}`, "more than one value"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			var got struct {
				Message string `json:"message"`
			}
			e.call(t, tt.method, tt.path, tt.body, 400, &got)
			if !strings.Contains(got.Message, tt.want) {
				t.Errorf("message: got %q, want it to contain %q", got.Message, tt.want)
			}
		})
	}
}
