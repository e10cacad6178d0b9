// Package gitpulse holds GitPulse's domain types and coded errors: the
// vocabulary every other package shares. It imports nothing of the project's.
package gitpulse

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// Secret is a credential value (a GitLab token, an API key). It prints,
// logs and marshals as "[redacted]" so that a stray %v, slog attribute or
// json.Marshal cannot leak it; Reveal returns the value for the one place
// that must send it. It holds the value behind a pointer, so even fmt's
// paths that switch methods off (a wrong verb on a nested value) print an
// address, never the value. Compare secrets with Equal, not ==.
type Secret struct{ p *string }

const redacted = "[redacted]"

// NewSecret wraps a credential value.
func NewSecret(value string) Secret { return Secret{p: &value} }

// Reveal returns the secret value. Call it only where the value is sent to
// the service it authenticates against.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.Reveal() == o.Reveal() }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter: every verb (%d, %x, %q, ...) prints
// "[redacted]", never the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer without revealing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Hash returns the secret's public identity: "sha256:" followed by the
// lowercase hex SHA-256 of the value. It is safe to log, store and show.
func (s Secret) Hash() string {
	sum := sha256.Sum256([]byte(s.Reveal()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TokenKind says what kind of GitLab token a credential is. It is learnt from
// GitLab (the self endpoint and the owner), never from the token's prefix.
type TokenKind string

// Token kinds.
const (
	KindUnknown  TokenKind = ""
	KindPersonal TokenKind = "personal"
	KindGroup    TokenKind = "group"
	KindProject  TokenKind = "project"
	KindOAuth    TokenKind = "oauth"
)

// Token is one GitLab credential as configured: where it lives, which
// instance it is for, and its value. The value is a Secret and never prints.
type Token struct {
	Name   string // operator-facing name, e.g. "primary"
	Value  Secret
	URL    string // GitLab base URL, e.g. https://gitlab.example.edu
	Source string // where it came from: "secret:<arn>", "env:GITLAB_TOKENS[1]", "file:<path>", "env:GITLAB_TOKEN"
	// Fields of the Secrets Manager secret (AWS's GitLabAccessToken shape).
	TokenID   int
	GroupID   int
	ProjectID int
	// Kind is set only where configuration says so (an OAuth2 token must be
	// sent as a Bearer header); otherwise GitLab is asked.
	Kind TokenKind
}

// Hash returns the token's "sha256:" hash.
func (t Token) Hash() string { return t.Value.Hash() }

// Equal reports whether two tokens are the same configuration and value.
func (t Token) Equal(o Token) bool {
	v1, v2 := t.Value, o.Value
	t.Value, o.Value = Secret{}, Secret{}
	return t == o && v1.Equal(v2)
}
