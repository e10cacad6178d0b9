package main

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wireCounter is the DynamoDB client's HTTP transport with every attempt
// counted by operation, as it leaves for the wire: it sits below the SDK's
// retry middleware, so a throttled or failed request that the SDK sends
// again counts each time, as AWS bills it. The operation is the name in
// the X-Amz-Target header of DynamoDB's JSON protocol
// ("DynamoDB_20120810.BatchWriteItem").
type wireCounter struct {
	next http.RoundTripper

	mu  sync.Mutex
	ops map[string]int64
	// busy is the time in attempts (sent to body closed), calls their
	// number.
	busy, calls atomic.Int64
}

// RoundTrip counts the attempt and sends it.
func (c *wireCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" {
		op = "?"
	}
	c.mu.Lock()
	if c.ops == nil {
		c.ops = map[string]int64{}
	}
	c.ops[op]++
	c.mu.Unlock()
	t0 := time.Now()
	done := func() { c.busy.Add(int64(time.Since(t0))); c.calls.Add(1) }
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		done()
		return resp, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// busyCalls is the time in attempts so far and their number.
func (c *wireCounter) busyCalls() (time.Duration, int64) {
	return time.Duration(c.busy.Load()), c.calls.Load()
}

// snapshot is the attempts so far by operation.
func (c *wireCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ops)
}

// wireSince is the attempts made between two snapshots.
func wireSince(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}
