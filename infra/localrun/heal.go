package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// healer keeps the local stack's AWS resources there. When the local AWS
// answers but its resources are gone (moto was restarted: it keeps
// nothing), it provisions them again (tables, queue, topic and its inbox,
// the token and keys secrets, with the values they last held), says so in
// one line and runs again (a sync, so the data comes back). The secrets
// are named by their partial ARN (see partialARN), so the functions'
// configuration still finds the new ones.
type healer struct {
	clients provision.Clients
	names   provision.Names
	out     io.Writer
	// token is the token secret's value as last read (a rotation changes
	// it), keysName and keys the keys secret's (make api-key adds keys).
	token    secrets.TokenSecret
	keysName string
	keys     string
	// healed runs after the resources are back.
	healed func(ctx context.Context)
	down   bool // the local AWS did not answer last time (said once)
}

// watch checks the resources every interval until ctx ends.
func (h *healer) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.check(ctx)
		}
	}
}

// check looks at the data table and the sync queue (one call each): both
// there, it remembers the secrets' values; one gone, it heals.
func (h *healer) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, terr := h.clients.DynamoDB.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: aws.String(h.names.DataTable)})
	_, qerr := h.clients.SQS.GetQueueUrl(cctx, &sqs.GetQueueUrlInput{QueueName: aws.String(h.names.SyncQueue)})
	if ctx.Err() != nil {
		return
	}
	switch {
	case terr == nil && qerr == nil:
		if h.down {
			fmt.Fprintln(h.out, "AWS: answering again, resources in place")
			h.down = false
		}
		h.remember(cctx)
	case missing(terr) || missing(qerr):
		h.down = false
		if err := h.heal(ctx); err != nil {
			fmt.Fprintf(h.out, "AWS: the local resources are gone and provisioning them again failed: %v\n", err)
			return
		}
		fmt.Fprintf(h.out, "AWS: the local resources were gone (was moto restarted?); provisioned them again (tables, queue, topic, secrets) and syncing again\n")
		h.healed(ctx)
	default:
		if !h.down {
			fmt.Fprintf(h.out, "AWS: %s does not answer (%v); waiting for it\n", h.endpoint(), firstErr(terr, qerr))
			h.down = true
		}
	}
}

func (h *healer) endpoint() string {
	if ep := h.clients.DynamoDB.Options().BaseEndpoint; ep != nil {
		return *ep
	}
	return "the AWS endpoint"
}

// remember reads the secrets' current values, to restore them as they
// were should they go.
func (h *healer) remember(ctx context.Context) {
	if out, err := h.clients.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(h.names.TokenSecret), VersionStage: aws.String(secrets.StageCurrent)}); err == nil {
		var tok secrets.TokenSecret
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &tok); err == nil && tok.Token != "" {
			h.token = tok
		}
	}
	if h.keysName == "" {
		return
	}
	if out, err := h.clients.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(h.keysName), VersionStage: aws.String(secrets.StageCurrent)}); err == nil {
		h.keys = aws.ToString(out.SecretString)
	}
}

// heal provisions everything again, as at start.
func (h *healer) heal(ctx context.Context) error {
	tok := h.token
	res, err := provision.Provision(ctx, h.clients, h.names, &tok)
	if err != nil {
		return err
	}
	if _, err := subscribeAlerts(ctx, h.clients, res); err != nil {
		return err
	}
	if h.keysName != "" && h.keys != "" {
		if _, err := putKeys(ctx, h.clients.SecretsManager, h.keysName, h.keys); err != nil {
			return err
		}
	}
	return nil
}

// missing reports whether err says a resource does not exist (the local
// AWS answers, without it).
func missing(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	code := api.ErrorCode()
	return code == "ResourceNotFoundException" || strings.Contains(code, "NonExistentQueue") || code == "QueueDoesNotExist"
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// partialARN is a secret's ARN without the random suffix Secrets Manager
// (and moto) appends to the name: GetSecretValue and the other calls find
// a secret by it, and a secret created again under the same name (moto
// restarted) answers to it too, while its full ARN would change.
func partialARN(arn, name string) string {
	i := strings.Index(arn, ":secret:")
	if i < 0 {
		return arn
	}
	return arn[:i+len(":secret:")] + name
}
