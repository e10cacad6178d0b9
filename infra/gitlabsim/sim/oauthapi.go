package sim

// The OAuth 2.0 / OpenID Connect provider's routes.
//
// Checked against:
//   - https://docs.gitlab.com/api/oauth2/ (authorize parameters, PKCE with
//     S256, the token and revoke requests and answers).
//   - gitlabhq/gitlabhq app/controllers/oauth/authorizations_controller.rb:
//     GET /oauth/authorize renders "doorkeeper/authorizations/error" (200,
//     "An error has occurred" and the description) for every invalid
//     request; app/views/doorkeeper/authorizations/error.html.haml.
//   - doorkeeper-gem/doorkeeper app/controllers/doorkeeper/
//     authorizations_controller.rb and tokens_controller.rb, lib/doorkeeper/
//     oauth/pre_authorization.rb (validation order: client_id, client,
//     redirect_uri, response_type, scopes, code_challenge_method),
//     error_response.rb (invalid_client and invalid_redirect_uri are never
//     redirected; 401 for invalid_client, 400 otherwise; the
//     WWW-Authenticate header; Cache-Control no-store), token_response.rb
//     (the token answer), the revoke action (200 {} for unknown tokens, 403
//     unauthorized_client for another client's token).
//   - doorkeeper-gem/doorkeeper-openid_connect userinfo_controller.rb
//     (doorkeeper_authorize! :openid: 401 or 403 with an empty body).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// doorkeeperRealm is the realm of Doorkeeper's own challenges (GitLab keeps
// the default).
const doorkeeperRealm = "Doorkeeper"

// oauthRoutes registers the provider's routes and its control route.
func (s *Sim) oauthRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	m.HandleFunc("GET /oauth/discovery/keys", s.jwks)
	m.HandleFunc("GET /oauth/authorize", s.authorizePage)
	m.HandleFunc("POST /oauth/authorize", s.authorizeDecision)
	m.HandleFunc("POST /oauth/token", s.oauthToken)
	m.HandleFunc("POST /oauth/revoke", s.oauthRevoke)
	m.HandleFunc("GET /oauth/userinfo", s.userinfo)
	m.HandleFunc("POST /oauth/userinfo", s.userinfo)
	m.HandleFunc("POST /-/sim/oauth/applications", s.ctlAddOAuthApp)
}

// authRequest is a validated authorization request.
type authRequest struct {
	app                 *OAuthApp
	redirectURI, state  string
	scopes              []string
	challenge, method   string
	nonce, responseType string
}

// authError is a refused authorization request: Doorkeeper's error name
// and description, and whether it may be sent to the redirect URI.
type authError struct {
	name, description string
	redirectable      bool
	status            int
}

