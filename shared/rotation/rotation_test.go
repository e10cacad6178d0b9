package rotation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/alerts"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// failingSM wraps the real (moto) client and fails chosen calls once: a
// failure at a precise moment, which moto cannot produce.
type failingSM struct {
	*secretsmanager.Client
	mu    sync.Mutex
	fail  map[string]int // operation -> remaining failures
	lose  map[string]int // operation -> remaining calls whose answer is lost (and retried)
	crash *crash
}

// lost reports whether this call of op loses its answer: the call is made,
// its answer never arrives, and the SDK sends it again.
func (f *failingSM) lost(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lose[op] > 0 {
		f.lose[op]--
		return true
	}
	return false
}

// loseNext makes the next n calls of op lose their answer once each.
func (f *failingSM) loseNext(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lose == nil {
		f.lose = map[string]int{}
	}
	f.lose[op] = n
}

func (f *failingSM) take(op string) error {
	if f.crash.isDead() {
		return errCrashed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[op] > 0 {
		f.fail[op]--
		return fmt.Errorf("injected %s failure", op)
	}
	return nil
}

func (f *failingSM) failNext(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = n
}

func (f *failingSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := f.take("GetSecretValue"); err != nil {
		return nil, err
	}
	return f.Client.GetSecretValue(ctx, in, opts...)
}

func (f *failingSM) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if err := f.take("PutSecretValue"); err != nil {
		return nil, err
	}
	return f.Client.PutSecretValue(ctx, in, opts...)
}

func (f *failingSM) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	if err := f.take("DescribeSecret"); err != nil {
		return nil, err
	}
	return f.Client.DescribeSecret(ctx, in, opts...)
}

