// Package apikeys authenticates callers of the data API by API key.
//
// A key is a random string handed to a user once ("gpk_" and 43 base64url
// characters, see Generate). GitPulse stores only its hash, in the format of
// gitpulse.Secret.Hash: "sha256:" and the lowercase hex SHA-256 of the key.
// The stored list is JSON, in a Secrets Manager secret (API_KEYS_SECRET_ARN,
// read by SecretSource) or, for local runs, an environment variable
// (API_KEYS, parsed by Parse into a Static source):
//
//	{"keys":[
//	  {"name":"dashboard","role":"reader","hash":"sha256:<64 hex>","created_at":"2026-11-25T00:00:00Z"}
//	]}
//
// A bare JSON array of the same objects is accepted too. name is a unique
// label (letters, digits, space and . _ - @, up to 64 characters), role is
// "reader" or "admin", hash is unique, created_at (RFC 3339) is optional,
// courses (a list of course ids, the courses' GitLab group ids) limits the
// key to those courses and is optional.
// Unknown fields are ignored. Errors about the list name the entry by index
// and name, never a value that could be a key.
package apikeys

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// Role is what a key may do.
type Role string

// Roles. An admin key may call every route, a reader key the reader routes.
const (
	RoleReader Role = "reader"
	RoleAdmin  Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleReader:
		return 1
	case RoleAdmin:
		return 2
	}
	return 0
}

// Valid reports whether r is RoleReader or RoleAdmin.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a key with role r may call a route that needs
// role need: admin allows reader and admin, reader allows reader. An
// unknown role, on either side, allows nothing.
func (r Role) Allows(need Role) bool {
	return r.Valid() && need.Valid() && r.rank() >= need.rank()
}

// Key is one stored API key: its label, role and hash. It never holds the
// key itself, so it is safe to log and show. It marshals to the stored JSON
// format.
type Key struct {
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	Hash      string     `json:"hash"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// Courses, when set, limits the key to the routes of these courses
	// (GitLab group ids): the courses listing shows only them, and any
	// other course, project or route of no course is a 403. Empty: every
	// course, as for keys made before courses existed.
	Courses []int64 `json:"courses,omitempty"`
}

// String returns the key's name and role, e.g. "dashboard (reader)".
func (k Key) String() string { return fmt.Sprintf("%s (%s)", k.Name, k.Role) }

// Source hands out the stored keys. Implementations are safe for
// concurrent use.
type Source interface {
	// Keys returns the stored keys. A non-nil error with a nil slice means
	// the keys cannot be read. A non-nil error wrapping ErrStale with keys
	// means the keys are usable but could not be refreshed; the error is
	// for logs. Callers must not modify the returned slice.
	Keys(ctx context.Context) ([]Key, error)
}

// ErrStale marks an error returned with keys that are still served from
// cache although the latest read failed.
var ErrStale = errors.New("API keys served from cache")

// Static is a fixed list of keys, typically Parse's result for API_KEYS.
type Static []Key

// Keys returns the list; it never fails.
func (s Static) Keys(context.Context) ([]Key, error) { return s, nil }

// Parse validates the stored JSON format (see the package doc) and returns
// the keys, hashes lowercased. It returns a *gitpulse.Error with EINVALID
// when the value is empty, is not that JSON, holds no keys, or an entry is
// wrong; the message names the entry (keys[i] and its name) and the field,
// never a hash or any value that could be a key.
func Parse(value string) ([]Key, error) {
	keys, err := parse(value)
	if err == nil && len(keys) == 0 {
		err = invalid(`no keys: want {"keys":[{"name":...,"role":...,"hash":...}]}`)
	}
	return keys, err
}

func invalid(format string, args ...any) error {
	return gitpulse.Errorf(gitpulse.EINVALID, format, args...)
}

// entries splits the stored value into its raw entries; an empty value has
// none.
func entries(value string) ([]json.RawMessage, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return nil, nil
	}
	var raws []json.RawMessage
	var err error
	if v[0] == '[' {
		err = json.Unmarshal([]byte(v), &raws)
	} else {
		var doc struct {
			Keys []json.RawMessage `json:"keys"`
		}
		err = json.Unmarshal([]byte(v), &doc)
		raws = doc.Keys
	}
	if err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, invalid("invalid JSON at offset %d", syn.Offset)
		}
		return nil, invalid(`must be a JSON object {"keys":[...]} or a JSON array of keys`)
	}
	return raws, nil
}

// parse is Parse without the rule that the list holds keys.
func parse(value string) ([]Key, error) {
	if strings.TrimSpace(value) == "" {
		return nil, invalid(`empty: want {"keys":[{"name":...,"role":...,"hash":...}]}`)
	}
	raws, err := entries(value)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, 0, len(raws))
	names := map[string]int{}
	hashes := map[string]int{}
	for i, raw := range raws {
		k, err := parseEntry(i, raw)
		if err != nil {
			return nil, err
		}
		if j, ok := names[k.Name]; ok {
			return nil, invalid("keys[%d].name: %q is also the name of keys[%d]; names must be unique", i, k.Name, j)
		}
		if j, ok := hashes[k.Hash]; ok {
			return nil, invalid("keys[%d].hash: same hash as keys[%d] (key %q); each key needs its own (key %q)", i, j, keys[j].Name, k.Name)
		}
		names[k.Name], hashes[k.Hash] = i, i
		keys = append(keys, k)
	}
	return keys, nil
}

func parseEntry(i int, raw json.RawMessage) (Key, error) {
	var e struct {
		Name      string `json:"name"`
		Role      string `json:"role"`
		Hash      string `json:"hash"`
		CreatedAt string `json:"created_at"`
		Courses   []any  `json:"courses"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "courses" {
			return Key{}, invalid("keys[%d].courses: must be a list of course ids", i)
		}
		if errors.As(err, &typ) && typ.Field != "" {
			return Key{}, invalid("keys[%d].%s: must be a string", i, typ.Field)
		}
		return Key{}, invalid("keys[%d]: must be a JSON object with name, role and hash", i)
	}
	if err := checkName(e.Name); err != nil {
		return Key{}, invalid("keys[%d].name: %s", i, err)
	}
	of := fmt.Sprintf(" (key %q)", e.Name)
	if !Role(e.Role).Valid() {
		return Key{}, invalid(`keys[%d].role: must be "reader" or "admin"%s`, i, of)
	}
	hash, ok := normalHash(e.Hash)
	if !ok {
		return Key{}, invalid("keys[%d].hash: not a sha256:<64 hex> hash%s", i, of)
	}
	k := Key{Name: e.Name, Role: Role(e.Role), Hash: hash}
	if e.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339, e.CreatedAt)
		if err != nil {
			return Key{}, invalid("keys[%d].created_at: not an RFC 3339 time%s", i, of)
		}
		k.CreatedAt = &t
	}
	for j, c := range e.Courses {
		n, ok := c.(float64)
		if !ok || n != float64(int64(n)) || n <= 0 || n > 1<<53 {
			return Key{}, invalid("keys[%d].courses[%d]: must be a course id (a positive integer)%s", i, j, of)
		}
		k.Courses = append(k.Courses, int64(n))
	}
	return k, nil
}

