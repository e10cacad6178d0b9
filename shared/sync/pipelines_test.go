package sync_test

import (
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// The 16-project shape of the issue (4 teams of 4 projects), one week of
// light history so that make test stays quick.
var sixteen = sim.CourseSpec{Path: "kpi/tp-16", Teams: 4, StudentsPerTeam: 4, ProjectsPerTeam: 4, Weeks: 1,
	CommitsPerStudentWeek: 2, MRsPerStudentWeek: 0.5, IssuesPerStudentWeek: 0.5, PipelinesPerProjectWeek: 2}

// TestPipelinesWithoutActivityAreSynced: GitLab moves a project's
// last_activity_at only on Events, never for a pipeline, so a scheduled
// or "Run pipeline" run and a retried pipeline show nowhere but in the
// project's pipelines. After the full sync, a sparse burst of activity
// and two such pipeline changes in projects with nothing else going on,
// one sync must store every pipeline, at one probe request per project
// not otherwise polled.
func TestPipelinesWithoutActivityAreSynced(t *testing.T) {
	h := newHarness(t, sixteen)
	h.sync(runOpts{})

	activeAt := map[int]time.Time{}
	for _, pid := range h.course.ProjectIDs {
		activeAt[pid] = lastActivity(h, pid)
	}
	if _, err := h.sim.AddActivity(5, h.course, 10); err != nil {
		t.Fatal(err)
	}
	// Two projects the activity left alone: one gets a scheduled pipeline,
	// the other has its last pipeline retried.
	var quiet []int
	for _, pid := range h.course.ProjectIDs {
		last := h.sim.Pipelines(pid)
		if len(quiet) < 2 && len(last) > 0 && lastActivity(h, pid).Equal(activeAt[pid]) {
			quiet = append(quiet, pid)
		}
	}
	if len(quiet) < 2 {
		t.Fatalf("want two projects without activity, got %v", quiet)
	}
	if _, err := h.sim.AddPipeline(quiet[0], sim.PipelineSpec{Source: "schedule", Status: "running"}); err != nil {
		t.Fatal(err)
	}
	pipes := h.sim.Pipelines(quiet[1])
	if _, err := h.sim.SetPipelineStatus(quiet[1], pipes[len(pipes)-1].ID, "running"); err != nil {
		t.Fatal(err)
	}

	before := h.sim.RequestCounts()
	sum := h.sync(runOpts{})
	total, byRoute := requests(before, h.sim.RequestCounts())
	h.compare()
	res := sum.Courses[0]
	if res.PipelineProbes+res.RepoPolls != len(h.course.ProjectIDs) || res.PipelineReads < 2 {
		t.Errorf("got %d probes, %d repo polls, %d pipeline reads for %d projects; want a probe or a poll for every project and at least 2 reads",
			res.PipelineProbes, res.RepoPolls, res.PipelineReads, len(h.course.ProjectIDs))
	}
	t.Logf("sync after activity: %d requests %v; %+v", total, byRoute, res)

	// Quiet again: 4 course requests and one probe per project not polled.
	before = h.sim.RequestCounts()
	sum = h.sync(runOpts{})
	total, byRoute = requests(before, h.sim.RequestCounts())
	res = sum.Courses[0]
	if want := 4 + res.PipelineProbes + 3*res.RepoPolls; total > want || res.PipelineReads != 0 {
		t.Errorf("no-change sync: got %d requests %v (%+v), want at most %d and no pipeline read", total, byRoute, res, want)
	}
}

// lastActivity is the project's last_activity_at in the simulator.
func lastActivity(h *harness, pid int) time.Time {
	h.t.Helper()
	p, ok := h.sim.GetProject(pid)
	if !ok {
		h.t.Fatalf("project %d: not in the simulator", pid)
	}
	return p.LastActivityAt
}
