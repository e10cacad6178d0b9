package main

import (
	"context"
	"maps"
	"sync"

	"github.com/aws/smithy-go/middleware"
)

// calls is DynamoDB calls by operation name ("Query", "GetItem", ...).
type calls map[string]int

// total is the calls of every operation.
func (c calls) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// callCounter counts the DynamoDB calls of one request, or of the whole
// run. It is safe for concurrent use.
type callCounter struct {
	mu sync.Mutex
	n  calls
}

func (c *callCounter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = calls{}
	}
	c.n[op]++
}

// snapshot copies the counts.
func (c *callCounter) snapshot() calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

type counterKey struct{}

// withCounter returns a context whose DynamoDB calls are counted on c.
func withCounter(ctx context.Context, c *callCounter) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

// dbCounter counts every call a DynamoDB client makes, by operation: a
// middleware on the client's stack (dynamodb.Options.APIOptions), so that
// an operation is counted whichever path reaches it (store.DB today has no
// Scan or BatchGetItem; a client type-asserted for more would still be
// seen). A call is counted once, before its retries, on the run's totals
// and on the counter of the request context it was made with, so that
// calls are attributed to their request even when requests run
// concurrently. Calls made without a request's context are counted in
// the totals only (unattributed).
type dbCounter struct {
	all          callCounter
	unattributed callCounter
}

// middleware is the APIOptions entry that counts the calls.
func (d *dbCounter) middleware(stack *middleware.Stack) error {
	op := stack.ID() // the operation name: the SDK names each stack after it
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchAPICountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			d.all.add(op)
			if c, ok := ctx.Value(counterKey{}).(*callCounter); ok {
				c.add(op)
			} else {
				d.unattributed.add(op)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}
