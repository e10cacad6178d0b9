package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
)

func teamOf(sk string) string {
	team, _, _ := strings.Cut(strings.TrimPrefix(sk, "TEAM#"), "#")
	return team
}

// TestGroupPageKeepsGroupsWhole pages through teams of very different
// sizes one and two at a time: every team comes whole, once, in order.
func TestGroupPageKeepsGroupsWhole(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	st := store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}
	ctx := context.Background()
	sizes := map[string]int{"a": 12, "b": 1, "c": 0, "d": 30, "e": 2}
	w := &store.Writer{Store: st}
	for team, n := range sizes {
		if err := w.Put(ctx, store.Item{PK: "COURSE#1", SK: "TEAM#" + team, Kind: "team", Value: map[string]string{"t": team}}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := w.Put(ctx, store.Item{PK: "COURSE#1", SK: fmt.Sprintf("TEAM#%s#PROJECT#%d", team, i), Kind: "project_summary", Value: map[string]string{"t": team}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 2} {
		var order []string
		got := map[string]int{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("limit %d: more than 10 pages", limit)
			}
			p, err := st.GroupPage(ctx, store.PageQuery{Listing: "teams", PK: "COURSE#1", Prefix: "TEAM#", Cursor: cursor}, limit, 3, teamOf)
			if err != nil {
				t.Fatal(err)
			}
			teams := map[string]bool{}
			if len(p.Items) > 0 && strings.Contains(p.Items[0]["sk"].(*ddbtypes.AttributeValueMemberS).Value, "#PROJECT#") {
				t.Errorf("limit %d: a page starts inside a team: %v", limit, p.Items[0]["sk"])
			}
			for _, item := range p.Items {
				sk := item["sk"].(*ddbtypes.AttributeValueMemberS).Value
				team := teamOf(sk)
				teams[team] = true
				if !strings.Contains(sk, "#PROJECT#") {
					order = append(order, team)
				} else {
					got[team]++
				}
			}
			if len(teams) > limit {
				t.Errorf("limit %d: got teams %v on one page", limit, teams)
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if strings.Join(order, "") != "abcde" {
			t.Errorf("limit %d: got teams %v, want a to e once each", limit, order)
		}
		for team, n := range sizes {
			if got[team] != n {
				t.Errorf("limit %d: team %s: got %d projects, want %d", limit, team, got[team], n)
			}
		}
	}
}

// TestPageRefusesCursorsOutsideTheQuery: a cursor of the right listing
// whose key lies outside the query (another prefix, an index key on a
// table query, a time outside the range) is ErrCursor, never a query
// DynamoDB refuses.
func TestPageRefusesCursorsOutsideTheQuery(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	st := store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		q    store.PageQuery
		key  map[string]ddbtypes.AttributeValue
		ok   bool
	}{
		{"inside", store.PageQuery{Listing: "l", PK: "PROJECT#1", Prefix: "MEMBER#"}, map[string]ddbtypes.AttributeValue{"pk": s("PROJECT#1"), "sk": s("MEMBER#5")}, true},
		{"another prefix", store.PageQuery{Listing: "l", PK: "PROJECT#1", Prefix: "MEMBER#"}, map[string]ddbtypes.AttributeValue{"pk": s("PROJECT#1"), "sk": s("ZZZ")}, false},
		{"index key on a table query", store.PageQuery{Listing: "l", PK: "PROJECT#1", Prefix: "MEMBER#"}, map[string]ddbtypes.AttributeValue{"pk": s("PROJECT#1"), "sk": s("MEMBER#5"), "at": s("x")}, false},
		{"time inside", store.PageQuery{Listing: "l", PK: "PROJECT#1", Prefix: "COMMIT", From: &from}, map[string]ddbtypes.AttributeValue{"pk": s("PROJECT#1"), "sk": s("COMMIT#a"), "at": s(store.At("COMMIT", from.Add(time.Hour), "a"))}, true},
		{"time before since", store.PageQuery{Listing: "l", PK: "PROJECT#1", Prefix: "COMMIT", From: &from}, map[string]ddbtypes.AttributeValue{"pk": s("PROJECT#1"), "sk": s("COMMIT#a"), "at": s(store.At("COMMIT", from.Add(-time.Hour), "a"))}, false},
		{"no time on an index query", store.PageQuery{Listing: "l", PK: "PROJECT#1", Prefix: "COMMIT", UseTime: true}, map[string]ddbtypes.AttributeValue{"pk": s("PROJECT#1"), "sk": s("COMMIT#a")}, false},
	} {
		tc.q.Limit = 10
		tc.q.Cursor = store.EncodeCursor(tc.q.Listing, tc.key)
		_, err := st.Page(context.Background(), tc.q)
		if tc.ok && err != nil {
			t.Errorf("%s: got %v, want the page", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, store.ErrCursor) {
			t.Errorf("%s: got %v, want ErrCursor", tc.name, err)
		}
	}
}
