package sim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

const (
	bodyUnauthorized = `{"message":"401 Unauthorized"}`
	bodyExpired      = `{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`
	bodyRevoked      = `{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}`
	bodyNarrowUser   = `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api read_user"}`
)

func TestAuthOutcomes(t *testing.T) {
	expiry := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		scopes     []string // nil: send no token
		expiresAt  *time.Time
		now        time.Time
		send       string // sent instead of the token's value when set
		revoke     bool
		wantStatus int
		wantBody   string // checked when the call fails
	}{
		{name: "missing token", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "unknown token", scopes: []string{"api"}, send: "glpat-00000000000000000000", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "valid", scopes: []string{"read_api"}, wantStatus: 200},
		{name: "read_user is enough", scopes: []string{"read_user"}, wantStatus: 200},
		{name: "last second before expiry date", scopes: []string{"api"}, expiresAt: &expiry, now: expiry.Add(-time.Second), wantStatus: 200},
		{name: "expired at 00:00 UTC on expiry date", scopes: []string{"api"}, expiresAt: &expiry, now: expiry, wantStatus: 401, wantBody: bodyExpired},
		{name: "revoked", scopes: []string{"api"}, revoke: true, wantStatus: 401, wantBody: bodyRevoked},
		{name: "revoked wins over expired", scopes: []string{"api"}, expiresAt: &expiry, now: expiry, revoke: true, wantStatus: 401, wantBody: bodyRevoked},
		{name: "under-scoped", scopes: []string{"read_repository"}, wantStatus: 403, wantBody: bodyNarrowUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var value string
			if tt.scopes != nil {
				tok := e.token(t, sim.TokenSpec{Scopes: tt.scopes, ExpiresAt: tt.expiresAt})
				value = tok.Value
				if tt.revoke {
					if err := e.sim.RevokeToken(tok.ID); err != nil {
						t.Fatalf("RevokeToken: %v", err)
					}
				}
			}
			if tt.send != "" {
				value = tt.send
			}
			if !tt.now.IsZero() {
				e.clock.Set(tt.now)
			}

			resp, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", value)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			if tt.wantBody != "" && strings.TrimSpace(body) != tt.wantBody {
				t.Errorf("body: got %s, want %s", body, tt.wantBody)
			}

			_, _, err := e.client(t, value).Users.CurrentUser()
			if tt.wantStatus == 200 {
				if err != nil {
					t.Fatalf("CurrentUser: got %v, want no error", err)
				}
				return
			}
			var er *gitlab.ErrorResponse
			if !errors.As(err, &er) || er.Response.StatusCode != tt.wantStatus {
				t.Errorf("CurrentUser error: got %v, want *gitlab.ErrorResponse with status %d", err, tt.wantStatus)
			}
		})
	}
}

func TestCredentialChannels(t *testing.T) {
	e := newEnv(t)
	pat := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	oauth := e.token(t, sim.TokenSpec{Kind: sim.KindOAuth, UserID: pat.UserID, Scopes: []string{"api"}})
	tests := []struct {
		name   string
		path   string
		header []string
		want   int
	}{
		{"PRIVATE-TOKEN in lower case", "/api/v4/user", []string{"private-token", pat.Value}, 200},
		{"PAT as Bearer", "/api/v4/user", []string{"Authorization", "Bearer " + pat.Value}, 200},
		{"PAT as bearer, lower case", "/api/v4/user", []string{"Authorization", "bearer " + pat.Value}, 200},
		{"private_token parameter", "/api/v4/user?private_token=" + pat.Value, nil, 200},
		{"OAuth as Bearer", "/api/v4/user", []string{"Authorization", "Bearer " + oauth.Value}, 200},
		{"OAuth as access_token parameter", "/api/v4/user?access_token=" + oauth.Value, nil, 200},
		{"OAuth as PRIVATE-TOKEN", "/api/v4/user", []string{"PRIVATE-TOKEN", oauth.Value}, 401},
		{"Basic auth", "/api/v4/user", []string{"Authorization", "Basic " + pat.Value}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(t, tt.path, tt.header...)
			if resp.StatusCode != tt.want {
				t.Errorf("status: got %d, want %d (body %s)", resp.StatusCode, tt.want, body)
			}
		})
	}
}

