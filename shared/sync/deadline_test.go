package sync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// TestBigProjectSyncsUnderAShortDeadline: one project of some thousands
// of commits, a worker deadline that leaves time for one page an
// invocation, and small aggregate pages. The task hands back its commit read and its aggregate several
// times, never fails a message (so never reaches the dead-letter queue),
// reads each commit page once, and ends equal to the simulator's truth.
// (make bench-sync-big runs the same on 20,000 commits under 60 s.)
func TestBigProjectSyncsUnderAShortDeadline(t *testing.T) {
	h := newHarness(t, sim.CourseSpec{Path: "kpi/tp-big", Teams: 1, StudentsPerTeam: 3, ProjectsPerTeam: 1, Weeks: 2,
		CommitsPerStudentWeek: 420, MRsPerStudentWeek: 1, IssuesPerStudentWeek: 1, PipelinesPerProjectWeek: 2})
	// The aggregate reads the items other than commits (the commit days
	// count those): pages of 10 make it several.
	h.worker.AggregatePage = 10
	// The first page of each invocation must finish before the context
	// ends (margin + 1 ms): 5 s leaves room for a loaded machine, where
	// moto took over a second per call and the 1 s margin of the other
	// tests cut even the first page, so no invocation made progress.
	h.worker.Margin = 5 * time.Second
	commits := len(h.sim.Commits(h.course.ProjectIDs[0]))
	if commits < 2000 {
		t.Fatalf("got %d commits, want a big project (2,000 or more)", commits)
	}
	before := h.sim.RequestCounts()
	// 1 ms beyond the worker's margin: every invocation reads one page
	// (of GitLab or of the aggregate) and hands the rest back, however
	// fast the machine.
	h.sync(runOpts{deadline: time.Millisecond})
	_, byRoute := requests(before, h.sim.RequestCounts())

	h.compare()
	if h.failures != 0 {
		t.Errorf("got %d failed messages, want 0 (a healthy project never fails, so never dead-letters)", h.failures)
	}
	logs := h.logs.String()
	reads, aggs := strings.Count(logs, `"step":"read"`), strings.Count(logs, `"step":"aggregate"`)
	if reads < 2 || aggs < 2 {
		t.Errorf("got %d hand-backs of the reads and %d of the aggregate, want several of each (the deadline is too short for either)", reads, aggs)
	}
	bound := commitPages(h.sim, h.course.ProjectIDs[0])
	if got := byRoute["GET /api/v4/projects/:id/repository/commits"]; float64(got) > 1.05*float64(bound) {
		t.Errorf("got %d commit requests for %d commits, want at most 1.05 x %d (each page of each branch read once)", got, commits, bound)
	}
	t.Logf("%d commits: %d requests %v; %d read and %d aggregate hand-backs", commits, len(byRoute), byRoute, reads, aggs)
}

// commitPages is the fewest commit requests a first read of project pid
// makes: the default branch in full, and each branch not merged its own
// commits (main..branch), floor(n/100)+1 each (GitLab does not count the
// list).
func commitPages(s *sim.Sim, pid int) int {
	own := map[string]int{}
	onDefault := 0
	for _, c := range s.AllCommits(pid) {
		if c.OnDefaultBranch {
			onDefault++
		} else {
			own[c.Branch]++
		}
	}
	n := onDefault/100 + 1
	for _, b := range s.Branches(pid) {
		if !b.Default && !b.Merged {
			n += own[b.Name]/100 + 1
		}
	}
	return n
}
