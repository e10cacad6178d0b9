package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestWritesFollowTheChange: a repository poll of a project where
// nothing changed writes nothing but the task's own state, and keeps the
// project's validator (INFO's updated_at) where it was; one new note on a
// merge request with many writes that note (not its merge request's other
// notes again), the stats and rows it changes, all in one BatchWriteItem,
// then the task's state and the course's VERSION in a second (after them,
// never with them), and moves the validator.
func TestWritesFollowTheChange(t *testing.T) {
	clk := &testenv.Shifted{}
	h := newHarnessAt(t, small, clk.Now)
	h.sync(runOpts{})
	ctx := context.Background()
	pid := h.course.ProjectIDs[0]
	writes := &writesByKind{DB: h.worker.Store.DB}
	h.worker.Store.DB = writes
	info := func() time.Time {
		t.Helper()
		var in gpsync.ProjectInfo
		if err := h.store.Get(ctx, pk(pid), "INFO", &in); err != nil {
			t.Fatal(err)
		}
		return in.UpdatedAt
	}

	validator := info()
	clk.Skip(time.Hour)
	if err := h.worker.Process(ctx, gpsync.Task{CourseID: int64(h.course.GroupID), ProjectID: int64(pid), Repo: true, ScheduledAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	delete(writes.n, "sync_state")
	if len(writes.n) != 0 {
		t.Errorf("a poll that found nothing new wrote %v; want nothing but its state", writes.n)
	}
	if got := info(); !got.Equal(validator) {
		t.Errorf("INFO's updated_at moved from %v to %v with nothing changed", validator, got)
	}

	var mr sim.MergeRequest
	for _, m := range h.sim.MergeRequests(pid) {
		if len(m.Notes) > len(mr.Notes) {
			mr = m
		}
	}
	if len(mr.Notes) < 3 {
		t.Fatalf("the generated project's busiest merge request has %d notes; the test needs a few", len(mr.Notes))
	}
	if _, err := h.sim.AddNote(pid, mr.IID, sim.NoteSpec{AuthorID: h.course.TeacherID, Body: "Please add a test."}); err != nil {
		t.Fatal(err)
	}
	clk.Skip(6 * time.Minute)
	writes.n, writes.batches, writes.puts = map[string]int{}, 0, 0
	h.sync(runOpts{})
	h.compare()
	if writes.n["note"] != 1 {
		t.Errorf("one new note on !%d (which had %d) wrote %d note items; want 1", mr.IID, len(mr.Notes), writes.n["note"])
	}
	for _, kind := range []string{"commit", "member", "pipeline"} {
		if writes.n[kind] != 0 {
			t.Errorf("one new note wrote %d %s items; want none", writes.n[kind], kind)
		}
	}
	if writes.batches != 2 || writes.puts != 0 || writes.last["sync_state"] != 1 || writes.last["course_version"] != 1 || len(writes.last) != 2 {
		t.Errorf("one new note: %d BatchWriteItem and %d PutItem requests, the last batch %v; want 2 and 0 (the task's items and its aggregate in one flush, then its state and the course's VERSION after them)",
			writes.batches, writes.puts, writes.last)
	}
	if got := info(); !got.After(validator) {
		t.Errorf("INFO's updated_at %v after a new note, was %v: the project's listings' validator must move", got, validator)
	}
	t.Logf("one new note wrote: %v", writes.n)
}

// writesByKind counts the items written (PutItem, BatchWriteItem) by kind.
type writesByKind struct {
	store.DB
	n       map[string]int
	batches int            // BatchWriteItem requests
	puts    int            // PutItem requests
	last    map[string]int // the kinds of the last BatchWriteItem
}

func (c *writesByKind) count(item map[string]ddbtypes.AttributeValue, also map[string]int) {
	if c.n == nil {
		c.n = map[string]int{}
	}
	if k, ok := item["kind"].(*ddbtypes.AttributeValueMemberS); ok {
		c.n[k.Value]++
		if also != nil {
			also[k.Value]++
		}
	}
}

func (c *writesByKind) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batches++
	c.last = map[string]int{}
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				c.count(r.PutRequest.Item, c.last)
			}
		}
	}
	return c.DB.BatchWriteItem(ctx, in, opts...)
}

func (c *writesByKind) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts++
	c.count(in.Item, nil)
	return c.DB.PutItem(ctx, in, opts...)
}
