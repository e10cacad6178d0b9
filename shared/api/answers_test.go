package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// TestNewcomerAnswers: what a first curl meets. GET / and other unknown
// paths are JSON 404s pointing at the API document; a 401 names the
// header's format, with "<" as "<" (not \u003c); a filtered listing that
// matches nothing is one empty page without a cursor.
func TestNewcomerAnswers(t *testing.T) {
	f := newFixture(t)
	for _, target := range []string{"/", "/index.html", "/api/v2/courses"} {
		rec := f.do(t, "", "GET", target, "")
		body := decodeAs[api.ErrorBody](t, rec)
		if rec.Code != http.StatusNotFound || !strings.Contains(body.Message, api.OpenAPIPath) {
			t.Errorf("GET %s: got %d %q, want 404 naming %s", target, rec.Code, body.Message, api.OpenAPIPath)
		}
	}
	rec := f.do(t, "", "GET", "/api/v1/courses", "")
	if raw := rec.Body.String(); rec.Code != http.StatusUnauthorized || !strings.Contains(raw, "Authorization: Bearer <key>") {
		t.Errorf("no key: got %d %s, want 401 naming Authorization: Bearer <key> verbatim", rec.Code, raw)
	}
	pid := f.sc.Course.ProjectIDs[0]
	for _, q := range []string{"author=nobody@example.invalid&limit=5", "author=nobody@example.invalid"} {
		target := fmt.Sprintf("/api/v1/projects/%d/commits?%s", pid, q)
		page := decodeAs[list[gitpulse.Commit]](t, f.do(t, f.reader, "GET", target, ""))
		if len(page.Items) != 0 || page.NextCursor != "" {
			t.Errorf("GET %s: got %d items and cursor %q, want no item and no cursor", target, len(page.Items), page.NextCursor)
		}
	}
}
