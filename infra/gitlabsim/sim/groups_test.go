package sim_test

import (
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

func TestGroupsProjectsMembers(t *testing.T) {
	e := newEnv(t)
	course := e.sim.AddGroup("course", 0)
	team := e.sim.AddGroup("team-1", course.ID)
	repo := e.sim.AddProject(team.ID, "repo")
	if course != (sim.Group{ID: 1, Path: "course", Name: "course"}) || team.ParentID != course.ID || repo != (sim.Project{ID: 1, Path: "repo", Name: "repo", GroupID: team.ID}) {
		t.Errorf("records: got %+v %+v %+v, want course 1, team-1 below it, repo 1 in team-1", course, team, repo)
	}
	// Missing parents are made on the fly.
	if orphan := e.sim.AddGroup("", 9); orphan.ID != 10 || orphan.Path != "group-10" || orphan.ParentID != 9 {
		t.Errorf("group below a missing parent: got %+v, want id 10, path group-10, parent 9", orphan)
	}
	if p := e.sim.AddProject(20, "x"); p.GroupID != 20 || e.sim.AddGroup("next", 0).ID != 21 {
		t.Errorf("project in a missing group: got %+v, want group 20 made and later groups numbered after it", p)
	}

	teacher := e.sim.AddUser("teacher", "Teacher", false)
	student := e.sim.AddUser("student", "Student", false)
	for _, bad := range []struct {
		source                   string
		sourceID, userID, access int
	}{
		{"namespace", course.ID, teacher.ID, 50},
		{"group", 99, teacher.ID, 50},
		{"project", 99, teacher.ID, 50},
		{"group", course.ID, 99, 50},
		{"group", course.ID, teacher.ID, 45},
		{"group", course.ID, teacher.ID, 0},
	} {
		if err := e.sim.AddMember(bad.source, bad.sourceID, bad.userID, bad.access); err == nil {
			t.Errorf("AddMember%v: got no error, want one", bad)
		}
	}
	if err := e.sim.SetAdmin(99, true); err == nil {
		t.Errorf("SetAdmin(99): got no error, want one")
	}

	// An Owner of the top group owns the subgroup's tokens; a project
	// member sees the groups above but may not manage their tokens.
	if err := e.sim.AddMember("group", course.ID, teacher.ID, 30); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.AddMember("group", course.ID, teacher.ID, 50); err != nil { // raises the role
		t.Fatal(err)
	}
	if err := e.sim.AddMember("project", repo.ID, student.ID, 40); err != nil {
		t.Fatal(err)
	}
	teacherTok := e.token(t, sim.TokenSpec{UserID: teacher.ID, Scopes: []string{"api"}})
	studentTok := e.token(t, sim.TokenSpec{UserID: student.ID, Scopes: []string{"api"}})
	e.apiCall(t, "GET", "/api/v4/groups/course%2Fteam-1/access_tokens", teacherTok.Value, "", 200, "[]")
	e.apiCall(t, "GET", "/api/v4/groups/COURSE%2Fteam-1/access_tokens", studentTok.Value, "", 401, bodyUnauthorized)
	e.apiCall(t, "GET", "/api/v4/groups/course/access_tokens", studentTok.Value, "", 401, bodyUnauthorized)
	e.apiCall(t, "GET", "/api/v4/projects/course%2Fteam-1%2Frepo/access_tokens", studentTok.Value, "", 200, "[]")
	// Group 9, made as a missing parent above, has no members.
	e.apiCall(t, "GET", "/api/v4/groups/9/access_tokens", teacherTok.Value, "", 404, `{"message":"404 Group Not Found"}`)

	// A group or project token's bot is a member with the token's role.
	gt := e.token(t, sim.TokenSpec{Kind: sim.KindGroup, GroupID: team.ID, Name: "bot", AccessLevel: 20, Scopes: []string{"api"}})
	pt := e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: repo.ID, Scopes: []string{"api"}})
	if gt.GroupID != team.ID || gt.AccessLevel != 20 || pt.ProjectID != repo.ID || pt.AccessLevel != 40 {
		t.Errorf("bot tokens: got group %d level %d, project %d level %d; want %d 20, %d 40", gt.GroupID, gt.AccessLevel, pt.ProjectID, pt.AccessLevel, team.ID, repo.ID)
	}
	tokens, _, err := e.client(t, teacherTok.Value).GroupAccessTokens.ListGroupAccessTokens("course/team-1", nil)
	if err != nil || len(tokens) != 1 || tokens[0].ID != int64(gt.ID) || tokens[0].AccessLevel != gitlab.ReporterPermissions {
		t.Errorf("team tokens: got %v (%v), want token %d with access level 20", tokens, err, gt.ID)
	}
	if _, err := e.sim.AddToken(sim.TokenSpec{Kind: sim.KindGroup, GroupID: 1, AccessLevel: 60, Scopes: []string{"api"}}); err == nil {
		t.Errorf("AddToken with access level 60: got no error, want one")
	}

	// A group token for a group nobody made creates it.
	auto := e.token(t, sim.TokenSpec{Kind: sim.KindGroup, GroupID: 500, Scopes: []string{"api"}})
	if err := e.sim.SetAdmin(student.ID, true); err != nil {
		t.Fatal(err)
	}
	got, _, err := e.client(t, studentTok.Value).GroupAccessTokens.GetGroupAccessToken("group-500", int64(auto.ID))
	if err != nil || got.AccessLevel != gitlab.MaintainerPermissions {
		t.Errorf("token of the made group, read by an admin: got %+v (%v), want access level 40", got, err)
	}
}

