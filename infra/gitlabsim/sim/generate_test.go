package sim_test

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// smallCourse is a course that exercises every part of the generator.
var smallCourse = sim.CourseSpec{
	Path: "kpi/tp-2024", Teams: 2, StudentsPerTeam: 3, ProjectsPerTeam: 2, SoloProjects: 1, Weeks: 3,
	CommitsPerStudentWeek: 8, MRsPerStudentWeek: 2, IssuesPerStudentWeek: 2, PipelinesPerProjectWeek: 5,
}

// snapshot is everything the simulator holds about a course's projects.
type snapshot struct {
	Course    sim.Course
	Groups    []sim.GroupInfo
	Projects  []sim.ProjectInfo
	Commits   [][]sim.Commit
	All       [][]sim.Commit
	MRs       [][]sim.MergeRequest
	Issues    [][]sim.Issue
	Pipelines [][]sim.Pipeline
	Members   [][]sim.Member
}

func takeSnapshot(s *sim.Sim, c sim.Course) snapshot {
	snap := snapshot{Course: c, Groups: s.Groups(c.GroupID), Projects: s.GroupProjects(c.GroupID)}
	for _, id := range c.ProjectIDs {
		snap.Commits = append(snap.Commits, s.Commits(id))
		snap.All = append(snap.All, s.AllCommits(id))
		snap.MRs = append(snap.MRs, s.MergeRequests(id))
		snap.Issues = append(snap.Issues, s.Issues(id))
		snap.Pipelines = append(snap.Pipelines, s.Pipelines(id))
		snap.Members = append(snap.Members, s.Members(id))
	}
	return snap
}

func TestGenerateCourseIsDeterministic(t *testing.T) {
	gen := func(seed int64, activity bool) snapshot {
		e := newEnv(t)
		c := e.sim.GenerateCourse(seed, smallCourse)
		if activity {
			e.clock.Set(day0.Add(3 * time.Hour))
			if _, err := e.sim.AddActivity(seed, c, 40); err != nil {
				t.Fatal(err)
			}
		}
		return takeSnapshot(e.sim, c)
	}
	a, b := gen(7, false), gen(7, false)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two courses from seed 7 differ")
	}
	if other := gen(8, false); reflect.DeepEqual(a.Commits, other.Commits) || a.Course.TeacherToken == other.Course.TeacherToken {
		t.Errorf("seeds 7 and 8 gave the same commits or tokens")
	}
	if a, b := gen(7, true), gen(7, true); !reflect.DeepEqual(a, b) {
		t.Errorf("the same activity on two courses from seed 7 differs")
	}
}

