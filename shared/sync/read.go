// The worker's reads of one project: members, commits with the
// pipelines they carry, pipelines of a poll, and a merge request with its
// notes and approvals, each stored as it is read.

package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gl "gitlab.com/gitlab-org/api/client-go"
)

func (w *Worker) repo(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	// Members, inherited included (once per poll, not again in its
	// continuations), unless the scheduler saw no sign they changed.
	if !r.t.MembersDone && !r.t.SkipMembers {
		if w.stop(ctx, r) {
			return errOutOfTime
		}
		if err := w.members(ctx, api, r, ppk); err != nil {
			return err
		}
		r.t.MembersDone = true
	}
	return w.commitsAndPipelines(ctx, api, r, ppk)
}

// members stores the project's members (inherited included) and removes
// those GitLab no longer lists: the listing is complete, so a member item
// it lacks is someone who left the team.
func (w *Worker) members(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	pid := r.t.ProjectID
	listed := map[string]bool{}
	if err := pages(ctx, func(page int64) (*gl.Response, error) {
		ms, resp, err := api.ProjectMembers.ListAllProjectMembers(pid, &gl.ListProjectMembersOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
		for _, m := range ms {
			mem := gitpulse.Member{UserID: m.ID, Username: m.Username, Name: m.Name, AccessLevel: int(m.AccessLevel), Bot: IsBot(m.Username)}
			if !mem.Bot {
				mem.PublicEmail = w.publicEmail(ctx, api, r, m.ID)
			}
			sk := "MEMBER#" + itoa(m.ID)
			listed[sk] = true
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: sk, Kind: "member", Value: mem, IfChanged: true}); err != nil {
				return resp, err
			}
		}
		return resp, err
	}, nil); err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	if err := w.Store.Each(ctx, ppk, "MEMBER#", func(sk string, _ map[string]ddbtypes.AttributeValue) error {
		if listed[sk] {
			return nil
		}
		return w.Store.Delete(ctx, ppk, sk)
	}); err != nil {
		return err
	}
	r.state.MembersReadAt = &r.start // saved with the items, after the flush
	return nil
}

// commitsAndPipelines reads the commits of every branch, then the
// pipelines. GitLab lists the branches with their heads (one request per
// 100); a branch whose head moved since the last complete read is read as
// the revision range old..new (ref_name takes a git revision, lib/api/
// commits.rb), which lists exactly the commits pushed since, merges and
// their branches' commits included, whatever their dates: no read back,
// and nothing the committed-date cursor of a since= read would miss. A new
// branch is read as <default head>..<head>, the default branch the first
// time in full, and a merged branch not at all (its commits are the
// default branch's). A read cut short keeps its range and page.
func (w *Worker) commitsAndPipelines(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	if r.t.CommitsDone {
		// The commit read of this poll completed in an earlier part.
		return w.pipelinesOfPoll(ctx, api, r, ppk)
	}
	branches, def, err := w.branches(ctx, api, r)
	if err != nil {
		return err
	}
	st := &r.state
	if !st.CommitDays && !st.DaysRebuild && !st.DaysOff {
		// No commit days yet (a new project, or one synced before them):
		// read every branch from the start, which fills them.
		st.Heads, st.Reading, st.DaysRebuild = nil, nil, true
	}
	if st.Heads == nil {
		st.Heads = map[string]string{}
	}
	defHead := ""
	listed := map[string]bool{}
	for _, b := range branches {
		listed[b.Name] = true
		if b.Name == def {
			defHead = b.Commit.ID
		}
	}
	for _, b := range branches {
		head := b.Commit.ID
		if st.Heads[b.Name] == head {
			continue
		}
		if b.Merged && b.Name != def {
			// The default branch reaches its head: its commits are read
			// there (GitLab's merged, repository.merged_to_root_ref?).
			st.Heads[b.Name] = head
			continue
		}
		ref := head
		switch old := st.Heads[b.Name]; {
		case old != "":
			ref = old + ".." + head
		case b.Name != def && defHead != "":
			ref = defHead + ".." + head
		}
		if err := w.readRange(ctx, api, r, ppk, b.Name, b.Name == def, ref, head); err != nil {
			return err
		}
		st.Heads[b.Name] = head
	}
	for name := range st.Heads {
		if !listed[name] {
			delete(st.Heads, name) // deleted: its commits stay, with its name
		}
	}
	r.t.CommitsDone = true
	if st.DaysRebuild {
		// Saved only after flushDays has put the days in the writer.
		st.DaysRebuild, st.CommitDays = false, true
	}
	return w.pipelinesOfPoll(ctx, api, r, ppk)
}

