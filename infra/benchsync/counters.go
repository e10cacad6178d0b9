package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/shared/store"
)

// countingDB is the store's DynamoDB client with its calls timed and the
// items it sends counted by kind. Requests are counted on the wire, below
// the SDK's retries, by wire.
type countingDB struct {
	store.DB
	wire                                         *wireCounter
	batchWrites, batchItems, puts, gets, queries atomic.Int64
	writeBusy, readBusy                          atomic.Int64 // nanoseconds in calls

	mu     sync.Mutex
	byKind map[string]int64 // items sent, by their kind attribute
}

// dbCounts is a snapshot of a countingDB's counters.
type dbCounts struct {
	BatchWrites, BatchItems, Puts, Gets, Queries int64
	WriteBusy, ReadBusy                          time.Duration
	ByKind                                       map[string]int64
	// Wire is the HTTP attempts by operation, retries included.
	Wire map[string]int64
}

// timed adds the time since t0 to a busy counter.
func timed(busy *atomic.Int64, t0 time.Time) { busy.Add(int64(time.Since(t0))) }

// BatchWriteItem counts the request and the items DynamoDB took (those it
// left unprocessed are counted when they are sent again).
func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batchWrites.Add(1)
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				c.kind(r.PutRequest.Item)
			}
		}
	}
	defer timed(&c.writeBusy, time.Now())
	out, err := c.DB.BatchWriteItem(ctx, in, opts...)
	if err == nil {
		for table, reqs := range in.RequestItems {
			c.batchItems.Add(int64(len(reqs) - len(out.UnprocessedItems[table])))
		}
	}
	return out, err
}

// PutItem counts the request.
func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts.Add(1)
	c.kind(in.Item)
	defer timed(&c.writeBusy, time.Now())
	return c.DB.PutItem(ctx, in, opts...)
}

// GetItem counts the request.
func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	defer timed(&c.readBusy, time.Now())
	return c.DB.GetItem(ctx, in, opts...)
}

// Query counts the request (each page is one).
func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	defer timed(&c.readBusy, time.Now())
	return c.DB.Query(ctx, in, opts...)
}

// kind counts an item sent by its kind attribute.
func (c *countingDB) kind(item map[string]ddbtypes.AttributeValue) {
	k := "?"
	if v, ok := item["kind"].(*ddbtypes.AttributeValueMemberS); ok {
		k = v.Value
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKind == nil {
		c.byKind = map[string]int64{}
	}
	c.byKind[k]++
}

// snapshot reads the counters.
func (c *countingDB) snapshot() dbCounts {
	c.mu.Lock()
	byKind := maps.Clone(c.byKind)
	c.mu.Unlock()
	return dbCounts{c.batchWrites.Load(), c.batchItems.Load(), c.puts.Load(), c.gets.Load(), c.queries.Load(),
		time.Duration(c.writeBusy.Load()), time.Duration(c.readBusy.Load()), byKind, c.wire.snapshot()}
}

// since is the counts made after an earlier snapshot.
func (a dbCounts) since(b dbCounts) dbCounts {
	byKind := map[string]int64{}
	for k, n := range a.ByKind {
		if d := n - b.ByKind[k]; d > 0 {
			byKind[k] = d
		}
	}
	return dbCounts{a.BatchWrites - b.BatchWrites, a.BatchItems - b.BatchItems, a.Puts - b.Puts, a.Gets - b.Gets, a.Queries - b.Queries,
		a.WriteBusy - b.WriteBusy, a.ReadBusy - b.ReadBusy, byKind, wireSince(b.Wire, a.Wire)}
}

// busy is the time in DynamoDB calls.
func (a dbCounts) busy() time.Duration { return a.WriteBusy + a.ReadBusy }

// writeOps are DynamoDB's write operations.
var writeOps = []string{"BatchWriteItem", "PutItem", "DeleteItem", "UpdateItem", "TransactWriteItems"}

// writeRequests is the write requests sent on the wire, retries included.
func (a dbCounts) writeRequests() int64 {
	n := int64(0)
	for _, op := range writeOps {
		n += a.Wire[op]
	}
	return n
}

// wireTotal is every DynamoDB request sent on the wire.
func (a dbCounts) wireTotal() int64 {
	n := int64(0)
	for _, v := range a.Wire {
		n += v
	}
	return n
}

// items is the items written: by batches and by PutItem.
func (a dbCounts) items() int64 { return a.BatchItems + a.Puts }

// countingQueue is the SQS client with the worker's hand-backs (a task
// continued in a new message before the deadline) counted.
type countingQueue struct {
	*sqs.Client
	handBacks atomic.Int64
}

// SendMessage counts a hand-back.
func (q *countingQueue) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.handBacks.Add(1)
	return q.Client.SendMessage(ctx, in, opts...)
}

// timedTransport times GitLab requests, each from sending it to closing
// its body (client-go reads the body after the round trip), and counts the
// throttled (429) and server error (5xx) answers.
type timedTransport struct {
	next                    http.RoundTripper
	busy                    atomic.Int64 // nanoseconds
	throttled, serverErrors atomic.Int64
}

// RoundTrip sends the request and times it until its body is closed.
func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.busy.Add(int64(time.Since(t0)))
		return resp, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		t.throttled.Add(1)
	case resp.StatusCode >= 500:
		t.serverErrors.Add(1)
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, done: func() { t.busy.Add(int64(time.Since(t0))) }}
	return resp, nil
}

// Busy is the time spent in GitLab requests so far.
func (t *timedTransport) Busy() time.Duration { return time.Duration(t.busy.Load()) }

// timedBody calls done once, when it is closed.
type timedBody struct {
	io.ReadCloser
	done func()
	shut atomic.Bool
}

// Close closes the body and stops the clock.
func (b *timedBody) Close() error {
	if !b.shut.Swap(true) {
		b.done()
	}
	return b.ReadCloser.Close()
}
