package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/shared/platform"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// syncer does locally what the schedule, the queue's event source and
// the worker do in AWS.
type syncer struct {
	p       *platform.Platform
	out     io.Writer
	worker  *gpsync.Worker
	written *countingDB
}

func newSyncer(p *platform.Platform, out io.Writer) *syncer {
	w := p.SyncWorker()
	c := &countingDB{DB: w.Store.DB}
	w.Store.DB = c
	return &syncer{p: p, out: out, worker: w, written: c}
}

// schedule plans every course and reports how many project tasks it
// queued.
func (s *syncer) schedule(ctx context.Context) (int, error) {
	sum, err := s.p.SyncScheduler().Run(ctx, s.p.Config.Courses)
	total := 0
	for _, c := range sum.Courses {
		if c.Error != "" {
			fmt.Fprintf(s.out, "Sync: course %s: %s\n", c.Course, c.Error)
			continue
		}
		total += c.Tasks
		fmt.Fprintf(s.out, "Sync: course %s: %d teams, %d projects, %d changed MRs, %d changed issues, %d projects to sync\n",
			c.Course, c.Teams, c.Projects, c.MRs, c.Issues, c.Tasks)
	}
	if err != nil && total == 0 {
		return 0, err
	}
	return total, nil
}

// drain runs the queue's tasks until it is empty, showing progress
// against total (0: unknown).
func (s *syncer) drain(ctx context.Context, total int) (int, error) {
	q := s.p.SQS
	start, before := time.Now(), s.written.items.Load()
	done := 0
	for idle := 0; idle < 2 && ctx.Err() == nil; {
		msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.p.Config.SyncQueueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			if ctx.Err() != nil {
				s.stopped(done, total)
				return done, nil
			}
			return done, fmt.Errorf("read the sync queue: %w", err)
		}
		if len(msgs.Messages) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, m := range msgs.Messages {
			if ctx.Err() != nil {
				break // stopping: what was received stays in the queue
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			resp, err := s.worker.Handle(wctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
			cancel()
			// The audit of the task's GitLab calls is stored even when a
			// stop cut the task short (moto stops only after this), as
			// the Lambda wrapper flushes before an invocation returns.
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			s.p.Flush(fctx)
			fcancel()
			if ctx.Err() != nil {
				s.stopped(done, total)
				return done, nil
			}
			if err != nil || len(resp.BatchItemFailures) > 0 {
				continue // left in the queue: SQS hands it out again
			}
			_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.p.Config.SyncQueueURL), ReceiptHandle: m.ReceiptHandle})
			done++
			of := ""
			if total > 0 {
				of = fmt.Sprintf("/%d", max(total, done))
			}
			fmt.Fprintf(s.out, "\rSync: %d%s tasks done, %d items written", done, of, s.written.items.Load()-before)
		}
	}
	if ctx.Err() != nil {
		s.stopped(done, total)
		return done, nil
	}
	if done > 0 {
		fmt.Fprintf(s.out, "\nSync: done in %s\n", time.Since(start).Round(time.Millisecond))
	}
	return done, nil
}

// stopped says calmly what a stop left of a sync: the tasks not done are
// what the next `make run`'s first sync does (cursors move only after
// what they cover is stored, so nothing is lost or doubled).
func (s *syncer) stopped(done, total int) {
	switch {
	case total > done:
		fmt.Fprintf(s.out, "\nSync: stopped after %d of %d tasks; the next make run syncs the rest\n", done, total)
	case done > 0:
		fmt.Fprintf(s.out, "\nSync: stopped after %d tasks\n", done)
	}
}

// once schedules and drains: the first sync, shown as it goes.
func (s *syncer) once(ctx context.Context) error {
	total, err := s.schedule(ctx)
	if err != nil {
		return err
	}
	_, err = s.drain(ctx, total)
	return err
}

// keep schedules every interval and takes queued tasks as they come (a
// sync asked for through the API among them) until ctx ends.
func (s *syncer) keep(ctx context.Context, every time.Duration) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.schedule(ctx); err != nil && ctx.Err() == nil {
					fmt.Fprintf(s.out, "Sync failed: %v\n", err)
				}
			}
		}
	}()
	for ctx.Err() == nil {
		if _, err := s.drain(ctx, 0); err != nil && ctx.Err() == nil {
			fmt.Fprintf(s.out, "Sync: %v\n", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// countingDB counts the items the worker's batches store.
type countingDB struct {
	store.DB
	items atomic.Int64
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := c.DB.BatchWriteItem(ctx, in, opts...)
	if err == nil {
		n := 0
		for table, reqs := range in.RequestItems {
			n += len(reqs) - len(out.UnprocessedItems[table])
		}
		c.items.Add(int64(n))
	}
	return out, err
}
