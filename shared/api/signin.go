// Signing in with GitLab: the API function is a confidential OAuth
// application of the GitLab instance. The browser is sent to GitLab's
// authorize page (state, nonce, PKCE S256); GitLab sends it back to the
// callback with a code, which the function exchanges server to server
// with its client secret; it verifies the ID token (issuer, audience,
// expiry, RS256 signature, nonce) with go-oidc and sets a signed session
// cookie. The access token is used for nothing but its lifetime: what a
// teacher may see comes from the memberships sync stores, so the
// application asks for the openid scope only.
//
// Why the function and not API Gateway's JWT authorizer: the browser holds
// an HttpOnly session cookie, not a bearer JWT an authorizer could read,
// and the same code must run in make run and the tests, without API
// Gateway.

package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// SignIn configures signing in with GitLab. Without it (Deps.SignIn nil)
// the sign-in routes answer 404 and only API keys authenticate.
type SignIn struct {
	// Issuer is the GitLab instance's base URL (https://gitlab.example.edu),
	// its OpenID Connect issuer.
	Issuer string
	// ClientID and ClientSecret are the OAuth application's.
	ClientID     string
	ClientSecret gitpulse.Secret
	// SessionKey signs the cookies (HMAC-SHA256); at least 32 bytes.
	SessionKey gitpulse.Secret
	// RedirectURL is the callback URL registered with the application;
	// empty: the request's host, https (http on loopback), and
	// /api/v1/auth/callback.
	RedirectURL string
	// HTTPClient calls GitLab (discovery, keys, token); nil:
	// http.DefaultClient.
	HTTPClient *http.Client
	// Audit receives an entry per sign-in and refusal, keyed by the hash
	// of the GitLab subject; nil: none.
	Audit audit.Sink

	mu       sync.Mutex
	provider *oidc.Provider
}

// Auth route paths.
const (
	LoginPath    = "/api/v1/auth/login"
	CallbackPath = "/api/v1/auth/callback"
	LogoutPath   = "/api/v1/auth/logout"
	MePath       = "/api/v1/auth/me"
)

// minSessionKey is the shortest session key accepted.
const minSessionKey = 32

// signInConfigured returns the sign-in configuration, or a 404 saying it
// is missing (a deployment without sign-in has no such routes to speak
// of; nothing is temporarily down).
func (s *Server) signInConfigured() (*SignIn, error) {
	si := s.deps.SignIn
	if si == nil || si.Issuer == "" || si.ClientID == "" {
		return nil, gitpulse.Errorf(gitpulse.ENOTFOUND, "signing in with GitLab is not configured on this GitPulse; use an API key")
	}
	if len(si.SessionKey.Reveal()) < minSessionKey {
		return nil, gitpulse.Errorf(gitpulse.EUNAVAILABLE, "signing in with GitLab is not configured on this GitPulse: the session key is shorter than %d bytes", minSessionKey)
	}
	return si, nil
}

func (si *SignIn) client() *http.Client {
	if si.HTTPClient != nil {
		return si.HTTPClient
	}
	return http.DefaultClient
}

// oidcProvider reads the issuer's discovery document once; a failure is
// a 503 and is tried again on the next request.
func (si *SignIn) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	si.mu.Lock()
	defer si.mu.Unlock()
	if si.provider != nil {
		return si.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), si.client()), si.Issuer)
	if err != nil {
		return nil, &gitpulse.Error{Code: gitpulse.EUNAVAILABLE, Message: "GitLab's OpenID Connect discovery cannot be read; try again", Err: err}
	}
	si.provider = p
	return p, nil
}

func (si *SignIn) oauthConfig(p *oidc.Provider, r *http.Request) *oauth2.Config {
	redirect := si.RedirectURL
	if redirect == "" {
		scheme := "https"
		if !secureRequest(r) {
			scheme = "http"
		}
		redirect = scheme + "://" + r.Host + CallbackPath
	}
	return &oauth2.Config{
		ClientID: si.ClientID, ClientSecret: si.ClientSecret.Reveal(),
		Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID},
	}
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// login answers GET /api/v1/auth/login?next=...: a redirect to GitLab's
// authorize page, with the sign-in state in a signed, HttpOnly cookie that
// lasts 10 minutes.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	si, err := s.signInConfigured()
	if err != nil {
		return err
	}
	p, err := si.oidcProvider(r.Context())
	if err != nil {
		return err
	}
	st := loginState{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		Next: validNext(r.URL.Query().Get("next")), ExpiresAt: s.deps.Now().Add(loginLifetime).Unix()}
	value, err := signer{si.SessionKey}.seal("login", st)
	if err != nil {
		return err
	}
	setCookie(w, r, loginCookieName(secureRequest(r)), value, int(loginLifetime/time.Second), true)
	target := si.oauthConfig(p, r).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// restart is the message of every refused callback: the remedy.
const restart = "sign in again at " + LoginPath

