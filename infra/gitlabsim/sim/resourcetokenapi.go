// Group and project access tokens API (docs.gitlab.com/api/group_access_tokens,
// api/project_access_tokens): list, get, create, revoke, rotate and rotate self.

package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// resourceTokenJSON is a group or project access token as the access_tokens
// routes show it: with the bot's role and, as GitLab does since 17.x, the
// group or project it belongs to.
type resourceTokenJSON struct {
	patJSON
	AccessLevel  int    `json:"access_level"`
	ResourceType string `json:"resource_type"`
	ResourceID   int    `json:"resource_id"`
}

type resourceTokenWithValueJSON struct {
	resourceTokenJSON
	Token string `json:"token"`
}

// resourceTokens serves the access_tokens routes of groups (kind KindGroup)
// or projects (KindProject).
type resourceTokens struct {
	s    *Sim
	kind TokenKind
}

// findLocked finds the group or project a request's :id names (ID or full
// path) as u sees it: 404 "Group Not Found" or "Project Not Found" when it
// does not exist or u may not see it.
func (rt resourceTokens) findLocked(ref string, u *userRecord) (int, *apiError) {
	s := rt.s
	if rt.kind == KindGroup {
		if g := s.findGroupLocked(ref); g != nil && s.canSeeGroupLocked(g, u) {
			return g.ID, nil
		}
		return 0, notFound("Group")
	}
	if p := s.findProjectLocked(ref); p != nil && s.canSeeProjectLocked(p, u) {
		return p.ID, nil
	}
	return 0, notFound("Project")
}

// startLocked returns the live caller and the ID of the request's group or
// project.
func (rt resourceTokens) startLocked(r *http.Request, c caller) (*userRecord, *tokenRecord, int, *apiError) {
	u, t, refused := rt.s.liveLocked(c)
	if refused != nil {
		return nil, nil, 0, refused
	}
	id, refused := rt.findLocked(r.PathValue("id"), u)
	return u, t, id, refused
}

// levelLocked is u's role in the group or project id.
func (rt resourceTokens) levelLocked(id int, u *userRecord) int {
	if rt.kind == KindGroup {
		return rt.s.groupAccessLocked(id, u.ID)
	}
	return rt.s.projectAccessLocked(rt.s.projects[id], u.ID)
}

// canAdminLocked reports whether u may read and revoke the tokens of the
// group or project id: an Owner of the group, a Maintainer or Owner of the
// project, or an administrator. Creating and rotating by ID also need a
// user who is not a bot.
func (rt resourceTokens) canAdminLocked(id int, u *userRecord) bool {
	need := levelOwner
	if rt.kind == KindProject {
		need = levelMaintainer
	}
	return u.Admin || rt.levelLocked(id, u) >= need
}

// tokenLocked finds a token of the group or project id by the ID in a path:
// a token of a bot user that is a direct member there; nil for none.
func (rt resourceTokens) tokenLocked(id int, ref string) *tokenRecord {
	t := rt.s.patLocked(ref)
	if t == nil {
		return nil
	}
	if u := rt.s.users[t.UserID]; u == nil || !u.Bot {
		return nil
	}
	if _, member := rt.s.members[memberKey{string(rt.kind), id, t.UserID}]; !member {
		return nil
	}
	return t
}

// jsonLocked shows a token of the group or project id.
func (rt resourceTokens) jsonLocked(t *tokenRecord, id int, now time.Time) resourceTokenJSON {
	return resourceTokenJSON{
		patJSON:      newPATJSON(rt.s.copyLocked(t, now), now),
		AccessLevel:  rt.s.members[memberKey{string(rt.kind), id, t.UserID}],
		ResourceType: string(rt.kind),
		ResourceID:   id,
	}
}

// notFoundToken is the answer for a token that is not the group's or
// project's: "404 group Access Token Not Found", GitLab's lower-case kind
// included.
func (rt resourceTokens) notFoundToken() *apiError {
	return notFound(string(rt.kind) + " Access Token")
}

