package sim_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// resourceAPI drives the group or project access token routes through
// client-go, so both kinds run through one test.
type resourceAPI struct {
	kind sim.TokenKind
	id   any // ID or full path
	c    *gitlab.Client
}

func (a resourceAPI) create(opt gitlab.CreateGroupAccessTokenOptions) (*gitlab.PersonalAccessToken, int, error) {
	if a.kind == sim.KindGroup {
		t, _, err := a.c.GroupAccessTokens.CreateGroupAccessToken(a.id, &opt)
		if err != nil {
			return nil, 0, err
		}
		return &t.PersonalAccessToken, int(t.AccessLevel), nil
	}
	t, _, err := a.c.ProjectAccessTokens.CreateProjectAccessToken(a.id, &gitlab.CreateProjectAccessTokenOptions{
		Name: opt.Name, Description: opt.Description, Scopes: opt.Scopes, AccessLevel: opt.AccessLevel, ExpiresAt: opt.ExpiresAt,
	})
	if err != nil {
		return nil, 0, err
	}
	return &t.PersonalAccessToken, int(t.AccessLevel), nil
}

func (a resourceAPI) list(state string) ([]*gitlab.PersonalAccessToken, *gitlab.Response, error) {
	var st *string
	if state != "" {
		st = &state
	}
	var out []*gitlab.PersonalAccessToken
	if a.kind == sim.KindGroup {
		var s *gitlab.AccessTokenState
		if st != nil {
			v := gitlab.AccessTokenState(state)
			s = &v
		}
		ts, resp, err := a.c.GroupAccessTokens.ListGroupAccessTokens(a.id, &gitlab.ListGroupAccessTokensOptions{State: s})
		for _, t := range ts {
			out = append(out, &t.PersonalAccessToken)
		}
		return out, resp, err
	}
	ts, resp, err := a.c.ProjectAccessTokens.ListProjectAccessTokens(a.id, &gitlab.ListProjectAccessTokensOptions{State: st})
	for _, t := range ts {
		out = append(out, &t.PersonalAccessToken)
	}
	return out, resp, err
}

func (a resourceAPI) get(id int64) (*gitlab.PersonalAccessToken, int, error) {
	if a.kind == sim.KindGroup {
		t, _, err := a.c.GroupAccessTokens.GetGroupAccessToken(a.id, id)
		if err != nil {
			return nil, 0, err
		}
		return &t.PersonalAccessToken, int(t.AccessLevel), nil
	}
	t, _, err := a.c.ProjectAccessTokens.GetProjectAccessToken(a.id, id)
	if err != nil {
		return nil, 0, err
	}
	return &t.PersonalAccessToken, int(t.AccessLevel), nil
}

func (a resourceAPI) revoke(id int64) error {
	if a.kind == sim.KindGroup {
		_, err := a.c.GroupAccessTokens.RevokeGroupAccessToken(a.id, id)
		return err
	}
	_, err := a.c.ProjectAccessTokens.RevokeProjectAccessToken(a.id, id)
	return err
}

