package sambuild_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/sambuild"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// buildDir returns the folder `sam build` wrote (env names it; `make test`
// runs infra/scripts/sam.sh check first). Outside `make test` the test
// skips; under it (GITPULSE_TEST_REQUIRE) it fails.
func buildDir(t *testing.T, env string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		if os.Getenv("GITPULSE_TEST_REQUIRE") != "" {
			t.Fatalf("%s is not set: make test runs sam build first (infra/scripts/sam.sh check)", env)
		}
		t.Skipf("%s is not set: run `infra/scripts/sam.sh check` and set it to the build folder", env)
	}
	return dir
}

func loadTemplates(t *testing.T, dir string) (src, built *sambuild.Template) {
	t.Helper()
	src, err := sambuild.Load(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	built, err = sambuild.Load(filepath.Join(dir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return src, built
}

// TestSAMBuild checks .aws-sam/build: every function's bootstrap, a Linux
// executable for the architecture the template deploys it on, and a built
// template with the source template's resources.
func TestSAMBuild(t *testing.T) {
	dir := buildDir(t, "GITPULSE_TEST_SAM_BUILD")
	src, built := loadTemplates(t, dir)
	checkBootstraps(t, dir, src, func(id string) string { return src.Architecture(id) })
	for _, d := range sambuild.Differences(src, built) {
		t.Errorf("built template: %s", d)
	}
}

// TestSAMHostBuild checks the second build, for this machine's
// architecture (GOARCH), the one the emulator runs below.
func TestSAMHostBuild(t *testing.T) {
	dir := buildDir(t, "GITPULSE_TEST_SAM_HOST_BUILD")
	src, _ := loadTemplates(t, dir)
	host := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	checkBootstraps(t, dir, src, func(string) string { return host })
}

func checkBootstraps(t *testing.T, dir string, src *sambuild.Template, want func(id string) string) {
	t.Helper()
	fns := src.Functions()
	if len(fns) < 5 {
		t.Fatalf("got %d functions in template.yaml (%v), want at least 5", len(fns), fns)
	}
	for _, id := range fns {
		path := filepath.Join(dir, id, "bootstrap")
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if st.Mode()&0o111 == 0 {
			t.Errorf("%s: bootstrap is not executable (mode %s)", id, st.Mode())
		}
		got, err := sambuild.ELFArchitecture(path)
		if err != nil {
			t.Errorf("%s: %v", id, err)
		} else if got != want(id) {
			t.Errorf("%s: bootstrap built for %s, want %s", id, got, want(id))
		}
	}
}

// TestDifferences shows the comparison catches what a broken build would
// do: a resource lost, one added, a property changed, while SAM's own
// rewrites (CodeUri, SamResourceId, long-form tags) pass.
func TestDifferences(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) *sambuild.Template {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		tpl, err := sambuild.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	src := write("src.yaml", `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile}
    Properties:
      CodeUri: .
      Environment: {Variables: {Q: !GetAtt Queue.QueueName, T: !Ref Table}}
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 60}}
  Table: {Type: AWS::DynamoDB::Table}
`)
	same := write("same.yaml", `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile, SamResourceId: Fn}
    Properties:
      CodeUri: Fn
      Environment: {Variables: {Q: {"Fn::GetAtt": [Queue, QueueName]}, T: {Ref: Table}}}
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: "60"}}
  Table: {Type: AWS::DynamoDB::Table}
`)
	if d := sambuild.Differences(src, same); len(d) != 0 {
		t.Errorf("SAM's rewrites: got differences %v, want none", d)
	}
	broken := write("broken.yaml", `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: Fn, Environment: {Variables: {Q: {"Fn::GetAtt": [Queue, QueueUrl]}, T: {Ref: Table}}}}
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 60}}
  Extra: {Type: AWS::SNS::Topic}
`)
	got := strings.Join(sambuild.Differences(src, broken), "\n")
	for _, want := range []string{"Extra: in the built template only", "Table: missing from the built template", "Fn.Properties.Environment.Variables.Q.Fn::GetAtt: got [Queue QueueUrl], want [Queue QueueName]", "Fn.Metadata: got <nil>"} {
		if !strings.Contains(got, want) {
			t.Errorf("got differences\n%s\nwant one with %q", got, want)
		}
	}
}

// TestSAMArtifactsAnswer runs what `sam build` produced for this machine,
// not the Makefile's bin/, under the Runtime Interface Emulator: the api
// answers its health event, and the token check publishes an alert for a
// revoked token through a recording proxy in front of moto, whose Publish
// request carries the trace header Lambda gives every invocation
// (testenv runs bootstraps behind infra/lambdatrace; without it the header
// is empty, and SNS on LocalStack drops such a publish).
func TestSAMArtifactsAnswer(t *testing.T) {
	dir := buildDir(t, "GITPULSE_TEST_SAM_HOST_BUILD")
	cfg := testenv.AWSConfig(t)
	gitlab, gitlabURL := testenv.Sim(t)
	expires := time.Now().UTC().AddDate(0, 0, 90)
	tok, err := gitlab.AddToken(sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &expires})
	if err != nil {
		t.Fatal(err)
	}
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: gitlabURL})

	t.Run("api", func(t *testing.T) {
		fn := testenv.StartLambda(t, filepath.Join(dir, "ApiFunction", "bootstrap"), append(testenv.AWSEnv(t),
			"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable,
			"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN, "HEALTH_CACHE_TTL=0s"))
		var resp events.APIGatewayV2HTTPResponse
		raw := fn.Invoke(t, testenv.ReadEvent(t, "api-health.json"))
		if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"status":"ok"`) {
			t.Fatalf("got %s, want a 200 health answer with status ok", raw)
		}
	})

	t.Run("token-check", func(t *testing.T) {
		revoked, err := gitlab.AddToken(sim.TokenSpec{Name: "revoked", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &expires})
		if err != nil {
			t.Fatal(err)
		}
		if err := gitlab.RevokeToken(revoked.ID); err != nil {
			t.Fatal(err)
		}
		inbox := testenv.Subscribe(t, cfg, res.AlertTopicARN)
		proxy := newTraceRecorder(t, testenv.AWSEndpoint(t))
		tokens, _ := json.Marshal([]map[string]string{{"name": "revoked", "token": revoked.Value, "url": gitlabURL}})
		env := append(testenv.AWSEnv(t), "AWS_ENDPOINT_URL="+proxy.URL, // the later value wins
			"DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable,
			"ALERT_TOPIC_ARN="+res.AlertTopicARN, "GITLAB_TOKENS="+string(tokens))
		fn := testenv.StartLambda(t, filepath.Join(dir, "TokenCheckFunction", "bootstrap"), env)
		raw := fn.Invoke(t, testenv.ReadEvent(t, "token-check-schedule.json"))
		if !strings.Contains(string(raw), `"alerts_sent":1`) {
			t.Fatalf("got %s, want a summary with alerts_sent 1", raw)
		}
		got := inbox.Drain(t)
		if len(got) != 1 || !strings.Contains(got[0].Subject, "'revoked' was revoked") {
			t.Fatalf("got %d notifications %+v, want the one for the revoked token", len(got), got)
		}
		traces := proxy.publishTraces()
		if len(traces) == 0 {
			t.Fatal("the proxy saw no SNS Publish request")
		}
		lambdaTrace := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$`)
		for _, tr := range traces {
			if !lambdaTrace.MatchString(tr) {
				t.Errorf("SNS Publish carried X-Amzn-Trace-Id %q, want Lambda's form Root=1-…;Parent=…;Sampled=0", tr)
			}
		}
	})
}

// traceRecorder is a reverse proxy to moto that records the
// X-Amzn-Trace-Id of every SNS Publish passing through.
type traceRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	traces []string
}

func newTraceRecorder(t *testing.T, target string) *traceRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &traceRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("Action=Publish")) || strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".Publish") {
			rec.mu.Lock()
			rec.traces = append(rec.traces, r.Header.Get("X-Amzn-Trace-Id"))
			rec.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *traceRecorder) publishTraces() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.traces...)
}
