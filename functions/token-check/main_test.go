package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/store"
	"github.com/gitpulse/gitpulse/shared/tokencheck"
)

// TestTokenCheckUnderEmulator runs the real token-check bootstrap under the
// Runtime Interface Emulator against moto and the simulator with six
// tokens, reads what it published through an SQS queue subscribed to the
// topic, and runs it again the same day: nothing new is published.
func TestTokenCheckUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	res := testenv.Provision(t, cfg, nil)
	inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)

	now := time.Now().UTC()
	days := func(n int) *time.Time { d := now.AddDate(0, 0, n); return &d }
	read := []string{"read_api", "read_repository"}
	specs := []struct {
		name string
		spec sim.TokenSpec
		kind string
	}{
		{"five-days", sim.TokenSpec{Scopes: read, ExpiresAt: days(5)}, ""},
		{"twenty-days", sim.TokenSpec{Scopes: read, ExpiresAt: days(20)}, ""},
		{"long-lived", sim.TokenSpec{Scopes: read, ExpiresAt: days(200)}, ""},
		{"revoked", sim.TokenSpec{Scopes: read, ExpiresAt: days(90)}, ""},
		{"over-scoped", sim.TokenSpec{Scopes: []string{"api", "write_repository", "read_repository"}, ExpiresAt: days(90)}, ""},
		{"oauth", sim.TokenSpec{Kind: sim.KindOAuth, Scopes: read}, "oauth"},
	}
	var entries []map[string]string
	var values []string
	for _, sp := range specs {
		sp.spec.Name = sp.name
		tok, err := s.AddToken(sp.spec)
		if err != nil {
			t.Fatalf("%s: %v", sp.name, err)
		}
		if sp.name == "revoked" {
			if err := s.RevokeToken(tok.ID); err != nil {
				t.Fatal(err)
			}
		}
		e := map[string]string{"name": sp.name, "token": tok.Value, "url": url}
		if sp.kind != "" {
			e["kind"] = sp.kind
		}
		entries = append(entries, e)
		values = append(values, tok.Value)
	}
	tokensJSON, _ := json.Marshal(entries)

	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "token-check"), append(testenv.FunctionEnv(t, "TokenCheckFunction", res),
		"DATA_TABLE="+res.DataTable,
		"AUDIT_TABLE="+res.AuditTable,
		"ALERT_TOPIC_ARN="+res.AlertTopicARN,
		"GITLAB_TOKENS="+string(tokensJSON),
		"TOKEN_MAX_LIFETIME_DAYS=365",
		"ENVIRONMENT=dev",
	))
	event := testenv.ReadEvent(t, "token-check-schedule.json")

	first := invoke(t, fn, event)
	if first.Checked != 6 {
		t.Fatalf("got %d tokens checked, want 6", first.Checked)
	}
	wantWorst := map[string]string{
		"five-days": "critical", "twenty-days": "warning", "long-lived": "",
		"revoked": "critical", "over-scoped": "warning", "oauth": "info",
	}
	for _, ts := range first.Tokens {
		if got := string(ts.Worst); got != wantWorst[ts.Name] {
			t.Errorf("token %s: got worst %q, want %q (findings %+v)", ts.Name, got, wantWorst[ts.Name], ts.Findings)
		}
	}
	if first.Tokens[0].DaysLeft == nil || *first.Tokens[0].DaysLeft != 4 {
		t.Errorf("five-days: got days_left %v, want 4 (the 5th day is the expiry date)", first.Tokens[0].DaysLeft)
	}
	checkMetrics(t, fn.Output.WaitFor(`"TokenDaysToExpiryMin":`, 1))

	got := inbox.Drain(t)
	wantSubjects := []string{
		"GitPulse: GitLab token 'five-days' expires in 4 days",
		"GitPulse: GitLab token 'over-scoped' has more scope than GitPulse needs",
		"GitPulse: GitLab token 'revoked' was revoked",
		"GitPulse: GitLab token 'twenty-days' expires in 19 days",
	}
	var subjects []string
	for _, n := range got {
		subjects = append(subjects, n.Subject)
		name := n.MessageAttributes["token_name"].Value
		sev := n.MessageAttributes["severity"].Value
		if sev != wantWorst[name] {
			t.Errorf("message for %s: got severity attribute %q, want %q", name, sev, wantWorst[name])
		}
		for _, want := range []string{"Findings:", "Token hash:   sha256:", "What to do:", "Lives in:     GITLAB_TOKENS["} {
			if !strings.Contains(n.Message, want) {
				t.Errorf("message for %s lacks %q:\n%s", name, want, n.Message)
			}
		}
	}
	sort.Strings(subjects)
	if fmt.Sprint(subjects) != fmt.Sprint(wantSubjects) {
		t.Errorf("got subjects\n%s\nwant\n%s", strings.Join(subjects, "\n"), strings.Join(wantSubjects, "\n"))
	}
	if first.Alerts != 4 {
		t.Errorf("got alerts_sent %d, want 4", first.Alerts)
	}

	for _, n := range got {
		t.Logf("%s\n%s", n.Subject, n.Message)
	}
	second := invoke(t, fn, event)
	if second.Alerts != 0 {
		t.Errorf("second run: got alerts_sent %d, want 0", second.Alerts)
	}
	if again := inbox.Drain(t); len(again) != 0 {
		t.Errorf("second run published %d messages, want none: %+v", len(again), again)
	}

	// Nothing the function produced holds a token value.
	raw, _ := json.Marshal(got)
	testenv.AssertNoSecret(t, "SNS messages", string(raw), values...)
	testenv.AssertNoSecret(t, "function output and logs", fn.Output.String(), values...)
	if !strings.Contains(fn.Output.String(), `"message":"token check"`) {
		t.Errorf("no structured summary line in the log")
	}

	// The reports are kept for GET /api/v1/tokens: one per token, the
	// latest run's, without a token value.
	reports, err := store.All[tokencheck.Stored](context.Background(), store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}, "TOKENS", "TOKEN#")
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 6 {
		t.Fatalf("got %d stored token reports, want 6", len(reports))
	}
	for _, r := range reports {
		var ts tokencheck.TokenSummary
		if err := json.Unmarshal([]byte(r.Report), &ts); err != nil || ts.Name != r.Name || !ts.CheckedAt.Equal(second.CheckedAt) {
			t.Errorf("stored report %s: got %+v (%v), want the second run's report", r.Name, ts, err)
		}
		testenv.AssertNoSecret(t, "stored token report "+r.Name, r.Report, values...)
	}
}

