package sim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

const callback = "http://127.0.0.1:9/callback"

// oauthEnv is a simulator with two users, alice a Developer of kpi/y2025,
// a bot, and a registered application.
type oauthEnv struct {
	*env
	alice, bob sim.User
	app        sim.OAuthApp
	noFollow   *http.Client
}

func newOAuthEnv(t *testing.T, confidential bool, scopes ...string) *oauthEnv {
	t.Helper()
	e := newEnv(t)
	o := &oauthEnv{env: e}
	o.alice = e.sim.AddUser("alice", "Alice Example", false)
	o.bob = e.sim.AddUser("bob", "Bob Example", false)
	e.sim.AddUser("group_1_bot_x", "Bot", true)
	kpi := e.sim.AddGroup("kpi", 0)
	year := e.sim.AddGroup("y2025", kpi.ID)
	if err := e.sim.AddMember("group", year.ID, o.alice.ID, 30); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email", "read_api"}
	}
	app, err := e.sim.AddOAuthApp(sim.OAuthApp{Name: "GitPulse", RedirectURIs: []string{callback}, Scopes: scopes, Confidential: confidential})
	if err != nil {
		t.Fatalf("AddOAuthApp: %v", err)
	}
	if app.UID == "" || !strings.HasPrefix(app.Secret, "gloas-") {
		t.Fatalf("AddOAuthApp: got uid %q, secret %q; want a uid and a gloas- secret", app.UID, app.Secret)
	}
	o.app = app
	o.noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return o
}

