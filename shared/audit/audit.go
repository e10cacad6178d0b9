// Package audit records every GitLab call and every API call as an item in
// DynamoDB keyed by the hash of the token or API key used, and answers the
// operators' question "what was this token used for, and when?".
//
// Items are buffered and written with BatchWriteItem, 25 at a time, never
// one PutItem per call; the buffer is flushed before each invocation
// returns. Items that cannot be written after the retries are logged as
// structured records (message "audit item not stored"), so none is lost.
package audit

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// Directions of a call.
const (
	DirectionGitLab = "gitlab" // outbound, GitPulse -> GitLab
	DirectionAPI    = "api"    // inbound, client -> GitPulse API
	// DirectionWebhook is an inbound GitLab webhook, filed under the hash
	// of the X-Gitlab-Token it presented.
	DirectionWebhook = "webhook"
)

// DefaultRetention is how long items are kept (DynamoDB TTL).
const DefaultRetention = 90 * 24 * time.Hour

// Entry is one audited call. It holds the hash of the credential, never the
// credential, and no header values.
type Entry struct {
	TokenHash          string `dynamodbav:"token_hash" json:"token_hash"`
	SortKey            string `dynamodbav:"sk" json:"-"`
	Time               string `dynamodbav:"time" json:"time"` // RFC 3339, UTC, microseconds
	Endpoint           string `dynamodbav:"endpoint" json:"endpoint"`
	Method             string `dynamodbav:"method" json:"method"`
	ResponseStatus     int    `dynamodbav:"response_status" json:"response_status"` // 0: no answer
	ErrorClass         string `dynamodbav:"error_class,omitempty" json:"error_class,omitempty"`
	UserAgent          string `dynamodbav:"user_agent,omitempty" json:"user_agent,omitempty"`
	DurationMS         int64  `dynamodbav:"duration_ms" json:"duration_ms"`
	Direction          string `dynamodbav:"direction" json:"direction"`
	Function           string `dynamodbav:"function,omitempty" json:"function,omitempty"`
	RequestID          string `dynamodbav:"request_id,omitempty" json:"request_id,omitempty"`
	Instance           string `dynamodbav:"instance,omitempty" json:"instance,omitempty"`
	RateLimitRemaining *int   `dynamodbav:"ratelimit_remaining,omitempty" json:"ratelimit_remaining,omitempty"`
	// Detail says what a webhook was and what became of it ("Push Hook,
	// project 12: queued"); empty for other calls.
	Detail    string `dynamodbav:"detail,omitempty" json:"detail,omitempty"`
	ExpiresAt int64  `dynamodbav:"expires_at" json:"expires_at"` // TTL, epoch seconds
}

// sortKeyLayout is fixed-width so that keys sort as times do.
const sortKeyLayout = "2006-01-02T15:04:05.000000Z"

// Stamp sets the entry's time, unique sort key and TTL from at.
func (e *Entry) Stamp(at time.Time, retention time.Duration) {
	at = at.UTC()
	e.Time = at.Format(sortKeyLayout)
	e.SortKey = e.Time + "#" + suffix()
	e.ExpiresAt = at.Add(retention).Unix()
}

func suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var hashPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidHash reports whether s is a well-formed "sha256:" token hash.
func ValidHash(s string) bool { return hashPattern.MatchString(s) }

// CheckHash returns an EINVALID error naming what is wrong with s.
func CheckHash(s string) error {
	if ValidHash(s) {
		return nil
	}
	return gitpulse.Errorf(gitpulse.EINVALID, "token_hash must be \"sha256:\" followed by 64 lowercase hex digits (the SHA-256 of the token), got %d characters", len(s))
}

// Endpoint returns the path and query of u as an audit item may hold
// them: redact.URL decides (credentials replaced, credential-named
// parameters left out, ordinary filters such as author kept, cut short).
func Endpoint(u *url.URL) string { return redact.URL(u) }

// errorClass names a transport error without its text (which may hold
// URLs or addresses): timeout, connection refused, reset, dns, canceled.
func errorClass(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "context canceled"):
		return "canceled"
	case strings.Contains(msg, "deadline exceeded"), strings.Contains(msg, "timeout"):
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "connection_refused"
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "eof"), strings.Contains(msg, "broken pipe"):
		return "connection_reset"
	case strings.Contains(msg, "no such host"):
		return "dns"
	default:
		return "network"
	}
}