// checkMetrics checks the EMF lines of the first invocation: days to
// expiry per token that has an expiry, the fewest of them, and the GitLab
// requests made.
func checkMetrics(t *testing.T, out string) {
	t.Helper()
	lines, err := metrics.Parse(out)
	if err != nil {
		t.Fatalf("function output holds invalid EMF: %v", err)
	}
	days := map[string]float64{}
	for _, l := range metrics.Find(lines, tokencheck.MetricDaysToExpiry) {
		if l.AWS.CloudWatchMetrics[0].Namespace != "GitPulse" || l.Fields["Function"] != "token-check" {
			t.Errorf("got namespace %s, function %v; want GitPulse, token-check", l.AWS.CloudWatchMetrics[0].Namespace, l.Fields["Function"])
		}
		name, _ := l.Fields["Token"].(string)
		days[name], _ = l.Value(tokencheck.MetricDaysToExpiry)
	}
	want := map[string]float64{"five-days": 4, "twenty-days": 19, "long-lived": 199, "over-scoped": 89}
	if fmt.Sprint(days) != fmt.Sprint(want) {
		t.Errorf("TokenDaysToExpiry: got %v, want %v", days, want)
	}
	least := metrics.Find(lines, tokencheck.MetricDaysToExpiryMin)
	if len(least) != 1 {
		t.Fatalf("got %d TokenDaysToExpiryMin lines, want 1", len(least))
	}
	if v, _ := least[0].Value(tokencheck.MetricDaysToExpiryMin); v != 4 {
		t.Errorf("TokenDaysToExpiryMin: got %v, want 4", v)
	}
	if dims := least[0].AWS.CloudWatchMetrics[0].Dimensions; fmt.Sprint(dims) != "[[Function]]" {
		t.Errorf("TokenDaysToExpiryMin dimensions: got %v, want [[Function]]", dims)
	}
	requests := metrics.Find(lines, metrics.GitLabRequests)
	if len(requests) != 1 {
		t.Fatalf("got %d GitLabRequests lines, want 1 (one flush per invocation)", len(requests))
	}
	if v, _ := requests[0].Value(metrics.GitLabRequests); v < 6 {
		t.Errorf("GitLabRequests: got %v, want at least one per token (6)", v)
	}
}

