package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/store"
)

// kindCheck is one kind of item compared with the simulator's truth.
type kindCheck struct {
	kind, prefix string
	want         func(projectTruth) int
}

var kindChecks = []kindCheck{
	{"members", "MEMBER#", func(p projectTruth) int { return p.members }},
	{"commits", "COMMIT#", func(p projectTruth) int { return p.commits }},
	{"merge requests", "MR#", func(p projectTruth) int { return p.mrs }},
	{"MR notes", "NOTE#", func(p projectTruth) int { return p.notes }},
	{"issues", "ISSUE#", func(p projectTruth) int { return p.issues }},
	{"pipelines", "PIPELINE#", func(p projectTruth) int { return p.pipelines }},
}

// countResult is one kind's stored and true totals.
type countResult struct {
	kind        string
	stored, sim int
	projectsOff int // projects whose count differs
}

// checkCounts counts every project's stored items of each kind (one
// Query of the partition's sort keys per project, not through the counted
// store) and compares them with the simulator's truth. It reports whether
// everything matched.
func checkCounts(ctx context.Context, db *dynamodb.Client, table string, t truth) ([]countResult, bool, error) {
	out := make([]countResult, len(kindChecks))
	for i, k := range kindChecks {
		out[i].kind = k.kind
	}
	ok := true
	for _, pid := range t.order {
		stored, err := countByPrefix(ctx, db, table, store.ProjectPK(int64(pid)))
		if err != nil {
			return nil, false, err
		}
		for i, k := range kindChecks {
			n, want := stored[k.prefix], k.want(t.projects[pid])
			out[i].stored += n
			out[i].sim += want
			if n != want {
				out[i].projectsOff++
				ok = false
			}
		}
	}
	return out, ok, nil
}

// countByPrefix counts the items of partition pk by the kind prefixes of
// their sort keys.
func countByPrefix(ctx context.Context, db *dynamodb.Client, table, pk string) (map[string]int, error) {
	p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ProjectionExpression:      aws.String("sk"),
		ConsistentRead:            aws.Bool(true),
	})
	n := map[string]int{}
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", pk, err)
		}
		for _, item := range out.Items {
			sk, _ := item["sk"].(*ddbtypes.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			for _, k := range kindChecks {
				if strings.HasPrefix(sk.Value, k.prefix) {
					n[k.prefix]++
				}
			}
		}
	}
	return n, nil
}
