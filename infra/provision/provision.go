// Package provision creates the AWS resources GitPulse needs outside a
// CloudFormation stack: on moto server for tests and `make run`, or on
// LocalStack. It is the one place that describes them for local use, and
// mirrors the resources in template.yaml. Every step is idempotent: what
// exists is left as it is.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gitpulse/gitpulse/shared/secrets"
	"github.com/gitpulse/gitpulse/shared/store"
)

// Names are the local resource names. Tests use a unique prefix each so
// they never see each other's data.
type Names struct {
	DataTable   string
	AuditTable  string
	TokenSecret string
	AlertTopic  string
	SyncQueue   string
}

// NamesFor returns the resource names under prefix (e.g. "gitpulse-local").
func NamesFor(prefix string) Names {
	return Names{DataTable: prefix + "-data", AuditTable: prefix + "-audit", TokenSecret: prefix + "/gitlab-token", AlertTopic: prefix + "-alerts", SyncQueue: prefix + "-sync"}
}

// Resources are what Provision created or found.
type Resources struct {
	Names
	// TokenSecretARN is set when a token secret was provisioned.
	TokenSecretARN string
	AlertTopicARN  string
	SyncQueueURL   string
}

// Clients are the AWS clients provisioning uses.
type Clients struct {
	DynamoDB       *dynamodb.Client
	SecretsManager *secretsmanager.Client
	SNS            *sns.Client
	SQS            *sqs.Client
}

// NewClients builds the clients from an AWS configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SecretsManager: secretsmanager.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg)}
}

// Provision creates the tables, and, when token is non-nil, the token
// secret with token as its AWSCURRENT value (an existing secret gets a new
// version only when its value differs).
func Provision(ctx context.Context, c Clients, n Names, token *secrets.TokenSecret) (Resources, error) {
	res := Resources{Names: n}
	if err := createTable(ctx, c.DynamoDB, dataTable(n.DataTable)); err != nil {
		return res, err
	}
	if err := createTable(ctx, c.DynamoDB, auditTable(n.AuditTable)); err != nil {
		return res, err
	}
	if _, err := c.DynamoDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(n.AuditTable),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true),
		},
	}); err != nil && !strings.Contains(err.Error(), "already enabled") {
		return res, fmt.Errorf("enable TTL on %s: %w", n.AuditTable, err)
	}
	topic, err := c.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(n.AlertTopic)})
	if err != nil {
		return res, fmt.Errorf("create topic %s: %w", n.AlertTopic, err)
	}
	res.AlertTopicARN = aws.ToString(topic.TopicArn)
	if res.SyncQueueURL, err = syncQueue(ctx, c.SQS, n.SyncQueue); err != nil {
		return res, err
	}
	if token != nil {
		arn, err := putSecret(ctx, c.SecretsManager, n.TokenSecret, *token)
		if err != nil {
			return res, err
		}
		res.TokenSecretARN = arn
	}
	return res, nil
}

// dataTable is the synced-data table: a generic pk/sk single-table design
// with the by_time index (see package store), as DataTable in template.yaml.
func dataTable(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("at"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName: aws.String(store.ByTime),
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String("at"), KeyType: ddbtypes.KeyTypeRange},
			},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
	}
}

// auditTable is the audit log: token_hash / sk (time#suffix), TTL on
// expires_at, as AuditTable in template.yaml.
func auditTable(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("token_hash"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("token_hash"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
	}
}

func createTable(ctx context.Context, db *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	_, err := db.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", aws.ToString(in.TableName), err)
	}
	w := dynamodb.NewTableExistsWaiter(db)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 30*time.Second); err != nil {
		return fmt.Errorf("wait for table %s: %w", aws.ToString(in.TableName), err)
	}
	return nil
}

// syncQueue creates the sync task queue with its dead-letter queue (a task
// failing five times goes there), as SyncQueue in template.yaml.
func syncQueue(ctx context.Context, q *sqs.Client, name string) (string, error) {
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return "", fmt.Errorf("create queue %s-dlq: %w", name, err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("read queue %s-dlq: %w", name, err)
	}
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"5"}`, attrs.Attributes["QueueArn"])
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"RedrivePolicy": redrive, "VisibilityTimeout": "180",
	}})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func putSecret(ctx context.Context, sm *secretsmanager.Client, name string, token secrets.TokenSecret) (string, error) {
	value, err := json.Marshal(token)
	if err != nil {
		return "", fmt.Errorf("encode secret %s: %w", name, err)
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(string(value)),
		Description:  aws.String("GitPulse GitLab token (GitLabAccessToken shape)"),
	})
	if err == nil {
		return aws.ToString(out.ARN), nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name), VersionStage: aws.String(secrets.StageCurrent)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", name, err)
	}
	if aws.ToString(cur.SecretString) != string(value) {
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(string(value))}); err != nil {
			return "", fmt.Errorf("update secret %s: %w", name, err)
		}
	}
	return aws.ToString(cur.ARN), nil
}
