package main_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestMalformedEventsUnderEmulator: the real sync-scheduler bootstrap
// refuses every event but its schedule's input, with an error naming the
// event, before any work: nothing in the data or audit table (no GitLab
// call), nothing queued. The schedule's own event then plans the course.
func TestMalformedEventsUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	course := s.GenerateCourse(3, sim.CourseSpec{Path: "kpi/events", Teams: 1, StudentsPerTeam: 1, Weeks: 1})
	res := testenv.Provision(t, cfg, nil)
	tokens, _ := json.Marshal([]map[string]string{{"name": "teacher", "token": course.TeacherToken, "url": url}})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "sync-scheduler"), append(testenv.AWSEnv(t),
		"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable, "SYNC_QUEUE_URL="+res.SyncQueueURL,
		"GITPULSE_COURSES="+course.Path, "GITLAB_TOKENS="+string(tokens)))

	for _, ev := range []string{`not json`, `null`, `[]`, `[{"task":"sync","source":"gitpulse.schedule"}]`, `"sync"`, `{}`,
		`{"garbage":true}`, `{"task":"token-check","source":"gitpulse.schedule"}`, `{"task":"sync","source":"aws.events"}`,
		`{"task":"sync","source":"gitpulse.schedule","courses":["x"]}`} {
		raw := string(fn.Invoke(t, []byte(ev)))
		if !strings.Contains(raw, `"errorMessage"`) {
			t.Errorf("event %s: got %s, want an error", ev, raw)
		}
		if ev != "not json" && !strings.Contains(raw, "event: ") {
			t.Errorf("event %s: got %s, want the error to name the event", ev, raw)
		}
	}
	if got := testenv.CountWritten(t, cfg, res.DataTable, res.AuditTable, res.SyncQueueURL); got != (testenv.Written{}) {
		t.Errorf("after the refused events: got %+v written, want nothing", got)
	}

	var sum gpsync.Summary
	raw := fn.Invoke(t, testenv.ReadEvent(t, "sync-scheduler-schedule.json"))
	if err := json.Unmarshal(raw, &sum); err != nil || len(sum.Courses) != 1 || sum.Courses[0].Tasks == 0 {
		t.Fatalf("the schedule's event: got %s, want the course planned", raw)
	}
	if got := testenv.CountWritten(t, cfg, res.DataTable, res.AuditTable, res.SyncQueueURL); got.DataItems == 0 || got.AuditItems == 0 || got.QueuedTasks == 0 {
		t.Errorf("after the schedule's event: got %+v, want items, audit items and tasks (else the check above proves nothing)", got)
	}
}
