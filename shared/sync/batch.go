package sync

import (
	"context"
	"errors"

	"github.com/gitpulse/gitpulse/shared/store"
)

// TasksPerInvocation is the worker's SQS batch size (template.yaml's
// BatchSize for SyncWorkerFunction, which a test holds to it, and the
// benchmark's): up to this many tasks share one invocation and its
// writer. Tasks the invocation has no time for are queued again.
const TasksPerInvocation = 10

// batch is what the tasks of one invocation (one SQS batch) share: one
// writer, so that their items fill the same BatchWriteItem requests and
// their states go together, and the tasks that ended well, whose states
// wait in the writer behind their items.
type batch struct {
	w    *store.Writer
	done []done
	err  error // why finish could not store everything
}

// done is a task that ended well: its message (id) succeeds once its
// state is stored.
type done struct {
	id string
	r  *run
}

func (w *Worker) newBatch() *batch { return &batch{w: &store.Writer{Store: w.Store}} }

// finish stores what the batch's writer holds, then ends each task whose
// state is stored (its webhook marker released); it returns the message
// ids of the tasks whose state could not be stored: SQS delivers those
// again, and their cursors, not stored, make them read again what is not.
func (w *Worker) finish(ctx context.Context, b *batch) []string {
	fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := b.w.Flush(fin); err != nil {
		b.err = err
		w.Logger.WarnContext(ctx, "sync batch not stored in full", "error", err.Error())
	}
	var failed []string
	for _, d := range b.done {
		if b.w.Holds(store.CoursePK(d.r.t.CourseID), "SYNC#"+itoa(d.r.t.ProjectID)) {
			w.Logger.WarnContext(ctx, "sync task failed: its state was not stored", "project_id", d.r.t.ProjectID)
			failed = append(failed, d.id)
			continue
		}
		if err := w.releaseHook(fin, d.r); err != nil {
			b.err = errors.Join(b.err, err)
			w.Logger.WarnContext(ctx, "sync task failed", "project_id", d.r.t.ProjectID, "error", err.Error())
			failed = append(failed, d.id)
		}
	}
	return failed
}
