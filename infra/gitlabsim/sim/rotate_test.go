package sim_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// rotateRoute is one of the six rotate routes.
type rotateRoute struct {
	name string
	kind sim.TokenKind
	self bool
	key  string // request count key
}

var rotateRoutes = []rotateRoute{
	{"personal self", sim.KindPersonal, true, "POST /api/v4/personal_access_tokens/self/rotate"},
	{"personal by id", sim.KindPersonal, false, "POST /api/v4/personal_access_tokens/:id/rotate"},
	{"group self", sim.KindGroup, true, "POST /api/v4/groups/:id/access_tokens/self/rotate"},
	{"group by id", sim.KindGroup, false, "POST /api/v4/groups/:id/access_tokens/:token_id/rotate"},
	{"project self", sim.KindProject, true, "POST /api/v4/projects/:id/access_tokens/self/rotate"},
	{"project by id", sim.KindProject, false, "POST /api/v4/projects/:id/access_tokens/:token_id/rotate"},
}

// target makes the token a test rotates: named "ci", described, with two
// scopes, expiring 2025-04-01; a group or project token has the Developer
// role.
func (w *world) target(t *testing.T, kind sim.TokenKind) sim.Token {
	t.Helper()
	exp := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	spec := sim.TokenSpec{Kind: kind, Name: "ci", Description: "for CI", Scopes: []string{"api", "read_repository"}, ExpiresAt: &exp}
	switch kind {
	case sim.KindGroup:
		spec.GroupID, spec.AccessLevel = w.group.ID, 30
	case sim.KindProject:
		spec.ProjectID, spec.AccessLevel = w.project.ID, 30
	default:
		spec.UserID = w.users["developer"].ID
	}
	return w.token(t, spec)
}

// rotate calls route with client-go to rotate old, authenticated with old
// itself (self routes) or with a token allowed to rotate it by ID: another
// api token of its owner, the group Owner's, the project Maintainer's.
func (w *world) rotate(t *testing.T, route rotateRoute, old sim.Token, expires *gitlab.ISOTime) (tokenView, error) {
	t.Helper()
	caller := old.Value
	if !route.self {
		switch route.kind {
		case sim.KindPersonal:
			caller = w.tokens["developer"].Value
		case sim.KindGroup:
			caller = w.tokens["owner"].Value
		default:
			caller = w.tokens["maintainer"].Value
		}
	}
	c := w.client(t, caller)
	var (
		p   *gitlab.PersonalAccessToken
		r   *gitlab.GroupAccessToken
		pr  *gitlab.ProjectAccessToken
		err error
	)
	id := int64(old.ID)
	switch route.name {
	case "personal self":
		p, _, err = c.PersonalAccessTokens.RotatePersonalAccessTokenSelf(&gitlab.RotatePersonalAccessTokenOptions{ExpiresAt: expires})
	case "personal by id":
		p, _, err = c.PersonalAccessTokens.RotatePersonalAccessTokenByID(id, &gitlab.RotatePersonalAccessTokenOptions{ExpiresAt: expires})
	case "group self":
		r, _, err = c.GroupAccessTokens.RotateGroupAccessTokenSelf(w.group.ID, &gitlab.RotateGroupAccessTokenOptions{ExpiresAt: expires})
	case "group by id":
		r, _, err = c.GroupAccessTokens.RotateGroupAccessToken(w.group.ID, id, &gitlab.RotateGroupAccessTokenOptions{ExpiresAt: expires})
	case "project self":
		pr, _, err = c.ProjectAccessTokens.RotateProjectAccessTokenSelf(w.project.ID, &gitlab.RotateProjectAccessTokenOptions{ExpiresAt: expires})
	case "project by id":
		pr, _, err = c.ProjectAccessTokens.RotateProjectAccessToken(w.project.ID, id, &gitlab.RotateProjectAccessTokenOptions{ExpiresAt: expires})
	}
	if err != nil {
		return tokenView{}, err
	}
	var v tokenView
	switch {
	case p != nil:
		v = viewOf(*p, 0)
	case r != nil:
		v = viewOf(r.PersonalAccessToken, int(r.AccessLevel))
	case pr != nil:
		v = viewOf(pr.PersonalAccessToken, int(pr.AccessLevel))
	}
	return v, nil
}

