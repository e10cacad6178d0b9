package alerts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/alerts"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

func report(name string, findings ...tokens.Finding) tokens.Report {
	return tokens.Report{
		Status:   tokens.Status{Name: name, Source: "env:GITLAB_TOKENS[0]", Hash: gitpulse.NewSecret(name + "-value").Hash()},
		Findings: findings,
	}
}

func finding(code string, sev tokens.Severity) tokens.Finding {
	return tokens.Finding{Code: code, Severity: sev, Message: "token " + code}
}

// TestNotifyDeduplicates walks one token through a week of checks and
// counts the messages that reach an SQS queue subscribed to the topic.
func TestNotifyDeduplicates(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)
	now := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	n := &alerts.Notifier{
		SNS: sns.NewFromConfig(cfg), TopicARN: res.AlertTopicARN,
		DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable,
		Repeat: 24 * time.Hour, Now: func() time.Time { return now },
	}
	expiring := func(sev tokens.Severity) tokens.Report {
		return report("primary", finding(tokens.CodeExpiresSoon, sev), finding(tokens.CodeShortLived, tokens.SeverityInfo))
	}
	steps := []struct {
		name    string
		advance time.Duration
		reports []tokens.Report
		want    int
	}{
		{"first warning", 0, []tokens.Report{expiring(tokens.SeverityWarning)}, 1},
		{"same warning an hour later", time.Hour, []tokens.Report{expiring(tokens.SeverityWarning)}, 0},
		{"severity rises", time.Hour, []tokens.Report{expiring(tokens.SeverityCritical)}, 1},
		{"same critical before the interval", 20 * time.Hour, []tokens.Report{expiring(tokens.SeverityCritical)}, 0},
		{"same critical after the interval", 5 * time.Hour, []tokens.Report{expiring(tokens.SeverityCritical)}, 1},
		{"info only never alerts", time.Hour, []tokens.Report{report("other", finding(tokens.CodeShortLived, tokens.SeverityInfo))}, 0},
		{"finding gone", time.Hour, []tokens.Report{report("primary")}, 0},
		{"finding back alerts again", time.Hour, []tokens.Report{expiring(tokens.SeverityCritical)}, 1},
		{"a second finding is new", time.Hour, []tokens.Report{report("primary", finding(tokens.CodeExpiresSoon, tokens.SeverityCritical), finding(tokens.CodeExcessScope, tokens.SeverityWarning))}, 1},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		sent, err := n.Notify(context.Background(), st.reports)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := inbox.Drain(t)
		if len(sent) != st.want || len(got) != st.want {
			t.Errorf("%s: got %d sent and %d received, want %d", st.name, len(sent), len(got), st.want)
		}
	}
}

func TestComposeSubjects(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(d int) *time.Time { x := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d); return &x }
	cases := []struct {
		r    tokens.Report
		want string
	}{
		{withExpiry(report("a", finding(tokens.CodeExpiresSoon, tokens.SeverityWarning)), at(13)), "GitPulse: GitLab token 'a' expires in 12 days"},
		{withExpiry(report("a", finding(tokens.CodeExpiresSoon, tokens.SeverityCritical)), at(2)), "GitPulse: GitLab token 'a' expires in 1 day"},
		{withExpiry(report("a", finding(tokens.CodeExpiresSoon, tokens.SeverityCritical)), at(1)), "GitPulse: GitLab token 'a' expires tonight"},
		{report("b", finding(tokens.CodeExcessScope, tokens.SeverityWarning), finding(tokens.CodeRevoked, tokens.SeverityCritical)), "GitPulse: GitLab token 'b' was revoked"},
		{report("c", finding(tokens.CodeUnreadable, tokens.SeverityCritical)), "GitPulse: GitLab token 'c' cannot be read"},
	}
	for _, tc := range cases {
		m := alerts.Compose(tc.r, "prod", now)
		if m.Subject != tc.want {
			t.Errorf("got subject %q, want %q", m.Subject, tc.want)
		}
		if !strings.Contains(m.Body, tc.r.Status.Hash) || !strings.Contains(m.Body, "What to do:") || strings.Contains(m.Body, tc.r.Status.Name+"-value") {
			t.Errorf("body lacks the hash or the advice, or holds the value:\n%s", m.Body)
		}
	}
	long := report(strings.Repeat("x", 120), finding(tokens.CodeRevoked, tokens.SeverityCritical))
	if s := alerts.Compose(long, "", now).Subject; len(s) > 100 {
		t.Errorf("got a %d-character subject, want at most 100 (SNS's limit)", len(s))
	}
}

