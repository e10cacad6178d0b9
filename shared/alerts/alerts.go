// Package alerts tells people about GitLab tokens that need attention: one
// SNS message per token with warning or critical findings, de-duplicated
// with state kept in DynamoDB so that the same finding is sent again only
// when its severity rises or after a repeat interval.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/gitpulse/gitpulse/shared/secrets"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

// Publisher is the SNS call the Notifier needs.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// StateDB is the DynamoDB calls the de-duplication state needs.
type StateDB interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Notifier publishes token alerts.
type Notifier struct {
	SNS         Publisher
	TopicARN    string
	DB          StateDB
	Table       string
	Repeat      time.Duration // default 24h
	Environment string
	Now         func() time.Time
}

// Sent describes one published message.
type Sent struct {
	Token     string `json:"token"`
	TokenHash string `json:"token_hash"`
	Severity  string `json:"severity"`
	Subject   string `json:"subject"`
	MessageID string `json:"message_id"`
}

// state is the last alert sent for one finding of one token.
type state struct {
	PK       string `dynamodbav:"pk"` // ALERT#<token hash or name>
	SK       string `dynamodbav:"sk"` // FINDING#<code>
	Severity string `dynamodbav:"severity"`
	SentAt   string `dynamodbav:"sent_at"`
}

// Notify publishes one message per report that has a warning or critical
// finding that is new, more severe than when last sent, or last sent more
// than Repeat ago; the message lists all the token's findings. State for
// findings that went away is deleted, so they alert again when they come
// back. Repeating Notify with the same reports in the same interval sends
// nothing. A failure for one token does not stop the others; the errors
// are joined.
func (n *Notifier) Notify(ctx context.Context, reports []tokens.Report) ([]Sent, error) {
	var sent []Sent
	var errs []error
	for _, r := range reports {
		s, err := n.notifyOne(ctx, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert for token '%s': %w", r.Status.Name, err))
		}
		if s != nil {
			sent = append(sent, *s)
		}
	}
	return sent, errors.Join(errs...)
}

func alerting(r tokens.Report) []tokens.Finding {
	var out []tokens.Finding
	for _, f := range r.Findings {
		if f.Severity.Rank() >= tokens.SeverityWarning.Rank() {
			out = append(out, f)
		}
	}
	return out
}

func stateKey(r tokens.Report) string {
	if r.Status.Hash != "" {
		return "ALERT#" + r.Status.Hash
	}
	return "ALERT#name:" + r.Status.Name // an unreadable token has no hash
}

func (n *Notifier) notifyOne(ctx context.Context, r tokens.Report) (*Sent, error) {
	now := n.Now().UTC()
	findings := alerting(r)
	pk := stateKey(r)
	previous, err := n.load(ctx, pk)
	if err != nil {
		return nil, err
	}
	repeat := n.Repeat
	if repeat <= 0 {
		repeat = 24 * time.Hour
	}
	due := false
	current := map[string]bool{}
	for _, f := range findings {
		current[f.Code] = true
		p, ok := previous[f.Code]
		if !ok || f.Severity.Rank() > tokens.Severity(p.Severity).Rank() {
			due = true
			continue
		}
		if at, err := time.Parse(time.RFC3339, p.SentAt); err != nil || now.Sub(at) >= repeat {
			due = true
		}
	}
	var writes []ddbtypes.WriteRequest
	for code := range previous {
		if !current[code] {
			writes = append(writes, ddbtypes.WriteRequest{DeleteRequest: &ddbtypes.DeleteRequest{Key: map[string]ddbtypes.AttributeValue{
				"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "sk": &ddbtypes.AttributeValueMemberS{Value: "FINDING#" + code},
			}}})
		}
	}
	var sent *Sent
	if due {
		msg := Compose(r, n.Environment, now)
		out, err := n.SNS.Publish(ctx, &sns.PublishInput{
			TopicArn: aws.String(n.TopicARN),
			Subject:  aws.String(msg.Subject),
			Message:  aws.String(msg.Body),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"severity":   {DataType: aws.String("String"), StringValue: aws.String(string(msg.Severity))},
				"token_name": {DataType: aws.String("String"), StringValue: aws.String(r.Status.Name)},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("publish to %s: %w", n.TopicARN, err)
		}
		sent = &Sent{Token: r.Status.Name, TokenHash: r.Status.Hash, Severity: string(msg.Severity), Subject: msg.Subject, MessageID: aws.ToString(out.MessageId)}
		for _, f := range findings {
			item, err := attributevalue.MarshalMap(state{PK: pk, SK: "FINDING#" + f.Code, Severity: string(f.Severity), SentAt: now.Format(time.RFC3339)})
			if err != nil {
				return sent, err
			}
			writes = append(writes, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
		}
	}
	for len(writes) > 0 {
		batch := writes[:min(25, len(writes))]
		writes = writes[len(batch):]
		out, err := n.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{n.Table: batch}})
		if err != nil {
			return sent, fmt.Errorf("save alert state: %w", err)
		}
		writes = append(writes, out.UnprocessedItems[n.Table]...)
	}
	return sent, nil
}