func TestGenerateCourseShape(t *testing.T) {
	e := newEnv(t)
	c := e.sim.GenerateCourse(1, smallCourse)
	if c.Path != "kpi/tp-2024" || len(c.Teams) != 3 || len(c.TeamGroupIDs) != 2 || len(c.ProjectIDs) != 5 || len(c.StudentIDs) != 9 ||
		!c.End.Equal(day0) || !c.Start.Equal(day0.AddDate(0, 0, -21)) || len(c.BotUserIDs) != 4 {
		t.Fatalf("course: got %+v", c)
	}
	if solo := c.Teams[2]; solo.GroupID != 0 || len(solo.ProjectIDs) != 1 || len(solo.StudentIDs) != 3 {
		t.Errorf("solo team: got %+v, want one project in the course group with 3 students", solo)
	}
	if again := e.sim.GenerateCourse(1, smallCourse); again.Path != "kpi/tp-2024-2" {
		t.Errorf("second course on the same path: got %q, want kpi/tp-2024-2", again.Path)
	}

	teacher := e.client(t, c.TeacherToken)
	for who, cl := range map[string]*gitlab.Client{"teacher": teacher, "group bot": e.client(t, c.BotToken)} {
		teams := list[*gitlab.Group](t, who+" ListDescendantGroups")(cl.Groups.ListDescendantGroups(c.Path, nil))
		projects := list[*gitlab.Project](t, who+" ListGroupProjects")(cl.Groups.ListGroupProjects(c.GroupID,
			&gitlab.ListGroupProjectsOptions{IncludeSubGroups: gitlab.Ptr(true)}))
		if len(teams) != 2 || teams[0].FullPath != "kpi/tp-2024/team-01" || teams[0].Name != "Team 01" || len(projects) != 5 {
			t.Errorf("%s: got %d teams (%v) and %d projects, want 2 teams and 5 projects", who, len(teams), teams, len(projects))
		}
	}
	tok := must[*gitlab.PersonalAccessToken](t, "self")(func() (*gitlab.PersonalAccessToken, error) {
		p, _, err := teacher.PersonalAccessTokens.GetSinglePersonalAccessToken()
		return p, err
	}())
	if !slices.Equal(tok.Scopes, []string{"read_api", "read_repository"}) || tok.ExpiresAt == nil {
		t.Errorf("teacher token: got scopes %v, expiry %v", tok.Scopes, tok.ExpiresAt)
	}

	// Members: the teacher, the team's students, the course bot, the ci-bot.
	members := e.sim.Members(c.Teams[0].ProjectIDs[0])
	levels := map[string]int{}
	for _, m := range members {
		switch {
		case m.UserID == c.TeacherID:
			levels["teacher"] = m.AccessLevel
		case m.Bot && strings.HasPrefix(m.Username, "group_"):
			levels["course bot"] = m.AccessLevel
		case m.Bot && strings.HasPrefix(m.Username, "project_"):
			levels["ci-bot"] = m.AccessLevel
		case slices.Contains(c.Teams[0].StudentIDs, m.UserID):
			levels["student"] = m.AccessLevel
		default:
			t.Errorf("unexpected member %+v", m)
		}
	}
	if len(members) != 6 || fmt.Sprint(levels) != "map[ci-bot:30 course bot:20 student:30 teacher:50]" {
		t.Errorf("members of a team's first project: got %d %v", len(members), levels)
	}

	// The activity holds together.
	var states = map[string]int{}
	var runningAtEnd, systemNotes, botNotes, closedByMR, unknownAuthors int
	for _, id := range c.ProjectIDs {
		info, _ := e.sim.GetProject(id)
		commits := e.sim.Commits(id)
		if len(commits) == 0 || commits[len(commits)-1].Title != "Initial commit" {
			t.Errorf("project %d: got %d commits, want an initial commit first", id, len(commits))
		}
		onMain := map[string]bool{}
		for _, cm := range commits {
			onMain[cm.SHA] = true
			if cm.AuthorID == 0 {
				unknownAuthors++
			}
			if cm.CommittedDate.After(c.End) || cm.CommittedDate.Before(info.CreatedAt.Truncate(time.Second)) {
				t.Errorf("commit %s at %v: outside the course", cm.SHA, cm.CommittedDate)
			}
		}
		if info.LastActivityAt.After(c.End) || info.LastActivityAt.Before(c.End.AddDate(0, 0, -7)) {
			t.Errorf("project %d: last activity %v, want in the last week before %v", id, info.LastActivityAt, c.End)
		}
		for _, m := range e.sim.MergeRequests(id) {
			states["mr "+m.State]++
			if m.State == "merged" && !onMain[m.MergeCommitSHA] {
				t.Errorf("merged MR !%d: merge commit %q not on main", m.IID, m.MergeCommitSHA)
			}
			for _, n := range m.Notes {
				switch {
				case n.System:
					systemNotes++
				case slices.Contains(c.BotUserIDs, n.AuthorID):
					botNotes++
				}
				if n.CreatedAt.After(m.UpdatedAt) {
					t.Errorf("MR !%d: note at %v after updated_at %v", m.IID, n.CreatedAt, m.UpdatedAt)
				}
			}
			for _, a := range m.Approvals {
				if a.UserID == m.AuthorID {
					t.Errorf("MR !%d approved by its author", m.IID)
				}
			}
		}
		for _, is := range e.sim.Issues(id) {
			states["issue "+is.State]++
			if is.ClosedByMRIID != 0 {
				closedByMR++
			}
		}
		for _, p := range e.sim.Pipelines(id) {
			states["pipeline "+p.Status]++
			if p.Status == "running" && p.UpdatedAt.After(c.End.Add(-15*time.Minute)) {
				runningAtEnd++
			}
		}
	}
	for _, key := range []string{"mr merged", "mr closed", "mr opened", "issue opened", "issue closed", "pipeline success", "pipeline failed"} {
		if states[key] == 0 {
			t.Errorf("no %s in %v", key, states)
		}
	}
	if runningAtEnd < 3 || systemNotes == 0 || botNotes == 0 || closedByMR == 0 || unknownAuthors > states["mr merged"]*5 {
		t.Errorf("got %d pipelines running at the end (want >= 3), %d system notes, %d bot notes, %d issues closed by MRs, %d commits by unknown authors",
			runningAtEnd, systemNotes, botNotes, closedByMR, unknownAuthors)
	}
	t.Logf("states %v, system notes %d, bot notes %d, closed by MR %d, unknown authors %d", states, systemNotes, botNotes, closedByMR, unknownAuthors)
}

