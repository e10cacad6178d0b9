package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/apikeys"
)

// TestAdminRoutesWithRole runs the api bootstrap under the emulator with
// its own role (IAM enforced under make test: a call the role does not
// grant fails the test, naming the action) through the calls the other
// tests leave out: keys from the keys secret, adding a course (group
// lookup, course record, a plan queued), syncing it now, reading the audit
// and deleting the course.
func TestAdminRoutesWithRole(t *testing.T) {
	ctx := context.Background()
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "iam/course", Teams: 1, StudentsPerTeam: 1, Weeks: 1})
	other := sc.Sim.GenerateCourse(8, sim.CourseSpec{Path: "iam/other", Teams: 2, StudentsPerTeam: 1, Weeks: 1})
	raw, key, err := apikeys.Generate("iam-admin", apikeys.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	value, _ := json.Marshal(map[string]any{"keys": []apikeys.Key{key}})
	secret, err := secretsmanager.NewFromConfig(sc.AWS).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(testenv.Prefix(t) + "/api-keys"), SecretString: aws.String(string(value))})
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.FunctionEnv(t, "ApiFunction", sc.Resources, testenv.RoleOptions{Secrets: map[string]string{"ApiKeysSecretArn": aws.ToString(secret.ARN)}})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(env,
		"DATA_TABLE="+sc.Resources.DataTable,
		"AUDIT_TABLE="+sc.Resources.AuditTable,
		"SYNC_QUEUE_URL="+sc.Resources.SyncQueueURL,
		"GITLAB_URL="+sc.SimURL,
		"GITLAB_TOKEN="+other.TeacherToken, // the teacher of the course to add
		"API_KEYS_SECRET_ARN="+aws.ToString(secret.ARN),
	))
	call := func(method, path, query, body string, want int) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "ANY /api/{proxy+}", RawPath: path, RawQueryString: query,
			Headers: map[string]string{"authorization": "Bearer " + raw.Reveal(), "content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default", RequestID: "iam-" + method,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.7"}},
			Body: body,
		})
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(fn.Invoke(t, ev), &resp); err != nil || resp.StatusCode != want {
			t.Fatalf("%s %s: got %d %s (%v), want %d", method, path, resp.StatusCode, resp.Body, err, want)
		}
		return resp
	}
	id := strconv.Itoa(other.GroupID)
	call(http.MethodPost, "/api/v1/courses", "", `{"group":"`+other.Path+`"}`, http.StatusCreated)
	call(http.MethodPost, "/api/v1/courses/"+id+"/sync", "", "", http.StatusAccepted)
	call(http.MethodGet, "/api/v1/audit", "token_hash="+raw.Hash(), "", http.StatusOK)
	call(http.MethodDelete, "/api/v1/courses/"+id, "", "", http.StatusNoContent)
}
