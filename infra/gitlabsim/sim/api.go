package sim

import (
	"cmp"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
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
	// rotate marks the rotate routes: a revoked token calling one triggers
	// GitLab's reuse detection (see revokeFamilyLocked).
	rotate bool
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
	m.Handle("GET /api/v4/users/{id}", s.api(readUser, s.getUser))
	m.Handle("GET /api/v4/version", s.api(readUser, s.version))
	s.tokenRoutes(m)
	s.courseRoutes(m)
	s.hookRoutes(m)
	s.oauthRoutes(m)
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
//
// A revoked token calling a rotate route gets the usual revoked answer,
// and, as GitLab's automatic reuse detection, every active token rotated
// from it is revoked too. Faulted and throttled requests never get that
// far.
func (s *Sim) api(a access, h func(http.ResponseWriter, *http.Request, caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.front(w, r) {
			return
		}
		s.mu.Lock()
		now := s.now()
		t := s.lookupLocked(r)
		rate := s.throttleLocked(r, t, now)
		var refused *apiError
		var c caller
		if !a.public {
			refused = check(t, now, a.scopes)
			if refused == errRevoked && a.rotate && rate.observed <= rate.limit {
				s.revokeFamilyLocked(t, now)
			}
			if refused == nil && rate.observed <= rate.limit {
				used := now.UTC()
				t.LastUsedAt = &used
				s.usedOAuthLocked(t)
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
	key := countKey(r)
	s.mu.Lock()
	s.counts[key]++
	effect := s.fireFaultsLocked(r.URL.Path)
	s.mu.Unlock()
	return effect.apply(w, r)
}

// countKey is the request count key of a request: its route pattern in
// GitLab's notation, "POST /api/v4/groups/:id/access_tokens", or
// "METHOD /api/v4/*" for paths no route matches.
func countKey(r *http.Request) string {
	if !strings.Contains(r.Pattern, " ") { // The catch-all "/api/v4/" has no method.
		return r.Method + " " + r.Pattern + "*"
	}
	var b strings.Builder
	for rest := r.Pattern; rest != ""; {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		b.WriteString(":" + strings.TrimSuffix(rest[i+1:j], "..."))
		rest = rest[j+1:]
	}
	return b.String()
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
	// IsAdmin is shown to administrators only, as GitLab's UserWithAdmin
	// entity does.
	IsAdmin *bool `json:"is_admin,omitempty"`
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

// currentUser answers GET /api/v4/user; administrators see "is_admin".
func (s *Sim) currentUser(w http.ResponseWriter, r *http.Request, c caller) {
	u := newUserJSON(c.user, r)
	if c.user.Admin {
		u.IsAdmin = &c.user.Admin
	}
	writeJSON(w, http.StatusOK, u)
}

// version answers GET /api/v4/version.
func (s *Sim) version(w http.ResponseWriter, _ *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, map[string]string{"version": "17.9.0-ee", "revision": "abc1234"})
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

// userDetailJSON is a user as GET /users/:id shows it to a caller who is
// not an administrator: GitLab's Entities::User (lib/api/entities/user.rb:
// UserBasic plus created_at, bio, location, public_email, ... and bot).
// public_email is null for a user who shows none.
type userDetailJSON struct {
	userJSON
	Bio          string  `json:"bio"`
	Location     string  `json:"location"`
	PublicEmail  *string `json:"public_email"`
	WebsiteURL   string  `json:"website_url"`
	Organization string  `json:"organization"`
	JobTitle     string  `json:"job_title"`
}

// getUser answers GET /api/v4/users/:id (a numeric id): 404 "404 User Not
// Found" for an unknown one (lib/api/users.rb, get ":id").
func (s *Sim) getUser(w http.ResponseWriter, r *http.Request, _ caller) {
	id, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	u := s.users[id]
	var out userDetailJSON
	if u != nil {
		out = userDetailJSON{userJSON: newUserJSON(*u, r)}
		if u.PublicEmail != "" {
			e := u.PublicEmail
			out.PublicEmail = &e
		}
	}
	s.mu.Unlock()
	if err != nil || u == nil {
		notFound("User").write(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
