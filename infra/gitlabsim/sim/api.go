package sim

import (
	"cmp"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// timeFormat is how GitLab writes instants: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// messageBody is GitLab's usual error body.
type messageBody struct {
	Message string `json:"message"`
}

// errorBody is the error body of GitLab's router and parameter validation.
type errorBody struct {
	Error string `json:"error"`
}

// caller is the authenticated user and token of an API request, and the
// instant the request was authenticated at.
type caller struct {
	token Token
	user  userRecord
	now   time.Time
}

// access says which requests a route accepts.
type access struct {
	public bool     // no token needed
	scopes []string // scopes that grant access; nil accepts any scope
}

var (
	anyScope  = access{}
	readUser  = access{scopes: []string{scopeAPI, scopeReadAPI, scopeReadUser}}
	readAPI   = access{scopes: []string{scopeAPI, scopeReadAPI}}
	noAuthAPI = access{public: true}
)

func (s *Sim) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /api/v4/user", s.api(readUser, s.currentUser))
	m.Handle("GET /api/v4/users", s.api(readUser, s.listUsers))
	m.Handle("GET /api/v4/version", s.api(readUser, s.version))
	m.Handle("GET /api/v4/personal_access_tokens", s.api(readAPI, s.listTokens))
	m.Handle("GET /api/v4/personal_access_tokens/self", s.api(anyScope, s.selfToken))
	// GitLab's catch-all route answers 404 to every unknown path and method,
	// without asking for a token.
	m.Handle("/api/v4/", s.api(noAuthAPI, func(w http.ResponseWriter, _ *http.Request, _ caller) {
		writeJSON(w, http.StatusNotFound, errorBody{"404 Not Found"})
	}))
	m.HandleFunc("GET /oauth/token/info", s.tokenInfo)
	s.controlRoutes(m)
	return m
}

// api wraps a GitLab API handler in what GitLab does before it: count the
// request, apply faults, throttle, authenticate, check scopes, and record
// the token's use. Public routes skip the last three and get a zero caller.
func (s *Sim) api(a access, h func(http.ResponseWriter, *http.Request, caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.front(w, r) {
			return
		}
		s.mu.Lock()
		now := s.now()
		t := s.lookupLocked(r)
		rate := s.throttleLocked(r, t, now)
		var refused *authError
		var c caller
		if !a.public {
			refused = check(t, now, a.scopes)
			if refused == nil && rate.observed <= rate.limit {
				used := now.UTC()
				t.LastUsedAt = &used
				c = caller{token: t.clone(), user: *s.users[t.UserID], now: now}
			}
		}
		s.mu.Unlock()

		if !rate.write(w) {
			return
		}
		if refused != nil {
			refused.write(w)
			return
		}
		h(w, r, c)
	})
}

// front counts a request to a GitLab route and applies the faults that fire
// on it. It reports whether the request may go on.
func (s *Sim) front(w http.ResponseWriter, r *http.Request) bool {
	key := r.Pattern
	if !strings.Contains(key, " ") { // The catch-all "/api/v4/" has no method.
		key = r.Method + " " + key + "*"
	}
	s.mu.Lock()
	s.counts[key]++
	effect := s.fireFaultsLocked(r.URL.Path)
	s.mu.Unlock()
	return effect.apply(w, r)
}

