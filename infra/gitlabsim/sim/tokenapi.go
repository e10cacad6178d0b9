package sim

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scopes GitLab offers: non-admin ones, and the ones only administrators'
// tokens may have. Group and project tokens may have any non-admin scope
// but read_user.
var (
	nonAdminScopes = []string{
		scopeAPI, scopeReadAPI, scopeReadUser, "create_runner", "manage_runner", "k8s_proxy", scopeSelfRotate,
		"ai_features", "read_repository", "write_repository", "read_registry", "write_registry",
		"read_virtual_registry", "write_virtual_registry", "read_observability", "write_observability",
	}
	allScopes         = append(slices.Clone(nonAdminScopes), "sudo", "admin_mode", "read_service_ping")
	resourceBotScopes = slices.DeleteFunc(slices.Clone(nonAdminScopes), func(s string) bool { return s == scopeReadUser })
)

// Access of the token routes. Rotate routes run GitLab's reuse detection
// when a revoked token calls them.
var (
	writeAPI      = access{scopes: []string{scopeAPI}}
	rotateAPI     = access{scopes: []string{scopeAPI}, rotate: true}
	selfRotateAPI = access{scopes: []string{scopeAPI, scopeSelfRotate}, rotate: true}
)

// tokenRoutes registers the personal, group and project access token routes.
func (s *Sim) tokenRoutes(m *http.ServeMux) {
	m.Handle("GET /api/v4/personal_access_tokens", s.api(readAPI, s.listTokens))
	m.Handle("GET /api/v4/personal_access_tokens/self", s.api(anyScope, s.selfToken))
	m.Handle("DELETE /api/v4/personal_access_tokens/self", s.api(anyScope, s.revokeSelf))
	m.Handle("POST /api/v4/personal_access_tokens/self/rotate", s.api(selfRotateAPI, s.rotateSelf))
	m.Handle("GET /api/v4/personal_access_tokens/{id}", s.api(readAPI, s.getToken))
	m.Handle("DELETE /api/v4/personal_access_tokens/{id}", s.api(writeAPI, s.revokeTokenByID))
	m.Handle("POST /api/v4/personal_access_tokens/{id}/rotate", s.api(rotateAPI, s.rotateTokenByID))
	m.Handle("POST /api/v4/users/{user_id}/personal_access_tokens", s.api(writeAPI, s.createUserToken))
	for _, kind := range []TokenKind{KindGroup, KindProject} {
		rt := resourceTokens{s: s, kind: kind}
		base := fmt.Sprintf("/api/v4/%ss/{id}/access_tokens", kind)
		m.Handle("GET "+base, s.api(readAPI, rt.list))
		m.Handle("POST "+base, s.api(writeAPI, rt.create))
		m.Handle("GET "+base+"/{token_id}", s.api(readAPI, rt.get))
		m.Handle("DELETE "+base+"/{token_id}", s.api(writeAPI, rt.revoke))
		m.Handle("POST "+base+"/{token_id}/rotate", s.api(rotateAPI, rt.rotate))
		m.Handle("POST "+base+"/self/rotate", s.api(selfRotateAPI, rt.rotateSelf))
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
		ID:          t.ID,
		Name:        t.Name,
		Description: t.Description,
		Revoked:     revoked,
		Active:      !revoked && !t.expired(now),
		CreatedAt:   t.CreatedAt.UTC().Format(timeFormat),
		Scopes:      t.Scopes,
		UserID:      t.UserID,
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

// patWithValueJSON is a token as create and rotate answers show it.
type patWithValueJSON struct {
	patJSON
	Token string `json:"token"`
}

// answer runs op under s.mu at the clock's now and writes its outcome: the
// refusal if any, else status with op's body (none for 204).
func (s *Sim) answer(w http.ResponseWriter, status int, op func(now time.Time) (any, *apiError)) {
	s.mu.Lock()
	body, refused := op(s.now())
	s.mu.Unlock()
	switch {
	case refused != nil:
		refused.write(w)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, body)
	}
}

// liveLocked returns the stored user and token of an authenticated request;
// 401 if Reset removed them since.
func (s *Sim) liveLocked(c caller) (*userRecord, *tokenRecord, *apiError) {
	u, t := s.users[c.user.ID], s.tokens[c.token.ID]
	if u == nil || t == nil || t.Value != c.token.Value {
		return nil, nil, errUnauthorized
	}
	return u, t, nil
}

// patLocked finds a personal, group or project token (not an OAuth token)
// by the ID in a path; nil for none.
func (s *Sim) patLocked(ref string) *tokenRecord {
	id, err := strconv.Atoi(ref)
	if err != nil {
		return nil
	}
	if t := s.tokens[id]; t != nil && t.Kind != KindOAuth {
		return t
	}
	return nil
}

// sortedTokensLocked returns the stored tokens in ID order, oldest first.
func (s *Sim) sortedTokensLocked() []*tokenRecord {
	out := make([]*tokenRecord, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tokenRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// tokenFilter holds the list filters GitLab's token finders take.
type tokenFilter struct {
	state   string // "", "active" or "inactive"
	revoked *bool
	search  string // part of the name, any case
}

func readTokenFilter(p params, chk *validation) tokenFilter {
	var f tokenFilter
	if v, ok := p.boolean(chk, "revoked"); ok {
		f.revoked = &v
	}
	f.state, _ = p.oneOf(chk, "state", []string{"active", "inactive"})
	f.search, _ = p.str(chk, "search", false)
	return f
}

func (f tokenFilter) match(t *tokenRecord, now time.Time) bool {
	active := !t.revoked(now) && !t.expired(now)
	switch {
	case f.state == "active" && !active, f.state == "inactive" && active:
		return false
	case f.revoked != nil && *f.revoked != t.revoked(now):
		return false
	case f.search != "" && !strings.Contains(strings.ToLower(t.Name), strings.ToLower(f.search)):
		return false
	}
	return true
}

// selfToken answers GET /api/v4/personal_access_tokens/self. OAuth tokens
// get 400, as in GitLab. It shows the token as it was when the request was
// authenticated, so a revocation or expiry that falls due in between never
// shows as an inactive token in a 200.
func (s *Sim) selfToken(w http.ResponseWriter, _ *http.Request, c caller) {
	if c.token.Kind == KindOAuth {
		errNotPAT.write(w)
		return
	}
	writeJSON(w, http.StatusOK, newPATJSON(c.token, c.now))
}

// errNotPAT is the answer of the personal_access_tokens/self routes to OAuth
// tokens.
var errNotPAT = badRequest("This endpoint requires token type to be a personal access token")

// revokeSelf answers DELETE /api/v4/personal_access_tokens/self (any scope):
// 204, the token is revoked. OAuth tokens get 400.
func (s *Sim) revokeSelf(w http.ResponseWriter, _ *http.Request, c caller) {
	if c.token.Kind == KindOAuth {
		errNotPAT.write(w)
		return
	}
	s.answer(w, http.StatusNoContent, func(now time.Time) (any, *apiError) {
		_, t, refused := s.liveLocked(c)
		if refused != nil {
			return nil, refused
		}
		t.Revoked = true
		return nil, nil
	})
}

// rotateSelf answers POST /api/v4/personal_access_tokens/self/rotate (scope
// api or self_rotate): it rotates the calling token, which may be a group
// or project token too. OAuth tokens get 405, as GitLab's not_allowed!.
func (s *Sim) rotateSelf(w http.ResponseWriter, r *http.Request, c caller) {
	expiresAt, refused := rotateParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	s.answer(w, http.StatusOK, func(now time.Time) (any, *apiError) {
		if c.token.Kind == KindOAuth {
			return nil, errNotAllowed
		}
		_, t, refused := s.liveLocked(c)
		if refused != nil {
			return nil, refused
		}
		next, problem := s.rotateLocked(t, expiresAt, now)
		if problem != "" {
			return nil, badRequest(problem)
		}
		return patWithValueJSON{newPATJSON(s.copyLocked(next, now), now), next.Value}, nil
	})
}

// rotateParams reads the one parameter of the rotate routes.
func rotateParams(r *http.Request) (*time.Time, *apiError) {
	p, refused := readParams(r)
	if refused != nil {
		return nil, refused
	}
	var c validation
	expiresAt, _ := p.date(&c, "expires_at")
	return expiresAt, c.err()
}

// mayManagePAT reports whether u may read, rotate and revoke t by ID: its
// owner or an administrator.
func mayManagePAT(u *userRecord, t *tokenRecord) bool {
	return t != nil && (t.UserID == u.ID || u.Admin)
}

// hidden is GitLab's answer when a token is unknown or not the caller's:
// only administrators learn that it does not exist.
func hidden(u *userRecord) *apiError {
	if u.Admin {
		return errNotFound404
	}
	return errUnauthorized
}

// getToken answers GET /api/v4/personal_access_tokens/:id for the token's
// owner or an administrator; others get 401, administrators 404 for an
// unknown ID.
func (s *Sim) getToken(w http.ResponseWriter, r *http.Request, c caller) {
	s.answer(w, http.StatusOK, func(now time.Time) (any, *apiError) {
		u, _, refused := s.liveLocked(c)
		if refused != nil {
			return nil, refused
		}
		t := s.patLocked(r.PathValue("id"))
		if !mayManagePAT(u, t) {
			return nil, hidden(u)
		}
		return newPATJSON(s.copyLocked(t, now), now), nil
	})
}

// revokeTokenByID answers DELETE /api/v4/personal_access_tokens/:id: 204
// for the owner or an administrator (also for a token already revoked), 400
// "400 Bad request" for others, 404 "404 Not found" for an unknown ID.
func (s *Sim) revokeTokenByID(w http.ResponseWriter, r *http.Request, c caller) {
	s.answer(w, http.StatusNoContent, func(now time.Time) (any, *apiError) {
		u, _, refused := s.liveLocked(c)
		if refused != nil {
			return nil, refused
		}
		t := s.patLocked(r.PathValue("id"))
		switch {
		case t == nil:
			return nil, errRecordNotFound
		case !mayManagePAT(u, t):
			return nil, badRequest("")
		}
		t.Revoked = true
		return nil, nil
	})
}

// rotateTokenByID answers POST /api/v4/personal_access_tokens/:id/rotate for
// the token's owner or an administrator.
func (s *Sim) rotateTokenByID(w http.ResponseWriter, r *http.Request, c caller) {
	expiresAt, refused := rotateParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	s.answer(w, http.StatusOK, func(now time.Time) (any, *apiError) {
		u, _, refused := s.liveLocked(c)
		if refused != nil {
			return nil, refused
		}
		t := s.patLocked(r.PathValue("id"))
		if !mayManagePAT(u, t) {
			return nil, hidden(u)
		}
		next, problem := s.rotateLocked(t, expiresAt, now)
		if problem != "" {
			return nil, badRequest(problem)
		}
		return patWithValueJSON{newPATJSON(s.copyLocked(next, now), now), next.Value}, nil
	})
}

// listTokens answers GET /api/v4/personal_access_tokens, oldest first,
// filtered by state, revoked and search. Others than administrators see
// their own tokens and get 401 when user_id names someone else;
// administrators see everyone's, or user_id's (404 for an unknown user).
// OAuth tokens are never listed.
func (s *Sim) listTokens(w http.ResponseWriter, r *http.Request, c caller) {
	p, refused := readParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	// GitLab refuses a foreign user_id before it validates parameters, and
	// takes an empty one as none for users, as an unknown user for
	// administrators.
	rawUserID, _ := p.str(nil, "user_id", false)
	if rawUserID != "" && !c.user.Admin && rawUserID != strconv.Itoa(c.user.ID) {
		errUnauthorized.write(w)
		return
	}
	_, userIDGiven := p["user_id"]
	var ck validation
	var userID int
	byUser := userIDGiven
	if rawUserID != "" {
		userID, byUser = p.integer(&ck, "user_id", nil)
	}
	filter := readTokenFilter(p, &ck)
	if refused := ck.err(); refused != nil {
		refused.write(w)
		return
	}

	s.mu.Lock()
	now := s.now()
	var tokens []patJSON
	u, _, refused := s.liveLocked(c)
	switch {
	case refused != nil:
	case !u.Admin:
		userID, byUser = u.ID, true
	case byUser && s.users[userID] == nil: // also for an empty user_id
		refused = errNotFound404
	}
	if refused == nil {
		for _, t := range s.sortedTokensLocked() {
			if t.Kind != KindOAuth && (!byUser || t.UserID == userID) && filter.match(t, now) {
				tokens = append(tokens, newPATJSON(s.copyLocked(t, now), now))
			}
		}
	}
	s.mu.Unlock()
	if refused != nil {
		refused.write(w)
		return
	}
	writePage(w, r, tokens)
}

// createUserToken answers POST /api/v4/users/:user_id/personal_access_tokens:
// administrators only (403 for others), 201 with the token and its value.
// Without expires_at the token gets the maximum lifetime, as on an
// instance that requires expiry (the default). Problems with the token
// itself get 422 {"message":"..."}, as GitLab renders its model errors here.
func (s *Sim) createUserToken(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	u, _, refused := s.liveLocked(c)
	if refused == nil && !u.Admin {
		refused = errForbidden
	}
	s.mu.Unlock()
	if refused != nil {
		refused.write(w)
		return
	}
	p, refused := readParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	var ck validation
	userID, err := strconv.Atoi(r.PathValue("user_id"))
	if err != nil {
		ck.add("user_id is invalid")
	}
	name, _ := p.str(&ck, "name", true)
	description, _ := p.str(&ck, "description", false)
	expiresAt, _ := p.date(&ck, "expires_at")
	scopes, _ := p.list(&ck, "scopes", true, true, allScopes)
	if refused := ck.err(); refused != nil {
		refused.write(w)
		return
	}

	s.answer(w, http.StatusCreated, func(now time.Time) (any, *apiError) {
		if s.users[userID] == nil {
			return nil, notFound("User")
		}
		if expiresAt == nil {
			e := today(now).AddDate(0, 0, maxLifetimeDays)
			expiresAt = &e
		}
		if problems := tokenProblems(name, description, scopes, expiresAt, now); len(problems) > 0 {
			return nil, messageError(http.StatusUnprocessableEntity, toSentence(problems))
		}
		t := s.storeTokenLocked(Token{
			Kind: KindPersonal, UserID: userID, Name: name, Description: description, Scopes: scopes, ExpiresAt: expiresAt,
		}, now)
		return patWithValueJSON{newPATJSON(s.copyLocked(t, now), now), t.Value}, nil
	})
}
