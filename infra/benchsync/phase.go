package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// Drain settings: messages per receive (the worker's SQS batch size, as
// the template sets it) and each worker invocation's deadline.
const (
	receiveMax      = gpsync.TasksPerInvocation
	scheduleTimeout = 10 * time.Minute
	maxRounds       = 5000
)

// deadline is each worker invocation's deadline (the -deadline flag);
// with chargeMoto false (the default) moto's time beyond a DynamoDB call's
// is not charged to it (deadline.go).
var (
	deadline   = 60 * time.Second
	chargeMoto = false
)

func handleTimeout() time.Duration { return deadline }

// bench is what the phases share: the simulator and course, the sync
// functions, the queue and the counters.
type bench struct {
	sim     *sim.Sim
	course  sim.Course
	sched   *gpsync.Scheduler
	worker  *gpsync.Worker
	sqs     *sqs.Client
	queue   string
	db      *countingDB
	handOff *countingQueue
	mem     *memWatch
	largest int // project id of the heaviest task
	// gitlabTime times the GitLab requests.
	gitlabTime *timedTransport
	// now is the sync's clock; staffAt is when a sync last read the
	// course's staff.
	now     func() time.Time
	staffAt time.Time
	// largeCalls, when set, counts the DynamoDB calls of the largest
	// project's tasks, each run alone (the one-new-commit figure).
	largeCalls *testenv.Calls
}

// phase is what one sync (scheduler and drained queue) did.
type phase struct {
	name      string
	wall      time.Duration // scheduler and drain, without the forced GCs
	schedWall time.Duration // the scheduler's part
	gitlab    time.Duration // time in GitLab requests
	requests  map[string]int
	total     int
	db        dbCounts
	course    gpsync.CourseResult
	messages  int // worker messages handled (deliveries)
	failures  int // messages the worker reported failed
	handBacks int // tasks continued in a new message
	// GitLab answers 429 and 5xx (each retried by the client).
	throttled, serverErrors int
	// staffDue is the course staff's pages read when the scheduler's
	// hourly refresh was due (sync.StaffMaxAge after the last read): a
	// long run on moto passes that hour in real time. Pages read before
	// it was due are not counted here, and so count against a goal.
	staffDue int
	// mustWrite is the items the sync had to write, by kind (set by the
	// caller from the simulator's data).
	mustWrite map[string]int
	// Memory, when measured: the whole worker phase and the largest
	// project's tasks.
	measured      bool
	worker, large peak
	largest       int // the largest project's id
	largeTasks    int
}

// sync runs the scheduler once and then the worker over the queue until
// it is empty. With measure, the worker's heap is sampled, the largest
// project's tasks each handled in an invocation of their own.
func (b *bench) sync(ctx context.Context, name string, measure bool) (phase, error) {
	ph := phase{name: name, measured: measure, largest: b.largest}
	reqBefore, dbBefore, hbBefore, glBefore := b.sim.RequestCounts(), b.db.snapshot(), b.handOff.handBacks.Load(), b.gitlabTime.Busy()
	thrBefore, errBefore := b.gitlabTime.throttled.Load(), b.gitlabTime.serverErrors.Load()

	start := b.now()
	sctx, cancel := context.WithTimeout(ctx, scheduleTimeout)
	t0 := time.Now()
	sum, err := b.sched.Run(sctx, []string{b.course.Path})
	ph.wall = time.Since(t0)
	ph.schedWall = ph.wall
	cancel()
	if err != nil {
		return ph, fmt.Errorf("%s: scheduler: %w", name, err)
	}
	if len(sum.Courses) != 1 || sum.Courses[0].Error != "" {
		return ph, fmt.Errorf("%s: scheduler: %+v", name, sum.Courses)
	}
	ph.course = sum.Courses[0]

	if measure {
		b.mem.BeginPhase()
	}
	t1 := time.Now()
	var gcTime time.Duration
	for idle, rounds := 0, 0; idle < 2; rounds++ {
		if rounds == maxRounds {
			return ph, fmt.Errorf("%s: the queue did not drain in %d rounds", name, rounds)
		}
		out, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.queue), MaxNumberOfMessages: receiveMax})
		if err != nil {
			return ph, fmt.Errorf("%s: receive: %w", name, err)
		}
		if len(out.Messages) == 0 {
			idle++
			continue
		}
		idle = 0
		rest, large := b.split(out.Messages, measure || b.largeCalls != nil)
		failed, err := b.handle(ctx, rest)
		if err != nil {
			return ph, fmt.Errorf("%s: %w", name, err)
		}
		for _, m := range large {
			f, gc, err := b.handleLarge(ctx, m, measure, &ph)
			if err != nil {
				return ph, fmt.Errorf("%s: %w", name, err)
			}
			gcTime += gc
			for k := range f {
				failed[k] = true
			}
		}
		ph.messages += len(out.Messages)
		ph.failures += len(failed)
		if err := b.settle(ctx, out.Messages, failed); err != nil {
			return ph, fmt.Errorf("%s: %w", name, err)
		}
	}
	ph.wall += time.Since(t1) - gcTime
	if measure {
		ph.worker = b.mem.EndPhase()
	}

	ph.total, ph.requests = requestsSince(reqBefore, b.sim.RequestCounts())
	ph.staffDue = b.staffRead(start, ph.requests[epStaff])
	ph.db = b.db.snapshot().since(dbBefore)
	ph.handBacks = int(b.handOff.handBacks.Load() - hbBefore)
	ph.gitlab = b.gitlabTime.Busy() - glBefore
	ph.throttled = int(b.gitlabTime.throttled.Load() - thrBefore)
	ph.serverErrors = int(b.gitlabTime.serverErrors.Load() - errBefore)
	return ph, nil
}