func TestControlGroupsProjectsMembersAdmin(t *testing.T) {
	e := newEnv(t)
	var user struct {
		ID    int  `json:"id"`
		Admin bool `json:"admin"`
	}
	e.call(t, "POST", "/-/sim/users", `{"username":"teacher","name":"Teacher"}`, 201, &user)
	var group struct {
		ID       int    `json:"id"`
		Path     string `json:"path"`
		ParentID int    `json:"parent_id"`
		FullPath string `json:"full_path"`
	}
	e.call(t, "POST", "/-/sim/groups", `{"path":"course"}`, 201, &group)
	e.call(t, "POST", "/-/sim/groups", `{"path":"team-1","parent_id":1}`, 201, &group)
	if group.ID != 2 || group.ParentID != 1 || group.FullPath != "course/team-1" {
		t.Errorf("subgroup: got %+v, want id 2, parent 1, full path course/team-1", group)
	}
	var project struct {
		ID       int    `json:"id"`
		GroupID  int    `json:"group_id"`
		FullPath string `json:"full_path"`
	}
	e.call(t, "POST", "/-/sim/projects", `{"group_id":2,"path":"repo"}`, 201, &project)
	if project.ID != 1 || project.GroupID != 2 || project.FullPath != "course/team-1/repo" {
		t.Errorf("project: got %+v, want id 1 in group 2, full path course/team-1/repo", project)
	}
	var member struct {
		Source      string `json:"source"`
		AccessLevel int    `json:"access_level"`
	}
	e.call(t, "POST", "/-/sim/members", `{"source":"project","source_id":1,"user_id":1,"access_level":40}`, 200, &member)
	e.call(t, "POST", "/-/sim/members", `{"source":"project","source_id":1,"user_id":1,"access_level":40}`, 200, &member)
	if member.Source != "project" || member.AccessLevel != 40 {
		t.Errorf("member: got %+v, want project 40", member)
	}
	var tok controlToken
	e.call(t, "POST", "/-/sim/tokens", `{"user_id":1,"scopes":["api"]}`, 201, &tok)
	e.apiCall(t, "POST", "/api/v4/projects/1/access_tokens", tok.Token, `{"name":"ci","scopes":["read_api"],"access_level":40}`, 201, "")
	e.apiCall(t, "POST", "/api/v4/groups/1/access_tokens", tok.Token, `{"name":"ci","scopes":["read_api"]}`, 400, "")

	e.call(t, "PUT", "/-/sim/users/1/admin", `{"admin":true}`, 200, &user)
	if !user.Admin {
		t.Errorf("user after PUT admin: got %+v, want admin", user)
	}
	e.apiCall(t, "POST", "/api/v4/groups/1/access_tokens", tok.Token, `{"name":"ci","scopes":["read_api"]}`, 201, "")
	e.call(t, "PUT", "/-/sim/users/1/admin", `{"admin":false}`, 200, &user)
	e.apiCall(t, "POST", "/api/v4/groups/1/access_tokens", tok.Token, `{"name":"ci","scopes":["read_api"]}`, 400, "")

	var gt struct {
		Kind        string `json:"kind"`
		GroupID     int    `json:"group_id"`
		AccessLevel int    `json:"access_level"`
		Description string `json:"description"`
	}
	e.call(t, "POST", "/-/sim/tokens", `{"kind":"group","group_id":2,"access_level":30,"description":"d","scopes":["api"]}`, 201, &gt)
	if gt.Kind != "group" || gt.GroupID != 2 || gt.AccessLevel != 30 || gt.Description != "d" {
		t.Errorf("group token: got %+v, want group 2, level 30, description d", gt)
	}

	for _, bad := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/-/sim/groups", `{"path":"x","parent_id":9}`, 404, "parent group 9"},
		{"POST", "/-/sim/groups", `{"path":"COURSE"}`, 400, "already been taken"},
		{"POST", "/-/sim/groups", `{"parent_id":1}`, 400, "path is required"},
		{"POST", "/-/sim/groups", `{"path":"x","name":"y"}`, 400, `unknown field "name"`},
		{"POST", "/-/sim/projects", `{"group_id":9,"path":"x"}`, 404, "group 9"},
		{"POST", "/-/sim/projects", `{"group_id":2,"path":"repo"}`, 400, "already been taken"},
		{"POST", "/-/sim/members", `{"source":"group","source_id":9,"user_id":1,"access_level":30}`, 404, "group 9"},
		{"POST", "/-/sim/members", `{"source":"group","source_id":1,"user_id":9,"access_level":30}`, 404, "user 9"},
		{"POST", "/-/sim/members", `{"source":"team","source_id":1,"user_id":1,"access_level":30}`, 400, "source"},
		{"POST", "/-/sim/members", `{"source":"group","source_id":1,"user_id":1,"access_level":35}`, 400, "access level 35"},
		{"PUT", "/-/sim/users/9/admin", `{"admin":true}`, 404, "user 9"},
		{"PUT", "/-/sim/users/x/admin", `{"admin":true}`, 400, "user id"},
		{"PUT", "/-/sim/users/1/admin", `{}`, 400, "admin: want true or false"},
		{"POST", "/-/sim/tokens", `{"kind":"group","group_id":2,"access_level":31,"scopes":["api"]}`, 400, "access level 31"},
	} {
		var msg struct {
			Message string `json:"message"`
		}
		e.call(t, bad.method, bad.path, bad.body, bad.status, &msg)
		if !strings.Contains(msg.Message, bad.want) {
			t.Errorf("%s %s %s: got message %q, want it to contain %q", bad.method, bad.path, bad.body, msg.Message, bad.want)
		}
	}

	e.call(t, "POST", "/-/sim/reset", "", 204, nil)
	e.call(t, "POST", "/-/sim/groups", `{"path":"course"}`, 201, &group)
	if group.ID != 1 {
		t.Errorf("first group after reset: got id %d, want 1", group.ID)
	}
}
