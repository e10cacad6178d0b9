package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Writer buffers items and writes them 25 to a BatchWriteItem, only full
// batches until Flush, so that N items cost about ceil(N/25) requests.
// Two items with the same key in the buffer collapse into the later one
// (DynamoDB refuses duplicates in one batch). It is not safe for
// concurrent use; one writer serves one invocation (the tasks of one SQS
// batch share it, so that their items share batches too).
//
// An item put with PutAfter (a cursor that says other items are stored)
// is written only in a batch sent after every item put before it was
// written: never in the same batch, which DynamoDB may apply in part.
type Writer struct {
	Store    Store
	Attempts int           // retries of unprocessed items (default 8)
	Backoff  time.Duration // first retry wait (default 50ms)

	buf      []entry
	index    map[[2]string]int
	cmp      []entry // IfChanged items not compared yet
	cmpIndex map[[2]string]int
	seq      int

	Requests int // BatchWriteItem requests made
	Items    int // items written
	// Queued counts the items that entered the write buffer (after
	// their comparison, for IfChanged ones), collapsed ones once.
	Queued int
	// Compares counts the BatchGetItem requests of IfChanged items;
	// Changed and Unchanged what they found.
	Compares, Changed, Unchanged int
}

// entry is one buffered item: seq is the order it was put in, after
// whether it waits for the items put before it (PutAfter).
type entry struct {
	m     map[string]ddbtypes.AttributeValue
	seq   int
	after bool
}

// Put adds an item, writing a batch when 25 can go. An item marked
// IfChanged waits until 100 are buffered (or Flush, or Resolve) to be
// compared with the stored ones in one read.
func (w *Writer) Put(ctx context.Context, it Item) error { return w.put(ctx, it, false) }

// PutAfter adds an item (never compared: always written) that reaches the
// table only after every item put before it: a record of progress whose
// presence must mean that what it covers is stored. Items put after it do
// not wait for it.
func (w *Writer) PutAfter(ctx context.Context, it Item) error {
	it.IfChanged = false
	return w.put(ctx, it, true)
}

func (w *Writer) put(ctx context.Context, it Item, after bool) error {
	m, err := it.marshal()
	if err != nil {
		return err
	}
	w.seq++
	e := entry{m: m, seq: w.seq, after: after}
	key := [2]string{it.PK, it.SK}
	if i, ok := w.cmpIndex[key]; ok && !it.IfChanged {
		// Now to be written whatever is stored: out of the comparison
		// (the item keeps its place, which PutAfter items wait for).
		e.seq = min(e.seq, w.cmp[i].seq)
		w.cmp = slices.Delete(w.cmp, i, i+1)
		w.cmpIndex = indexOf(w.cmp)
	}
	if _, pending := w.index[key]; it.IfChanged && !pending {
		if i, ok := w.cmpIndex[key]; ok {
			w.cmp[i].m = m
			return nil
		}
		if w.cmpIndex == nil {
			w.cmpIndex = map[[2]string]int{}
		}
		w.cmpIndex[key] = len(w.cmp)
		w.cmp = append(w.cmp, e)
		if len(w.cmp) >= maxBatchGet {
			return w.resolve(ctx)
		}
		return nil
	}
	return w.add(ctx, e)
}

// add puts an entry in the write buffer, and writes a batch once 25
// entries may go.
func (w *Writer) add(ctx context.Context, e entry) error {
	w.insert(e)
	return w.writeReady(ctx)
}

// writeReady writes full batches while 25 entries may go.
func (w *Writer) writeReady(ctx context.Context) error {
	for w.ready() >= 25 {
		if err := w.write(ctx, 25); err != nil {
			return err
		}
	}
	return nil
}

// insert puts an entry in the write buffer, collapsing it into a
// buffered one of the same key.
func (w *Writer) insert(e entry) {
	if w.index == nil {
		w.index = map[[2]string]int{}
	}
	key := keyOf(e.m)
	if i, ok := w.index[key]; ok {
		old := w.buf[i]
		if !e.after {
			// Keeps its place: items put after the first version wait
			// for this one (never too early).
			e.seq = min(e.seq, old.seq)
		}
		w.buf[i] = e
		return
	}
	w.index[key] = len(w.buf)
	w.buf = append(w.buf, e)
	w.Queued++
}

