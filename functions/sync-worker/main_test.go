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
	env := append(testenv.AWSEnv(t),
		"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable, "SYNC_QUEUE_URL="+res.SyncQueueURL,
		"GITPULSE_COURSES="+course.Path, "GITLAB_TOKENS="+string(tokens), "GITLAB_REQUESTS_PER_SECOND=500")
	scheduler := testenv.StartLambda(t, testenv.BuildBootstrap(t, "sync-scheduler"), env)
	worker := testenv.StartLambda(t, testenv.BuildBootstrap(t, "sync-worker"), env)

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
		if err != nil || len(commits) != len(s.Commits(pid)) {
			t.Errorf("project %d: got %d commits (%v), want %d", pid, len(commits), err, len(s.Commits(pid)))
		}
		var stats gpsync.ProjectStats
		if err := st.Get(context.Background(), store.ProjectPK(int64(pid)), "STATS", &stats); err != nil {
			t.Errorf("project %d: no statistics: %v", pid, err)
		}
	}
	testenv.AssertNoSecret(t, "function logs", scheduler.Output.String()+worker.Output.String(), course.TeacherToken)
}
