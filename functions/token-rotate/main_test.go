package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// TestRotationUnderEmulator drives the real token-rotate bootstrap under
// the Runtime Interface Emulator through the four steps, as Secrets
// Manager would, and checks the secret and GitLab afterwards.
func TestRotationUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	exp := time.Now().UTC().AddDate(0, 0, 10)
	old, err := s.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "read_repository", "self_rotate"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: old.Value, TokenID: old.ID, GitLabURL: url})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "token-rotate"), append(testenv.FunctionEnv(t, "TokenRotateFunction", res),
		"AUDIT_TABLE="+res.AuditTable,
		"ALERT_TOPIC_ARN="+res.AlertTopicARN,
		"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN,
	))

	sm := secretsmanager.NewFromConfig(cfg)
	token := "5f0c2a9e-1b7d-4c3e-9a8f-6d2e1c0b9a87"
	_, err = sm.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId: aws.String(res.TokenSecretARN), ClientRequestToken: aws.String(token),
		RotationLambdaARN: aws.String("arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"),
		RotationRules:     &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil && !strings.Contains(err.Error(), "Resource not found") {
		t.Fatal(err)
	}
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		ev := fmt.Sprintf(`{"Step":%q,"SecretId":%q,"ClientRequestToken":%q}`, step, res.TokenSecretARN, token)
		out := fn.Invoke(t, []byte(ev))
		if strings.Contains(string(out), "errorMessage") {
			t.Fatalf("%s: %s", step, out)
		}
	}
	cur, err := secrets.Store{API: sm}.ReadSecret(context.Background(), res.TokenSecretARN, "", secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Secret.Token == old.Value || status(t, url, cur.Secret.Token) != 200 || status(t, url, old.Value) != 401 {
		t.Fatalf("after the rotation: want a new working token in AWSCURRENT and the old one revoked")
	}
	logs := fn.Output.WaitFor(`"RotationSucceeded":`, 4) // one line per step
	testenv.AssertNoSecret(t, "function output", logs, old.Value, cur.Secret.Token)
	lines, err := metrics.Parse(logs)
	if err != nil {
		t.Fatalf("function output holds invalid EMF: %v", err)
	}
	var steps []string
	for _, l := range metrics.Find(lines, rotation.MetricSucceeded) {
		if v, _ := l.Value(rotation.MetricSucceeded); v != 1 {
			t.Errorf("RotationSucceeded: got %v, want 1 per invocation", v)
		}
		steps = append(steps, fmt.Sprint(l.Fields["Step"]))
	}
	if got, want := strings.Join(steps, " "), "createSecret setSecret testSecret finishSecret"; got != want {
		t.Errorf("RotationSucceeded steps: got %s, want %s", got, want)
	}
	if n := len(metrics.Find(lines, rotation.MetricFailed)); n != 0 {
		t.Errorf("got %d RotationFailed lines, want none", n)
	}

	// A malformed event is refused with a message naming the field.
	out := fn.Invoke(t, []byte(`{"Step":"dropSecret","SecretId":"x","ClientRequestToken":"y"}`))
	var e struct{ ErrorMessage string }
	if json.Unmarshal(out, &e); !strings.Contains(e.ErrorMessage, "Step") {
		t.Errorf("got %s, want an error naming Step", out)
	}
}

func status(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/api/v4/user", nil)
	req.Header.Set("PRIVATE-TOKEN", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFinishFirstIsRefusedUnderEmulator sends finishSecret right after a
// rotation began (AWSPENDING on a version with no value yet) to the real
// bootstrap: it is refused, names the state, and leaves every stage as it
// was, with AWSCURRENT on the working token.
func TestFinishFirstIsRefusedUnderEmulator(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	exp := time.Now().UTC().AddDate(0, 0, 10)
	old, err := s.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "read_repository", "self_rotate"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: old.Value, TokenID: old.ID, GitLabURL: url})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "token-rotate"), append(testenv.FunctionEnv(t, "TokenRotateFunction", res),
		"AUDIT_TABLE="+res.AuditTable,
		"DATA_TABLE="+res.DataTable,
		"ALERT_TOPIC_ARN="+res.AlertTopicARN,
		"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN,
	))
	sm := secretsmanager.NewFromConfig(cfg)
	token, _, err := rotation.Driver{SM: sm, LambdaARN: "arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"}.Begin(context.Background(), res.TokenSecretARN)
	if err != nil {
		t.Fatal(err)
	}
	stages := func() string {
		out, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(res.TokenSecretARN)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(out.VersionIdsToStages)
		return string(b)
	}
	before := stages()
	out := fn.Invoke(t, []byte(fmt.Sprintf(`{"Step":"finishSecret","SecretId":%q,"ClientRequestToken":%q}`, res.TokenSecretARN, token)))
	var e struct{ ErrorMessage string }
	if json.Unmarshal(out, &e); !strings.Contains(e.ErrorMessage, "finishSecret refused") || !strings.Contains(e.ErrorMessage, "holds no new token yet") {
		t.Fatalf("got %s, want finishSecret refused naming the empty version", out)
	}
	if after := stages(); after != before {
		t.Errorf("stages changed: %s -> %s", before, after)
	}
	cur, err := secrets.Store{API: sm}.ReadSecret(context.Background(), res.TokenSecretARN, "", secrets.StageCurrent)
	if err != nil || cur.Secret.Token != old.Value || status(t, url, cur.Secret.Token) != 200 {
		t.Fatalf("after the refused finishSecret: AWSCURRENT read %v, want the old, working token", err)
	}
	logs := fn.Output.WaitFor(`"RotationFailed":`, 1)
	if !strings.Contains(logs, `"message":"rotation step failed"`) {
		t.Errorf("no structured failure line:\n%s", logs)
	}
	testenv.AssertNoSecret(t, "function output", logs, old.Value)
}
