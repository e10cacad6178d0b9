package gitpulse_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// value is the secret every leak test tries to find in the output.
const value = "glpat-LeakMeIfYouCan12"

// assertNoSecret fails when out holds the secret value or lacks the
// redaction marker.
func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, value) {
		t.Errorf("%s: got %q, want it without the secret value", what, out)
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("%s: got %q, want it to hold \"[redacted]\"", what, out)
	}
}

func TestSecretNeverFormats(t *testing.T) {
	s := gitpulse.NewSecret(value)
	tok := gitpulse.Token{Name: "primary", Value: s, URL: "https://gitlab.example.edu", Source: "env:GITLAB_TOKEN"}
	holder := struct {
		Name  string
		Token gitpulse.Secret
	}{"x", s}

	args := map[string]any{
		"Secret":            s,
		"*Secret":           &s,
		"Token":             tok,
		"*Token":            &tok,
		"struct":            holder,
		"[]Secret":          []gitpulse.Secret{s},
		"map[string]Secret": map[string]gitpulse.Secret{"k": s},
		"[]Token":           []gitpulse.Token{tok},
		"[]any":             []any{s},
	}
	verbs := []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%10.3s", "%-20v"}
	for name, arg := range args {
		for _, verb := range verbs {
			t.Run(name+" "+verb, func(t *testing.T) {
				out := fmt.Sprintf(verb, arg)
				if strings.Contains(out, value) {
					t.Errorf("Sprintf(%q, %s): got %q, want it without the secret value", verb, name, out)
				}
			})
		}
	}
	t.Run("Sprint", func(t *testing.T) {
		assertNoSecret(t, "Sprint", fmt.Sprint(s, tok))
		assertNoSecret(t, "Sprintln", fmt.Sprintln(s, tok))
	})
	t.Run("Errorf", func(t *testing.T) {
		assertNoSecret(t, "Errorf", fmt.Errorf("token %v of %+v", s, tok).Error())
	})
}

// wrongVerb returns a format string vet does not check, for the cases that
// use a verb the operand does not support on purpose.
func wrongVerb(verb string) string { return "%" + verb }

// TestSecretNeverLeaksThroughItsStringKind covers the ways a value of a
// string kind escapes its methods: fmt's bad-verb path (which prints the raw
// operand with methods switched off) and encoding/json map keys (string
// kinds are used as keys directly, before MarshalText).
func TestSecretNeverLeaksThroughItsStringKind(t *testing.T) {
	s := gitpulse.NewSecret(value)
	tok := gitpulse.Token{Name: "primary", Value: s}
	tests := []struct {
		name string
		out  func() (string, error)
	}{
		{
			name: "Sprintf %d of Secret",
			out:  func() (string, error) { return fmt.Sprintf(wrongVerb("d"), s), nil },
		},
		{
			name: "Sprintf %t of Token",
			out:  func() (string, error) { return fmt.Sprintf(wrongVerb("t"), tok), nil },
		},
		{
			name: "Sprintf %s of []*Token",
			out:  func() (string, error) { return fmt.Sprintf(wrongVerb("s"), []*gitpulse.Token{&tok}), nil },
		},
		{
			name: "Sprintf %s of map[string]*Token",
			out:  func() (string, error) { return fmt.Sprintf(wrongVerb("s"), map[string]*gitpulse.Token{"k": &tok}), nil },
		},
		{
			name: "json.Marshal of map[Secret]int",
			out: func() (string, error) {
				b, err := json.Marshal(map[gitpulse.Secret]int{s: 1})
				return string(b), err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.out()
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if strings.Contains(out, value) {
				t.Errorf("got %q, want it without the secret value", out)
			}
		})
	}
}

func TestSecretRevealsOnlyThroughReveal(t *testing.T) {
	s := gitpulse.NewSecret(value)
	if got := s.Reveal(); got != value {
		t.Errorf("Reveal() = %q, want %q", got, value)
	}
	if got := s.String(); got != "[redacted]" {
		t.Errorf("String() = %q, want %q", got, "[redacted]")
	}
	if got := s.GoString(); got != "[redacted]" {
		t.Errorf("GoString() = %q, want %q", got, "[redacted]")
	}
}

func TestSecretNeverLogs(t *testing.T) {
	s := gitpulse.NewSecret(value)
	tok := gitpulse.Token{Name: "primary", Value: s, URL: "https://gitlab.example.edu"}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	}
	for name, newHandler := range handlers {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(newHandler(&buf))
			log.Info("secret", "token", s)
			log.Info("pointer", "token", &s)
			log.Info("any", slog.Any("token", s))
			log.Info("struct", "token", tok)
			log.Info("group", slog.Group("g", "token", s))
			log.With("token", s).Info("with")
			log.Info("formatted " + fmt.Sprint(s))
			for i, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				assertNoSecret(t, fmt.Sprintf("%s line %d", name, i), line)
			}
		})
	}
	t.Run("json attribute value", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "token", s)
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("decode log line %q: %v", buf.String(), err)
		}
		if got := rec["token"]; got != "[redacted]" {
			t.Errorf("token attribute: got %v, want %q", got, "[redacted]")
		}
	})
}

