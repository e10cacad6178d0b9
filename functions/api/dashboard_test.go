package main_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/dashboard"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// TestDashboardUnderEmulator checks that the real bootstrap, through
// the Lambda adapter, serves the dashboard's embedded files byte for byte
// with their headers, and sends a browser at / to /dashboard/.
func TestDashboardUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	gitlab, gitlabURL := testenv.Sim(t)
	expires := time.Now().UTC().AddDate(0, 0, 90)
	tok, err := gitlab.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: gitlabURL})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.FunctionEnv(t, "ApiFunction", res),
		"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable, "GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN))

	invoke := func(path string) (events.APIGatewayV2HTTPResponse, []byte) {
		t.Helper()
		var ev map[string]any
		if err := json.Unmarshal(testenv.ReadEvent(t, "api-dashboard.json"), &ev); err != nil {
			t.Fatal(err)
		}
		ev["rawPath"] = path
		ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = path
		raw, _ := json.Marshal(ev)
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(fn.Invoke(t, raw), &resp); err != nil || resp.StatusCode == 0 {
			t.Fatalf("GET %s: got %v, want an API Gateway v2 response", path, err)
		}
		body := []byte(resp.Body)
		if resp.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				t.Fatalf("GET %s: base64 body: %v", path, err)
			}
		}
		return resp, body
	}
	sizes := dashboard.New().Sizes()
	for path, file := range map[string]string{"/dashboard/": "index.html", "/dashboard/app.js": "app.js", "/dashboard/app.css": "app.css", "/dashboard/favicon.svg": "favicon.svg"} {
		resp, body := invoke(path)
		if resp.StatusCode != http.StatusOK || len(body) != sizes[file] {
			t.Errorf("GET %s: got %d with %d bytes, want 200 with the %d bytes of %s", path, resp.StatusCode, len(body), sizes[file], file)
		}
		h := http.Header{}
		for k, v := range resp.Headers {
			h.Set(k, v)
		}
		if got := h.Get("Content-Security-Policy"); got != dashboard.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", path, got, dashboard.ContentSecurityPolicy)
		}
		if h.Get("ETag") == "" || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v, want an ETag, X-Frame-Options DENY and nosniff", path, resp.Headers)
		}
	}
	if resp, _ := invoke("/"); resp.StatusCode != http.StatusSeeOther || resp.Headers["Location"] != dashboard.Prefix {
		t.Errorf("GET / from a browser: got %d to %q, want 303 to %s", resp.StatusCode, resp.Headers["Location"], dashboard.Prefix)
	}
}
