package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// must returns v or fails the test with err.
func must[T any](t *testing.T, what string) func(v T, err error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// list returns a client-go list call's items or fails the test.
func list[T any](t *testing.T, what string) func(v []T, _ *gitlab.Response, err error) []T {
	t.Helper()
	return func(v []T, _ *gitlab.Response, err error) []T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// courseWorld is a hand-made course: group "course" with subgroups team-1
// (and team-1/sub) and team-2, projects team-1/app, team-2/app, sub/deep
// and the solo project course/solo, and users in every role, each with an
// api token. Every entity is created one minute after the previous one.
type courseWorld struct {
	*env
	course, team1, team2, sub sim.Group
	app1, app2, deep, solo    sim.Project
	users                     map[string]sim.User
	tokens                    map[string]string
	bot                       sim.Token
}

func newCourseWorld(t *testing.T) *courseWorld {
	t.Helper()
	w := &courseWorld{env: newEnv(t), users: map[string]sim.User{}, tokens: map[string]string{}}
	step := func() { w.clock.Set(w.clock.Now().Add(time.Minute)) }
	w.course = w.sim.AddGroup("course", 0)
	w.team1 = w.sim.AddGroup("team-1", w.course.ID)
	w.team2 = w.sim.AddGroup("team-2", w.course.ID)
	w.sub = w.sim.AddGroup("sub", w.team1.ID)
	w.app1 = w.sim.AddProject(w.team1.ID, "app")
	step()
	w.app2 = w.sim.AddProject(w.team2.ID, "app")
	step()
	w.deep = w.sim.AddProject(w.sub.ID, "deep")
	step()
	w.solo = w.sim.AddProject(w.course.ID, "solo")
	step()
	for _, m := range []struct {
		name, source string
		id, level    int
	}{
		{"teacher", "group", w.course.ID, 50},
		{"alice", "group", w.team1.ID, 30},
		{"bob", "group", w.team1.ID, 30},
		{"guest", "group", w.team1.ID, 10},
		{"carol", "group", w.team2.ID, 30},
		{"dave", "project", w.app1.ID, 40},
		{"outsider", "", 0, 0},
	} {
		u := w.sim.AddUser(m.name, strings.ToUpper(m.name[:1])+m.name[1:], false)
		w.users[m.name] = u
		if m.source != "" {
			if err := w.sim.AddMember(m.source, m.id, u.ID, m.level); err != nil {
				t.Fatalf("AddMember(%s): %v", m.name, err)
			}
		}
		w.tokens[m.name] = w.token(t, sim.TokenSpec{UserID: u.ID, Scopes: []string{"api"}}).Value
	}
	w.bot = w.token(t, sim.TokenSpec{Kind: sim.KindGroup, GroupID: w.course.ID, AccessLevel: 20, Scopes: []string{"read_api"}})
	return w
}

func (w *courseWorld) as(t *testing.T, who string) *gitlab.Client {
	t.Helper()
	return w.client(t, w.tokens[who])
}

// after sets the clock to day0 plus d and returns it.
func (w *courseWorld) after(d time.Duration) time.Time {
	w.clock.Set(day0.Add(d))
	return day0.Add(d)
}

func TestCourseGroups(t *testing.T) {
	w := newCourseWorld(t)
	teacher := w.as(t, "teacher")

	g := must[*gitlab.Group](t, "GetGroup")(func() (*gitlab.Group, error) {
		g, _, err := teacher.Groups.GetGroup("course/team-1", nil)
		return g, err
	}())
	if g.ID != int64(w.team1.ID) || g.FullPath != "course/team-1" || g.ParentID != int64(w.course.ID) ||
		g.WebURL != w.srv.URL+"/groups/course/team-1" || g.Visibility != gitlab.PrivateVisibility || len(g.Projects) != 1 {
		t.Errorf("GetGroup: got id %d, full path %q, parent %d, web URL %q, visibility %q, %d projects; want %d, course/team-1, %d, .../groups/course/team-1, private, 1",
			g.ID, g.FullPath, g.ParentID, g.WebURL, g.Visibility, len(g.Projects), w.team1.ID, w.course.ID)
	}

	names := func(gs []*gitlab.Group) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.FullPath)
		}
		return out
	}
	for _, tt := range []struct {
		who         string
		descendants bool
		want        []string
	}{
		{"teacher", true, []string{"course/team-1/sub", "course/team-1", "course/team-2"}},
		{"teacher", false, []string{"course/team-1", "course/team-2"}},
		{"alice", true, []string{"course/team-1/sub", "course/team-1"}}, // team-2 is not hers to see
		{"dave", true, []string{"course/team-1"}},                       // a project member sees the groups above
	} {
		var got []*gitlab.Group
		if tt.descendants {
			got = list[*gitlab.Group](t, "ListDescendantGroups")(w.as(t, tt.who).Groups.ListDescendantGroups(w.course.ID, nil))
		} else {
			got = list[*gitlab.Group](t, "ListSubGroups")(w.as(t, tt.who).Groups.ListSubGroups("course", nil))
		}
		if !slices.Equal(names(got), tt.want) {
			t.Errorf("%s, descendants %v: got %v, want %v (by name)", tt.who, tt.descendants, names(got), tt.want)
		}
	}
	desc := list[*gitlab.Group](t, "ListDescendantGroups by id desc")(teacher.Groups.ListDescendantGroups(w.course.ID,
		&gitlab.ListDescendantGroupsOptions{OrderBy: gitlab.Ptr("id"), Sort: gitlab.Ptr("desc")}))
	if got := names(desc); !slices.Equal(got, []string{"course/team-1/sub", "course/team-2", "course/team-1"}) {
		t.Errorf("descendants by id desc: got %v", got)
	}

	_, _, err := w.as(t, "outsider").Groups.GetGroup("course", nil)
	wantNotFound(t, "outsider GetGroup", err)
	_, _, err = w.as(t, "outsider").Groups.ListDescendantGroups("course", nil)
	wantNotFound(t, "outsider ListDescendantGroups", err)
	_, _, err = w.as(t, "carol").Groups.ListGroupProjects("course/team-1", nil)
	wantNotFound(t, "carol lists team-1's projects", err)
}