// authorizeQuery is an authorization request with PKCE S256.
func (o *oauthEnv) authorizeQuery(verifier string) url.Values {
	sum := sha256.Sum256([]byte(verifier))
	return url.Values{
		"response_type": {"code"}, "client_id": {o.app.UID}, "redirect_uri": {callback},
		"scope": {"openid profile email read_api"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
}

// post sends a form without following redirects.
func (o *oauthEnv) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := o.noFollow.PostForm(o.srv.URL+path, form)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

// code signs in as user on the authorize page and returns the code.
func (o *oauthEnv) code(t *testing.T, q url.Values, user sim.User) string {
	t.Helper()
	form := url.Values{"user_id": {strconv.Itoa(user.ID)}}
	for k, v := range q {
		form[k] = v
	}
	resp, body := o.post(t, "/oauth/authorize", form)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /oauth/authorize: got %d, want 302 (body %s)", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != callback {
		t.Fatalf("redirect: got %q, want %s?code=...", resp.Header.Get("Location"), callback)
	}
	if got := loc.Query().Get("state"); got != q.Get("state") {
		t.Errorf("state: got %q, want %q", got, q.Get("state"))
	}
	return loc.Query().Get("code")
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	CreatedAt    int64  `json:"created_at"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// token posts to /oauth/token and checks the status.
func (o *oauthEnv) token(t *testing.T, form url.Values, wantStatus int) tokenAnswer {
	t.Helper()
	resp, body := o.post(t, "/oauth/token", form)
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST /oauth/token: got %d, want %d (body %s)", resp.StatusCode, wantStatus, body)
	}
	var a tokenAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("token body %q: %v", body, err)
	}
	return a
}

func (o *oauthEnv) exchange(code, verifier string) url.Values {
	return url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"code_verifier": {verifier}, "client_id": {o.app.UID}, "client_secret": {o.app.Secret},
	}
}

func TestOAuthCodeFlowWithPKCE(t *testing.T) {
	var logs bytes.Buffer
	prevLog, prevSlog := log.Writer(), slog.Default()
	log.SetOutput(&logs)
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { log.SetOutput(prevLog); slog.SetDefault(prevSlog) })

	o := newOAuthEnv(t, true)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, o.srv.URL)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	var disc struct {
		Token   string   `json:"token_endpoint"`
		Revoke  string   `json:"revocation_endpoint"`
		Methods []string `json:"code_challenge_methods_supported"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&disc); err != nil {
		t.Fatalf("discovery claims: %v", err)
	}
	if disc.Token != o.srv.URL+"/oauth/token" || disc.Revoke != o.srv.URL+"/oauth/revoke" ||
		!slices.Equal(disc.Methods, []string{"plain", "S256"}) || !slices.Equal(disc.Algs, []string{"RS256"}) {
		t.Errorf("discovery: got %+v", disc)
	}

	const verifier = "a-verifier-of-at-least-43-characters-0123456789"
	q := o.authorizeQuery(verifier)
	resp, page := o.get(t, "/oauth/authorize?"+q.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-username="alice"`) || !strings.Contains(page, `data-username="bob"`) {
		t.Fatalf("authorize page: got %d %s, want 200 listing alice and bob", resp.StatusCode, page)
	}
	if strings.Contains(page, "group_1_bot_x") {
		t.Errorf("authorize page lists the bot user: %s", page)
	}

	code := o.code(t, q, o.alice)
	tok := o.token(t, o.exchange(code, verifier), http.StatusOK)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 7200 || tok.RefreshToken == "" || tok.Scope != "openid profile email read_api" ||
		tok.CreatedAt != day0.Unix() || tok.IDToken == "" {
		t.Fatalf("token answer: got %+v", tok)
	}

	verifierOIDC := provider.VerifierContext(ctx, &oidc.Config{ClientID: o.app.UID, Now: o.clock.Now})
	idt, err := verifierOIDC.Verify(ctx, tok.IDToken)
	if err != nil {
		t.Fatalf("verify id_token: %v", err)
	}
	var claims struct {
		Name         string   `json:"name"`
		Username     string   `json:"preferred_username"`
		Email        string   `json:"email"`
		GroupsDirect []string `json:"groups_direct"`
		AuthTime     int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatalf("id_token claims: %v", err)
	}
	if idt.Subject != strconv.Itoa(o.alice.ID) || idt.Nonce != "n-1" || idt.Issuer != o.srv.URL {
		t.Errorf("id_token: got sub %q nonce %q iss %q, want %d, n-1, %s", idt.Subject, idt.Nonce, idt.Issuer, o.alice.ID, o.srv.URL)
	}
	if want := day0.Add(120 * time.Second); !idt.Expiry.Equal(want) {
		t.Errorf("id_token exp: got %v, want %v", idt.Expiry, want)
	}
	if claims.Name != "Alice Example" || claims.Username != "alice" || claims.Email != "alice@example.com" ||
		!slices.Equal(claims.GroupsDirect, []string{"kpi/y2025"}) || claims.AuthTime != day0.Unix() {
		t.Errorf("id_token claims: got %+v", claims)
	}

	resp, body := o.get(t, "/oauth/userinfo", "Authorization", "Bearer "+tok.AccessToken)
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("userinfo: got %d %s", resp.StatusCode, body)
	}
	if info["sub"] != strconv.Itoa(o.alice.ID) || info["nickname"] != "alice" || info["email_verified"] != true ||
		info["https://gitlab.org/claims/groups/developer"] == nil || info["groups_direct"] != nil {
		t.Errorf("userinfo: got %s", body)
	}
	if groups, _ := info["groups"].([]any); len(groups) != 1 || groups[0] != "kpi/y2025" {
		t.Errorf("userinfo groups: got %v, want [kpi/y2025]", info["groups"])
	}

	resp, body = o.get(t, "/api/v4/user", "Authorization", "Bearer "+tok.AccessToken)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"username":"alice"`) {
		t.Fatalf("GET /api/v4/user with the OAuth token: got %d %s", resp.StatusCode, body)
	}

	resp, body = o.post(t, "/oauth/revoke", url.Values{"token": {tok.AccessToken}, "client_id": {o.app.UID}, "client_secret": {o.app.Secret}})
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Fatalf("revoke: got %d %s, want 200 {}", resp.StatusCode, body)
	}
	resp, body = o.get(t, "/api/v4/user", "Authorization", "Bearer "+tok.AccessToken)
	if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(body) != bodyRevoked {
		t.Errorf("API after revoke: got %d %s, want 401 %s", resp.StatusCode, body, bodyRevoked)
	}
	resp, _ = o.post(t, "/oauth/revoke", url.Values{"token": {"unknown"}, "client_id": {o.app.UID}, "client_secret": {o.app.Secret}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("revoke of an unknown token: got %d, want 200", resp.StatusCode)
	}

	for _, secret := range []string{o.app.Secret, tok.AccessToken, tok.RefreshToken, code} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log output holds a secret: %s", logs.String())
		}
	}
}

