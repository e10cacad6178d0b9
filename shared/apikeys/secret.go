package apikeys

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/shared/secrets"
)

// DefaultTTL is how long SecretSource serves keys before reading again.
const DefaultTTL = 5 * time.Minute

// staleFactor bounds how long cached keys outlive a failing secret: up to
// staleFactor × TTL after the last good read.
const staleFactor = 10

// SecretSource reads the keys from the AWSCURRENT version of a Secrets
// Manager secret and caches them for TTL, so that a burst of requests costs
// one read. When a read fails after a good one, it keeps serving the cached
// keys for up to 10 × TTL after that read (a revoked key therefore works
// for at most that long while the secret is unreadable), tries again at
// most every min(TTL, 30s), and returns the failure of each read it tries
// wrapped in ErrStale, together with the keys, for the caller to log; it
// logs nothing itself. A secret whose value does not parse counts as a
// failed read. Configure it before first use; it is safe for concurrent
// use afterwards.
type SecretSource struct {
	API      secrets.Getter
	SecretID string           // ARN or name
	TTL      time.Duration    // default DefaultTTL
	Now      func() time.Time // default time.Now

	mu      sync.Mutex
	keys    []Key
	fetched time.Time // of keys
	retryAt time.Time // no read before, after a failed one
}

// Keys returns the secret's keys; see SecretSource for caching and errors.
// A failure without usable cached keys wraps the *gitpulse.Error of the
// read (ENOTFOUND, EFORBIDDEN, EUNAVAILABLE) or of Parse (EINVALID).
func (s *SecretSource) Keys(ctx context.Context) ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, ttl := s.now(), s.ttl()
	age := now.Sub(s.fetched)
	if s.keys != nil && (age < ttl || now.Before(s.retryAt) && age < staleFactor*ttl) {
		return s.keys, nil
	}
	keys, err := s.read(ctx)
	if err == nil {
		s.keys, s.fetched, s.retryAt = keys, now, time.Time{}
		return keys, nil
	}
	if s.keys != nil && age < staleFactor*ttl {
		s.retryAt = now.Add(min(ttl, 30*time.Second))
		return s.keys, fmt.Errorf("%w (read %s ago): %w", ErrStale, age.Round(time.Second), err)
	}
	s.keys = nil
	return nil, err
}

func (s *SecretSource) read(ctx context.Context) ([]Key, error) {
	v, err := secrets.ReadString(ctx, s.API, s.SecretID, secrets.StageCurrent)
	if err != nil {
		return nil, err
	}
	keys, err := Parse(v)
	if err != nil {
		return nil, fmt.Errorf("API keys secret %s: %w", s.SecretID, err)
	}
	return keys, nil
}

func (s *SecretSource) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

func (s *SecretSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SecretWriter is the part of the Secrets Manager client AddToSecret uses.
type SecretWriter interface {
	secrets.Getter
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// AddToSecret appends k to the keys in the AWSCURRENT version of the
// secret and stores the result as a new AWSCURRENT version. Existing
// entries and fields are kept as they are; an empty value becomes
// {"keys":[k]}. It refuses (EINVALID) when the current value does not
// parse or k's name or hash is already there. Two concurrent calls can
// lose one of the keys: Secrets Manager has no conditional write. Read
// errors are classified as secrets.ReadString's.
func AddToSecret(ctx context.Context, api SecretWriter, secretID string, k Key) error {
	cur, err := secrets.ReadString(ctx, api, secretID, secrets.StageCurrent)
	if err != nil {
		return err
	}
	next, err := appendKey(cur, k)
	if err != nil {
		return fmt.Errorf("API keys secret %s: %w", secretID, err)
	}
	_, err = api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretID), SecretString: aws.String(next)})
	if err != nil {
		return fmt.Errorf("put secret %s: %w", secretID, err)
	}
	return nil
}

// appendKey returns value with k added, in the same form (object or bare
// array), after checking that the result parses.
func appendKey(value string, k Key) (string, error) {
	if strings.TrimSpace(value) != "" {
		if _, err := parse(value); err != nil {
			return "", err
		}
	}
	entry, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	raws, err := entries(value)
	if err != nil {
		return "", err
	}
	raws = append(raws, entry)
	var out []byte
	if v := strings.TrimSpace(value); v != "" && v[0] == '[' {
		out, err = json.Marshal(raws)
	} else {
		doc := map[string]json.RawMessage{}
		if v != "" {
			if err := json.Unmarshal([]byte(v), &doc); err != nil {
				return "", invalid(`must be a JSON object {"keys":[...]} or a JSON array of keys`)
			}
		}
		if doc["keys"], err = json.Marshal(raws); err == nil {
			out, err = json.Marshal(doc)
		}
	}
	if err != nil {
		return "", err
	}
	if _, err := Parse(string(out)); err != nil {
		return "", err
	}
	return string(out), nil
}