func TestCourseGroupProjects(t *testing.T) {
	w := newCourseWorld(t)
	teacher := w.as(t, "teacher")
	paths := func(ps []*gitlab.Project) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.PathWithNamespace)
		}
		return out
	}
	projects := func(who string, opt *gitlab.ListGroupProjectsOptions) []string {
		t.Helper()
		return paths(list[*gitlab.Project](t, "ListGroupProjects")(w.as(t, who).Groups.ListGroupProjects(w.course.ID, opt)))
	}
	all := []string{"course/solo", "course/team-1/sub/deep", "course/team-2/app", "course/team-1/app"} // newest first
	for _, tt := range []struct {
		name string
		who  string
		opt  *gitlab.ListGroupProjectsOptions
		want []string
	}{
		{"own projects only by default", "teacher", nil, []string{"course/solo"}},
		{"subgroups, created_at desc", "teacher", &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true)}, all},
		{"with_shared changes nothing", "teacher", &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true), WithShared: gitlab.Ptr(false)}, all},
		{"by id asc", "teacher", &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true), OrderBy: gitlab.Ptr("id"), Sort: gitlab.Ptr("asc")},
			[]string{"course/team-1/app", "course/team-2/app", "course/team-1/sub/deep", "course/solo"}},
		{"a student sees their team's", "alice", &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true)},
			[]string{"course/team-1/sub/deep", "course/team-1/app"}},
		{"search", "teacher", &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true), Search: gitlab.Ptr("dee")}, []string{"course/team-1/sub/deep"}},
	} {
		if got := projects(tt.who, tt.opt); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}

	// Activity reorders by last_activity_at; archived filters.
	w.after(2 * time.Hour)
	if _, err := w.sim.AddCommit(w.app2.ID, sim.CommitSpec{AuthorID: w.users["carol"].ID, Title: "work"}); err != nil {
		t.Fatal(err)
	}
	if err := w.sim.ArchiveProject(w.deep.ID); err != nil {
		t.Fatal(err)
	}
	byActivity := &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true), OrderBy: gitlab.Ptr("last_activity_at")}
	if got := projects("teacher", byActivity); got[0] != "course/team-2/app" {
		t.Errorf("by last_activity_at: got %v, want course/team-2/app first", got)
	}
	archived := &gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true), Archived: gitlab.Ptr(true)}
	if got := projects("teacher", archived); !slices.Equal(got, []string{"course/team-1/sub/deep"}) {
		t.Errorf("archived=true: got %v, want the archived project", got)
	}
	archived.Archived = gitlab.Ptr(false)
	if got := projects("teacher", archived); len(got) != 3 || slices.Contains(got, "course/team-1/sub/deep") {
		t.Errorf("archived=false: got %v, want the 3 others", got)
	}

	// simple=true leaves out the full entity's fields.
	body := w.apiCall(t, "GET", "/api/v4/groups/course/projects?simple=true&include_subgroups=true&per_page=1", w.tokens["teacher"], "", 200, "")
	var simple []map[string]any
	if err := json.Unmarshal([]byte(body), &simple); err != nil || len(simple) != 1 {
		t.Fatalf("simple list: got %s (%v)", body, err)
	}
	if _, ok := simple[0]["archived"]; ok || simple[0]["last_activity_at"] == nil || simple[0]["path_with_namespace"] == nil {
		t.Errorf("simple project: got keys %v, want last_activity_at and path_with_namespace without archived", simple[0])
	}

	p := must[*gitlab.Project](t, "GetProject")(func() (*gitlab.Project, error) {
		p, _, err := teacher.Projects.GetProject("course/team-2/app", nil)
		return p, err
	}())
	if p.ID != int64(w.app2.ID) || p.DefaultBranch != "main" || p.Namespace.Kind != "group" || p.Namespace.FullPath != "course/team-2" ||
		p.Archived || !p.LastActivityAt.Equal(day0.Add(2*time.Hour)) || p.WebURL != w.srv.URL+"/course/team-2/app" {
		t.Errorf("GetProject: got %+v, want team-2/app on main in namespace course/team-2, last activity %v", p, day0.Add(2*time.Hour))
	}
	_, _, err := w.as(t, "outsider").Projects.GetProject(w.app1.ID, nil)
	wantNotFound(t, "outsider GetProject", err)
	if _, _, err := w.as(t, "guest").Projects.GetProject(w.app1.ID, nil); err != nil {
		t.Errorf("guest GetProject: got %v, want the project", err)
	}
}

func TestCourseMembers(t *testing.T) {
	w := newCourseWorld(t)
	botName := regexp.MustCompile(`^group_\d+_bot_[0-9a-f]{8}$`)
	members := list[*gitlab.ProjectMember](t, "ListAllProjectMembers")(w.as(t, "guest").ProjectMembers.ListAllProjectMembers(w.app1.ID, nil))
	got := map[string]int{}
	for _, m := range members {
		name := m.Username
		if botName.MatchString(name) {
			name = "bot"
		}
		got[name] = int(m.AccessLevel)
	}
	want := map[string]int{"teacher": 50, "alice": 30, "bob": 30, "guest": 10, "dave": 40, "bot": 20}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("members/all of team-1/app: got %v, want %v", got, want)
	}
	if truth := w.sim.Members(w.app1.ID); len(truth) != 6 || !slices.ContainsFunc(truth, func(m sim.Member) bool { return m.Bot && m.AccessLevel == 20 }) {
		t.Errorf("Members: got %+v, want 6 with the bot at 20", truth)
	}

	// Pagination, and GitLab's member entity: no "bot" field.
	resp, body := w.get(t, fmt.Sprintf("/api/v4/projects/%d/members/all?per_page=4&page=2", w.app1.ID), "PRIVATE-TOKEN", w.tokens["alice"])
	if resp.StatusCode != 200 || resp.Header.Get("X-Total") != "6" || resp.Header.Get("X-Total-Pages") != "2" || resp.Header.Get("X-Prev-Page") != "1" {
		t.Errorf("members page 2: got %d, X-Total %q, X-Total-Pages %q, X-Prev-Page %q", resp.StatusCode, resp.Header.Get("X-Total"), resp.Header.Get("X-Total-Pages"), resp.Header.Get("X-Prev-Page"))
	}
	if strings.Contains(body, `"bot"`) {
		t.Errorf("members: got a bot field in %s, want none", body)
	}
	var n int
	for m, err := range gitlab.Scan2(func(p gitlab.PaginationOptionFunc) ([]*gitlab.ProjectMember, *gitlab.Response, error) {
		return w.as(t, "alice").ProjectMembers.ListAllProjectMembers(w.app1.ID, &gitlab.ListProjectMembersOptions{ListOptions: gitlab.ListOptions{PerPage: 2}}, p)
	}) {
		if err != nil {
			t.Fatalf("Scan2 members: %v", err)
		}
		if m != nil {
			n++
		}
	}
	if n != 6 {
		t.Errorf("members over 3 pages: got %d, want 6", n)
	}

	direct := list[*gitlab.ProjectMember](t, "ListProjectMembers")(w.as(t, "alice").ProjectMembers.ListProjectMembers(w.app1.ID, nil))
	if len(direct) != 1 || direct[0].Username != "dave" {
		t.Errorf("direct members of team-1/app: got %v, want dave", direct)
	}
	groupAll := list[*gitlab.GroupMember](t, "ListAllGroupMembers")(w.as(t, "alice").Groups.ListAllGroupMembers("course/team-1", nil))
	if len(groupAll) != 5 { // teacher, alice, bob, guest, bot; not dave (a project member)
		t.Errorf("members/all of team-1: got %d, want 5", len(groupAll))
	}
	_, _, err := w.as(t, "carol").ProjectMembers.ListAllProjectMembers(w.app1.ID, nil)
	wantNotFound(t, "carol lists team-1/app members", err)
}