// checkName says what is wrong with a key name, without repeating it: a
// raw key pasted into the wrong field must not end up in a log.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("is required")
	case len(name) > 64:
		return errors.New("is longer than 64 characters")
	case strings.HasPrefix(name, keyPrefix) || redact.Contains(name):
		return errors.New("looks like an API key or a token; use a label such as \"dashboard\"")
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(" ._-@", c)
		if !ok {
			return errors.New("use letters, digits, space and . _ - @ only")
		}
	}
	if strings.TrimSpace(name) != name {
		return errors.New("must not start or end with a space")
	}
	return nil
}

// normalHash returns h lowercased when it is "sha256:" and 64 hex digits.
func normalHash(h string) (string, bool) {
	h = strings.ToLower(h)
	hex, ok := strings.CutPrefix(h, "sha256:")
	if !ok || len(hex) != 64 {
		return "", false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return h, true
}

// keyPrefix starts every generated key, so that a key is recognisable in a
// secret scanner's findings or a misplaced paste.
const keyPrefix = "gpk_"

// Generate returns a new API key and its stored entry, created at now. The
// key is "gpk_" and 32 bytes from crypto/rand in base64url without padding;
// it is returned as a gitpulse.Secret so that it cannot be logged by
// accident: call Reveal only where it is shown to its owner, once. It
// returns an EINVALID *gitpulse.Error when name or role would not pass
// Parse.
func Generate(name string, role Role, now time.Time) (gitpulse.Secret, Key, error) {
	if err := checkName(name); err != nil {
		return gitpulse.Secret{}, Key{}, invalid("key name: %s", err)
	}
	if !role.Valid() {
		return gitpulse.Secret{}, Key{}, invalid(`role: must be "reader" or "admin"`)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	raw := gitpulse.NewSecret(keyPrefix + base64.RawURLEncoding.EncodeToString(b))
	created := now.UTC().Truncate(time.Second)
	return raw, Key{Name: name, Role: role, Hash: raw.Hash(), CreatedAt: &created}, nil
}

type ctxKey struct{}

// WithKey returns a context carrying the authenticated key.
func WithKey(ctx context.Context, k Key) context.Context {
	return context.WithValue(ctx, ctxKey{}, k)
}

// FromContext returns the key WithKey stored, and whether there is one.
func FromContext(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(ctxKey{}).(Key)
	return k, ok
}
