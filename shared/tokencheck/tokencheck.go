// Package tokencheck is the daily token check: introspect every configured
// GitLab token, evaluate it under the deployment's policy, alert on what
// needs attention, and summarise.
package tokencheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gitpulse/gitpulse/shared/alerts"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/store"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

// Task is the task name of the token check's schedule input.
const Task = "token-check"

// ParseEvent refuses anything but the schedule's own input,
// {"task":"token-check","source":"gitpulse.schedule"}: no event, null, a
// foreign source or another task is an EINVALID error naming the event.
func ParseEvent(raw json.RawMessage) (gitpulse.ScheduleEvent, error) {
	return gitpulse.ParseScheduleEvent(raw, Task)
}

// Runner runs the check.
type Runner struct {
	Targets  []tokens.Target
	Policy   tokens.Policy
	Notifier *alerts.Notifier
	// Store keeps each token's last report for the API; nil keeps none.
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time
}

// Summary is the outcome of one run. It holds hashes, never token values.
type Summary struct {
	CheckedAt time.Time      `json:"checked_at"`
	Checked   int            `json:"checked"`
	Critical  int            `json:"critical"`
	Warning   int            `json:"warning"`
	Alerts    int            `json:"alerts_sent"`
	Tokens    []TokenSummary `json:"tokens"`
}

// TokenSummary is one token's line in the summary.
type TokenSummary struct {
	Name      string             `json:"name"`
	Source    string             `json:"source"`
	Hash      string             `json:"token_hash,omitempty"`
	Kind      gitpulse.TokenKind `json:"kind,omitempty"`
	Scopes    []string           `json:"scopes,omitempty"`
	ExpiresAt *time.Time         `json:"expires_at"`
	DaysLeft  *int               `json:"days_left,omitempty"`
	Worst     tokens.Severity    `json:"worst,omitempty"`
	Findings  []tokens.Finding   `json:"findings"`
	Rotation  *tokens.Rotation   `json:"rotation,omitempty"`
	Alerted   bool               `json:"alerted"`
	CheckedAt time.Time          `json:"checked_at"`
}

// Stored is the token check's last report of one token, as the data
// table keeps it (TOKENS / TOKEN#<name>) for the API.
type Stored struct {
	Name      string    `dynamodbav:"name"`
	CheckedAt time.Time `dynamodbav:"checked_at"`
	Report    string    `dynamodbav:"report"` // TokenSummary as JSON
}

// Handle is the Lambda handler: it refuses any event but the schedule's
// input before any work (nothing read, written or published), then runs
// the check. Repeating it the same day alerts nothing new (see
// alerts.Notifier), so a retried invocation is safe.
func (r *Runner) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	if _, err := ParseEvent(raw); err != nil {
		return Summary{}, err
	}
	return r.Run(ctx)
}

// Metric names: days to expiry per token (dimension Token, the token's
// name), and the fewest of any token (Function only), which the expiry
// alarm watches.
const (
	MetricDaysToExpiry    = "TokenDaysToExpiry"
	MetricDaysToExpiryMin = "TokenDaysToExpiryMin"
)

// recordDaysLeft adds the expiry metrics of the tokens that have an
// expiry to the invocation's metrics. Tokens without one (OAuth2, no
// expiry, unreadable) are alerted on instead.
func recordDaysLeft(ctx context.Context, ts []TokenSummary) {
	least, found := 0, false
	for _, t := range ts {
		if t.DaysLeft == nil {
			continue
		}
		metrics.Observe(ctx, MetricDaysToExpiry, metrics.None, float64(*t.DaysLeft), metrics.Dim("Token", t.Name))
		if !found || *t.DaysLeft < least {
			least, found = *t.DaysLeft, true
		}
	}
	if found {
		metrics.Observe(ctx, MetricDaysToExpiryMin, metrics.None, float64(least))
	}
}

// Run checks every token, publishes the alerts that are due and returns
// the summary, also logged as one structured line. Alerting failures are
// returned after the summary is complete; a token that cannot be read is a
// critical finding, not an error.
func (r *Runner) Run(ctx context.Context) (Summary, error) {
	now := r.Now()
	reports := tokens.Check(ctx, r.Targets, r.Policy, now)
	sent, alertErr := r.Notifier.Notify(ctx, reports)
	alerted := map[string]bool{}
	for _, s := range sent {
		alerted[s.Token] = true
	}
	sum := Summary{CheckedAt: now.UTC(), Checked: len(reports), Alerts: len(sent)}
	for _, rep := range reports {
		st := rep.Status
		ts := TokenSummary{Name: st.Name, Source: st.Source, Hash: st.Hash, Kind: st.Kind, Scopes: st.Scopes,
			ExpiresAt: st.ExpiresAt, Worst: rep.Worst(), Findings: rep.Findings, Rotation: st.Rotation,
			Alerted: alerted[st.Name], CheckedAt: now.UTC()}
		if ts.Findings == nil {
			ts.Findings = []tokens.Finding{}
		}
		if st.ExpiresAt != nil && st.Kind != gitpulse.KindOAuth {
			d := tokens.DaysLeft(now, *st.ExpiresAt)
			ts.DaysLeft = &d
		}
		switch ts.Worst {
		case tokens.SeverityCritical:
			sum.Critical++
		case tokens.SeverityWarning:
			sum.Warning++
		}
		sum.Tokens = append(sum.Tokens, ts)
	}
	r.Logger.InfoContext(ctx, "token check", "summary", sum)
	storeErr := r.store(ctx, sum)
	recordDaysLeft(ctx, sum.Tokens)
	if err := errors.Join(alertErr, storeErr); err != nil {
		return sum, fmt.Errorf("token check: %w", err)
	}
	return sum, nil
}

// store keeps each token's report for the API (GET /api/v1/tokens).
func (r *Runner) store(ctx context.Context, sum Summary) error {
	if r.Store == nil {
		return nil
	}
	w := &store.Writer{Store: *r.Store}
	for _, ts := range sum.Tokens {
		b, err := json.Marshal(ts)
		if err != nil {
			return err
		}
		if err := w.Put(ctx, store.Item{PK: "TOKENS", SK: "TOKEN#" + ts.Name, Kind: "token_report",
			Value: Stored{Name: ts.Name, CheckedAt: ts.CheckedAt, Report: string(b)}}); err != nil {
			return fmt.Errorf("store token reports: %w", err)
		}
	}
	if err := w.Put(ctx, store.Item{PK: "TOKENS", SK: "RUN", Kind: "token_check_run", Value: Run{CheckedAt: sum.CheckedAt}}); err != nil {
		return fmt.Errorf("store token reports: %w", err)
	}
	if err := w.Flush(ctx); err != nil {
		return fmt.Errorf("store token reports: %w", err)
	}
	return nil
}

// Run is the last token check (TOKENS / RUN): a stored report older than
// it is of a token no longer configured.
type Run struct {
	CheckedAt time.Time `dynamodbav:"checked_at"`
}
