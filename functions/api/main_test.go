package main_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/apikeys"
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
	adminRaw, admin, err := apikeys.Generate("ops", apikeys.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := json.Marshal([]apikeys.Key{admin})

	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.FunctionEnv(t, "ApiFunction", res),
		"DATA_TABLE="+res.DataTable,
		"AUDIT_TABLE="+res.AuditTable,
		"GITLAB_TOKEN_SECRET_ARN="+res.TokenSecretARN,
		"HEALTH_CACHE_TTL=0s",
		"AWS_LAMBDA_LOG_LEVEL=DEBUG",
		"API_KEYS="+string(keys),
	))
	check := "gitlab:" + secrets.NameFromARN(res.TokenSecretARN)
	withKey := func(name string) []byte { return withAuthorization(t, name, adminRaw.Reveal()) }
	// What the open answer must never show (the table and secret names,
	// the account, the expiry).
	hidden := []string{res.DataTable, res.AuditTable, secrets.NameFromARN(res.TokenSecretARN), "arn:", "123456789012", expires.Format(time.DateOnly), "days_left"}

	t.Run("healthy, open view", func(t *testing.T) {
		resp, body := invokeHTTP(t, fn, "api-health.json")
		if resp.StatusCode != http.StatusOK || body.Status != "ok" || body.Checks["gitlab"].Status != "ok" {
			t.Fatalf("got %d %s, want 200 with gitlab ok", resp.StatusCode, resp.Body)
		}
		for _, h := range hidden {
			if strings.Contains(resp.Body, h) {
				t.Errorf("open health answer shows %q: %s", h, resp.Body)
			}
		}
	})

	t.Run("healthy", func(t *testing.T) {
		resp, body := invokeHTTPEvent(t, fn, withKey("api-health.json"))
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
		resp, body := invokeHTTPEvent(t, fn, withKey("api-health.json"))
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got status %d, want 503: %s", resp.StatusCode, resp.Body)
		}
		got := body.Checks[check]
		if got.Status != "failing" || !strings.Contains(got.Reason, "401 token revoked") {
			t.Errorf("got check %+v, want failing with reason naming 401 token revoked", got)
		}
		if !strings.Contains(body.Message, check) || body.Checks["dynamodb"].Status != "ok" {
			t.Errorf("got message %q, want it to name %s (dynamodb still ok)", body.Message, check)
		}
		resp, body = invokeHTTP(t, fn, "api-health.json")
		if resp.StatusCode != http.StatusServiceUnavailable || body.Checks["gitlab"].Reason != "GitLab refuses the token" {
			t.Errorf("open view: got %d %s, want 503 with the short reason", resp.StatusCode, resp.Body)
		}
		for _, h := range hidden {
			if strings.Contains(resp.Body, h) {
				t.Errorf("open failing health answer shows %q: %s", h, resp.Body)
			}
		}
	})

	testenv.AssertNoSecret(t, "function output", fn.Output.String(), tok.Value, adminRaw.Reveal())
	if !strings.Contains(fn.Output.String(), `"requestId"`) {
		t.Errorf("function logs carry no requestId:\n%s", fn.Output.String())
	}
}