// TestCourseListsPaginate reads every list of a generated course page by
// page and checks it against the simulator's truth and X-Total.
func TestCourseListsPaginate(t *testing.T) {
	e := newEnv(t)
	c := e.sim.GenerateCourse(3, smallCourse)
	tok := c.TeacherToken
	var mrs, issues int
	type check struct {
		path string
		want int
	}
	var checks []check
	for _, id := range c.ProjectIDs {
		ms := e.sim.MergeRequests(id)
		mrs += len(ms)
		issues += len(e.sim.Issues(id))
		p := fmt.Sprintf("/api/v4/projects/%d", id)
		checks = append(checks,
			check{p + "/repository/commits", len(e.sim.Commits(id))},
			check{p + "/repository/commits?all=true", len(e.sim.AllCommits(id))},
			check{p + "/merge_requests", len(ms)},
			check{p + "/issues", len(e.sim.Issues(id))},
			check{p + "/pipelines", len(e.sim.Pipelines(id))},
			check{p + "/members/all", len(e.sim.Members(id))},
			check{fmt.Sprintf("%s/merge_requests/%d/notes", p, ms[0].IID), len(ms[0].Notes)},
		)
	}
	g := fmt.Sprintf("/api/v4/groups/%d", c.GroupID)
	checks = append(checks,
		check{g + "/merge_requests", mrs},
		check{g + "/issues", issues},
		check{g + "/projects?include_subgroups=true", len(c.ProjectIDs)},
		check{g + "/descendant_groups", len(c.TeamGroupIDs)},
		check{g + "/members/all", len(e.sim.GroupMembers(c.GroupID))},
	)
	for _, ch := range checks {
		for _, perPage := range []int{7, 100} {
			// Lists are counted, but for commits; those take one more
			// request after a full last page.
			wantTotal, wantRequests := strconv.Itoa(ch.want), max(1, (ch.want+perPage-1)/perPage)
			if strings.Contains(ch.path, "/repository/commits") {
				wantTotal, wantRequests = "", ch.want/perPage+1
			}
			got, total, requests := e.paginated(t, ch.path, tok, perPage)
			if got != ch.want || total != wantTotal || requests != wantRequests {
				t.Errorf("GET %s per_page=%d: got %d items in %d requests, X-Total %q; want %d in %d, X-Total %q",
					ch.path, perPage, got, requests, total, ch.want, wantRequests, wantTotal)
			}
		}
	}
}

// TestAddActivity checks what an incremental sync relies on: after
// AddActivity, updated_after and since give exactly what changed.
func TestAddActivity(t *testing.T) {
	e := newEnv(t)
	c := e.sim.GenerateCourse(5, smallCourse)
	cl := e.client(t, c.TeacherToken)
	syncedAt := e.clock.Now().Add(time.Second) // after the last generated change
	groupMRs := func() []*gitlab.BasicMergeRequest {
		var out []*gitlab.BasicMergeRequest
		for m, err := range gitlab.Scan2(func(p gitlab.PaginationOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
			return cl.MergeRequests.ListGroupMergeRequests(c.GroupID, &gitlab.ListGroupMergeRequestsOptions{
				UpdatedAfter: gitlab.Ptr(syncedAt), OrderBy: gitlab.Ptr("updated_at"), ListOptions: gitlab.ListOptions{PerPage: 100},
			}, p)
		}) {
			if err != nil {
				t.Fatalf("ListGroupMergeRequests: %v", err)
			}
			out = append(out, m)
		}
		return out
	}
	if got := groupMRs(); len(got) != 0 {
		t.Fatalf("MRs updated after the sync, before any activity: got %d, want 0", len(got))
	}

	e.clock.Set(syncedAt.Add(2 * time.Hour))
	act, err := e.sim.AddActivity(11, c, 60)
	if err != nil {
		t.Fatal(err)
	}
	if act.Total() < 40 || act.Commits == 0 || act.Notes == 0 || act.Merges+act.FinishedPipelines == 0 {
		t.Errorf("activity: got %+v, want most of 60 changes, commits, notes, merges or finished pipelines", act)
	}
	t.Logf("activity: %+v", act)

	var wantMRs, wantCommits, wantPipelines int
	for _, id := range c.ProjectIDs {
		for _, m := range e.sim.MergeRequests(id) {
			if !m.UpdatedAt.Before(syncedAt) {
				wantMRs++
			}
		}
		for _, cm := range e.sim.Commits(id) {
			if !cm.CommittedDate.Before(syncedAt) {
				wantCommits++
			}
		}
		for _, p := range e.sim.Pipelines(id) {
			if !p.UpdatedAt.Before(syncedAt) {
				wantPipelines++
			}
		}
	}
	if got := groupMRs(); len(got) != wantMRs || wantMRs == 0 {
		t.Errorf("MRs updated after the sync: got %d, want %d (> 0)", len(got), wantMRs)
	}
	var commits, pipelines int
	for _, id := range c.ProjectIDs {
		commits += len(list[*gitlab.Commit](t, "ListCommits")(cl.Commits.ListCommits(id, &gitlab.ListCommitsOptions{
			Since: gitlab.Ptr(syncedAt), ListOptions: gitlab.ListOptions{PerPage: 100},
		})))
		pipelines += len(list[*gitlab.PipelineInfo](t, "ListProjectPipelines")(cl.Pipelines.ListProjectPipelines(id, &gitlab.ListProjectPipelinesOptions{
			UpdatedAfter: gitlab.Ptr(syncedAt), ListOptions: gitlab.ListOptions{PerPage: 100},
		})))
	}
	if commits != wantCommits || pipelines != wantPipelines || commits == 0 {
		t.Errorf("since the sync: got %d commits and %d pipelines, want %d (> 0) and %d", commits, pipelines, wantCommits, wantPipelines)
	}
	if _, err := e.sim.AddActivity(1, sim.Course{Path: "x", Teams: []sim.Team{{ProjectIDs: []int{999}, StudentIDs: []int{1}}}}, 1); err == nil {
		t.Errorf("AddActivity on an unknown project: got no error, want one")
	}
}

