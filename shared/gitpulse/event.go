package gitpulse

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ScheduleSource is the source of GitPulse's own schedules: the template
// gives every EventBridge Scheduler schedule the explicit Input
// {"task": "<task>", "source": "gitpulse.schedule"}, and events/ holds the
// same for make invoke.
const ScheduleSource = "gitpulse.schedule"

// ScheduleEvent is a scheduled function's input.
type ScheduleEvent struct {
	Task   string `json:"task"`
	Source string `json:"source"`
}

// ParseScheduleEvent checks that raw is exactly the schedule's input for
// task: one JSON object with task and source and nothing else. Anything
// else (no event, null, an array, another task, a foreign source, extra
// fields) is an EINVALID error saying what was expected; the function must
// refuse it before doing any work. The message never quotes the event.
func ParseScheduleEvent(raw []byte, task string) (ScheduleEvent, error) {
	want := fmt.Sprintf(`{"task":%q,"source":%q}`, task, ScheduleSource)
	var e ScheduleEvent
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return e, Errorf(EINVALID, "event: must be the JSON object %s", want)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || dec.More() {
		return e, Errorf(EINVALID, "event: must be the JSON object %s with no other field", want)
	}
	switch {
	case e.Task != task:
		return e, Errorf(EINVALID, "event: task must be %q; this function runs nothing else", task)
	case e.Source != ScheduleSource:
		return e, Errorf(EINVALID, "event: source must be %q; events from other sources are refused", ScheduleSource)
	}
	return e, nil
}
