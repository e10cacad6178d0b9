package sync_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestCommitOffsetsCountOnTheirUTCDay: GitLab writes commit dates with the
// offset they were made with. A commit made on Monday 2026-11-30 at
// 00:30+02:00 is stored as the instant 2026-11-29 22:30 UTC and counts on
// Sunday 2026-11-29 and in the week of Monday 2026-11-23; one made on
// Monday 2026-11-30 at 20:00-05:00 counts on Tuesday 2026-12-01 (UTC), in
// the week of 2026-11-30.
func TestCommitOffsetsCountOnTheirUTCDay(t *testing.T) {
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "tz/course", Teams: 1, StudentsPerTeam: 1, Weeks: 1})
	ctx := context.Background()
	pid := sc.Sim.AddProject(sc.Course.TeamGroupIDs[0], "zoned").ID
	zoe := sc.Sim.AddUser("zoe", "Zoe Zone", false)
	if err := sc.Sim.AddMember("project", pid, zoe.ID, 30); err != nil {
		t.Fatal(err)
	}
	plus2, minus5 := time.FixedZone("", 2*3600), time.FixedZone("", -5*3600)
	east, err := sc.Sim.AddCommit(pid, sim.CommitSpec{AuthorID: zoe.ID, Title: "east", At: time.Date(2026, 11, 30, 0, 30, 0, 0, plus2), Zone: plus2})
	if err != nil {
		t.Fatal(err)
	}
	west, err := sc.Sim.AddCommit(pid, sim.CommitSpec{AuthorID: zoe.ID, Title: "west", At: time.Date(2026, 11, 30, 20, 0, 0, 0, minus5), Zone: minus5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Scheduler.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	sc.Drain(t)

	ppk := store.ProjectPK(int64(pid))
	for sha, want := range map[string]string{east.SHA: "2026-11-29T22:30:00Z", west.SHA: "2026-12-01T01:00:00Z"} {
		var c gitpulse.Commit
		if err := sc.Store.Get(ctx, ppk, "COMMIT#"+sha, &c); err != nil {
			t.Fatalf("commit %s: %v", sha, err)
		}
		if got := c.AuthoredAt.Format(time.RFC3339); got != want {
			t.Errorf("commit %s authored at: got %s, want %s (the instant, in UTC)", sha[:8], got, want)
		}
	}
	var stats gpsync.ProjectStats
	if err := sc.Store.Get(ctx, ppk, "STATS", &stats); err != nil {
		t.Fatal(err)
	}
	if stats.CommitsByDay["2026-11-29"] != 1 || stats.CommitsByDay["2026-12-01"] != 1 || len(stats.CommitsByDay) != 2 {
		t.Errorf("project commits by day: got %v, want 2026-11-29: 1 and 2026-12-01: 1", stats.CommitsByDay)
	}
	var ps gpsync.PersonStats
	if err := sc.Store.Get(ctx, ppk, "STATS#u"+strconv.Itoa(zoe.ID), &ps); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ps.Days, []string{"2026-11-29", "2026-12-01"}) || ps.ActiveDays != 2 {
		t.Errorf("active days: got %v (%d), want [2026-11-29 2026-12-01]", ps.Days, ps.ActiveDays)
	}
	weeks := map[string]int{}
	for k, w := range ps.Weeks {
		weeks[k] = w.Commits
	}
	if weeks["2026-11-23"] != 1 || weeks["2026-11-30"] != 1 || len(weeks) != 2 {
		t.Errorf("commits by week: got %v, want 2026-11-23: 1 and 2026-11-30: 1", weeks)
	}
}
