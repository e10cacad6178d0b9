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

// RotationAlerter publishes failed rotation steps to the token-health
// topic. Every failure is sent: each is a distinct event that needs a
// person.
type RotationAlerter struct {
	SNS      Publisher
	TopicARN string
}

// RotationFailed implements rotation.Alerter.
func (a *RotationAlerter) RotationFailed(ctx context.Context, al rotation.Alert) error {
	subject := fmt.Sprintf("GitPulse: rotation of GitLab token '%s' failed (%s)", al.TokenName, al.Step)
	if len(subject) > 100 {
		subject = subject[:97] + "..."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The rotation of GitLab token '%s' failed in %s (%s).\n\n", al.TokenName, al.Step, al.Severity)
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
			"event":      {DataType: aws.String("String"), StringValue: aws.String("rotation_failed")},
		},
	})
	if err != nil {
		return fmt.Errorf("publish rotation alert to %s: %w", a.TopicARN, err)
	}
	return nil
}