func (f *failingSM) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	if err := f.take("UpdateSecretVersionStage"); err != nil {
		return nil, err
	}
	if f.lost("UpdateSecretVersionStage") {
		// Made, its answer lost: the SDK's retry is what the caller sees.
		if _, err := f.Client.UpdateSecretVersionStage(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return f.Client.UpdateSecretVersionStage(ctx, in, opts...)
}

type fixture struct {
	t        *testing.T
	strategy string
	sim      *sim.Sim
	url      string
	sm       *failingSM
	rotator  *rotation.Rotator
	inbox    *testenv.Inbox
	logs     *bytes.Buffer
	arn      string
	old      sim.Token
	values   []string // every token value, for the no-leak checks
	spec     sim.TokenSpec
	res      provision.Resources
	crash    *crash
}

type kind string

func newFixture(t *testing.T, k kind, strategy string) *fixture {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	f := &fixture{t: t, strategy: strategy, sim: s, url: url, logs: &bytes.Buffer{}, crash: &crash{}}
	f.sm = &failingSM{Client: secretsmanager.NewFromConfig(cfg), fail: map[string]int{}, crash: f.crash}
	exp := time.Now().UTC().AddDate(0, 0, 20)
	read := []string{"read_api", "read_repository"}
	owner := s.AddUser("teacher", "Teacher", false)
	spec := sim.TokenSpec{Name: "gitpulse", Scopes: read, ExpiresAt: &exp}
	secret := secrets.TokenSecret{GitLabURL: url}
	switch k {
	case "group":
		g := s.AddGroup("kpi", 0)
		if err := s.AddMember("group", g.ID, owner.ID, 50); err != nil {
			t.Fatal(err)
		}
		spec.Kind, spec.GroupID, spec.AccessLevel = sim.KindGroup, g.ID, 20
		secret.GroupID = g.ID
	case "project":
		g := s.AddGroup("kpi", 0)
		p := s.AddProject(g.ID, "team-1")
		if err := s.AddMember("project", p.ID, owner.ID, 50); err != nil {
			t.Fatal(err)
		}
		spec.Kind, spec.ProjectID, spec.AccessLevel = sim.KindProject, p.ID, 20
		secret.ProjectID = p.ID
	default:
		student := s.AddUser("ci-user", "CI", false)
		spec.UserID = student.ID
		if strategy == secrets.StrategyAdmin {
			if err := s.SetAdmin(owner.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strategy == secrets.StrategySelf {
		spec.Scopes = append(spec.Scopes, "self_rotate")
	}
	old, err := s.AddToken(spec)
	if err != nil {
		t.Fatal(err)
	}
	f.old, f.spec = old, spec
	f.values = append(f.values, old.Value)
	secret.Token, secret.TokenID = old.Value, old.ID
	secret.Rotation = &secrets.RotationConfig{Strategy: strategy, DaysToExpiry: 60}
	res := testenv.Provision(t, cfg, nil)
	f.res = res
	if strategy == secrets.StrategyAdmin {
		adminTok, err := s.AddToken(sim.TokenSpec{UserID: owner.ID, Name: "owner", Scopes: []string{"api"}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		f.values = append(f.values, adminTok.Value)
		secret.Rotation.AdminSecretARN = f.createSecret(res.Names.TokenSecret+"-admin", secrets.TokenSecret{Token: adminTok.Value, TokenID: adminTok.ID, GitLabURL: url})
	}
	f.arn = f.createSecret(res.Names.TokenSecret, secret)
	f.inbox = testenv.Subscribe(t, cfg, res.AlertTopicARN)
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: f.logs}, nil))
	f.rotator = &rotation.Rotator{
		SM: f.sm,
		GitLab: func(tok gitpulse.Token, retries bool) (*gitlab.Client, error) {
			max := 3
			if !retries {
				max = -1
			}
			return gitlab.New(gitlab.Options{Provider: gitlab.StaticToken(tok), MaxRetries: max, NoFallback: true, RequestsPerSecond: 1000, Logger: logger,
				Interceptors: []gl.Interceptor{f.crash.intercept}})
		},
		Alerter: &alerts.RotationAlerter{SNS: sns.NewFromConfig(cfg), TopicARN: res.AlertTopicARN},
		Logger:  logger,
		Now:     time.Now,
	}
	return f
}

func (f *fixture) createSecret(name string, v secrets.TokenSecret) string {
	f.t.Helper()
	b, _ := json.Marshal(v)
	out, err := f.sm.Client.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// start begins a rotation as Secrets Manager does: rotation enabled and
// a new version labelled AWSPENDING. moto cannot invoke a function, so its
// RotateSecret reports the (absent) function; the version is made anyway.
func (f *fixture) start() string {
	f.t.Helper()
	token := uuid()
	_, err := f.sm.Client.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{
		SecretId: aws.String(f.arn), ClientRequestToken: aws.String(token),
		RotationLambdaARN: aws.String("arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"),
		RotationRules:     &smRules,
	})
	if err != nil && !strings.Contains(err.Error(), "function") && !strings.Contains(err.Error(), "Resource not found") {
		f.t.Fatalf("start rotation: %v", err)
	}
	if stages := f.stages()[token]; !slices.Contains(stages, secrets.StagePending) {
		f.t.Fatalf("rotation version %s has stages %v, want AWSPENDING", token, stages)
	}
	return token
}

func (f *fixture) step(step, token string) error {
	return f.rotator.Handle(context.Background(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: f.arn, ClientRequestToken: token})
}

func (f *fixture) rotate(token string) {
	f.t.Helper()
	for _, st := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		if err := f.step(st, token); err != nil {
			f.t.Fatalf("%s: %v", st, err)
		}
	}
}

func (f *fixture) stages() map[string][]string {
	f.t.Helper()
	out, err := f.sm.Client.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(f.arn)})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.VersionIdsToStages
}

func (f *fixture) value(stage string) secrets.TokenSecret {
	f.t.Helper()
	v, err := secrets.Store{API: f.sm.Client}.ReadSecret(context.Background(), f.arn, "", stage)
	if err != nil {
		f.t.Fatalf("read %s: %v", stage, err)
	}
	return v.Secret
}

