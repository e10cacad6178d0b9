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
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

const branchesRoute = "GET /api/v4/projects/:id/repository/branches"

// TestBranchWorkShowsWhenPushed: commits pushed to a branch are stored
// and counted at the next sync, before any merge; the merge then costs one
// range read of the default branch (no read back by date), brings the
// branch's commits to it (branches and on_default_branch), writes only the
// commits it changed, and the counts stay exact.
func TestBranchWorkShowsWhenPushed(t *testing.T) {
	clk := &testenv.Shifted{}
	h := newHarnessAt(t, small, clk.Now)
	h.sync(runOpts{})
	ctx := context.Background()
	pid := h.course.ProjectIDs[0]
	student := h.course.Teams[0].StudentIDs[0]

	mr, err := h.sim.AddMergeRequest(pid, sim.MRSpec{AuthorID: student, Title: "Login form", SourceBranch: "feature/login"})
	if err != nil {
		t.Fatal(err)
	}
	var pushed []string
	for i := range 3 {
		c, err := h.sim.AddCommit(pid, sim.CommitSpec{AuthorID: student, Branch: "feature/login", Title: "login step", Additions: 10 + i})
		if err != nil {
			t.Fatal(err)
		}
		pushed = append(pushed, c.SHA)
	}
	clk.Skip(6 * time.Minute)
	_, byRoute, _ := h.counted()
	if byRoute[branchesRoute] != 1 || byRoute[commitsRoute] != 1 {
		t.Errorf("sync after a push to a branch: %v; want one branches list and one range read (main..feature/login)", byRoute)
	}
	h.compare()
	for _, sha := range pushed {
		var c gitpulse.Commit
		if err := h.store.Get(ctx, pk(pid), "COMMIT#"+sha, &c); err != nil || c.OnDefaultBranch || !slices.Equal(c.Branches, []string{"feature/login"}) {
			t.Errorf("branch commit %s: got %+v (%v); want stored on feature/login only, not on the default branch", sha[:8], c, err)
		}
	}
	var before gpsync.PersonStats
	if err := h.store.Get(ctx, pk(pid), "STATS#u"+strconv.Itoa(student), &before); err != nil {
		t.Fatal(err)
	}

	if _, err := h.sim.MergeMR(pid, mr.IID, h.course.TeacherID); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	writes := &writesByKind{DB: h.worker.Store.DB}
	h.worker.Store.DB = writes
	_, byRoute, _ = h.counted()
	if byRoute[commitsRoute] != 1 {
		t.Errorf("sync after the merge: %d commits requests (%v); want one: the default branch's range, no read back", byRoute[commitsRoute], byRoute)
	}
	h.compare()
	for _, sha := range pushed {
		var c gitpulse.Commit
		if err := h.store.Get(ctx, pk(pid), "COMMIT#"+sha, &c); err != nil || !c.OnDefaultBranch || !slices.Equal(c.Branches, []string{"feature/login", "main"}) {
			t.Errorf("merged commit %s: got %+v (%v); want on feature/login and main", sha[:8], c, err)
		}
	}
	var after gpsync.PersonStats
	if err := h.store.Get(ctx, pk(pid), "STATS#u"+strconv.Itoa(student), &after); err != nil {
		t.Fatal(err)
	}
	if after.Commits != before.Commits || after.DefaultBranchCommits != before.DefaultBranchCommits+3 {
		t.Errorf("the student's commits: %d (%d merged) before the merge, %d (%d) after; want the same count, 3 more merged",
			before.Commits, before.DefaultBranchCommits, after.Commits, after.DefaultBranchCommits)
	}
	// The merge commit and the three that reached main: nothing else.
	if writes.n["commit"] != 4 {
		t.Errorf("the merge's sync wrote %d commit items; want 4 (the merge commit and the 3 merged)", writes.n["commit"])
	}
}