// branches lists the project's branches (default first, then by name)
// and names the default one.
func (w *Worker) branches(ctx context.Context, api *gl.Client, r *run) ([]*gl.Branch, string, error) {
	var out []*gl.Branch
	def := ""
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		bs, resp, err := api.Branches.ListBranches(r.t.ProjectID, &gl.ListBranchesOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
		for _, b := range bs {
			if b == nil || b.Commit == nil || b.Commit.ID == "" {
				continue
			}
			if b.Default {
				def = b.Name
			}
			out = append(out, b)
		}
		return resp, err
	}, nil)
	if err != nil {
		return nil, "", fmt.Errorf("list branches: %w", err)
	}
	slices.SortFunc(out, func(a, b *gl.Branch) int {
		if a.Default != b.Default {
			if a.Default {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, def, nil
}

// readRange reads one branch's range a page at a time and stores its
// commits (storeCommits). Short of time it records the range and page
// (state.Reading) and returns errOutOfTime, as on an error.
func (w *Worker) readRange(ctx context.Context, api *gl.Client, r *run, ppk, branch string, isDefault bool, ref, head string) error {
	st := &r.state
	page := int64(1)
	if rd := st.Reading; rd != nil && rd.Branch == branch && rd.Ref == ref && rd.Page > 0 {
		page = rd.Page
	}
	opt := &gl.ListCommitsOptions{ListOptions: gl.ListOptions{PerPage: perPage}, RefName: gl.Ptr(ref), WithStats: gl.Ptr(true)}
	for {
		st.Reading = &BranchRead{Branch: branch, Ref: ref, Head: head, Page: page}
		if w.stop(ctx, r) {
			return errOutOfTime
		}
		opt.Page = page
		cs, resp, err := api.Commits.ListCommits(r.t.ProjectID, opt, gl.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("list commits of %s: %w", branch, err)
		}
		if err := w.storeCommits(ctx, r, ppk, cs, branch, isDefault); err != nil {
			return err
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		page = resp.NextPage
	}
	st.Reading = nil
	return nil
}

// storeCommits writes a page of commits read from branch, each once: a
// commit stored already is written again only when this branch is new to
// it (its branch names change, or it reached the default branch), so a
// merge's range rewrites nothing but the commits it brings to the default
// branch. The stored items are read with one BatchGetItem a page; what
// this task wrote already (and may still be buffered) comes from r.seen.
func (w *Worker) storeCommits(ctx context.Context, r *run, ppk string, cs []*gl.Commit, branch string, isDefault bool) error {
	if r.seen == nil {
		r.seen = map[string]commitMark{}
	}
	var ask []string
	for _, c := range cs {
		if _, ok := r.seen[c.ID]; !ok {
			ask = append(ask, "COMMIT#"+c.ID)
		}
	}
	if err := w.Store.GetMany(ctx, ppk, ask, func(sk string, item map[string]ddbtypes.AttributeValue) error {
		old, err := unmarshal[gitpulse.Commit](item)
		if err != nil {
			return fmt.Errorf("read stored commit %s: %w", sk, err)
		}
		r.seen[old.SHA] = commitMark{branches: old.Branches, onDefault: old.OnDefaultBranch, stored: true}
		return nil
	}); err != nil {
		return err
	}
	days := !r.state.DaysOff && (r.state.CommitDays || r.state.DaysRebuild)
	for _, c := range cs {
		m := r.seen[c.ID]
		if m.stored && slices.Contains(m.branches, branch) && (m.onDefault || !isDefault) {
			if days {
				// Unchanged, but perhaps stored by a try that failed
				// before its days: a day adds a commit once.
				add, del := commitStats(c)
				r.noteCommit(c, val(c.AuthoredDate), add, del, len(c.ParentIDs) > 1, m.onDefault, m.branches)
			}
			continue
		}
		m.branches = append(slices.Clone(m.branches), branch)
		slices.Sort(m.branches)
		m.branches = slices.Compact(m.branches)
		m.onDefault, m.stored = m.onDefault || isDefault, true
		r.seen[c.ID] = m
		// GitLab writes a commit's dates with the offset it was made
		// with ("2026-11-30T00:30:00.000+02:00"); val keeps the instant,
		// in UTC, so that the item and its sort key hold no offset.
		cm := gitpulse.Commit{SHA: c.ID, Title: c.Title, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail, AuthoredAt: val(c.AuthoredDate),
			Merge: len(c.ParentIDs) > 1, Branches: m.branches, OnDefaultBranch: m.onDefault}
		cm.Additions, cm.Deletions = commitStats(c)
		if days {
			r.noteCommit(c, cm.AuthoredAt, cm.Additions, cm.Deletions, cm.Merge, cm.OnDefaultBranch, cm.Branches)
		}
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "COMMIT#" + c.ID, Kind: "commit", At: store.At("COMMIT", cm.AuthoredAt, c.ID), Value: cm}); err != nil {
			return err
		}
	}
	return nil
}

// commitStats is a commit's additions and deletions (0 without stats).
func commitStats(c *gl.Commit) (int, int) {
	if c.Stats == nil {
		return 0, 0
	}
	return int(c.Stats.Additions), int(c.Stats.Deletions)
}

// commitMark is what a task knows of a stored commit.
type commitMark struct {
	branches  []string
	onDefault bool
	stored    bool
}

// pipelinesOfPoll reads the pipelines, the last step of a repository
// poll, and marks the poll complete.
func (w *Worker) pipelinesOfPoll(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	if err := w.pipelines(ctx, api, r, ppk); err != nil {
		return err
	}
	r.state.RepoPolledAt = &r.start
	return nil
}

// pipelines reads the pipelines updated since the cursor, oldest update
// first, so that the cursor can move page by page. GitLab moves no
// project activity for a pipeline (only Events do, app/models/event.rb
// reset_project_activity), so this read is also what the scheduler's
// probe asks for when it sees a pipeline change and nothing else.
func (w *Worker) pipelines(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	pid, st := r.t.ProjectID, &r.state
	popt := &gl.ListProjectPipelinesOptions{ListOptions: gl.ListOptions{PerPage: perPage},
		OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc")}
	after := updatedAfter(st.PipelinesAfter) // fixed for the read: the cursor moves as pages come
	var stopped bool
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		if w.stop(ctx, r) {
			stopped = true
			return nil, errOutOfTime
		}
		popt.Page = page
		ps, resp, err := api.Pipelines.ListProjectPipelines(pid, popt, gl.WithContext(ctx), after)
		for _, p := range ps {
			pl := pipeline(p)
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "PIPELINE#" + itoa(p.ID), Kind: "pipeline", At: store.At("PIPELINE", pl.CreatedAt, itoa(p.ID)), Value: pl, IfChanged: true}); err != nil {
				return resp, err
			}
			// Items are buffered: the cursor is saved with them (the
			// state is written after the flush).
			advancePipelineCursor(st, pl)
		}
		return resp, err
	}, nil)
	if stopped || err != nil {
		return err
	}
	return nil
}