func TestResourceTokenRoundTrip(t *testing.T) {
	for _, kind := range []sim.TokenKind{sim.KindGroup, sim.KindProject} {
		t.Run(string(kind), func(t *testing.T) {
			w := newWorld(t)
			id, path, role := w.group.ID, "course", "owner"
			if kind == sim.KindProject {
				id, path, role = w.project.ID, "course/team-1", "maintainer"
			}
			a := resourceAPI{kind: kind, id: id, c: w.as(t, role)}
			name, desc, level := "sync", "GitPulse sync", gitlab.AccessLevelValue(20)
			scopes := []string{"read_api", "read_repository"}

			created, gotLevel, err := a.create(gitlab.CreateGroupAccessTokenOptions{
				Name: &name, Description: &desc, Scopes: &scopes, AccessLevel: &level, ExpiresAt: date(t, "2025-06-30"),
			})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.Name != name || created.Description != desc || !slices.Equal(created.Scopes, scopes) || gotLevel != 20 ||
				created.ExpiresAt.String() != "2025-06-30" || created.Token == "" || !created.Active || created.Revoked {
				t.Errorf("created: got %+v level %d, want name sync, description, scopes, level 20, expiry 2025-06-30, a value, active", created, gotLevel)
			}
			bot, _, err := w.client(t, created.Token).Users.CurrentUser()
			if err != nil {
				t.Fatalf("new token on GET /user: %v", err)
			}
			if want := regexp.MustCompile(fmt.Sprintf(`^%s_%d_bot_[0-9a-f]+$`, kind, id)); !bot.Bot || !want.MatchString(bot.Username) || bot.ID != created.UserID || bot.Name != name {
				t.Errorf("bot user: got %+v, want a bot %s named %s with id %d", bot, want, name, created.UserID)
			}
			w.wantCount(t, fmt.Sprintf("POST /api/v4/%ss/:id/access_tokens", kind), 1)

			// Lists and reads by ID or path.
			other := w.token(t, sim.TokenSpec{Kind: kind, GroupID: w.group.ID, ProjectID: w.project.ID, Name: "other", Scopes: []string{"api"}})
			for _, ref := range []any{id, path} {
				a.id = ref
				all, resp, err := a.list("")
				if err != nil {
					t.Fatalf("list %v: %v", ref, err)
				}
				if len(all) != 2 || all[0].ID != created.ID || all[1].ID != int64(other.ID) || all[0].Token != "" || resp.Header.Get("X-Total") != "2" {
					t.Errorf("list %v: got %d tokens %+v (X-Total %q), want tokens %d and %d, oldest first, without values",
						ref, len(all), all, resp.Header.Get("X-Total"), created.ID, other.ID)
				}
				got, gotLevel, err := a.get(created.ID)
				if err != nil || got.Description != desc || gotLevel != 20 || got.Token != "" {
					t.Errorf("get %v: got %+v level %d (%v), want the token with description and level 20, no value", ref, got, gotLevel, err)
				}
			}

			if err := a.revoke(created.ID); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			w.wantStatus(t, "revoked token", created.Token, "revoked")
			got, _, err := a.get(created.ID)
			if err != nil || !got.Revoked || got.Active {
				t.Errorf("get after revoke: got %+v (%v), want revoked and inactive", got, err)
			}
			if err := a.revoke(created.ID); err != nil {
				t.Errorf("revoking again: got %v, want 204", err)
			}
			active, _, _ := a.list("active")
			inactive, _, _ := a.list("inactive")
			if len(active) != 1 || active[0].ID != int64(other.ID) || len(inactive) != 1 || inactive[0].ID != created.ID {
				t.Errorf("state filters: got active %v inactive %v, want [%d] and [%d]", active, inactive, other.ID, created.ID)
			}
			w.wantCount(t, fmt.Sprintf("DELETE /api/v4/%ss/:id/access_tokens/:token_id", kind), 2)
			w.wantCount(t, fmt.Sprintf("GET /api/v4/%ss/:id/access_tokens/:token_id", kind), 3)
			w.wantCount(t, fmt.Sprintf("GET /api/v4/%ss/:id/access_tokens", kind), 4)

			// Tokens of other groups or projects are not found here.
			if err := a.revoke(999); !errors.Is(err, gitlab.ErrNotFound) {
				t.Errorf("revoke unknown token: got %v, want 404", err)
			}
			alien := w.token(t, sim.TokenSpec{Kind: kind, GroupID: 77, ProjectID: 77, Scopes: []string{"api"}})
			want := fmt.Sprintf(`{"message":"404 %s Access Token Not Found"}`, kind)
			w.apiCall(t, "DELETE", fmt.Sprintf("/api/v4/%ss/%d/access_tokens/%d", kind, id, alien.ID), w.tokens[role].Value, "", 404, want)
			w.apiCall(t, "GET", fmt.Sprintf("/api/v4/%ss/%d/access_tokens/%d", kind, id, w.tokens[role].ID), w.tokens[role].Value, "", 404, want)
			w.wantStatus(t, "token of another "+string(kind), alien.Value, "ok")
		})
	}
}

