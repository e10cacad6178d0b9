package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
)

// oneCommit is what the worker's task of one new commit on the largest
// project cost in DynamoDB requests (the scheduler's are not counted).
type oneCommit struct {
	commits       int // the project's commits, the new one included
	reads, writes int64
}

// oneCommit pushes one commit to the largest project's default branch and
// syncs: the figure of issue 14's "a project of 20,000 commits with one
// new commit" (make bench-sync-big, and the same with -commits 24 for
// about 1,000).
func (b *bench) oneCommit(ctx context.Context, course sim.Course, clk *testenv.Shifted) (oneCommit, error) {
	pid := b.largest
	author := 0
	for _, t := range course.Teams {
		for _, p := range t.ProjectIDs {
			if p == pid && len(t.StudentIDs) > 0 {
				author = t.StudentIDs[0]
			}
		}
	}
	if author == 0 && len(course.StudentIDs) > 0 {
		author = course.StudentIDs[0]
	}
	clk.Skip(time.Hour)
	if _, err := b.sim.AddCommit(pid, sim.CommitSpec{AuthorID: author, Title: "one more commit", Additions: 7, Deletions: 2}); err != nil {
		return oneCommit{}, fmt.Errorf("one new commit: %w", err)
	}
	clk.Skip(6 * time.Minute)
	// The worker's calls alone, above the SDK (a Query page is a call).
	calls := &opCounter{DB: b.worker.Store.DB, n: map[string]int64{}}
	b.worker.Store.DB = calls
	ph, err := b.sync(ctx, "Incremental sync of one new commit on the largest project", false)
	b.worker.Store.DB = calls.DB
	if err != nil {
		return oneCommit{}, err
	}
	printPhase(ph, nil, "")
	n := calls.n
	one := oneCommit{commits: len(b.sim.AllCommits(pid)),
		reads:  n["GetItem"] + n["Query"] + n["BatchGetItem"],
		writes: n["BatchWriteItem"] + n["PutItem"] + n["UpdateItem"] + n["DeleteItem"]}
	fmt.Printf("  one new commit on project %d (%d commits), the worker's task: %d DynamoDB read and %d write requests (GetItem %d, Query pages %d, BatchGetItem %d; BatchWriteItem %d, PutItem %d, DeleteItem %d)\n",
		pid, one.commits, one.reads, one.writes, n["GetItem"], n["Query"], n["BatchGetItem"], n["BatchWriteItem"], n["PutItem"], n["DeleteItem"])
	return one, nil
}

// opCounter counts a store's DynamoDB calls by operation.
type opCounter struct {
	store.DB
	mu sync.Mutex
	n  map[string]int64
}

func (c *opCounter) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

func (c *opCounter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.DB.GetItem(ctx, in, o...)
}

func (c *opCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.DB.Query(ctx, in, o...)
}

func (c *opCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.count("BatchGetItem")
	return c.DB.BatchGetItem(ctx, in, o...)
}

func (c *opCounter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.count("BatchWriteItem")
	return c.DB.BatchWriteItem(ctx, in, o...)
}

func (c *opCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.DB.PutItem(ctx, in, o...)
}

func (c *opCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.DB.UpdateItem(ctx, in, o...)
}

func (c *opCounter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.DB.DeleteItem(ctx, in, o...)
}
