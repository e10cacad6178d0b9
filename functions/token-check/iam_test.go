package main_test

import (
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// TestSecretTokenWithRole checks a token kept in Secrets Manager, as in
// AWS, with the function's own role (IAM enforced under make test): the
// check reads the secret and its rotation settings.
func TestSecretTokenWithRole(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	exp := time.Now().UTC().AddDate(0, 0, 60)
	tok, err := s.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: url})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "token-check"), append(testenv.FunctionEnv(t, "TokenCheckFunction", res),
		"DATA_TABLE="+res.DataTable,
		"AUDIT_TABLE="+res.AuditTable,
		"ALERT_TOPIC_ARN="+res.AlertTopicARN,
		"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN,
	))
	sum := invoke(t, fn, testenv.ReadEvent(t, "token-check-schedule.json"))
	if sum.Checked != 1 || sum.Tokens[0].DaysLeft == nil || *sum.Tokens[0].DaysLeft < 59 {
		t.Errorf("got %d checked, first %+v; want the secret's token with about 60 days left", sum.Checked, sum.Tokens)
	}
	testenv.AssertNoSecret(t, "function logs", fn.Output.String(), tok.Value)
}