func TestCourseCommits(t *testing.T) {
	w := newCourseWorld(t)
	alice, bob := w.users["alice"].ID, w.users["bob"].ID
	add := func(d time.Duration, author int, branch, title string, adds, dels int) sim.Commit {
		t.Helper()
		w.after(d)
		c, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: author, Branch: branch, Title: title, Additions: adds, Deletions: dels})
		if err != nil {
			t.Fatalf("AddCommit(%s): %v", title, err)
		}
		return c
	}
	c1 := add(time.Hour, alice, "", "one", 10, 2)
	c2 := add(2*time.Hour, bob, "", "two", 5, 5)
	f1 := add(3*time.Hour, alice, "feature", "f1", 100, 0)
	f2 := add(4*time.Hour, alice, "feature", "f2", 20, 10)
	c3 := add(5*time.Hour, bob, "main", "three", 1, 1)
	if f1.ParentIDs[0] != c2.SHA || c3.ParentIDs[0] != c2.SHA || len(c1.ParentIDs) != 0 {
		t.Errorf("parents: f1 %v, c3 %v, c1 %v; want c2, c2 and none", f1.ParentIDs, c3.ParentIDs, c1.ParentIDs)
	}
	cl := w.as(t, "alice")
	shas := func(opt *gitlab.ListCommitsOptions) []string {
		t.Helper()
		var out []string
		for _, c := range list[*gitlab.Commit](t, "ListCommits")(cl.Commits.ListCommits(w.app1.ID, opt)) {
			out = append(out, c.Title)
		}
		return out
	}
	want := func(name string, opt *gitlab.ListCommitsOptions, titles ...string) {
		t.Helper()
		if got := shas(opt); !slices.Equal(got, titles) {
			t.Errorf("%s: got %v, want %v", name, got, titles)
		}
	}
	want("default branch before the merge", nil, "three", "two", "one")
	mr, err := w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: alice, SourceBranch: "feature", Title: "Feature"})
	if err != nil {
		t.Fatal(err)
	}
	w.after(6 * time.Hour)
	merged, err := w.sim.MergeMR(w.app1.ID, mr.IID, bob)
	if err != nil {
		t.Fatal(err)
	}
	merge := w.sim.Commits(w.app1.ID)[0]
	if merge.SHA != merged.MergeCommitSHA || !slices.Equal(merge.ParentIDs, []string{c3.SHA, f2.SHA}) || merge.Additions != 120 || merge.Deletions != 10 || merge.AuthorID != bob {
		t.Errorf("merge commit: got %+v, want parents [three f2], stats +120 -10 by bob", merge)
	}
	add(7*time.Hour, alice, "wip", "unmerged", 1, 0)

	merge1 := "Merge branch 'feature' into 'main'"
	want("default branch: merged commits by committed date", nil, merge1, "three", "f2", "f1", "two", "one")
	want("first_parent", &gitlab.ListCommitsOptions{FirstParent: gitlab.Ptr(true)}, merge1, "three", "two", "one")
	want("since is inclusive", &gitlab.ListCommitsOptions{Since: gitlab.Ptr(day0.Add(2 * time.Hour))}, merge1, "three", "f2", "f1", "two")
	want("until is inclusive", &gitlab.ListCommitsOptions{Since: gitlab.Ptr(day0.Add(2 * time.Hour)), Until: gitlab.Ptr(day0.Add(4 * time.Hour))}, "f2", "f1", "two")
	want("ref_name of a branch", &gitlab.ListCommitsOptions{RefName: gitlab.Ptr("wip")}, "unmerged", merge1, "three", "f2", "f1", "two", "one")
	want("ref_name feature", &gitlab.ListCommitsOptions{RefName: gitlab.Ptr("feature")}, "f2", "f1", "two", "one")
	want("all", &gitlab.ListCommitsOptions{All: gitlab.Ptr(true)}, "unmerged", merge1, "three", "f2", "f1", "two", "one")
	want("unknown ref", &gitlab.ListCommitsOptions{RefName: gitlab.Ptr("nope")})
	want("author", &gitlab.ListCommitsOptions{Author: gitlab.Ptr("Bob")}, merge1, "three", "two")

	plain := list[*gitlab.Commit](t, "ListCommits")(cl.Commits.ListCommits(w.app1.ID, nil))
	stats := list[*gitlab.Commit](t, "ListCommits with stats")(cl.Commits.ListCommits(w.app1.ID, &gitlab.ListCommitsOptions{WithStats: gitlab.Ptr(true)}))
	if plain[0].Stats != nil || stats[0].Stats == nil || *stats[0].Stats != (gitlab.CommitStats{Additions: 120, Deletions: 10, Total: 130}) {
		t.Errorf("stats: got %v without with_stats and %v with, want none and +120 -10", plain[0].Stats, stats[0].Stats)
	}
	if c := stats[5]; c.ID != c1.SHA || c.ShortID != c1.SHA[:8] || c.AuthorName != "Alice" || c.AuthorEmail != "alice@example.com" ||
		!c.CommittedDate.Equal(day0.Add(time.Hour)) || !c.CreatedAt.Equal(day0.Add(time.Hour)) || c.WebURL != w.srv.URL+"/course/team-1/app/-/commit/"+c1.SHA {
		t.Errorf("commit one: got %+v", c)
	}
	single := must[*gitlab.Commit](t, "GetCommit")(func() (*gitlab.Commit, error) {
		c, _, err := cl.Commits.GetCommit(w.app1.ID, f1.SHA[:10], nil)
		return c, err
	}())
	if single.ID != f1.SHA || single.Stats == nil || single.Stats.Additions != 100 {
		t.Errorf("GetCommit by prefix: got %+v, want f1 with stats", single)
	}
	_, _, err = cl.Commits.GetCommit(w.app1.ID, "0123456789", nil)
	wantNotFound(t, "GetCommit unknown", err)

	// Raw answer: GitLab's time format, pagination headers.
	// Raw answer: GitLab's time format, and the commit list's pagination
	// without counts: a full page has a next page, even an empty one.
	resp, body := w.get(t, fmt.Sprintf("/api/v4/projects/%d/repository/commits?per_page=4", w.app1.ID), "PRIVATE-TOKEN", w.tokens["alice"])
	if _, counted := resp.Header["X-Total"]; counted || resp.Header.Get("X-Next-Page") != "2" || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) ||
		strings.Contains(resp.Header.Get("Link"), `rel="last"`) {
		t.Errorf("commit page 1: got X-Total %v, X-Next-Page %q, Link %q; want no total, next page 2, no last", resp.Header["X-Total"], resp.Header.Get("X-Next-Page"), resp.Header.Get("Link"))
	}
	if !strings.Contains(body, `"committed_date":"2025-03-10T17:00:00.000+00:00"`) {
		t.Errorf("commit JSON: got %s, want committed_date 2025-03-10T17:00:00.000+00:00 (a commit made in UTC)", body)
	}
	for perPage, wantRequests := range map[int]int{3: 3, 4: 2, 6: 2, 7: 1, 100: 1} {
		items, total, requests := w.paginated(t, fmt.Sprintf("/api/v4/projects/%d/repository/commits", w.app1.ID), w.tokens["alice"], perPage)
		if items != 6 || total != "" || requests != wantRequests {
			t.Errorf("commits per_page=%d: got %d items in %d requests, X-Total %q; want 6 in %d, no total", perPage, items, requests, total, wantRequests)
		}
	}

	_, _, err = w.as(t, "guest").Commits.ListCommits(w.app1.ID, nil)
	wantFailure(t, "guest lists commits", err, 403, `{"message":"403 Forbidden"}`)
	mrCommits := list[*gitlab.Commit](t, "ListMergeRequestCommits")(cl.MergeRequests.GetMergeRequestCommits(w.app1.ID, int64(mr.IID), nil))
	if len(mrCommits) != 2 || mrCommits[0].Title != "f2" {
		t.Errorf("merge request commits: got %d, want f2 and f1", len(mrCommits))
	}
}