func TestResourceTokenCreateDefaults(t *testing.T) {
	w := newWorld(t)
	body := w.apiCall(t, "POST", fmt.Sprintf("/api/v4/groups/%d/access_tokens", w.group.ID), w.tokens["owner"].Value,
		`{"name":"ci","scopes":["api"]}`, 201, "")
	v := decodeView(t, body)
	if v.expires() != inAYear || v.AccessLevel != 40 || v.Description != "" {
		t.Errorf("defaults: got expiry %s level %d description %q, want %s, 40, empty", v.expires(), v.AccessLevel, v.Description, inAYear)
	}
	// Form parameters, as curl --data sends them.
	resp, body := w.do(t, "POST", fmt.Sprintf("/api/v4/projects/%d/access_tokens", w.project.ID),
		"name=form&scopes[]=read_api&scopes[]=read_repository&access_level=30&expires_at=2025-04-01",
		"PRIVATE-TOKEN", w.tokens["maintainer"].Value, "Content-Type", "application/x-www-form-urlencoded")
	v = decodeView(t, body)
	if resp.StatusCode != 201 || v.Name != "form" || !slices.Equal(v.Scopes, []string{"read_api", "read_repository"}) || v.AccessLevel != 30 || v.expires() != "2025-04-01" {
		t.Errorf("form create: got %d %s, want 201, name form, two scopes, level 30, expiry 2025-04-01", resp.StatusCode, body)
	}
}

func TestResourceTokenRefusals(t *testing.T) {
	w := newWorld(t)
	groupToken := w.token(t, sim.TokenSpec{Kind: sim.KindGroup, GroupID: w.group.ID, AccessLevel: 50, Scopes: []string{"api"}})
	gid, pid := w.group.ID, w.project.ID
	groups := fmt.Sprintf("/api/v4/groups/%d/access_tokens", gid)
	projects := fmt.Sprintf("/api/v4/projects/%d/access_tokens", pid)
	const ok = `{"name":"t","scopes":["api"]}`
	tests := []struct {
		name, method, path, role, body string
		status                         int
		want                           string
	}{
		{"developer creates group token", "POST", groups, "developer", ok, 400, `{"message":"400 Bad request - User does not have permission to create group access token"}`},
		{"maintainer creates group token", "POST", groups, "maintainer", ok, 400, `{"message":"400 Bad request - User does not have permission to create group access token"}`},
		{"developer creates project token", "POST", projects, "developer", ok, 400, `{"message":"400 Bad request - User does not have permission to create project access token"}`},
		{"maintainer grants Owner", "POST", projects, "maintainer", `{"name":"t","scopes":["api"],"access_level":50}`, 400,
			`{"message":"400 Bad request - Access level of the token contains permissions not held by the creating user"}`},
		{"group bot creates", "POST", groups, "groupbot", ok, 400, `{"message":"400 Bad request - User does not have permission to create group access token"}`},
		{"outsider", "POST", groups, "outsider", ok, 404, `{"message":"404 Group Not Found"}`},
		{"unknown group", "POST", "/api/v4/groups/999/access_tokens", "admin", ok, 404, `{"message":"404 Group Not Found"}`},
		{"unknown project", "GET", "/api/v4/projects/999/access_tokens", "admin", "", 404, `{"message":"404 Project Not Found"}`},
		{"unknown group path", "GET", "/api/v4/groups/nope%2Fnothing/access_tokens", "admin", "", 404, `{"message":"404 Group Not Found"}`},
		{"missing name and scopes", "POST", groups, "owner", `{"description":"x"}`, 400, `{"error":"name is missing, scopes is missing"}`},
		{"read_user scope", "POST", groups, "owner", `{"name":"t","scopes":["read_user"]}`, 400, `{"error":"scopes does not have a valid value"}`},
		{"bad access level", "POST", groups, "owner", `{"name":"t","scopes":["api"],"access_level":45}`, 400, `{"error":"access_level does not have a valid value"}`},
		{"expiry past a year", "POST", groups, "owner", `{"name":"t","scopes":["api"],"expires_at":"` + pastAYear + `"}`, 400,
			`{"message":"400 Bad request - Expiration date must be before ` + inAYear + `"}`},
		{"blank name", "POST", groups, "owner", `{"name":"","scopes":[]}`, 400, `{"message":"400 Bad request - Name can't be blank and Scopes can't be blank"}`},
		{"not JSON", "POST", groups, "owner", `{"name":`, 400, `{"error":"message body does not match declared format"}`},
		{"developer lists", "GET", groups, "developer", "", 401, bodyUnauthorized},
		{"developer lists project", "GET", projects, "developer", "", 401, bodyUnauthorized},
		{"developer reads", "GET", fmt.Sprintf("%s/%d", groups, groupToken.ID), "developer", "", 401, bodyUnauthorized},
		{"developer revokes", "DELETE", fmt.Sprintf("%s/%d", groups, groupToken.ID), "developer", "", 400,
			`{"message":"400 Bad request - Developer cannot delete group ` + fmt.Sprint(gid) + ` bot"}`},
		{"bad state filter", "GET", groups + "?state=gone", "owner", "", 400, `{"error":"state does not have a valid value"}`},
		{"read_api token creates", "POST", groups, "readonly", ok, 403,
			`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}`},
	}
	readonly := w.token(t, sim.TokenSpec{UserID: w.users["owner"].ID, Scopes: []string{"read_api"}})
	tokens := map[string]string{"groupbot": groupToken.Value, "readonly": readonly.Value}
	for role, tok := range w.tokens {
		tokens[role] = tok.Value
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.apiCall(t, tt.method, tt.path, tokens[tt.role], tt.body, tt.status, tt.want)
		})
	}
	w.wantStatus(t, "group token after the refusals", groupToken.Value, "ok")

	// A group bot with the Owner role may read and revoke, as GitLab allows.
	w.apiCall(t, "GET", groups, groupToken.Value, "", 200, "")
	// The group's Owner manages the project's tokens.
	w.apiCall(t, "POST", projects, w.tokens["owner"].Value, `{"name":"t","scopes":["api"],"access_level":50}`, 201, "")
	// The admin may do anything, here without being a member.
	w.apiCall(t, "POST", groups, w.tokens["admin"].Value, `{"name":"t","scopes":["api"],"access_level":50}`, 201, "")
}

