package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A slow DynamoDB call moves the worker's deadline by what it took beyond
// dynamoDBCall; without the wire counter the deadline is fixed.
func TestInvocationContextCreditsMotoTime(t *testing.T) {
	const slow = 200 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	wire := &wireCounter{next: http.DefaultTransport}
	client := &http.Client{Transport: wire}

	ctx, cancel := invocationContext(context.Background(), time.Minute, wire)
	defer cancel()
	before, _ := ctx.Deadline()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	after, _ := ctx.Deadline()
	if moved := after.Sub(before); moved < slow-dynamoDBCall || moved > 2*slow {
		t.Errorf("deadline moved %s after a %s call, want about %s", moved, slow, slow-dynamoDBCall)
	}
	if ctx.Err() != nil {
		t.Errorf("context: got %v, want live", ctx.Err())
	}

	fixed, cancel2 := invocationContext(context.Background(), time.Minute, nil)
	defer cancel2()
	d0, _ := fixed.Deadline()
	resp, err = client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if d1, _ := fixed.Deadline(); !d1.Equal(d0) {
		t.Errorf("charged deadline moved from %s to %s, want fixed", d0, d1)
	}
}
