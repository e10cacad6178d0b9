package testenv

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Notification is an SNS message as an SQS subscriber receives it.
type Notification struct {
	// MessageID is SNS's id of the notification: one per Publish.
	MessageID         string `json:"MessageId"`
	Subject           string `json:"Subject"`
	Message           string `json:"Message"`
	MessageAttributes map[string]struct {
		Type  string `json:"Type"`
		Value string `json:"Value"`
	} `json:"MessageAttributes"`
}

// Inbox is an SQS queue subscribed to an SNS topic: the way to read what
// was published on moto.
type Inbox struct {
	sqs *sqs.Client
	url string
}

// Subscribe creates a queue subscribed to topicARN.
func Subscribe(tb testing.TB, cfg aws.Config, topicARN string) *Inbox {
	tb.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(cfg)
	// Visibility timeout 0: a receive whose answer is lost and retried by
	// the SDK must not hide the notifications from the retry.
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(Prefix(tb) + "-inbox"),
		Attributes: map[string]string{"VisibilityTimeout": "0"}})
	if err != nil {
		tb.Fatalf("create queue: %v", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatalf("queue attributes: %v", err)
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"]),
	}); err != nil {
		tb.Fatalf("subscribe: %v", err)
	}
	return &Inbox{sqs: q, url: aws.ToString(out.QueueUrl)}
}

// Drain returns every notification waiting in the queue, each once. moto
// delivers SNS to SQS synchronously, so one empty poll after a short pause
// ends it. SQS delivers at least once: a message whose DeleteMessage was
// lost (a loaded moto) comes again, and is counted once, by its SNS
// message id.
func (in *Inbox) Drain(tb testing.TB) []Notification {
	tb.Helper()
	var got []Notification
	seen := map[string]bool{}
	empty := 0
	for {
		out, err := in.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(in.url), MaxNumberOfMessages: 10,
		})
		if err != nil {
			tb.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			if empty++; empty > 2 {
				return got
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, m := range out.Messages {
			var n Notification
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil {
				tb.Fatalf("not an SNS notification: %s", aws.ToString(m.Body))
			}
			if n.MessageID == "" || !seen[n.MessageID] {
				got = append(got, n)
			}
			seen[n.MessageID] = true
			_, _ = in.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(in.url), ReceiptHandle: m.ReceiptHandle})
		}
	}
}
