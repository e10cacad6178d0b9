package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
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
// scheduler and then the worker until the queue is empty. It is
// SyncCourseWith on the test's simulator, moto server and a prefix named
// after the test.
func SyncCourse(tb testing.TB, spec sim.CourseSpec) *SyncedCourse {
	tb.Helper()
	cfg := AWSConfig(tb)
	s, url := Sim(tb)
	// The scheduler and the worker call moto with their own roles (when
	// IAM is enforced); the test reads and writes as the administrator.
	roles := func(res provision.Resources) (aws.Config, aws.Config) {
		return FunctionConfig(tb, "SyncSchedulerFunction", res), FunctionConfig(tb, "SyncWorkerFunction", res)
	}
	sc, err := syncCourse(context.Background(), cfg, s, url, Prefix(tb), spec, roles)
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// SyncCourseWith is SyncCourse for programs without a testing.TB (the
// benchmarks): the caller runs the simulator s at simURL and owns its
// lifetime, and names the resources with prefix (unique per run, so that
// runs sharing a moto server never mix). It generates the course on s,
// provisions the resources, schedules the course and drains the queue.
func SyncCourseWith(ctx context.Context, cfg aws.Config, s *sim.Sim, simURL, prefix string, spec sim.CourseSpec) (*SyncedCourse, error) {
	return syncCourse(ctx, cfg, s, simURL, prefix, spec, nil)
}

// syncCourse is SyncCourseWith; roles, when set, gives the AWS
// configurations the scheduler and the worker run with.
func syncCourse(ctx context.Context, cfg aws.Config, s *sim.Sim, simURL, prefix string, spec sim.CourseSpec, roles func(provision.Resources) (aws.Config, aws.Config)) (*SyncedCourse, error) {
	if spec.Start.IsZero() {
		spec.Start = time.Now().UTC().Add(-time.Hour).AddDate(0, 0, -7*max(spec.Weeks, 1))
	}
	course := s.GenerateCourse(7, spec)
	res, err := provision.Provision(ctx, provision.NewClients(cfg), provision.NamesFor(prefix), nil)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	sc := &SyncedCourse{Sim: s, SimURL: simURL, Course: course, CourseID: int64(course.GroupID), Resources: res, AWS: cfg,
		Store: store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	client, err := gitlab.New(gitlab.Options{
		Provider:          gitlab.StaticToken(gitpulse.Token{Name: "teacher", Value: gitpulse.NewSecret(course.TeacherToken), URL: simURL}),
		RequestsPerSecond: 5000, MaxWait: 2 * time.Second, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("GitLab client: %w", err)
	}
	q := sqs.NewFromConfig(cfg)
	// Visibility timeout 0 on this test queue: a receive whose answer is
	// lost and retried by the SDK must not hide the tasks from the drain
	// (each is deleted once handled, and nothing else reads the queue).
	if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(res.SyncQueueURL),
		Attributes: map[string]string{"VisibilityTimeout": "0"}}); err != nil {
		return nil, fmt.Errorf("sync queue attributes: %w", err)
	}
	schedStore, schedQueue, workerStore, workerQueue := sc.Store, q, sc.Store, q
	if roles != nil {
		sCfg, wCfg := roles(res)
		schedStore, schedQueue = store.Store{DB: dynamodb.NewFromConfig(sCfg), Table: res.DataTable}, sqs.NewFromConfig(sCfg)
		workerStore, workerQueue = store.Store{DB: dynamodb.NewFromConfig(wCfg), Table: res.DataTable}, sqs.NewFromConfig(wCfg)
	}
	sc.Scheduler = &gpsync.Scheduler{GitLab: client, Store: schedStore, Queue: schedQueue, QueueURL: res.SyncQueueURL, Logger: logger, Now: time.Now}
	// The worker plans a course for a plan task with the scheduler's code
	// but the worker's role.
	planner := &gpsync.Scheduler{GitLab: client, Store: workerStore, Queue: workerQueue, QueueURL: res.SyncQueueURL, Logger: logger, Now: time.Now}
	sc.Worker = &gpsync.Worker{GitLab: client, Store: workerStore, Queue: workerQueue, QueueURL: res.SyncQueueURL, Logger: logger, Now: time.Now, Planner: planner}
	if _, err := sc.Scheduler.Run(ctx, []string{course.Path}); err != nil {
		return nil, fmt.Errorf("schedule %s: %w", course.Path, err)
	}
	if err := sc.DrainQueue(ctx); err != nil {
		return nil, err
	}
	// Every project must have been synced: say why one was not.
	for _, pid := range course.ProjectIDs {
		var info gpsync.ProjectInfo
		if err := sc.Store.Get(ctx, store.ProjectPK(int64(pid)), "INFO", &info); err != nil {
			var st gpsync.ProjectState
			serr := sc.Store.Get(ctx, store.CoursePK(sc.CourseID), "SYNC#"+strconv.Itoa(pid), &st)
			return nil, fmt.Errorf("project %d was not synced (INFO: %v; sync state %+v, %v)", pid, err, st, serr)
		}
	}
	return sc, nil
}

// Drain runs the worker on the sync queue's messages until it is empty,
// deleting each message its handler did not report as failed. It fails
// the test on any error.
func (sc *SyncedCourse) Drain(tb testing.TB) {
	tb.Helper()
	if err := sc.DrainQueue(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// DrainQueue runs the worker on the sync queue's messages until it is
// empty (two empty receives in a row), deleting each handled message. A
// failed task, or a queue not empty after 500 rounds, is an error; the
// messages not yet handled stay queued.
func (sc *SyncedCourse) DrainQueue(ctx context.Context) error {
	q := sqs.NewFromConfig(sc.AWS)
	for idle, rounds := 0, 0; idle < 3; rounds++ {
		if rounds == 500 {
			return fmt.Errorf("the sync queue did not drain in %d rounds", rounds)
		}
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sc.Resources.SyncQueueURL), MaxNumberOfMessages: 10})
		if err != nil {
			return fmt.Errorf("receive sync tasks: %w", err)
		}
		if len(out.Messages) == 0 {
			idle++
			time.Sleep(50 * time.Millisecond)
			continue
		}
		idle = 0
		for _, m := range out.Messages {
			resp, err := sc.Worker.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
			if err != nil {
				return fmt.Errorf("sync task %s: %w", aws.ToString(m.Body), err)
			}
			if len(resp.BatchItemFailures) > 0 {
				return fmt.Errorf("sync task %s failed: %+v", aws.ToString(m.Body), resp)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(sc.Resources.SyncQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("delete sync task: %w", err)
			}
		}
	}
	return nil
}
