package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestFiles checks every embedded file: served with its type and the
// security headers, revalidated with its ETag (304), and the page's
// references all resolve.
func TestFiles(t *testing.T) {
	h := dashboard.New()
	sizes := h.Sizes()
	for _, name := range []string{"index.html", "app.js", "app.css", "favicon.svg"} {
		if sizes[name] == 0 {
			t.Errorf("%s: not embedded", name)
		}
	}
	types := map[string]string{"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
		"app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
	for name, ctype := range types {
		path := dashboard.Prefix + name
		if name == "index.html" {
			path = dashboard.Prefix
		}
		rec := get(t, h, "GET", path)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: got %d, want 200", path, rec.Code)
		}
		hd := rec.Header()
		for k, want := range map[string]string{
			"Content-Type": ctype, "Content-Security-Policy": dashboard.ContentSecurityPolicy, "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY", "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer",
		} {
			if got := hd.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", path, k, got, want)
			}
		}
		if rec.Body.Len() != sizes[name] {
			t.Errorf("GET %s: %d bytes, want %d", path, rec.Body.Len(), sizes[name])
		}
		etag := hd.Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", path)
		}
		if again := get(t, h, "GET", path, "If-None-Match", etag); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with If-None-Match: got %d and %d bytes, want 304 and none", path, again.Code, again.Body.Len())
		}
		if again := get(t, h, "GET", path, "If-None-Match", `"stale"`); again.Code != http.StatusOK {
			t.Errorf("GET %s with a stale If-None-Match: got %d, want 200", path, again.Code)
		}
	}
	page := get(t, h, "GET", dashboard.Prefix).Body.String()
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(page, -1) {
		if strings.HasPrefix(ref[1], "../api/") {
			continue // the API document, served by the API
		}
		if _, ok := sizes[ref[1]]; !ok {
			t.Errorf("index.html refers to %s, which is not embedded", ref[1])
		}
	}
}

// TestNothingFromElsewhere checks that the files load nothing from
// another origin and hold no inline script or style the policy would
// refuse.
func TestNothingFromElsewhere(t *testing.T) {
	h := dashboard.New()
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for name := range h.Sizes() {
		body := get(t, h, "GET", dashboard.Prefix+name).Body.String()
		for _, m := range external.FindAllString(body, -1) {
			if m == "http://www.w3.org" { // the SVG namespace, a name and never fetched
				continue
			}
			t.Errorf("%s names another origin: %s", name, m)
		}
		if strings.HasSuffix(name, ".html") {
			if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`).MatchString(body) {
				t.Errorf("%s has an inline script", name)
			}
			if regexp.MustCompile(`\sstyle=|<style|\son[a-z]+=`).MatchString(body) {
				t.Errorf("%s has an inline style or event handler", name)
			}
		}
		if strings.HasSuffix(name, ".js") && regexp.MustCompile(`localStorage\.setItem|document\.cookie\s*=|innerHTML\s*=|eval\(`).MatchString(body) {
			t.Errorf("%s writes localStorage, a cookie or HTML, or evaluates code", name)
		}
	}
}

func TestNotServed(t *testing.T) {
	h := dashboard.New()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", dashboard.Prefix + "nope.js", http.StatusNotFound},
		{"GET", dashboard.Prefix + "../api/v1/health", http.StatusNotFound},
		{"GET", dashboard.Prefix + "assets/app.js", http.StatusNotFound},
		{"POST", dashboard.Prefix, http.StatusMethodNotAllowed},
		{"DELETE", dashboard.Prefix + "app.js", http.StatusMethodNotAllowed},
	} {
		rec := get(t, h, c.method, c.path)
		if rec.Code != c.want {
			t.Errorf("%s %s: got %d, want %d", c.method, c.path, rec.Code, c.want)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s %s: no Content-Security-Policy", c.method, c.path)
		}
	}
}