func TestSecretNeverMarshals(t *testing.T) {
	s := gitpulse.NewSecret(value)
	type holder struct {
		Name   string          `json:"name"`
		Token  gitpulse.Secret `json:"token"`
		Ptr    *gitpulse.Secret
		Tokens []gitpulse.Secret
		ByName map[string]gitpulse.Secret
		Full   gitpulse.Token
	}
	h := holder{Name: "x", Token: s, Ptr: &s, Tokens: []gitpulse.Secret{s}, ByName: map[string]gitpulse.Secret{"k": s},
		Full: gitpulse.Token{Name: "primary", Value: s}}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	assertNoSecret(t, "json.Marshal", string(b))

	var back struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal %s: %v", b, err)
	}
	if back.Token != "[redacted]" {
		t.Errorf("token field: got %q, want %q", back.Token, "[redacted]")
	}

	b, err = json.MarshalIndent(s, "", " ")
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	if got, want := string(b), `"[redacted]"`; got != want {
		t.Errorf("MarshalIndent(secret): got %s, want %s", got, want)
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := gitpulse.NewSecret(tt.in).Hash(); got != tt.want {
				t.Errorf("Secret(%q).Hash(): got %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestHashShape(t *testing.T) {
	shape := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	seen := map[string]string{}
	for _, in := range []string{value, "glpat-other", "x", strings.Repeat("z", 1000)} {
		h := gitpulse.NewSecret(in).Hash()
		if !shape.MatchString(h) {
			t.Errorf("Hash(%d-byte value): got %q, want sha256: and 64 lowercase hex digits", len(in), h)
		}
		if strings.Contains(h, in) {
			t.Errorf("Hash(%d-byte value): got %q, want it without the value", len(in), h)
		}
		if prev, dup := seen[h]; dup {
			t.Errorf("Hash: %q and %q both hash to %s, want distinct hashes", prev, in, h)
		}
		seen[h] = in
	}
	tok := gitpulse.Token{Value: gitpulse.NewSecret(value)}
	if got, want := tok.Hash(), gitpulse.NewSecret(value).Hash(); got != want {
		t.Errorf("Token.Hash(): got %s, want %s", got, want)
	}
}

func TestErrorCode(t *testing.T) {
	cause := errors.New("dynamodb: connection refused")
	coded := &gitpulse.Error{Code: gitpulse.ENOTFOUND, Message: "course 7 not found", Err: cause}
	tests := []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{"nil", nil, "", ""},
		{"plain error", cause, gitpulse.EINTERNAL, "internal error"},
		{"coded", coded, gitpulse.ENOTFOUND, "course 7 not found"},
		{"wrapped coded", fmt.Errorf("get course: %w", coded), gitpulse.ENOTFOUND, "course 7 not found"},
		{"Errorf", gitpulse.Errorf(gitpulse.EINVALID, "field %q is required", "name"), gitpulse.EINVALID, `field "name" is required`},
		{"joined", errors.Join(cause, gitpulse.Errorf(gitpulse.ECONFLICT, "exists")), gitpulse.ECONFLICT, "exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gitpulse.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode: got %q, want %q", got, tt.wantCode)
			}
			if got := gitpulse.ErrorMessage(tt.err); got != tt.wantMessage {
				t.Errorf("ErrorMessage: got %q, want %q", got, tt.wantMessage)
			}
		})
	}
}

func TestErrorWrapsCause(t *testing.T) {
	cause := errors.New("connection refused")
	err := &gitpulse.Error{Code: gitpulse.EUNAVAILABLE, Message: "read secret", Err: cause}
	if got, want := err.Error(), "read secret: connection refused"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(err, cause): got false, want true")
	}
	if got, want := gitpulse.Errorf(gitpulse.EINVALID, "bad %d", 1).Error(), "bad 1"; got != want {
		t.Errorf("Errorf(...).Error(): got %q, want %q", got, want)
	}
}

func TestParseScheduleEvent(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`, `[{"task":"sync","source":"gitpulse.schedule"}]`, `"sync"`, `{}`, `not json`,
		`{"task":"sync"}`, `{"task":"token-check","source":"gitpulse.schedule"}`, `{"task":"sync","source":"aws.events"}`,
		`{"task":"sync","source":"gitpulse.schedule","extra":1}`, `{"task":"sync","source":"gitpulse.schedule"}{}`, `{"task":1}`} {
		_, err := gitpulse.ParseScheduleEvent([]byte(raw), "sync")
		if gitpulse.ErrorCode(err) != gitpulse.EINVALID || !strings.HasPrefix(gitpulse.ErrorMessage(err), "event: ") {
			t.Errorf("ParseScheduleEvent(%s): got %v, want an EINVALID error naming the event", raw, err)
		}
	}
	if _, err := gitpulse.ParseScheduleEvent([]byte(` {"task":"sync","source":"gitpulse.schedule"} `), "sync"); err != nil {
		t.Errorf("got %v, want the schedule's own input accepted", err)
	}
}