func TestSelfToken(t *testing.T) {
	e := newEnv(t)
	expiry := time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC)
	tok := e.token(t, sim.TokenSpec{Name: "ci", Scopes: []string{"read_repository"}, ExpiresAt: &expiry})
	e.clock.Set(day0.Add(time.Hour))

	pat, _, err := e.client(t, tok.Value).PersonalAccessTokens.GetSinglePersonalAccessToken()
	if err != nil {
		t.Fatalf("GetSinglePersonalAccessToken: %v", err)
	}
	if pat.ID != int64(tok.ID) || pat.Name != "ci" || pat.UserID != int64(tok.UserID) {
		t.Errorf("id, name, user_id: got %d %q %d, want %d %q %d", pat.ID, pat.Name, pat.UserID, tok.ID, "ci", tok.UserID)
	}
	if !pat.Active || pat.Revoked {
		t.Errorf("active, revoked: got %t %t, want true false", pat.Active, pat.Revoked)
	}
	if len(pat.Scopes) != 1 || pat.Scopes[0] != "read_repository" {
		t.Errorf("scopes: got %v, want [read_repository]", pat.Scopes)
	}
	if pat.ExpiresAt == nil || pat.ExpiresAt.String() != "2025-06-01" {
		t.Errorf("expires_at: got %v, want 2025-06-01", pat.ExpiresAt)
	}
	if pat.CreatedAt == nil || !pat.CreatedAt.Equal(day0) {
		t.Errorf("created_at: got %v, want %v", pat.CreatedAt, day0)
	}
	if pat.LastUsedAt == nil || !pat.LastUsedAt.Equal(day0.Add(time.Hour)) {
		t.Errorf("last_used_at: got %v, want %v", pat.LastUsedAt, day0.Add(time.Hour))
	}

	_, body := e.get(t, "/api/v4/personal_access_tokens/self", "PRIVATE-TOKEN", tok.Value)
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if raw["created_at"] != "2025-03-10T12:00:00.000Z" || raw["description"] != "" {
		t.Errorf("created_at, description: got %v %q, want 2025-03-10T12:00:00.000Z \"\"", raw["created_at"], raw["description"])
	}
	if _, ok := raw["token"]; ok {
		t.Errorf("body: got a token field, want none")
	}
}

func TestNoExpiryIsNull(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	_, body := e.get(t, "/api/v4/personal_access_tokens/self", "PRIVATE-TOKEN", tok.Value)
	if !strings.Contains(body, `"expires_at":null`) {
		t.Errorf("body: got %s, want expires_at null", body)
	}
}

func TestBotTokens(t *testing.T) {
	tests := []struct {
		spec sim.TokenSpec
		want *regexp.Regexp
	}{
		{sim.TokenSpec{Kind: sim.KindGroup, GroupID: 12, Name: "sync", Scopes: []string{"read_api"}}, regexp.MustCompile(`^group_12_bot_[0-9a-f]{8}$`)},
		{sim.TokenSpec{Kind: sim.KindProject, ProjectID: 42, Name: "sync", Scopes: []string{"read_api"}}, regexp.MustCompile(`^project_42_bot_[0-9a-f]{8}$`)},
	}
	for _, tt := range tests {
		t.Run(string(tt.spec.Kind), func(t *testing.T) {
			e := newEnv(t)
			tok := e.token(t, tt.spec)
			c := e.client(t, tok.Value)
			u, _, err := c.Users.CurrentUser()
			if err != nil {
				t.Fatalf("CurrentUser: %v", err)
			}
			if !u.Bot || !tt.want.MatchString(u.Username) || u.Name != "sync" {
				t.Errorf("bot, username, name: got %t %q %q, want true, %s, sync", u.Bot, u.Username, u.Name, tt.want)
			}
			pat, _, err := c.PersonalAccessTokens.GetSinglePersonalAccessToken()
			if err != nil {
				t.Fatalf("GetSinglePersonalAccessToken: %v", err)
			}
			if pat.UserID != u.ID {
				t.Errorf("user_id: got %d, want %d", pat.UserID, u.ID)
			}
		})
	}
}

