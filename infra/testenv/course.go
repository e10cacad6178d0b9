package testenv

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// SyncedCourse is a generated course on the simulator, synced into fresh
// local resources: what API tests and benchmarks read.
type SyncedCourse struct {
	Sim       *sim.Sim
	SimURL    string
	Course    sim.Course
	CourseID  int64
	Resources provision.Resources
	AWS       aws.Config
	Store     store.Store
	Scheduler *gpsync.Scheduler
	Worker    *gpsync.Worker
}

// SyncCourse generates a course from spec (seed 7; activity ending an
// hour ago unless spec.Start is set), provisions resources and runs the
// scheduler and then the worker until the queue is empty.
func SyncCourse(tb testing.TB, spec sim.CourseSpec) *SyncedCourse {
	tb.Helper()
	cfg := AWSConfig(tb)
	s, url := Sim(tb)
	if spec.Start.IsZero() {
		spec.Start = time.Now().UTC().Add(-time.Hour).AddDate(0, 0, -7*max(spec.Weeks, 1))
	}
	course := s.GenerateCourse(7, spec)
	res := Provision(tb, cfg, nil)
	sc := &SyncedCourse{Sim: s, SimURL: url, Course: course, CourseID: int64(course.GroupID), Resources: res, AWS: cfg,
		Store: store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	client, err := gitlab.New(gitlab.Options{
		Provider:          gitlab.StaticToken(gitpulse.Token{Name: "teacher", Value: gitpulse.NewSecret(course.TeacherToken), URL: url}),
		RequestsPerSecond: 5000, MaxWait: 2 * time.Second, Logger: logger,
	})
	if err != nil {
		tb.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	sc.Scheduler = &gpsync.Scheduler{GitLab: client, Store: sc.Store, Queue: q, QueueURL: res.SyncQueueURL, Logger: logger, Now: time.Now}
	sc.Worker = &gpsync.Worker{GitLab: client, Store: sc.Store, Queue: q, QueueURL: res.SyncQueueURL, Logger: logger, Now: time.Now, Planner: sc.Scheduler}
	if _, err := sc.Scheduler.Run(context.Background(), []string{course.Path}); err != nil {
		tb.Fatalf("schedule %s: %v", course.Path, err)
	}
	sc.Drain(tb)
	return sc
}

// Drain runs the worker on the sync queue's messages until it is empty,
// deleting each message its handler did not report as failed.
func (sc *SyncedCourse) Drain(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(sc.AWS)
	for idle, rounds := 0, 0; idle < 2; rounds++ {
		if rounds == 500 {
			tb.Fatalf("the sync queue did not drain in %d rounds", rounds)
		}
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sc.Resources.SyncQueueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			tb.Fatal(err)
		}
		if len(out.Messages) == 0 {
			idle++
			continue
		}
		idle = 0
		for _, m := range out.Messages {
			resp, err := sc.Worker.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
			if err != nil || len(resp.BatchItemFailures) > 0 {
				tb.Fatalf("sync task %s failed: %v %+v", aws.ToString(m.Body), err, resp)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(sc.Resources.SyncQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}