// status returns the HTTP status GitLab gives the token on GET /user.
func (f *fixture) status(token string) int {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.url+"/api/v4/personal_access_tokens/self", nil)
	req.Header.Set("PRIVATE-TOKEN", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// calls counts the rotate and create requests the simulator received.
func (f *fixture) calls() (rotates, creates int) {
	for key, n := range f.sim.RequestCounts() {
		if !strings.HasPrefix(key, "POST ") {
			continue
		}
		switch {
		case strings.HasSuffix(key, "/rotate"):
			rotates += n
		case strings.HasSuffix(key, "/access_tokens") || strings.HasSuffix(key, "/personal_access_tokens"):
			creates += n
		}
	}
	return
}

// checkRotated asserts the end state of one successful rotation.
func (f *fixture) checkRotated(strategy string, wantCalls int) {
	f.t.Helper()
	cur, prev := f.value(secrets.StageCurrent), f.value(secrets.StagePrevious)
	f.values = append(f.values, cur.Token)
	if cur.Token == f.old.Value || prev.Token != f.old.Value {
		f.t.Fatalf("got AWSCURRENT old=%t and AWSPREVIOUS old=%t, want a new AWSCURRENT and the old token in AWSPREVIOUS", cur.Token == f.old.Value, prev.Token == f.old.Value)
	}
	if got := f.status(cur.Token); got != 200 {
		f.t.Errorf("new token: got %d from GitLab, want 200", got)
	}
	if got := f.status(f.old.Value); got != 401 {
		f.t.Errorf("old token: got %d from GitLab, want 401 (revoked)", got)
	}
	if cur.TokenID == f.old.ID || cur.TokenID == 0 {
		f.t.Errorf("got tokenId %d, want the new token's id (old %d)", cur.TokenID, f.old.ID)
	}
	want := time.Now().UTC().AddDate(0, 0, 60).Format(time.DateOnly)
	if cur.ExpiresAt != want {
		f.t.Errorf("got expiresAt %s, want %s", cur.ExpiresAt, want)
	}
	for id, st := range f.stages() {
		if slices.Contains(st, secrets.StagePending) {
			f.t.Errorf("version %s still holds AWSPENDING", id)
		}
	}
	rotates, creates := f.calls()
	got := rotates
	if strategy == secrets.StrategyAdmin {
		got = creates
		if rotates != 0 {
			f.t.Errorf("admin strategy made %d rotate calls, want 0", rotates)
		}
	}
	if got != wantCalls {
		f.t.Errorf("got %d rotate/create calls at the simulator, want %d", got, wantCalls)
	}
	testenv.AssertNoSecret(f.t, "rotation logs", f.logs.String(), f.values...)
}

var smRules = smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}

func TestFullRotation(t *testing.T) {
	for _, k := range []kind{"personal", "group", "project"} {
		for _, strategy := range []string{secrets.StrategySelf, secrets.StrategyAdmin} {
			t.Run(string(k)+"/"+strategy, func(t *testing.T) {
				f := newFixture(t, k, strategy)
				f.rotate(f.start())
				f.checkRotated(strategy, 1)
				if got := f.inbox.Drain(t); len(got) != 0 {
					t.Errorf("a successful rotation published %d alerts, want none", len(got))
				}
			})
		}
	}
}

func TestEveryStepTwice(t *testing.T) {
	for _, strategy := range []string{secrets.StrategySelf, secrets.StrategyAdmin} {
		t.Run(strategy, func(t *testing.T) {
			f := newFixture(t, "group", strategy)
			token := f.start()
			for _, st := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
				for i := range 2 {
					if err := f.step(st, token); err != nil {
						t.Fatalf("%s (run %d): %v", st, i+1, err)
					}
				}
			}
			f.checkRotated(strategy, 1)
		})
	}
}

