package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/platform"
)

// leakRequest is one request carrying a secret in one position.
type leakRequest struct {
	position string
	method   string
	path     string // unescaped path
	query    string // raw query
	header   map[string]string
	body     string
}

// leakRequests puts secret in every position a client controls: a path
// segment, a query name, a query value (an ordinary filter too), the
// cursor, headers other than Authorization, and the body.
func leakRequests(secret string, projectID int) []leakRequest {
	q := url.QueryEscape(secret)
	return []leakRequest{
		{position: "path segment", method: "GET", path: "/api/v1/courses/" + secret},
		{position: "path segment", method: "GET", path: "/api/v1/" + secret},
		{position: "path segment", method: "DELETE", path: "/api/v1/courses/" + secret + "/sync"},
		{position: "query name", method: "GET", path: "/api/v1/courses", query: q + "=1"},
		{position: "query value", method: "GET", path: fmt.Sprintf("/api/v1/projects/%d/commits", projectID), query: "author=" + q},
		{position: "query value", method: "GET", path: "/api/v1/courses", query: "limit=" + q},
		{position: "cursor", method: "GET", path: "/api/v1/courses", query: "cursor=" + q},
		{position: "header", method: "GET", path: "/api/v1/courses", header: map[string]string{
			"User-Agent": secret, "X-Gitlab-Token": secret, "Cookie": "session=" + secret, "Host": secret}},
		{position: "header", method: "POST", path: "/api/v1/courses", header: map[string]string{"Content-Type": secret}, body: `{"group":"x"}`},
		{position: "body", method: "POST", path: "/api/v1/courses", body: `{"group":"` + secret + `"}`},
		{position: "body", method: "POST", path: "/api/v1/courses", body: `{"` + secret + `":1}`},
		{position: "body", method: "POST", path: "/api/v1/courses", body: secret},
	}
}

// leakPlaces is what a run left behind: response bodies (with their
// headers), log lines, metric lines (EMF, "_aws") and audit items.
type leakPlaces struct {
	responses []string
	logs      []string
	metrics   []string
	audit     []string
}

func (p *leakPlaces) addOutput(out string) {
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
		case strings.Contains(line, `"_aws"`):
			p.metrics = append(p.metrics, line)
		default:
			p.logs = append(p.logs, line)
		}
	}
}

// check counts every secret in every place and reports the grid.
func (p *leakPlaces) check(t *testing.T, run string, positions int, secrets map[string]string) {
	t.Helper()
	places := map[string][]string{"response": p.responses, "log line": p.logs, "metric line": p.metrics, "audit item": p.audit}
	for _, place := range []string{"response", "log line", "metric line", "audit item"} {
		texts := places[place]
		for name, s := range secrets {
			n := 0
			for _, text := range texts {
				n += strings.Count(text, s)
			}
			if n != 0 {
				t.Errorf("%s: %s occurs %d times in %d %ss, want 0", run, name, n, len(texts), place)
			}
		}
	}
	t.Logf("%s: %d positions x %d secrets x 4 places (%d responses, %d log lines, %d metric lines, %d audit items) checked",
		run, positions, len(secrets), len(p.responses), len(p.logs), len(p.metrics), len(p.audit))
	if len(p.responses) == 0 || len(p.logs) == 0 || len(p.audit) == 0 {
		t.Errorf("%s: got %d responses, %d log lines, %d audit items; want some of each (else nothing was searched)", run, len(p.responses), len(p.logs), len(p.audit))
	}
}

func scanAudit(t *testing.T, cfg aws.Config, table string) []string {
	t.Helper()
	out, err := dynamodb.NewFromConfig(cfg).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("scan audit: %v", err)
	}
	var items []string
	for _, item := range out.Items {
		b, _ := json.Marshal(item)
		items = append(items, string(b))
	}
	return items
}

