package sync_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// oneCommit syncs a one-project course whose students commit perWeek
// times a week, pushes one commit, and returns the DynamoDB requests of
// the worker's task for it, and the project's commits.
func oneCommit(t *testing.T, perWeek float64) (*testenv.Calls, int) {
	clk := &testenv.Shifted{}
	h := newHarnessAt(t, sim.CourseSpec{Path: "kpi/history", SoloProjects: 1, StudentsPerTeam: 3, Weeks: 2, CommitsPerStudentWeek: perWeek}, clk.Now)
	// Small pages: reading the project's history would cost requests
	// in proportion to it.
	h.worker.AggregatePage = 100
	h.sync(runOpts{})
	pid := h.course.ProjectIDs[0]
	if _, err := h.sim.AddCommit(pid, sim.CommitSpec{AuthorID: h.course.StudentIDs[0], Title: "one more", Additions: 3}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	calls := testenv.CountCalls(h.worker.Store.DB)
	h.worker.Store.DB = calls
	h.sync(runOpts{})
	h.compare()
	return calls, len(h.sim.AllCommits(pid))
}

// TestOneCommitCostsTheSameWhateverTheHistory: the task of one new commit
// makes as many DynamoDB requests on a project of 40 times the commits:
// its reads and writes follow the change, not the history (the commit
// days hold the counts; the aggregate reads no commit item).
func TestOneCommitCostsTheSameWhateverTheHistory(t *testing.T) {
	small, nSmall := oneCommit(t, 5)
	big, nBig := oneCommit(t, 200)
	if nBig < 20*nSmall {
		t.Fatalf("the projects have %d and %d commits: not the sizes the test needs", nSmall, nBig)
	}
	t.Logf("one new commit: %d commits, %v; %d commits, %v", nSmall, small.Of(), nBig, big.Of())
	// The other items (merge requests, notes, issues) differ a little
	// between the two generated projects: one aggregate page at most.
	if big.Reads() > small.Reads()+1 || big.Writes() != small.Writes() {
		t.Errorf("one new commit: %d reads and %d writes on a project of %d commits, %d and %d on one of %d; want the same (reads within one page)",
			big.Reads(), big.Writes(), nBig, small.Reads(), small.Writes(), nSmall)
	}
}

// TestCommitDaysFillOnTheNextPoll: a project synced before commit days
// (its state without them, no CDAY#/CSUM# items) is counted from its
// commit items until its next repository poll, which reads every branch
// from the start and fills the days; the counts are exact throughout,
// and the poll after that reads only what is new.
func TestCommitDaysFillOnTheNextPoll(t *testing.T) {
	clk := &testenv.Shifted{}
	h := newHarnessAt(t, small, clk.Now)
	h.sync(runOpts{})
	ctx := context.Background()
	pid := h.course.ProjectIDs[0]
	cpk, ssk := store.CoursePK(int64(h.course.GroupID)), "SYNC#"+strconv.Itoa(pid)
	var st gpsync.ProjectState
	if err := h.store.Get(ctx, cpk, ssk, &st); err != nil || !st.CommitDays {
		t.Fatalf("after the first sync: state %+v (%v); want commit days on", st, err)
	}
	// As an earlier version left it.
	st.CommitDays = false
	if err := h.store.Put(ctx, store.Item{PK: cpk, SK: ssk, Kind: "sync_state", Value: st}); err != nil {
		t.Fatal(err)
	}
	days := 0
	for _, prefix := range []string{"CDAY#", "CSUM#"} {
		if err := h.store.Each(ctx, pk(pid), prefix, func(sk string, _ map[string]ddbtypes.AttributeValue) error {
			days++
			return h.store.Delete(ctx, pk(pid), sk)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if days == 0 {
		t.Fatal("the first sync stored no commit days")
	}
	if _, err := h.sim.AddCommit(pid, sim.CommitSpec{AuthorID: h.course.Teams[0].StudentIDs[0], Title: "after the upgrade", Additions: 4}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	_, byRoute, _ := h.counted()
	h.compare()
	if err := h.store.Get(ctx, cpk, ssk, &st); err != nil || !st.CommitDays || st.DaysRebuild {
		t.Fatalf("after the poll: state %+v (%v); want commit days on, the rebuild done", st, err)
	}
	want := 0
	for range h.sim.AllCommits(pid) {
		want++
	}
	if byRoute[commitsRoute] < (want+99)/100 {
		t.Errorf("the rebuilding poll made %d commit requests for %d commits; want every branch read from the start", byRoute[commitsRoute], want)
	}
	if _, err := h.sim.AddCommit(pid, sim.CommitSpec{AuthorID: h.course.Teams[0].StudentIDs[0], Title: "and one more", Additions: 5}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	if _, byRoute, _ = h.counted(); byRoute[commitsRoute] != 1 {
		t.Errorf("the poll after the rebuild made %d commit requests for one new commit; want 1", byRoute[commitsRoute])
	}
	h.compare()
}
