package tokens

import (
	"context"
	"fmt"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitlab"
)

// Target is one configured token to check.
type Target struct {
	Name   string
	Source string
	// Provider hands out the token; Client sends exactly that token (no
	// fallback), so that a refused token is reported, not papered over.
	Provider gitlab.TokenProvider
	Client   *gitlab.Client
	// Rotation reads the rotation settings of the token's Secrets Manager
	// secret; nil for sources that are not secrets.
	Rotation func(ctx context.Context) (Rotation, error)
}

// Report is one token's status and what to do about it.
type Report struct {
	Status   Status    `json:"status"`
	Findings []Finding `json:"findings"`
}

// Worst returns the report's most severe finding's severity ("" if none).
func (r Report) Worst() Severity { return Worst(r.Findings) }

// CodeRotationUnknown is a finding when a secret's rotation settings
// cannot be read.
const CodeRotationUnknown = "rotation_unknown"

// Check introspects every target and evaluates it under p. It never fails:
// a token that cannot be read from its source is a critical finding, and
// GitLab's answers are classified in each Status.
func Check(ctx context.Context, targets []Target, p Policy, now time.Time) []Report {
	statuses := make([]Status, len(targets))
	extra := make([][]Finding, len(targets))
	for i, t := range targets {
		tok, err := t.Provider.Token(ctx)
		if err != nil {
			statuses[i] = Status{Name: t.Name, Source: t.Source, CheckedAt: now.UTC(),
				Failure: gitlab.Classify(&gitlab.TokenError{Err: err})}
		} else {
			statuses[i] = Introspect(ctx, t.Client, tok, now)
			statuses[i].Name, statuses[i].Source = t.Name, t.Source
		}
		if t.Rotation != nil {
			r, err := t.Rotation(ctx)
			if err != nil {
				extra[i] = append(extra[i], Finding{Code: CodeRotationUnknown, Severity: SeverityWarning,
					Message: fmt.Sprintf("could not read the rotation settings of token '%s' (%s): %s; allow the check to call secretsmanager:DescribeSecret on it",
						t.Name, place(t.Source), err)})
			} else {
				statuses[i].Rotation = &r
			}
		}
	}
	findings := EvaluateAll(p, statuses, now)
	reports := make([]Report, len(targets))
	for i := range targets {
		reports[i] = Report{Status: statuses[i], Findings: append(findings[i], extra[i]...)}
	}
	return reports
}
