package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The wire counter sits below the SDK's retries: a write DynamoDB refuses
// once with a retryable error and then takes counts twice, as AWS bills
// it, and matches what the server received.
func TestWireCounterCountsRetries(t *testing.T) {
	var received, refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if refused.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	wire := &wireCounter{next: http.DefaultTransport}
	db := dynamodb.New(dynamodb.Options{
		Region: "eu-central-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  &http.Client{Transport: wire},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	before := wire.snapshot()
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"),
		Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}}})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	_, _ = db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}}})

	got := dbCounts{Wire: wireSince(before, wire.snapshot())}
	if got.Wire["PutItem"] != 2 {
		t.Errorf("PutItem attempts: got %d, want 2 (one refused, one retried)", got.Wire["PutItem"])
	}
	if got.Wire["GetItem"] != 1 {
		t.Errorf("GetItem attempts: got %d, want 1", got.Wire["GetItem"])
	}
	if got.writeRequests() != 2 {
		t.Errorf("write requests: got %d, want 2 (GetItem is no write)", got.writeRequests())
	}
	if got.wireTotal() != received.Load() {
		t.Errorf("requests on the wire: got %d, the server received %d", got.wireTotal(), received.Load())
	}
}
