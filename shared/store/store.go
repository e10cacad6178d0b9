// Package store keeps synced GitLab data in DynamoDB (the data table, a
// pk/sk single-table design). Items are upserts by natural key, so writing
// the same GitLab object twice leaves one item:
//
//	COURSES                 COURSE#<group id>              course record
//	COURSES                 PLAN#<group id>                the course's plan in flight (sync now coalesces on it)
//	COURSE#<id>             STATE                          scheduler cursors
//	COURSE#<id>             TEAM#<team id>                 team
//	COURSE#<id>             PROJECT#<project id>           project record
//	PROJECT#<id>            MEMBER#<user id>               member
//	PROJECT#<id>            COMMIT#<sha>                   commit
//	PROJECT#<id>            CDAY#<day>                     the commits authored that UTC day, by SHA (sync's commit days)
//	PROJECT#<id>            CSUM#<day>                     that day's commits grouped by author (what the aggregate reads)
//	PROJECT#<id>            MR#<iid>                       merge request
//	PROJECT#<id>            NOTE#<mr iid>#<note id>        note on a merge request
//	PROJECT#<id>            ISSUE#<iid>                    issue
//	PROJECT#<id>            PIPELINE#<id>                  pipeline
//	PROJECT#<id>            STATE                          the project's sync cursors and status
//	PROJECT#<id>            STATS                          project aggregate
//	PROJECT#<id>            STATS#<person key>             per-person aggregate
//	PROJECT#<id>            INFO                           project record, aggregate and when sync last wrote
//	COURSE#<id>             VERSION                        when sync last wrote anything of the course
//	COURSE#<id>             TEAM#<team id>#PROJECT#<id>    a team's project summary (the teams listing)
//	COURSE#<id>             STUDENT#<name>#<key>#<project> a student's aggregate in one project (the students listing, by name)
//	COURSE#<id>             UNRESOLVED#<e-mail>#<project>  a commit identity no member matches (the identities listing)
//	COURSE#<id>             WORK#<team id>#<project>       a team's students, weeks and review pairs in one project (team routes)
//	COURSE#<id>             STAFF                          the course group's members (staff, never students)
//	IDMAP#<course id>       IDENTITY#<e-mail>              an identity mapped to a member by an administrator
//	IDMAP#<course id>       VERSION                        when a mapping last changed
//	HOOK#<project id>       PENDING                        webhook marker: what events said changed, while its task is pending (sync.ClaimHook)
//	COURSES                 HOOKSECRET#<sha256 hex>        a course's webhook secret, by its hash (api hooks)
//	COURSES                 HOOKS#<group id>               a course's webhook registration (api hooks)
//	TOKENS                  TOKEN#<name>                   the token check's last report of a token
//
// Commits, merge requests, issues and pipelines also carry "at" (see At)
// for the by_time index: newest first, bounded by time.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DB is the DynamoDB calls the store makes.
type DB interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Store is the data table.
type Store struct {
	DB    DB
	Table string
}

// Key helpers.
func CoursePK(id int64) string  { return "COURSE#" + strconv.FormatInt(id, 10) }
func ProjectPK(id int64) string { return "PROJECT#" + strconv.FormatInt(id, 10) }
func ProjectSK(id int64) string { return "PROJECT#" + strconv.FormatInt(id, 10) }
func CourseSK(id int64) string  { return "COURSE#" + strconv.FormatInt(id, 10) }

// Item is one item to write: its keys, a kind, and the value's attributes.
// At, when set (see At), puts the item in the by_time index.
type Item struct {
	PK, SK string
	Kind   string
	At     string
	Value  any
	// IfChanged makes a Writer compare the item with the stored one (by
	// content hash) and write it only when it differs or is missing.
	IfChanged bool
	// Unhashed names attributes left out of the comparison: a time stamp
	// set on every write, which then moves only when the rest changed.
	Unhashed []string
}

func (it Item) marshal() (map[string]ddbtypes.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(it.Value)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", it.PK, it.SK, err)
	}
	m["pk"] = &ddbtypes.AttributeValueMemberS{Value: it.PK}
	m["sk"] = &ddbtypes.AttributeValueMemberS{Value: it.SK}
	m["kind"] = &ddbtypes.AttributeValueMemberS{Value: it.Kind}
	if it.At != "" {
		m["at"] = &ddbtypes.AttributeValueMemberS{Value: it.At}
	}
	m[hashAttr] = &ddbtypes.AttributeValueMemberS{Value: contentHash(m, it.Unhashed)}
	return m, nil
}

// ErrNotFound is returned by Get when the item does not exist.
var ErrNotFound = errors.New("item not found")

// Get reads one item into v.
func (s Store) Get(ctx context.Context, pk, sk string, v any) error {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		return fmt.Errorf("read %s %s: %w", pk, sk, err)
	}
	if out.Item == nil {
		return ErrNotFound
	}
	return attributevalue.UnmarshalMap(out.Item, v)
}

// maxBatchGet is BatchGetItem's largest batch of keys.
const maxBatchGet = 100

