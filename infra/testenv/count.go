package testenv

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Written is how much a run left behind: the items of the data and audit
// tables and the messages of the sync queue. Tests compare two of them to
// show that a refused event wrote nothing.
type Written struct {
	DataItems, AuditItems, QueuedTasks int
}

// CountWritten counts what res holds now.
func CountWritten(tb testing.TB, cfg aws.Config, dataTable, auditTable, queueURL string) Written {
	tb.Helper()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	count := func(table string) int {
		n := 0
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), Select: ddbtypes.SelectCount})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				tb.Fatalf("count %s: %v", table, err)
			}
			n += int(out.Count)
		}
		return n
	}
	w := Written{DataItems: count(dataTable), AuditItems: count(auditTable)}
	if queueURL != "" {
		out, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			tb.Fatalf("count the queue: %v", err)
		}
		for _, v := range out.Attributes {
			n, _ := strconv.Atoi(v)
			w.QueuedTasks += n
		}
	}
	return w
}
