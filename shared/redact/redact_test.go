package redact_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/redact"
)

func TestString(t *testing.T) {
	redact.AddPrefix("mycorp-pat-")
	redact.Register("s3cr3t-value-of-a-loaded-token")
	cases := []struct{ in, want string }{
		{"no route for GET /api/v1/gpk_AbC-d_e0123456789", "no route for GET /api/v1/[redacted]"},
		{"glpat-abcdefghij0123456789 and gldt-xyz12345", "[redacted] and [redacted]"},
		{"routable glpat-abc.01.def1234", "routable [redacted]"},
		{"custom mycorp-pat-0123456789", "custom [redacted]"},
		{"x=s3cr3t-value-of-a-loaded-token;", "x=[redacted];"},
		{"the glpat- prefix is the default", "the glpat- prefix is the default"},
		{"author=ada&keyset=1", "author=ada&keyset=1"},
	}
	for _, tc := range cases {
		if got := redact.String(tc.in); got != tc.want {
			t.Errorf("String(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEchoCutsShort(t *testing.T) {
	got := redact.Echo(strings.Repeat("é", 100))
	if len(got) > redact.EchoLimit+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "é") {
		t.Errorf("got %q (%d bytes), want at most %d bytes of whole runes and an ellipsis", got, len(got), redact.EchoLimit)
	}
}

func TestURL(t *testing.T) {
	cases := map[string]string{
		"/api/v1/projects/1/commits?author=ada":                     "/api/v1/projects/1/commits?author=ada",
		"/api/v1/courses/%67pk_escapedkey123":                       "/api/v1/courses/[redacted]",
		"/api/v1/x?cursor=glpat-0123456789abcdef&private_token=abc": "/api/v1/x?cursor=[redacted]",
		"/api/v1/x?%67lpat-0123456789abcdef=1":                      "/api/v1/x?[redacted]=1",
	}
	for in, want := range cases {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := redact.URL(u); got != want {
			t.Errorf("URL(%s): got %s, want %s", in, got, want)
		}
	}
	long, _ := url.Parse("/api/v1/" + strings.Repeat("a", 100<<10))
	if got := redact.URL(long); len(got) > redact.PathLimit+len("…") {
		t.Errorf("got a %d-byte endpoint for a 100 KB path, want at most %d", len(got), redact.PathLimit)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := redact.Writer(&buf)
	line := `{"msg":"x","path":"/api/v1/gpk_0123456789abcdef"}` + "\n"
	n, err := w.Write([]byte(line))
	if err != nil || n != len(line) {
		t.Fatalf("got %d, %v; want %d, nil", n, err, len(line))
	}
	if got := buf.String(); got != `{"msg":"x","path":"/api/v1/[redacted]"}`+"\n" {
		t.Errorf("got %s, want the key redacted", got)
	}
}

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"author": false, "keyset": false, "monkey": false, "token_hash": false, "access_token": true,
		"private_token": true, "api_key": true, "X-Auth": true, "client_secret": true, "Password": true,
	} {
		if got := redact.SecretName(name); got != want {
			t.Errorf("SecretName(%q): got %v, want %v", name, got, want)
		}
	}
}
