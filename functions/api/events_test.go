package main_test

import (
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/infra/testenv"
)

// TestMalformedEventsUnderEmulator: the real api bootstrap refuses events
// that are not API Gateway HTTP API requests (the adapter alone served
// them as "GET /"), with an error naming the event and nothing audited or
// written; a sample request is still served.
func TestMalformedEventsUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.AWSEnv(t),
		"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable,
		"GITLAB_TOKEN=glpat-notused0123456789", "GITLAB_URL=http://127.0.0.1:9"))
	for _, ev := range []string{`null`, `{}`, `[]`, `not json`, `{"Records":[{"body":"{}"}]}`,
		`{"task":"sync","source":"gitpulse.schedule"}`, `{"version":"1.0","httpMethod":"GET","path":"/api/v1/health/live"}`,
		`{"version":"2.0","rawPath":"/api/v1/courses","headers":{"authorization":"Bearer x"}}`} {
		raw := string(fn.Invoke(t, []byte(ev)))
		if !strings.Contains(raw, `"errorMessage"`) || strings.Contains(raw, `"statusCode"`) {
			t.Errorf("event %s: got %s, want an error, not an HTTP answer", ev, raw)
		}
	}
	if got := testenv.CountWritten(t, cfg, res.DataTable, res.AuditTable, ""); got != (testenv.Written{}) {
		t.Errorf("after the refused events: got %+v written, want nothing", got)
	}
	if raw := string(fn.Invoke(t, testenv.ReadEvent(t, "api-health-live.json"))); !strings.Contains(raw, `"statusCode":200`) {
		t.Errorf("the sample live event: got %s, want 200", raw)
	}
}