func viewOf(p gitlab.PersonalAccessToken, level int) tokenView {
	v := tokenView{
		ID: p.ID, Name: p.Name, Description: p.Description, Revoked: p.Revoked, Active: p.Active,
		Scopes: p.Scopes, UserID: p.UserID, AccessLevel: level, Token: p.Token,
	}
	if p.CreatedAt != nil {
		v.CreatedAt = p.CreatedAt.UTC().Format(time.RFC3339)
	}
	if p.ExpiresAt != nil {
		s := p.ExpiresAt.String()
		v.ExpiresAt = &s
	}
	return v
}

func TestRotation(t *testing.T) {
	for _, route := range rotateRoutes {
		for _, expires := range []string{"2025-05-01", ""} {
			wantExpiry := expires
			if expires == "" {
				wantExpiry = inAWeek
			}
			t.Run(fmt.Sprintf("%s, expires_at %q", route.name, expires), func(t *testing.T) {
				w := newWorld(t)
				old := w.target(t, route.kind)
				w.clock.Set(day0.Add(time.Hour))
				var opt *gitlab.ISOTime
				if expires != "" {
					opt = date(t, expires)
				}

				got, err := w.rotate(t, route, old, opt)
				if err != nil {
					t.Fatalf("rotate: %v", err)
				}
				if got.ID == int64(old.ID) || got.Token == "" || got.Token == old.Value || !strings.HasPrefix(got.Token, "glpat-") {
					t.Errorf("id, token: got %d %q, want a new id (old %d) and a new glpat- value", got.ID, got.Token, old.ID)
				}
				if got.Name != "ci" || got.Description != "for CI" || !slices.Equal(got.Scopes, []string{"api", "read_repository"}) || got.UserID != int64(old.UserID) {
					t.Errorf("name, description, scopes, user: got %q %q %v %d, want ci, for CI, [api read_repository], %d",
						got.Name, got.Description, got.Scopes, got.UserID, old.UserID)
				}
				if route.kind != sim.KindPersonal && got.AccessLevel != 30 {
					t.Errorf("access_level: got %d, want 30 (kept)", got.AccessLevel)
				}
				if got.expires() != wantExpiry || got.CreatedAt != "2025-03-10T13:00:00Z" || !got.Active || got.Revoked {
					t.Errorf("expires_at, created_at, active, revoked: got %s %s %t %t, want %s 2025-03-10T13:00:00Z true false",
						got.expires(), got.CreatedAt, got.Active, got.Revoked, wantExpiry)
				}

				w.wantStatus(t, "old token right after rotation", old.Value, "revoked")
				w.wantStatus(t, "new token", got.Token, "ok")
				w.wantCount(t, route.key, 1)

				// The Go API sees the chain.
				if err := w.sim.ExpireToken(int(got.ID)); err != nil {
					t.Fatal(err)
				}
				w.wantStatus(t, "new token after ExpireToken", got.Token, "expired")
			})
		}
	}
}

func TestRotatedTokenLinks(t *testing.T) {
	w := newWorld(t)
	old := w.target(t, sim.KindGroup)
	got, err := w.rotate(t, rotateRoutes[2], old, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		ID          int    `json:"id"`
		FamilyID    int    `json:"family_id"`
		PreviousID  int    `json:"previous_id"`
		GroupID     int    `json:"group_id"`
		AccessLevel int    `json:"access_level"`
		Description string `json:"description"`
	}
	// The control API's expire call answers with the stored token.
	w.call(t, "POST", "/-/sim/tokens/"+strconv.Itoa(int(got.ID))+"/expire", "", 200, &tok)
	if tok.FamilyID != old.ID || tok.PreviousID != old.ID || tok.GroupID != w.group.ID || tok.AccessLevel != 30 || tok.Description != "for CI" {
		t.Errorf("stored token: got %+v, want family and previous %d, group %d, access level 30, description for CI", tok, old.ID, w.group.ID)
	}
	if old.FamilyID != old.ID || old.PreviousID != 0 || old.AccessLevel != 30 {
		t.Errorf("AddToken result: got family %d previous %d level %d, want %d 0 30", old.FamilyID, old.PreviousID, old.AccessLevel, old.ID)
	}
}

