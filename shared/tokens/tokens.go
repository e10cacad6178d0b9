// Package tokens knows GitPulse's GitLab tokens: what GitLab says about each
// one (Introspect), and what a person should do about it (Evaluate, a pure
// policy with an injected clock). A Status holds the token's hash, never its
// value, so it is safe to log, store, marshal and send.
package tokens

import (
	"encoding/json"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Status is what GitPulse knows about one configured token at CheckedAt.
//
// Known reports whether GitLab described the token (the self endpoint, or
// the OAuth token info, answered). When it is false the fields from Kind to
// Revoked are zero and Failure says why. When it is true, Failure may still
// be set: a failing GET /user (403 for a token without read_api, 429, ...)
// never hides what the self endpoint told.
type Status struct {
	Name   string `json:"name"`   // operator-facing name, e.g. "primary"
	Source string `json:"source"` // where it is configured, e.g. "secret:<arn>"
	URL    string `json:"url,omitempty"`
	Hash   string `json:"token_hash"` // "sha256:<hex>" of the value

	Known bool `json:"known"`
	// Kind is learnt from GitLab: the owner's bot flag and username tell
	// group and project tokens from personal ones; an OAuth2 token is one
	// the self endpoint refuses with 400 or that configuration marks as
	// OAuth2. It is KindUnknown when GET /user could not be read.
	Kind      gitpulse.TokenKind `json:"kind"`
	TokenID   int64              `json:"token_id,omitempty"`   // GitLab's id of the token (not for OAuth2)
	TokenName string             `json:"token_name,omitempty"` // the token's name in GitLab
	UserID    int64              `json:"user_id,omitempty"`
	Username  string             `json:"username,omitempty"`
	// Bot is true for the bot users behind group and project tokens (and
	// for service accounts); meaningful only when Kind is known.
	Bot       bool     `json:"bot"`
	GroupID   int64    `json:"group_id,omitempty"`   // group tokens: from the bot's username
	ProjectID int64    `json:"project_id,omitempty"` // project tokens: from the bot's username
	Scopes    []string `json:"scopes,omitempty"`
	// ExpiresAt is nil for a token without expiry. For personal, group and
	// project tokens it is 00:00 UTC of the expiry date, the instant the
	// token stops working; for OAuth2 tokens it is the exact instant.
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedAt  *time.Time `json:"created_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Active     bool       `json:"active"`
	Revoked    bool       `json:"revoked"`

	// Failure is the classified reason the check fell short; nil when
	// GitLab answered every call. It marshals as kind, status and message
	// only.
	Failure   *gitlab.Failure `json:"-"`
	CheckedAt time.Time       `json:"checked_at"`

	// Rotation describes the Secrets Manager rotation of the token's
	// secret. Introspect leaves it nil; the caller that reads the secret's
	// description fills it in, and nil means "not a Secrets Manager source"
	// to the policy.
	Rotation *Rotation `json:"rotation,omitempty"`
}

// Rotation is the rotation configuration of a Secrets Manager secret, as
// DescribeSecret reports it.
type Rotation struct {
	Enabled     bool       `json:"enabled"`
	LastRotated *time.Time `json:"last_rotated,omitempty"` // nil: never rotated
	EveryDays   int        `json:"every_days,omitempty"`   // the schedule; 0: unknown
}

// failureJSON is how a Status shows its Failure: never the wrapped error,
// which may carry the HTTP request and so its auth header.
type failureJSON struct {
	Kind    gitlab.FailureKind `json:"kind"`
	Status  int                `json:"status,omitempty"`
	Message string             `json:"message"`
}

type statusAlias Status

type statusJSON struct {
	statusAlias
	Failure *failureJSON `json:"failure,omitempty"`
}

// MarshalJSON writes the status with its failure as kind, status and
// message.
func (s Status) MarshalJSON() ([]byte, error) {
	out := statusJSON{statusAlias: statusAlias(s)}
	if s.Failure != nil {
		out.Failure = &failureJSON{Kind: s.Failure.Kind, Status: s.Failure.Status, Message: s.Failure.Message}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes. The failure comes back
// without its wrapped error.
func (s *Status) UnmarshalJSON(b []byte) error {
	var in statusJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*s = Status(in.statusAlias)
	if in.Failure != nil {
		s.Failure = &gitlab.Failure{Kind: in.Failure.Kind, Status: in.Failure.Status, Message: in.Failure.Message}
	}
	return nil
}
