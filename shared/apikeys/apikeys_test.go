package apikeys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Keys and their hashes used across tests.
const (
	readerKey = "gpk_ReaderKeyForTestsOnly0000000000000000000"
	adminKey  = "gpk_AdminKeyForTestsOnly00000000000000000000"
)

var (
	readerHash = gitpulse.NewSecret(readerKey).Hash()
	adminHash  = gitpulse.NewSecret(adminKey).Hash()
)

func entry(name, role, hash string) string {
	return fmt.Sprintf(`{"name":%q,"role":%q,"hash":%q}`, name, role, hash)
}

// stored returns the stored JSON holding the given entries.
func stored(entries ...string) string {
	return `{"keys":[` + strings.Join(entries, ",") + `]}`
}

func TestParse(t *testing.T) {
	created := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  []apikeys.Key
	}{
		{
			name:  "object",
			value: `{"keys":[{"name":"dashboard","role":"reader","hash":"` + readerHash + `","created_at":"2026-11-25T00:00:00Z"},` + entry("ops", "admin", adminHash) + `]}`,
			want: []apikeys.Key{
				{Name: "dashboard", Role: apikeys.RoleReader, Hash: readerHash, CreatedAt: &created},
				{Name: "ops", Role: apikeys.RoleAdmin, Hash: adminHash},
			},
		},
		{
			name:  "bare array",
			value: " [" + entry("dashboard", "reader", readerHash) + "]\n",
			want:  []apikeys.Key{{Name: "dashboard", Role: apikeys.RoleReader, Hash: readerHash}},
		},
		{
			name:  "uppercase hex is lowercased",
			value: stored(entry("dashboard", "reader", "sha256:"+strings.ToUpper(strings.TrimPrefix(readerHash, "sha256:")))),
			want:  []apikeys.Key{{Name: "dashboard", Role: apikeys.RoleReader, Hash: readerHash}},
		},
		{
			name:  "unknown fields are ignored",
			value: stored(`{"name":"ci bot","role":"admin","hash":"` + adminHash + `","note":"rotated yearly"}`),
			want:  []apikeys.Key{{Name: "ci bot", Role: apikeys.RoleAdmin, Hash: adminHash}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apikeys.Parse(tt.value)
			if err != nil {
				t.Fatalf("Parse: got error %q, want none", err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, tt.want); g != w {
				t.Errorf("Parse: got %s, want %s", g, w)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"empty", "  ", "empty"},
		{"no keys", `{"keys":[]}`, "no keys"},
		{"empty object", `{}`, "no keys"},
		{"not JSON", readerKey, "invalid JSON at offset 1"},
		{"wrong shape", `{"keys":{"name":"x"}}`, `must be a JSON object {"keys":[...]} or a JSON array of keys`},
		{"entry not an object", `["` + readerKey + `"]`, "keys[0]: must be a JSON object with name, role and hash"},
		{"name a number", `[{"name":7,"role":"reader","hash":"` + readerHash + `"}]`, "keys[0].name: must be a string"},
		{"missing name", stored(entry("", "reader", readerHash)), "keys[0].name: is required"},
		{"raw key as name", stored(entry(readerKey, "reader", readerHash)), "keys[0].name: looks like an API key"},
		{"name with odd characters", stored(entry("a/b", "reader", readerHash)), "keys[0].name: use letters, digits"},
		{"bad role", stored(entry("dashboard", "reader", readerHash), entry("ops", "Admin", adminHash)), `keys[1].role: must be "reader" or "admin" (key "ops")`},
		{"missing role", stored(entry("ops", "", adminHash)), `keys[0].role: must be "reader" or "admin" (key "ops")`},
		{"raw key as hash", stored(entry("a", "reader", readerHash), entry("b", "reader", adminHash), entry("dashboard", "reader", readerKey)),
			`keys[2].hash: not a sha256:<64 hex> hash (key "dashboard")`},
		{"short hash", stored(entry("dashboard", "reader", readerHash[:40])), "keys[0].hash: not a sha256:<64 hex> hash"},
		{"hash without prefix", stored(entry("dashboard", "reader", strings.TrimPrefix(readerHash, "sha256:"))), "keys[0].hash: not a sha256:<64 hex> hash"},
		{"bad created_at", `[{"name":"d","role":"reader","hash":"` + readerHash + `","created_at":"yesterday"}]`, `keys[0].created_at: not an RFC 3339 time (key "d")`},
		{"duplicate name", stored(entry("dashboard", "reader", readerHash), entry("dashboard", "admin", adminHash)),
			`keys[1].name: "dashboard" is also the name of keys[0]`},
		{"duplicate hash", stored(entry("dashboard", "reader", readerHash), entry("ops", "admin", readerHash)),
			`keys[1].hash: same hash as keys[0] (key "dashboard")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apikeys.Parse(tt.value)
			if err == nil {
				t.Fatalf("Parse: got no error, want %q", tt.want)
			}
			if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID {
				t.Errorf("ErrorCode: got %q, want %q", got, gitpulse.EINVALID)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error: got %q, want it to contain %q", err, tt.want)
			}
			for _, secret := range []string{readerKey, adminKey, readerHash, adminHash} {
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), strings.TrimPrefix(secret, "sha256:")[:20]) {
					t.Errorf("Parse error: got %q, want it not to hold a key or hash", err)
				}
			}
		})
	}
}

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		role, need apikeys.Role
		want       bool
	}{
		{apikeys.RoleAdmin, apikeys.RoleAdmin, true},
		{apikeys.RoleAdmin, apikeys.RoleReader, true},
		{apikeys.RoleReader, apikeys.RoleReader, true},
		{apikeys.RoleReader, apikeys.RoleAdmin, false},
		{"", apikeys.RoleReader, false},
		{"root", apikeys.RoleReader, false},
		{apikeys.RoleAdmin, "root", false},
	}
	for _, tt := range tests {
		if got := tt.role.Allows(tt.need); got != tt.want {
			t.Errorf("Role(%q).Allows(%q): got %v, want %v", tt.role, tt.need, got, tt.want)
		}
	}
}

func TestRequire(t *testing.T) {
	reader := apikeys.Key{Name: "dashboard", Role: apikeys.RoleReader, Hash: readerHash}
	admin := apikeys.Key{Name: "ops", Role: apikeys.RoleAdmin, Hash: adminHash}
	for _, ok := range []struct {
		k    apikeys.Key
		need apikeys.Role
	}{{reader, apikeys.RoleReader}, {admin, apikeys.RoleReader}, {admin, apikeys.RoleAdmin}} {
		if err := apikeys.Require(ok.k, ok.need); err != nil {
			t.Errorf("Require(%s, %s): got %q, want nil", ok.k, ok.need, err)
		}
	}
	err := apikeys.Require(reader, apikeys.RoleAdmin)
	if got := gitpulse.ErrorCode(err); got != gitpulse.EFORBIDDEN {
		t.Errorf("Require(reader, admin) code: got %q, want %q", got, gitpulse.EFORBIDDEN)
	}
	want := "this route needs the admin role; key 'dashboard' has role reader"
	if got := gitpulse.ErrorMessage(err); got != want {
		t.Errorf("Require(reader, admin): got %q, want %q", got, want)
	}
}

func newAuth(t *testing.T) *apikeys.Authenticator {
	t.Helper()
	keys, err := apikeys.Parse(stored(entry("dashboard", "reader", readerHash), entry("ops", "admin", adminHash)))
	if err != nil {
		t.Fatal(err)
	}
	return &apikeys.Authenticator{Source: apikeys.Static(keys)}
}

func TestAuthenticate(t *testing.T) {
	a := newAuth(t)
	tests := []struct {
		name   string
		header string
		want   string // key name; "" for EUNAUTHORIZED
	}{
		{"reader key", "Bearer " + readerKey, "dashboard"},
		{"admin key", "Bearer " + adminKey, "ops"},
		{"lowercase scheme", "bearer " + readerKey, "dashboard"},
		{"uppercase scheme", "BEARER " + adminKey, "ops"},
		{"extra spaces", "  Bearer   " + readerKey + "  ", "dashboard"},
		{"tab", "Bearer\t" + readerKey, "dashboard"},
		{"wrong key", "Bearer gpk_NotAKeyAnybodyHas000000000000000000000", ""},
		{"the hash as the key", "Bearer " + readerHash, ""},
		{"missing header", "", ""},
		{"scheme only", "Bearer", ""},
		{"scheme and spaces", "Bearer   ", ""},
		{"no scheme", readerKey, ""},
		{"Basic scheme", "Basic " + readerKey, ""},
		{"two tokens", "Bearer " + readerKey + " " + adminKey, ""},
		{"key with a prefix", "Bearer x" + readerKey, ""},
		{"huge header", "Bearer " + strings.Repeat("a", 5000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := a.Authenticate(context.Background(), tt.header)
			if tt.want != "" {
				if err != nil {
					t.Fatalf("Authenticate: got error %q, want key %s", err, tt.want)
				}
				if k.Name != tt.want {
					t.Errorf("Authenticate: got key %s, want %s", k.Name, tt.want)
				}
				return
			}
			if got := gitpulse.ErrorCode(err); got != gitpulse.EUNAUTHORIZED {
				t.Fatalf("Authenticate code: got %q (key %s), want %q", got, k, gitpulse.EUNAUTHORIZED)
			}
			if got, want := err.Error(), apikeys.Unauthorized; got != want {
				t.Errorf("Authenticate error: got %q, want %q", got, want)
			}
		})
	}
}

// failing is a Source that cannot read its keys.
type failing struct{ err error }

func (f failing) Keys(context.Context) ([]apikeys.Key, error) { return nil, f.err }

func TestAuthenticateSourceFails(t *testing.T) {
	cause := errors.New("operation error Secrets Manager: GetSecretValue, https response error StatusCode: 500")
	a := &apikeys.Authenticator{Source: failing{cause}}
	_, err := a.Authenticate(context.Background(), "Bearer "+readerKey)
	if got := gitpulse.ErrorCode(err); got != gitpulse.EUNAVAILABLE {
		t.Fatalf("code: got %q, want %q", got, gitpulse.EUNAVAILABLE)
	}
	if got, want := gitpulse.ErrorMessage(err), "API keys cannot be read"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(err, cause): got false, want the cause wrapped for logs")
	}
	// A missing header is refused without reading the keys.
	_, err = a.Authenticate(context.Background(), "")
	if got := gitpulse.ErrorCode(err); got != gitpulse.EUNAUTHORIZED {
		t.Errorf("missing header code: got %q, want %q", got, gitpulse.EUNAUTHORIZED)
	}
}

// stale is a Source that serves keys with a stale error.
type stale struct{ keys []apikeys.Key }

func (s stale) Keys(context.Context) ([]apikeys.Key, error) {
	return s.keys, fmt.Errorf("%w: secret unreadable", apikeys.ErrStale)
}

func TestAuthenticateStaleKeys(t *testing.T) {
	keys := []apikeys.Key{{Name: "dashboard", Role: apikeys.RoleReader, Hash: readerHash}}
	var reported []error
	a := &apikeys.Authenticator{Source: stale{keys}, OnStale: func(_ context.Context, err error) { reported = append(reported, err) }}
	k, err := a.Authenticate(context.Background(), "Bearer "+readerKey)
	if err != nil || k.Name != "dashboard" {
		t.Fatalf("Authenticate: got %s, %v; want dashboard, nil", k, err)
	}
	if len(reported) != 1 || !errors.Is(reported[0], apikeys.ErrStale) {
		t.Errorf("OnStale: got %v, want one ErrStale", reported)
	}
}

func TestGenerate(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 15, 999, time.UTC)
	format := regexp.MustCompile(`^gpk_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 100 {
		raw, k, err := apikeys.Generate("dashboard", apikeys.RoleReader, now)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		v := raw.Reveal()
		if !format.MatchString(v) {
			t.Fatalf("Generate: got a key of %d characters not matching %s", len(v), format)
		}
		if seen[v] {
			t.Fatalf("Generate: got the same key twice")
		}
		seen[v] = true
		if k.Hash != gitpulse.NewSecret(v).Hash() {
			t.Errorf("Generate hash: got %s, want %s", k.Hash, gitpulse.NewSecret(v).Hash())
		}
		if k.Name != "dashboard" || k.Role != apikeys.RoleReader || k.CreatedAt == nil || !k.CreatedAt.Equal(now.Truncate(time.Second)) {
			t.Errorf("Generate key: got %+v, want dashboard, reader, created %s", k, now.Truncate(time.Second))
		}
		// The entry goes into the stored JSON as printed.
		b, _ := json.Marshal(k)
		keys, err := apikeys.Parse("[" + string(b) + "]")
		if err != nil || len(keys) != 1 || keys[0].Hash != k.Hash {
			t.Fatalf("Parse(Generate's entry %s): got %v, %v", b, keys, err)
		}
		a := &apikeys.Authenticator{Source: apikeys.Static(keys)}
		if got, err := a.Authenticate(context.Background(), "Bearer "+v); err != nil || got.Name != "dashboard" {
			t.Errorf("Authenticate(generated key): got %s, %v; want dashboard", got, err)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		role apikeys.Role
		want string
	}{
		{"", apikeys.RoleReader, "key name: is required"},
		{"gpk_abc", apikeys.RoleReader, "key name: looks like an API key"},
		{"dashboard", "owner", `role: must be "reader" or "admin"`},
	} {
		_, _, err := apikeys.Generate(tt.name, tt.role, time.Now())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(%q, %q): got %v, want %q", tt.name, tt.role, err, tt.want)
		}
	}
}

// TestKeyNeverPrinted checks every way a key and its errors reach a log.
func TestKeyNeverPrinted(t *testing.T) {
	raw, k, err := apikeys.Generate("dashboard", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := raw.Reveal()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("generated", "raw", raw, "key", k)
	entryJSON, _ := json.Marshal(k)
	a := newAuth(t)
	_, authErr := a.Authenticate(context.Background(), "Bearer "+v)
	_, parseErr := apikeys.Parse(stored(entry("dashboard", "reader", v)))
	_, nameErr := apikeys.Parse(stored(entry(v, "reader", readerHash)))
	_, roleErr := apikeys.Parse(stored(entry("dashboard", v, readerHash)))
	_, _, genErr := apikeys.Generate(v, apikeys.RoleReader, time.Now())
	outputs := map[string]string{
		"log":          logs.String(),
		"%v raw":       fmt.Sprintf("%v %s %+v %#v %q %x", raw, raw, raw, raw, raw, raw),
		"%v key":       fmt.Sprintf("%v %s %+v %#v", k, k, k, k),
		"Key.String":   k.String(),
		"json entry":   string(entryJSON),
		"auth error":   authErr.Error(),
		"parse error":  parseErr.Error(),
		"name error":   nameErr.Error(),
		"role error":   roleErr.Error(),
		"generate err": fmt.Sprint(genErr),
		"require":      apikeys.Require(k, apikeys.RoleAdmin).Error(),
	}
	for what, out := range outputs {
		if strings.Contains(out, v) || strings.Contains(out, strings.TrimPrefix(v, "gpk_")) {
			t.Errorf("%s: got %q, want it without the raw key", what, out)
		}
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := apikeys.FromContext(ctx); ok {
		t.Errorf("FromContext(empty): got a key, want none")
	}
	k := apikeys.Key{Name: "dashboard", Role: apikeys.RoleReader, Hash: readerHash}
	got, ok := apikeys.FromContext(apikeys.WithKey(ctx, k))
	if !ok || got.Name != k.Name || got.Role != k.Role || got.Hash != k.Hash {
		t.Errorf("FromContext(WithKey(k)): got %+v, %v; want %+v, true", got, ok, k)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseCourses(t *testing.T) {
	keys, err := apikeys.Parse(`{"keys":[{"name":"ta","role":"reader","hash":"` + readerHash + `","courses":[12,34]},{"name":"ops","role":"admin","hash":"` + adminHash + `"}]}`)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := fmt.Sprint(keys[0].Courses, keys[1].Courses); got != "[12 34] []" {
		t.Errorf("courses: got %s, want [12 34] []", got)
	}
	for value, want := range map[string]string{
		`[{"name":"ta","role":"reader","hash":"` + readerHash + `","courses":"12"}]`:    "keys[0].courses: must be a list of course ids",
		`[{"name":"ta","role":"reader","hash":"` + readerHash + `","courses":["12"]}]`:  `keys[0].courses[0]: must be a course id (a positive integer) (key "ta")`,
		`[{"name":"ta","role":"reader","hash":"` + readerHash + `","courses":[1.5]}]`:   `keys[0].courses[0]: must be a course id`,
		`[{"name":"ta","role":"reader","hash":"` + readerHash + `","courses":[12,-3]}]`: `keys[0].courses[1]: must be a course id`,
	} {
		_, err := apikeys.Parse(value)
		if err == nil || !strings.Contains(gitpulse.ErrorMessage(err), want) {
			t.Errorf("Parse %s: got %v, want an error containing %q", value, err, want)
		}
	}
}