func TestCourseMergeRequests(t *testing.T) {
	w := newCourseWorld(t)
	alice, bob, carol, teacher := w.users["alice"].ID, w.users["bob"].ID, w.users["carol"].ID, w.users["teacher"].ID
	w.after(time.Hour)
	issue := must[sim.Issue](t, "AddIssue")(w.sim.AddIssue(w.app1.ID, sim.IssueSpec{AuthorID: alice, Title: "Bug"}))
	if _, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Branch: "fix", Title: "fix it", Additions: 3}); err != nil {
		t.Fatal(err)
	}
	w.after(2 * time.Hour)
	mr1 := must[sim.MergeRequest](t, "AddMergeRequest 1")(w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{
		AuthorID: alice, Title: "Fix the bug", SourceBranch: "fix", ReviewerIDs: []int{bob}, AssigneeIDs: []int{alice},
		ClosesIssues: []int{issue.IID}, Labels: []string{"bug"},
	}))
	w.after(3 * time.Hour)
	mr2 := must[sim.MergeRequest](t, "AddMergeRequest 2")(w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: bob, Title: "Docs", Draft: true}))
	w.after(4 * time.Hour)
	must[sim.MergeRequest](t, "AddMergeRequest 3")(w.sim.AddMergeRequest(w.app2.ID, sim.MRSpec{AuthorID: carol, Title: "Team 2"}))

	teacherCl := w.as(t, "teacher")
	groupMRs := func(cl *gitlab.Client, opt *gitlab.ListGroupMergeRequestsOptions) []string {
		t.Helper()
		var out []string
		for _, m := range list[*gitlab.BasicMergeRequest](t, "ListGroupMergeRequests")(cl.MergeRequests.ListGroupMergeRequests(w.course.ID, opt)) {
			out = append(out, m.Title)
		}
		return out
	}
	wantMRs := func(name string, cl *gitlab.Client, opt *gitlab.ListGroupMergeRequestsOptions, titles ...string) {
		t.Helper()
		if got := groupMRs(cl, opt); !slices.Equal(got, titles) {
			t.Errorf("%s: got %v, want %v", name, got, titles)
		}
	}
	wantMRs("all subgroups, created_at desc", teacherCl, nil, "Team 2", "Docs", "Fix the bug")
	wantMRs("a student sees their team's", w.as(t, "alice"), nil, "Docs", "Fix the bug")
	wantMRs("a guest sees none", w.as(t, "guest"), nil)
	wantMRs("the group token's bot sees all", w.client(t, w.bot.Value), nil, "Team 2", "Docs", "Fix the bug")

	// A note bumps the MR's updated_at; updated_after includes that instant.
	noteAt := w.after(5 * time.Hour)
	must[sim.Note](t, "AddNote")(w.sim.AddNote(w.app1.ID, mr1.IID, sim.NoteSpec{AuthorID: bob, Body: "Looks good"}))
	wantMRs("updated_after the note's instant", teacherCl, &gitlab.ListGroupMergeRequestsOptions{UpdatedAfter: gitlab.Ptr(noteAt)}, "Fix the bug")
	wantMRs("updated_after a second later", teacherCl, &gitlab.ListGroupMergeRequestsOptions{UpdatedAfter: gitlab.Ptr(noteAt.Add(time.Second))})
	wantMRs("updated_before", teacherCl, &gitlab.ListGroupMergeRequestsOptions{UpdatedBefore: gitlab.Ptr(day0.Add(3 * time.Hour))}, "Docs")
	wantMRs("order_by updated_at asc", teacherCl, &gitlab.ListGroupMergeRequestsOptions{OrderBy: gitlab.Ptr("updated_at"), Sort: gitlab.Ptr("asc")}, "Docs", "Team 2", "Fix the bug")

	w.after(6 * time.Hour)
	if err := w.sim.Approve(w.app1.ID, mr1.IID, bob); err != nil {
		t.Fatal(err)
	}
	if err := w.sim.Approve(w.app1.ID, mr1.IID, bob); err != nil {
		t.Errorf("approving twice: got %v, want a no-op", err)
	}
	mergedAt := w.after(7 * time.Hour)
	must[sim.MergeRequest](t, "MergeMR")(w.sim.MergeMR(w.app1.ID, mr1.IID, teacher))
	w.after(8 * time.Hour)
	must[sim.MergeRequest](t, "CloseMR")(w.sim.CloseMR(w.app1.ID, mr2.IID, bob))
	if _, err := w.sim.MergeMR(w.app1.ID, mr2.IID, bob); err == nil {
		t.Errorf("merging a closed merge request: got no error, want one")
	}

	wantMRs("state merged", teacherCl, &gitlab.ListGroupMergeRequestsOptions{State: gitlab.Ptr("merged")}, "Fix the bug")
	wantMRs("state closed", teacherCl, &gitlab.ListGroupMergeRequestsOptions{State: gitlab.Ptr("closed")}, "Docs")
	wantMRs("state opened", teacherCl, &gitlab.ListGroupMergeRequestsOptions{State: gitlab.Ptr("opened")}, "Team 2")
	wantMRs("state locked", teacherCl, &gitlab.ListGroupMergeRequestsOptions{State: gitlab.Ptr("locked")})
	wantMRs("updated_after the merge", teacherCl, &gitlab.ListGroupMergeRequestsOptions{UpdatedAfter: gitlab.Ptr(mergedAt), State: gitlab.Ptr("all")}, "Docs", "Fix the bug")

	alicesCl := w.as(t, "alice")
	got := must[*gitlab.MergeRequest](t, "GetMergeRequest")(func() (*gitlab.MergeRequest, error) {
		m, _, err := alicesCl.MergeRequests.GetMergeRequest(w.app1.ID, int64(mr1.IID), nil)
		return m, err
	}())
	if got.State != "merged" || got.MergedBy == nil || got.MergedBy.Username != "teacher" || got.MergeUser == nil ||
		got.MergedAt == nil || !got.MergedAt.Equal(mergedAt) || !got.UpdatedAt.Equal(mergedAt) || got.Author.Username != "alice" ||
		len(got.Reviewers) != 1 || got.Reviewers[0].Username != "bob" || len(got.Assignees) != 1 || got.UserNotesCount != 1 ||
		got.SourceBranch != "fix" || got.TargetBranch != "main" || !slices.Equal(got.Labels, gitlab.Labels{"bug"}) ||
		got.WebURL != w.srv.URL+"/course/team-1/app/-/merge_requests/1" {
		t.Errorf("GetMergeRequest: got %+v", got.BasicMergeRequest)
	}
	closed := list[*gitlab.BasicMergeRequest](t, "ListProjectMergeRequests")(alicesCl.MergeRequests.ListProjectMergeRequests(w.app1.ID,
		&gitlab.ListProjectMergeRequestsOptions{State: gitlab.Ptr("closed")}))
	if len(closed) != 1 || closed[0].ClosedBy == nil || closed[0].ClosedBy.Username != "bob" || !closed[0].Draft || closed[0].ClosedAt == nil {
		t.Errorf("closed merge requests: got %v, want Docs, a draft closed by bob", closed)
	}

	notes := list[*gitlab.Note](t, "ListMergeRequestNotes")(alicesCl.Notes.ListMergeRequestNotes(w.app1.ID, int64(mr1.IID), nil))
	if len(notes) != 2 || !notes[0].System || notes[0].Body != "approved this merge request" || notes[0].Author.Username != "bob" ||
		notes[1].System || notes[1].Body != "Looks good" || notes[1].NoteableType != "MergeRequest" || notes[1].NoteableIID != int64(mr1.IID) ||
		notes[1].NoteableID != int64(mr1.ID) || !notes[1].CreatedAt.Equal(noteAt) {
		t.Errorf("notes, newest first: got %d: %+v", len(notes), notes)
	}
	asc := list[*gitlab.Note](t, "ListMergeRequestNotes asc")(alicesCl.Notes.ListMergeRequestNotes(w.app1.ID, int64(mr1.IID), &gitlab.ListMergeRequestNotesOptions{Sort: gitlab.Ptr("asc")}))
	if len(asc) != 2 || asc[0].Body != "Looks good" {
		t.Errorf("notes asc: got %v, want the user note first", asc)
	}

	appr := must[*gitlab.MergeRequestApprovals](t, "GetConfiguration")(func() (*gitlab.MergeRequestApprovals, error) {
		a, _, err := alicesCl.MergeRequestApprovals.GetConfiguration(w.app1.ID, int64(mr1.IID))
		return a, err
	}())
	if len(appr.ApprovedBy) != 1 || appr.ApprovedBy[0].User.Username != "bob" || !appr.Approved {
		t.Errorf("approvals: got %+v, want approved by bob", appr)
	}

	closes := list[*gitlab.Issue](t, "GetIssuesClosedOnMerge")(alicesCl.MergeRequests.GetIssuesClosedOnMerge(w.app1.ID, int64(mr1.IID), nil))
	if len(closes) != 1 || closes[0].IID != int64(issue.IID) || closes[0].State != "closed" || closes[0].ClosedBy == nil ||
		closes[0].ClosedBy.Username != "teacher" || !closes[0].ClosedAt.Equal(mergedAt) || closes[0].MergeRequestCount != 1 {
		t.Errorf("closes_issues: got %+v, want issue #1 closed by teacher at the merge", closes)
	}
	if truth := w.sim.Issues(w.app1.ID)[0]; truth.ClosedByMRIID != mr1.IID {
		t.Errorf("Issues: closed by MR %d, want %d", truth.ClosedByMRIID, mr1.IID)
	}

	_, _, err := w.as(t, "guest").MergeRequests.ListProjectMergeRequests(w.app1.ID, nil)
	wantFailure(t, "guest lists project merge requests", err, 403, `{"message":"403 Forbidden"}`)
	_, _, err = alicesCl.Notes.ListMergeRequestNotes(w.app1.ID, 99, nil)
	wantNotFound(t, "notes of an unknown merge request", err)
	_, _, err = w.as(t, "carol").MergeRequestApprovals.GetConfiguration(w.app1.ID, 1)
	wantNotFound(t, "carol reads team-1's approvals", err)
	truth := w.sim.MergeRequests(w.app1.ID)
	if len(truth) != 2 || truth[0].UserNotesCount() != 1 || len(truth[0].Notes) != 2 || len(truth[0].Approvals) != 1 {
		t.Errorf("MergeRequests: got %+v", truth)
	}
}