// userJSON is a user as GET /user and GET /users show it.
type userJSON struct {
	ID        int    `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Locked    bool   `json:"locked"`
	Bot       bool   `json:"bot"`
	WebURL    string `json:"web_url"`
	CreatedAt string `json:"created_at"`
}

func newUserJSON(u userRecord, r *http.Request) userJSON {
	return userJSON{
		ID:        u.ID,
		Username:  u.Username,
		Name:      u.Name,
		State:     "active",
		Bot:       u.Bot,
		WebURL:    baseURL(r) + "/" + u.Username,
		CreatedAt: u.createdAt.UTC().Format(timeFormat),
	}
}

// patJSON is a personal, group or project access token as the
// personal_access_tokens routes show it, without its value.
type patJSON struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Revoked     bool     `json:"revoked"`
	Active      bool     `json:"active"`
	CreatedAt   string   `json:"created_at"`
	Scopes      []string `json:"scopes"`
	UserID      int      `json:"user_id"`
	LastUsedAt  *string  `json:"last_used_at"`
	ExpiresAt   *string  `json:"expires_at"`
}

func newPATJSON(t Token, now time.Time) patJSON {
	revoked := t.revoked(now)
	p := patJSON{
		ID:        t.ID,
		Name:      t.Name,
		Revoked:   revoked,
		Active:    !revoked && !t.expired(now),
		CreatedAt: t.CreatedAt.UTC().Format(timeFormat),
		Scopes:    t.Scopes,
		UserID:    t.UserID,
	}
	if t.LastUsedAt != nil {
		v := t.LastUsedAt.UTC().Format(timeFormat)
		p.LastUsedAt = &v
	}
	if t.ExpiresAt != nil {
		v := t.ExpiresAt.UTC().Format(time.DateOnly)
		p.ExpiresAt = &v
	}
	return p
}

// currentUser answers GET /api/v4/user.
func (s *Sim) currentUser(w http.ResponseWriter, r *http.Request, c caller) {
	writeJSON(w, http.StatusOK, newUserJSON(c.user, r))
}

// version answers GET /api/v4/version.
func (s *Sim) version(w http.ResponseWriter, _ *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, map[string]string{"version": "17.9.0-ee", "revision": "abc1234"})
}

// selfToken answers GET /api/v4/personal_access_tokens/self. OAuth tokens
// get 400, as in GitLab. It shows the token as it was when the request was
// authenticated, so a revocation or expiry that falls due in between never
// shows as an inactive token in a 200.
func (s *Sim) selfToken(w http.ResponseWriter, _ *http.Request, c caller) {
	if c.token.Kind == KindOAuth {
		writeJSON(w, http.StatusBadRequest,
			messageBody{"400 Bad request - This endpoint requires token type to be a personal access token"})
		return
	}
	writeJSON(w, http.StatusOK, newPATJSON(c.token, c.now))
}

// listUsers answers GET /api/v4/users, newest first as in GitLab, with the
// optional username filter (case-insensitive).
func (s *Sim) listUsers(w http.ResponseWriter, r *http.Request, _ caller) {
	username := r.URL.Query().Get("username")
	s.mu.Lock()
	var users []userJSON
	for _, u := range s.users {
		if username == "" || strings.EqualFold(u.Username, username) {
			users = append(users, newUserJSON(*u, r))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(users, func(a, b userJSON) int { return cmp.Compare(b.ID, a.ID) })
	writePage(w, r, users)
}

// listTokens answers GET /api/v4/personal_access_tokens with the caller's
// own non-OAuth tokens, oldest first.
func (s *Sim) listTokens(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	now := s.now()
	var tokens []patJSON
	for _, t := range s.tokens {
		if t.UserID == c.user.ID && t.Kind != KindOAuth {
			tokens = append(tokens, newPATJSON(t.clone(), now))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(tokens, func(a, b patJSON) int { return cmp.Compare(a.ID, b.ID) })
	writePage(w, r, tokens)
}

// tokenInfoJSON is Doorkeeper's token info, with the two fields GitLab adds
// for backward compatibility (scopes, expires_in_seconds).
type tokenInfoJSON struct {
	ResourceOwnerID  int      `json:"resource_owner_id"`
	Scope            []string `json:"scope"`
	ExpiresIn        int64    `json:"expires_in"`
	Application      appJSON  `json:"application"`
	CreatedAt        int64    `json:"created_at"`
	Scopes           []string `json:"scopes"`
	ExpiresInSeconds int64    `json:"expires_in_seconds"`
}

type appJSON struct {
	UID string `json:"uid"`
}

// tokenInfo answers GET /oauth/token/info for an OAuth token sent as a
// Bearer header or access_token parameter. Anything else gets Doorkeeper's
// 401 invalid_token answer.
func (s *Sim) tokenInfo(w http.ResponseWriter, r *http.Request) {
	if !s.front(w, r) {
		return
	}
	s.mu.Lock()
	now := s.now()
	t := s.byValue[bearerValue(r)]
	var info tokenInfoJSON
	reason := "The access token is invalid"
	switch {
	case t == nil || t.Kind != KindOAuth:
	case t.revoked(now):
		reason = "The access token was revoked"
	case t.expired(now):
		reason = "The access token expired"
	default:
		reason = ""
		left := int64(math.Round(t.ExpiresAt.Sub(now).Seconds()))
		info = tokenInfoJSON{
			ResourceOwnerID:  t.UserID,
			Scope:            slices.Clone(t.Scopes),
			ExpiresIn:        left,
			Application:      appJSON{UID: t.appUID},
			CreatedAt:        t.CreatedAt.Unix(),
			Scopes:           slices.Clone(t.Scopes),
			ExpiresInSeconds: left,
		}
	}
	s.mu.Unlock()
	if reason != "" {
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: reason})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// remoteIP is the client address without its port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