// GetMany reads the items of partition pk with the sort keys sks (any
// number; 100 a BatchGetItem, consistent reads), calling fn for each one
// found, in no particular order. Keys DynamoDB leaves unprocessed (a
// throttle) are asked again with a growing pause until ctx ends.
func (s Store) GetMany(ctx context.Context, pk string, sks []string, fn func(sk string, item map[string]ddbtypes.AttributeValue) error) error {
	for start := 0; start < len(sks); start += maxBatchGet {
		keys := make([]map[string]ddbtypes.AttributeValue, 0, maxBatchGet)
		for _, sk := range sks[start:min(start+maxBatchGet, len(sks))] {
			keys = append(keys, map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk}})
		}
		if err := s.batchGet(ctx, ddbtypes.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(true)}, nil, func(item map[string]ddbtypes.AttributeValue) error {
			sk, _ := item["sk"].(*ddbtypes.AttributeValueMemberS)
			if sk == nil {
				return nil
			}
			return fn(sk.Value, item)
		}); err != nil {
			return fmt.Errorf("read %d items of %s: %w", len(keys), pk, err)
		}
	}
	return nil
}

// batchGet makes one BatchGetItem of the table and asks again for the
// keys DynamoDB leaves unprocessed (a throttle), with a growing pause
// until ctx ends, calling fn for each item returned; sent, when set,
// counts the requests.
func (s Store) batchGet(ctx context.Context, ka ddbtypes.KeysAndAttributes, sent *int, fn func(item map[string]ddbtypes.AttributeValue) error) error {
	req := map[string]ddbtypes.KeysAndAttributes{s.Table: ka}
	for attempt := 0; len(req) > 0; attempt++ {
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if sent != nil {
			*sent++
		}
		if err != nil {
			return err
		}
		for _, item := range out.Responses[s.Table] {
			if err := fn(item); err != nil {
				return err
			}
		}
		req = out.UnprocessedKeys
		if len(req) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Delete removes one item; deleting an absent item is not an error.
func (s Store) Delete(ctx context.Context, pk, sk string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table),
		Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", pk, sk, err)
	}
	return nil
}

// Put writes one item at once (for small state items outside a batch).
func (s Store) Put(ctx context.Context, it Item) error {
	m, err := it.marshal()
	if err != nil {
		return err
	}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: m}); err != nil {
		return fmt.Errorf("write %s %s: %w", it.PK, it.SK, err)
	}
	return nil
}

// Each calls fn for every item of partition pk whose sort key begins with
// prefix, in sort-key order, a page at a time (memory stays bounded).
func (s Store) Each(ctx context.Context, pk, prefix string, fn func(sk string, item map[string]ddbtypes.AttributeValue) error) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	}
	if prefix != "" { // DynamoDB refuses begins_with on an empty string
		in.KeyConditionExpression = aws.String("pk = :pk AND begins_with(sk, :p)")
		in.ExpressionAttributeValues[":p"] = &ddbtypes.AttributeValueMemberS{Value: prefix}
	}
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s %s*: %w", pk, prefix, err)
		}
		for _, item := range out.Items {
			sk := item["sk"].(*ddbtypes.AttributeValueMemberS).Value
			if err := fn(sk, item); err != nil {
				return err
			}
		}
	}
	return nil
}

// EachAfter calls fn for every item of partition pk whose sort key sorts
// after `after` ("" for the whole partition), in sort-key order, a page
// (up to 1 MB) at a time. After each page, more reports whether to read
// on. It returns the last sort key read and whether the partition was read
// to its end, so that a caller short of time can resume from there.
// limit, when positive, caps a page's items (smaller steps).
func (s Store) EachAfter(ctx context.Context, pk, after string, limit int32, fn func(sk string, item map[string]ddbtypes.AttributeValue) error, more func() bool) (last string, done bool, err error) {
	return s.EachBetween(ctx, pk, after, "", limit, fn, more)
}

// EachBetween is EachAfter for the sort keys after `after` and before
// `before` ("" for no bound).
func (s Store) EachBetween(ctx context.Context, pk, after, before string, limit int32, fn func(sk string, item map[string]ddbtypes.AttributeValue) error, more func() bool) (last string, done bool, err error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	}
	switch {
	case after != "" && before != "":
		// BETWEEN is inclusive: the bounds themselves are skipped below.
		in.KeyConditionExpression = aws.String("pk = :pk AND sk BETWEEN :after AND :before")
		in.ExpressionAttributeValues[":after"] = &ddbtypes.AttributeValueMemberS{Value: after}
		in.ExpressionAttributeValues[":before"] = &ddbtypes.AttributeValueMemberS{Value: before}
	case after != "":
		in.KeyConditionExpression = aws.String("pk = :pk AND sk > :after")
		in.ExpressionAttributeValues[":after"] = &ddbtypes.AttributeValueMemberS{Value: after}
	case before != "":
		in.KeyConditionExpression = aws.String("pk = :pk AND sk < :before")
		in.ExpressionAttributeValues[":before"] = &ddbtypes.AttributeValueMemberS{Value: before}
	}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	last = after
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return last, false, fmt.Errorf("query %s after %q: %w", pk, after, err)
		}
		for _, item := range out.Items {
			sk := item["sk"].(*ddbtypes.AttributeValueMemberS).Value
			if sk == after || (before != "" && sk >= before) {
				continue
			}
			if err := fn(sk, item); err != nil {
				return last, false, err
			}
			last = sk
		}
		if p.HasMorePages() && !more() {
			return last, false, nil
		}
	}
	return last, true, nil
}

// All decodes every item of pk with the sort-key prefix into a slice.
func All[T any](ctx context.Context, s Store, pk, prefix string) ([]T, error) {
	var out []T
	err := s.Each(ctx, pk, prefix, func(_ string, item map[string]ddbtypes.AttributeValue) error {
		var v T
		if err := attributevalue.UnmarshalMap(item, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
