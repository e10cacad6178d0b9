// The webhook marker: how a burst of webhooks for one project queues at
// most two tasks, and how the task learns what the events said changed.

package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/store"
)

// The protocol. Each accepted webhook adds what it says changed to the
// project's marker HOOK#<project id> / PENDING with one UpdateItem (ADD to
// sets and to the counter n, so concurrent events never lose one another),
// and the one call that finds n absent queues the project's hook task:
// while a task is pending, further events only add to the marker. The
// worker reads the marker (n = N), does the work it names, and then
// deletes it on the condition n = N. When events arrived during the work
// (n > N) the delete fails; the marker stays claimed and the worker queues
// the next hook task itself. So a burst of any size queues at most two
// tasks at a time (the one pending and the one that follows), and no
// event's change is dropped: it is either in the marker the task read or
// in the one the next task reads. A marker whose task was lost (a message
// in the dead-letter queue) is claimed again after HookMaxAge.
//
// Redelivery is safe: the task reads the marker again (still there, since
// only success deletes it) and redoes idempotent reads; a task that finds
// no marker (a duplicate of one that finished) does no read.

// HookMaxAge is how long a claimed marker holds before an event claims it
// again (its task is taken to be lost).
const HookMaxAge = 15 * time.Minute

// HookPK is the partition of project id's webhook marker.
func HookPK(id int64) string { return "HOOK#" + strconv.FormatInt(id, 10) }

const hookSK = "PENDING"

// Hook change kinds.
const (
	HookPush         = "push"
	HookMergeRequest = "merge_request"
	HookIssue        = "issue"
	HookPipeline     = "pipeline"
	HookMember       = "member"
)

// HookChange is what one webhook event says changed in a project.
type HookChange struct {
	Kind string
	// MR and Issue name the merge request or issue (0 for none).
	MR, Issue int64
}

// HookMarker is a project's marker as the worker reads it.
type HookMarker struct {
	CourseID int64    `dynamodbav:"course_id"`
	N        int64    `dynamodbav:"n"`
	Kinds    []string `dynamodbav:"kinds,stringset,omitempty"`
	MRs      []int64  `dynamodbav:"mrs,numberset,omitempty"`
	Issues   []int64  `dynamodbav:"issues,numberset,omitempty"`
}

func hookKey(pid int64) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: HookPK(pid)}, "sk": &ddbtypes.AttributeValueMemberS{Value: hookSK}}
}

// Claim is what ClaimHook decided.
type Claim int

// ClaimHook's outcomes.
const (
	// ClaimQueue: the caller must queue the project's hook task.
	ClaimQueue Claim = iota
	// ClaimCoalesced: a task is pending; the change was added to its marker.
	ClaimCoalesced
	// ClaimDuplicate: the event (by its id) is in the pending marker already.
	ClaimDuplicate
)

