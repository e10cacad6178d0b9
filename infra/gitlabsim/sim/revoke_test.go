package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// userAnswer calls GET /api/v4/user with token and returns the status and
// the trimmed body.
func (e *env) userAnswer(t *testing.T, token string) (int, string) {
	t.Helper()
	resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", token)
	return resp.StatusCode, strings.TrimSpace(body)
}

// wantWorks checks that token authenticates GET /api/v4/user.
func (e *env) wantWorks(t *testing.T, what, token string) {
	t.Helper()
	if status, body := e.userAnswer(t, token); status != 200 {
		t.Errorf("%s: got %d %s, want 200", what, status, body)
	}
}

// wantRevoked checks that token gets GitLab's revoked answer.
func (e *env) wantRevoked(t *testing.T, what, token string) {
	t.Helper()
	resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", token)
	if resp.StatusCode != 401 || strings.TrimSpace(body) != bodyRevoked {
		t.Errorf("%s: got %d %s, want 401 %s", what, resp.StatusCode, strings.TrimSpace(body), bodyRevoked)
	}
	if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("%s WWW-Authenticate: got %q, want an invalid_token challenge", what, got)
	}
}

func TestRevokeTokenAt(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	// A second token of the same owner lists the first one.
	lister := e.token(t, sim.TokenSpec{UserID: tok.UserID, Scopes: []string{"read_api"}})
	at := day0.Add(time.Hour)
	if err := e.sim.RevokeTokenAt(tok.ID, at); err != nil {
		t.Fatalf("RevokeTokenAt: %v", err)
	}

	e.wantWorks(t, "before the revocation", tok.Value)
	pat, _, err := e.client(t, tok.Value).PersonalAccessTokens.GetSinglePersonalAccessToken()
	if err != nil {
		t.Fatalf("self before the revocation: %v", err)
	}
	if pat.Revoked || !pat.Active {
		t.Errorf("self before the revocation: got revoked %t active %t, want false true", pat.Revoked, pat.Active)
	}
	e.clock.Set(at.Add(-time.Nanosecond))
	e.wantWorks(t, "1ns before the revocation", tok.Value)

	e.clock.Set(at)
	e.wantRevoked(t, "at the revocation", tok.Value)
	resp, body := e.get(t, "/api/v4/personal_access_tokens/self", "PRIVATE-TOKEN", tok.Value)
	if resp.StatusCode != 401 || strings.TrimSpace(body) != bodyRevoked {
		t.Errorf("self at the revocation: got %d %s, want 401 %s", resp.StatusCode, body, bodyRevoked)
	}
	pats, _, err := e.client(t, lister.Value).PersonalAccessTokens.ListPersonalAccessTokens(nil)
	if err != nil {
		t.Fatalf("ListPersonalAccessTokens: %v", err)
	}
	if len(pats) != 2 || pats[0].ID != int64(tok.ID) || !pats[0].Revoked || pats[0].Active {
		t.Errorf("listed token after the revocation: got %+v, want token %d revoked and inactive", pats, tok.ID)
	}
	e.wantWorks(t, "the owner's other token", lister.Value)

	e.clock.Set(at.Add(24 * time.Hour))
	e.wantRevoked(t, "a day after the revocation", tok.Value)

	if err := e.sim.RevokeTokenAt(99, at); err == nil {
		t.Errorf("RevokeTokenAt of an unknown token: got no error, want one")
	}
}

func TestRevokeTokenAtNowOrPast(t *testing.T) {
	for name, at := range map[string]time.Time{
		"now":       day0,
		"past":      day0.Add(-time.Hour),
		"zero time": {},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
			if err := e.sim.RevokeTokenAt(tok.ID, at); err != nil {
				t.Fatalf("RevokeTokenAt: %v", err)
			}
			e.wantRevoked(t, "right after RevokeTokenAt", tok.Value)
		})
	}
}