// parseAuthRequestLocked validates an authorization request as Doorkeeper's
// PreAuthorization does, in its order. The caller holds s.mu.
func (s *Sim) parseAuthRequestLocked(v url.Values) (authRequest, *authError) {
	req := authRequest{
		redirectURI:  v.Get("redirect_uri"),
		state:        v.Get("state"),
		challenge:    v.Get("code_challenge"),
		method:       v.Get("code_challenge_method"),
		nonce:        v.Get("nonce"),
		responseType: v.Get("response_type"),
	}
	fail := func(name, description string, redirectable bool) (authRequest, *authError) {
		status := http.StatusBadRequest
		if name == "invalid_client" {
			status = http.StatusUnauthorized
		}
		return req, &authError{name: name, description: description, redirectable: redirectable, status: status}
	}
	clientID := v.Get("client_id")
	if clientID == "" {
		return fail("invalid_request", "Missing required parameter: client_id.", false)
	}
	if req.app = s.appLocked(clientID); req.app == nil {
		return fail("invalid_client", descInvalidClient, false)
	}
	if req.redirectURI == "" || !slices.Contains(req.app.RedirectURIs, req.redirectURI) {
		return fail("invalid_redirect_uri", "The redirect URI included is not valid.", false)
	}
	if req.responseType == "" {
		return fail("invalid_request", "Missing required parameter: response_type.", true)
	}
	if req.responseType != "code" {
		return fail("unsupported_response_type", "The authorization server does not support this response type.", true)
	}
	scope := v.Get("scope")
	if strings.TrimSpace(scope) == "" && slices.Contains(req.app.Scopes, defaultOAuthScope) {
		scope = defaultOAuthScope
	}
	req.scopes = strings.Fields(scope)
	if len(req.scopes) == 0 || strings.ContainsAny(scope, "\r\n\t") || slices.ContainsFunc(req.scopes, func(sc string) bool {
		return !slices.Contains(oauthScopes, sc) || !slices.Contains(req.app.Scopes, sc)
	}) {
		return fail("invalid_scope", descInvalidScope, true)
	}
	if req.challenge != "" && req.method != "plain" && req.method != "S256" {
		return fail("invalid_code_challenge_method", "The code_challenge_method must be one of plain, S256.", true)
	}
	return req, nil
}

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>GitLab simulator</title></head>
<body><h3 class="page-title">An error has occurred</h3>
<main role="main"><pre>{{.}}</pre></main></body></html>
`))

// writeErrorPage renders Doorkeeper's error page.
func writeErrorPage(w http.ResponseWriter, status int, description string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, description)
}

// signInUser is a user the sign-in page offers.
type signInUser struct {
	ID             int
	Username, Name string
}

type signInPage struct {
	AppName string
	Scopes  string
	Users   []signInUser
	Fields  [][2]string // the request's parameters, as hidden fields
}

var signInTemplate = template.Must(template.New("signin").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in · GitLab simulator</title></head>
<body>
<h3 class="page-title">Authorize {{.AppName}} to use your account?</h3>
<p>Scopes: <code>{{.Scopes}}</code></p>
<p>Sign in as:</p>
<ul>
{{- range $u := .Users}}
<li><form method="post" action="/oauth/authorize">
{{- range $.Fields}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">{{end -}}
<input type="hidden" name="user_id" value="{{$u.ID}}">
<button type="submit" data-user-id="{{$u.ID}}" data-username="{{$u.Username}}">{{$u.Name}} (@{{$u.Username}})</button>
</form></li>
{{- end}}
</ul>
<form method="post" action="/oauth/authorize">
{{- range .Fields}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">{{end -}}
<input type="hidden" name="_method" value="delete">
<button type="submit">Deny</button>
</form>
</body></html>
`))

// authParams are the authorization request parameters the sign-in page
// carries to its POST.
var authParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"}

// authorizePage answers GET /oauth/authorize: the sign-in page listing the
// simulator's users (bots left out), or GitLab's error page (200).
func (s *Sim) authorizePage(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	req, aerr := s.parseAuthRequestLocked(q)
	var page signInPage
	if aerr == nil {
		page = signInPage{AppName: req.app.Name, Scopes: strings.Join(req.scopes, " ")}
		for _, u := range s.users {
			if !u.Bot {
				page.Users = append(page.Users, signInUser{ID: u.ID, Username: u.Username, Name: u.Name})
			}
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		writeErrorPage(w, http.StatusOK, aerr.description)
		return
	}
	slices.SortFunc(page.Users, func(a, b signInUser) int { return a.ID - b.ID })
	for _, name := range authParams {
		if v := q.Get(name); v != "" {
			page.Fields = append(page.Fields, [2]string{name, v})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = signInTemplate.Execute(w, page)
}

// authorizeDecision answers the sign-in page's POST /oauth/authorize: the
// chosen user_id approves the request (redirect with code and state), or
// _method=delete denies it (redirect with error=access_denied), as
// Doorkeeper's create and destroy. An invalid request is redirected with
// its error when Doorkeeper would, else rendered.
func (s *Sim) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErrorPage(w, http.StatusBadRequest, "invalid form: "+err.Error())
		return
	}
	s.mu.Lock()
	now := s.now()
	req, aerr := s.parseAuthRequestLocked(r.PostForm)
	var code string
	var userProblem string
	deny := r.PostForm.Get("_method") == "delete"
	if aerr == nil && !deny {
		var id int
		_, err := fmt.Sscan(r.PostForm.Get("user_id"), &id)
		if u := s.users[id]; err != nil || u == nil || u.Bot {
			userProblem = fmt.Sprintf("no user %q to sign in as", r.PostForm.Get("user_id"))
		} else {
			code = s.issueCodeLocked(req, id, now)
		}
	}
	s.mu.Unlock()
	switch {
	case aerr != nil && !aerr.redirectable:
		writeErrorPage(w, aerr.status, aerr.description)
	case aerr != nil:
		redirectWith(w, r, req.redirectURI, "error", aerr.name, "error_description", aerr.description, "state", req.state)
	case deny:
		redirectWith(w, r, req.redirectURI, "error", "access_denied",
			"error_description", "The resource owner or authorization server denied the request.", "state", req.state)
	case userProblem != "":
		writeErrorPage(w, http.StatusBadRequest, userProblem)
	default:
		redirectWith(w, r, req.redirectURI, "code", code, "state", req.state)
	}
}

// redirectWith redirects (302) to target with the given name, value pairs
// added to its query; empty values are left out.
func redirectWith(w http.ResponseWriter, r *http.Request, target string, pairs ...string) {
	u, err := url.Parse(target)
	if err != nil {
		writeErrorPage(w, http.StatusBadRequest, "The redirect URI included is not valid.")
		return
	}
	q := u.Query()
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// clientCredentials reads the client's id and secret as Doorkeeper does:
// from an "Authorization: Basic" header, else from the client_id and
// client_secret parameters.
func clientCredentials(r *http.Request) (id, secret string) {
	const prefix = "basic "
	if a := r.Header.Get("Authorization"); len(a) > len(prefix) && strings.EqualFold(a[:len(prefix)], prefix) {
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a[len(prefix):])); err == nil {
			id, secret, _ = strings.Cut(string(b), ":")
			return id, secret
		}
	}
	return r.Form.Get("client_id"), r.Form.Get("client_secret")
}

