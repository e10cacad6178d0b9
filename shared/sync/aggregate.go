package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// aggAcc is a project's aggregate over the items read so far, in any
// number of steps: what the items say, kept in a form that does not
// depend on the order they are read in (commits are attributed to members
// only at the end, when every member is known). result turns it into the
// Aggregates. It is small whatever the project's size (commits are kept
// per author and day), so it fits a checkpoint item between two
// invocations.
type aggAcc struct {
	Members []gitpulse.Member       `json:"members,omitempty"`
	Commits map[string]*commitGroup `json:"commits,omitempty"` // by author name, e-mail and day
	Users   map[int64]*userAcc      `json:"users,omitempty"`
	// MRs is what the review pairs need of each merge request (by iid),
	// Approved who approved it, NotePairs the review notes by
	// "<reviewer id>/<author id>/<week>".
	MRs       map[int64]*mrAcc  `json:"mrs,omitempty"`
	Approved  map[int64][]int64 `json:"approved,omitempty"`
	NotePairs map[string]int    `json:"note_pairs,omitempty"`

	// Data is the XOR of the content hashes (with their sort keys) of
	// the project's synced items: it changes when any item changes, so
	// that INFO, the API's validator for the project's listings, is
	// written again exactly when some listed item changed.
	Data string `json:"data,omitempty"`

	// Days: commits are counted from the commit days' summaries
	// (commitdays.go), not from the commit items.
	Days bool `json:"days,omitempty"`

	MRsOpen, MRsMerged, MRsClosed int
	Notes                         int
	IssuesOpen, IssuesClosed      int
	Pipelines                     map[string]int
	Running, Finished, Succeeded  int
}

// commitGroup is the non-merge commits of one author name and e-mail on
// one (UTC) day, of every branch; NDefault those the default branch
// reaches.
type commitGroup struct {
	Name, Email, Day string
	MinSHA           string // the first of them in sort-key order
	N, Add, Del      int
	NDefault         int `json:",omitempty"`
	First, Last      time.Time
}

// userAcc is what the merge requests, approvals, notes and issues say of
// one user. Rank is where the name was first seen, in the order of the
// full computation (1 merge requests, 2 approvals, 3 notes, 4 issues):
// the earliest wins whatever order the items come in.
type userAcc struct {
	Username, Name                                     string
	Rank                                               int
	MRsOpened, MRsMerged, Approvals                    int
	NotesOnOthers, Reviews, IssuesOpened, IssuesClosed int
	First, Last                                        *time.Time
	Days                                               map[string]bool
	Weeks                                              map[string]*WeekCount
}

func newAcc() *aggAcc {
	return &aggAcc{Commits: map[string]*commitGroup{}, Users: map[int64]*userAcc{}, Pipelines: map[string]int{},
		MRs: map[int64]*mrAcc{}, Approved: map[int64][]int64{}, NotePairs: map[string]int{}}
}

func (a *aggAcc) user(p gitpulse.Person, rank int) *userAcc {
	if p.UserID == 0 {
		return nil
	}
	u := a.Users[p.UserID]
	if u == nil {
		u = &userAcc{Username: p.Username, Name: p.Name, Rank: rank, Days: map[string]bool{}, Weeks: map[string]*WeekCount{}}
		a.Users[p.UserID] = u
	} else if rank < u.Rank {
		u.Username, u.Name, u.Rank = p.Username, p.Name, rank
	}
	return u
}

func (u *userAcc) touch(at time.Time) {
	if u == nil || at.IsZero() {
		return
	}
	if u.First == nil || at.Before(*u.First) {
		t := at
		u.First = &t
	}
	if u.Last == nil || at.After(*u.Last) {
		t := at
		u.Last = &t
	}
	u.Days[at.UTC().Format(time.DateOnly)] = true
}

