package api_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
)

// TestSyncNowCoalesces: 500 sync-now calls (ten at a time) queue one plan;
// every other call answers 202 naming the plan already queued. Once the
// worker ran the plan, the next call queues a new one, and a marker older
// than PlanMaxAge (a lost message) no longer blocks.
func TestSyncNowCoalesces(t *testing.T) {
	f := newFixture(t)
	target := "/api/v1/courses/" + strconv.FormatInt(f.sc.CourseID, 10) + "/sync"
	queued := func() int {
		t.Helper()
		out, err := sqs.NewFromConfig(f.sc.AWS).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(f.sc.Resources.SyncQueueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		return n
	}
	if n := queued(); n != 0 {
		t.Fatalf("got %d messages before the calls, want 0", n)
	}

	var mu sync.Mutex
	fresh, already, other := 0, 0, 0
	var first time.Time
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Go(func() {
			for range 50 {
				rec := f.do(t, f.admin, "POST", target, "")
				got := decodeAs[api.SyncQueued](t, rec)
				mu.Lock()
				switch {
				case rec.Code != 202 || got.CourseID != f.sc.CourseID:
					other++
				case got.AlreadyQueued:
					already++
				default:
					fresh++
					first = got.QueuedAt
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 || already != 499 || other != 0 {
		t.Errorf("got %d queued, %d already queued, %d other answers; want 1, 499, 0", fresh, already, other)
	}
	if n := queued(); n != 1 {
		t.Errorf("got %d plan tasks queued by 500 calls, want 1", n)
	}
	again := decodeAs[api.SyncQueued](t, f.do(t, f.admin, "POST", target, ""))
	if !again.AlreadyQueued || !again.QueuedAt.Equal(first) {
		t.Errorf("got %+v, want already_queued naming the plan queued at %s", again, first)
	}

	f.sc.Drain(t) // the worker runs the plan and releases the marker
	if got := decodeAs[api.SyncQueued](t, f.do(t, f.admin, "POST", target, "")); got.AlreadyQueued {
		t.Errorf("after the plan ran: got %+v, want a new plan queued", got)
	}
	f.clock.Add(16 * time.Minute) // the plan's message is lost: its marker grows stale
	if got := decodeAs[api.SyncQueued](t, f.do(t, f.admin, "POST", target, "")); got.AlreadyQueued {
		t.Errorf("a marker 16 minutes old: got %+v, want a new plan queued", got)
	}
	if n := queued(); n != 2 {
		t.Errorf("got %d plan tasks, want 2 (one after the plan ran, one past the stale marker)", n)
	}
	f.sc.Drain(t)
}

// TestSyncNowWithoutQueue: while the sync queue is missing (a local AWS
// restarted, say), sync now answers 503 with Retry-After and keeps no
// plan marker, so once the queue is back the next call queues the plan.
func TestSyncNowWithoutQueue(t *testing.T) {
	// Under IAM enforcement moto refuses a SendMessage to a queue that is
	// gone with AccessDenied, where
	// AWS answers NonExistentQueue; either is an unavailable queue to the
	// API, so that one denial is expected here.
	f := newFixtureRole(t, sim.CourseSpec{Path: "api/course", Teams: 2, StudentsPerTeam: 3, SoloProjects: 1, Weeks: 3}, testenv.RoleOptions{ExpectDenied: true})
	ctx := context.Background()
	target := "/api/v1/courses/" + strconv.FormatInt(f.sc.CourseID, 10) + "/sync"
	q := sqs.NewFromConfig(f.sc.AWS)
	if _, err := q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(f.sc.Resources.SyncQueueURL)}); err != nil {
		t.Fatal(err)
	}
	// f.do refuses a 5xx; this one is the answer wanted.
	req := httptest.NewRequest("POST", target, nil)
	req.Header.Set("Authorization", "Bearer "+f.admin)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("sync now without its queue: got %d (Retry-After %q) %s, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(f.sc.Resources.SyncQueue)}); err != nil {
		t.Fatal(err)
	}
	rec = f.do(t, f.admin, "POST", target, "")
	if got := decodeAs[api.SyncQueued](t, rec); rec.Code != 202 || got.AlreadyQueued {
		t.Errorf("with the queue back: got %d %+v, want 202 and a plan queued", rec.Code, got)
	}
}