func TestUserTokens(t *testing.T) {
	w := newWorld(t)
	student := w.users["outsider"]
	name, desc, scopes := "gitpulse", "rotated by GitPulse", []string{"read_api", "read_repository"}
	opt := &gitlab.CreatePersonalAccessTokenOptions{Name: &name, Description: &desc, Scopes: &scopes, ExpiresAt: date(t, "2025-05-01")}

	_, _, err := w.as(t, "owner").Users.CreatePersonalAccessToken(int64(student.ID), opt)
	wantFailure(t, "non-admin creates", err, 403, `{"message":"403 Forbidden"}`)
	pat, _, err := w.as(t, "admin").Users.CreatePersonalAccessToken(int64(student.ID), opt)
	if err != nil {
		t.Fatalf("admin creates: %v", err)
	}
	if pat.Name != name || pat.Description != desc || !slices.Equal(pat.Scopes, scopes) || pat.UserID != int64(student.ID) ||
		pat.ExpiresAt.String() != "2025-05-01" || pat.Token == "" {
		t.Errorf("created: got %+v, want name, description, scopes, user %d, expiry 2025-05-01 and a value", pat, student.ID)
	}
	w.wantStatus(t, "created token", pat.Token, "ok")
	w.wantCount(t, "POST /api/v4/users/:user_id/personal_access_tokens", 2)

	if _, _, err := w.as(t, "admin").Users.CreatePersonalAccessToken(999, opt); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("unknown user: got %v, want 404", err)
	}
	w.apiCall(t, "POST", "/api/v4/users/999/personal_access_tokens", w.tokens["admin"].Value, `{"name":"x","scopes":["api"]}`, 404, `{"message":"404 User Not Found"}`)
	body := w.apiCall(t, "POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", student.ID), w.tokens["admin"].Value, `{"name":"x","scopes":"api,read_user"}`, 201, "")
	if v := decodeView(t, body); v.expires() != inAYear || !slices.Equal(v.Scopes, []string{"api", "read_user"}) {
		t.Errorf("defaults: got expiry %s scopes %v, want %s [api read_user]", v.expires(), v.Scopes, inAYear)
	}
	w.apiCall(t, "POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", student.ID), w.tokens["admin"].Value,
		`{"name":"x","scopes":["api"],"expires_at":"`+pastAYear+`"}`, 422, `{"message":"Expiration date must be before `+inAYear+`"}`)
	w.apiCall(t, "POST", fmt.Sprintf("/api/v4/users/%d/personal_access_tokens", student.ID), w.tokens["admin"].Value,
		`{"name":"x","scopes":["everything"]}`, 400, `{"error":"scopes does not have a valid value"}`)
}