// TestStageMovesSurviveALostAnswer loses the answer of finishSecret's
// two label moves (AWSCURRENT onto the new version, AWSPENDING off it), as
// a loaded Secrets Manager endpoint did in CI: the SDK's retry then finds
// the label already moved and fails with InvalidParameterException. The
// step must see that the move was made and finish the rotation.
func TestStageMovesSurviveALostAnswer(t *testing.T) {
	for _, strategy := range []string{secrets.StrategySelf, secrets.StrategyAdmin} {
		t.Run(strategy, func(t *testing.T) {
			f := newFixture(t, "group", strategy)
			token := f.start()
			for _, st := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest} {
				if err := f.step(st, token); err != nil {
					t.Fatalf("%s: %v", st, err)
				}
			}
			f.sm.loseNext("UpdateSecretVersionStage", 2)
			if err := f.step(rotation.StepFinish, token); err != nil {
				t.Fatalf("finishSecret with both label moves' answers lost: got %v, want success", err)
			}
			f.checkRotated(strategy, 1)
		})
	}
}

// TestRestartAfterFailure fails each step once at a precise point, then
// lets Secrets Manager run the whole rotation again with the same token.
func TestRestartAfterFailure(t *testing.T) {
	cases := []struct {
		step   string
		inject func(f *fixture)
	}{
		{rotation.StepCreate, func(f *fixture) {
			if f.strategy == secrets.StrategyAdmin {
				// Reading the old token's settings, with retries on.
				f.sim.InjectFault(sim.Fault{PathPrefix: fmt.Sprintf("/api/v4/projects/%d/access_tokens/%d", f.old.ProjectID, f.old.ID), Status: 503, Count: 4})
				return
			}
			// The check of the old token before rotating, retries off.
			f.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/personal_access_tokens/self", Status: 502, Count: 1})
		}},
		{rotation.StepSet, func(f *fixture) { f.sm.failNext("GetSecretValue", 1) }},
		{rotation.StepTest, func(f *fixture) {
			f.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/personal_access_tokens/self", Status: 503, Count: 4})
		}},
		{rotation.StepFinish, func(f *fixture) { f.sm.failNext("UpdateSecretVersionStage", 1) }},
	}
	for _, strategy := range []string{secrets.StrategySelf, secrets.StrategyAdmin} {
		for _, tc := range cases {
			t.Run(strategy+"/"+tc.step, func(t *testing.T) {
				f := newFixture(t, "project", strategy)
				token := f.start()
				steps := []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish}
				failed := false
				for _, st := range steps {
					if st == tc.step {
						tc.inject(f)
					}
					if err := f.step(st, token); err != nil {
						if st != tc.step {
							t.Fatalf("%s failed, want only %s to fail: %v", st, tc.step, err)
						}
						failed = true
						break
					}
				}
				if !failed {
					t.Fatalf("%s did not fail", tc.step)
				}
				f.rotate(token)
				f.checkRotated(strategy, 1)
			})
		}
	}
}

func TestRotateCallFailure(t *testing.T) {
	for _, fault := range []sim.Fault{{Status: 502, Count: 1}, {Drop: true, Count: 1}} {
		name := "502"
		if fault.Drop {
			name = "dropped connection"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "personal", secrets.StrategySelf)
			token := f.start()
			fault.PathPrefix = "/api/v4/personal_access_tokens/self/rotate"
			f.sim.InjectFault(fault)
			var emf strings.Builder
			batch := (&metrics.Emitter{Namespace: "GitPulse", Function: "token-rotate", W: &emf}).Begin()
			err := f.rotator.Handle(metrics.NewContext(context.Background(), batch),
				events.SecretsManagerSecretRotationEvent{Step: rotation.StepCreate, SecretID: f.arn, ClientRequestToken: token})
			if err == nil {
				t.Fatal("createSecret succeeded, want a failure")
			}
			checkFailedMetric(t, batch, &emf, rotation.StepCreate, f.old.Value)
			if rotates, _ := f.calls(); rotates != 1 {
				t.Errorf("got %d rotate requests, want exactly 1 (no retry)", rotates)
			}
			alertsGot := f.inbox.Drain(t)
			if len(alertsGot) != 1 || !strings.Contains(alertsGot[0].Subject, "rotation of GitLab token") || alertsGot[0].MessageAttributes["severity"].Value != "critical" {
				t.Fatalf("got alerts %+v, want one critical rotation alert", alertsGot)
			}
			if !strings.Contains(alertsGot[0].Message, "What to do:") {
				t.Errorf("alert says nothing about recovery:\n%s", alertsGot[0].Message)
			}
			if !strings.Contains(f.logs.String(), `"msg":"rotation step failed"`) || !strings.Contains(f.logs.String(), `"step":"createSecret"`) {
				t.Errorf("no structured failure line in the log:\n%s", f.logs.String())
			}
			if cur := f.value(secrets.StageCurrent); cur.Token != f.old.Value {
				t.Error("AWSCURRENT changed after a failed createSecret")
			}
		})
	}
}

