package alerts

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/gitpulse/gitpulse/shared/rotation"
)

// RotationAlerter publishes failed (or refused) rotation steps, and
// repairs of a secret's labels, to the token-health topic. Every one is
// sent: each is a distinct event that a person should know of.
type RotationAlerter struct {
	SNS      Publisher
	TopicARN string
}

// RotationAlert implements rotation.Alerter.
func (a *RotationAlerter) RotationAlert(ctx context.Context, al rotation.Alert) error {
	event, outcome := al.Event, "failed"
	if event == "" {
		event = rotation.EventFailed
	}
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
		return fmt.Errorf("publish rotation alert to %s: %w", a.TopicARN, err)
	}
	return nil
}
