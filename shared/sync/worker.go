package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// Sender is the SQS call the worker makes to hand work back.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Worker runs project tasks from the queue.
type Worker struct {
	GitLab   *gitlab.Client
	Store    store.Store
	Queue    Sender
	QueueURL string
	Logger   *slog.Logger
	Now      func() time.Time
	// Margin is the time kept in hand before the invocation deadline to
	// store what was read and queue the rest (default 15s).
	Margin time.Duration
	// AggregatePage caps the items of one page of the aggregate's
	// partition read (0: DynamoDB's 1 MB pages); the deadline is checked
	// between pages.
	AggregatePage int32
	// Planner runs a course's scheduling for a plan task (a sync asked
	// for through the API).
	Planner interface {
		Course(ctx context.Context, id int64) (CourseResult, error)
	}
}

// Handle runs each message's task. A failing task is reported as that
// message's failure (SQS redelivers it; the others are done), never the
// whole batch. Redelivery is safe: writes are upserts by natural key and
// cursors move only after the writes.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	b := w.newBatch()
	for _, rec := range ev.Records {
		t, err := parseTask(rec)
		if err == nil && t.Plan && w.Planner == nil {
			err = errors.New("a plan task needs a planner")
		}
		if err != nil {
			// Never succeeds: fail it so that it ends in the dead-letter
			// queue for a person to look at, not silently dropped.
			w.Logger.ErrorContext(ctx, "malformed sync task", "message_id", rec.MessageId, "reason", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		if t.Plan {
			// Scheduling a course twice is safe: its cursors move only
			// after its items are stored and its tasks sent.
			// The plan marker (see ClaimPlan) is released once the plan
			// ran or the course is gone; a failed plan keeps it while SQS
			// redelivers the task, so sync now queues no second plan.
			res, err := w.Planner.Course(ctx, t.CourseID)
			switch {
			case errors.Is(err, ErrUnknownCourse):
				// Deleted after the sync was asked for: nothing to retry.
				w.Logger.InfoContext(ctx, "course sync dropped: the course is no longer recorded", "course_id", t.CourseID)
			case err != nil:
				w.Logger.WarnContext(ctx, "course sync failed", "course_id", t.CourseID, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				continue
			default:
				w.Logger.InfoContext(ctx, "course sync planned", "course", res)
			}
			if err := ReleasePlan(ctx, w.Store, t.CourseID); err != nil {
				// The marker expires after PlanMaxAge: sync now waits that long at worst.
				w.Logger.WarnContext(ctx, "plan marker not released", "course_id", t.CourseID, "error", err.Error())
			}
			continue
		}
		if err := w.process(ctx, b, t, rec.MessageId); errors.Is(err, ErrNotInCourse) {
			// Nothing was written. Retrying cannot make the project part
			// of the course; the next plan queues a task if it joins.
			w.Logger.WarnContext(ctx, "sync task refused: the project is not in the task's course", "course_id", t.CourseID, "project_id", t.ProjectID)
		} else if err != nil {
			w.Logger.WarnContext(ctx, "sync task failed", "project_id", t.ProjectID, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	for _, id := range w.finish(ctx, b) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}

// parseTask reads one message's task strictly: a message from SQS (or
// from a local drain, which leaves eventSource empty), a body that is one
// JSON object of Task's fields, a positive course id, and either a
// positive project id or plan. The error says what is wrong without
// quoting the body.
func parseTask(rec events.SQSMessage) (Task, error) {
	var t Task
	if rec.EventSource != "" && rec.EventSource != "aws:sqs" {
		return t, errors.New("the event is not from SQS (eventSource must be aws:sqs)")
	}
	dec := json.NewDecoder(strings.NewReader(rec.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || dec.More() || !strings.HasPrefix(strings.TrimSpace(rec.Body), "{") {
		return t, errors.New("body must be one JSON object {course_id, project_id, ...} or {course_id, plan: true} with no other field")
	}
	switch {
	case t.CourseID <= 0:
		return t, errors.New("course_id must be a positive GitLab group id")
	case t.Plan && t.ProjectID != 0:
		return t, errors.New("a plan task names its course only, no project_id")
	case !t.Plan && t.ProjectID <= 0:
		return t, errors.New("project_id must be a positive GitLab project id (or plan: true)")
	}
	return t, nil
}

// ErrNotInCourse is Process's error for a task whose project the course
// does not list (COURSE#<id> / PROJECT#<project id>, written by the plan
// before it sends the task): nothing is written for it.
var ErrNotInCourse = errors.New("the project is not in the task's course")

// errOutOfTime stops a task before the deadline; the rest is queued.
var errOutOfTime = errors.New("deadline near")

func (w *Worker) timeLeft(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	if !ok {
		return true
	}
	margin := w.Margin
	if margin <= 0 {
		margin = 15 * time.Second
	}
	return time.Until(dl) > margin
}

// run is one task's progress, kept on the stack (never on the Worker:
// warm invocations must not inherit it).
type run struct {
	t     Task
	state ProjectState
	w     *store.Writer
	start time.Time
	// progressed is set after the first page of this invocation: every
	// invocation reads at least one page before it may hand back, so a
	// task always moves forward.
	progressed bool
	// resumed: this task has an aggregate checkpoint to remove when done.
	resumed bool
	// seen is the commits this invocation read or wrote (storeCommits).
	seen map[string]commitMark
	// days is the commits read and not yet merged into their days
	// (commitdays.go), by day and SHA.
	days map[string]map[string]dayCommit
}

// stop reports whether to hand the rest back now.
func (w *Worker) stop(ctx context.Context, r *run) bool {
	if !r.progressed {
		r.progressed = true
		return false
	}
	return !w.timeLeft(ctx)
}

// Process runs one task on a writer of its own, and stores all of it
// before it returns. A task whose project the course does not list is
// refused with ErrNotInCourse before anything is written. A 403 or 404
// from GitLab (project gone, access lost) is recorded on the project and
// the task is done; other errors are recorded and returned so that the
// message is retried.
func (w *Worker) Process(ctx context.Context, t Task) error {
	b := w.newBatch()
	if err := w.process(ctx, b, t, ""); err != nil {
		return err
	}
	if failed := w.finish(ctx, b); len(failed) > 0 {
		return fmt.Errorf("project %d: %w", t.ProjectID, b.err)
	}
	return nil
}

// process runs one task of the batch b. A task that ends well leaves its
// state in b's writer, to be written after its items, with the items and
// states of the batch's other tasks (see finish); one that fails or hands
// back stores what it has at once.
func (w *Worker) process(ctx context.Context, b *batch, t Task, id string) error {
	r := &run{t: t, w: b.w, start: w.Now().UTC()}
	cpk, ssk := store.CoursePK(t.CourseID), "SYNC#"+itoa(t.ProjectID)
	if b.w.Holds(cpk, ssk) {
		// The project's last task in this batch is not stored yet: this
		// one must start from its state.
		if err := b.w.Flush(ctx); err != nil {
			return err
		}
	}
	// Before any write: the project must be one the course lists.
	var listed struct{}
	if err := w.Store.Get(ctx, cpk, store.ProjectSK(t.ProjectID), &listed); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("course %d, project %d: %w", t.CourseID, t.ProjectID, ErrNotInCourse)
	} else if err != nil {
		return err
	}
	if err := w.Store.Get(ctx, cpk, ssk, &r.state); err != nil && !errors.Is(err, store.ErrNotFound) {
		if outOfTime(ctx, err) {
			// The tasks before this one used the invocation up: queue it
			// again untouched rather than fail the message.
			return w.requeue(ctx, t)
		}
		return err
	}
	r.state.ProjectID = t.ProjectID
	if hb := r.state.HandedBackTask; hb != nil && hb.Equal(t.ScheduledAt) && r.state.HandedBackPart > t.Part {
		w.Logger.InfoContext(ctx, "sync task part dropped: a later part of it was handed back already", "project_id", t.ProjectID, "part", t.Part, "handed_back_part", r.state.HandedBackPart)
		return nil
	}
	recordLag(ctx, t.CourseID, r.start, r.state.LastSuccess)
	queued := b.w.Queued
	defer func() { recordWritten(ctx, t.CourseID, b.w.Queued-queued) }()
	err := w.work(ctx, r)
	if errors.Is(err, errOutOfTime) || outOfTime(ctx, err) {
		return w.handBack(ctx, r)
	}
	if err != nil {
		f := gitlab.Classify(err)
		now := w.Now().UTC()
		r.state.LastError, r.state.LastErrorAt, r.state.LastErrorStatus = describeErr(err), &now, f.Status
		// The cursors in the state may only be saved once the items they
		// cover are stored; both with a context of their own, so that a
		// spent invocation context loses no progress.
		if serr := w.save(ctx, r, true); serr != nil {
			return errors.Join(err, serr)
		}
		if f.Status == http.StatusForbidden || f.Status == http.StatusNotFound {
			return w.releaseHook(ctx, r) // permanent for this project: recorded, not retried
		}
		return err
	}
	// The reads are done: the aggregate (which watches the deadline and
	// checkpoints) is all that is left.
	err = w.aggregate(ctx, r)
	if errors.Is(err, errOutOfTime) || outOfTime(ctx, err) {
		return w.handBack(ctx, r)
	}
	if err != nil {
		// Save the cursors (and the items): the retry skips the reads that
		// are done (RepoPolledAt, the merge requests' SyncedFor) and goes
		// on from the aggregate's checkpoint.
		if serr := w.save(ctx, r, false); serr != nil {
			return errors.Join(err, serr)
		}
		return fmt.Errorf("aggregate project %d: %w", r.t.ProjectID, err)
	}
	r.state.LastSuccess, r.state.LastError, r.state.LastErrorAt, r.state.LastErrorStatus = &r.start, "", nil, 0
	r.state.ItemsWritten = int64(b.w.Queued - queued)
	// As the aggregate's end: the margin's work, not cut by the deadline.
	fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := b.w.PutAfter(fin, w.stateItem(r)); err != nil {
		return err
	}
	b.done = append(b.done, done{id: id, r: r})
	return nil
}

// outOfTime reports whether err is the invocation's own deadline (a call
// cut off by it): that is a hand-back, not a failure.
func outOfTime(ctx context.Context, err error) bool {
	return err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil
}

// save stores what the run has (buffered items, then the state) with a
// context that outlives the invocation's, and with touch marks the
// project's data as changed.
func (w *Worker) save(ctx context.Context, r *run, touch bool) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.flushDays(bg, r); err != nil {
		return err
	}
	if err := r.w.Flush(bg); err != nil {
		return err
	}
	if err := w.putState(bg, r); err != nil {
		return err
	}
	if touch {
		return w.touchInfo(bg, r.t.ProjectID)
	}
	return nil
}

func (w *Worker) putState(ctx context.Context, r *run) error {
	return w.Store.Put(ctx, w.stateItem(r))
}

func (w *Worker) stateItem(r *run) store.Item {
	return store.Item{PK: store.CoursePK(r.t.CourseID), SK: "SYNC#" + itoa(r.t.ProjectID), Kind: "sync_state", Value: r.state}
}

// handBack stores what was read and queues the rest of the task.
func (w *Worker) handBack(ctx context.Context, r *run) error {
	// Use a fresh context: the invocation's is about to end, and losing
	// the hand-back would only mean SQS redelivers the whole task.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rest := r.t
	rest.Part++
	if err := w.flushDays(bg, r); err != nil {
		return err
	}
	if err := r.w.Flush(bg); err != nil {
		return err
	}
	at := r.t.ScheduledAt
	r.state.HandedBackTask, r.state.HandedBackPart = &at, rest.Part
	if err := w.putState(bg, r); err != nil {
		return err
	}
	if err := w.send(bg, rest); err != nil {
		// Not handed back: the redelivery of this message must not be
		// taken for a duplicate.
		r.state.HandedBackTask, r.state.HandedBackPart = nil, 0
		return errors.Join(err, w.putState(bg, r))
	}
	step := "read"
	if !rest.Repo && !rest.Pipelines && len(rest.MRs) == 0 {
		step = "aggregate"
	}
	w.Logger.InfoContext(ctx, "sync task continues in a new message", "project_id", r.t.ProjectID, "part", rest.Part, "step", step, "mrs_left", len(rest.MRs), "repo_left", rest.Repo)
	return nil
}

// send queues a task (the rest of one, or one not started).
func (w *Worker) send(ctx context.Context, t Task) error {
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode task of project %d: %w", t.ProjectID, err)
	}
	if _, err := w.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(w.QueueURL), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("hand back project %d: %w", t.ProjectID, err)
	}
	return nil
}

// requeue queues a task this invocation had no time to start. Safe to
// repeat: the task's work is idempotent, and a copy finds it done.
func (w *Worker) requeue(ctx context.Context, t Task) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.send(bg, t); err != nil {
		return err
	}
	w.Logger.InfoContext(ctx, "sync task continues in a new message", "project_id", t.ProjectID, "part", t.Part, "step", "not started")
	return nil
}

func (w *Worker) work(ctx context.Context, r *run) error {
	api, err := w.GitLab.API(ctx)
	if err != nil {
		return err
	}
	ppk := store.ProjectPK(r.t.ProjectID)
	if r.t.Hook {
		if err := w.takeHook(ctx, api, r, ppk); err != nil {
			return err
		}
	}
	st := r.state
	if r.t.Repo && st.Reading == nil && st.RepoPolledAt != nil && !st.RepoPolledAt.Before(r.t.ScheduledAt) {
		r.t.Repo = false // a duplicate delivery: this poll is done already
	}
	if r.t.Members && !r.t.Repo {
		if st.MembersReadAt == nil || st.MembersReadAt.Before(r.t.ScheduledAt) { // else a duplicate delivery
			if w.stop(ctx, r) {
				return errOutOfTime
			}
			if err := w.members(ctx, api, r, ppk); err != nil {
				return err
			}
		}
		r.t.Members = false
	}
	if r.t.Repo {
		if err := w.repo(ctx, api, r, ppk); err != nil {
			return err
		}
		r.t.Repo, r.t.Pipelines = false, false // the poll read the pipelines
	}
	if r.t.Pipelines {
		if err := w.pipelines(ctx, api, r, ppk); err != nil {
			return err
		}
		r.t.Pipelines = false
	}
	if len(r.t.MRs) == 0 {
		return nil
	}
	mrs, err := store.All[gitpulse.MergeRequest](ctx, w.Store, ppk, "MR#")
	if err != nil {
		return err
	}
	extras, err := store.All[mrExtra](ctx, w.Store, ppk, "MRX#")
	if err != nil {
		return err
	}
	byIID := map[int64]gitpulse.MergeRequest{}
	for _, mr := range mrs {
		byIID[mr.IID] = mr
	}
	done := map[int64]time.Time{}
	for _, x := range extras {
		done[x.IID] = x.SyncedFor
	}
	for len(r.t.MRs) > 0 {
		iid := r.t.MRs[0]
		mr := byIID[iid]
		// Read already for this version of the merge request (a
		// duplicate delivery): nothing to ask GitLab.
		if at, ok := done[iid]; ok && !mr.UpdatedAt.IsZero() && !at.Before(mr.UpdatedAt) {
			r.t.MRs = r.t.MRs[1:]
			continue
		}
		if w.stop(ctx, r) {
			return errOutOfTime
		}
		if err := w.mergeRequest(ctx, api, r, ppk, iid, mr); err != nil {
			return fmt.Errorf("merge request !%d: %w", iid, err)
		}
		r.t.MRs = r.t.MRs[1:]
	}
	return nil
}

// mrExtra is what the worker learns per merge request beyond the list.
type mrExtra struct {
	IID          int64             `dynamodbav:"iid"`
	ApprovedBy   []gitpulse.Person `dynamodbav:"approved_by"`
	ClosesIssues []int64           `dynamodbav:"closes_issues,omitempty"`
	// SyncedFor is the merge request's updated_at when this was read.
	SyncedFor time.Time `dynamodbav:"synced_for"`
}

func unmarshal[T any](item map[string]ddbtypes.AttributeValue) (T, error) {
	var v T
	err := attributevalue.UnmarshalMap(item, &v)
	return v, err
}
