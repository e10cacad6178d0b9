package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// The issue's minimum course size for the benchmark.
const (
	minProjects  = 40
	minCommits   = 20000
	minMRs       = 3000
	minIssues    = 5000
	minPipelines = 5000
)

// GitLab's largest page: the lower bound reads every list at this size.
const perPage = 100

// Endpoint keys as the simulator counts requests.
const (
	epDescendants = "GET /api/v4/groups/:id/descendant_groups"
	epProjects    = "GET /api/v4/groups/:id/projects"
	epGroupMRs    = "GET /api/v4/groups/:id/merge_requests"
	epGroupIssues = "GET /api/v4/groups/:id/issues"
	epMembers     = "GET /api/v4/projects/:id/members/all"
	epStaff       = "GET /api/v4/groups/:id/members/all"
	epCommits     = "GET /api/v4/projects/:id/repository/commits"
	epBranches    = "GET /api/v4/projects/:id/repository/branches"
	epPipelines   = "GET /api/v4/projects/:id/pipelines"
	epNotes       = "GET /api/v4/projects/:id/merge_requests/:merge_request_iid/notes"
	epApprovals   = "GET /api/v4/projects/:id/merge_requests/:merge_request_iid/approvals"
	epClosesIssue = "GET /api/v4/projects/:id/merge_requests/:merge_request_iid/closes_issues"
)

