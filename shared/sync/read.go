// The worker's reads of one project: members, commits with the
// pipelines they carry, pipelines of a poll, and a merge request with its
// notes and approvals, each stored as it is read.

package sync

import (
	"context"
	"fmt"
	"slices"

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
				mem.PublicEmail = w.publicEmail(ctx, api, r.t.CourseID, m.ID)
			}
			sk := "MEMBER#" + itoa(m.ID)
			listed[sk] = true
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: sk, Kind: "member", Value: mem}); err != nil {
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

func (w *Worker) commitsAndPipelines(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	pid := r.t.ProjectID

	// Commits on the default branch, newest first, since the cursor. A
	// read cut short keeps how far down it got (CommitsUntil) and the
	// newest commit it saw (CommitsMax); the next part reads the rest.
	st := &r.state
	if r.t.CommitsDone {
		// The commit read of this poll completed in an earlier part:
		// starting it again would read the newest page each part and
		// never reach the pipelines.
		return w.pipelinesOfPoll(ctx, api, r, ppk)
	}
	if st.CommitsUntil == nil { // a new read, not the rest of a cut-short one
		st.CommitsFrom = st.CommitsSince
		if r.t.CommitsFrom != nil && st.CommitsFrom != nil {
			st.CommitsFrom = earlier(st.CommitsFrom, *r.t.CommitsFrom)
		}
	}
	opt := &gl.ListCommitsOptions{ListOptions: gl.ListOptions{PerPage: perPage}, WithStats: gl.Ptr(true), Since: st.CommitsFrom, Until: st.CommitsUntil}
	var stopped bool
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		if w.stop(ctx, r) {
			stopped = true
			return nil, errOutOfTime
		}
		opt.Page = page
		cs, resp, err := api.Commits.ListCommits(pid, opt, gl.WithContext(ctx))
		for _, c := range cs {
			// GitLab writes a commit's dates with the offset it was made
			// with ("2026-11-30T00:30:00.000+02:00"); val keeps the
			// instant, in UTC, so that the item, its sort key and the
			// cursors hold no offset.
			cm := gitpulse.Commit{SHA: c.ID, Title: c.Title, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail, AuthoredAt: val(c.AuthoredDate),
				Merge: len(c.ParentIDs) > 1}
			if c.Stats != nil {
				cm.Additions, cm.Deletions = int(c.Stats.Additions), int(c.Stats.Deletions)
			}
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "COMMIT#" + c.ID, Kind: "commit", At: store.At("COMMIT", cm.AuthoredAt, c.ID), Value: cm}); err != nil {
				return resp, err
			}
			committed := val(c.CommittedDate)
			st.CommitsMax = later(st.CommitsMax, committed)
			if st.CommitsUntil == nil || committed.Before(*st.CommitsUntil) {
				u := committed
				st.CommitsUntil = &u
			}
		}
		return resp, err
	}, nil)
	if stopped || err != nil {
		return err
	}
	if st.CommitsMax != nil {
		st.CommitsSince = later(st.CommitsSince, *st.CommitsMax)
	}
	st.CommitsUntil, st.CommitsMax, st.CommitsFrom = nil, nil, nil
	r.t.CommitsDone = true
	return w.pipelinesOfPoll(ctx, api, r, ppk)
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
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "PIPELINE#" + itoa(p.ID), Kind: "pipeline", At: store.At("PIPELINE", pl.CreatedAt, itoa(p.ID)), Value: pl}); err != nil {
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
			if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "NOTE#" + itoa(iid) + "#" + itoa(n.ID), Kind: "note", Value: note}); err != nil {
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
	return r.w.Put(ctx, store.Item{PK: ppk, SK: "MRX#" + itoa(iid), Kind: "merge_request_extra", Value: extra})
}