func TestCourseIssuesAndArchived(t *testing.T) {
	w := newCourseWorld(t)
	alice, carol := w.users["alice"].ID, w.users["carol"].ID
	w.after(time.Hour)
	must[sim.Issue](t, "AddIssue")(w.sim.AddIssue(w.app1.ID, sim.IssueSpec{AuthorID: alice, Title: "A", Labels: []string{"bug", "backend"}, AssigneeIDs: []int{alice}}))
	w.after(2 * time.Hour)
	must[sim.Issue](t, "AddIssue")(w.sim.AddIssue(w.app2.ID, sim.IssueSpec{AuthorID: carol, Title: "B", Labels: []string{"feature"}}))
	must[sim.MergeRequest](t, "AddMergeRequest")(w.sim.AddMergeRequest(w.app2.ID, sim.MRSpec{AuthorID: carol, Title: "B's MR"}))
	w.after(3 * time.Hour)
	must[sim.Issue](t, "AddIssue")(w.sim.AddIssue(w.deep.ID, sim.IssueSpec{AuthorID: alice, Title: "C"}))
	closedAt := w.after(4 * time.Hour)
	must[sim.Issue](t, "CloseIssue")(w.sim.CloseIssue(w.app1.ID, 1, alice))

	cl := w.as(t, "teacher")
	titles := func(opt *gitlab.ListGroupIssuesOptions) []string {
		t.Helper()
		var out []string
		for _, is := range list[*gitlab.Issue](t, "ListGroupIssues")(cl.Issues.ListGroupIssues(w.course.ID, opt)) {
			out = append(out, is.Title)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		opt  *gitlab.ListGroupIssuesOptions
		want []string
	}{
		{"all states, created_at desc", nil, []string{"C", "B", "A"}},
		{"opened", &gitlab.ListGroupIssuesOptions{State: gitlab.Ptr("opened")}, []string{"C", "B"}},
		{"closed", &gitlab.ListGroupIssuesOptions{State: gitlab.Ptr("closed")}, []string{"A"}},
		{"updated_after the close", &gitlab.ListGroupIssuesOptions{UpdatedAfter: gitlab.Ptr(closedAt)}, []string{"A"}},
		{"labels", &gitlab.ListGroupIssuesOptions{Labels: &gitlab.LabelOptions{"bug", "backend"}}, []string{"A"}},
		{"order_by updated_at", &gitlab.ListGroupIssuesOptions{OrderBy: gitlab.Ptr("updated_at")}, []string{"A", "C", "B"}},
	} {
		if got := titles(tt.opt); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	got := list[*gitlab.Issue](t, "ListGroupIssues")(cl.Issues.ListGroupIssues(w.course.ID, &gitlab.ListGroupIssuesOptions{State: gitlab.Ptr("closed")}))[0]
	if got.ClosedBy == nil || got.ClosedBy.Username != "alice" || !got.ClosedAt.Equal(closedAt) || !got.UpdatedAt.Equal(closedAt) ||
		len(got.Assignees) != 1 || got.Author.Username != "alice" || got.WebURL != w.srv.URL+"/course/team-1/app/-/issues/1" {
		t.Errorf("closed issue: got %+v", got)
	}
	// A guest reads issues (not merge requests).
	if got := list[*gitlab.Issue](t, "guest ListGroupIssues")(w.as(t, "guest").Issues.ListGroupIssues(w.course.ID, nil)); len(got) != 2 {
		t.Errorf("guest's group issues: got %d, want team-1's 2", len(got))
	}

	// Archived projects leave the group lists unless non_archived=false.
	if err := w.sim.ArchiveProject(w.app2.ID); err != nil {
		t.Fatal(err)
	}
	if got := titles(nil); !slices.Equal(got, []string{"C", "A"}) {
		t.Errorf("issues with team-2/app archived: got %v, want C, A", got)
	}
	count := func(path string) int {
		t.Helper()
		var items []json.RawMessage
		if err := json.Unmarshal([]byte(w.apiCall(t, "GET", path, w.tokens["teacher"], "", 200, "")), &items); err != nil {
			t.Fatal(err)
		}
		return len(items)
	}
	for path, want := range map[string]int{
		"/api/v4/groups/course/issues":                                 2,
		"/api/v4/groups/course/issues?non_archived=false":              3,
		"/api/v4/groups/course/merge_requests":                         0,
		"/api/v4/groups/course/merge_requests?non_archived=false":      1,
		fmt.Sprintf("/api/v4/projects/%d/issues", w.app2.ID):           1,
		fmt.Sprintf("/api/v4/projects/%d/merge_requests", w.app2.ID):   1,
		"/api/v4/groups/course%2Fteam-2/issues?non_archived=true":      0,
		"/api/v4/groups/course/issues?state=opened&non_archived=false": 2,
	} {
		if got := count(path); got != want {
			t.Errorf("GET %s: got %d items, want %d", path, got, want)
		}
	}
	single := must[*gitlab.Issue](t, "GetIssue")(func() (*gitlab.Issue, error) {
		is, _, err := cl.Issues.GetIssue(w.deep.ID, 1)
		return is, err
	}())
	if single.Title != "C" || single.ProjectID != int64(w.deep.ID) {
		t.Errorf("GetIssue: got %+v", single)
	}
}

func TestCoursePipelines(t *testing.T) {
	w := newCourseWorld(t)
	alice := w.users["alice"].ID
	w.after(time.Hour)
	c := must[sim.Commit](t, "AddCommit")(w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Title: "x"}))
	must[sim.Commit](t, "AddCommit")(w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Title: "y", Branch: "dev"}))
	p1 := must[sim.Pipeline](t, "AddPipeline")(w.sim.AddPipeline(w.app1.ID, sim.PipelineSpec{UserID: alice}))
	w.after(time.Hour + 30*time.Second)
	p2 := must[sim.Pipeline](t, "AddPipeline")(w.sim.AddPipeline(w.app1.ID, sim.PipelineSpec{UserID: alice, Ref: "dev", Source: "merge_request_event"}))
	must[sim.Pipeline](t, "SetPipelineStatus")(w.sim.SetPipelineStatus(w.app1.ID, p1.ID, "running"))
	before, _ := w.sim.GetProject(w.app1.ID)
	finished := w.after(3 * time.Hour)
	done := must[sim.Pipeline](t, "SetPipelineStatus")(w.sim.SetPipelineStatus(w.app1.ID, p1.ID, "failed"))
	if p1.SHA != c.SHA || p1.Status != "pending" || done.StartedAt == nil || !done.StartedAt.Equal(day0.Add(time.Hour+30*time.Second)) ||
		*done.QueuedDuration != 30 || *done.Duration != 7170 || !done.UpdatedAt.Equal(finished) {
		t.Errorf("pipeline: got %+v then %+v", p1, done)
	}
	if after, _ := w.sim.GetProject(w.app1.ID); !after.LastActivityAt.Equal(before.LastActivityAt) {
		t.Errorf("last_activity_at after pipeline activity: got %v, want %v unchanged", after.LastActivityAt, before.LastActivityAt)
	}

	cl := w.as(t, "bob")
	ids := func(opt *gitlab.ListProjectPipelinesOptions) []int64 {
		t.Helper()
		var out []int64
		for _, p := range list[*gitlab.PipelineInfo](t, "ListProjectPipelines")(cl.Pipelines.ListProjectPipelines(w.app1.ID, opt)) {
			out = append(out, p.ID)
		}
		return out
	}
	a, b := int64(p1.ID), int64(p2.ID)
	for _, tt := range []struct {
		name string
		opt  *gitlab.ListProjectPipelinesOptions
		want []int64
	}{
		{"id desc", nil, []int64{b, a}},
		{"status", &gitlab.ListProjectPipelinesOptions{Status: gitlab.Ptr(gitlab.Failed)}, []int64{a}},
		{"ref", &gitlab.ListProjectPipelinesOptions{Ref: gitlab.Ptr("dev")}, []int64{b}},
		{"source", &gitlab.ListProjectPipelinesOptions{Source: gitlab.Ptr("merge_request_event")}, []int64{b}},
		{"updated_after is inclusive", &gitlab.ListProjectPipelinesOptions{UpdatedAfter: gitlab.Ptr(finished)}, []int64{a}},
		{"updated_before", &gitlab.ListProjectPipelinesOptions{UpdatedBefore: gitlab.Ptr(finished.Add(-time.Second))}, []int64{b}},
		{"order_by updated_at asc", &gitlab.ListProjectPipelinesOptions{OrderBy: gitlab.Ptr("updated_at"), Sort: gitlab.Ptr("asc")}, []int64{b, a}},
		{"scope finished", &gitlab.ListProjectPipelinesOptions{Scope: gitlab.Ptr("finished")}, []int64{a}},
	} {
		if got := ids(tt.opt); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	_, body := w.get(t, fmt.Sprintf("/api/v4/projects/%d/pipelines", w.app1.ID), "PRIVATE-TOKEN", w.tokens["bob"])
	if strings.Contains(body, "duration") || strings.Contains(body, "finished_at") || strings.Contains(body, `"user"`) {
		t.Errorf("pipeline list: got %s, want GitLab's list fields only", body)
	}
	got := must[*gitlab.Pipeline](t, "GetPipeline")(func() (*gitlab.Pipeline, error) {
		p, _, err := cl.Pipelines.GetPipeline(w.app1.ID, a)
		return p, err
	}())
	if got.Status != "failed" || got.Duration != 7170 || got.QueuedDuration != 30 || got.FinishedAt == nil || !got.FinishedAt.Equal(finished) ||
		got.User == nil || got.User.Username != "alice" || got.SHA != c.SHA || got.WebURL != fmt.Sprintf("%s/course/team-1/app/-/pipelines/%d", w.srv.URL, a) {
		t.Errorf("GetPipeline: got %+v", got)
	}
	_, _, err := cl.Pipelines.GetPipeline(w.app1.ID, 999)
	wantNotFound(t, "unknown pipeline", err)
	if _, err := w.sim.SetPipelineStatus(w.app1.ID, p1.ID, "done"); err == nil {
		t.Errorf("SetPipelineStatus done: got no error, want one")
	}
}

