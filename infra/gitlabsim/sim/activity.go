// Activity added to a generated course after its first sync (AddActivity).

package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Activity counts the changes AddActivity made.
type Activity struct {
	Commits           int `json:"commits"`
	MergeRequests     int `json:"merge_requests"`
	Notes             int `json:"notes"`
	Approvals         int `json:"approvals"`
	Merges            int `json:"merges"`
	Issues            int `json:"issues"`
	ClosedIssues      int `json:"closed_issues"`
	Pipelines         int `json:"pipelines"`
	FinishedPipelines int `json:"finished_pipelines"`
}

// Total is the number of changes.
func (a Activity) Total() int {
	return a.Commits + a.MergeRequests + a.Notes + a.Approvals + a.Merges + a.Issues + a.ClosedIssues + a.Pipelines + a.FinishedPipelines
}

// AddActivity makes n random changes to a course's projects from the
// clock's now on, a millisecond apart, as students and the teacher would
// between two syncs: commits to the default branch or an open merge
// request's branch, notes, approvals,
// merges, new merge requests, issues opened and closed, pipelines started
// and finished (running ones first). Each change moves what GitLab moves
// (updated_at, last_activity_at at most hourly). The same seed on the same
// data makes the same changes. It fails for a course whose group or
// projects no longer exist.
func (s *Sim) AddActivity(seed int64, course Course, n int) (Activity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var act Activity
	var teams []Team
	for _, t := range course.Teams {
		if len(t.ProjectIDs) > 0 && len(t.StudentIDs) > 0 {
			teams = append(teams, t)
		}
		for _, id := range t.ProjectIDs {
			if s.projects[id] == nil {
				return act, fmt.Errorf("add activity: project %d: %w", id, errNotFound)
			}
		}
	}
	if len(teams) == 0 {
		return act, fmt.Errorf("add activity: course %q has no team with projects and students", course.Path)
	}
	g := &gen{s: s, r: rand.New(rand.NewPCG(uint64(seed), 0xa5a5a5a5a5a5a5a5))}
	start := stamp(s.now())
	for i := range n {
		// A millisecond apart, as changes by many people are: no two
		// share an updated_at, so no list cursor meets a crowd at its
		// boundary.
		now := start.Add(time.Duration(i) * time.Millisecond)
		team := teams[g.r.IntN(len(teams))]
		p := s.projects[pickInt(g.r, team.ProjectIDs)]
		d := s.data[p.ID]
		student := pickInt(g.r, team.StudentIDs)
		var open []*MergeRequest
		for _, m := range d.mrs {
			if m.State == stateOpened {
				open = append(open, m)
			}
		}
		mrOf := func() *MergeRequest {
			if len(open) == 0 {
				return nil
			}
			return open[g.r.IntN(len(open))]
		}
		switch x := g.r.IntN(100); {
		case x < 25:
			branch := defaultBranch
			if m := mrOf(); m != nil && g.r.IntN(2) == 0 {
				branch = m.SourceBranch
			}
			if _, err := s.addCommitLocked(p, d, g.commitSpec(student, branch), now); err == nil {
				act.Commits++
			}
		case x < 45:
			if m := mrOf(); m != nil {
				s.addNoteLocked(d, m, NoteSpec{AuthorID: pickInt(g.r, append(slices.Clone(team.StudentIDs), course.TeacherID)), Body: g.pick(comments)}, now)
				act.Notes++
				continue
			}
			fallthrough
		case x < 55:
			branch := fmt.Sprintf("feature/activity-%d-%d", len(d.mrs)+1, g.r.IntN(1000))
			if _, err := s.addCommitLocked(p, d, g.commitSpec(student, branch), now); err == nil {
				act.Commits++
			}
			reviewers := others(&genTeam{Team: team}, student)
			if len(reviewers) == 0 {
				reviewers = []int{course.TeacherID}
			}
			title := g.title()
			if _, err := s.addMRLocked(p, d, MRSpec{
				AuthorID: student, Title: title, SourceBranch: branch,
				AssigneeIDs: []int{student}, ReviewerIDs: reviewers[:1],
			}, now); err == nil {
				act.MergeRequests++
			}
		case x < 63:
			if m := mrOf(); m != nil {
				by := pickInt(g.r, append(slices.Clone(team.StudentIDs), course.TeacherID))
				if by != m.AuthorID && !slices.ContainsFunc(m.Approvals, func(a Approval) bool { return a.UserID == by }) {
					if s.approveLocked(d, m, by, now) == nil {
						act.Approvals++
					}
				}
			}
		case x < 75:
			if m := mrOf(); m != nil && s.mergeLocked(p, d, m, pickInt(g.r, team.StudentIDs), now) == nil {
				act.Merges++
			}
		case x < 90:
			var busy *Pipeline
			for _, pl := range d.pipelines {
				if pl.Status == "running" || pl.Status == "pending" || pl.Status == "created" {
					busy = pl
					break
				}
			}
			if busy != nil {
				d.setPipelineStatus(busy, []string{"success", "success", "failed"}[g.r.IntN(3)], now)
				act.FinishedPipelines++
				continue
			}
			if _, err := s.addPipelineLocked(p, d, PipelineSpec{Status: "running", UserID: student}, now); err == nil {
				act.Pipelines++
			}
		case x < 96:
			s.addIssueLocked(p, d, IssueSpec{AuthorID: student, Title: g.title(), Labels: []string{g.pick(labelSet)}}, now)
			act.Issues++
		default:
			for _, is := range d.issues {
				if is.State == stateOpened {
					d.closeIssue(is, student, now)
					act.ClosedIssues++
					break
				}
			}
		}
	}
	return act, nil
}