func TestControlCourses(t *testing.T) {
	e := newEnv(t)
	var course sim.Course
	e.call(t, "POST", "/-/sim/courses", `{"seed":2,"spec":{"path":"demo/course","teams":2,"weeks":2}}`, 201, &course)
	if course.Path != "demo/course" || len(course.ProjectIDs) != 2 || course.TeacherToken == "" {
		t.Fatalf("course: got %+v", course)
	}
	e.clock.Set(day0.Add(time.Hour))
	var act sim.Activity
	e.call(t, "POST", fmt.Sprintf("/-/sim/courses/%d/activity", course.GroupID), `{"seed":3,"n":5}`, 200, &act)
	if act.Total() == 0 {
		t.Errorf("activity: got %+v, want some", act)
	}
	e.call(t, "POST", "/-/sim/courses/999/activity", `{"seed":3,"n":5}`, 404, nil)
	e.call(t, "POST", fmt.Sprintf("/-/sim/projects/%d/archive", course.ProjectIDs[0]), "", 204, nil)
	if p, _ := e.sim.GetProject(course.ProjectIDs[0]); !p.Archived {
		t.Errorf("project after the archive call: got %+v, want archived", p)
	}
}

// bigCourse is the size the sync benchmark needs: at least 40 projects,
// 20,000 commits, 3,000 merge requests with notes, 5,000 issues and 5,000
// pipelines.
var bigCourse = sim.CourseSpec{
	Path: "kpi/big", Teams: 10, StudentsPerTeam: 4, ProjectsPerTeam: 4, Weeks: 14,
	CommitsPerStudentWeek: 42, MRsPerStudentWeek: 7, IssuesPerStudentWeek: 11, PipelinesPerProjectWeek: 9.5,
}

func TestGenerateBigCourse(t *testing.T) {
	e := newEnv(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	c := e.sim.GenerateCourse(42, bigCourse)
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)

	var commits, mrs, notes, issues, pipelines, biggest int
	for _, id := range c.ProjectIDs {
		n := len(e.sim.Commits(id))
		commits += n
		biggest = max(biggest, n)
		for _, m := range e.sim.MergeRequests(id) {
			mrs++
			notes += len(m.Notes)
		}
		issues += len(e.sim.Issues(id))
		pipelines += len(e.sim.Pipelines(id))
	}
	t.Logf("generated in %v, heap +%d MB: %d projects, %d commits on default branches (largest project %d), %d MRs with %d notes, %d issues, %d pipelines",
		took.Round(time.Millisecond), (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>20, len(c.ProjectIDs), commits, biggest, mrs, notes, issues, pipelines)
	if len(c.ProjectIDs) < 40 || commits < 20000 || mrs < 3000 || notes < mrs || issues < 5000 || pipelines < 5000 {
		t.Errorf("big course: got %d projects, %d commits, %d MRs, %d notes, %d issues, %d pipelines; want at least 40, 20000, 3000, 3000, 5000, 5000",
			len(c.ProjectIDs), commits, mrs, notes, issues, pipelines)
	}
}

func BenchmarkGenerateBigCourse(b *testing.B) {
	for b.Loop() {
		sim.New(sim.WithClock(func() time.Time { return day0 })).GenerateCourse(42, bigCourse)
	}
}
