package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestHookProtocol walks the webhook marker through its steps: the first
// event claims it and queues, later ones coalesce, a resent one is a
// duplicate; the task reads what they said changed and releases it; an
// event during the task makes the task queue the next one; a marker whose
// task was lost is claimed again after HookMaxAge. Every task is delivered
// twice where that is the point, and the store equals the simulator after each
// step.
func TestHookProtocol(t *testing.T) {
	h := newHarness(t, sim.CourseSpec{Path: "hooks/protocol", Teams: 1, StudentsPerTeam: 2, Weeks: 1})
	h.sync(runOpts{})
	ctx := context.Background()
	cid, pid := int64(h.course.GroupID), h.course.ProjectIDs[0]
	student := h.course.Teams[0].StudentIDs[0]
	now := time.Now()
	claim := func(c gpsync.HookChange, event string, at time.Time, want gpsync.Claim) {
		t.Helper()
		got, err := gpsync.ClaimHook(ctx, h.store, cid, int64(pid), c, event, at)
		if err != nil || got != want {
			t.Fatalf("claim %+v (event %q): got %v, %v, want %v", c, event, got, err, want)
		}
	}
	run := func(task gpsync.Task, deliveries int) {
		t.Helper()
		body, _ := json.Marshal(task)
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: string(body)}}}
		for range deliveries {
			if resp, err := h.worker.Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("hook task: %v %+v", err, resp)
			}
		}
	}

	is, err := h.sim.AddIssue(pid, sim.IssueSpec{AuthorID: student, Title: "by hook"})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := h.sim.AddMergeRequest(pid, sim.MRSpec{AuthorID: student, Title: "by hook"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.AddCommit(pid, sim.CommitSpec{AuthorID: student, Branch: "main"}); err != nil {
		t.Fatal(err)
	}
	claim(gpsync.HookChange{Kind: gpsync.HookIssue, Issue: int64(is.IID)}, "e1", now, gpsync.ClaimQueue)
	claim(gpsync.HookChange{Kind: gpsync.HookMergeRequest, MR: int64(mr.IID)}, "e2", now, gpsync.ClaimCoalesced)
	claim(gpsync.HookChange{Kind: gpsync.HookPush}, "e3", now, gpsync.ClaimCoalesced)
	claim(gpsync.HookChange{Kind: gpsync.HookPush}, "e3", now, gpsync.ClaimDuplicate)
	run(gpsync.HookTask(cid, int64(pid), now), 2) // redelivered: the second finds no marker and reads nothing
	if q := h.queued(t); len(q) != 0 {
		t.Fatalf("after the task: got %v queued, want nothing (the marker released)", q)
	}
	h.compare()

	// An event while the task runs: the task read n = 1, the marker holds
	// 2 when it ends, so it stays claimed and the task queues the next.
	claim(gpsync.HookChange{Kind: gpsync.HookPipeline}, "e4", now, gpsync.ClaimQueue)
	is2, err := h.sim.AddIssue(pid, sim.IssueSpec{AuthorID: student, Title: "during the task"})
	if err != nil {
		t.Fatal(err)
	}
	claim(gpsync.HookChange{Kind: gpsync.HookIssue, Issue: int64(is2.IID)}, "e5", now, gpsync.ClaimCoalesced)
	task := gpsync.HookTask(cid, int64(pid), now)
	task.Hook, task.HookN = false, 1 // as after reading the marker at n = 1
	// (Delivered once: a redelivery would queue a second next task, which
	// finds the marker its twin released, or the same one: cheap, not wrong.)
	run(task, 1)
	q := h.queued(t)
	if len(q) != 1 {
		t.Fatalf("after a task overtaken by an event: got %v queued, want the next hook task", q)
	}
	var next gpsync.Task
	if err := json.Unmarshal([]byte(q[0]), &next); err != nil || !next.Hook || next.ProjectID != int64(pid) {
		t.Fatalf("next task: got %s, want a hook task of project %d", q[0], pid)
	}
	claim(gpsync.HookChange{Kind: gpsync.HookPush}, "e6", now, gpsync.ClaimCoalesced) // still claimed for it
	h.drainQueued(t)
	h.compare()

	// A lost task: after HookMaxAge an event claims the marker again.
	claim(gpsync.HookChange{Kind: gpsync.HookPush}, "e7", now, gpsync.ClaimQueue)
	claim(gpsync.HookChange{Kind: gpsync.HookPush}, "e8", now.Add(time.Minute), gpsync.ClaimCoalesced)
	claim(gpsync.HookChange{Kind: gpsync.HookPush}, "e9", now.Add(gpsync.HookMaxAge+time.Minute), gpsync.ClaimQueue)
}

// queued is the bodies of the messages waiting in the queue (left there).
func (h *harness) queued(t *testing.T) []string {
	t.Helper()
	out, err := h.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(h.queue), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
		// Visible again at once, for the drain.
		if _, err := h.sqs.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(h.queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	return bodies
}

// drainQueued runs and deletes every queued message.
func (h *harness) drainQueued(t *testing.T) {
	t.Helper()
	for range 10 {
		out, err := h.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(h.queue), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		for _, m := range out.Messages {
			resp, err := h.worker.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
			if err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatal(fmt.Errorf("task %s: %v %+v", aws.ToString(m.Body), err, resp))
			}
			_, _ = h.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(h.queue), ReceiptHandle: m.ReceiptHandle})
		}
	}
	t.Fatal("the queue did not drain")
}