// add takes one stored item of the project's partition; items of other
// kinds are ignored.
func (a *aggAcc) add(sk string, item map[string]ddbtypes.AttributeValue) error {
	kind, _ := item["kind"].(*ddbtypes.AttributeValueMemberS)
	if kind == nil {
		return nil
	}
	switch {
	case kind.Value == "commit_day", kind.Value == "commit" && a.Days, kind.Value == "commit_summary" && !a.Days:
		return nil // the other way of counting commits, or never counted
	}
	switch kind.Value {
	case "sync_state", "aggregate_checkpoint", "project_stats", "person_stats", "project_info":
	default:
		a.Data = store.XORHash(a.Data, sk, item)
	}
	switch kind.Value {
	case "member":
		m, err := unmarshal[gitpulse.Member](item)
		a.Members = append(a.Members, m)
		return err
	case "commit":
		c, err := unmarshal[gitpulse.Commit](item)
		if err != nil || c.Merge {
			return err // the merged commits are counted themselves
		}
		// A commit counts on the UTC day of its authored instant, not on
		// the day of the offset its author wrote it with (see WeekOf).
		day := c.AuthoredAt.UTC().Format(time.DateOnly)
		key := c.AuthorName + "\x00" + c.AuthorEmail + "\x00" + day
		g := a.Commits[key]
		if g == nil {
			g = &commitGroup{Name: c.AuthorName, Email: c.AuthorEmail, Day: day, MinSHA: c.SHA, First: c.AuthoredAt, Last: c.AuthoredAt}
			a.Commits[key] = g
		}
		g.N, g.Add, g.Del = g.N+1, g.Add+c.Additions, g.Del+c.Deletions
		if c.OnDefaultBranch {
			g.NDefault++
		}
		if c.SHA < g.MinSHA {
			g.MinSHA = c.SHA
		}
		if c.AuthoredAt.Before(g.First) {
			g.First = c.AuthoredAt
		}
		if c.AuthoredAt.After(g.Last) {
			g.Last = c.AuthoredAt
		}
	case "commit_summary":
		ds, err := unmarshal[daySummary](item)
		if err != nil {
			return err
		}
		for _, g := range ds.Groups {
			a.Commits[g.Name+"\x00"+g.Email+"\x00"+g.Day] = &g
		}
	case "merge_request":
		mr, err := unmarshal[gitpulse.MergeRequest](item)
		if err != nil {
			return err
		}
		switch mr.State {
		case "merged":
			a.MRsMerged++
		case "closed":
			a.MRsClosed++
		default:
			a.MRsOpen++
		}
		if u := a.user(mr.Author, 1); u != nil {
			u.MRsOpened++
			u.touch(mr.CreatedAt)
			u.week(mr.CreatedAt).MRs++
			if mr.State == "merged" {
				u.MRsMerged++
			}
		}
		m := &mrAcc{Author: mr.Author.UserID, At: mr.UpdatedAt}
		if mr.MergedBy != nil && mr.MergedAt != nil {
			a.user(*mr.MergedBy, 1).touch(*mr.MergedAt)
			m.MergedBy, m.At = mr.MergedBy.UserID, *mr.MergedAt
		}
		if a.MRs == nil {
			a.MRs = map[int64]*mrAcc{}
		}
		a.MRs[mr.IID] = m
	case "merge_request_extra":
		x, err := unmarshal[mrExtra](item)
		if err != nil {
			return err
		}
		var ids []int64
		for _, p := range x.ApprovedBy {
			if u := a.user(p, 2); u != nil {
				u.Approvals++
				ids = append(ids, p.UserID)
			}
		}
		if a.Approved == nil {
			a.Approved = map[int64][]int64{}
		}
		a.Approved[x.IID] = ids
	case "note":
		n, err := unmarshal[gitpulse.Note](item)
		if err != nil || n.System {
			return err
		}
		a.Notes++
		u := a.user(n.Author, 3)
		if u == nil {
			return nil
		}
		u.touch(n.CreatedAt)
		if n.Author.UserID != n.MRAuthorID && n.MRAuthorID != 0 {
			u.NotesOnOthers++
			if a.NotePairs == nil {
				a.NotePairs = map[string]int{}
			}
			a.NotePairs[itoa(n.Author.UserID)+"/"+itoa(n.MRAuthorID)+"/"+WeekOf(n.CreatedAt)]++
		}
	case "issue":
		is, err := unmarshal[gitpulse.Issue](item)
		if err != nil {
			return err
		}
		if is.State == "closed" {
			a.IssuesClosed++
		} else {
			a.IssuesOpen++
		}
		if u := a.user(is.Author, 4); u != nil {
			u.IssuesOpened++
			u.touch(is.CreatedAt)
		}
		if is.ClosedBy != nil && is.State == "closed" {
			if u := a.user(*is.ClosedBy, 4); u != nil {
				u.IssuesClosed++
				if is.ClosedAt != nil {
					u.touch(*is.ClosedAt)
					u.week(*is.ClosedAt).IssuesClosed++
				}
			}
		}
	case "pipeline":
		p, err := unmarshal[gitpulse.Pipeline](item)
		if err != nil {
			return err
		}
		a.Pipelines[p.Status]++
		switch {
		case p.Running():
			a.Running++
		case p.Status == "success" || p.Status == "failed" || p.Status == "canceled":
			a.Finished++
			if p.Status == "success" {
				a.Succeeded++
			}
		}
	}
	_ = sk
	return nil
}