// ClaimHook adds change (of the event eventID; "" when the delivery has
// none) to project pid's marker and says whether the caller must queue the
// hook task. Safe to call concurrently: of any number of calls on a free
// marker, exactly one returns ClaimQueue.
func ClaimHook(ctx context.Context, st store.Store, courseID, pid int64, change HookChange, eventID string, now time.Time) (Claim, error) {
	update := "SET #course = :c, #kind = :kind, #first = if_not_exists(#first, :now) ADD #n :one, #kinds :k"
	// Every attribute by name: DynamoDB reserves many plain words.
	names := map[string]string{"#course": "course_id", "#kind": "kind", "#first": "first_unix", "#n": "n", "#kinds": "kinds"}
	values := map[string]ddbtypes.AttributeValue{
		":c":    &ddbtypes.AttributeValueMemberN{Value: itoa(courseID)},
		":kind": &ddbtypes.AttributeValueMemberS{Value: "hook_pending"},
		":now":  &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
		":one":  &ddbtypes.AttributeValueMemberN{Value: "1"},
		":k":    &ddbtypes.AttributeValueMemberSS{Value: []string{change.Kind}},
	}
	if change.MR > 0 {
		update += ", #mrs :m"
		names["#mrs"] = "mrs"
		values[":m"] = &ddbtypes.AttributeValueMemberNS{Value: []string{itoa(change.MR)}}
	}
	if change.Issue > 0 {
		update += ", #issues :i"
		names["#issues"] = "issues"
		values[":i"] = &ddbtypes.AttributeValueMemberNS{Value: []string{itoa(change.Issue)}}
	}
	in := &dynamodb.UpdateItemInput{TableName: aws.String(st.Table), Key: hookKey(pid), ReturnValues: ddbtypes.ReturnValueAllOld}
	if eventID != "" {
		// GitLab resends an event with the same X-Gitlab-Event-UUID: while
		// the marker is pending, the second one is known.
		update += ", #events :e"
		names["#events"] = "events"
		values[":e"] = &ddbtypes.AttributeValueMemberSS{Value: []string{eventID}}
		values[":eid"] = &ddbtypes.AttributeValueMemberS{Value: eventID}
		in.ConditionExpression = aws.String("attribute_not_exists(#events) OR NOT contains(#events, :eid)")
	}
	in.UpdateExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = aws.String(update), names, values
	out, err := st.DB.UpdateItem(ctx, in)
	var dup *ddbtypes.ConditionalCheckFailedException
	switch {
	case errors.As(err, &dup):
		return ClaimDuplicate, nil
	case err != nil:
		return 0, fmt.Errorf("record the webhook of project %d: %w", pid, err)
	}
	if _, pending := out.Attributes["n"]; !pending {
		return ClaimQueue, nil
	}
	first, _ := out.Attributes["first_unix"].(*ddbtypes.AttributeValueMemberN)
	if first == nil {
		return ClaimCoalesced, nil
	}
	at, _ := strconv.ParseInt(first.Value, 10, 64)
	if now.Unix()-at < int64(HookMaxAge/time.Second) {
		return ClaimCoalesced, nil
	}
	// The pending task is taken to be lost: claim the marker again. Of
	// concurrent claimers only the one whose condition holds queues.
	_, err = st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.Table), Key: hookKey(pid),
		UpdateExpression:          aws.String("SET #first = :now"),
		ConditionExpression:       aws.String("#first = :old"),
		ExpressionAttributeNames:  map[string]string{"#first": "first_unix"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":now": values[":now"], ":old": first},
	})
	switch {
	case errors.As(err, &dup):
		return ClaimCoalesced, nil
	case err != nil:
		return 0, fmt.Errorf("claim the stale webhook marker of project %d: %w", pid, err)
	}
	return ClaimQueue, nil
}

// readHookMarker reads project pid's marker; ok is false when there is
// none (nothing pending).
func readHookMarker(ctx context.Context, st store.Store, pid int64) (HookMarker, bool, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.Table), Key: hookKey(pid), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return HookMarker{}, false, fmt.Errorf("read the webhook marker of project %d: %w", pid, err)
	}
	if out.Item == nil {
		return HookMarker{}, false, nil
	}
	var m HookMarker
	if err := attributevalue.UnmarshalMap(out.Item, &m); err != nil {
		return m, false, fmt.Errorf("decode the webhook marker of project %d: %w", pid, err)
	}
	slices.Sort(m.MRs)
	slices.Sort(m.Issues)
	return m, true, nil
}

// releaseHookMarker deletes project pid's marker if no event came since
// the task read it (n still n). It reports false when one did: the marker
// stays claimed and the caller must queue the next hook task.
func releaseHookMarker(ctx context.Context, st store.Store, pid, n int64) (bool, error) {
	_, err := st.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(st.Table), Key: hookKey(pid),
		ConditionExpression:       aws.String("#n = :n"),
		ExpressionAttributeNames:  map[string]string{"#n": "n"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}},
	})
	var newer *ddbtypes.ConditionalCheckFailedException
	switch {
	case errors.As(err, &newer):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("release the webhook marker of project %d: %w", pid, err)
	}
	return true, nil
}