// staffRead notes n pages of the course's staff read by the sync that
// started at start, and returns those the scheduler's hourly refresh
// allowed: all n if sync.StaffMaxAge had passed since the last read (or
// none was made), else 0.
func (b *bench) staffRead(start time.Time, n int) int {
	if n == 0 {
		return 0
	}
	due := b.staffAt.IsZero() || start.Sub(b.staffAt) >= gpsync.StaffMaxAge
	b.staffAt = start
	if !due {
		return 0
	}
	return n
}

// handleLarge runs one of the largest project's tasks in an invocation of
// its own: its heap sampled in a window (with measure; gc is the time of
// the GC that starts it), its DynamoDB calls counted (with largeCalls).
func (b *bench) handleLarge(ctx context.Context, m sqstypes.Message, measure bool, ph *phase) (failed map[string]bool, gc time.Duration, err error) {
	if measure {
		g0 := time.Now()
		b.mem.BeginWindow()
		gc = time.Since(g0)
	}
	if c := b.largeCalls; c != nil {
		c.DB = b.worker.Store.DB
		b.worker.Store.DB = c
		defer func() { b.worker.Store.DB = c.DB }()
	}
	failed, err = b.handle(ctx, []sqstypes.Message{m})
	if err != nil {
		return nil, gc, err
	}
	if measure {
		ph.large = ph.large.Merge(b.mem.EndWindow())
	}
	ph.largeTasks++
	return failed, gc, nil
}

// split separates the largest project's tasks (when measuring, or
// counting their calls) from the others.
func (b *bench) split(msgs []sqstypes.Message, measure bool) (rest, large []sqstypes.Message) {
	for _, m := range msgs {
		var t gpsync.Task
		if measure && json.Unmarshal([]byte(aws.ToString(m.Body)), &t) == nil && t.ProjectID == int64(b.largest) {
			large = append(large, m)
			continue
		}
		rest = append(rest, m)
	}
	return rest, large
}

// handle runs the worker on messages as one SQS event with the invocation
// deadline, and returns the ids of the messages it reported failed.
func (b *bench) handle(ctx context.Context, msgs []sqstypes.Message) (map[string]bool, error) {
	failed := map[string]bool{}
	if len(msgs) == 0 {
		return failed, nil
	}
	ev := events.SQSEvent{}
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
	}
	var wire *wireCounter
	if !chargeMoto {
		wire = b.db.wire
	}
	wctx, cancel := invocationContext(ctx, handleTimeout(), wire)
	defer cancel()
	resp, err := b.worker.Handle(wctx, ev)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}

// settle deletes the messages handled and makes the failed ones visible
// again at once, as SQS would after their visibility timeout.
func (b *bench) settle(ctx context.Context, msgs []sqstypes.Message, failed map[string]bool) error {
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			if _, err := b.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(b.queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
				return fmt.Errorf("release failed message: %w", err)
			}
			continue
		}
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String("m" + strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(del) == 0 {
		return nil
	}
	out, err := b.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(b.queue), Entries: del})
	if err != nil {
		return fmt.Errorf("delete messages: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("delete messages: %d refused (%s)", len(out.Failed), aws.ToString(out.Failed[0].Message))
	}
	return nil
}

// requestsSince is the GitLab requests made between two RequestCounts
// snapshots: the total and by endpoint.
func requestsSince(before, after map[string]int) (int, map[string]int) {
	d := map[string]int{}
	total := 0
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
			total += n
		}
	}
	return total, d
}