// result is the project's aggregates: members first (their names and
// usernames attribute commits), then the commit groups, then the users,
// then who reviewed whom. pc says who is staff and which commit
// identities an administrator mapped to a member.
func (a *aggAcc) result(pc People) Aggregates {
	agg := Aggregates{Data: a.Data, Project: ProjectStats{Pipelines: map[string]int{}, CommitsByDay: map[string]int{},
		MRsOpen: a.MRsOpen, MRsMerged: a.MRsMerged, MRsClosed: a.MRsClosed, Notes: a.Notes,
		IssuesOpen: a.IssuesOpen, IssuesClosed: a.IssuesClosed, Running: a.Running}, People: map[string]*PersonStats{}, Pairs: []ReviewPair{}}
	for k, v := range a.Pipelines {
		agg.Project.Pipelines[k] = v
	}
	if a.Finished > 0 {
		agg.Project.SuccessRate = float64(a.Succeeded) / float64(a.Finished)
	}
	byUser := map[int64]*PersonStats{}
	get := func(id int64, username, name string) *PersonStats {
		if ps, ok := byUser[id]; ok {
			return ps
		}
		ps := &PersonStats{Key: "u" + itoa(id), UserID: id, Username: username, Name: name, Bot: IsBot(username), Staff: pc.Staff[id],
			days: map[string]bool{}, Weeks: map[string]*WeekCount{}}
		byUser[id], agg.People[ps.Key] = ps, ps
		return ps
	}
	touch := func(ps *PersonStats, at time.Time) {
		if ps.FirstActivity == nil || at.Before(*ps.FirstActivity) {
			t := at
			ps.FirstActivity = &t
		}
		if ps.LastActivity == nil || at.After(*ps.LastActivity) {
			t := at
			ps.LastActivity = &t
		}
		if agg.Project.LastActivity == nil || at.After(*agg.Project.LastActivity) {
			t := at
			agg.Project.LastActivity = &t
		}
	}
	byName, byEmail := map[string]int64{}, map[string]int64{}
	for _, m := range a.Members {
		if m.UserID == 0 {
			continue
		}
		ps := get(m.UserID, m.Username, m.Name)
		ps.Member, ps.Bot = true, m.Bot
		if !m.Bot && !ps.Staff {
			agg.Project.Members++
		}
		byName[strings.ToLower(m.Name)] = m.UserID
		byName[strings.ToLower(m.Username)] = m.UserID
		if m.PublicEmail != "" {
			byEmail[strings.ToLower(m.PublicEmail)] = m.UserID
		}
	}
	// An author is the member an administrator mapped their e-mail to,
	// else the member whose public e-mail it is, else the member whose
	// name or username is the author's name or the e-mail's local part. One no member matches is keyed by e-mail and
	// named after the first of their commits in sort-key order.
	firstOf := map[string]*commitGroup{}
	for _, key := range sortedKeys(a.Commits) {
		g := a.Commits[key]
		var ps *PersonStats
		if m, ok := pc.Mapped[strings.ToLower(g.Email)]; ok {
			ps = get(m.UserID, m.Username, m.Name)
		} else if id, ok := byEmail[strings.ToLower(g.Email)]; ok {
			ps = byUser[id]
		} else if id, ok := byName[strings.ToLower(g.Name)]; ok {
			ps = byUser[id]
		} else if id, ok := byName[strings.ToLower(strings.Split(g.Email, "@")[0])]; ok {
			ps = byUser[id]
		} else {
			ek := "e" + strings.ToLower(g.Email)
			if f := firstOf[ek]; f == nil || g.MinSHA < f.MinSHA {
				firstOf[ek] = g
			}
			if ps = agg.People[ek]; ps == nil {
				ps = &PersonStats{Key: ek, days: map[string]bool{}, Weeks: map[string]*WeekCount{}}
				agg.People[ek] = ps
			}
		}
		agg.Project.Commits += g.N
		agg.Project.DefaultBranchCommits += g.NDefault
		agg.Project.Additions += g.Add
		agg.Project.Deletions += g.Del
		agg.Project.CommitsByDay[g.Day] += g.N
		ps.Commits, ps.Additions, ps.Deletions = ps.Commits+g.N, ps.Additions+g.Add, ps.Deletions+g.Del
		ps.DefaultBranchCommits += g.NDefault
		if ps.CommitsByDay == nil {
			ps.CommitsByDay = map[string]int{}
		}
		ps.CommitsByDay[g.Day] += g.N
		ps.days[g.Day] = true
		weekIn(ps.Weeks, WeekOf(g.First)).Commits += g.N
		touch(ps, g.First)
		touch(ps, g.Last)
	}
	for ek, g := range firstOf {
		agg.People[ek].Name = g.Name
	}
	for id, u := range a.Users {
		ps := get(id, u.Username, u.Name)
		ps.MRsOpened += u.MRsOpened
		ps.MRsMerged += u.MRsMerged
		ps.Approvals += u.Approvals
		ps.NotesOnOthers += u.NotesOnOthers
		ps.IssuesOpened += u.IssuesOpened
		ps.IssuesClosed += u.IssuesClosed
		if u.First != nil {
			touch(ps, *u.First)
			touch(ps, *u.Last)
		}
		for d := range u.Days {
			ps.days[d] = true
		}
		for k, w := range u.Weeks {
			c := weekIn(ps.Weeks, k)
			c.MRs, c.Reviews, c.IssuesClosed = c.MRs+w.MRs, c.Reviews+w.Reviews, c.IssuesClosed+w.IssuesClosed
		}
	}
	agg.Pairs = a.pairs(byUser, get)
	for _, ps := range agg.People {
		ps.ActiveDays = len(ps.days)
		ps.Days = sortedKeys(ps.days)
	}
	return agg
}