// advancePipelineCursor moves the pipelines cursor to pl's update (read
// in ascending update order) and keeps the ids updated at the cursor.
func advancePipelineCursor(st *ProjectState, pl gitpulse.Pipeline) {
	switch {
	case st.PipelinesAfter == nil || pl.UpdatedAt.After(*st.PipelinesAfter):
		at := pl.UpdatedAt
		st.PipelinesAfter, st.PipelinesAtCursor = &at, []int64{pl.ID}
	case pl.UpdatedAt.Equal(*st.PipelinesAfter) && !slices.Contains(st.PipelinesAtCursor, pl.ID):
		st.PipelinesAtCursor = append(st.PipelinesAtCursor, pl.ID)
	}
}

// mergeRequest reads a merge request's notes, approvals and (merged) the
// issues it closed.
func (w *Worker) mergeRequest(ctx context.Context, api *gl.Client, r *run, ppk string, iid int64, mr gitpulse.MergeRequest) error {
	pid := r.t.ProjectID
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		ns, resp, err := api.Notes.ListMergeRequestNotes(pid, iid, &gl.ListMergeRequestNotesOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
		for _, n := range ns {
			note := gitpulse.Note{ID: n.ID, MRIID: iid, System: n.System, CreatedAt: val(n.CreatedAt), MRAuthorID: mr.Author.UserID,
				Author: gitpulse.Person{UserID: n.Author.ID, Username: n.Author.Username, Name: n.Author.Name}}
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "NOTE#" + itoa(iid) + "#" + itoa(n.ID), Kind: "note", Value: note, IfChanged: true}); err != nil {
				return resp, err
			}
		}
		return resp, err
	}, nil)
	if err != nil {
		return fmt.Errorf("notes: %w", err)
	}
	ap, _, err := api.MergeRequestApprovals.GetConfiguration(pid, iid, gl.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("approvals: %w", err)
	}
	extra := mrExtra{IID: iid, ApprovedBy: []gitpulse.Person{}, SyncedFor: mr.UpdatedAt}
	for _, a := range ap.ApprovedBy {
		if a != nil && a.User != nil {
			extra.ApprovedBy = append(extra.ApprovedBy, person(a.User))
		}
	}
	if mr.State == "merged" {
		err := pages(ctx, func(page int64) (*gl.Response, error) {
			is, resp, err := api.MergeRequests.GetIssuesClosedOnMerge(pid, iid, &gl.GetIssuesClosedOnMergeOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
			for _, i := range is {
				if i.ProjectID == pid {
					extra.ClosesIssues = append(extra.ClosesIssues, i.IID)
				}
			}
			return resp, err
		}, nil)
		if err != nil {
			return fmt.Errorf("closed issues: %w", err)
		}
	}
	return r.w.Put(ctx, store.Item{PK: ppk, SK: "MRX#" + itoa(iid), Kind: "merge_request_extra", Value: extra, IfChanged: true})
}