// TestLastActivityHourly follows GitLab's Event#reset_project_activity: an
// event moves last_activity_at only when the last move is an hour old or
// more; pipelines never move it.
func TestLastActivityHourly(t *testing.T) {
	w := newCourseWorld(t)
	alice, bob := w.users["alice"].ID, w.users["bob"].ID
	created, _ := w.sim.GetProject(w.app1.ID)
	steps := []struct {
		at   time.Duration // after the project's creation
		do   func() error
		want time.Duration // expected last_activity_at, after the creation
	}{
		{30 * time.Minute, func() error {
			_, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice})
			return err
		}, 0},
		{61 * time.Minute, func() error {
			_, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice})
			return err
		}, 61 * time.Minute},
		{90 * time.Minute, func() error {
			_, err := w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: alice})
			return err
		}, 61 * time.Minute},
		{4 * time.Hour, func() error {
			p, err := w.sim.AddPipeline(w.app1.ID, sim.PipelineSpec{})
			if err == nil {
				_, err = w.sim.SetPipelineStatus(w.app1.ID, p.ID, "success")
			}
			return err
		}, 61 * time.Minute},
		{4*time.Hour + time.Minute, func() error {
			_, err := w.sim.AddNote(w.app1.ID, 1, sim.NoteSpec{AuthorID: bob, Body: "hi"})
			return err
		}, 4*time.Hour + time.Minute},
		{5*time.Hour + time.Minute, func() error { // exactly an hour later: it moves
			_, err := w.sim.AddIssue(w.app1.ID, sim.IssueSpec{AuthorID: bob})
			return err
		}, 5*time.Hour + time.Minute},
		{5*time.Hour + 30*time.Minute, func() error {
			_, err := w.sim.CloseIssue(w.app1.ID, 1, bob)
			return err
		}, 5*time.Hour + time.Minute},
	}
	cl := w.as(t, "alice")
	for i, st := range steps {
		w.clock.Set(created.CreatedAt.Add(st.at))
		if err := st.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		p, _, err := cl.Projects.GetProject(w.app1.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := created.CreatedAt.Add(st.want); !p.LastActivityAt.Equal(want) {
			t.Errorf("step %d (+%v): last_activity_at got %v, want %v", i, st.at, p.LastActivityAt, want)
		}
	}
}

