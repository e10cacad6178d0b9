package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/metrics"
)

// MetricFallbacks counts, per invocation, the audit items that could not
// be stored and went to the log instead.
const MetricFallbacks = "AuditFallbacks"

// BatchWriter is the DynamoDB call the Writer needs.
type BatchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// batchSize is DynamoDB's limit of items per BatchWriteItem.
const batchSize = 25

// Writer buffers entries and writes them in batches. Record never blocks
// on DynamoDB: a full batch is written in the background; Flush writes the
// rest and waits for every write. It is safe for concurrent use.
type Writer struct {
	DB     BatchWriter
	Table  string
	Logger *slog.Logger
	// Attempts is how many times a batch's unprocessed items are retried
	// (default 5), with exponential backoff from Backoff (default 50ms).
	Attempts int
	Backoff  time.Duration

	mu      sync.Mutex
	buf     []Entry
	wg      sync.WaitGroup
	failed  int // entries logged instead of stored since the last Flush
	written int
}

// Record adds an entry. When a full batch is buffered it is written in the
// background.
func (w *Writer) Record(e Entry) {
	w.mu.Lock()
	w.buf = append(w.buf, e)
	var batch []Entry
	if len(w.buf) >= batchSize {
		batch, w.buf = w.buf[:batchSize:batchSize], w.buf[batchSize:]
	}
	w.mu.Unlock()
	if batch != nil {
		w.wg.Go(func() { w.write(context.Background(), batch) })
	}
}

// FlushStats are the counts of one Flush.
type FlushStats struct {
	Written int // stored in DynamoDB
	Logged  int // could not be stored; written to the log instead
}

// Flush writes every buffered entry and waits for background writes. It
// returns an error when some entries could not be stored (they are in the
// log); the caller should not fail its invocation for that.
func (w *Writer) Flush(ctx context.Context) (FlushStats, error) {
	w.mu.Lock()
	rest := w.buf
	w.buf = nil
	w.mu.Unlock()
	for len(rest) > 0 {
		n := min(batchSize, len(rest))
		batch := rest[:n]
		rest = rest[n:]
		w.wg.Go(func() { w.write(ctx, batch) })
	}
	w.wg.Wait()
	w.mu.Lock()
	stats := FlushStats{Written: w.written, Logged: w.failed}
	w.written, w.failed = 0, 0
	w.mu.Unlock()
	if stats.Logged > 0 {
		w.logger().ErrorContext(ctx, "audit items not stored; written to the log instead", "count", stats.Logged, "table", w.Table)
		metrics.Add(ctx, MetricFallbacks, metrics.Count, float64(stats.Logged))
		return stats, fmt.Errorf("audit: %d items could not be stored in %s and were logged", stats.Logged, w.Table)
	}
	return stats, nil
}

func (w *Writer) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

// write stores one batch (at most 25), retrying unprocessed items with
// backoff; what is left after the last attempt goes to the log.
func (w *Writer) write(ctx context.Context, batch []Entry) {
	attempts, backoff := w.Attempts, w.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	requests := make([]ddbtypes.WriteRequest, 0, len(batch))
	for _, e := range batch {
		item, err := attributevalue.MarshalMap(e)
		if err != nil {
			w.fallback(ctx, []Entry{e}, err)
			continue
		}
		requests = append(requests, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
	}
	pending := requests
	var lastErr error
	for attempt := 0; attempt < attempts && len(pending) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(backoff << (attempt - 1)):
			case <-ctx.Done():
				attempt = attempts
				continue
			}
		}
		out, err := w.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]ddbtypes.WriteRequest{w.Table: pending},
		})
		if err != nil {
			lastErr = err
			if !retryable(err) {
				break
			}
			continue
		}
		done := len(pending) - len(out.UnprocessedItems[w.Table])
		w.mu.Lock()
		w.written += done
		w.mu.Unlock()
		pending = out.UnprocessedItems[w.Table]
		lastErr = errors.New("items left unprocessed")
	}
	if len(pending) == 0 {
		return
	}
	left := make([]Entry, 0, len(pending))
	for _, r := range pending {
		var e Entry
		if err := attributevalue.UnmarshalMap(r.PutRequest.Item, &e); err == nil {
			left = append(left, e)
		}
	}
	w.fallback(ctx, left, lastErr)
}

// retryable reports whether another BatchWriteItem may succeed. The SDK
// has already retried throttling and transient errors by then; a missing
// table or denied access will not heal within an invocation.
func retryable(err error) bool {
	var nf *ddbtypes.ResourceNotFoundException
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &nf) {
		return false
	}
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "AccessDeniedException" || apiErr.ErrorCode() == "ValidationException") {
		return false
	}
	return true
}

// fallback logs entries that could not be stored, one structured record
// each, so that nothing is lost.
func (w *Writer) fallback(ctx context.Context, entries []Entry, cause error) {
	reason := "unknown"
	if cause != nil {
		reason = cause.Error()
	}
	for _, e := range entries {
		w.logger().WarnContext(ctx, "audit item not stored", "audit", e, "table", w.Table, "reason", reason)
	}
	w.mu.Lock()
	w.failed += len(entries)
	w.mu.Unlock()
}
