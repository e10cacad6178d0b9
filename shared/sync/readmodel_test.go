package sync_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestReadModelFollowsMembership: a member who joins appears in the
// students listing and the team summary; once GitLab no longer lists
// them, their member item and student row go.
func TestReadModelFollowsMembership(t *testing.T) {
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "rm/course", Teams: 1, StudentsPerTeam: 2, Weeks: 1})
	ctx := context.Background()
	pid := sc.Course.ProjectIDs[0]
	newbie := sc.Sim.AddUser("newbie", "New Bie", false)
	if err := sc.Sim.AddMember("project", pid, newbie.ID, 30); err != nil {
		t.Fatal(err)
	}
	poll := func() {
		t.Helper()
		if err := sc.Worker.Process(ctx, gpsync.Task{CourseID: sc.CourseID, ProjectID: int64(pid), Repo: true, ScheduledAt: time.Now().Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	key := "u" + strconv.Itoa(newbie.ID)
	cpk := store.CoursePK(sc.CourseID)
	student := func() error {
		var row gpsync.StudentRow
		return sc.Store.Get(ctx, cpk, gpsync.StudentSK(newbie.Name, key, int64(pid)), &row)
	}
	summaryHas := func() bool {
		var info gpsync.ProjectInfo
		if err := sc.Store.Get(ctx, store.ProjectPK(int64(pid)), "INFO", &info); err != nil {
			t.Fatal(err)
		}
		var sum gpsync.ProjectSummary
		if err := sc.Store.Get(ctx, cpk, gpsync.SummarySK(info.Project.TeamID, int64(pid)), &sum); err != nil {
			t.Fatal(err)
		}
		for _, p := range sum.People {
			if p.Key == key {
				return true
			}
		}
		return false
	}

	poll()
	if err := student(); err != nil || !summaryHas() {
		t.Fatalf("after joining: student row %v, in the summary %v; want both", err, summaryHas())
	}
	if err := sc.Sim.RemoveMember("project", pid, newbie.ID); err != nil {
		t.Fatal(err)
	}
	poll()
	if err := student(); !errors.Is(err, store.ErrNotFound) || summaryHas() {
		t.Errorf("after leaving: student row %v, in the summary %v; want neither", err, summaryHas())
	}
	var m gitpulse.Member
	if err := sc.Store.Get(ctx, store.ProjectPK(int64(pid)), "MEMBER#"+strconv.Itoa(newbie.ID), &m); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after leaving: member item %+v (%v), want none", m, err)
	}
}

// TestNewProjectsAreListedBeforeTheirFirstSync: the scheduler puts a new
// project under its team at once; the worker's aggregate then fills it.
func TestNewProjectsAreListedBeforeTheirFirstSync(t *testing.T) {
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "rm/new", Teams: 1, StudentsPerTeam: 1, Weeks: 1})
	ctx := context.Background()
	pid := sc.Sim.AddProject(sc.Course.TeamGroupIDs[0], "late-project").ID
	if _, err := sc.Scheduler.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	summaries, err := store.All[gpsync.ProjectSummary](ctx, sc.Store, store.CoursePK(sc.CourseID), "TEAM#")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range summaries {
		if s.Project.ID == int64(pid) {
			found = s.Stats.Commits == 0 && s.Project.Name == "late-project"
		}
	}
	if !found {
		t.Errorf("before its first sync: got summaries %+v, want the new project with empty figures", summaries)
	}
	sc.Drain(t)
	var info gpsync.ProjectInfo
	if err := sc.Store.Get(ctx, store.ProjectPK(int64(pid)), "INFO", &info); err != nil {
		t.Errorf("after its first sync: %v, want its INFO", err)
	}
}
