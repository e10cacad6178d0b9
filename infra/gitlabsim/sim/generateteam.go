// The generator's week of a team: students' commits, merge requests with their
// reviews, issues and pipelines.

package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// studentWeek plans one student's week: commits, merge requests and
// issues in the team's projects.
func (g *gen) studentWeek(team *genTeam, teacher, student int, weekStart time.Time, pace float64) {
	commits := g.poisson(g.spec.CommitsPerStudentWeek * pace)
	for range g.poisson(g.spec.MRsPerStudentWeek * pace) {
		n := min(1+g.r.IntN(4), max(commits, 1))
		commits -= n
		g.mergeRequest(team, teacher, student, g.moment(weekStart), n)
	}
	for range max(commits, 0) {
		gp := team.projects[g.r.IntN(len(team.projects))]
		spec := g.commitSpec(student, defaultBranch)
		g.plan(g.moment(weekStart), func(at time.Time) { _, _ = g.s.addCommitLocked(gp.p, gp.d, spec, at) })
	}
	for range g.poisson(g.spec.IssuesPerStudentWeek * pace) {
		g.issue(team, teacher, student, g.moment(weekStart))
	}
}

// others are the team's students other than id.
func others(team *genTeam, id int) []int {
	return slices.DeleteFunc(slices.Clone(team.StudentIDs), func(x int) bool { return x == id })
}

// mention is "@username".
func (g *gen) mention(id int) string { return "@" + g.s.users[id].Username }

