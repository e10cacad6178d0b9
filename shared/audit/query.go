package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Querier is the DynamoDB call Query needs.
type Querier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Query selects a token's entries.
type Query struct {
	TokenHash string
	Limit     int       // 1 to 100; 0 means 100
	Cursor    string    // from a previous Page, opaque
	Since     time.Time // inclusive; zero: no lower bound
	Until     time.Time // exclusive; zero: no upper bound
}

// Page is one page of entries, newest first.
type Page struct {
	Items      []Entry `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// MaxLimit is the largest page.
const MaxLimit = 100

type cursor struct {
	Hash string `json:"h"`
	SK   string `json:"s"`
}

// Find returns q's entries newest first. Entries past their TTL are left
// out (DynamoDB deletes them lazily). Malformed input (hash, limit, cursor,
// time range) is an EINVALID error naming the field.
func Find(ctx context.Context, db Querier, table string, q Query, now time.Time) (Page, error) {
	if err := CheckHash(q.TokenHash); err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = MaxLimit
	}
	if limit < 1 || limit > MaxLimit {
		return Page{}, gitpulse.Errorf(gitpulse.EINVALID, "limit must be between 1 and %d, got %d", MaxLimit, q.Limit)
	}
	// An empty range (until not after since) holds nothing; no cursor is
	// one it returned.
	empty := !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until)
	low, high := "0", "9"
	if !q.Since.IsZero() {
		low = q.Since.UTC().Format(sortKeyLayout)
	}
	if !q.Until.IsZero() {
		high = q.Until.UTC().Format(sortKeyLayout)
	}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("token_hash = :h AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":h":  &ddbtypes.AttributeValueMemberS{Value: q.TokenHash},
			":lo": &ddbtypes.AttributeValueMemberS{Value: low},
			":hi": &ddbtypes.AttributeValueMemberS{Value: high},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit + 1)),
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		// The start key must lie in this query's time range, or DynamoDB
		// refuses the query: a cursor of another range is the client's
		// mistake.
		if err != nil || empty || c.Hash != q.TokenHash || c.SK < low || c.SK > high {
			return Page{}, gitpulse.Errorf(gitpulse.EINVALID, "cursor is not one this query returned")
		}
		in.ExclusiveStartKey = map[string]ddbtypes.AttributeValue{
			"token_hash": &ddbtypes.AttributeValueMemberS{Value: c.Hash},
			"sk":         &ddbtypes.AttributeValueMemberS{Value: c.SK},
		}
	}
	if empty {
		return Page{Items: []Entry{}}, nil // and no Query: DynamoDB refuses a BETWEEN out of order
	}
	var page Page
	nowUnix := now.Unix()
	for {
		out, err := db.Query(ctx, in)
		if err != nil {
			return Page{}, &gitpulse.Error{Code: gitpulse.EUNAVAILABLE, Message: "audit query failed", Err: err}
		}
		var items []Entry
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return Page{}, fmt.Errorf("decode audit items: %w", err)
		}
		for _, e := range items {
			if e.ExpiresAt != 0 && e.ExpiresAt <= nowUnix {
				continue
			}
			if len(page.Items) == limit {
				// There is at least one more: the cursor resumes after
				// the last item returned.
				last := page.Items[limit-1]
				page.NextCursor = encodeCursor(cursor{Hash: last.TokenHash, SK: last.SortKey})
				return page, nil
			}
			page.Items = append(page.Items, e)
		}
		if out.LastEvaluatedKey == nil {
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if len(s) > 2048 {
		return c, errors.New("longer than 2048 characters")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	err = json.Unmarshal(b, &c)
	return c, err
}