func TestReuseDetection(t *testing.T) {
	for _, route := range rotateRoutes {
		t.Run(route.name, func(t *testing.T) {
			w := newWorld(t)
			a := w.target(t, route.kind)
			self := rotateRoutes[slices.IndexFunc(rotateRoutes, func(r rotateRoute) bool { return r.kind == route.kind && r.self })]
			b, err := w.rotate(t, self, a, nil)
			if err != nil {
				t.Fatal(err)
			}
			c, err := w.rotate(t, self, sim.Token{Value: b.Token, ID: int(b.ID)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.wantStatus(t, "c before reuse", c.Token, "ok")

			// A revoked token on another route changes nothing.
			w.wantStatus(t, "a on GET /user", a.Value, "revoked")
			w.apiCall(t, "GET", "/api/v4/personal_access_tokens/self", a.Value, "", 401, bodyRevoked)
			w.wantStatus(t, "c after a was used on other routes", c.Token, "ok")

			// The first token of the chain calls a rotate route: 401, and
			// the family's active token, two rotations later, is revoked.
			w.apiCall(t, "POST", rotatePath(w, route, a.ID), a.Value, "", 401, bodyRevoked)
			w.wantStatus(t, "c after reuse of a", c.Token, "revoked")
			w.wantStatus(t, "b", b.Token, "revoked")
			if _, err := w.rotate(t, self, sim.Token{Value: c.Token, ID: int(c.ID)}, nil); err == nil {
				t.Errorf("rotating c after the reuse: got no error, want 401")
			}
			// Other tokens of the same user or resource are no family.
			w.wantStatus(t, "the developer's own api token", w.tokens["developer"].Value, "ok")
		})
	}
}

// rotatePath is route's path for rotating the token id.
func rotatePath(w *world, route rotateRoute, id int) string {
	switch route.name {
	case "personal self":
		return "/api/v4/personal_access_tokens/self/rotate"
	case "personal by id":
		return fmt.Sprintf("/api/v4/personal_access_tokens/%d/rotate", id)
	case "group self":
		return fmt.Sprintf("/api/v4/groups/%d/access_tokens/self/rotate", w.group.ID)
	case "group by id":
		return fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", w.group.ID, id)
	case "project self":
		return fmt.Sprintf("/api/v4/projects/%d/access_tokens/self/rotate", w.project.ID)
	}
	return fmt.Sprintf("/api/v4/projects/%d/access_tokens/%d/rotate", w.project.ID, id)
}

func TestReuseDetectionNeedsARotatedToken(t *testing.T) {
	w := newWorld(t)
	a := w.target(t, sim.KindPersonal)
	other := w.token(t, sim.TokenSpec{UserID: a.UserID, Scopes: []string{"api"}})
	if err := w.sim.RevokeToken(a.ID); err != nil {
		t.Fatal(err)
	}
	// Revoked by hand, never rotated: the call fails and nothing else changes.
	w.apiCall(t, "POST", "/api/v4/personal_access_tokens/self/rotate", a.Value, "", 401, bodyRevoked)
	w.wantStatus(t, "another token of the same user", other.Value, "ok")
}

func TestReuseDetectionSkipsThrottledAndFaulted(t *testing.T) {
	w := newWorld(t)
	a := w.target(t, sim.KindPersonal)
	b, err := w.rotate(t, rotateRoutes[0], a, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/personal_access_tokens/self/rotate", Status: 502, Count: 1})
	w.apiCall(t, "POST", "/api/v4/personal_access_tokens/self/rotate", a.Value, "", 502, "")
	w.sim.SetRateLimit(1)
	w.get(t, "/api/v4/version") // uses up the IP's budget for this minute
	w.apiCall(t, "POST", "/api/v4/personal_access_tokens/self/rotate", a.Value, "", 429, "")
	w.sim.SetRateLimit(0)
	w.wantStatus(t, "b after a faulted and a throttled reuse", b.Token, "ok")
}

func TestRotateScopes(t *testing.T) {
	w := newWorld(t)
	const narrow = `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"%s"}`
	readOnly := w.token(t, sim.TokenSpec{UserID: w.users["developer"].ID, Scopes: []string{"read_api"}})
	selfOnly := w.token(t, sim.TokenSpec{UserID: w.users["developer"].ID, Scopes: []string{"self_rotate"}})
	groupSelfOnly := w.token(t, sim.TokenSpec{Kind: sim.KindGroup, GroupID: w.group.ID, Scopes: []string{"self_rotate"}})

	_, _, err := w.client(t, readOnly.Value).PersonalAccessTokens.RotatePersonalAccessTokenSelf(nil)
	wantFailure(t, "read_api token rotating itself", err, 403, fmt.Sprintf(narrow, "api self_rotate"))
	_, _, err = w.client(t, selfOnly.Value).PersonalAccessTokens.RotatePersonalAccessTokenByID(int64(selfOnly.ID), nil)
	wantFailure(t, "self_rotate token rotating by id", err, 403, fmt.Sprintf(narrow, "api"))
	w.wantStatus(t, "read_api token after the refusal", readOnly.Value, "ok")

	if _, _, err := w.client(t, selfOnly.Value).PersonalAccessTokens.RotatePersonalAccessTokenSelf(nil); err != nil {
		t.Errorf("self_rotate token rotating itself: %v", err)
	}
	if _, _, err := w.client(t, groupSelfOnly.Value).GroupAccessTokens.RotateGroupAccessTokenSelf(w.group.ID, nil); err != nil {
		t.Errorf("self_rotate group token rotating itself: %v", err)
	}
}

func TestRotateRefusals(t *testing.T) {
	w := newWorld(t)
	pat := w.target(t, sim.KindPersonal)
	grp := w.target(t, sim.KindGroup)
	prj := w.target(t, sim.KindProject)
	oauth := w.token(t, sim.TokenSpec{Kind: sim.KindOAuth, UserID: w.users["developer"].ID, Scopes: []string{"api"}})
	gid, pid := w.group.ID, w.project.ID
	dev, own, out, adm := w.tokens["developer"].Value, w.tokens["owner"].Value, w.tokens["outsider"].Value, w.tokens["admin"].Value
	maint := w.tokens["maintainer"].Value
	const tooLate = `{"message":"400 Bad request - Expiration date must be before ` + inAYear + `"}`
	tests := []struct {
		name, path, token, body string
		status                  int
		want                    string
	}{
		{"expiry past a year", "/api/v4/personal_access_tokens/self/rotate", pat.Value, `{"expires_at":"` + pastAYear + `"}`, 400, tooLate},
		{"expiry past a year, group", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), own, `{"expires_at":"` + pastAYear + `"}`, 400, tooLate},
		{"malformed expiry", "/api/v4/personal_access_tokens/self/rotate", pat.Value, `{"expires_at":"next week"}`, 400, `{"error":"expires_at is invalid"}`},
		{"OAuth token rotating itself", "/api/v4/personal_access_tokens/self/rotate", "Bearer " + oauth.Value, "", 405, `{"message":"405 Method Not Allowed"}`},
		{"someone else's token by id", fmt.Sprintf("/api/v4/personal_access_tokens/%d/rotate", pat.ID), own, "", 401, bodyUnauthorized},
		{"unknown token by id", "/api/v4/personal_access_tokens/999/rotate", dev, "", 401, bodyUnauthorized},
		{"unknown token by id, admin", "/api/v4/personal_access_tokens/999/rotate", adm, "", 404, `{"message":"404 Not Found"}`},
		{"developer rotating a group token", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), dev, "", 401, bodyUnauthorized},
		{"maintainer rotating a group token", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), maint, "", 401, bodyUnauthorized},
		{"developer rotating a project token", fmt.Sprintf("/api/v4/projects/%d/access_tokens/%d/rotate", pid, prj.ID), dev, "", 401, bodyUnauthorized},
		{"group token of another group", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, prj.ID), own, "", 401, bodyUnauthorized},
		{"admin, token of another group", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, prj.ID), adm, "", 404, `{"message":"404 Not Found"}`},
		{"outsider", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), out, "", 404, `{"message":"404 Group Not Found"}`},
		{"unknown project", "/api/v4/projects/999/access_tokens/self/rotate", prj.Value, "", 404, `{"message":"404 Project Not Found"}`},
		{"user token on group self rotate", fmt.Sprintf("/api/v4/groups/%d/access_tokens/self/rotate", gid), own, "", 405, `{"message":"405 Method Not Allowed"}`},
		{"project token on group self rotate", fmt.Sprintf("/api/v4/groups/%d/access_tokens/self/rotate", gid), prj.Value, "", 401, bodyUnauthorized},
		{"group token rotating itself by id", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), grp.Value, "", 401, bodyUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.apiCall(t, "POST", tt.path, tt.token, tt.body, tt.status, tt.want)
		})
	}
	for _, tok := range []sim.Token{pat, grp, prj} {
		w.wantStatus(t, fmt.Sprintf("%s token after the refusals", tok.Kind), tok.Value, "ok")
	}

	// The last day of the maximum lifetime is allowed.
	w.apiCall(t, "POST", "/api/v4/personal_access_tokens/self/rotate", pat.Value, `{"expires_at":"`+inAYear+`"}`, 200, "")
	// A token revoked already cannot be rotated by ID.
	w.apiCall(t, "POST", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), own, "", 200, "")
	w.apiCall(t, "POST", fmt.Sprintf("/api/v4/groups/%d/access_tokens/%d/rotate", gid, grp.ID), own, "", 400,
		`{"message":"400 Bad request - Token already revoked"}`)
}