// withAuthorization returns the sample event name with an Authorization
// header carrying key.
func withAuthorization(t *testing.T, name, key string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(testenv.ReadEvent(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	ev["headers"].(map[string]any)["authorization"] = "Bearer " + key
	b, _ := json.Marshal(ev)
	return b
}

func invokeHTTP(t *testing.T, fn *testenv.Lambda, event string) (events.APIGatewayV2HTTPResponse, healthBody) {
	t.Helper()
	return invokeHTTPEvent(t, fn, testenv.ReadEvent(t, event))
}

func invokeHTTPEvent(t *testing.T, fn *testenv.Lambda, event []byte) (events.APIGatewayV2HTTPResponse, healthBody) {
	t.Helper()
	raw := fn.Invoke(t, event)
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

// TestDataRoutesUnderEmulator serves the data API from the real bootstrap
// under the emulator: a course synced into moto, an API key from API_KEYS,
// and the sample events of the teams and commits listings.
func TestDataRoutesUnderEmulator(t *testing.T) {
	// 20 commits a week per student (the default is 6) keeps the first
	// project well above the page of 20 whatever the hour the test runs at
	// (over 40 at every hour of a week): with the default pace it held 18
	// or 19 commits when started at 12:00 or 18:00 UTC, and CI failed.
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "e2e/course", Teams: 2, StudentsPerTeam: 2, Weeks: 2, CommitsPerStudentWeek: 20})
	raw, key, err := apikeys.Generate("e2e", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := json.Marshal([]apikeys.Key{key})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.FunctionEnv(t, "ApiFunction", sc.Resources),
		"DATA_TABLE="+sc.Resources.DataTable,
		"AUDIT_TABLE="+sc.Resources.AuditTable,
		"SYNC_QUEUE_URL="+sc.Resources.SyncQueueURL,
		"GITLAB_URL="+sc.SimURL,
		"GITLAB_TOKEN="+sc.Course.TeacherToken,
		"API_KEYS="+string(keys),
	))
	event := func(name, apiKey string) []byte {
		ev := string(testenv.ReadEvent(t, name))
		ev = strings.ReplaceAll(ev, "{{API_KEY}}", apiKey)
		ev = strings.ReplaceAll(ev, "{{COURSE_ID}}", strconv.FormatInt(sc.CourseID, 10))
		ev = strings.ReplaceAll(ev, "{{PROJECT_ID}}", strconv.Itoa(sc.Course.ProjectIDs[0]))
		return []byte(ev)
	}
	invoke := func(ev []byte) events.APIGatewayV2HTTPResponse {
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(fn.Invoke(t, ev), &resp); err != nil || resp.StatusCode == 0 {
			t.Fatalf("got %v, want an API Gateway v2 response", err)
		}
		return resp
	}

	resp := invoke(event("api-teams.json", raw.Reveal()))
	var teams struct {
		Items []struct {
			ID       string            `json:"id"`
			Projects []json.RawMessage `json:"projects"`
			Summary  struct {
				Commits int `json:"commits"`
			} `json:"summary"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &teams); err != nil || resp.StatusCode != 200 {
		t.Fatalf("teams: got %d %s, want 200 and a list", resp.StatusCode, resp.Body)
	}
	if len(teams.Items) != 2 || len(teams.Items[0].Projects) != 1 || teams.Items[0].Summary.Commits == 0 {
		t.Errorf("teams: got %s, want 2 teams with a project and commits", resp.Body)
	}
	if resp.Headers[http.CanonicalHeaderKey("ETag")] == "" {
		t.Errorf("teams: got headers %v, want an ETag", resp.Headers)
	}

	resp = invoke(event("api-commits.json", raw.Reveal()))
	var commits struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &commits); err != nil || resp.StatusCode != 200 || len(commits.Items) != 20 || commits.NextCursor == "" {
		t.Errorf("commits: got %d, %d items, next_cursor %q, want 200, 20 commits and a next cursor", resp.StatusCode, len(commits.Items), commits.NextCursor)
	}

	if resp = invoke(event("api-teams.json", "gpk_wrong")); resp.StatusCode != 401 || !strings.Contains(resp.Body, `"code":"unauthorized"`) {
		t.Errorf("wrong key: got %d %s, want 401 unauthorized", resp.StatusCode, resp.Body)
	}
	if resp = invoke(event("api-tokens.json", raw.Reveal())); resp.StatusCode != 403 {
		t.Errorf("reader on tokens: got %d %s, want 403", resp.StatusCode, resp.Body)
	}
	testenv.AssertNoSecret(t, "function output", fn.Output.String(), raw.Reveal(), sc.Course.TeacherToken)
}
