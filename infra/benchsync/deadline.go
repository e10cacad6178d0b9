package main

import (
	"context"
	"time"
)

// dynamoDBCall is what one DynamoDB call is charged against a worker
// invocation's deadline when moto's time is not: DynamoDB answers in
// single-digit milliseconds in the function's region.
const dynamoDBCall = 10 * time.Millisecond

// hardDeadline is Lambda's longest invocation: the context is cancelled
// then, whatever the credit.
const hardDeadline = 15 * time.Minute

// motoFreeContext is a worker invocation's context whose deadline moves
// later by the time moto took beyond dynamoDBCall a call, so that the
// worker's own deadline checks (Worker.timeLeft reads ctx.Deadline) see
// the budget a Lambda worker on DynamoDB would have: moto's Query walks
// the whole table and slows down with the machine's load, which made the
// hand-backs, the failed messages and the re-read pages swing from run to
// run. Cancellation still comes from the parent, at hardDeadline.
type motoFreeContext struct {
	context.Context
	deadline time.Time
	credit   func() time.Duration
}

// Deadline is the budget's end plus the credit so far.
func (c motoFreeContext) Deadline() (time.Time, bool) {
	return c.deadline.Add(max(0, c.credit())), true
}

// invocationContext is the context of one worker invocation of budget d.
// With wire (moto's time not charged), its deadline is credited what the
// DynamoDB calls took beyond dynamoDBCall each.
func invocationContext(ctx context.Context, d time.Duration, wire *wireCounter) (context.Context, context.CancelFunc) {
	if wire == nil {
		return context.WithTimeout(ctx, d)
	}
	busy0, calls0 := wire.busyCalls()
	hard, cancel := context.WithTimeout(ctx, max(d, hardDeadline))
	return motoFreeContext{Context: hard, deadline: time.Now().Add(d), credit: func() time.Duration {
		busy, calls := wire.busyCalls()
		return busy - busy0 - time.Duration(calls-calls0)*dynamoDBCall
	}}, cancel
}