func withExpiry(r tokens.Report, at *time.Time) tokens.Report {
	r.Status.ExpiresAt = at
	r.Status.Known = true
	return r
}

// TestRotationAlertsDeduplicate: the same rotation alert is sent once per
// interval; another reason or event is a new alert; without a table every
// alert is sent.
func TestRotationAlertsDeduplicate(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)
	now := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	a := &alerts.RotationAlerter{SNS: sns.NewFromConfig(cfg), TopicARN: res.AlertTopicARN,
		DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable, Repeat: 24 * time.Hour, Now: func() time.Time { return now }}
	refused := rotation.Alert{Event: rotation.EventFailed, Severity: "critical", SecretARN: "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-token-AbC123",
		TokenName: "gitpulse/gitlab-token", Step: rotation.StepFinish, Reason: "finishSecret refused: version 1 holds no new token yet", Recovery: "none"}
	other := refused
	other.Reason = "finishSecret refused: version 2 holds no new token yet"
	repaired := refused
	repaired.Event, repaired.Step = rotation.EventRepaired, rotation.StepCreate
	steps := []struct {
		name    string
		advance time.Duration
		alert   rotation.Alert
		want    int
	}{
		{"first refusal", 0, refused, 1},
		{"the same refusal again", time.Minute, refused, 0},
		{"another version's refusal", time.Minute, other, 1},
		{"a repair", time.Minute, repaired, 1},
		{"the same refusal a day later", 24 * time.Hour, refused, 1},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if err := a.RotationAlert(context.Background(), st.alert); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := inbox.Drain(t); len(got) != st.want {
			t.Errorf("%s: got %d messages, want %d", st.name, len(got), st.want)
		}
	}
	plain := &alerts.RotationAlerter{SNS: sns.NewFromConfig(cfg), TopicARN: res.AlertTopicARN}
	for range 2 {
		if err := plain.RotationAlert(context.Background(), refused); err != nil {
			t.Fatal(err)
		}
	}
	if got := inbox.Drain(t); len(got) != 2 {
		t.Errorf("without a table: got %d messages, want 2", len(got))
	}
}

// twice sends every PutItem twice and answers with the second result: the
// SDK's retry of a write whose first answer was lost on the way back (a
// reset connection, a checksum mismatch), which moto cannot produce.
type twice struct{ db *dynamodb.Client }

func (w twice) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := w.db.PutItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return w.db.PutItem(ctx, in, opts...)
}

// TestRotationAlertSurvivesARetriedClaim: a claim whose answer was lost
// and retried is still the sender's own: the alert goes out once, and a
// second sender within the interval still sends nothing.
func TestRotationAlertSurvivesARetriedClaim(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)
	now := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	al := rotation.Alert{Event: rotation.EventRepaired, Severity: "warning", SecretARN: "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-token-AbC123",
		TokenName: "gitpulse/gitlab-token", Step: rotation.StepCreate, Reason: "AWSCURRENT was refused; moved to version 2", Recovery: "none"}
	retried := &alerts.RotationAlerter{SNS: sns.NewFromConfig(cfg), TopicARN: res.AlertTopicARN,
		DB: twice{dynamodb.NewFromConfig(cfg)}, Table: res.DataTable, Now: func() time.Time { return now }}
	if err := retried.RotationAlert(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Drain(t); len(got) != 1 {
		t.Errorf("a retried claim: got %d messages, want 1", len(got))
	}
	other := &alerts.RotationAlerter{SNS: sns.NewFromConfig(cfg), TopicARN: res.AlertTopicARN,
		DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable, Now: func() time.Time { return now.Add(time.Minute) }}
	if err := other.RotationAlert(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Drain(t); len(got) != 0 {
		t.Errorf("another sender a minute later: got %d messages, want 0", len(got))
	}
}
