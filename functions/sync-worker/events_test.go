package main_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

// TestMalformedEventsUnderEmulator: the real sync-worker bootstrap refuses
// malformed tasks (reported as failed, for the dead-letter queue) and
// tasks whose project is not in their course (done, logged), and writes
// nothing for any of them: no item, no audit item (no GitLab call), no task
// handed back.
func TestMalformedEventsUnderEmulator(t *testing.T) {
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "kpi/worker-events", Teams: 2, StudentsPerTeam: 1, Weeks: 1})
	tokens, _ := json.Marshal([]map[string]string{{"name": "teacher", "token": sc.Course.TeacherToken, "url": sc.SimURL}})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "sync-worker"), append(testenv.AWSEnv(t),
		"DATA_TABLE="+sc.Resources.DataTable, "AUDIT_TABLE="+sc.Resources.AuditTable, "SYNC_QUEUE_URL="+sc.Resources.SyncQueueURL,
		"GITLAB_TOKENS="+string(tokens)))
	before := testenv.CountWritten(t, sc.AWS, sc.Resources.DataTable, sc.Resources.AuditTable, sc.Resources.SyncQueueURL)

	for _, ev := range []string{`not json`, `[]`, `{"Records":"x"}`} {
		if raw := string(fn.Invoke(t, []byte(ev))); !strings.Contains(raw, `"errorMessage"`) {
			t.Errorf("event %s: got %s, want an error", ev, raw)
		}
	}

	pid, cid := sc.Course.ProjectIDs[0], sc.CourseID
	malformed := map[string]events.SQSMessage{
		"not-json":     {Body: `not json`},
		"array":        {Body: fmt.Sprintf(`[{"course_id":%d,"project_id":%d,"repo":true}]`, cid, pid)},
		"extra-field":  {Body: fmt.Sprintf(`{"course_id":%d,"project_id":%d,"repo":true,"table":"x"}`, cid, pid)},
		"no-course":    {Body: fmt.Sprintf(`{"project_id":%d,"repo":true}`, pid)},
		"plan+project": {Body: fmt.Sprintf(`{"course_id":%d,"project_id":%d,"plan":true}`, cid, pid)},
		"foreign":      {Body: fmt.Sprintf(`{"course_id":%d,"project_id":%d,"repo":true}`, cid, pid), EventSource: "aws:kinesis"},
	}
	mismatched := map[string]events.SQSMessage{
		"other-course":    {Body: fmt.Sprintf(`{"course_id":999,"project_id":%d,"repo":true}`, pid)},
		"unknown-project": {Body: fmt.Sprintf(`{"course_id":%d,"project_id":999999,"repo":true}`, cid)},
	}
	var ev events.SQSEvent
	for _, set := range []map[string]events.SQSMessage{malformed, mismatched} {
		for id, m := range set {
			m.MessageId = id
			if m.EventSource == "" {
				m.EventSource = "aws:sqs"
			}
			ev.Records = append(ev.Records, m)
		}
	}
	body, _ := json.Marshal(ev)
	raw := fn.Invoke(t, body)
	var resp events.SQSEventResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("got %s, want an SQS batch response", raw)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	slices.Sort(failed)
	want := []string{"array", "extra-field", "foreign", "no-course", "not-json", "plan+project"}
	if !slices.Equal(failed, want) {
		t.Errorf("got failed %v, want the malformed tasks %v (the mismatched ones are refused and done)", failed, want)
	}
	out := fn.Output.WaitFor("sync task refused", 2)
	if strings.Count(out, "sync task refused: the project is not in the task's course") != 2 || strings.Count(out, "malformed sync task") != len(malformed) {
		t.Errorf("got logs\n%s\nwant each refusal logged", out)
	}
	if after := testenv.CountWritten(t, sc.AWS, sc.Resources.DataTable, sc.Resources.AuditTable, sc.Resources.SyncQueueURL); after != before {
		t.Errorf("got %+v written after the refused tasks, want %+v as before", after, before)
	}
}