func TestPersonalTokensByID(t *testing.T) {
	w := newWorld(t)
	dev := w.users["developer"]
	mine := w.token(t, sim.TokenSpec{UserID: dev.ID, Name: "mine", Description: "d", Scopes: []string{"read_api"}})
	devClient, adminClient, ownerClient := w.as(t, "developer"), w.as(t, "admin"), w.as(t, "owner")

	got, _, err := devClient.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(int64(mine.ID))
	if err != nil || got.Name != "mine" || got.Description != "d" || got.Token != "" {
		t.Errorf("owner reads: got %+v (%v), want mine, description d, no value", got, err)
	}
	if _, _, err := adminClient.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(int64(mine.ID)); err != nil {
		t.Errorf("admin reads: %v", err)
	}
	_, _, err = ownerClient.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(int64(mine.ID))
	wantFailure(t, "another user reads", err, 401, bodyUnauthorized)
	_, _, err = ownerClient.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(999)
	wantFailure(t, "a user reads an unknown token", err, 401, bodyUnauthorized)
	if _, _, err := adminClient.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(999); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("admin reads an unknown token: got %v, want 404", err)
	}

	_, err = ownerClient.PersonalAccessTokens.RevokePersonalAccessTokenByID(int64(mine.ID))
	wantFailure(t, "another user revokes", err, 400, `{"message":"400 Bad request"}`)
	w.apiCall(t, "DELETE", "/api/v4/personal_access_tokens/999", w.tokens["developer"].Value, "", 404, `{"message":"404 Not found"}`)
	w.wantStatus(t, "token after refused revocations", mine.Value, "ok")
	if _, err := devClient.PersonalAccessTokens.RevokePersonalAccessTokenByID(int64(mine.ID)); err != nil {
		t.Errorf("owner revokes: %v", err)
	}
	w.wantStatus(t, "revoked token", mine.Value, "revoked")
	w.wantCount(t, "DELETE /api/v4/personal_access_tokens/:id", 3)
	w.wantCount(t, "GET /api/v4/personal_access_tokens/:id", 5)

	// Self revocation works with any scope; OAuth tokens get 400.
	narrow := w.token(t, sim.TokenSpec{UserID: dev.ID, Scopes: []string{"read_repository"}})
	if _, err := w.client(t, narrow.Value).PersonalAccessTokens.RevokePersonalAccessTokenSelf(); err != nil {
		t.Errorf("revoke self: %v", err)
	}
	w.wantStatus(t, "token revoked by itself", narrow.Value, "revoked")
	w.wantCount(t, "DELETE /api/v4/personal_access_tokens/self", 1)
	oauth := w.token(t, sim.TokenSpec{Kind: sim.KindOAuth, UserID: dev.ID, Scopes: []string{"api"}})
	w.apiCall(t, "DELETE", "/api/v4/personal_access_tokens/self", "Bearer "+oauth.Value, "", 400,
		`{"message":"400 Bad request - This endpoint requires token type to be a personal access token"}`)
}