// oauthTokenJSON is Doorkeeper's token answer, with the ID token
// doorkeeper-openid_connect adds for the openid scope.
type oauthTokenJSON struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	CreatedAt    int64  `json:"created_at"`
	IDToken      string `json:"id_token,omitempty"`
}

// oauthToken answers POST /oauth/token for the authorization_code and
// refresh_token grants.
func (s *Sim) oauthToken(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, &tokenError{"invalid_request", "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."})
		return
	}
	id, secret := clientCredentials(r)
	base := baseURL(r)
	if r.Form.Get("grant_type") == "authorization_code" || r.Form.Get("grant_type") == "refresh_token" {
		s.key.get() // Make the key outside the lock: it takes a while.
	}
	s.mu.Lock()
	now := s.now()
	app := s.authenticateClientLocked(id, secret)
	var rec *tokenRecord
	var terr *tokenError
	nonce := ""
	switch gt := r.Form.Get("grant_type"); gt {
	case "":
		terr = missingParam("grant_type")
	case "authorization_code":
		var g *oauthGrant
		rec, g, terr = s.exchangeCodeLocked(app, r.Form.Get("code"), r.Form.Get("redirect_uri"), r.Form.Get("code_verifier"), now)
		if g != nil {
			nonce = g.nonce
		}
	case "refresh_token":
		rec, terr = s.refreshLocked(app, id != "", r.Form.Get("refresh_token"), r.Form.Get("scope"), now)
	default:
		terr = &tokenError{"unsupported_grant_type", descUnsupported}
	}
	var out oauthTokenJSON
	var err error
	if terr == nil {
		out = oauthTokenJSON{
			AccessToken:  rec.Value,
			TokenType:    "Bearer",
			ExpiresIn:    int64(oauthLifetime.Seconds()),
			RefreshToken: rec.refresh,
			Scope:        strings.Join(rec.Scopes, " "),
			CreatedAt:    rec.CreatedAt.Unix(),
		}
		if slices.Contains(rec.Scopes, scopeOpenID) {
			out.IDToken, err = s.idTokenLocked(rec, nonce, base, now)
		}
	}
	s.mu.Unlock()
	switch {
	case terr != nil:
		writeTokenError(w, terr)
	case err != nil:
		writeTokenError(w, &tokenError{"server_error", "The authorization server encountered an unexpected condition which prevented it from fulfilling the request."})
	default:
		w.Header().Set("Cache-Control", "no-store, no-cache")
		w.Header().Set("Pragma", "no-cache")
		writeOAuthJSON(w, http.StatusOK, out)
	}
}