func invoke(t *testing.T, fn *testenv.Lambda, event []byte) tokencheck.Summary {
	t.Helper()
	raw := fn.Invoke(t, event)
	testenv.AssertNoSecret(t, "summary", string(raw))
	var sum tokencheck.Summary
	if err := json.Unmarshal(raw, &sum); err != nil || sum.Checked == 0 {
		t.Fatalf("got %s, want a token check summary", raw)
	}
	return sum
}

func TestMalformedEventIsRejected(t *testing.T) {
	for _, raw := range []string{`[1,2]`, `{"task":"sync"}`, `"x"`, ``, `null`, `{}`, `{"task":"token-check","source":"aws.events"}`} {
		if _, err := tokencheck.ParseEvent([]byte(raw)); err == nil || !strings.Contains(err.Error(), "event:") {
			t.Errorf("ParseEvent(%s): got %v, want an error naming the event", raw, err)
		}
	}
	for _, raw := range []string{`{"task":"token-check","source":"gitpulse.schedule"}`} {
		if _, err := tokencheck.ParseEvent([]byte(raw)); err != nil {
			t.Errorf("ParseEvent(%s): got %v, want none", raw, err)
		}
	}
}

// TestMalformedEventsUnderEmulator: the real token-check bootstrap refuses
// null, garbage, another task and foreign sources before any work: no
// GitLab call (no audit item), no report stored, nothing published. The
// schedule's own event then checks the token.
func TestMalformedEventsUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	res := testenv.Provision(t, cfg, nil)
	inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)
	soon := time.Now().UTC().AddDate(0, 0, 3) // would alert: expires in 3 days
	tok, err := s.AddToken(sim.TokenSpec{Name: "soon", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := json.Marshal([]map[string]string{{"name": "soon", "token": tok.Value, "url": url}})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "token-check"), append(testenv.AWSEnv(t),
		"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable, "ALERT_TOPIC_ARN="+res.AlertTopicARN,
		"GITLAB_TOKENS="+string(tokens)))

	for _, ev := range []string{`null`, `not json`, `[]`, `{}`, `{"task":"sync","source":"gitpulse.schedule"}`,
		`{"task":"token-check","source":"aws.events"}`, `{"task":"token-check"}`, `{"source":"aws.secretsmanager","detail":{}}`} {
		raw := string(fn.Invoke(t, []byte(ev)))
		if !strings.Contains(raw, `"errorMessage"`) {
			t.Errorf("event %s: got %s, want an error", ev, raw)
		}
		if ev != "not json" && !strings.Contains(raw, "event: ") {
			t.Errorf("event %s: got %s, want the error to name the event", ev, raw)
		}
	}
	if got := testenv.CountWritten(t, cfg, res.DataTable, res.AuditTable, ""); got != (testenv.Written{}) {
		t.Errorf("after the refused events: got %+v written, want nothing", got)
	}
	if got := inbox.Drain(t); len(got) != 0 {
		t.Errorf("after the refused events: got %d notifications, want none", len(got))
	}

	if sum := invoke(t, fn, testenv.ReadEvent(t, "token-check-schedule.json")); sum.Checked != 1 {
		t.Fatalf("the schedule's event: got %d tokens checked, want 1", sum.Checked)
	}
	if got := testenv.CountWritten(t, cfg, res.DataTable, res.AuditTable, ""); got.DataItems == 0 || got.AuditItems == 0 {
		t.Errorf("after the schedule's event: got %+v, want a stored report and audit items (else the check above proves nothing)", got)
	}
	if got := inbox.Drain(t); len(got) != 1 {
		t.Errorf("after the schedule's event: got %d notifications, want 1", len(got))
	}
}