// mergeRequest plans a merge request by author created at t0 with n commits
// pushed to its branch before, and its life: review requests, notes,
// approvals, a late commit, then a merge or close (or nothing, when it
// would fall after the end).
func (g *gen) mergeRequest(team *genTeam, teacher, author int, t0 time.Time, n int) {
	s := g.s
	gp := team.projects[g.r.IntN(len(team.projects))]
	gp.branches++
	topic := g.title()
	branchName := fmt.Sprintf("%s/%s-%d", g.pick([]string{"feature", "fix", "lab"}), strings.ReplaceAll(strings.ToLower(topic), " ", "-"), gp.branches)
	offsets := make([]time.Duration, n)
	for i := range offsets {
		offsets[i] = time.Duration(g.r.IntN(36*3600)) * time.Second
	}
	slices.SortFunc(offsets, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	for _, off := range offsets {
		at := t0.Add(-off - time.Minute)
		if !at.After(gp.d.createdAt) {
			at = gp.d.createdAt.Add(time.Minute)
		}
		spec := g.commitSpec(author, branchName)
		g.plan(at, func(at time.Time) { _, _ = s.addCommitLocked(gp.p, gp.d, spec, at) })
	}

	mates := others(team, author)
	reviewers := []int{teacher}
	if len(mates) > 0 {
		reviewers = []int{pickInt(g.r, mates)}
		if len(mates) > 1 && g.r.IntN(3) == 0 {
			second := pickInt(g.r, mates)
			if second != reviewers[0] {
				reviewers = append(reviewers, second)
			}
		}
	}
	assignees := []int{author}
	if len(mates) > 0 && g.r.IntN(10) < 3 {
		assignees = []int{pickInt(g.r, mates)}
	}

	end := g.end
	outcome, resolve := "open", t0.Add(time.Hour+time.Duration(g.r.ExpFloat64()*30*float64(time.Hour)))
	switch x := g.r.Float64(); {
	case resolve.After(end):
	case x < 0.70:
		outcome = stateMerged
	case x < 0.82:
		outcome = stateClosed
	}
	last := end
	if outcome != "open" {
		last = resolve
	}
	gm := &genMR{gp: gp}
	var closes []int
	desc := "Implements " + strings.ToLower(topic) + "."
	for _, gi := range gp.candidates {
		if !gi.claimed && gi.created.Before(t0) && g.r.IntN(10) < 4 {
			gi.claimed = true
			gm.closing = append(gm.closing, gi)
			break
		}
	}
	draft := outcome == "open" && g.r.IntN(10) < 3
	title := strings.ToUpper(topic[:1]) + topic[1:]
	if draft {
		title = "Draft: " + title
	}
	labels := []string{}
	if g.r.IntN(3) == 0 {
		labels = []string{g.pick(labelSet)}
	}
	g.plan(t0, func(at time.Time) {
		for _, gi := range gm.closing {
			closes = append(closes, gi.is.IID)
			desc += fmt.Sprintf("\n\nCloses #%d", gi.is.IID)
		}
		m, err := s.addMRLocked(gp.p, gp.d, MRSpec{
			AuthorID: author, Title: title, Description: desc, SourceBranch: branchName, AssigneeIDs: assignees,
			ReviewerIDs: reviewers, Draft: draft, Labels: labels, ClosesIssues: closes,
		}, at)
		if err != nil {
			return
		}
		gm.m = m
		gp.open = append(gp.open, gm)
		s.addNoteLocked(gp.d, m, NoteSpec{AuthorID: author, Body: "assigned to " + g.mention(assignees[0]), System: true}, at.Add(time.Second))
		body := "requested review from " + g.mention(reviewers[0])
		if len(reviewers) > 1 {
			body += " and " + g.mention(reviewers[1])
		}
		s.addNoteLocked(gp.d, m, NoteSpec{AuthorID: author, Body: body, System: true}, at.Add(2*time.Second))
	})
	window := last.Sub(t0)
	during := func() time.Time { return t0.Add(time.Duration(g.r.Float64() * float64(window))) }

	if gp.bot != 0 && g.r.IntN(4) == 0 {
		at := t0.Add(time.Duration(3+g.r.IntN(8)) * time.Minute)
		cov := fmt.Sprintf("Coverage report: %.1f%% (%+.1f%%)", 55+40*g.r.Float64(), 4*g.r.Float64()-2)
		if at.Before(last) {
			g.plan(at, func(at time.Time) { g.note(gm, NoteSpec{AuthorID: gp.bot, Body: cov}, at) })
		}
	}
	for range g.poisson(2.2) {
		var who int
		body := g.pick(comments)
		switch x := g.r.IntN(10); {
		case x < 5:
			who = pickInt(g.r, reviewers)
		case x < 7 && len(mates) > 0:
			who = pickInt(g.r, mates)
		case x < 9:
			who = author
		default:
			who, body = teacher, g.pick(teacherComments)
		}
		g.plan(during(), func(at time.Time) { g.note(gm, NoteSpec{AuthorID: who, Body: body}, at) })
	}
	if g.r.IntN(10) < 3 {
		spec := g.commitSpec(author, branchName)
		g.plan(during(), func(at time.Time) { _, _ = s.addCommitLocked(gp.p, gp.d, spec, at) })
	}
	approvers := slices.DeleteFunc(slices.Clone(reviewers), func(id int) bool { return id == author })
	if (outcome == stateMerged && g.r.IntN(10) < 8) || (outcome == "open" && g.r.IntN(4) == 0) {
		for i, who := range approvers {
			if i == 0 || g.r.IntN(2) == 0 {
				at := t0.Add(time.Duration((0.5 + 0.5*g.r.Float64()) * float64(window)))
				g.plan(at.Add(-time.Second), func(at time.Time) {
					if gm.m != nil {
						_ = s.approveLocked(gp.d, gm.m, who, at)
					}
				})
			}
		}
	}
	switch outcome {
	case stateMerged:
		by := author
		if g.r.IntN(2) == 0 {
			by = reviewers[0]
		}
		g.plan(resolve, func(at time.Time) {
			if gm.m != nil && s.mergeLocked(gp.p, gp.d, gm.m, by, at) == nil {
				gp.open = slices.DeleteFunc(gp.open, func(x *genMR) bool { return x == gm })
			}
		})
	case stateClosed:
		by := author
		if g.r.IntN(3) == 0 {
			by = teacher
		}
		g.plan(resolve, func(at time.Time) {
			if gm.m != nil && gp.d.closeMR(gm.m, by, at) == nil {
				gp.open = slices.DeleteFunc(gp.open, func(x *genMR) bool { return x == gm })
			}
		})
	}
}

// note adds a note to a planned merge request once it exists.
func (g *gen) note(gm *genMR, spec NoteSpec, at time.Time) {
	if gm.m != nil {
		g.s.addNoteLocked(gm.gp.d, gm.m, spec, at)
	}
}

// issue plans an issue opened at t by author (or now and then the
// teacher): closed by hand later, left for a merge request to close, or
// left open.
func (g *gen) issue(team *genTeam, teacher, author int, t time.Time) {
	gp := team.projects[g.r.IntN(len(team.projects))]
	if g.r.IntN(10) == 0 {
		author = teacher
	}
	labels := []string{g.pick(labelSet)}
	if g.r.IntN(3) == 0 {
		if l := g.pick(labelSet); l != labels[0] {
			labels = append(labels, l)
		}
	}
	var assignees []int
	if g.r.IntN(10) < 7 {
		assignees = []int{pickInt(g.r, team.StudentIDs)}
	}
	spec := IssueSpec{AuthorID: author, Title: g.title(), Description: g.pick(bodies), AssigneeIDs: assignees, Labels: labels}
	gi := &genIssue{gp: gp, created: t}
	g.plan(t, func(at time.Time) { gi.is = g.s.addIssueLocked(gp.p, gp.d, spec, at) })
	switch x := g.r.IntN(100); {
	case x < 35:
		gp.candidates = append(gp.candidates, gi)
	case x < 70:
		closer := author
		if len(assignees) > 0 && g.r.IntN(2) == 0 {
			closer = assignees[0]
		}
		g.closeIssueLater(gi, closer)
	}
}

// closeIssueLater plans closing an issue by hand 1 to 14 days after it was
// opened, unless that falls after the end.
func (g *gen) closeIssueLater(gi *genIssue, by int) {
	at := gi.created.Add(time.Duration(1+g.r.IntN(14*24)) * time.Hour)
	if at.After(g.end) {
		return
	}
	g.plan(at, func(at time.Time) {
		if gi.is != nil && gi.is.State == stateOpened {
			gi.gp.d.closeIssue(gi.is, by, at)
		}
	})
}

// pipeline plans a pipeline created at t on the default branch or an open
// merge request's branch: pending, running a little later, then finished
// (success, failed, canceled) after a few minutes, each step only if it
// falls before the end. With running, it is still running at the end.
func (g *gen) pipeline(gp *genProject, teacher int, t time.Time, running bool) {
	queued := time.Duration(5+g.r.IntN(175)) * time.Second
	duration := time.Duration(60+g.r.IntN(1140)) * time.Second
	final := "success"
	switch x := g.r.IntN(100); {
	case x < 22:
		final = "failed"
	case x < 29:
		final = "canceled"
	case x < 31:
		final = "skipped"
	}
	onBranch, source := g.r.IntN(100) < 35, "push"
	switch x := g.r.IntN(100); {
	case x < 5:
		source = "schedule"
	case x < 8:
		source = "web"
	}
	pick := g.r.Uint32()
	var pl *Pipeline
	g.plan(t, func(at time.Time) {
		ref := defaultBranch
		if onBranch && len(gp.open) > 0 && source == "push" {
			ref = gp.open[int(pick)%len(gp.open)].m.SourceBranch
		}
		br := gp.d.branches[ref]
		user := teacher
		if c := gp.d.bySHA[br.head]; c != nil && c.AuthorID != 0 && source != "schedule" {
			user = c.AuthorID
		}
		status := "pending"
		if final == "skipped" && !running {
			status = "skipped"
		}
		pl, _ = g.s.addPipelineLocked(gp.p, gp.d, PipelineSpec{Ref: ref, SHA: br.head, Source: source, Status: status, UserID: user}, at)
	})
	if final == "skipped" && !running {
		return
	}
	start := t.Add(queued)
	if running {
		start = g.end.Add(-time.Minute)
	}
	if start.After(g.end) {
		return
	}
	g.plan(start, func(at time.Time) {
		if pl != nil {
			gp.d.setPipelineStatus(pl, "running", at)
		}
	})
	if finish := start.Add(duration); !running && !finish.After(g.end) {
		g.plan(finish, func(at time.Time) {
			if pl != nil {
				gp.d.setPipelineStatus(pl, final, at)
			}
		})
	}
}