// checkFailedMetric checks that the batch holds one RotationFailed for
// step, published per step and per function, and no token value.
func checkFailedMetric(t *testing.T, batch *metrics.Batch, emf *strings.Builder, step, token string) {
	t.Helper()
	if err := batch.Flush(); err != nil {
		t.Fatal(err)
	}
	lines, err := metrics.Parse(emf.String())
	if err != nil {
		t.Fatalf("invalid EMF: %v\n%s", err, emf.String())
	}
	failed := metrics.Find(lines, rotation.MetricFailed)
	if len(failed) != 1 {
		t.Fatalf("got %d RotationFailed lines, want 1:\n%s", len(failed), emf.String())
	}
	if v, _ := failed[0].Value(rotation.MetricFailed); v != 1 || failed[0].Fields["Step"] != step {
		t.Errorf("RotationFailed: got %v for step %v, want 1 for %s", v, failed[0].Fields["Step"], step)
	}
	if got := fmt.Sprint(failed[0].AWS.CloudWatchMetrics[0].Dimensions); got != "[[Function Step] [Function]]" {
		t.Errorf("RotationFailed dimensions: got %s, want [[Function Step] [Function]]", got)
	}
	testenv.AssertNoSecret(t, "metrics", emf.String(), token)
}

// TestRevokedTokenIsNotRotated covers a rotate whose answer was lost: the
// old token is revoked; calling rotate with it would revoke the family.
func TestRevokedTokenIsNotRotated(t *testing.T) {
	f := newFixture(t, "personal", secrets.StrategySelf)
	token := f.start()
	if err := f.sim.RevokeToken(f.old.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.step(rotation.StepCreate, token); err == nil || !strings.Contains(err.Error(), "not calling rotate") {
		t.Fatalf("got %v, want a failure that refuses to rotate a revoked token", err)
	}
	if rotates, _ := f.calls(); rotates != 0 {
		t.Errorf("got %d rotate requests, want 0", rotates)
	}
	if got := f.inbox.Drain(t); len(got) != 1 {
		t.Errorf("got %d alerts, want 1", len(got))
	}
}

func TestPendingTokenLackingAScopeFailsTest(t *testing.T) {
	f := newFixture(t, "personal", secrets.StrategySelf)
	token := f.start()
	exp := time.Now().UTC().AddDate(0, 0, 60)
	narrow, err := f.sim.AddToken(sim.TokenSpec{UserID: 0, Name: "narrow", Scopes: []string{"read_api"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	f.values = append(f.values, narrow.Value)
	pending := f.value(secrets.StageCurrent)
	pending.Token, pending.TokenID = narrow.Value, narrow.ID
	pending.Scopes, pending.ExpiresAt = []string{"read_api", "read_repository"}, exp.Format(time.DateOnly)
	b, _ := json.Marshal(pending)
	if _, err := f.sm.Client.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(f.arn), ClientRequestToken: aws.String(token), SecretString: aws.String(string(b)), VersionStages: []string{secrets.StagePending},
	}); err != nil {
		t.Fatal(err)
	}
	err = f.step(rotation.StepTest, token)
	if err == nil || !strings.Contains(err.Error(), "lacks scope read_repository") {
		t.Fatalf("got %v, want testSecret to fail naming read_repository", err)
	}
	if cur := f.value(secrets.StageCurrent); cur.Token != f.old.Value {
		t.Error("AWSCURRENT changed after a failed testSecret")
	}
	testenv.AssertNoSecret(t, "error", err.Error(), f.values...)
}

// TestReadersThroughRotation reads GitLab through the token provider from
// many goroutines while a self rotation runs: no read may fail.
func TestReadersThroughRotation(t *testing.T) {
	f := newFixture(t, "group", secrets.StrategySelf)
	provider := secrets.NewProvider(secrets.Store{API: f.sm.Client}, f.arn, 100*time.Millisecond, time.Now)
	client, err := gitlab.New(gitlab.Options{Provider: provider, RequestsPerSecond: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	var reads, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				api, err := client.API(context.Background())
				if err == nil {
					_, _, err = api.Users.CurrentUser(gl.WithContext(context.Background()))
				}
				reads.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	waitReads := func(n int64) {
		target := reads.Load() + n
		for reads.Load() < target {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitReads(100)
	token := f.start()
	for _, st := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		if err := f.step(st, token); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		waitReads(100)
	}
	time.Sleep(250 * time.Millisecond) // past the provider's cache
	waitReads(100)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("got %d failed reads of %d, want 0 (first: %v)", failures.Load(), reads.Load(), firstErr.Load())
	}
	f.checkRotated(secrets.StrategySelf, 1)
}

// TestMalformedSecretNamesTheField: a malformed AWSCURRENT is repaired
// (AWSCURRENT moves back onto the working token) and the repair alert
// names the bad field, so whoever wrote it can store it again, fixed.
func TestMalformedSecretNamesTheField(t *testing.T) {
	f := newFixture(t, "personal", secrets.StrategySelf)
	token := f.start()
	bad := `{"token":"x","tokenId":1,"gitlabUrl":"` + f.url + `","rotation":{"strategy":"sideways"}}`
	if _, err := f.sm.Client.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(f.arn), SecretString: aws.String(bad), VersionStages: []string{"GITPULSE_BAD"},
	}); err != nil {
		t.Fatal(err)
	}
	var badID, curID string
	for id, st := range f.stages() {
		if slices.Contains(st, "GITPULSE_BAD") {
			badID = id
		}
		if slices.Contains(st, secrets.StageCurrent) {
			curID = id
		}
	}
	if _, err := f.sm.Client.UpdateSecretVersionStage(context.Background(), &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(f.arn), VersionStage: aws.String(secrets.StageCurrent), MoveToVersionId: aws.String(badID), RemoveFromVersionId: aws.String(curID),
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.step(rotation.StepCreate, token); err != nil {
		t.Fatalf("createSecret on a malformed AWSCURRENT: got %v, want a repair and a rotation", err)
	}
	got := f.inbox.Drain(t)
	if len(got) != 1 || got[0].MessageAttributes["event"].Value != rotation.EventRepaired || !strings.Contains(got[0].Message, "rotation.strategy") {
		t.Fatalf("got alerts %+v, want one repair alert naming rotation.strategy", got)
	}
}

func TestMalformedEvent(t *testing.T) {
	r := &rotation.Rotator{Logger: slog.New(slog.DiscardHandler)}
	for _, ev := range []events.SecretsManagerSecretRotationEvent{
		{Step: "deleteSecret", SecretID: "arn", ClientRequestToken: "t"},
		{Step: "createSecret", ClientRequestToken: "t"},
		{Step: "createSecret", SecretID: "arn"},
	} {
		err := r.Handle(context.Background(), ev)
		if gitpulse.ErrorCode(err) != gitpulse.EINVALID || !strings.Contains(err.Error(), "event:") {
			t.Errorf("Handle(%+v): got %v, want an invalid-event error", ev, err)
		}
	}
}
