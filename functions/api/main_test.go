package main_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

type healthBody struct {
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Checks  map[string]struct {
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		DaysLeft *int   `json:"days_left"`
	} `json:"checks"`
}

// TestHealthUnderEmulator builds the real api bootstrap, runs it under the
// Runtime Interface Emulator against moto server and the GitLab simulator,
// and posts the sample API Gateway events.
func TestHealthUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	gitlab, gitlabURL := testenv.Sim(t)
	expires := time.Now().UTC().AddDate(0, 0, 90)
	tok, err := gitlab.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: gitlabURL})

	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.AWSEnv(t),
		"DATA_TABLE="+res.DataTable,
		"AUDIT_TABLE="+res.AuditTable,
		"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN,
		"HEALTH_CACHE_TTL=0s",
		"AWS_LAMBDA_LOG_LEVEL=DEBUG",
	))
	check := "gitlab:" + secrets.NameFromARN(res.TokenSecretARN)

	t.Run("healthy", func(t *testing.T) {
		resp, body := invokeHTTP(t, fn, "api-health.json")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d, want 200: %s", resp.StatusCode, resp.Body)
		}
		if body.Status != "ok" || body.Checks["dynamodb"].Status != "ok" || body.Checks[check].Status != "ok" {
			t.Fatalf("got %s, want status ok with dynamodb and %s ok", resp.Body, check)
		}
		if d := body.Checks[check].DaysLeft; d == nil || *d < 89 || *d > 90 {
			t.Errorf("got days_left %v, want 89 or 90", d)
		}
		if ct := resp.Headers["Content-Type"]; ct != "application/json" {
			t.Errorf("got Content-Type %q, want application/json", ct)
		}
	})

	t.Run("live", func(t *testing.T) {
		resp, body := invokeHTTP(t, fn, "api-health-live.json")
		if resp.StatusCode != http.StatusOK || body.Status != "ok" {
			t.Fatalf("got %d %s, want 200 ok", resp.StatusCode, resp.Body)
		}
	})

	t.Run("unknown route", func(t *testing.T) {
		resp, body := invokeHTTP(t, fn, "api-not-found.json")
		if resp.StatusCode != http.StatusNotFound || body.Code != "not_found" || body.Message == "" {
			t.Fatalf("got %d %s, want 404 with code not_found and a message", resp.StatusCode, resp.Body)
		}
	})

	t.Run("revoked token", func(t *testing.T) {
		if err := gitlab.RevokeToken(tok.ID); err != nil {
			t.Fatal(err)
		}
		resp, body := invokeHTTP(t, fn, "api-health.json")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got status %d, want 503: %s", resp.StatusCode, resp.Body)
		}
		got := body.Checks[check]
		if got.Status != "fail" || !strings.Contains(got.Reason, "401 token revoked") {
			t.Errorf("got check %+v, want fail with reason naming 401 token revoked", got)
		}
		if !strings.Contains(body.Message, check) || body.Checks["dynamodb"].Status != "ok" {
			t.Errorf("got message %q, want it to name %s (dynamodb still ok)", body.Message, check)
		}
	})

	testenv.AssertNoSecret(t, "function output", fn.Output.String(), tok.Value)
	if !strings.Contains(fn.Output.String(), `"requestId"`) {
		t.Errorf("function logs carry no requestId:\n%s", fn.Output.String())
	}
}

func invokeHTTP(t *testing.T, fn *testenv.Lambda, event string) (events.APIGatewayV2HTTPResponse, healthBody) {
	t.Helper()
	raw := fn.Invoke(t, testenv.ReadEvent(t, event))
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("got %s, want an API Gateway v2 response", raw)
	}
	var body healthBody
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %s", resp.Body)
	}
	return resp, body
}

// TestBadConfigurationFailsAtStart checks that the binary exits at once,
// before serving, with an error naming the malformed variable.
func TestBadConfigurationFailsAtStart(t *testing.T) {
	bin := testenv.BuildBootstrap(t, "api")
	cmd := exec.Command(bin)
	cmd.Env = []string{"GITLAB_TOKENS=not json", "DATA_TABLE=gitpulse-data", "AWS_REGION=eu-central-1"}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the api binary did not exit within 10s on a bad GITLAB_TOKENS")
	}
	if err == nil {
		t.Fatalf("got exit status 0, want failure; output:\n%s", out)
	}
	if !strings.Contains(string(out), "GITLAB_TOKENS: invalid JSON at offset") {
		t.Errorf("got output %s, want an error naming GITLAB_TOKENS and the offset", out)
	}
}
