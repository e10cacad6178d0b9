package alerts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/gitpulse/gitpulse/shared/rotation"
)

// RotationAlerter publishes failed (or refused) rotation steps, and
// repairs of a secret's labels, to the token-health topic. With a table it
// de-duplicates as token alerts are: the same alert (secret, event, step
// and reason) is sent once per Repeat, so a step Secrets Manager retries,
// or a refused step sent again, does not flood the mailbox; a different
// reason (another version, another state found) is a new alert.
type RotationAlerter struct {
	SNS      Publisher
	TopicARN string
	// DB and Table hold the de-duplication state (the data table, items
	// ALERT#ROTATION#<secret ARN>); without them every alert is sent.
	DB     RotationStateDB
	Table  string
	Repeat time.Duration // default 24h
	Now    func() time.Time
}

// RotationStateDB is the DynamoDB call rotation de-duplication needs.
type RotationStateDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// claim records that al is being sent now and reports whether it is due:
// not sent before, or last sent Repeat ago or more. It fails open (due)
// when the state cannot be written, with the error, so that no alert is
// lost to a DynamoDB failure.
func (a *RotationAlerter) claim(ctx context.Context, al rotation.Alert) (bool, error) {
	if a.DB == nil || a.Table == "" {
		return true, nil
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	repeat := a.Repeat
	if repeat <= 0 {
		repeat = 24 * time.Hour
	}
	t := now().UTC()
	sum := sha256.Sum256([]byte(al.Reason))
	// The claim names this attempt: when the SDK retries a PutItem whose
	// answer was lost (a reset connection, a checksum mismatch), the retry
	// finds the item its own first try wrote. That is still our claim, so
	// the alert is due; only another sender's claim suppresses it.
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	claimID := hex.EncodeToString(nonce[:])
	_, err := a.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(a.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":      &ddbtypes.AttributeValueMemberS{Value: "ALERT#ROTATION#" + al.SecretARN},
			"sk":      &ddbtypes.AttributeValueMemberS{Value: al.Event + "#" + al.Step + "#" + hex.EncodeToString(sum[:8])},
			"sent_at": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)},
			"claim":   &ddbtypes.AttributeValueMemberS{Value: claimID},
		},
		ConditionExpression:                 aws.String("attribute_not_exists(pk) OR sent_at <= :cutoff"),
		ExpressionAttributeValues:           map[string]ddbtypes.AttributeValue{":cutoff": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(t.Add(-repeat).Unix(), 10)}},
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cond *ddbtypes.ConditionalCheckFailedException
	switch {
	case errors.As(err, &cond):
		if c, ok := cond.Item["claim"].(*ddbtypes.AttributeValueMemberS); ok && c.Value == claimID {
			return true, nil // our own write, seen by a retry
		}
		return false, nil
	case err != nil:
		return true, fmt.Errorf("save rotation alert state: %w", err)
	}
	return true, nil
}

// RotationAlert implements rotation.Alerter.
func (a *RotationAlerter) RotationAlert(ctx context.Context, al rotation.Alert) error {
	if al.Event == "" {
		al.Event = rotation.EventFailed
	}
	due, claimErr := a.claim(ctx, al)
	if !due {
		return nil
	}
	event, outcome := al.Event, "failed"
	if event == rotation.EventRepaired {
		outcome = "repaired the secret"
	}
	subject := fmt.Sprintf("GitPulse: rotation of GitLab token '%s' %s (%s)", al.TokenName, outcome, al.Step)
	if len(subject) > 100 {
		subject = subject[:97] + "..."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The rotation of GitLab token '%s' %s in %s (%s).\n\n", al.TokenName, outcome, al.Step, al.Severity)
	fmt.Fprintf(&b, "What happened: %s\n\n", al.Reason)
	fmt.Fprintf(&b, "What to do:    %s\n\n", al.Recovery)
	fmt.Fprintf(&b, "Secret:        %s\n", al.SecretARN)
	if al.TokenHash != "" {
		fmt.Fprintf(&b, "Token hash:    %s\n", al.TokenHash)
	}
	b.WriteString("\nSee the README, \"Rotation\", for each failure and its recovery.\n")
	_, err := a.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(a.TopicARN),
		Subject:  aws.String(subject),
		Message:  aws.String(b.String()),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"severity":   {DataType: aws.String("String"), StringValue: aws.String(al.Severity)},
			"token_name": {DataType: aws.String("String"), StringValue: aws.String(al.TokenName)},
			"event":      {DataType: aws.String("String"), StringValue: aws.String(event)},
		},
	})
	if err != nil {
		return errors.Join(fmt.Errorf("publish rotation alert to %s: %w", a.TopicARN, err), claimErr)
	}
	return claimErr
}
