// The worker's side of a webhook task: read what the events said changed
// (the project's marker, see hookmarker.go), turn it into the reads a
// task knows, and release the marker once they are stored.

package sync

import (
	"context"
	"fmt"
	"slices"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/store"
)

// HookMerge is the change kind of a merged merge request: its branch's
// commits reach the default branch with their own, older dates.
const HookMerge = "merge"

// HookTask is the task the api queues for a project whose marker it
// claimed.
func HookTask(courseID, pid int64, at time.Time) Task {
	return Task{CourseID: courseID, ProjectID: pid, Hook: true, ScheduledAt: at}
}

// takeHook reads the project's marker and sets the task's reads from it:
//
//	push                 the repository, as a poll reads it (members,
//	                     commits since the cursor, pipelines): a complete
//	                     poll also spares the scheduler its next one
//	merge                that, reaching back for the merged commits
//	merge_request, note  the merge request (stored), its notes, approvals
//	                     and closed issues
//	issue                the issue (stored)
//	pipeline             the pipelines updated since the cursor
//	member               the members
//
// A task that finds no marker is a duplicate of one that finished: it
// reads nothing. The merge requests and issues are read and stored here,
// before the task's other reads, which then find them.
func (w *Worker) takeHook(ctx context.Context, api *gl.Client, r *run, ppk string) error {
	r.t.Hook = false
	m, ok, err := readHookMarker(ctx, w.Store, r.t.ProjectID)
	if err != nil || !ok {
		return err
	}
	r.t.HookN = m.N
	r.state.HookAt = &r.start // this project's webhooks arrive
	pid := r.t.ProjectID
	members := false
	for _, kind := range m.Kinds {
		switch kind {
		case HookPush, HookMerge:
			r.t.Repo = true
		case HookPipeline:
			r.t.Pipelines = true
		case HookMember:
			members = true
		}
	}
	for _, iid := range m.MRs {
		mr, _, err := api.MergeRequests.GetMergeRequest(pid, iid, nil, gl.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("merge request !%d: %w", iid, err)
		}
		item := mergeRequest(&mr.BasicMergeRequest)
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "MR#" + itoa(iid), Kind: "merge_request", At: store.At("MR", item.CreatedAt, itoa(iid)), Value: item}); err != nil {
			return err
		}
		if item.State == "merged" && slices.Contains(m.Kinds, HookMerge) {
			r.t.Repo = true // as the scheduler does for a merge it sees
		}
		if !slices.Contains(r.t.MRs, iid) {
			r.t.MRs = append(r.t.MRs, iid)
		}
	}
	for _, iid := range m.Issues {
		i, _, err := api.Issues.GetIssue(pid, iid, gl.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("issue #%d: %w", iid, err)
		}
		it := issue(i)
		if err := r.w.Put(ctx, store.Item{PK: ppk, SK: "ISSUE#" + itoa(iid), Kind: "issue", At: store.At("ISSUE", it.CreatedAt, itoa(iid)), Value: it}); err != nil {
			return err
		}
	}
	if members && !r.t.Repo { // a poll reads them anyway
		if err := w.members(ctx, api, r, ppk); err != nil {
			return err
		}
	}
	// The merge request reads below look the stored merge requests up.
	return r.w.Flush(ctx)
}

// releaseHook ends a hook task: it deletes the marker the task read,
// unless events came meanwhile, in which case it queues the next hook
// task (the marker stays claimed for it). Safe to repeat: a second
// release finds the marker gone or newer.
func (w *Worker) releaseHook(ctx context.Context, r *run) error {
	if r.t.HookN == 0 {
		return nil
	}
	released, err := releaseHookMarker(ctx, w.Store, r.t.ProjectID, r.t.HookN)
	if err != nil || released {
		return err
	}
	next := HookTask(r.t.CourseID, r.t.ProjectID, w.Now().UTC())
	if err := w.send(ctx, next); err != nil {
		return fmt.Errorf("queue the next webhook task: %w", err)
	}
	w.Logger.InfoContext(ctx, "webhook task: events came during the task; the next one is queued", "project_id", r.t.ProjectID)
	return nil
}