func TestListPersonalTokens(t *testing.T) {
	w := newWorld(t)
	dev := w.users["developer"]
	revoked := w.token(t, sim.TokenSpec{UserID: dev.ID, Name: "old", Scopes: []string{"api"}})
	if err := w.sim.RevokeToken(revoked.ID); err != nil {
		t.Fatal(err)
	}
	ids := func(ts []*gitlab.PersonalAccessToken) []int64 {
		var out []int64
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	active, inactive := "active", "inactive"
	devID := int64(dev.ID)

	all, _, err := w.as(t, "admin").PersonalAccessTokens.ListPersonalAccessTokens(&gitlab.ListPersonalAccessTokensOptions{ListOptions: gitlab.ListOptions{PerPage: 100}})
	if err != nil || len(all) != 6 {
		t.Errorf("admin lists all: got %v (%v), want the 6 tokens", ids(all), err)
	}
	got, _, err := w.as(t, "admin").PersonalAccessTokens.ListPersonalAccessTokens(&gitlab.ListPersonalAccessTokensOptions{UserID: &devID, State: &active})
	if want := []int64{int64(w.tokens["developer"].ID)}; err != nil || !slices.Equal(ids(got), want) {
		t.Errorf("admin lists the developer's active tokens: got %v (%v), want %v", ids(got), err, want)
	}
	got, _, err = w.as(t, "developer").PersonalAccessTokens.ListPersonalAccessTokens(&gitlab.ListPersonalAccessTokensOptions{UserID: &devID, State: &inactive})
	if want := []int64{int64(revoked.ID)}; err != nil || !slices.Equal(ids(got), want) {
		t.Errorf("developer lists own inactive tokens: got %v (%v), want %v", ids(got), err, want)
	}
	_, _, err = w.as(t, "owner").PersonalAccessTokens.ListPersonalAccessTokens(&gitlab.ListPersonalAccessTokensOptions{UserID: &devID})
	wantFailure(t, "a user lists another's tokens", err, 401, bodyUnauthorized)
	w.apiCall(t, "GET", "/api/v4/personal_access_tokens?user_id=999", w.tokens["admin"].Value, "", 404, `{"message":"404 Not Found"}`)
	w.apiCall(t, "GET", "/api/v4/personal_access_tokens?user_id=", w.tokens["admin"].Value, "", 404, `{"message":"404 Not Found"}`)
	w.apiCall(t, "GET", "/api/v4/personal_access_tokens?user_id=", w.tokens["developer"].Value, "", 200, "")
	w.apiCall(t, "GET", "/api/v4/personal_access_tokens?user_id=x", w.tokens["admin"].Value, "", 400, `{"error":"user_id is invalid"}`)
	w.apiCall(t, "GET", "/api/v4/personal_access_tokens?state=sleeping", w.tokens["developer"].Value, "", 400, `{"error":"state does not have a valid value"}`)
	body := w.apiCall(t, "GET", "/api/v4/personal_access_tokens?revoked=true&search=OL", w.tokens["developer"].Value, "", 200, "")
	if want := fmt.Sprintf(`[{"id":%d,"name":"old",`, revoked.ID); !strings.HasPrefix(body, want) || strings.Count(body, `"id"`) != 1 {
		t.Errorf("revoked tokens named like OL: got %s, want only token %d", body, revoked.ID)
	}
}

func TestWrongMethodIsNotFound(t *testing.T) {
	w := newWorld(t)
	w.apiCall(t, "PUT", "/api/v4/personal_access_tokens/self/rotate", w.tokens["owner"].Value, "", 404, `{"error":"404 Not Found"}`)
	w.wantCount(t, "PUT /api/v4/*", 1)
	if _, _, err := w.as(t, "owner").Users.CurrentUser(); err != nil {
		t.Fatal(err)
	}
	_, body := w.get(t, "/api/v4/user", "PRIVATE-TOKEN", w.tokens["admin"].Value)
	if want := `"is_admin":true`; !regexp.MustCompile(want).MatchString(body) {
		t.Errorf("GET /user as admin: got %s, want %s", body, want)
	}
	_, body = w.get(t, "/api/v4/user", "PRIVATE-TOKEN", w.tokens["owner"].Value)
	if regexp.MustCompile(`is_admin`).MatchString(body) {
		t.Errorf("GET /user as non-admin: got %s, want no is_admin", body)
	}

}
