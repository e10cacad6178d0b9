package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestCoursesNeverOverlap adds, through the API, the parent group of a
// synced course and one of its team groups: both are refused with 409
// naming the course. Then the same groups come in as configured courses
// (GITPULSE_COURSES, which the API cannot refuse) and are synced: every
// project keeps its course_id and team, and the other courses list none
// of them.
func TestCoursesNeverOverlap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	course := f.sc.Course
	parent := path.Dir(course.Path)
	team := course.Path + "/team-01"
	before := map[int]gitpulse.Project{}
	for _, id := range course.ProjectIDs {
		before[id] = decodeAs[gpsync.ProjectInfo](t, f.do(t, f.reader, "GET", fmt.Sprintf("/api/v1/projects/%d", id), "")).Project
	}
	for _, group := range []string{parent, team, course.Path} {
		rec := f.do(t, f.admin, "POST", "/api/v1/courses", fmt.Sprintf(`{"group":%q}`, group), "Content-Type", "application/json")
		body := decodeAs[api.ErrorBody](t, rec)
		if rec.Code != http.StatusConflict || !strings.Contains(body.Message, fmt.Sprintf("course %d", f.sc.CourseID)) {
			t.Errorf("POST /courses %s: got %d %q, want 409 naming course %d", group, rec.Code, body.Message, f.sc.CourseID)
		}
	}
	courses := decodeAs[list[gitpulse.Course]](t, f.do(t, f.reader, "GET", "/api/v1/courses", ""))
	if len(courses.Items) != 1 {
		t.Errorf("after the refused adds: got %d courses, want 1", len(courses.Items))
	}

	// Configured overlapping courses: scheduled and synced, owning nothing.
	sum, err := f.sc.Scheduler.Run(ctx, []string{parent, team})
	if err != nil {
		t.Fatalf("schedule the configured courses: %v (%+v)", err, sum)
	}
	f.sc.Drain(t)
	for _, id := range course.ProjectIDs {
		got := decodeAs[gpsync.ProjectInfo](t, f.do(t, f.reader, "GET", fmt.Sprintf("/api/v1/projects/%d", id), "")).Project
		if got.CourseID != before[id].CourseID || got.TeamID != before[id].TeamID {
			t.Errorf("project %d: got course %d team %q, want course %d team %q", id, got.CourseID, got.TeamID, before[id].CourseID, before[id].TeamID)
		}
	}
	for _, c := range sum.Courses {
		if c.CourseID == f.sc.CourseID {
			continue
		}
		if c.Projects != 0 || c.Tasks != 0 {
			t.Errorf("configured course %s: got %d projects, %d tasks, want 0 and 0 (they are course %d's)", c.Course, c.Projects, c.Tasks, f.sc.CourseID)
		}
		teams := decodeAs[list[api.TeamView]](t, f.do(t, f.reader, "GET", fmt.Sprintf("/api/v1/courses/%d/teams", c.CourseID), ""))
		for _, tv := range teams.Items {
			if len(tv.Projects) > 0 {
				t.Errorf("course %s lists team %s with %d projects, want none (course %d holds them)", c.Course, tv.ID, len(tv.Projects), f.sc.CourseID)
			}
		}
	}

	// The worker refuses a task that would move a project (the parent
	// course does not list it).
	var other int64
	for _, c := range sum.Courses {
		if c.Course == parent {
			other = c.CourseID
		}
	}
	if other == 0 {
		t.Fatalf("the parent course %s was not scheduled: %+v", parent, sum)
	}
	pid := int64(course.ProjectIDs[0])
	if err := f.sc.Worker.Process(ctx, gpsync.Task{CourseID: other, ProjectID: pid, Repo: true, ScheduledAt: time.Now()}); !errors.Is(err, gpsync.ErrNotInCourse) {
		t.Errorf("a task of project %d for course %d: got %v, want it refused (%v)", pid, other, err, gpsync.ErrNotInCourse)
	}
}

// TestSyncStatusLooksAtSkippedProjects: a scheduling that finds a project
// unchanged counts as a look at it, so its lag_seconds counts from that
// run, not from its last task; sync status names projects and teams.
func TestSyncStatusLooksAtSkippedProjects(t *testing.T) {
	// Activity ended three hours ago: the next run can skip every project.
	start := time.Now().UTC().Add(-3*time.Hour).AddDate(0, 0, -14)
	f := newFixtureOf(t, sim.CourseSpec{Path: "api/lag", Teams: 2, StudentsPerTeam: 2, Weeks: 2, Start: start})
	ctx := context.Background()
	time.Sleep(2 * time.Second) // the second run starts later
	second := time.Now()
	res, err := f.sc.Scheduler.Course(ctx, f.sc.CourseID)
	if err != nil {
		t.Fatal(err)
	}
	f.sc.Drain(t)
	f.clock.Set(second.Add(time.Hour))
	status := decodeAs[list[api.CourseSync]](t, f.do(t, f.reader, "GET", fmt.Sprintf("/api/v1/sync/status?course=%d", f.sc.CourseID), ""))
	if len(status.Items) != 1 {
		t.Fatalf("got %d courses, want 1", len(status.Items))
	}
	skipped := 0
	for _, p := range status.Items[0].Projects {
		if p.ProjectName == "" || p.TeamID == "" || p.TeamName == "" {
			t.Errorf("project %d: got name %q team %q (%q), want all named", p.ProjectID, p.ProjectName, p.TeamID, p.TeamName)
		}
		if p.LagSeconds == nil || p.LastSuccess == nil {
			t.Fatalf("project %d: no lag or last success after two syncs", p.ProjectID)
		}
		if p.LastSuccess.Before(second) {
			skipped++ // the second run gave it no task
			if *p.LagSeconds > 3600 {
				t.Errorf("skipped project %d: got lag %d s, want at most 3600 (the second run looked at it)", p.ProjectID, *p.LagSeconds)
			}
		}
	}
	if skipped == 0 {
		t.Fatalf("the second run (%+v) skipped no project, so this test checks nothing", res)
	}
}
