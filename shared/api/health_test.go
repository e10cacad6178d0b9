package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/health"
)

// TestHealthViews: without a key (or with a reader key) the health answer
// names no table, secret, ARN, expiry or error text; an admin key gets the
// whole report; a key that does not authenticate is a 401. Degraded is 200.
func TestHealthViews(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-token-AbC123"
	days := 12
	checked := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	report := func(status, token string) health.Report {
		tok := health.Check{Status: token, ExpiresAt: "2026-12-14", DaysLeft: &days, CheckedAt: &checked, ServedBy: "AWSPENDING"}
		switch token {
		case health.StatusFail:
			tok.Reason = "gitlab token: read secret " + arn + " (AWSCURRENT): Secrets Manager call failed: operation error Secrets Manager: GetSecretValue, https response error StatusCode: 400"
			tok.Short = "the token cannot be read"
		case health.StatusDegraded:
			tok.Reason = "AWSCURRENT's token is refused and reads use AWSPENDING of secret gitpulse/gitlab-token"
			tok.Short = "rotation in progress: reads use the new token"
		}
		return health.Report{Status: status, Checks: map[string]health.Check{
			"dynamodb":                     {Status: health.StatusOK, Tables: []string{"gitpulse-dev-data", "gitpulse-dev-audit"}},
			"gitlab:gitpulse/gitlab-token": tok,
		}}
	}
	rraw, rk, _ := apikeys.Generate("dash", apikeys.RoleReader, time.Now())
	araw, ak, _ := apikeys.Generate("ops", apikeys.RoleAdmin, time.Now())
	secretsShown := []string{"arn:", "gitpulse/gitlab-token", "gitpulse-dev-data", "gitpulse-dev-audit", "2026-12-14", "days_left", "GetSecretValue", "StatusCode", "AWSPENDING", "123456789012"}
	cases := []struct {
		name       string
		report     health.Report
		key        string
		wantStatus int
		full       bool
	}{
		{"healthy, no key", report(health.StatusOK, health.StatusOK), "", 200, false},
		{"degraded, no key", report(health.StatusDegraded, health.StatusDegraded), "", 200, false},
		{"failing, no key", report(health.StatusFail, health.StatusFail), "", 503, false},
		{"failing, reader key", report(health.StatusFail, health.StatusFail), rraw.Reveal(), 503, false},
		{"healthy, admin key", report(health.StatusOK, health.StatusOK), araw.Reveal(), 200, true},
		{"degraded, admin key", report(health.StatusDegraded, health.StatusDegraded), araw.Reveal(), 200, true},
		{"failing, admin key", report(health.StatusFail, health.StatusFail), araw.Reveal(), 503, true},
		{"unknown key", report(health.StatusOK, health.StatusOK), "gpk_" + strings.Repeat("x", 40), 401, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := api.New(api.Deps{Health: &fakeChecker{report: tc.report}, Keys: &apikeys.Authenticator{Source: apikeys.Static{rk, ak}}})
			req := httptest.NewRequest("GET", "/api/v1/health", nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.wantStatus {
				t.Fatalf("got %d %s, want %d", rec.Code, body, tc.wantStatus)
			}
			if tc.wantStatus == 401 {
				return
			}
			if !strings.Contains(body, `"status":"`+tc.report.Status+`"`) {
				t.Errorf("body %s does not carry status %q", body, tc.report.Status)
			}
			if tc.full {
				for _, s := range []string{"gitpulse/gitlab-token", "gitpulse-dev-data", "2026-12-14", "days_left", "AWSPENDING"} {
					if !strings.Contains(body, s) {
						t.Errorf("admin body lacks %q:\n%s", s, body)
					}
				}
			} else {
				for _, s := range secretsShown {
					if strings.Contains(body, s) {
						t.Errorf("public body contains %q:\n%s", s, body)
					}
				}
			}
			if !tc.full && !strings.Contains(body, `"gitlab":{"status":"`+tc.report.Checks["gitlab:gitpulse/gitlab-token"].Status) {
				t.Errorf("public body %s does not name the check gitlab", body)
			}
		})
	}
}
