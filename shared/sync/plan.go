package sync

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

	"github.com/gitpulse/gitpulse/shared/store"
)

// A course has at most one plan in flight. Whoever queues a plan task (the
// API's sync now, a course added) first claims the course's marker
// COURSES / PLAN#<id> with a conditional put; a claim that finds a live
// marker queues nothing and names the plan already queued. The worker
// releases the marker once the plan ran (or found the course gone); a
// failed plan keeps it while SQS redelivers the task. A marker older than
// PlanMaxAge no longer counts, so a lost message or a task in the
// dead-letter queue blocks sync now for at most that long.

// PlanMaxAge is how long a plan marker holds. A plan takes seconds to
// minutes; SQS retries a failed one every 12 minutes (the queue's
// visibility timeout).
const PlanMaxAge = 15 * time.Minute

// PlanSK is the sort key of course id's plan marker in the COURSES
// partition (beside the course records, which are COURSE#<id>).
func PlanSK(id int64) string { return "PLAN#" + strconv.FormatInt(id, 10) }

// PlanPending is a course's plan marker.
type PlanPending struct {
	CourseID int64     `json:"course_id" dynamodbav:"course_id"`
	QueuedAt time.Time `json:"queued_at" dynamodbav:"queued_at"`
	// QueuedUnix is QueuedAt in epoch seconds, for the condition.
	QueuedUnix int64 `json:"-" dynamodbav:"queued_unix"`
}

// ClaimPlan claims course id's plan marker at now. It returns the marker
// and true when the caller must queue the plan task, or the live marker of
// the plan already queued and false. Safe to call concurrently: DynamoDB's
// condition lets exactly one of concurrent claims win.
func ClaimPlan(ctx context.Context, st store.Store, id int64, now time.Time) (PlanPending, bool, error) {
	now = now.UTC()
	mine := PlanPending{CourseID: id, QueuedAt: now, QueuedUnix: now.Unix()}
	item, err := attributevalue.MarshalMap(mine)
	if err != nil {
		return mine, false, fmt.Errorf("encode plan marker of course %d: %w", id, err)
	}
	item["pk"] = &ddbtypes.AttributeValueMemberS{Value: "COURSES"}
	item["sk"] = &ddbtypes.AttributeValueMemberS{Value: PlanSK(id)}
	item["kind"] = &ddbtypes.AttributeValueMemberS{Value: "plan_pending"}
	_, err = st.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(st.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk) OR queued_unix < :stale"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":stale": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(-PlanMaxAge).Unix(), 10)},
		},
	})
	var held *ddbtypes.ConditionalCheckFailedException
	switch {
	case err == nil:
		return mine, true, nil
	case errors.As(err, &held):
		var live PlanPending
		if gerr := st.Get(ctx, "COURSES", PlanSK(id), &live); gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
			return mine, false, gerr
		}
		// Released between the put and the read: the plan that held it ran
		// meanwhile, and so does what this caller wanted; report it.
		if live.CourseID == 0 {
			live = PlanPending{CourseID: id, QueuedAt: now}
		}
		return live, false, nil
	default:
		return mine, false, fmt.Errorf("claim the plan of course %d: %w", id, err)
	}
}

// ReleasePlan frees course id's plan marker: it is rewritten as released
// (queued_unix 0, older than any stale bound), a PutItem like the plan's
// own writes, so the worker needs no DeleteItem. Releasing twice is safe,
// so a redelivered plan task may release again.
func ReleasePlan(ctx context.Context, st store.Store, id int64) error {
	return st.Put(ctx, store.Item{PK: "COURSES", SK: PlanSK(id), Kind: "plan_released", Value: PlanPending{CourseID: id}})
}
