// Package localstack_test checks that the LocalStack init script creates
// what infra/provision creates, by running the script against moto server
// with the aws CLI and comparing the two sets of resources.
package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

// awsCLI returns the aws command: GITPULSE_TEST_AWS_CLI (make test sets
// it), aws on PATH, or .venv/bin/aws.
func awsCLI(t *testing.T) string {
	t.Helper()
	if cli := os.Getenv("GITPULSE_TEST_AWS_CLI"); cli != "" {
		return cli
	}
	if cli, err := exec.LookPath("aws"); err == nil {
		return cli
	}
	if cli := filepath.Join(testenv.RepoRoot(t), ".venv", "bin", "aws"); fileExists(cli) {
		return cli
	}
	if os.Getenv("GITPULSE_TEST_REQUIRE") != "" {
		t.Fatal("no aws CLI: make test installs one (infra/scripts/awscli.sh)")
	}
	t.Skip("no aws CLI: run infra/scripts/awscli.sh or make test")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func runScript(t *testing.T, cli, prefix string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(t), "infra", "localstack", "init-gitpulse.sh"))
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
	// testenv.AWSEnv: moto's endpoint and the tests' credentials (the
	// administrator's when moto enforces IAM).
	cmd.Env = append(append(env, testenv.AWSEnv(t)...), "AWS_CLI="+cli, "GITPULSE_PREFIX="+prefix,
		"AWS_DEFAULT_REGION="+testenv.Region, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("init script: %v\n%s", err, out)
	}
	return string(out)
}

// TestInitScriptMatchesProvision runs the script twice (the second run
// must change nothing and succeed) and provision.Provision once, under two
// prefixes, and compares tables, TTL, topic, queues and secret.
func TestInitScriptMatchesProvision(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	cli := awsCLI(t)
	script, prov := provision.NamesFor(testenv.Prefix(t)+"-ls"), provision.NamesFor(testenv.Prefix(t)+"-go")
	runScript(t, cli, strings.TrimSuffix(script.DataTable, "-data"))
	if out := runScript(t, cli, strings.TrimSuffix(script.DataTable, "-data")); !strings.Contains(out, "exists") {
		t.Errorf("second run: got\n%s\nwant the resources found existing", out)
	}
	if _, err := provision.Provision(context.Background(), provision.NewClients(cfg), prov, nil); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	for _, pair := range [][2]string{{script.DataTable, prov.DataTable}, {script.AuditTable, prov.AuditTable}} {
		got, want := describeTable(t, db, pair[0]), describeTable(t, db, pair[1])
		if got != want {
			t.Errorf("table %s (script):\n got %s\nwant %s (as %s from provision)", pair[0], got, want, pair[1])
		}
	}
	got, want := ttl(t, db, script.AuditTable), ttl(t, db, prov.AuditTable)
	if got != want || want != "ENABLED expires_at" {
		t.Errorf("audit TTL: script %q, provision %q; want both ENABLED expires_at", got, want)
	}

	topics, err := sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(topics.Topics, func(tp snstypes.Topic) bool {
		return strings.HasSuffix(aws.ToString(tp.TopicArn), ":"+script.AlertTopic)
	}) {
		t.Errorf("no SNS topic %s", script.AlertTopic)
	}

	q := sqs.NewFromConfig(cfg)
	if got, want := queue(t, q, script.SyncQueue), queue(t, q, prov.SyncQueue); got != want {
		t.Errorf("queue %s (script):\n got %s\nwant %s", script.SyncQueue, got, want)
	}

	sm := secretsmanager.NewFromConfig(cfg)
	if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(script.TokenSecret)}); err != nil {
		t.Errorf("secret %s: %v", script.TokenSecret, err)
	}
}

// describeTable renders what must agree: keys, attribute types, billing
// and indexes (those ahead of provision.go left out).
func describeTable(t *testing.T, db *dynamodb.Client, name string) string {
	t.Helper()
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe %s: %v", name, err)
	}
	d := out.Table
	used := map[string]bool{}
	keys := func(ks []ddbtypes.KeySchemaElement) string {
		var s []string
		for _, k := range ks {
			s = append(s, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
			used[aws.ToString(k.AttributeName)] = true
		}
		return strings.Join(s, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "keys [%s]", keys(d.KeySchema))
	billing := ddbtypes.BillingModeProvisioned
	if d.BillingModeSummary != nil {
		billing = d.BillingModeSummary.BillingMode
	}
	fmt.Fprintf(&b, " billing %s", billing)
	var idx []string
	for _, i := range d.LocalSecondaryIndexes {
		idx = append(idx, fmt.Sprintf("LSI %s [%s] %s", aws.ToString(i.IndexName), keys(i.KeySchema), i.Projection.ProjectionType))
	}
	for _, i := range d.GlobalSecondaryIndexes {
		idx = append(idx, fmt.Sprintf("GSI %s [%s] %s", aws.ToString(i.IndexName), keys(i.KeySchema), i.Projection.ProjectionType))
	}
	slices.Sort(idx)
	var attrs []string
	for _, a := range d.AttributeDefinitions {
		if used[aws.ToString(a.AttributeName)] {
			attrs = append(attrs, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
		}
	}
	slices.Sort(attrs)
	fmt.Fprintf(&b, " attributes [%s] indexes [%s]", strings.Join(attrs, ", "), strings.Join(idx, "; "))
	return b.String()
}

func ttl(t *testing.T, db *dynamodb.Client, name string) string {
	t.Helper()
	out, err := db.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("TTL of %s: %v", name, err)
	}
	return string(out.TimeToLiveDescription.TimeToLiveStatus) + " " + aws.ToString(out.TimeToLiveDescription.AttributeName)
}

// queue renders a queue's visibility timeout and its redrive policy, with
// the dead-letter queue named relative to the queue.
func queue(t *testing.T, q *sqs.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	url, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("queue %s: %v", name, err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("queue %s attributes: %v", name, err)
	}
	var redrive struct {
		Target   string `json:"deadLetterTargetArn"`
		Receives any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("queue %s redrive policy %q: %v", name, attrs.Attributes["RedrivePolicy"], err)
	}
	if _, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name + "-dlq")}); err != nil {
		t.Errorf("dead-letter queue %s-dlq: %v", name, err)
	}
	return fmt.Sprintf("visibility %s, dead letters to %s after %v receives", attrs.Attributes["VisibilityTimeout"],
		strings.Replace(redrive.Target, name, "<queue>", 1), redrive.Receives)
}
