package sync

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gitpulse/gitpulse/shared/store"
)

// checkpoint is PROJECT#<id> / AGGREGATE: an aggregate cut short by the
// deadline, for the same task's next part to go on from. After is the
// last sort key read; Task is the task's ScheduledAt, so a checkpoint is
// only ever resumed by the task that wrote it (another task may have
// changed items already read, and starts over).
type checkpoint struct {
	Task  time.Time `dynamodbav:"task"`
	After string    `dynamodbav:"after"`
	Acc   []byte    `dynamodbav:"acc"` // gzip'd JSON of the aggAcc
}

const checkpointSK = "AGGREGATE"

// finishTimeout bounds what a task does after its last read: the
// aggregate's result and read model, the final flush and state.
const finishTimeout = 10 * time.Second

// maxCheckpoint keeps a checkpoint well under DynamoDB's 400 KB item.
const maxCheckpoint = 350 << 10

func (w *Worker) loadCheckpoint(ctx context.Context, r *run) (*aggAcc, string, error) {
	var cp checkpoint
	if err := w.Store.Get(ctx, store.ProjectPK(r.t.ProjectID), checkpointSK, &cp); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return newAcc(), "", nil
		}
		return nil, "", err
	}
	if !cp.Task.Equal(r.t.ScheduledAt) || cp.After == "" {
		return newAcc(), "", nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(cp.Acc))
	if err != nil {
		return newAcc(), "", nil // unreadable: start over
	}
	data, err := io.ReadAll(zr)
	acc := newAcc()
	if err != nil || json.Unmarshal(data, acc) != nil {
		return newAcc(), "", nil
	}
	r.resumed = true
	return acc, cp.After, nil
}

// saveCheckpoint stores the aggregate so far; false when it is too big
// for one item (the caller then reads on instead of handing back).
func (w *Worker) saveCheckpoint(ctx context.Context, r *run, acc *aggAcc, after string) (bool, error) {
	data, err := json.Marshal(acc)
	if err != nil {
		return false, fmt.Errorf("encode aggregate checkpoint: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(data)
	if err := zw.Close(); err != nil {
		return false, fmt.Errorf("compress aggregate checkpoint: %w", err)
	}
	if buf.Len() > maxCheckpoint {
		w.Logger.WarnContext(ctx, "aggregate checkpoint too big to save: reading on", "project_id", r.t.ProjectID, "bytes", buf.Len())
		return false, nil
	}
	r.resumed = true
	return true, w.Store.Put(ctx, store.Item{PK: store.ProjectPK(r.t.ProjectID), SK: checkpointSK, Kind: "aggregate_checkpoint",
		Value: checkpoint{Task: r.t.ScheduledAt, After: after, Acc: buf.Bytes()}})
}
