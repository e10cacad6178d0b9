package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// ByTime is the data table's global secondary index on pk and "at": items with a
// time (commits, merge requests, issues, pipelines) carry at =
// "<KIND>#<fixed-width UTC time>#<id>", so one partition's items of a kind
// can be read newest first and bounded by time.
const ByTime = "by_time"

// At is the by_time sort key of an item of kind prefix at time t.
func At(prefix string, t time.Time, id string) string {
	return prefix + "#" + AtTime(t) + "#" + id
}

// AtTime is t as the fixed-width UTC text At uses, so that text order is
// time order.
func AtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// PageQuery is one page of one listing: exactly one DynamoDB Query.
type PageQuery struct {
	// Listing names the listing (route and filters); a cursor made for one
	// listing is refused by another.
	Listing string
	PK      string
	// Prefix bounds the sort key (begins_with), or, with a time range, the
	// by_time index: From and To are "<prefix>#<AtTime>" bounds.
	Prefix   string
	From, To *time.Time // by_time index, inclusive bounds
	UseTime  bool       // read by_time (newest first) even without bounds
	Filter   string     // FilterExpression on the page's items
	Names    map[string]string
	Values   map[string]ddbtypes.AttributeValue
	Limit    int32
	Cursor   string
}

// Page is one page of items and the cursor of the next, empty at the end.
type Page struct {
	Items []map[string]ddbtypes.AttributeValue
	Next  string
}

// ErrCursor is a malformed cursor, or one made for another listing.
var ErrCursor = gitpulse.Errorf(gitpulse.EINVALID, "cursor: not a cursor of this listing (use next_cursor from the previous page of the same request)")

type cursor struct {
	L string            `json:"l"`
	K map[string]string `json:"k"`
}

// fingerprint is a short hash of a listing's identity.
func fingerprint(listing string) string {
	sum := sha256.Sum256([]byte(listing))
	return hex.EncodeToString(sum[:8])
}

// EncodeCursor makes the opaque cursor that resumes listing after key.
func EncodeCursor(listing string, key map[string]ddbtypes.AttributeValue) string {
	c := cursor{L: fingerprint(listing), K: map[string]string{}}
	for k, v := range key {
		if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
			c.K[k] = s.Value
		}
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the start key a cursor holds, checking it belongs
// to listing and keys partition pk.
func DecodeCursor(listing, pk, raw string) (map[string]ddbtypes.AttributeValue, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(raw) > 2048 {
		return nil, ErrCursor
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.L != fingerprint(listing) || c.K["pk"] != pk || c.K["sk"] == "" {
		return nil, ErrCursor
	}
	key := map[string]ddbtypes.AttributeValue{}
	for k, v := range c.K {
		switch k {
		case "pk", "sk", "at":
			key[k] = &ddbtypes.AttributeValueMemberS{Value: v}
		default:
			return nil, ErrCursor
		}
	}
	return key, nil
}

// emptyRange tells whether the time range holds no instant (To before
// From): such a page is empty without a Query (DynamoDB refuses a BETWEEN
// whose bounds are out of order).
func (q PageQuery) emptyRange() bool {
	return q.From != nil && q.To != nil && q.To.Before(*q.From)
}

// Page reads one page with one Query. A filter may leave a page shorter
// than Limit while Next is still set: DynamoDB applies Limit before the
// filter.
//
// So a filtered page reads on, up to maxFilterReads Queries in all, until
// it holds Limit items or the listing ends: an empty page that ends the
// listing has no cursor. It may still hold fewer than Limit items with
// Next set when the filter matched little of what those reads held.
func (s Store) Page(ctx context.Context, q PageQuery) (Page, error) {
	if q.emptyRange() {
		return Page{}, nil
	}
	in, err := s.pageInput(q)
	if err != nil {
		return Page{}, err
	}
	var items []map[string]ddbtypes.AttributeValue
	var lek map[string]ddbtypes.AttributeValue
	for reads := 0; ; reads++ {
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return Page{}, fmt.Errorf("query %s %s: %w", q.PK, q.Prefix, err)
		}
		items, lek = append(items, out.Items...), out.LastEvaluatedKey
		if q.Filter == "" || len(lek) == 0 || len(items) >= int(q.Limit) || reads+1 >= maxFilterReads {
			break
		}
		in.ExclusiveStartKey, in.Limit = lek, aws.Int32(max(q.Limit, filterReadLimit))
	}
	p := Page{Items: items}
	if len(items) > int(q.Limit) {
		p.Items = items[:q.Limit]
		last := p.Items[len(p.Items)-1]
		key := map[string]ddbtypes.AttributeValue{"pk": last["pk"], "sk": last["sk"]}
		if in.IndexName != nil {
			key["at"] = last["at"]
		}
		p.Next = EncodeCursor(q.Listing, key)
	} else if len(lek) > 0 {
		p.Next = EncodeCursor(q.Listing, lek)
	}
	return p, nil
}

// maxFilterReads bounds the Queries of one filtered page, and
// filterReadLimit is how many items each read after the first evaluates.
const (
	maxFilterReads  = 4
	filterReadLimit = 500
)

// GroupPage reads one page of at most limit groups of consecutive items
// (a team and its projects, a student's per-project rows). It reads up to
// perGroup items per group with one Query and cuts the page at a group
// boundary, so a group never straddles two pages; only a group larger
// than the read costs further Queries (at most maxGroupReads in all).
func (s Store) GroupPage(ctx context.Context, q PageQuery, limit, perGroup int, group func(sk string) string) (Page, error) {
	if q.emptyRange() {
		return Page{}, nil
	}
	q.Limit = int32(min(limit*perGroup+1, 1000))
	in, err := s.pageInput(q)
	if err != nil {
		return Page{}, err
	}
	var items []map[string]ddbtypes.AttributeValue
	var lek map[string]ddbtypes.AttributeValue
	for reads := 0; ; reads++ {
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return Page{}, fmt.Errorf("query %s %s: %w", q.PK, q.Prefix, err)
		}
		items, lek = append(items, out.Items...), out.LastEvaluatedKey
		// One group so far and more to read: it may go on.
		if len(lek) == 0 || reads+1 >= maxGroupReads || len(groupEnds(items, group)) > 1 {
			break
		}
		in.ExclusiveStartKey, in.Limit = lek, aws.Int32(1000) // the rest of a large group at once
	}
	ends := groupEnds(items, group)
	cut := len(items)
	switch {
	case len(ends) > limit:
		cut = ends[limit-1]
	case len(lek) > 0 && len(ends) > 1:
		cut = ends[len(ends)-2] // the last group may go on in the next read
	}
	p := Page{Items: items[:cut]}
	if cut < len(items) {
		last := items[cut-1]
		p.Next = EncodeCursor(q.Listing, map[string]ddbtypes.AttributeValue{"pk": last["pk"], "sk": last["sk"]})
	} else if len(lek) > 0 {
		p.Next = EncodeCursor(q.Listing, lek)
	}
	return p, nil
}