func TestOAuthRefusals(t *testing.T) {
	const verifier = "a-verifier-of-at-least-43-characters-0123456789"
	tests := []struct {
		name       string
		change     func(o *oauthEnv, form url.Values)
		before     func(t *testing.T, o *oauthEnv, form url.Values) // after the code is made
		wantStatus int
		wantError  string
	}{
		{name: "wrong code_verifier", change: func(_ *oauthEnv, f url.Values) { f.Set("code_verifier", verifier+"x") },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "missing code_verifier", change: func(_ *oauthEnv, f url.Values) { f.Del("code_verifier") },
			wantStatus: 400, wantError: "invalid_request"},
		{name: "other redirect_uri", change: func(_ *oauthEnv, f url.Values) { f.Set("redirect_uri", callback+"2") },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "wrong client secret", change: func(_ *oauthEnv, f url.Values) { f.Set("client_secret", "gloas-wrong") },
			wantStatus: 401, wantError: "invalid_client"},
		{name: "no client secret for a confidential app", change: func(_ *oauthEnv, f url.Values) { f.Del("client_secret") },
			wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client", change: func(_ *oauthEnv, f url.Values) { f.Set("client_id", "nope") },
			wantStatus: 401, wantError: "invalid_client"},
		{name: "reused code", before: func(t *testing.T, o *oauthEnv, f url.Values) { o.token(t, f, http.StatusOK) },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "expired code", before: func(_ *testing.T, o *oauthEnv, _ url.Values) { o.clock.Set(day0.Add(10*time.Minute + time.Second)) },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "unknown grant type", change: func(_ *oauthEnv, f url.Values) { f.Set("grant_type", "password") },
			wantStatus: 400, wantError: "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOAuthEnv(t, true)
			q := o.authorizeQuery(verifier)
			form := o.exchange(o.code(t, q, o.alice), verifier)
			if tt.before != nil {
				tt.before(t, o, form)
			}
			if tt.change != nil {
				tt.change(o, form)
			}
			resp, body := o.post(t, "/oauth/token", form)
			var a tokenAnswer
			_ = json.Unmarshal([]byte(body), &a)
			if resp.StatusCode != tt.wantStatus || a.Error != tt.wantError || a.Description == "" || a.AccessToken != "" {
				t.Errorf("got %d %s, want %d with error %q", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="Doorkeeper", error="`+tt.wantError+`"`) {
				t.Errorf("WWW-Authenticate: got %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestOAuthAuthorizeErrors(t *testing.T) {
	o := newOAuthEnv(t, false)
	const verifier = "a-verifier-of-at-least-43-characters-0123456789"
	tests := []struct {
		name   string
		change func(q url.Values)
		want   string // the error page's description
		// redirect is the error a POST of the same request is redirected
		// with; "" when it is rendered.
		redirect string
	}{
		{"wrong redirect_uri", func(q url.Values) { q.Set("redirect_uri", "http://evil.example/cb") }, "The redirect URI included is not valid.", ""},
		{"unknown client", func(q url.Values) { q.Set("client_id", "nope") }, "Client authentication failed", ""},
		{"scope the app lacks", func(q url.Values) { q.Set("scope", "openid api") }, "The requested scope is invalid", "invalid_scope"},
		{"unsupported response type", func(q url.Values) { q.Set("response_type", "token") }, "does not support this response type", "unsupported_response_type"},
		{"challenge method", func(q url.Values) { q.Set("code_challenge_method", "S512") }, "The code_challenge_method must be one of plain, S256.", "invalid_code_challenge_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := o.authorizeQuery(verifier)
			tt.change(q)
			resp, body := o.get(t, "/oauth/authorize?"+q.Encode())
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "An error has occurred") || !strings.Contains(body, tt.want) {
				t.Errorf("GET: got %d %s, want GitLab's error page with %q", resp.StatusCode, body, tt.want)
			}
			q.Set("user_id", strconv.Itoa(o.alice.ID))
			resp, body = o.post(t, "/oauth/authorize", q)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			switch {
			case tt.redirect == "" && (resp.StatusCode == http.StatusFound || !strings.Contains(body, tt.want)):
				t.Errorf("POST: got %d to %q, want the error page", resp.StatusCode, resp.Header.Get("Location"))
			case tt.redirect != "" && (resp.StatusCode != http.StatusFound || loc.Query().Get("error") != tt.redirect ||
				loc.Query().Get("state") != "st-1" || loc.Query().Get("error_description") == "" || loc.Query().Get("code") != ""):
				t.Errorf("POST: got %d to %q, want a redirect with error=%s and the state", resp.StatusCode, resp.Header.Get("Location"), tt.redirect)
			}
		})
	}

	q := o.authorizeQuery(verifier)
	q.Set("_method", "delete")
	resp, _ := o.post(t, "/oauth/authorize", q)
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "access_denied" {
		t.Errorf("deny: got %d to %q, want a redirect with error=access_denied", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestOAuthPublicClientRefreshAndScopes(t *testing.T) {
	o := newOAuthEnv(t, false, "openid", "read_user")
	const verifier = "plain-verifier-of-at-least-43-characters-0123456"
	q := o.authorizeQuery(verifier)
	q.Set("code_challenge", verifier)
	q.Set("code_challenge_method", "plain")
	q.Set("scope", "openid")
	form := o.exchange(o.code(t, q, o.bob), verifier)
	form.Del("client_secret") // A public client sends none.
	tok := o.token(t, form, http.StatusOK)
	if tok.IDToken == "" || tok.Scope != "openid" {
		t.Fatalf("token: got %+v, want an id_token for scope openid", tok)
	}

	// openid alone gives no API access.
	resp, body := o.get(t, "/api/v4/user", "Authorization", "Bearer "+tok.AccessToken)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "insufficient_scope") {
		t.Errorf("API with an openid token: got %d %s, want 403 insufficient_scope", resp.StatusCode, body)
	}

	// A refresh gives a new token; the old one works until the new one is used.
	refreshed := o.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {o.app.UID}}, http.StatusOK)
	if refreshed.AccessToken == tok.AccessToken || refreshed.IDToken == "" {
		t.Fatalf("refresh: got %+v, want a new token with an id_token", refreshed)
	}
	if resp, _ := o.get(t, "/oauth/userinfo", "Authorization", "Bearer "+tok.AccessToken); resp.StatusCode != http.StatusOK {
		t.Errorf("old token before the new one is used: got %d, want 200", resp.StatusCode)
	}
	if resp, _ := o.get(t, "/oauth/userinfo", "Authorization", "Bearer "+refreshed.AccessToken); resp.StatusCode != http.StatusOK {
		t.Errorf("new token: got %d, want 200", resp.StatusCode)
	}
	if resp, _ := o.get(t, "/oauth/userinfo", "Authorization", "Bearer "+tok.AccessToken); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), "The access token was revoked") {
		t.Errorf("old token after the new one was used: got %d %q, want 401 revoked", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	a := o.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {o.app.UID}}, http.StatusBadRequest)
	if a.Error != "invalid_grant" {
		t.Errorf("reused refresh token: got %+v, want invalid_grant", a)
	}

	// Another client may not revoke the token.
	other, err := o.sim.AddOAuthApp(sim.OAuthApp{Name: "Other", RedirectURIs: []string{callback}, Scopes: []string{"openid"}})
	if err != nil {
		t.Fatalf("AddOAuthApp: %v", err)
	}
	if resp, body := o.post(t, "/oauth/revoke", url.Values{"token": {refreshed.RefreshToken}, "client_id": {other.UID}}); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "unauthorized_client") {
		t.Errorf("revoke by another client: got %d %s, want 403 unauthorized_client", resp.StatusCode, body)
	}
	// Revoking by the refresh token revokes the access token too.
	if resp, _ := o.post(t, "/oauth/revoke", url.Values{"token": {refreshed.RefreshToken}, "client_id": {o.app.UID}}); resp.StatusCode != http.StatusOK {
		t.Errorf("revoke: got %d, want 200", resp.StatusCode)
	}
	if resp, _ := o.get(t, "/oauth/userinfo", "Authorization", "Bearer "+refreshed.AccessToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo after revoke: got %d, want 401", resp.StatusCode)
	}
}

func TestOAuthUserinfoNeedsOpenID(t *testing.T) {
	o := newOAuthEnv(t, true, "read_api", "openid")
	const verifier = "a-verifier-of-at-least-43-characters-0123456789"
	q := o.authorizeQuery(verifier)
	q.Set("scope", "read_api")
	tok := o.token(t, o.exchange(o.code(t, q, o.alice), verifier), http.StatusOK)
	if tok.IDToken != "" {
		t.Errorf("token without openid: got an id_token")
	}
	resp, body := o.get(t, "/oauth/userinfo", "Authorization", "Bearer "+tok.AccessToken)
	if resp.StatusCode != http.StatusForbidden || body != "" {
		t.Errorf("userinfo without openid: got %d %q, want 403 with an empty body", resp.StatusCode, body)
	}
	resp, _ = o.get(t, "/api/v4/projects/1", "Authorization", "Bearer "+tok.AccessToken)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		t.Errorf("API with read_api: got %d, want the route's own answer", resp.StatusCode)
	}
}

func TestOAuthAppControl(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, http.MethodPost, "/-/sim/oauth/applications",
		`{"name":"GitPulse","redirect_uris":["http://localhost:8080/auth/callback"],"scopes":["openid","read_api"],"confidential":true}`)
	var app sim.OAuthApp
	if err := json.Unmarshal([]byte(body), &app); resp.StatusCode != http.StatusCreated || err != nil || app.UID == "" || app.Secret == "" {
		t.Fatalf("POST /-/sim/oauth/applications: got %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{
		`{"name":"x","redirect_uris":["/relative"],"scopes":["openid"]}`,
		`{"name":"x","redirect_uris":["http://a/cb#frag"],"scopes":["openid"]}`,
		`{"name":"x","redirect_uris":["http://a/cb"],"scopes":["admin_everything"]}`,
		`{"name":"x","redirect_uris":[],"scopes":["openid"]}`,
	} {
		if resp, body := e.do(t, http.MethodPost, "/-/sim/oauth/applications", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s: got %d %s, want 400", bad, resp.StatusCode, body)
		}
	}
}
