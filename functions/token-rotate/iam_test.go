package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// TestFailedStepAlertsWithRole: a step that fails (rotation is not enabled
// on the secret) publishes its alert with the function's own role (IAM
// enforced under make test), and the step's error comes back.
func TestFailedStepAlertsWithRole(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	exp := time.Now().UTC().AddDate(0, 0, 10)
	tok, err := s.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "self_rotate"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: url})
	inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "token-rotate"), append(testenv.FunctionEnv(t, "TokenRotateFunction", res),
		"AUDIT_TABLE="+res.AuditTable,
		"ALERT_TOPIC_ARN="+res.AlertTopicARN,
		"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN,
	))
	ev := `{"Step":"createSecret","SecretId":"` + res.TokenSecretARN + `","ClientRequestToken":"6a1e0f3c-2b4d-4e5f-8a9b-0c1d2e3f4a5b"}`
	if out := string(fn.Invoke(t, []byte(ev))); !strings.Contains(out, "errorMessage") {
		t.Fatalf("got %s, want the step's error", out)
	}
	if got := inbox.Drain(t); len(got) != 1 {
		t.Fatalf("got %d alerts, want 1 for the failed step", len(got))
	}
	testenv.AssertNoSecret(t, "function logs", fn.Output.String(), tok.Value)
}
