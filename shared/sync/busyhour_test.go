package sync_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

const (
	membersRoute   = "GET /api/v4/projects/:id/members/all"
	pipelinesRoute = "GET /api/v4/projects/:id/pipelines"
	commitsRoute   = "GET /api/v4/projects/:id/repository/commits"
)

// busy is a course synced, then given activity at T and synced again six
// minutes later, as a 15-minute schedule would after students pushed: the
// start of the hour in which GitLab's last_activity_at cannot move again.
func busy(t *testing.T) (*harness, *testenv.Shifted) {
	t.Helper()
	clk := &testenv.Shifted{}
	h := newHarnessAt(t, small, clk.Now)
	h.sync(runOpts{})
	if _, err := h.sim.AddActivity(21, h.course, 40); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	h.sync(runOpts{})
	h.compare()
	return h, clk
}

// counted runs a sync and returns its requests by route and its summary.
func (h *harness) counted() (int, map[string]int, gpsync.CourseResult) {
	h.t.Helper()
	before := h.sim.RequestCounts()
	sum := h.sync(runOpts{})
	total, byRoute := requests(before, h.sim.RequestCounts())
	return total, byRoute, sum.Courses[0]
}

// TestBusyHourCostsAProbeAProject is the sync right after activity, when
// every project's last_activity_at is within the hour: with nothing new it
// costs the course's lists and one pipelines probe a project (updated_at,
// which a push moves within five minutes, proves no commit came), a push
// in that hour is polled for that project alone, and a member who joins
// in it is read once the hour has closed.
func TestBusyHourCostsAProbeAProject(t *testing.T) {
	h, clk := busy(t)
	n := len(h.course.ProjectIDs)
	goal := (n+99)/100 + 3 + n

	clk.Skip(15 * time.Minute) // T+21m
	total, byRoute, res := h.counted()
	if total > goal || res.RepoPolls != 0 || byRoute[membersRoute] != 0 || byRoute[pipelinesRoute] != n {
		t.Errorf("no-change sync in the busy hour: %d requests %v, %d repository polls; want at most %d (one pipelines probe a project) and no poll", total, byRoute, res.RepoPolls, goal)
	}
	h.compare()

	// A push in the busy hour: that project's commits, not its members.
	pushed := h.course.ProjectIDs[0]
	student := h.course.Teams[0].StudentIDs[0]
	if _, err := h.sim.AddCommit(pushed, sim.CommitSpec{AuthorID: student, Branch: "main", Title: "busy-hour push"}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute) // T+27m
	_, byRoute, res = h.counted()
	if res.RepoPolls != 1 || byRoute[commitsRoute] != 1 || byRoute[membersRoute] != 0 {
		t.Errorf("sync after a push in the busy hour: %d repository polls, requests %v; want one poll (commits once, members not)", res.RepoPolls, byRoute)
	}
	h.compare()

	// A member joins in the busy hour: no sign of it until the hour closes.
	late := h.sim.AddUser("late-joiner", "Late Joiner", false)
	if err := h.sim.AddMember("project", pushed, late.ID, 30); err != nil {
		t.Fatal(err)
	}
	clk.Skip(15 * time.Minute) // T+42m
	if _, byRoute, _ = h.counted(); byRoute[membersRoute] != 0 {
		t.Errorf("members read in the busy hour: %v", byRoute)
	}
	var m struct{}
	if err := h.store.Get(context.Background(), pk(pushed), "MEMBER#"+strconv.Itoa(late.ID), &m); err == nil {
		t.Fatalf("the late member is stored before the hour closed: the test does not test the deferral")
	}
	clk.Skip(20 * time.Minute) // T+62m: the hour after T has closed
	_, byRoute, _ = h.counted()
	if byRoute[membersRoute] == 0 {
		t.Errorf("the first sync after the busy hour read no members: %v", byRoute)
	}
	h.compare()
	clk.Skip(15 * time.Minute)
	if total, byRoute, res = h.counted(); total > goal || res.RepoPolls != 0 {
		t.Errorf("after the closing poll: %d requests %v, %d polls; want at most %d and none", total, byRoute, res.RepoPolls, goal)
	}
}

// TestHooksWorkingSkipTheProbe: a project whose webhooks are known to work
// (a webhook task ran after everything GitLab shows) costs no request in
// a sync, except one pipelines probe an hour, which catches a pipeline
// whose webhook was lost; a push whose webhook never came shows in
// updated_at and is polled.
func TestHooksWorkingSkipTheProbe(t *testing.T) {
	h, clk := busy(t)
	ctx := context.Background()
	n, pid := len(h.course.ProjectIDs), h.course.ProjectIDs[0]
	clk.Skip(56 * time.Minute) // T+62m: past the busy hour and its closing poll
	h.sync(runOpts{})
	claim, err := gpsync.ClaimHook(ctx, h.store, int64(h.course.GroupID), int64(pid), gpsync.HookChange{Kind: gpsync.HookPipeline}, "ev-1", clk.Now())
	if err != nil || claim != gpsync.ClaimQueue {
		t.Fatalf("claim: %v %v", claim, err)
	}
	if err := h.worker.Process(ctx, gpsync.HookTask(int64(h.course.GroupID), int64(pid), clk.Now())); err != nil {
		t.Fatal(err)
	}

	clk.Skip(15 * time.Minute)
	_, byRoute, res := h.counted()
	if res.PipelineProbesSkipped != 1 || res.PipelineProbes != n-1 || byRoute[pipelinesRoute] != n-1 {
		t.Errorf("hooks working on one project: %d probes skipped, %d made (%v); want 1 and %d", res.PipelineProbesSkipped, res.PipelineProbes, byRoute, n-1)
	}

	// A pipeline whose webhook GitLab never delivered: found by the
	// hourly probe.
	if _, err := h.sim.AddPipeline(pid, sim.PipelineSpec{Status: "success"}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(50 * time.Minute) // 65 minutes after the project's last probe (the closing poll)
	if _, _, res = h.counted(); res.PipelineProbesSkipped != 0 || res.PipelineReads != 1 || res.RepoPolls != 0 {
		t.Errorf("an hour later: %d probes skipped, %d pipeline reads; %d polls; want the probe, finding the pipeline", res.PipelineProbesSkipped, res.PipelineReads, res.RepoPolls)
	}
	h.compare()

	// A push with no webhook: updated_at is newer than the last webhook
	// task, so the hooks are not trusted and the project is polled.
	if _, err := h.sim.AddCommit(pid, sim.CommitSpec{AuthorID: h.course.Teams[0].StudentIDs[0], Title: "unannounced"}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	if _, _, res = h.counted(); res.RepoPolls != 1 || res.PipelineProbesSkipped != 0 {
		t.Errorf("a push whose webhook never came: %d polls, %d probes skipped; want 1 and 0", res.RepoPolls, res.PipelineProbesSkipped)
	}
	h.compare()
}