// TestPushMovesUpdatedAt follows GitLab's Event#set_last_repository_updated_at:
// a push (to any branch, a merge included) moves updated_at when the last
// such move is more than five minutes old, while last_activity_at keeps
// its hourly pace; joining or leaving a project is an event (hourly too).
func TestPushMovesUpdatedAt(t *testing.T) {
	w := newCourseWorld(t)
	alice := w.users["alice"].ID
	created, _ := w.sim.GetProject(w.app1.ID)
	push := func(branch string) func() error {
		return func() error {
			_, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Branch: branch})
			return err
		}
	}
	steps := []struct {
		at                 time.Duration // after the project's creation
		do                 func() error
		updated, lastActed time.Duration // expected, after the creation
	}{
		{2 * time.Hour, push("main"), 2 * time.Hour, 2 * time.Hour},
		{2*time.Hour + 3*time.Minute, push("feature/x"), 2 * time.Hour, 2 * time.Hour},
		{2*time.Hour + 5*time.Minute, push("main"), 2 * time.Hour, 2 * time.Hour}, // exactly five minutes: not more
		{2*time.Hour + 6*time.Minute, push("feature/x"), 2*time.Hour + 6*time.Minute, 2 * time.Hour},
		{2*time.Hour + 30*time.Minute, func() error { return w.sim.AddMember("project", w.app1.ID, w.users["outsider"].ID, 30) },
			2*time.Hour + 6*time.Minute, 2 * time.Hour}, // within the hour: no move
		{4 * time.Hour, func() error { return w.sim.RemoveMember("project", w.app1.ID, w.users["outsider"].ID) },
			4 * time.Hour, 4 * time.Hour},
		{4*time.Hour + 10*time.Minute, func() error { return w.sim.AddMember("group", w.team1.ID, w.users["outsider"].ID, 30) },
			4 * time.Hour, 4 * time.Hour}, // a group membership makes no project event
	}
	cl := w.as(t, "alice")
	for i, st := range steps {
		w.clock.Set(created.CreatedAt.Add(st.at))
		if err := st.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		p, _, err := cl.Projects.GetProject(w.app1.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := created.CreatedAt.Add(st.updated); !p.UpdatedAt.Equal(want) {
			t.Errorf("step %d (+%v): updated_at got %v, want %v", i, st.at, p.UpdatedAt, want)
		}
		if want := created.CreatedAt.Add(st.lastActed); !p.LastActivityAt.Equal(want) {
			t.Errorf("step %d (+%v): last_activity_at got %v, want %v", i, st.at, p.LastActivityAt, want)
		}
	}
}

