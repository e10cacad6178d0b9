package testenv

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/shared/store"
)

// Calls counts a store's DynamoDB calls by operation, above the SDK (a
// Query page is a call; a retried attempt is not). Safe for concurrent
// use.
type Calls struct {
	store.DB
	mu sync.Mutex
	n  map[string]int
}

// CountCalls wraps db.
func CountCalls(db store.DB) *Calls { return &Calls{DB: db, n: map[string]int{}} }

// Of returns the count of each operation so far.
func (c *Calls) Of() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Reads and Writes are the calls that read and that write.
func (c *Calls) Reads() int {
	n := c.Of()
	return n["GetItem"] + n["Query"] + n["BatchGetItem"]
}

func (c *Calls) Writes() int {
	n := c.Of()
	return n["BatchWriteItem"] + n["PutItem"] + n["UpdateItem"] + n["DeleteItem"]
}

func (c *Calls) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

func (c *Calls) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.DB.GetItem(ctx, in, o...)
}

func (c *Calls) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.DB.Query(ctx, in, o...)
}

func (c *Calls) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.count("BatchGetItem")
	return c.DB.BatchGetItem(ctx, in, o...)
}

func (c *Calls) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.count("BatchWriteItem")
	return c.DB.BatchWriteItem(ctx, in, o...)
}

func (c *Calls) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.DB.PutItem(ctx, in, o...)
}

func (c *Calls) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.DB.UpdateItem(ctx, in, o...)
}

func (c *Calls) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.DB.DeleteItem(ctx, in, o...)
}