func TestRevokeTokenAtNeverPostpones(t *testing.T) {
	early, late := day0.Add(time.Hour), day0.Add(2*time.Hour)
	tests := []struct {
		name  string
		calls []time.Time // zero: RevokeToken
		want  time.Time   // when the token stops working
	}{
		{"earlier then later", []time.Time{early, late}, early},
		{"later then earlier", []time.Time{late, early}, early},
		{"revoked, then scheduled", []time.Time{{}, late}, day0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
			for _, at := range tt.calls {
				var err error
				if at.IsZero() {
					err = e.sim.RevokeToken(tok.ID)
				} else {
					err = e.sim.RevokeTokenAt(tok.ID, at)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if tt.want.After(day0) {
				e.clock.Set(tt.want.Add(-time.Second))
				e.wantWorks(t, "a second before "+tt.want.Format(time.TimeOnly), tok.Value)
			}
			e.clock.Set(tt.want)
			e.wantRevoked(t, "at "+tt.want.Format(time.TimeOnly), tok.Value)
		})
	}
}

func TestRevokeTokenAtOAuth(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"api"}})
	at := day0.Add(time.Minute)
	if err := e.sim.RevokeTokenAt(tok.ID, at); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.get(t, "/oauth/token/info", "Authorization", "Bearer "+tok.Value); resp.StatusCode != 200 {
		t.Errorf("token info before the revocation: got %d %s, want 200", resp.StatusCode, body)
	}
	e.clock.Set(at)
	const want = `{"error":"invalid_token","error_description":"The access token was revoked"}`
	if resp, body := e.get(t, "/oauth/token/info", "Authorization", "Bearer "+tok.Value); resp.StatusCode != 401 || strings.TrimSpace(body) != want {
		t.Errorf("token info at the revocation: got %d %s, want 401 %s", resp.StatusCode, body, want)
	}
}

func TestControlRevokeAt(t *testing.T) {
	e := newEnv(t)
	a := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	b := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	c := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})

	// A moment ahead: the answer shows the plan, the token still works.
	const plan = "2025-03-10T13:00:00Z"
	revokeAt := func(got controlToken) string {
		if got.RevokeAt == nil {
			return "none"
		}
		return *got.RevokeAt
	}
	var got controlToken
	e.call(t, "POST", "/-/sim/tokens/1/revoke", `{"at":"`+plan+`"}`, 200, &got)
	if got.ID != a.ID || got.Revoked || revokeAt(got) != plan {
		t.Errorf("scheduled revoke: got id %d revoked %t revoke_at %s, want %d false %s", got.ID, got.Revoked, revokeAt(got), a.ID, plan)
	}
	// Repeating with a later moment changes nothing.
	got = controlToken{}
	e.call(t, "POST", "/-/sim/tokens/1/revoke", `{"at":"2025-03-10T14:00:00+01:00"}`, 200, &got)
	if revokeAt(got) != plan {
		t.Errorf("revoke_at after asking for a later moment: got %s, want %s", revokeAt(got), plan)
	}
	e.wantWorks(t, "token 1 before its revocation", a.Value)
	e.clock.Set(time.Date(2025, 3, 10, 12, 59, 59, 999e6, time.UTC))
	e.wantWorks(t, "token 1 1ms before its revocation", a.Value)
	e.clock.Set(time.Date(2025, 3, 10, 13, 0, 0, 0, time.UTC))
	e.wantRevoked(t, "token 1 at its revocation", a.Value)
	got = controlToken{}
	e.call(t, "POST", "/-/sim/tokens/1/revoke", "", 200, &got)
	if !got.Revoked || got.RevokeAt != nil {
		t.Errorf("token 1 revoked again: got revoked %t revoke_at %s, want true none", got.Revoked, revokeAt(got))
	}

	// A moment in the past (fractional seconds and offsets accepted).
	e.call(t, "POST", "/-/sim/tokens/2/revoke", `{"at":"2025-03-10T12:59:59.5+00:00"}`, 200, &got)
	if !got.Revoked {
		t.Errorf("revoke in the past: got revoked false, want true")
	}
	e.wantRevoked(t, "token 2 revoked in the past", b.Value)

	// An empty object means now, as no body does.
	e.call(t, "POST", "/-/sim/tokens/3/revoke", `{}`, 200, &got)
	if !got.Revoked {
		t.Errorf("revoke with {}: got revoked false, want true")
	}
	e.wantRevoked(t, "token 3 revoked with {}", c.Value)

	e.call(t, "POST", "/-/sim/tokens/99/revoke", `{"at":"2025-03-10T13:00:00Z"}`, 404, nil)

	for _, bad := range []struct{ body, want string }{
		{`{"at":"tomorrow"}`, "at: want an RFC 3339 time"},
		{`{"at":"2025-03-10"}`, "at: want an RFC 3339 time"},
		{`{"when":"2025-03-10T13:00:00Z"}`, `unknown field "when"`},
		{`{"at":`, "invalid JSON body"},
		{`{}{}`, "more than one value"},
	} {
		var msg struct {
			Message string `json:"message"`
		}
		e.call(t, "POST", "/-/sim/tokens/1/revoke", bad.body, 400, &msg)
		if !strings.Contains(msg.Message, bad.want) {
			t.Errorf("revoke with %s: got message %q, want it to contain %q", bad.body, msg.Message, bad.want)
		}
	}
}