func TestHumanUserHasBotFalse(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	_, body := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
	if !strings.Contains(body, `"bot":false`) {
		t.Errorf("body: got %s, want \"bot\":false", body)
	}
}

func TestOAuthToken(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Kind: sim.KindOAuth, Scopes: []string{"api", "read_user"}})
	if len(tok.Value) != 64 {
		t.Errorf("value length: got %d, want 64", len(tok.Value))
	}
	if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(day0.Add(2*time.Hour)) {
		t.Errorf("expires at: got %v, want %v", tok.ExpiresAt, day0.Add(2*time.Hour))
	}
	c, err := gitlab.NewOAuthClient(tok.Value, gitlab.WithBaseURL(e.srv.URL+"/api/v4"), gitlab.WithCustomRetryMax(0))
	if err != nil {
		t.Fatalf("NewOAuthClient: %v", err)
	}
	if _, _, err := c.Users.CurrentUser(); err != nil {
		t.Errorf("CurrentUser: got %v, want no error", err)
	}
	_, _, err = c.PersonalAccessTokens.GetSinglePersonalAccessToken()
	if !gitlab.HasStatusCode(err, http.StatusBadRequest) {
		t.Errorf("GetSinglePersonalAccessToken error: got %v, want status 400", err)
	}

	e.clock.Set(day0.Add(30 * time.Minute))
	resp, body := e.get(t, "/oauth/token/info", "Authorization", "Bearer "+tok.Value)
	var info struct {
		ResourceOwnerID int      `json:"resource_owner_id"`
		Scope           []string `json:"scope"`
		ExpiresIn       int      `json:"expires_in"`
		Application     struct {
			UID string `json:"uid"`
		} `json:"application"`
		CreatedAt int64 `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(body), &info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token info: got %d %s (%v), want 200 and JSON", resp.StatusCode, body, err)
	}
	if info.ResourceOwnerID != tok.UserID || info.ExpiresIn != 5400 || info.CreatedAt != day0.Unix() ||
		strings.Join(info.Scope, " ") != "api read_user" || info.Application.UID == "" {
		t.Errorf("token info: got %+v, want owner %d, expires_in 5400, created_at %d, scope [api read_user], an application uid",
			info, tok.UserID, day0.Unix())
	}

	e.clock.Set(day0.Add(2 * time.Hour))
	if resp, body := e.get(t, "/api/v4/user", "Authorization", "Bearer "+tok.Value); resp.StatusCode != 401 || strings.TrimSpace(body) != bodyExpired {
		t.Errorf("expired OAuth on /user: got %d %s, want 401 %s", resp.StatusCode, body, bodyExpired)
	}
	const wantInfo = `{"error":"invalid_token","error_description":"The access token expired"}`
	if resp, body := e.get(t, "/oauth/token/info", "Authorization", "Bearer "+tok.Value); resp.StatusCode != 401 || strings.TrimSpace(body) != wantInfo {
		t.Errorf("expired OAuth on token info: got %d %s, want 401 %s", resp.StatusCode, body, wantInfo)
	}
}

func TestTokenInfoRefusesPAT(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	const want = `{"error":"invalid_token","error_description":"The access token is invalid"}`
	resp, body := e.get(t, "/oauth/token/info", "Authorization", "Bearer "+tok.Value)
	if resp.StatusCode != 401 || strings.TrimSpace(body) != want {
		t.Errorf("got %d %s, want 401 %s", resp.StatusCode, body, want)
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	v, _, err := e.client(t, tok.Value).Version.GetVersion()
	if err != nil {
		t.Fatalf("GetVersion: %v", err)
	}
	if v.Version != "17.9.0-ee" || v.Revision != "abc1234" {
		t.Errorf("got %s %s, want 17.9.0-ee abc1234", v.Version, v.Revision)
	}
}

func TestUnknownRoute(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	c := e.client(t, tok.Value)
	req, err := c.NewRequest(http.MethodGet, "projects/1/nothing_here", nil, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if _, err := c.Do(req, nil); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("Do: got %v, want gitlab.ErrNotFound", err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp, body := e.do(t, method, "/api/v4/nothing_here", "")
		if resp.StatusCode != 404 || strings.TrimSpace(body) != `{"error":"404 Not Found"}` {
			t.Errorf("%s without token: got %d %s, want 404 {\"error\":\"404 Not Found\"}", method, resp.StatusCode, body)
		}
	}
	if got := e.sim.RequestCounts()["GET /api/v4/*"]; got != 2 {
		t.Errorf("count of GET /api/v4/*: got %d, want 2", got)
	}
}

func TestListOwnTokens(t *testing.T) {
	e := newEnv(t)
	first := e.token(t, sim.TokenSpec{Name: "one", Scopes: []string{"read_api"}})
	e.token(t, sim.TokenSpec{UserID: first.UserID, Name: "two", Scopes: []string{"api"}})
	e.token(t, sim.TokenSpec{Kind: sim.KindOAuth, UserID: first.UserID, Scopes: []string{"api"}})
	e.token(t, sim.TokenSpec{Name: "someone else", Scopes: []string{"api"}})

	pats, _, err := e.client(t, first.Value).PersonalAccessTokens.ListPersonalAccessTokens(nil)
	if err != nil {
		t.Fatalf("ListPersonalAccessTokens: %v", err)
	}
	var names []string
	for _, p := range pats {
		names = append(names, p.Name)
		if p.Token != "" {
			t.Errorf("token %q: got value %q, want none", p.Name, p.Token)
		}
	}
	if got := strings.Join(names, ","); got != "one,two" {
		t.Errorf("names: got %s, want one,two", got)
	}
}

func TestRequestCountsAndReset(t *testing.T) {
	e := newEnv(t, sim.WithRateLimit(7), sim.WithGitLabComRateLimitHeaders())
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"api"}})
	e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
	e.get(t, "/api/v4/user")
	e.get(t, "/api/v4/personal_access_tokens/self", "PRIVATE-TOKEN", tok.Value)
	got := e.sim.RequestCounts()
	if got["GET /api/v4/user"] != 2 || got["GET /api/v4/personal_access_tokens/self"] != 1 || len(got) != 2 {
		t.Errorf("counts: got %v, want GET /api/v4/user 2 and GET /api/v4/personal_access_tokens/self 1", got)
	}

	e.sim.SetRateLimit(0)
	e.sim.Reset()
	if got := e.sim.RequestCounts(); len(got) != 0 {
		t.Errorf("counts after Reset: got %v, want none", got)
	}
	resp, _ := e.get(t, "/api/v4/user", "PRIVATE-TOKEN", tok.Value)
	if resp.StatusCode != 401 {
		t.Errorf("old token after Reset: got %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("RateLimit-Limit"); got != "7" {
		t.Errorf("RateLimit-Limit after Reset: got %q, want the constructor's 7", got)
	}
	if u := e.sim.AddUser("again", "Again", false); u.ID != 1 {
		t.Errorf("first user ID after Reset: got %d, want 1", u.ID)
	}
}

func TestAddTokenErrors(t *testing.T) {
	e := newEnv(t)
	e.token(t, sim.TokenSpec{Value: "taken", Scopes: []string{"api"}})
	tests := []struct {
		name string
		spec sim.TokenSpec
	}{
		{"no scopes", sim.TokenSpec{}},
		{"unknown owner", sim.TokenSpec{UserID: 99, Scopes: []string{"api"}}},
		{"unknown kind", sim.TokenSpec{Kind: "deploy", Scopes: []string{"api"}}},
		{"group token without group", sim.TokenSpec{Kind: sim.KindGroup, Scopes: []string{"api"}}},
		{"duplicate value", sim.TokenSpec{Value: "taken", Scopes: []string{"api"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.sim.AddToken(tt.spec); err == nil {
				t.Errorf("AddToken(%+v): got no error, want one", tt.spec)
			}
		})
	}
	if err := e.sim.RevokeToken(99); err == nil {
		t.Errorf("RevokeToken(99): got no error, want one")
	}
}
