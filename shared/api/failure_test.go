package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/store"
)

// failingDB answers every call with err: DynamoDB throttling and a Lambda
// deadline cannot be produced on demand by moto server.
type failingDB struct {
	store.DB
	err error
}

func (f failingDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, f.err
}

func (f failingDB) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, f.err
}

// TestDependencyFailuresAre503: a throttled table or a request out of time
// is a 503 with Retry-After and a generic message, never a 500 or the AWS
// error text.
func TestDependencyFailuresAre503(t *testing.T) {
	raw, key, err := apikeys.Generate("dash", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, cause := range map[string]error{
		"throttled": &ddbtypes.ProvisionedThroughputExceededException{Message: new(string)},
		"deadline":  context.DeadlineExceeded,
	} {
		h := api.New(api.Deps{Keys: &apikeys.Authenticator{Source: apikeys.Static{key}}, Store: store.Store{DB: failingDB{err: cause}, Table: "t"}})
		for _, path := range []string{"/api/v1/courses", "/api/v1/courses/1/teams", "/api/v1/projects/1/commits"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+raw.Reveal())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(body, `"code":"unavailable"`) {
				t.Errorf("%s %s: got %d %s (Retry-After %q), want 503 unavailable with Retry-After", name, path, rec.Code, body, rec.Header().Get("Retry-After"))
			}
			if strings.Contains(body, "Exception") || strings.Contains(body, "deadline") {
				t.Errorf("%s %s: the answer shows the cause: %s", name, path, body)
			}
		}
	}
}
