package sim

// The OAuth 2.0 provider's model: registered applications, authorization
// codes (Doorkeeper's access grants) and the access tokens they are
// exchanged for, with their refresh tokens.
//
// Checked against GitLab's and Doorkeeper's own text and source:
//   - https://docs.gitlab.com/api/oauth2/ (authorization code flow with PKCE,
//     expires_in 7200, refresh tokens).
//   - gitlabhq/gitlabhq config/initializers/doorkeeper.rb: use_refresh_token,
//     access_token_expires_in 7200, authorization_code_expires_in left at
//     Doorkeeper's default (600 s), default_scopes api, hex token generator,
//     client credentials from the Basic header or the params.
//   - gitlabhq/gitlabhq db/structure.sql: oauth_access_tokens has
//     previous_refresh_token, so Doorkeeper revokes a refreshed token on the
//     first use of its successor, not at once.
//   - gitlabhq/gitlabhq config/locales/doorkeeper.en.yml and
//     doorkeeper-gem/doorkeeper config/locales/en.yml: error descriptions.
//   - doorkeeper-gem/doorkeeper lib/doorkeeper/oauth/authorization_code_request.rb,
//     refresh_token_request.rb, models/application_mixin.rb
//     (by_uid_and_secret): validation order and which error each check gives.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Lifetimes of the OAuth provider, as GitLab configures Doorkeeper.
const (
	// codeLifetime is how long an authorization code may be exchanged
	// (Doorkeeper's authorization_code_expires_in default, 10 minutes).
	codeLifetime = 10 * time.Minute
	// idTokenLifetime is GitLab's default openid_id_token_expire_in_seconds.
	idTokenLifetime = 120 * time.Second
)

// oauthScopes are the scopes the provider knows (scopes_supported): the
// API scopes the simulator's routes check plus GitLab's OpenID Connect
// scopes. openid, profile and email give no API access.
var oauthScopes = []string{
	scopeAPI, scopeReadAPI, scopeReadUser, "read_repository", "write_repository",
	"sudo", scopeSelfRotate, scopeOpenID, "profile", scopeEmail,
}

const (
	scopeOpenID = "openid"
	scopeEmail  = "email"
)

// defaultOAuthScope is GitLab's Doorkeeper default scope, used when an
// authorization request names none (and the application has it).
const defaultOAuthScope = scopeAPI