// startSim starts a simulator on a loopback port and returns it with its
// base URL and a function that stops it.
func startSim(now func() time.Time) (*sim.Sim, string, func(), error) {
	s := sim.New(sim.WithClock(now))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("simulator: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return s, "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// generate makes the course: its activity ends at least quiet before now
// (at a midnight UTC, so that a seed gives the same course whenever it
// runs), and the pipelines still running at the end are finished, so that
// an incremental sync right after the full one has nothing to do. It
// returns the course and how many pipelines it finished.
func generate(s *sim.Sim, now time.Time, seed int64, spec sim.CourseSpec, quiet time.Duration) (sim.Course, int, error) {
	spec.Start = now.UTC().Add(-quiet).AddDate(0, 0, -7*max(spec.Weeks, 1)).Truncate(24 * time.Hour)
	course := s.GenerateCourse(seed, spec)
	finished := 0
	for _, pid := range course.ProjectIDs {
		for _, pl := range s.Pipelines(pid) {
			if pl.Status == "running" || pl.Status == "pending" || pl.Status == "created" {
				if _, err := s.SetPipelineStatus(pid, pl.ID, "success"); err != nil {
					return course, finished, err
				}
				finished++
			}
		}
	}
	return course, finished, nil
}

// projectTruth is one project's data as the simulator holds it, and what
// of it changed since the truth's reference time.
type projectTruth struct {
	members, commits, mrs, merged, notes, issues, pipelines int
	// notePages is the notes pages of all its merge requests at 100 a
	// page (at least one per merge request: an empty list is one call).
	notePages int
	// Changed since the reference time (with none, everything): merge
	// requests (merged ones, their notes pages), issues, pipelines; active
	// is any change at all.
	active                                      bool
	mrsChanged, mergedChanged, notePagesChanged int
	issuesChanged, pipelinesChanged             int
	notesChanged                                int // notes created or edited
	// Commits of every branch, by SHA: whether the default branch reaches
	// it, and the branch it was pushed to; the branches with their heads.
	onDefault map[string]bool
	pushedTo  map[string]string
	day       map[string]string // the UTC day it was authored on
	branches  []sim.BranchInfo
}

// truth is a course's data as the simulator holds it: the reference for
// the lower bound and for the correctness check.
type truth struct {
	groups    int // descendant groups of the course
	projects  map[int]projectTruth
	order     []int // project ids in course order
	lastEvent time.Time
}

// readTruth reads a course's data from the simulator, and what changed at
// or after since (zero: everything counts as changed).
func readTruth(s *sim.Sim, c sim.Course, since time.Time) truth {
	t := truth{groups: len(s.Groups(c.GroupID)) - 1, projects: map[int]projectTruth{}, order: c.ProjectIDs}
	seen := func(at time.Time) bool {
		if at.After(t.lastEvent) {
			t.lastEvent = at
		}
		return !at.Before(since)
	}
	for _, pid := range c.ProjectIDs {
		p := projectTruth{active: since.IsZero()}
		p.members = len(s.Members(pid))
		p.onDefault, p.pushedTo, p.day = map[string]bool{}, map[string]string{}, map[string]string{}
		for _, cm := range s.AllCommits(pid) {
			p.commits++
			p.onDefault[cm.SHA], p.pushedTo[cm.SHA] = cm.OnDefaultBranch, cm.Branch
			p.day[cm.SHA] = cm.AuthoredDate.UTC().Format(time.DateOnly)
			if seen(cm.CommittedDate) {
				p.active = true
			}
		}
		p.branches = s.Branches(pid)
		for _, m := range s.MergeRequests(pid) {
			p.mrs++
			p.notes += len(m.Notes)
			for _, n := range m.Notes {
				if !n.UpdatedAt.Before(since) {
					p.notesChanged++
				}
			}
			p.notePages += pagesCounted(len(m.Notes))
			if m.State == "merged" {
				p.merged++
			}
			if seen(m.UpdatedAt) {
				p.active = true
				p.mrsChanged++
				p.notePagesChanged += pagesCounted(len(m.Notes))
				if m.State == "merged" {
					p.mergedChanged++
				}
			}
		}
		for _, is := range s.Issues(pid) {
			p.issues++
			if seen(is.UpdatedAt) {
				p.active = true
				p.issuesChanged++
			}
		}
		for _, pl := range s.Pipelines(pid) {
			p.pipelines++
			seen(pl.CreatedAt) // activity: its finishing may have been ours
			if !pl.UpdatedAt.Before(since) {
				p.active = true
				p.pipelinesChanged++
			}
		}
		t.projects[pid] = p
	}
	return t
}

// total sums one figure over the projects.
func (t truth) total(f func(projectTruth) int) int {
	n := 0
	for _, p := range t.projects {
		n += f(p)
	}
	return n
}

// largest returns the project with the most commits and merge request
// notes: the heaviest task for the worker.
func (t truth) largest() int {
	best, size := 0, -1
	for _, pid := range t.order {
		p := t.projects[pid]
		if n := p.commits + p.notes; n > size {
			best, size = pid, n
		}
	}
	return best
}

// pagesCounted is the requests a counted list of n items costs at 100 a
// page: GitLab's X-Next-Page ends it on the last page, and an empty list
// still takes one call.
func pagesCounted(n int) int { return max(1, (n+perPage-1)/perPage) }

// pagesUncounted is the requests the commits list costs: GitLab pages it
// without counting, so a full last page advertises a next page that comes
// back empty: floor(n/100)+1.
func pagesUncounted(n int) int { return n/perPage + 1 }

// lowerBound is the fewest GitLab requests that read what changed from
// prev (the data synced before; empty for a full sync) to t, by endpoint:
// every list at 100 a page (descendant groups, group projects, the changed
// group merge requests and issues; per project with changes its members,
// its new commits and its changed pipelines) and the per-merge-request
// calls of the changed ones (notes pages, approvals, and closes_issues for
// a merged one).
func lowerBound(prev, t truth) map[string]int {
	lb := map[string]int{
		epDescendants: pagesCounted(t.groups),
		epProjects:    pagesCounted(len(t.projects)),
		epGroupMRs:    pagesCounted(t.total(func(p projectTruth) int { return p.mrsChanged })),
		epGroupIssues: pagesCounted(t.total(func(p projectTruth) int { return p.issuesChanged })),
	}
	for pid, p := range t.projects {
		if p.active {
			lb[epMembers] += pagesCounted(p.members)
			lb[epBranches] += pagesCounted(len(p.branches))
			lb[epCommits] += rangePages(prev.projects[pid], p)
			lb[epPipelines] += pagesCounted(p.pipelinesChanged)
		} else if len(prev.projects) > 0 {
			lb[epPipelines]++ // the probe that proves no pipeline changed
		}
		lb[epNotes] += p.notePagesChanged
		lb[epApprovals] += p.mrsChanged
		lb[epClosesIssue] += p.mergedChanged
	}
	return lb
}

// rangePages is the commits requests of a project's poll from prev to p:
// per branch whose head moved (the default one, or one not merged) its
// range old..new, the commits it gained: on the default branch those it
// reaches now and did not before, on another the commits pushed to it
// that it did not have.
func rangePages(prev, p projectTruth) int {
	old := map[string]string{}
	for _, b := range prev.branches {
		old[b.Name] = b.Head
	}
	n := 0
	for _, b := range p.branches {
		if old[b.Name] == b.Head || b.Merged {
			continue
		}
		gained := 0
		for sha, on := range p.onDefault {
			_, had := prev.onDefault[sha]
			switch {
			case b.Default && on && !prev.onDefault[sha]:
				gained++
			case !b.Default && !on && p.pushedTo[sha] == b.Name && !had:
				gained++
			}
		}
		n += pagesUncounted(gained)
	}
	return n
}

// commitsChanged is the commit items a sync from prev to p must write:
// the new ones and those the default branch reaches now and did not.
func commitsChanged(prev, p projectTruth) int {
	n, _ := commitChanges(prev, p)
	return n
}

// commitChanges is commitsChanged, and the days (UTC, authored) of the
// changed commits: each changes its commit day's record and summary.
func commitChanges(prev, p projectTruth) (int, int) {
	n, days := 0, map[string]bool{}
	for sha, on := range p.onDefault {
		if was, had := prev.onDefault[sha]; !had || (on && !was) {
			n++
			days[p.day[sha]] = true
		}
	}
	return n, len(days)
}

// printCourse prints the generated course's size and checks it against
// the issue's minimums.
func printCourse(c sim.Course, t truth, finished int) {
	mrs := t.total(func(p projectTruth) int { return p.mrs })
	notes := t.total(func(p projectTruth) int { return p.notes })
	commits := t.total(func(p projectTruth) int { return p.commits })
	issues := t.total(func(p projectTruth) int { return p.issues })
	pipes := t.total(func(p projectTruth) int { return p.pipelines })
	members := t.total(func(p projectTruth) int { return p.members })
	fmt.Printf("Course %s (group %d): %d teams, %d students\n", c.Path, c.GroupID, len(c.Teams), len(c.StudentIDs))
	row := func(what string, n, min int) {
		if min == 0 {
			fmt.Printf("  %-22s %8d\n", what, n)
			return
		}
		fmt.Printf("  %-22s %8d (minimum %d: %s)\n", what, n, min, okMiss(n >= min, "ok", "BELOW"))
	}
	row("projects", len(t.projects), minProjects)
	row("descendant groups", t.groups, 0)
	row("members (all projects)", members, 0)
	row("commits (all branches)", commits, minCommits)
	row("merge requests", mrs, minMRs)
	row("MR notes", notes, 0)
	row("issues", issues, minIssues)
	row("pipelines", pipes, minPipelines)
	lp := t.projects[t.largest()]
	fmt.Printf("  largest project %d: %d commits, %d MRs, %d notes, %d issues, %d pipelines\n",
		t.largest(), lp.commits, lp.mrs, lp.notes, lp.issues, lp.pipelines)
	fmt.Printf("  activity ends %s ago; %d running pipelines finished (success)\n",
		time.Since(t.lastEvent).Round(time.Minute), finished)
}
