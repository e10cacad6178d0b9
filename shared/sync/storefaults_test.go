package sync_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	gosync "sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// flakyWrites makes the worker's BatchWriteItem calls fail as a bad
// DynamoDB day does: some fail outright (a dropped connection, which
// moto cannot produce) and some leave part of the batch unprocessed (a
// throttle). It counts what it did, so that the test knows the faults
// hit.
type flakyWrites struct {
	store.DB
	mu                  gosync.Mutex
	rng                 *rand.Rand
	failed, unprocessed int
	stateCalls          int // calls of tasks' states alone
	randomFailed        int // calls failed at random
	stateCallsFailed    int // failed calls that carried a task's state
}

func (f *flakyWrites) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	states, progress, all := 0, 0, 0
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			all++
			switch kindOf(r) {
			case "sync_state":
				states++
				progress++
			case "course_version":
				progress++
			}
		}
	}
	// The first and third calls of progress records alone (a batch's last
	// flush: the tasks' states, and the course's VERSION that goes with
	// them, both put with PutAfter) fail, and two others at random, one in
	// ten: four failures in all, so that no message fails the five times
	// that dead-letter it.
	var fail bool
	if states > 0 && progress == all {
		f.stateCalls++
		fail = f.stateCalls == 1 || f.stateCalls == 3
	} else if f.randomFailed < 2 && f.rng.IntN(10) == 0 {
		fail = true
		f.randomFailed++
	}
	keep := map[string][]ddbtypes.WriteRequest{}
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]ddbtypes.WriteRequest{}}
	for table, reqs := range in.RequestItems {
		for _, r := range reqs {
			if !fail && f.rng.IntN(5) == 0 {
				out.UnprocessedItems[table] = append(out.UnprocessedItems[table], r)
				f.unprocessed++
				continue
			}
			keep[table] = append(keep[table], r)
		}
	}
	if fail {
		f.failed++
		if states > 0 {
			f.stateCallsFailed++
		}
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("injected: connection reset by peer")
	}
	if len(keep) > 0 {
		if _, err := f.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: keep}, opts...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func kindOf(r ddbtypes.WriteRequest) string {
	if r.PutRequest == nil {
		return ""
	}
	k, _ := r.PutRequest.Item["kind"].(*ddbtypes.AttributeValueMemberS)
	if k == nil {
		return ""
	}
	return k.Value
}

// TestSyncUnderStoreFaults: the tasks of one SQS batch share their
// writes, and each task's state (its cursors) goes in a batch after its
// items. With writes failing outright (two batches' last flushes, two
// other calls at random) and a fifth of the items of
// the others left unprocessed, in the full sync and
// after activity, every message whose state was not stored is reported
// failed, and once SQS has delivered them again the store equals the
// truth (no state was ever stored ahead of the items it covers) and every
// project's state records its poll.
func TestSyncUnderStoreFaults(t *testing.T) {
	h := newHarness(t, small)
	flaky := &flakyWrites{DB: h.worker.Store.DB, rng: rand.New(rand.NewPCG(3, 5))}
	h.worker.Store.DB = flaky
	h.sync(runOpts{})
	h.compare()
	// A message that succeeded has its state stored: none is lost with a
	// last flush that failed.
	for _, pid := range h.course.ProjectIDs {
		var st gpsync.ProjectState
		if err := h.store.Get(context.Background(), store.CoursePK(int64(h.course.GroupID)), "SYNC#"+strconv.Itoa(pid), &st); err != nil || st.LastSuccess == nil || st.RepoPolledAt == nil {
			t.Errorf("project %d after the full sync: state %+v (%v); want its poll and success recorded", pid, st, err)
		}
	}
	if _, err := h.sim.AddActivity(13, h.course, 40); err != nil {
		t.Fatal(err)
	}
	h.sync(runOpts{})
	h.compare()
	if flaky.failed == 0 || flaky.unprocessed == 0 || flaky.stateCallsFailed == 0 {
		t.Fatalf("the faults did not hit: %d failed calls (%d with a state), %d items unprocessed", flaky.failed, flaky.stateCallsFailed, flaky.unprocessed)
	}
	if h.failures == 0 {
		t.Errorf("%d write calls failed (%d carrying a state) and no message was reported failed", flaky.failed, flaky.stateCallsFailed)
	}
	if n := strings.Count(h.logs.String(), "sync batch not stored in full"); n == 0 {
		t.Errorf("no batch's last flush failed: the test did not try the end of a batch")
	}
	t.Logf("%d write calls failed (%d carrying a state), %d items left unprocessed, %d messages failed and delivered again",
		flaky.failed, flaky.stateCallsFailed, flaky.unprocessed, h.failures)
}