// maxGroupReads bounds the Queries of one grouped page.
const maxGroupReads = 3

// groupEnds returns the index after each group's last item.
func groupEnds(items []map[string]ddbtypes.AttributeValue, group func(sk string) string) []int {
	var ends []int
	last := ""
	for i, item := range items {
		g := group(item["sk"].(*ddbtypes.AttributeValueMemberS).Value)
		if i > 0 && g != last {
			ends = append(ends, i)
		}
		last = g
	}
	if len(items) > 0 {
		ends = append(ends, len(items))
	}
	return ends
}

func (s Store) pageInput(q PageQuery) (*dynamodb.QueryInput, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: q.PK}},
		Limit:                     aws.Int32(q.Limit),
	}
	for k, v := range q.Values {
		in.ExpressionAttributeValues[k] = v
	}
	if len(q.Names) > 0 {
		in.ExpressionAttributeNames = q.Names
	}
	if q.Filter != "" {
		in.FilterExpression = aws.String(q.Filter)
	}
	if q.UseTime || q.From != nil || q.To != nil {
		in.IndexName = aws.String(ByTime)
		in.ScanIndexForward = aws.Bool(false)   // newest first
		from, to := q.Prefix+"#", q.Prefix+"#~" // '~' sorts after every time
		if q.From != nil {
			from = q.Prefix + "#" + AtTime(*q.From)
		}
		if q.To != nil {
			to = q.Prefix + "#" + AtTime(*q.To) + "#~"
		}
		in.KeyConditionExpression = aws.String("pk = :pk AND #at BETWEEN :from AND :to")
		if in.ExpressionAttributeNames == nil {
			in.ExpressionAttributeNames = map[string]string{}
		}
		in.ExpressionAttributeNames["#at"] = "at"
		in.ExpressionAttributeValues[":from"] = &ddbtypes.AttributeValueMemberS{Value: from}
		in.ExpressionAttributeValues[":to"] = &ddbtypes.AttributeValueMemberS{Value: to}
	} else if q.Prefix != "" {
		in.KeyConditionExpression = aws.String("pk = :pk AND begins_with(sk, :p)")
		in.ExpressionAttributeValues[":p"] = &ddbtypes.AttributeValueMemberS{Value: q.Prefix}
	} else {
		in.KeyConditionExpression = aws.String("pk = :pk")
	}
	if q.Cursor != "" {
		key, err := DecodeCursor(q.Listing, q.PK, q.Cursor)
		if err != nil {
			return nil, err
		}
		if !insideQuery(in, key, q.Prefix) {
			return nil, ErrCursor
		}
		in.ExclusiveStartKey = key
	}
	return in, nil
}

// insideQuery reports whether a start key lies within the query's key
// condition: DynamoDB refuses one outside it, and a hand-made cursor must
// get a 400, not a failed query.
func insideQuery(in *dynamodb.QueryInput, key map[string]ddbtypes.AttributeValue, prefix string) bool {
	str := func(k string) (string, bool) {
		v, ok := key[k].(*ddbtypes.AttributeValueMemberS)
		if !ok {
			return "", false
		}
		return v.Value, true
	}
	sk, _ := str("sk")
	at, hasAt := str("at")
	if in.IndexName == nil {
		return !hasAt && strings.HasPrefix(sk, prefix)
	}
	from := in.ExpressionAttributeValues[":from"].(*ddbtypes.AttributeValueMemberS).Value
	to := in.ExpressionAttributeValues[":to"].(*ddbtypes.AttributeValueMemberS).Value
	return hasAt && at >= from && at <= to
}