// list answers GET .../access_tokens: the tokens of the group's or project's
// bots, oldest first, filtered by state, revoked and search, paginated.
// Callers below Owner (group) or Maintainer (project) get 401, as in GitLab.
func (rt resourceTokens) list(w http.ResponseWriter, r *http.Request, c caller) {
	p, refused := readParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	var ck validation
	filter := readTokenFilter(p, &ck)
	if refused := ck.err(); refused != nil {
		refused.write(w)
		return
	}
	s := rt.s
	s.mu.Lock()
	now := s.now()
	var tokens []resourceTokenJSON
	u, _, id, refused := rt.startLocked(r, c)
	if refused == nil && !rt.canAdminLocked(id, u) {
		refused = errUnauthorized
	}
	if refused == nil {
		for _, t := range s.sortedTokensLocked() {
			if rt.tokenLocked(id, strconv.Itoa(t.ID)) != nil && filter.match(t, now) {
				tokens = append(tokens, rt.jsonLocked(t, id, now))
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

// get answers GET .../access_tokens/:token_id; 401 for callers below the
// role, 404 for a token not of this group or project.
func (rt resourceTokens) get(w http.ResponseWriter, r *http.Request, c caller) {
	rt.s.answer(w, http.StatusOK, func(now time.Time) (any, *apiError) {
		u, _, id, refused := rt.startLocked(r, c)
		switch {
		case refused != nil:
			return nil, refused
		case !rt.canAdminLocked(id, u):
			return nil, errUnauthorized
		}
		t := rt.tokenLocked(id, r.PathValue("token_id"))
		if t == nil {
			return nil, rt.notFoundToken()
		}
		return rt.jsonLocked(t, id, now), nil
	})
}

// revoke answers DELETE .../access_tokens/:token_id: 204 (also for a token
// already revoked); 404 for a token not of this group or project, then 400
// "<caller> cannot delete <bot>" for callers below the role. The bot user
// and the revoked token stay (GitLab deletes the bot later, in a job).
func (rt resourceTokens) revoke(w http.ResponseWriter, r *http.Request, c caller) {
	rt.s.answer(w, http.StatusNoContent, func(now time.Time) (any, *apiError) {
		u, _, id, refused := rt.startLocked(r, c)
		if refused != nil {
			return nil, refused
		}
		t := rt.tokenLocked(id, r.PathValue("token_id"))
		if t == nil {
			return nil, rt.notFoundToken()
		}
		if !rt.canAdminLocked(id, u) {
			return nil, badRequest(fmt.Sprintf("%s cannot delete %s", u.Name, rt.s.users[t.UserID].Name))
		}
		t.Revoked = true
		return nil, nil
	})
}

// create answers POST .../access_tokens (name, description, scopes,
// access_level, expires_at): 201 with the token and its value, for a new
// bot user group_<id>_bot_<hex> or project_<id>_bot_<hex> made a member
// with access_level (default 40). The caller must be a user, not a bot,
// with Owner (group) or Maintainer (project) role, and may not grant a
// role above their own; GitLab answers both refusals with 400. Without
// expires_at the token gets the maximum lifetime (365 days), as on an
// instance that requires expiry (the default). Not safe to repeat: every
// call makes another token.
func (rt resourceTokens) create(w http.ResponseWriter, r *http.Request, c caller) {
	p, refused := readParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	var ck validation
	name, _ := p.str(&ck, "name", true)
	description, _ := p.str(&ck, "description", false)
	scopes, _ := p.list(&ck, "scopes", true, false, resourceBotScopes)
	expiresAt, _ := p.date(&ck, "expires_at")
	level, ok := p.integer(&ck, "access_level", roles)
	if !ok {
		level = levelMaintainer
	}
	if refused := ck.err(); refused != nil {
		refused.write(w)
		return
	}

	rt.s.answer(w, http.StatusCreated, func(now time.Time) (any, *apiError) {
		u, _, id, refused := rt.startLocked(r, c)
		switch {
		case refused != nil:
			return nil, refused
		case u.Bot || !rt.canAdminLocked(id, u):
			return nil, badRequest(fmt.Sprintf("User does not have permission to create %s access token", rt.kind))
		case !u.Admin && rt.levelLocked(id, u) < level:
			return nil, badRequest("Access level of the token contains permissions not held by the creating user")
		}
		if expiresAt == nil {
			e := today(now).AddDate(0, 0, maxLifetimeDays)
			expiresAt = &e
		}
		if problems := tokenProblems(name, description, scopes, expiresAt, now); len(problems) > 0 {
			return nil, badRequest(toSentence(problems))
		}
		t := rt.s.addBotTokenLocked(rt.kind, id, name, level,
			Token{Name: name, Description: description, Scopes: scopes, ExpiresAt: expiresAt}, now)
		return resourceTokenWithValueJSON{rt.jsonLocked(t, id, now), t.Value}, nil
	})
}

// rotate answers POST .../access_tokens/:token_id/rotate. The caller must be
// a user, not a bot, with Owner (group) or Maintainer (project) role, else
// 401 (404 for administrators when the token is unknown), and must hold
// the token's role (400 otherwise).
func (rt resourceTokens) rotate(w http.ResponseWriter, r *http.Request, c caller) {
	expiresAt, refused := rotateParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	rt.s.answer(w, http.StatusOK, func(now time.Time) (any, *apiError) {
		u, _, id, refused := rt.startLocked(r, c)
		if refused != nil {
			return nil, refused
		}
		var t *tokenRecord
		if !u.Bot && rt.canAdminLocked(id, u) {
			t = rt.tokenLocked(id, r.PathValue("token_id"))
		}
		switch {
		case t == nil:
			return nil, hidden(u)
		case t.revoked(now):
			return nil, badRequest("Token already revoked")
		case !u.Admin && rt.levelLocked(id, u) < rt.s.members[memberKey{string(rt.kind), id, t.UserID}]:
			return nil, badRequest("Not eligible to rotate tokens with permissions not held by the user")
		}
		return rt.rotateLocked(t, id, expiresAt, now)
	})
}

// rotateSelf answers POST .../access_tokens/self/rotate (scope api or
// self_rotate): the calling group or project token rotates itself. Tokens
// of users (not bots) and OAuth tokens get 405; a bot token of another
// group or project 401.
func (rt resourceTokens) rotateSelf(w http.ResponseWriter, r *http.Request, c caller) {
	expiresAt, refused := rotateParams(r)
	if refused != nil {
		refused.write(w)
		return
	}
	rt.s.answer(w, http.StatusOK, func(now time.Time) (any, *apiError) {
		if c.token.Kind == KindOAuth || !c.user.Bot {
			return nil, errNotAllowed
		}
		_, self, id, refused := rt.startLocked(r, c)
		if refused != nil {
			return nil, refused
		}
		t := rt.tokenLocked(id, strconv.Itoa(self.ID))
		if t == nil {
			return nil, errUnauthorized
		}
		return rt.rotateLocked(t, id, expiresAt, now)
	})
}

func (rt resourceTokens) rotateLocked(t *tokenRecord, id int, expiresAt *time.Time, now time.Time) (any, *apiError) {
	next, problem := rt.s.rotateLocked(t, expiresAt, now)
	if problem != "" {
		return nil, badRequest(problem)
	}
	return resourceTokenWithValueJSON{rt.jsonLocked(next, id, now), next.Value}, nil
}
