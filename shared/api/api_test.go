package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/health"
)

type fakeChecker struct {
	report health.Report
	calls  int
}

func (f *fakeChecker) Check(context.Context) health.Report {
	f.calls++
	return f.report
}

func serve(t *testing.T, h http.Handler, method, path string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: got Content-Type %q, want application/json", method, path, ct)
	}
	return rec, body
}

func TestRoutes(t *testing.T) {
	ok := &fakeChecker{report: health.Report{Status: health.StatusOK, Checks: map[string]health.Check{"dynamodb": {Status: health.StatusOK}}}}
	failing := &fakeChecker{report: health.Report{Status: health.StatusFail, Checks: map[string]health.Check{
		"dynamodb":       {Status: health.StatusOK},
		"gitlab:primary": {Status: health.StatusFail, Reason: "gitlab token: 401 token expired", Short: "GitLab refuses the token"},
	}}}
	cases := []struct {
		name       string
		checker    *fakeChecker
		method     string
		path       string
		wantStatus int
		wantBody   string // a substring of the JSON body
		wantChecks int    // Check calls made
	}{
		{"health ok", ok, "GET", "/api/v1/health", 200, `"status":"ok"`, 1},
		{"health failing names the check", failing, "GET", "/api/v1/health", 503, `"message":"GitPulse cannot serve: gitlab: GitLab refuses the token"`, 1},
		{"live never checks", failing, "GET", "/api/v1/health/live", 200, `"status":"ok"`, 0},
		{"unknown route", ok, "GET", "/api/v1/nope", 404, `"code":"not_found"`, 0},
		{"outside the API", ok, "GET", "/", 404, `"code":"not_found"`, 0},
		{"wrong method", ok, "POST", "/api/v1/health", 405, `"code":"method_not_allowed"`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.checker.calls = 0
			h := api.New(api.Deps{Health: tc.checker})
			rec, _ := serve(t, h, tc.method, tc.path)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			if tc.checker.calls != tc.wantChecks {
				t.Errorf("got %d health checks, want %d", tc.checker.calls, tc.wantChecks)
			}
			if tc.wantStatus == 405 && rec.Header().Get("Allow") != "GET" {
				t.Errorf("got Allow %q, want GET", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestMiddlewareWrapsEveryRoute(t *testing.T) {
	var seen []string
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.URL.Path)
			next.ServeHTTP(w, r)
		})
	}
	h := api.New(api.Deps{Health: &fakeChecker{}, Middleware: []func(http.Handler) http.Handler{mw}})
	serve(t, h, "GET", "/api/v1/health/live")
	serve(t, h, "GET", "/api/v1/missing")
	if len(seen) != 2 {
		t.Errorf("got middleware calls for %v, want both requests", seen)
	}
}
