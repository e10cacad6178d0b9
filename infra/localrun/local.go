package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/config"
)

// localKeysTTL is how long the local API serves the keys secret's keys
// before reading it again: short, so that a key `make api-key` adds to
// the secret works at once (the deployed API keeps apikeys.DefaultTTL).
const localKeysTTL = time.Second

// EnvAlertsQueueURL names, in .run/local.env, the queue subscribed to the
// local alert topic, which `make alerts` reads.
const EnvAlertsQueueURL = "ALERTS_QUEUE_URL"

// localKeys makes the API read its keys from a local secret, as the
// deployed API does, so that `make api-key` can add one to a running
// stack. The secret holds the keys of API_KEYS when it is set, else one
// generated admin key, whose value it returns (empty with API_KEYS: only
// their owner knows them). With API_KEYS_SECRET_ARN set, the API reads that
// secret and nothing is created.
func localKeys(ctx context.Context, sm *secretsmanager.Client, prefix string) (adminKey, secretARN string, err error) {
	if arn := os.Getenv(config.EnvAPIKeysSecretARN); arn != "" {
		return "", arn, nil
	}
	var keys []apikeys.Key
	if v := os.Getenv(config.EnvAPIKeys); v != "" {
		if keys, err = apikeys.Parse(v); err != nil {
			return "", "", fmt.Errorf("%s: %w", config.EnvAPIKeys, err)
		}
	} else {
		raw, key, err := apikeys.Generate("local-admin", apikeys.RoleAdmin, time.Now())
		if err != nil {
			return "", "", err
		}
		keys, adminKey = []apikeys.Key{key}, raw.Reveal()
	}
	doc, err := json.Marshal(map[string][]apikeys.Key{"keys": keys})
	if err != nil {
		return "", "", err
	}
	name := prefix + "/api-keys"
	arn, err := putKeys(ctx, sm, name, string(doc))
	if err != nil {
		return "", "", err
	}
	secretARN = partialARN(arn, name)
	os.Setenv(config.EnvAPIKeysSecretARN, secretARN)
	os.Unsetenv(config.EnvAPIKeys)
	return adminKey, secretARN, nil
}

// putKeys stores doc as the keys secret name's value, creating the
// secret when it is not there, and returns the secret's ARN.
func putKeys(ctx context.Context, sm *secretsmanager.Client, name, doc string) (string, error) {
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(doc)})
	var exists *smtypes.ResourceExistsException
	switch {
	case err == nil:
		return aws.ToString(out.ARN), nil
	case errors.As(err, &exists):
		put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(doc)})
		if err != nil {
			return "", fmt.Errorf("store the local API keys in %s: %w", name, err)
		}
		return aws.ToString(put.ARN), nil
	default:
		return "", fmt.Errorf("create the local API keys secret %s: %w", name, err)
	}
}

// subscribeAlerts subscribes a queue to the alert topic, as an operator's
// e-mail address would be in AWS: `make alerts` reads what it receives.
// It returns the queue's URL.
func subscribeAlerts(ctx context.Context, c provision.Clients, res provision.Resources) (string, error) {
	name := res.AlertTopic + "-inbox"
	q, err := c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create the alerts queue %s: %w", name, err)
	}
	attrs, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("read the alerts queue %s: %w", name, err)
	}
	if _, err := c.SNS.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(res.AlertTopicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
	}); err != nil {
		return "", fmt.Errorf("subscribe %s to %s: %w", name, res.AlertTopicARN, err)
	}
	return aws.ToString(q.QueueUrl), nil
}