// barrier is the place of the first item put, and not yet written, that
// PutAfter items wait for: those put after it cannot go yet.
func (w *Writer) barrier() int {
	b := math.MaxInt
	for _, e := range w.buf {
		if !e.after {
			b = min(b, e.seq)
		}
	}
	for _, e := range w.cmp {
		b = min(b, e.seq)
	}
	return b
}

// ready counts the buffered entries that may go in the next batch.
func (w *Writer) ready() int {
	b, n := w.barrier(), 0
	for _, e := range w.buf {
		if !e.after || e.seq < b {
			n++
		}
	}
	return n
}

// Holds reports whether the item pk/sk is buffered, not yet written (a
// write that failed keeps its items buffered).
func (w *Writer) Holds(pk, sk string) bool {
	key := [2]string{pk, sk}
	_, inBuf := w.index[key]
	_, inCmp := w.cmpIndex[key]
	return inBuf || inCmp
}

// Held decodes into v the buffered (not yet written) item pk/sk, and
// reports whether there is one: a reader of an item the writer may hold
// reads it here first.
func (w *Writer) Held(pk, sk string, v any) (bool, error) {
	key := [2]string{pk, sk}
	var m map[string]ddbtypes.AttributeValue
	if i, ok := w.index[key]; ok {
		m = w.buf[i].m
	} else if i, ok := w.cmpIndex[key]; ok {
		m = w.cmp[i].m
	} else {
		return false, nil
	}
	return true, attributevalue.UnmarshalMap(m, v)
}

// Resolve compares the IfChanged items buffered so far with the stored
// ones, so that Changed counts them; the changed ones wait to be written.
func (w *Writer) Resolve(ctx context.Context) error { return w.resolve(ctx) }

// Flush writes everything buffered (IfChanged items only if changed).
func (w *Writer) Flush(ctx context.Context) error {
	if err := w.resolve(ctx); err != nil {
		return err
	}
	for len(w.buf) > 0 {
		if err := w.write(ctx, 25); err != nil {
			return err
		}
	}
	return nil
}

// write sends up to n of the entries that may go, in the order they were
// buffered, and asks again for the ones DynamoDB leaves unprocessed. On
// an error the entries not written stay buffered.
func (w *Writer) write(ctx context.Context, n int) error {
	b := w.barrier()
	var batch, rest []entry
	for _, e := range w.buf {
		if len(batch) < n && (!e.after || e.seq < b) {
			batch = append(batch, e)
		} else {
			rest = append(rest, e)
		}
	}
	w.buf = rest
	w.index = indexOf(w.buf)
	attempts, backoff := w.Attempts, w.Backoff
	if attempts <= 0 {
		attempts = 8
	}
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	// keep puts the entries not written back in front of the buffer.
	keep := func(err error) error {
		w.buf = append(batch, w.buf...)
		w.index = indexOf(w.buf)
		return err
	}
	for attempt := 0; len(batch) > 0; attempt++ {
		if attempt >= attempts {
			return keep(fmt.Errorf("write %d items to %s: still unprocessed after %d attempts", len(batch), w.Store.Table, attempts))
		}
		if attempt > 0 {
			select {
			case <-time.After(backoff << min(attempt-1, 6)):
			case <-ctx.Done():
				return keep(ctx.Err())
			}
		}
		reqs := make([]ddbtypes.WriteRequest, 0, len(batch))
		for _, e := range batch {
			reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: e.m}})
		}
		out, err := w.Store.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{w.Store.Table: reqs}})
		w.Requests++
		if err != nil {
			return keep(fmt.Errorf("write %d items to %s: %w", len(batch), w.Store.Table, err))
		}
		left := map[[2]string]bool{}
		for _, r := range out.UnprocessedItems[w.Store.Table] {
			if r.PutRequest != nil {
				left[keyOf(r.PutRequest.Item)] = true
			}
		}
		w.Items += len(batch) - len(left)
		batch = slices.DeleteFunc(batch, func(e entry) bool { return !left[keyOf(e.m)] })
	}
	return nil
}

func indexOf(es []entry) map[[2]string]int {
	idx := make(map[[2]string]int, len(es))
	for i, e := range es {
		idx[keyOf(e.m)] = i
	}
	return idx
}