// callback answers GET /api/v1/auth/callback?code&state: the state must be
// the cookie's, the code is exchanged with the client secret and the PKCE
// verifier, and the ID token must verify (issuer, audience, expiry,
// signature, nonce). Then the session cookie is set and the browser sent
// to the sign-in's next path.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) error {
	si, err := s.signInConfigured()
	if err != nil {
		return err
	}
	sg := signer{si.SessionKey}
	secure := secureRequest(r)
	var st loginState
	c, cerr := r.Cookie(loginCookieName(secure))
	if cerr != nil || !sg.open("login", c.Value, &st) || s.deps.Now().Unix() > st.ExpiresAt {
		return gitpulse.Errorf(gitpulse.EINVALID, "no sign-in under way in this browser, or it took longer than 10 minutes: %s", restart)
	}
	setCookie(w, r, loginCookieName(secure), "", -1, true) // one callback per sign-in
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		s.auditSignIn(r, "", http.StatusForbidden, "sign-in refused by GitLab: "+redact.Echo(e))
		return gitpulse.Errorf(gitpulse.EFORBIDDEN, "GitLab did not sign you in (%s): %s", redact.Echo(e), restart)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return gitpulse.Errorf(gitpulse.EINVALID, "the sign-in's state does not match this browser's: %s", restart)
	}
	if q.Get("code") == "" {
		return gitpulse.Errorf(gitpulse.EINVALID, "code: required (GitLab sends it): %s", restart)
	}
	p, err := si.oidcProvider(r.Context())
	if err != nil {
		return err
	}
	ctx := oidc.ClientContext(r.Context(), si.client())
	tok, err := si.oauthConfig(p, r).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		s.deps.Logger.WarnContext(r.Context(), "sign-in: GitLab refused the code", "error", redact.String(exchangeError(err)))
		s.auditSignIn(r, "", http.StatusUnauthorized, "sign-in refused: code not accepted")
		return gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "GitLab did not accept the sign-in code: %s", restart)
	}
	// The tokens are not registered with redact: GitPulse never logs,
	// stores or echoes them (the exchange error above keeps GitLab's code
	// and description only), and a warm function registering three values
	// per sign-in would push its configured secrets out of the bounded
	// registry after some eighty sign-ins.
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		s.auditSignIn(r, "", http.StatusUnauthorized, "sign-in refused: no ID token")
		return gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "GitLab answered without an ID token (is the openid scope granted to the application?): %s", restart)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: si.ClientID, Now: s.deps.Now}).Verify(r.Context(), raw)
	if err != nil {
		s.deps.Logger.WarnContext(r.Context(), "sign-in: ID token refused", "error", redact.String(err.Error()))
		s.auditSignIn(r, "", http.StatusUnauthorized, "sign-in refused: ID token does not verify")
		return gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "GitLab's ID token does not verify: %s", restart)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		s.auditSignIn(r, idt.Subject, http.StatusUnauthorized, "sign-in refused: nonce mismatch")
		return gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "GitLab's ID token is not this sign-in's (nonce): %s", restart)
	}
	var claims struct {
		Nickname          string `json:"nickname"`
		PreferredUsername string `json:"preferred_username"`
		Name              string `json:"name"`
	}
	_ = idt.Claims(&claims) // the claims verified; missing names stay empty
	now := s.deps.Now()
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = 2 * time.Hour // GitLab's access token lifetime
	}
	sess := Session{Subject: idt.Subject, Username: cmpOr(claims.PreferredUsername, claims.Nickname), Name: claims.Name,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(lifetime).Unix()}
	value, err := sg.seal("session", sess)
	if err != nil {
		return err
	}
	setCookie(w, r, SessionCookie, value, int(lifetime/time.Second), true)
	setCookie(w, r, CSRFCookie, sg.csrf(value), int(lifetime/time.Second), false)
	s.auditSignIn(r, idt.Subject, http.StatusFound, "signed in as @"+redact.Echo(sess.Username))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, st.Next, http.StatusFound)
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exchangeError is what a failed code exchange may log: GitLab's error
// code and description, never the request (which held the code).
func exchangeError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return "token endpoint answered " + strconv.Itoa(re.Response.StatusCode) + ": " + re.ErrorCode + " " + re.ErrorDescription
	}
	return "token endpoint not reachable"
}

// logout answers POST /api/v1/auth/logout: the session and CSRF cookies
// are cleared (the route needs the CSRF token, see serve).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	setCookie(w, r, SessionCookie, "", -1, true)
	setCookie(w, r, CSRFCookie, "", -1, false)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// subjectKey is the audit key of a GitLab user: the hash of
// "gitlab-user:" and the subject, so that sign-ins are found under one
// key without the item naming the user id in clear.
func subjectKey(sub string) string {
	return gitpulse.NewSecret("gitlab-user:" + sub).Hash()
}

// auditSignIn records a sign-in or a refusal; sub is empty when GitLab
// named nobody (then the entry is keyed by the hash of "gitlab-user:").
func (s *Server) auditSignIn(r *http.Request, sub string, status int, detail string) {
	si := s.deps.SignIn
	if si == nil || si.Audit == nil {
		return
	}
	e := audit.Entry{TokenHash: subjectKey(sub), Endpoint: r.URL.Path, Method: r.Method, ResponseStatus: status,
		UserAgent: redact.Cut(redact.String(r.UserAgent()), 256), Direction: audit.DirectionAPI, Detail: detail,
		Function: "api", Instance: redact.Echo(r.Host)}
	e.Stamp(s.deps.Now(), audit.DefaultRetention)
	si.Audit.Record(e)
}