// aggregate recomputes the project's statistics from its stored items,
// reading the partition a page at a time. Short of time, it saves what it
// has read (a checkpoint) and returns errOutOfTime: the task's next part
// goes on from there. An error leaves the last checkpoint in place.
func (w *Worker) aggregate(ctx context.Context, r *run) error {
	// The task's items are counted as the writer will store them: the
	// partition as stored, overlaid with what the writer holds (so the
	// task's items and its aggregate go out in one flush, not two).
	if err := w.flushDays(ctx, r); err != nil {
		return err
	}
	if err := r.w.Resolve(ctx); err != nil {
		return err
	}
	ppk := store.ProjectPK(r.t.ProjectID)
	days := r.state.CommitDays && !r.state.DaysOff
	acc, after, err := w.loadCheckpoint(ctx, r)
	if err != nil {
		return err
	}
	if acc.Days != days {
		acc, after = newAcc(), "" // counted the other way: start over
	}
	acc.Days = days
	pending := r.w.Pending(ppk)
	if days {
		// The commit days' summaries count the commits: their records
		// and the commit items are not read.
		pending = slices.DeleteFunc(pending, func(m map[string]ddbtypes.AttributeValue) bool {
			return sk(m) >= daysSkipFrom && sk(m) < daysSkipTo
		})
	}
	ov := &overlay{pending: pending, add: acc.add}
	if after != "" && len(ov.pending) > 0 && sk(ov.pending[0]) <= after {
		// Items this part wrote that the checkpoint's part counted in
		// another version: count everything again.
		acc, after = newAcc(), ""
		acc.Days = days
		ov.add = acc.add
	}
	walk := func(after string, more func() bool) (string, bool, error) {
		if !days {
			return w.Store.EachAfter(ctx, ppk, after, w.AggregatePage, ov.item, more)
		}
		if after < daysSkipFrom {
			last, done, err := w.Store.EachBetween(ctx, ppk, after, daysSkipFrom, w.AggregatePage, ov.item, more)
			if err != nil || !done {
				return last, done, err
			}
		}
		return w.Store.EachAfter(ctx, ppk, max(after, daysSkipTo), w.AggregatePage, ov.item, more)
	}
	// A checkpoint says its items are counted: the ones counted from the
	// writer must be stored first.
	checkpoint := func(ctx context.Context, last string) (bool, error) {
		if err := ov.through(last); err != nil {
			return false, err
		}
		if err := r.w.Flush(ctx); err != nil {
			return false, err
		}
		return w.saveCheckpoint(ctx, r, acc, last)
	}
	out := false
	last, done, err := walk(after, func() bool {
		out = !w.timeLeft(ctx)
		return !out
	})
	if err != nil {
		if last != after && ctx.Err() == nil {
			// Keep what was read for the retry.
			if _, cerr := checkpoint(ctx, last); cerr != nil {
				return errors.Join(err, cerr)
			}
		}
		return err
	}
	if !done {
		saved, err := checkpoint(context.WithoutCancel(ctx), last)
		if err != nil {
			return err
		}
		if saved {
			return errOutOfTime
		}
		// Too big to save: read the rest now.
		if _, _, err := walk(last, func() bool { return true }); err != nil {
			return err
		}
	}
	if err := ov.rest(); err != nil {
		return err
	}
	// The reads are done. What is left (the people, the result, the read
	// model) is the bounded work the margin before the deadline is kept
	// for: on a context of its own, so that a last page read late never
	// makes the task read it again in a new part.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	pc, err := w.people(ctx, r.t.CourseID)
	if err != nil {
		return err
	}
	agg := acc.result(pc)
	r.state.RunningPipelines = agg.Project.Running
	if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "STATS", Kind: "project_stats", Value: agg.Project, IfChanged: true}); err != nil {
		return err
	}
	for _, k := range sortedKeys(agg.People) {
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "STATS#" + k, Kind: "person_stats", Value: agg.People[k], IfChanged: true}); err != nil {
			return err
		}
	}
	if err := w.writeReadModel(ctx, r, agg); err != nil {
		return err
	}
	if r.resumed {
		// Done: a later delivery of this task must start over.
		return w.Store.Delete(ctx, ppk, checkpointSK)
	}
	return nil
}
