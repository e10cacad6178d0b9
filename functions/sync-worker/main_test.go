package main_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestSyncUnderEmulator runs the real sync-scheduler and sync-worker
// bootstraps under the Runtime Interface Emulator: the scheduler queues the
// course's projects, the worker takes the queued messages as an SQS event
// and stores each project's data.
func TestSyncUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	course := s.GenerateCourse(3, sim.CourseSpec{Path: "kpi/se-2026", Teams: 2, StudentsPerTeam: 2, Weeks: 1})
	res := testenv.Provision(t, cfg, nil)
	tokens, _ := json.Marshal([]map[string]string{{"name": "teacher", "token": course.TeacherToken, "url": url}})
	env := append([]string{},
		"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable, "SYNC_QUEUE_URL="+res.SyncQueueURL,
		"GITPULSE_COURSES="+course.Path, "GITLAB_TOKENS="+string(tokens), "GITLAB_REQUESTS_PER_SECOND=500")
	scheduler := testenv.StartLambda(t, testenv.BuildBootstrap(t, "sync-scheduler"), append(testenv.FunctionEnv(t, "SyncSchedulerFunction", res), env...))
	worker := testenv.StartLambda(t, testenv.BuildBootstrap(t, "sync-worker"), append(testenv.FunctionEnv(t, "SyncWorkerFunction", res), env...))

	var sum gpsync.Summary
	raw := scheduler.Invoke(t, testenv.ReadEvent(t, "sync-scheduler-schedule.json"))
	if err := json.Unmarshal(raw, &sum); err != nil || len(sum.Courses) != 1 || sum.Courses[0].Tasks != len(course.ProjectIDs) {
		t.Fatalf("scheduler: got %s, want one course with a task per project (%d)", raw, len(course.ProjectIDs))
	}

	q := sqs.NewFromConfig(cfg)
	out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(res.SyncQueueURL), MaxNumberOfMessages: 10})
	if err != nil || len(out.Messages) != len(course.ProjectIDs) {
		t.Fatalf("got %d queued tasks (%v), want %d", len(out.Messages), err, len(course.ProjectIDs))
	}
	ev := events.SQSEvent{}
	for _, m := range out.Messages {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"})
	}
	ev.Records = append(ev.Records, events.SQSMessage{MessageId: "bad-1", Body: `{"project":"x"}`, EventSource: "aws:sqs"})
	body, _ := json.Marshal(ev)
	var resp events.SQSEventResponse
	raw = worker.Invoke(t, body)
	if err := json.Unmarshal(raw, &resp); err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "bad-1" {
		t.Fatalf("worker: got %s, want exactly the malformed message reported as failed", raw)
	}

	st := store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}
	for _, pid := range course.ProjectIDs {
		commits, err := store.All[gitpulse.Commit](context.Background(), st, store.ProjectPK(int64(pid)), "COMMIT#")
		if err != nil || len(commits) != len(s.AllCommits(pid)) {
			t.Errorf("project %d: got %d commits (%v), want %d", pid, len(commits), err, len(s.AllCommits(pid)))
		}
		var stats gpsync.ProjectStats
		if err := st.Get(context.Background(), store.ProjectPK(int64(pid)), "STATS", &stats); err != nil {
			t.Errorf("project %d: no statistics: %v", pid, err)
		}
	}
	// A redelivery of the same batch: the projects now have a last
	// success, so the worker reports their lag.
	worker.Invoke(t, body)
	testenv.AssertNoSecret(t, "function logs", scheduler.Output.String()+worker.Output.String(), course.TeacherToken)
	// Two invocations, each ending with its SyncItemsWritten line.
	checkMetrics(t, scheduler.Output.WaitFor(`"SyncTasksQueued":`, 1), worker.Output.WaitFor(`"SyncItemsWritten":`, 2), len(course.ProjectIDs))
}

// checkMetrics checks the EMF lines: tasks queued per course by the
// scheduler; items written, lag (second invocation only) and GitLab
// requests by the worker.
func checkMetrics(t *testing.T, schedulerOut, workerOut string, projects int) {
	t.Helper()
	sched, err := metrics.Parse(schedulerOut)
	if err != nil {
		t.Fatalf("scheduler output holds invalid EMF: %v", err)
	}
	queued := metrics.Find(sched, gpsync.MetricTasksQueued)
	if len(queued) != 1 {
		t.Fatalf("got %d SyncTasksQueued lines, want 1", len(queued))
	}
	if v, _ := queued[0].Value(gpsync.MetricTasksQueued); int(v) != projects || queued[0].Fields["Course"] == nil {
		t.Errorf("SyncTasksQueued: got %v for course %v, want %d for the course", v, queued[0].Fields["Course"], projects)
	}
	work, err := metrics.Parse(workerOut)
	if err != nil {
		t.Fatalf("worker output holds invalid EMF: %v", err)
	}
	written := metrics.Find(work, gpsync.MetricItemsWritten)
	if len(written) != 2 {
		t.Fatalf("got %d SyncItemsWritten lines, want 2 (one per invocation)", len(written))
	}
	if v, _ := written[0].Value(gpsync.MetricItemsWritten); v == 0 {
		t.Errorf("SyncItemsWritten of the first invocation: got 0, want the items stored")
	}
	lag := metrics.Find(work, gpsync.MetricLagSeconds)
	if len(lag) != 1 {
		t.Fatalf("got %d SyncLagSeconds lines, want 1 (the second invocation's)", len(lag))
	}
	if v, ok := lag[0].Fields[gpsync.MetricLagSeconds].([]any); !ok || len(v) != projects {
		t.Errorf("SyncLagSeconds: got %v, want one value per project (%d)", lag[0].Fields[gpsync.MetricLagSeconds], projects)
	}
	// The redelivery finds the work done and may call GitLab not at all.
	if requests := metrics.Find(work, metrics.GitLabRequests); len(requests) == 0 {
		t.Error("got no GitLabRequests line, want one for the first invocation")
	} else if v, _ := requests[0].Value(metrics.GitLabRequests); v == 0 {
		t.Error("GitLabRequests: got 0, want the worker's calls")
	}
}