func TestCourseParamsAndAccess(t *testing.T) {
	w := newCourseWorld(t)
	narrow := w.token(t, sim.TokenSpec{UserID: w.users["teacher"].ID, Scopes: []string{"read_repository", "read_user"}})
	for _, tt := range []struct {
		path, token string
		status      int
		body        string
	}{
		{"/api/v4/groups/course/merge_requests?state=bogus", w.tokens["teacher"], 400, `{"error":"state does not have a valid value"}`},
		{"/api/v4/groups/course/merge_requests?updated_after=yesterday", w.tokens["teacher"], 400, `{"error":"updated_after is invalid"}`},
		{"/api/v4/groups/course/issues?state=merged", w.tokens["teacher"], 400, `{"error":"state does not have a valid value"}`},
		{"/api/v4/groups/course/issues?updated_after=2025-03-10T12:00:00.123%2B02:00", w.tokens["teacher"], 200, "[]"},
		{"/api/v4/groups/course/issues?updated_after=2025-03-10", w.tokens["teacher"], 200, "[]"},
		{"/api/v4/groups/course/projects?order_by=size", w.tokens["teacher"], 400, `{"error":"order_by does not have a valid value"}`},
		{"/api/v4/groups/course/projects?page=x", w.tokens["teacher"], 400, `{"error":"page is invalid"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/pipelines?status=done", w.tokens["teacher"], 400, `{"error":"status does not have a valid value"}`},
		{"/api/v4/groups/course/merge_requests", narrow.Value, 403, ""},
		{"/api/v4/groups/course/merge_requests", "", 401, `{"message":"401 Unauthorized"}`},
		{"/api/v4/groups/nope/merge_requests", w.tokens["teacher"], 404, `{"message":"404 Group Not Found"}`},
		{"/api/v4/groups/course", w.tokens["outsider"], 404, `{"message":"404 Group Not Found"}`},
		{"/api/v4/groups/course%2Fteam-1/descendant_groups", w.tokens["carol"], 404, `{"message":"404 Group Not Found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp", w.tokens["outsider"], 404, `{"message":"404 Project Not Found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/members/all", w.tokens["carol"], 404, `{"message":"404 Project Not Found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/repository/commits/abcdef0", w.tokens["alice"], 404, `{"message":"404 Commit Not Found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/merge_requests/7/notes", w.tokens["alice"], 404, `{"message":"404 Not found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/pipelines/7", w.tokens["alice"], 404, `{"message":"404 Not found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/issues/7", w.tokens["guest"], 404, `{"message":"404 Not found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/merge_requests", w.tokens["guest"], 403, `{"message":"403 Forbidden"}`},
		{"/api/v4/projects/999/pipelines", w.tokens["teacher"], 404, `{"message":"404 Project Not Found"}`},
		{"/api/v4/projects/course%2Fteam-1%2Fapp/merge_requests/1/approvals", w.tokens["teacher"], 404, `{"message":"404 Not found"}`},
	} {
		w.apiCall(t, "GET", tt.path, tt.token, "", tt.status, tt.body)
	}
	// An admin sees what they are no member of.
	admin := w.sim.AddUser("root", "Admin", false)
	if err := w.sim.SetAdmin(admin.ID, true); err != nil {
		t.Fatal(err)
	}
	tok := w.token(t, sim.TokenSpec{UserID: admin.ID, Scopes: []string{"read_api"}})
	w.apiCall(t, "GET", fmt.Sprintf("/api/v4/projects/%d/repository/commits", w.app1.ID), tok.Value, "", 200, "[]")

	counts := w.sim.RequestCounts()
	for _, key := range []string{
		"GET /api/v4/groups/:id/merge_requests", "GET /api/v4/groups/:id/issues", "GET /api/v4/groups/:id/projects",
		"GET /api/v4/projects/:id/pipelines", "GET /api/v4/projects/:id/merge_requests/:merge_request_iid/approvals",
		"GET /api/v4/projects/:id/repository/commits",
	} {
		if counts[key] == 0 {
			t.Errorf("request count %q: got 0, want some (all: %v)", key, counts)
		}
	}
}

func TestAddErrors(t *testing.T) {
	w := newCourseWorld(t)
	alice := w.users["alice"].ID
	for name, err := range map[string]error{
		"commit in unknown project": second(w.sim.AddCommit(999, sim.CommitSpec{AuthorID: alice})),
		"commit by unknown user":    second(w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: 999})),
		"commit without author":     second(w.sim.AddCommit(w.app1.ID, sim.CommitSpec{})),
		"MR into another branch":    second(w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: alice, TargetBranch: "dev"})),
		"MR closing unknown issue":  second(w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: alice, ClosesIssues: []int{7}})),
		"note on unknown MR":        second(w.sim.AddNote(w.app1.ID, 1, sim.NoteSpec{AuthorID: alice})),
		"pipeline on empty repo":    second(w.sim.AddPipeline(w.app1.ID, sim.PipelineSpec{})),
		"pipeline bad source":       second(w.sim.AddPipeline(w.app1.ID, sim.PipelineSpec{SHA: "abc", Source: "cron"})),
		"close unknown issue":       second(w.sim.CloseIssue(w.app1.ID, 1, alice)),
		"archive unknown project":   w.sim.ArchiveProject(999),
		"approve unknown MR":        w.sim.Approve(w.app1.ID, 3, alice),
	} {
		if err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
	}
	// A commit by someone GitLab does not know.
	c, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorName: "root", AuthorEmail: "root@localhost", Title: "x"})
	if err != nil || c.AuthorID != 0 || c.AuthorEmail != "root@localhost" {
		t.Errorf("commit by an unknown author: got %+v (%v)", c, err)
	}
}

// wantNotFound checks that err is client-go's ErrNotFound, which it returns
// for every 404 (the bodies are checked with raw requests).
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("%s: got %v, want gitlab.ErrNotFound", what, err)
	}
}

func second[T any](_ T, err error) error { return err }

// paginated fetches every page of a list with per_page=perPage, following
// X-Next-Page, and returns the number of items, the X-Total of the first
// page and the number of requests.
func (e *env) paginated(t *testing.T, path, token string, perPage int) (items int, total string, requests int) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for page := "1"; page != ""; {
		resp, body := e.get(t, fmt.Sprintf("%s%sper_page=%d&page=%s", path, sep, perPage, page), "PRIVATE-TOKEN", token)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s page %s: got %d %s", path, page, resp.StatusCode, body)
		}
		var got []json.RawMessage
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if page == "1" {
			total = resp.Header.Get("X-Total")
		}
		if len(got) > perPage {
			t.Fatalf("GET %s page %s: got %d items, want at most %d", path, page, len(got), perPage)
		}
		items += len(got)
		requests++
		page = resp.Header.Get("X-Next-Page")
	}
	return items, total, requests
}