// writeTokenError writes Doorkeeper's error answer of the token endpoint.
func writeTokenError(w http.ResponseWriter, e *tokenError) {
	status := http.StatusBadRequest
	if e.name == "invalid_client" {
		status = http.StatusUnauthorized
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("WWW-Authenticate", doorkeeperChallenge(e.name, e.description))
	writeOAuthJSON(w, status, map[string]string{"error": e.name, "error_description": e.description})
}

// doorkeeperChallenge is Doorkeeper's WWW-Authenticate value, with the
// characters RFC 6750 forbids in error values replaced by "_".
func doorkeeperChallenge(name, description string) string {
	clean := func(v string) string {
		return strings.Map(func(c rune) rune {
			if c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E) {
				return c
			}
			return '_'
		}, v)
	}
	return fmt.Sprintf(`Bearer realm="%s", error="%s", error_description="%s"`, doorkeeperRealm, clean(name), clean(description))
}

// writeOAuthJSON writes v as Doorkeeper's JSON answers are typed.
func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthRevoke answers POST /oauth/revoke (RFC 7009, as Doorkeeper): 200 {}
// for a revoked or unknown token, 403 unauthorized_client for a token of
// another application than the authenticated client.
func (s *Sim) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthJSON(w, http.StatusOK, struct{}{})
		return
	}
	id, secret := clientCredentials(r)
	s.mu.Lock()
	ok := s.revokeOAuthLocked(s.authenticateClientLocked(id, secret), r.Form.Get("token"), r.Form.Get("token_type_hint"))
	s.mu.Unlock()
	if !ok {
		writeOAuthJSON(w, http.StatusForbidden, map[string]string{
			"error": "unauthorized_client", "error_description": "You are not authorized to revoke this token",
		})
		return
	}
	writeOAuthJSON(w, http.StatusOK, struct{}{})
}

// userinfo answers GET and POST /oauth/userinfo for an OAuth access token
// with the openid scope: 401 (invalid token) or 403 (no openid scope) with
// Doorkeeper's challenge and an empty body otherwise.
func (s *Sim) userinfo(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	setCORS(w, "GET, HEAD, POST, OPTIONS")
	base := baseURL(r)
	s.mu.Lock()
	now := s.now()
	t := s.byValue[bearerValue(r)]
	status, reason := 0, ""
	var out userinfoJSON
	switch {
	case t == nil || t.Kind != KindOAuth:
		status, reason = http.StatusUnauthorized, "The access token is invalid"
	case t.revoked(now):
		status, reason = http.StatusUnauthorized, "The access token was revoked"
	case t.expired(now):
		status, reason = http.StatusUnauthorized, "The access token expired"
	case !slices.Contains(t.Scopes, scopeOpenID):
		status = http.StatusForbidden
	default:
		s.usedOAuthLocked(t)
		var ok bool
		if out, ok = s.userinfoLocked(t, base); !ok {
			status, reason = http.StatusUnauthorized, "The access token is invalid"
		}
	}
	s.mu.Unlock()
	switch status {
	case 0:
		writeOAuthJSON(w, http.StatusOK, out)
	case http.StatusForbidden:
		w.Header().Set("WWW-Authenticate", doorkeeperChallenge("insufficient_scope", `Access to this resource requires scope "openid".`))
		w.WriteHeader(status)
	default:
		w.Header().Set("WWW-Authenticate", doorkeeperChallenge("invalid_token", reason))
		w.WriteHeader(status)
	}
}

type oauthAppRequest struct {
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       []string `json:"scopes"`
	Confidential bool     `json:"confidential"`
}

// ctlAddOAuthApp answers POST /-/sim/oauth/applications
// {"name","redirect_uris","scopes","confidential"} with 201 and the
// application, uid and secret included (see AddOAuthApp).
func (s *Sim) ctlAddOAuthApp(w http.ResponseWriter, r *http.Request) {
	var req oauthAppRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	app, err := s.AddOAuthApp(OAuthApp{Name: req.Name, RedirectURIs: req.RedirectURIs, Scopes: req.Scopes, Confidential: req.Confidential})
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, app)
}