// OAuthApp is an OAuth application registered with the provider. UID (the
// client_id) and Secret (the client_secret) are set by AddOAuthApp. A
// confidential application must authenticate with its secret at the token
// endpoint; a public one (Confidential false) may send its client_id alone,
// as in GitLab, though a secret it sends must be right.
type OAuthApp struct {
	UID          string   `json:"uid"`
	Secret       string   `json:"secret"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       []string `json:"scopes"`
	Confidential bool     `json:"confidential"`
}

func (a *OAuthApp) clone() OAuthApp {
	c := *a
	c.RedirectURIs = slices.Clone(a.RedirectURIs)
	c.Scopes = slices.Clone(a.Scopes)
	return c
}

// oauthGrant is an authorization code and what it was issued for.
type oauthGrant struct {
	appUID      string
	userID      int
	redirectURI string
	scopes      []string
	challenge   string
	method      string // "plain" or "S256" when challenge is set
	nonce       string
	expiresAt   time.Time
	used        bool
}

// oauthState is the provider's data; Reset replaces it. The signing key is
// the Sim's and survives Reset (see oidc.go).
type oauthState struct {
	apps     map[string]*OAuthApp    // by UID
	grants   map[string]*oauthGrant  // by code
	refresh  map[string]*tokenRecord // access token by refresh token
	signedIn map[int]time.Time       // user ID: last sign-in on the authorize page
}

func newOAuthState() *oauthState {
	return &oauthState{
		apps:     map[string]*OAuthApp{},
		grants:   map[string]*oauthGrant{},
		refresh:  map[string]*tokenRecord{},
		signedIn: map[int]time.Time{},
	}
}

// AddOAuthApp registers an OAuth application and returns it with its UID
// and Secret. It fails for an empty name, no redirect URI, a redirect URI
// that is not absolute or has a fragment (or a data, vbscript or javascript
// scheme, which GitLab forbids), no scopes, or a scope GitLab does not know
// (Doorkeeper's enforce_configured_scopes); nothing is stored then.
func (s *Sim) AddOAuthApp(app OAuthApp) (OAuthApp, error) {
	if strings.TrimSpace(app.Name) == "" {
		return OAuthApp{}, errors.New("add oauth app: name must not be empty")
	}
	if len(app.RedirectURIs) == 0 {
		return OAuthApp{}, errors.New("add oauth app: redirect URIs must not be empty")
	}
	for _, raw := range app.RedirectURIs {
		if p := redirectURIProblem(raw); p != "" {
			return OAuthApp{}, fmt.Errorf("add oauth app: redirect URI %q %s", raw, p)
		}
	}
	if len(app.Scopes) == 0 {
		return OAuthApp{}, errors.New("add oauth app: scopes must not be empty")
	}
	for _, sc := range app.Scopes {
		if !slices.Contains(oauthScopes, sc) {
			return OAuthApp{}, fmt.Errorf("add oauth app: scope %q doesn't match those configured on the server (%s)",
				sc, strings.Join(oauthScopes, " "))
		}
	}
	stored := app.clone()
	stored.UID = randomHex(32)
	stored.Secret = "gloas-" + randomHex(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.apps[stored.UID] = &stored
	return stored.clone(), nil
}

// redirectURIProblem is Doorkeeper's redirect URI validation message, ""
// for a valid one.
func redirectURIProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "must be a valid URI."
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "cannot contain a fragment."
	case u.Scheme == "":
		return "must specify a scheme."
	case slices.Contains([]string{"data", "vbscript", "javascript"}, strings.ToLower(u.Scheme)):
		return "is forbidden by the server."
	case u.Host == "" && u.Opaque == "":
		return "must be an absolute URI."
	}
	return ""
}

// appLocked returns the application with the given client_id, or nil.
func (s *Sim) appLocked(uid string) *OAuthApp {
	if uid == "" {
		return nil
	}
	return s.oauth.apps[uid]
}

// authenticateClientLocked is Doorkeeper's by_uid_and_secret: the
// application with client id uid whose secret is secret; a public
// application also without a secret. nil when neither holds.
func (s *Sim) authenticateClientLocked(uid, secret string) *OAuthApp {
	app := s.appLocked(uid)
	switch {
	case app == nil:
		return nil
	case secret == "" && !app.Confidential:
		return app
	case secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) == 1:
		return app
	}
	return nil
}

// issueCodeLocked stores a new authorization code for the user's approval
// of a validated authorization request and returns the code.
func (s *Sim) issueCodeLocked(req authRequest, userID int, now time.Time) string {
	code := randomHex(32)
	s.oauth.grants[code] = &oauthGrant{
		appUID:      req.app.UID,
		userID:      userID,
		redirectURI: req.redirectURI,
		scopes:      slices.Clone(req.scopes),
		challenge:   req.challenge,
		method:      req.method,
		nonce:       req.nonce,
		expiresAt:   now.Add(codeLifetime),
	}
	s.oauth.signedIn[userID] = now.UTC()
	return code
}

// tokenError is an answer of the token endpoint other than a token:
// Doorkeeper's error name, its description, and the status (401 for
// invalid_client, 400 for the others).
type tokenError struct {
	name        string
	description string
}

// Doorkeeper's (and GitLab's overriding) descriptions of the token
// endpoint's errors.
const (
	descInvalidClient = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
	descInvalidGrant  = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
	descUnsupported   = "The authorization grant type is not supported by the authorization server."
	descInvalidScope  = "The requested scope is invalid, unknown, or malformed."
)

var (
	errInvalidClient = &tokenError{"invalid_client", descInvalidClient}
	errInvalidGrant  = &tokenError{"invalid_grant", descInvalidGrant}
)

func missingParam(name string) *tokenError {
	return &tokenError{"invalid_request", "Missing required parameter: " + name + "."}
}

// exchangeCodeLocked is Doorkeeper's AuthorizationCodeRequest: it checks,
// in Doorkeeper's order, the parameters (code_verifier when the code was
// issued with a challenge, redirect_uri), the client, that the code exists
// and belongs to the client, the redirect URI, the PKCE verifier and that
// the code is neither used nor expired; then it uses the code up and
// issues an access token. app is the authenticated client (nil when
// authentication failed).
func (s *Sim) exchangeCodeLocked(app *OAuthApp, code, redirectURI, verifier string, now time.Time) (*tokenRecord, *oauthGrant, *tokenError) {
	g := s.oauth.grants[code]
	switch {
	case g != nil && g.challenge != "" && verifier == "":
		return nil, nil, missingParam("code_verifier")
	case redirectURI == "":
		return nil, nil, missingParam("redirect_uri")
	case app == nil:
		return nil, nil, errInvalidClient
	case g == nil || g.appUID != app.UID:
		return nil, nil, errInvalidGrant
	case redirectURI != g.redirectURI:
		return nil, nil, errInvalidGrant
	case !verifierMatches(g, verifier):
		return nil, nil, errInvalidGrant
	case g.used || now.After(g.expiresAt): // Doorkeeper: expired only past the lifetime.
		return nil, nil, errInvalidGrant
	}
	g.used = true
	return s.issueOAuthTokenLocked(app.UID, g.userID, g.scopes, now), g, nil
}

// verifierMatches is Doorkeeper's validate_code_verifier.
func verifierMatches(g *oauthGrant, verifier string) bool {
	if verifier == "" {
		return g.challenge == ""
	}
	switch g.method {
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		return g.challenge == base64.RawURLEncoding.EncodeToString(sum[:])
	case "plain":
		return g.challenge == verifier
	}
	return false
}

// issueOAuthTokenLocked stores a new OAuth access token with a refresh
// token for the user and application.
func (s *Sim) issueOAuthTokenLocked(appUID string, userID int, scopes []string, now time.Time) *tokenRecord {
	expires := now.UTC().Add(oauthLifetime)
	rec := s.storeTokenLocked(Token{
		Kind:      KindOAuth,
		UserID:    userID,
		Name:      s.oauth.apps[appUID].Name,
		Scopes:    slices.Clone(scopes),
		ExpiresAt: &expires,
	}, now)
	rec.appUID = appUID
	rec.refresh = randomHex(32)
	s.oauth.refresh[rec.refresh] = rec
	return rec
}

// refreshLocked is Doorkeeper's RefreshTokenRequest with refresh tokens
// revoked on use: the refresh token must be known and not revoked, the
// client (when it sends credentials) must authenticate and must be the
// token's application, and a scope it asks for must be within the
// token's. The old token keeps working until the new one is first used
// (see usedOAuthLocked). authenticated tells whether the request sent
// client credentials at all.
func (s *Sim) refreshLocked(app *OAuthApp, authenticated bool, refresh, scope string, now time.Time) (*tokenRecord, *tokenError) {
	old := s.oauth.refresh[refresh]
	switch {
	case refresh == "":
		return nil, missingParam("refresh_token")
	case old == nil || old.revoked(now):
		return nil, errInvalidGrant
	case authenticated && app == nil:
		return nil, errInvalidClient
	case app == nil || app.UID != old.appUID:
		return nil, errInvalidGrant
	}
	scopes := old.Scopes
	if scope != "" {
		asked := strings.Fields(scope)
		for _, sc := range asked {
			if !slices.Contains(old.Scopes, sc) {
				return nil, &tokenError{"invalid_scope", descInvalidScope}
			}
		}
		scopes = asked
	}
	rec := s.issueOAuthTokenLocked(old.appUID, old.UserID, scopes, now)
	rec.previous = old.ID
	return rec, nil
}

// usedOAuthLocked is what Doorkeeper does when an OAuth token authenticates
// a request: the token it was refreshed from (if not yet revoked) is
// revoked now, with its refresh token. The caller holds s.mu.
func (s *Sim) usedOAuthLocked(t *tokenRecord) {
	if t.Kind != KindOAuth || t.previous == 0 {
		return
	}
	if prev := s.tokens[t.previous]; prev != nil {
		prev.Revoked = true
	}
	t.previous = 0
}

// revokeOAuthLocked is Doorkeeper's revoke action for the token (an access
// or refresh token value): it reports false when the token belongs to
// another application than the authenticated client app (nil: none), and
// true otherwise, revoking the token (access and refresh token together)
// when it is known.
func (s *Sim) revokeOAuthLocked(app *OAuthApp, token, hint string) bool {
	var rec *tokenRecord
	byAccess := func() *tokenRecord {
		if t := s.byValue[token]; t != nil && t.Kind == KindOAuth {
			return t
		}
		return nil
	}
	if hint == "refresh_token" {
		rec = cmpOr(s.oauth.refresh[token], byAccess())
	} else {
		rec = cmpOr(byAccess(), s.oauth.refresh[token])
	}
	if token == "" || rec == nil {
		return true
	}
	if rec.appUID != "" && s.oauth.apps[rec.appUID] != nil && (app == nil || app.UID != rec.appUID) {
		return false
	}
	rec.Revoked = true
	return true
}

// cmpOr returns a when it is not nil, else b.
func cmpOr(a, b *tokenRecord) *tokenRecord {
	if a != nil {
		return a
	}
	return b
}
