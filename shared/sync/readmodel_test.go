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
		return sc.Store.Get(ctx, cpk, gpsync.StudentSK(key, int64(pid)), &row)
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
