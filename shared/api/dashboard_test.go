package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/dashboard"
)

// TestDashboardMounted checks where the API serves the dashboard: its
// files under /dashboard/, /dashboard and a browser's / redirected there,
// and / for any other client still the JSON 404.
func TestDashboardMounted(t *testing.T) {
	h := api.New(api.Deps{})
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, c := range []struct {
		method, path, accept string
		status               int
		location, ctype      string
	}{
		{"GET", "/", browser, http.StatusSeeOther, "/dashboard/", ""},
		{"HEAD", "/", "text/html", http.StatusSeeOther, "/dashboard/", ""},
		{"GET", "/", "*/*", http.StatusNotFound, "", "application/json"},
		{"GET", "/", "application/json", http.StatusNotFound, "", "application/json"},
		{"POST", "/", browser, http.StatusNotFound, "", "application/json"},
		{"GET", "/dashboard", "", http.StatusMovedPermanently, "/dashboard/", ""},
		{"GET", "/dashboard/", browser, http.StatusOK, "", "text/html; charset=utf-8"},
		{"GET", "/dashboard/app.js", "*/*", http.StatusOK, "", "text/javascript; charset=utf-8"},
		{"GET", "/dashboards", browser, http.StatusNotFound, "", "application/json"},
		{"GET", "/api/v1/courses", browser, http.StatusUnauthorized, "", "application/json"},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s %s (Accept %q): got %d, want %d", c.method, c.path, c.accept, rec.Code, c.status)
		}
		if got := rec.Header().Get("Location"); got != c.location {
			t.Errorf("%s %s: Location %q, want %q", c.method, c.path, got, c.location)
		}
		if c.ctype != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s: Content-Type %q, want %q", c.method, c.path, rec.Header().Get("Content-Type"), c.ctype)
		}
		if strings.HasPrefix(c.path, dashboard.Prefix) && rec.Header().Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy {
			t.Errorf("%s %s: no Content-Security-Policy", c.method, c.path)
		}
	}
}