func (n *Notifier) load(ctx context.Context, pk string) (map[string]state, error) {
	out, err := n.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(n.Table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :f)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":pk": &ddbtypes.AttributeValueMemberS{Value: pk},
			":f":  &ddbtypes.AttributeValueMemberS{Value: "FINDING#"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("read alert state: %w", err)
	}
	var items []state
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, fmt.Errorf("decode alert state: %w", err)
	}
	m := map[string]state{}
	for _, it := range items {
		m[strings.TrimPrefix(it.SK, "FINDING#")] = it
	}
	return m, nil
}

// Message is a composed alert.
type Message struct {
	Subject  string
	Body     string
	Severity tokens.Severity
}

// Compose writes the alert for a report: a subject a person reads in a
// mail client, and a body with every finding, days left, where the token
// lives, what to do, and the token's hash (never its value).
func Compose(r tokens.Report, environment string, now time.Time) Message {
	st := r.Status
	worst := r.Worst()
	subject := fmt.Sprintf("GitPulse: GitLab token '%s' %s", st.Name, headline(r, now))
	if len(subject) > 100 { // SNS subjects are limited to 100 characters
		subject = subject[:97] + "..."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GitLab token '%s' needs attention (%s).\n\n", st.Name, worst)
	b.WriteString("Findings:\n")
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "- [%s] %s\n", f.Severity, f.Message)
	}
	b.WriteString("\n")
	if st.ExpiresAt != nil {
		fmt.Fprintf(&b, "Expires:      %s (%s)\n", st.ExpiresAt.UTC().Format(time.DateOnly), daysText(tokens.DaysLeft(now, *st.ExpiresAt)))
	} else if st.Known {
		b.WriteString("Expires:      never (no expiry date)\n")
	}
	if st.Kind != "" {
		fmt.Fprintf(&b, "Kind:         %s token\n", st.Kind)
	}
	if len(st.Scopes) > 0 {
		fmt.Fprintf(&b, "Scopes:       %s\n", strings.Join(st.Scopes, ", "))
	}
	fmt.Fprintf(&b, "Lives in:     %s\n", where(st.Source))
	if st.URL != "" {
		fmt.Fprintf(&b, "GitLab:       %s\n", st.URL)
	}
	if environment != "" {
		fmt.Fprintf(&b, "Environment:  %s\n", environment)
	}
	if st.Hash != "" {
		fmt.Fprintf(&b, "Token hash:   %s (find its use with the audit query)\n", st.Hash)
	}
	fmt.Fprintf(&b, "\nWhat to do: %s\n", advice(r))
	return Message{Subject: subject, Body: b.String(), Severity: worst}
}

func daysText(days int) string {
	switch {
	case days < 0:
		return "expired"
	case days == 0:
		return "last day: it stops working at 00:00 UTC tonight"
	case days == 1:
		return "1 day left"
	default:
		return fmt.Sprintf("%d days left", days)
	}
}

// headline is the subject's verb phrase, from the worst finding.
func headline(r tokens.Report, now time.Time) string {
	var worst tokens.Finding
	for _, f := range r.Findings {
		if worst.Code == "" || f.Severity.Rank() > worst.Severity.Rank() {
			worst = f
		}
	}
	switch worst.Code {
	case tokens.CodeExpiresSoon:
		if r.Status.ExpiresAt != nil {
			switch d := tokens.DaysLeft(now, *r.Status.ExpiresAt); d {
			case 0:
				return "expires tonight"
			case 1:
				return "expires in 1 day"
			default:
				return fmt.Sprintf("expires in %d days", d)
			}
		}
		return "expires soon"
	case tokens.CodeExpired:
		return "has expired"
	case tokens.CodeRevoked:
		return "was revoked"
	case tokens.CodeUnknown:
		return "is not known to GitLab"
	case tokens.CodeUnreadable:
		return "cannot be read"
	case tokens.CodeInsufficientScope, tokens.CodeMissingScope:
		return "lacks a required scope"
	case tokens.CodeExcessScope:
		return "has more scope than GitPulse needs"
	case tokens.CodeNoExpiry:
		return "never expires"
	case tokens.CodePersonalInProduction:
		return "is a personal token in production"
	case tokens.CodeRotationDisabled:
		return "is not rotated"
	case tokens.CodeRotationOverdue:
		return "is overdue for rotation"
	case tokens.CodeCheckFailed:
		return "could not be checked"
	default:
		return fmt.Sprintf("needs attention (%d findings)", len(r.Findings))
	}
}

func where(source string) string {
	if arn, ok := strings.CutPrefix(source, "secret:"); ok {
		return "Secrets Manager secret " + secrets.NameFromARN(arn) + " (" + arn + ")"
	}
	return strings.TrimPrefix(source, "env:")
}

func advice(r tokens.Report) string {
	src := r.Status.Source
	if arn, ok := strings.CutPrefix(src, "secret:"); ok {
		return "rotate the token now (aws secretsmanager rotate-secret --secret-id " + arn + "), or create a new token in GitLab and store it in the secret; then check GET /api/v1/health. See the README, \"GitLab tokens\"."
	}
	return "create a new token in GitLab, put it in " + where(src) + " and redeploy; moving the token to Secrets Manager lets GitPulse rotate it. See the README, \"GitLab tokens\"."
}