// TestNoSecretLeaks sends a known API key, a known GitLab token and a
// loaded token of a custom prefix in every position a client controls,
// through the API as platform builds it (in-process) and through the real
// bootstrap under the emulator, then searches every response, log line,
// metric line and audit item: no occurrence is allowed.
func TestNoSecretLeaks(t *testing.T) {
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "leak/course", Teams: 1, StudentsPerTeam: 1, Weeks: 1})
	raw, key, err := apikeys.Generate("operator", apikeys.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	custom := "corp7-" + hex.EncodeToString(b) // a loaded token of a prefix nobody configured
	keys, _ := json.Marshal([]apikeys.Key{key})
	tokens, _ := json.Marshal([]map[string]string{
		{"name": "teacher", "token": sc.Course.TeacherToken, "url": sc.SimURL},
		{"name": "backup", "token": custom, "url": sc.SimURL},
	})
	env := append(testenv.AWSEnv(t),
		"DATA_TABLE="+sc.Resources.DataTable,
		"AUDIT_TABLE="+sc.Resources.AuditTable,
		"SYNC_QUEUE_URL="+sc.Resources.SyncQueueURL,
		"GITLAB_TOKENS="+string(tokens),
		"API_KEYS="+string(keys),
		"AWS_LAMBDA_LOG_LEVEL=DEBUG",
	)
	secrets := map[string]string{"the API key": raw.Reveal(), "the GitLab token": sc.Course.TeacherToken, "the custom-prefix token": custom}
	var reqs []leakRequest
	for _, s := range secrets {
		reqs = append(reqs, leakRequests(s, sc.Course.ProjectIDs[0])...)
	}
	long := leakRequest{position: "long path", method: "GET", path: "/api/v1/" + strings.Repeat("a", 100<<10)}
	reqs = append(reqs, long)
	const positions = 6

	t.Run("handler", func(t *testing.T) {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		var out testenv.Output
		p, err := platform.NewTo(context.Background(), &out, "api", config.EnvDataTable)
		if err != nil {
			t.Fatal(err)
		}
		h, err := p.API()
		if err != nil {
			t.Fatal(err)
		}
		var places leakPlaces
		for _, lr := range reqs {
			target := (&url.URL{Path: lr.path, RawQuery: lr.query}).RequestURI()
			var body io.Reader
			if lr.body != "" {
				body = strings.NewReader(lr.body)
			}
			req := httptest.NewRequest(lr.method, target, body)
			req.Header.Set("Authorization", "Bearer "+raw.Reveal())
			for k, v := range lr.header {
				req.Header.Set(k, v)
				if k == "Host" {
					req.Host = v
				}
			}
			batch := p.Metrics.Begin()
			ctx := metrics.NewContext(req.Context(), batch)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req.WithContext(ctx))
			p.Flush(ctx)
			if err := batch.Flush(); err != nil {
				t.Fatal(err)
			}
			if rec.Code >= 500 {
				t.Errorf("%s %s (%s): got %d, want no 5xx", lr.method, clipped(target), lr.position, rec.Code)
			}
			hdr, _ := json.Marshal(rec.Header())
			places.responses = append(places.responses, rec.Body.String()+string(hdr))
			if lr.position == "long path" && rec.Body.Len() > 1024 {
				t.Errorf("long path: got a %d-byte body, want the path cut short", rec.Body.Len())
			}
		}
		places.addOutput(out.String())
		places.audit = scanAudit(t, sc.AWS, sc.Resources.AuditTable)
		checkLong(t, places)
		places.check(t, "handler", positions, secrets)
	})

	t.Run("emulator", func(t *testing.T) {
		fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), env)
		var places leakPlaces
		for _, lr := range reqs {
			ev := apiEvent(lr, raw.Reveal())
			var resp events.APIGatewayV2HTTPResponse
			got := fn.Invoke(t, ev)
			if err := json.Unmarshal(got, &resp); err != nil || resp.StatusCode == 0 {
				t.Fatalf("%s %s: got %s, want an API Gateway v2 response", lr.method, clipped(lr.path), clipped(string(got)))
			}
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s (%s): got %d, want no 5xx", lr.method, clipped(lr.path), lr.position, resp.StatusCode)
			}
			places.responses = append(places.responses, string(got))
		}
		places.addOutput(fn.Output.WaitFor(`"msg":"request"`, len(reqs)))
		places.audit = scanAudit(t, sc.AWS, sc.Resources.AuditTable)
		checkLong(t, places)
		places.check(t, "emulator", positions, secrets)
	})
}

// checkLong checks that the 100 KB path was stored and logged cut short.
func checkLong(t *testing.T, p leakPlaces) {
	t.Helper()
	long := strings.Repeat("a", 4096)
	for _, place := range [][]string{p.logs, p.audit, p.responses} {
		for _, text := range place {
			if strings.Contains(text, long) {
				t.Errorf("got %s…, want a 100 KB path cut short everywhere", clipped(text))
			}
		}
	}
}

func apiEvent(lr leakRequest, key string) []byte {
	headers := map[string]string{"authorization": "Bearer " + key, "host": "abc123.execute-api.eu-central-1.amazonaws.com"}
	for k, v := range lr.header {
		headers[strings.ToLower(k)] = v
	}
	if lr.body != "" && headers["content-type"] == "" {
		headers["content-type"] = "application/json"
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /api/{proxy+}",
		RawPath: lr.path, RawQueryString: lr.query, Headers: headers, Body: lr.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "ANY /api/{proxy+}", Stage: "$default", RequestID: "leak",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: lr.method, Path: lr.path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: headers["user-agent"]},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

func clipped(s string) string { return s[:min(len(s), 80)] }
