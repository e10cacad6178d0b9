package apikeys

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Authenticator checks the API key a request presents against Source.
type Authenticator struct {
	Source Source
	// OnStale, when set, is called with the error (wrapping ErrStale) when
	// Source answers with cached keys because a refresh failed, so that
	// the caller can log it. Authentication goes on with the cached keys.
	OnStale func(ctx context.Context, err error)
}

// Unauthorized is the message of every 401: it names the header's format,
// since a key sent without "Bearer " is the commonest mistake.
const Unauthorized = "missing or invalid API key: send the header Authorization: Bearer <key>"

// unauthorized is the one answer for a missing, malformed or unknown key,
// so that a client cannot tell which.
func unauthorized() error {
	return gitpulse.Errorf(gitpulse.EUNAUTHORIZED, Unauthorized)
}

// maxHeader bounds the Authorization header hashed; a key is 47 bytes.
const maxHeader = 1024

// Authenticate returns the stored key matching authorizationHeader, which
// must be "Bearer <key>" (the scheme in any case, spaces around trimmed).
// The presented key is hashed and compared with every stored hash in
// constant time. It returns a *gitpulse.Error with EUNAUTHORIZED and the
// same message for a missing, malformed or unknown key, and EUNAVAILABLE
// ("API keys cannot be read", wrapping the cause for logs) when Source
// fails. Neither message holds the presented key.
func (a *Authenticator) Authenticate(ctx context.Context, authorizationHeader string) (Key, error) {
	raw, ok := Bearer(authorizationHeader)
	if !ok {
		return Key{}, unauthorized()
	}
	keys, err := a.Source.Keys(ctx)
	if err != nil {
		if len(keys) == 0 || !errors.Is(err, ErrStale) {
			return Key{}, &gitpulse.Error{Code: gitpulse.EUNAVAILABLE, Message: "API keys cannot be read", Err: err}
		}
		if a.OnStale != nil {
			a.OnStale(ctx, err)
		}
	}
	hash := []byte(gitpulse.NewSecret(raw).Hash())
	found := -1
	for i, k := range keys {
		eq := subtle.ConstantTimeCompare(hash, []byte(k.Hash))
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Key{}, unauthorized()
	}
	return keys[found], nil
}

// Bearer returns the credentials of an RFC 7235 "Bearer" Authorization
// header: the scheme is case-insensitive, spaces and tabs around are
// ignored, and the credentials are one token. The audit uses it too, so
// that every key that can authenticate is audited.
func Bearer(header string) (string, bool) {
	if len(header) > maxHeader {
		return "", false
	}
	h := strings.Trim(header, " \t")
	i := strings.IndexAny(h, " \t")
	if i < 0 || !strings.EqualFold(h[:i], "Bearer") {
		return "", false
	}
	cred := strings.TrimLeft(h[i:], " \t")
	if cred == "" || strings.ContainsAny(cred, " \t") {
		return "", false
	}
	return cred, true
}

// Require returns nil when k's role allows need, else a *gitpulse.Error
// with EFORBIDDEN naming the role needed and the key's name and role.
func Require(k Key, need Role) error {
	if k.Role.Allows(need) {
		return nil
	}
	return gitpulse.Errorf(gitpulse.EFORBIDDEN, "this route needs the %s role; key '%s' has role %s", need, k.Name, k.Role)
}
