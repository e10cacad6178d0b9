package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/shared/platform"
)

// syncOnce does what the schedule and the queue do in AWS: the scheduler
// plans every course, then the worker takes the queue's tasks until it is
// empty. Progress goes to out.
func syncOnce(ctx context.Context, out io.Writer, p *platform.Platform) error {
	start := time.Now()
	sum, err := p.SyncScheduler().Run(ctx, p.Config.Courses)
	total := 0
	for _, c := range sum.Courses {
		if c.Error != "" {
			fmt.Fprintf(out, "Sync: course %s: %s\n", c.Course, c.Error)
			continue
		}
		total += c.Tasks
		fmt.Fprintf(out, "Sync: course %s: %d teams, %d projects, %d changed MRs, %d changed issues, %d projects to sync\n",
			c.Course, c.Teams, c.Projects, c.MRs, c.Issues, c.Tasks)
	}
	if err != nil && total == 0 {
		return err
	}
	q := sqs.NewFromConfig(p.AWS)
	worker := p.SyncWorker()
	done := 0
	for idle := 0; idle < 2 && ctx.Err() == nil; {
		msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(p.Config.SyncQueueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			return fmt.Errorf("read the sync queue: %w", err)
		}
		if len(msgs.Messages) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, m := range msgs.Messages {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			resp, err := worker.Handle(wctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
			p.Flush(wctx)
			cancel()
			if err != nil || len(resp.BatchItemFailures) > 0 {
				continue // left in the queue: SQS hands it out again
			}
			_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(p.Config.SyncQueueURL), ReceiptHandle: m.ReceiptHandle})
			done++
			fmt.Fprintf(out, "\rSync: %d/%d project tasks done", done, total)
		}
	}
	fmt.Fprintf(out, "\nSync: done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// keepSyncing runs syncOnce every interval until ctx ends.
func keepSyncing(ctx context.Context, out io.Writer, p *platform.Platform, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := syncOnce(ctx, out, p); err != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "Sync failed: %v\n", err)
			}
		}
	}
}
