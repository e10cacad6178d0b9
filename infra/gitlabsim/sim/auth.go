package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Scope names used by the routes.
const (
	scopeAPI        = "api"
	scopeReadAPI    = "read_api"
	scopeReadUser   = "read_user"
	scopeSelfRotate = "self_rotate"
)

// oauthRealm is the realm GitLab's OAuth layer (Rack::OAuth2) names in its
// WWW-Authenticate challenges.
const oauthRealm = "Protected by OAuth 2.0"

// apiError is a refused request, written the way GitLab writes it: an
// authentication or scope failure (with its WWW-Authenticate challenge), or
// an error of a route (see errors.go).
type apiError struct {
	status    int
	body      any
	challenge string // WWW-Authenticate value; empty for none
}

// oauthError is the body GitLab sends for invalid or under-scoped tokens.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Scope       string `json:"scope,omitempty"`
}

var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized, body: messageBody{"401 Unauthorized"}}
	errExpired      = invalidToken("Token is expired. You can either do re-authorization or token refresh.")
	errRevoked      = invalidToken("Token was revoked. You have to re-authorize from the user.")
)

func invalidToken(description string) *apiError {
	return &apiError{
		status: http.StatusUnauthorized,
		body:   oauthError{Error: "invalid_token", Description: description},
		challenge: fmt.Sprintf(`Bearer realm=%q, error="invalid_token", error_description=%q`,
			oauthRealm, description),
	}
}

func insufficientScope(scopes []string) *apiError {
	const description = "The request requires higher privileges than provided by the access token."
	scope := strings.Join(scopes, " ")
	return &apiError{
		status: http.StatusForbidden,
		body:   oauthError{Error: "insufficient_scope", Description: description, Scope: scope},
		challenge: fmt.Sprintf(`Bearer realm=%q, error="insufficient_scope", error_description=%q, scope=%q`,
			oauthRealm, description, scope),
	}
}

func (e *apiError) write(w http.ResponseWriter) {
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	writeJSON(w, e.status, e.body)
}

// bearerValue returns the token sent as "Authorization: Bearer <token>" or
// as the access_token query parameter.
func bearerValue(r *http.Request) string {
	const prefix = "bearer "
	if a := r.Header.Get("Authorization"); len(a) > len(prefix) && strings.EqualFold(a[:len(prefix)], prefix) {
		return strings.TrimSpace(a[len(prefix):])
	}
	return r.URL.Query().Get("access_token")
}

// lookupLocked finds the token a request presents, as GitLab's auth finders
// do: an OAuth token only through bearerValue; any other token through the
// private_token parameter, the PRIVATE-TOKEN header (any case) or
// bearerValue, first present wins. It returns nil when the request presents
// no known token. The caller holds s.mu.
func (s *Sim) lookupLocked(r *http.Request) *tokenRecord {
	bearer := bearerValue(r)
	if t := s.byValue[bearer]; t != nil && t.Kind == KindOAuth {
		return t
	}
	v := r.URL.Query().Get("private_token")
	if v == "" {
		v = r.Header.Get("Private-Token")
	}
	if v == "" {
		v = bearer
	}
	if t := s.byValue[v]; t != nil && t.Kind != KindOAuth {
		return t
	}
	return nil
}

// usable reports whether t authenticates a request at now: it exists, is
// not revoked and has not expired.
func usable(t *tokenRecord, now time.Time) bool {
	return t != nil && !t.revoked(now) && !t.expired(now)
}

// check returns why t may not call a route, or nil if it may. The route
// accepts tokens holding one of scopes; nil scopes accept any token.
// Revocation is checked before expiry, as in GitLab.
func check(t *tokenRecord, now time.Time, scopes []string) *apiError {
	switch {
	case t == nil:
		return errUnauthorized
	case t.revoked(now):
		return errRevoked
	case t.expired(now):
		return errExpired
	case scopes != nil && !slices.ContainsFunc(t.Scopes, func(s string) bool { return slices.Contains(scopes, s) }):
		return insufficientScope(scopes)
	}
	return nil
}
