package api

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The request grammars the OpenAPI document states, each the handler's
// rule verbatim.

// TestIdentitySchemaIsTheHandlers: the document's MapIdentityRequest.email
// is the handler's rule verbatim, so that what a generator working from
// the document (schemathesis) calls valid is exactly what the handler
// takes; a pattern written with Go's and Python's common escapes only.
func TestIdentitySchemaIsTheHandlers(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Pattern   string `json:"pattern"`
					MinLength int    `json:"minLength"`
					MaxLength int    `json:"maxLength"`
					Minimum   int    `json:"minimum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Components.Schemas["MapIdentityRequest"].Properties
	email := props["email"]
	if email.Pattern != identityEmailPattern || email.MinLength != 1 || email.MaxLength != identityEmailMaxLength {
		t.Errorf("document: pattern %q, length %d to %d; handler: %q, 1 to %d", email.Pattern, email.MinLength, email.MaxLength, identityEmailPattern, identityEmailMaxLength)
	}
	if props["user_id"].Minimum != 1 {
		t.Errorf("document: user_id minimum %d, want 1", props["user_id"].Minimum)
	}
	if strings.ContainsAny(identityEmailPattern, `\`) && regexp.MustCompile(`\\[^tnvfr]`).MatchString(identityEmailPattern) {
		t.Errorf("pattern %q uses an escape other than \\t \\n \\v \\f \\r, whose meaning may differ between regex dialects", identityEmailPattern)
	}
	for _, tc := range []struct {
		email string
		ok    bool
	}{
		{"ana@example.edu", true},
		{"ekateryna@laptop.local", true},
		{"Ana.Lopez+git@Example.EDU", true},
		{"root@localhost", true},
		{"name-without-at", true}, // Git records what it was given
		{"ännä@ü.example", true},
		{strings.Repeat("é", 320), true}, // 320 characters, 640 bytes
		{"", false},
		{" ana@example.edu", false},
		{"ana@example.edu\n", false},
		{"ana @example.edu", false},
		{"a#b@example.edu", false},
		{"tab\there", false},
		{strings.Repeat("a", 321), false},
	} {
		if got := identityEmailRE.MatchString(tc.email); got != tc.ok {
			t.Errorf("email %.40q: got valid %t, want %t", tc.email, got, tc.ok)
		}
	}
}

// TestHookURLSchemaIsTheHandlers: RegisterHooksRequest.url in the
// document is the handler's rule verbatim.
func TestHookURLSchemaIsTheHandlers(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Pattern   string `json:"pattern"`
					MaxLength int    `json:"maxLength"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	url := doc.Components.Schemas["RegisterHooksRequest"].Properties["url"]
	if url.Pattern != hookURLPattern || url.MaxLength != hookURLMaxLength {
		t.Errorf("document: pattern %q, maxLength %d; handler: %q, %d", url.Pattern, url.MaxLength, hookURLPattern, hookURLMaxLength)
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://gitpulse.example.edu/api/v1/hooks/gitlab", true},
		{"http://127.0.0.1:8000/api/v1/hooks/gitlab", true},
		{"https://abc.execute-api.eu-central-1.amazonaws.com/prod/api/v1/hooks/gitlab", true},
		{"\u008e", false},
		{"ftp://x/api/v1/hooks/gitlab", false},
		{"https://x/api/v1/hooks/gitlab?x=1", false},
		{"https://x y/api/v1/hooks/gitlab", false},
		{"https://x/api/v1/hooks/gitlab/", false},
		{"https:///api/v1/hooks/gitlab", false},
	} {
		if got := hookURLRE.MatchString(tc.url); got != tc.ok {
			t.Errorf("url %q: got valid %t, want %t", tc.url, got, tc.ok)
		}
	}
}