func TestRotateNeedsTheTokensRole(t *testing.T) {
	w := newWorld(t)
	// A Maintainer may rotate a project token with the Maintainer role but
	// not one with the Owner role.
	owner := w.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: w.project.ID, AccessLevel: 50, Scopes: []string{"api"}})
	w.apiCall(t, "POST", fmt.Sprintf("/api/v4/projects/%d/access_tokens/%d/rotate", w.project.ID, owner.ID), w.tokens["maintainer"].Value, "", 400,
		`{"message":"400 Bad request - Not eligible to rotate tokens with permissions not held by the user"}`)
	w.wantStatus(t, "owner-level project token", owner.Value, "ok")
	// The group's Owner inherits the role on the project.
	w.apiCall(t, "POST", fmt.Sprintf("/api/v4/projects/%d/access_tokens/%d/rotate", w.project.ID, owner.ID), w.tokens["owner"].Value, "", 200, "")
}

func TestRotateParameterForms(t *testing.T) {
	for name, send := range map[string]func(w *world, tok string) (int, string){
		"query": func(w *world, tok string) (int, string) {
			resp, body := w.do(t, "POST", "/api/v4/personal_access_tokens/self/rotate?expires_at=2025-06-01", "", "PRIVATE-TOKEN", tok)
			return resp.StatusCode, body
		},
		"form": func(w *world, tok string) (int, string) {
			resp, body := w.do(t, "POST", "/api/v4/personal_access_tokens/self/rotate", "expires_at=2025-06-01",
				"PRIVATE-TOKEN", tok, "Content-Type", "application/x-www-form-urlencoded")
			return resp.StatusCode, body
		},
		"json": func(w *world, tok string) (int, string) {
			resp, body := w.do(t, "POST", "/api/v4/personal_access_tokens/self/rotate", `{"expires_at":"2025-06-01"}`,
				"PRIVATE-TOKEN", tok, "Content-Type", "application/json")
			return resp.StatusCode, body
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			status, body := send(w, w.tokens["developer"].Value)
			if v := decodeView(t, body); status != 200 || v.expires() != "2025-06-01" {
				t.Errorf("got %d %s, want 200 and expires_at 2025-06-01", status, body)
			}
		})
	}
}
