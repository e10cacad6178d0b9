#!/usr/bin/env bash
# LocalStack ready hook: creates the AWS resources `make run` uses, with the
# names and shapes infra/provision gives them (NamesFor, dataTable,
# auditTable, syncQueue, putSecret). Mount it into
# /etc/localstack/init/ready.d/ (see README.md beside it). Safe to run again:
# what exists is left as it is.
#
# Outside LocalStack (tests run it against moto server): set
# AWS_ENDPOINT_URL, and AWS_CLI to the aws command to use.
set -euo pipefail

prefix=${GITPULSE_PREFIX:-gitpulse-local}
region=${AWS_DEFAULT_REGION:-${AWS_REGION:-eu-central-1}}
export AWS_DEFAULT_REGION=$region AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}

if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  awsc() { "${AWS_CLI:-aws}" --endpoint-url "$AWS_ENDPOINT_URL" --output text "$@"; }
elif command -v awslocal >/dev/null 2>&1; then
  awsc() { awslocal --output text "$@"; }
else
  awsc() { "${AWS_CLI:-aws}" --endpoint-url http://localhost:4566 --output text "$@"; }
fi

data=$prefix-data audit=$prefix-audit secret=$prefix/gitlab-token topic=$prefix-alerts queue=$prefix-sync

table() { # name, then create-table arguments
  local name=$1; shift
  if awsc dynamodb describe-table --table-name "$name" >/dev/null 2>&1; then
    echo "table $name exists"
  else
    awsc dynamodb create-table --table-name "$name" --billing-mode PAY_PER_REQUEST "$@" >/dev/null
    echo "table $name created"
  fi
  awsc dynamodb wait table-exists --table-name "$name"
}

# Synced data: pk/sk single-table design, plus the global secondary index
# by_time (sort key "at") that the data API queries.
table "$data" \
  --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S AttributeName=at,AttributeType=S \
  --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
  --global-secondary-indexes 'IndexName=by_time,KeySchema=[{AttributeName=pk,KeyType=HASH},{AttributeName=at,KeyType=RANGE}],Projection={ProjectionType=ALL}'

# Audit: token_hash / sk, TTL on expires_at.
table "$audit" \
  --attribute-definitions AttributeName=token_hash,AttributeType=S AttributeName=sk,AttributeType=S \
  --key-schema AttributeName=token_hash,KeyType=HASH AttributeName=sk,KeyType=RANGE
if [ "$(awsc dynamodb describe-time-to-live --table-name "$audit" --query TimeToLiveDescription.TimeToLiveStatus)" != ENABLED ]; then
  awsc dynamodb update-time-to-live --table-name "$audit" --time-to-live-specification Enabled=true,AttributeName=expires_at >/dev/null
fi

# Token alerts.
topic_arn=$(awsc sns create-topic --name "$topic" --query TopicArn)
echo "topic $topic_arn"

# Sync tasks, with a dead-letter queue after five receives.
dlq_url=$(awsc sqs create-queue --queue-name "$queue-dlq" --query QueueUrl)
dlq_arn=$(awsc sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn --query Attributes.QueueArn)
attrs=$(printf '{"VisibilityTimeout":"180","RedrivePolicy":"{\\"deadLetterTargetArn\\":\\"%s\\",\\"maxReceiveCount\\":\\"5\\"}"}' "$dlq_arn")
queue_url=$(awsc sqs create-queue --queue-name "$queue" --attributes "$attrs" --query QueueUrl)
echo "queue $queue_url (dead letters: $dlq_url)"

# The GitLab token secret, in the GitLabAccessToken shape. A placeholder:
# `make run` stores the simulator's (or your GitLab's) token in it.
if awsc secretsmanager describe-secret --secret-id "$secret" >/dev/null 2>&1; then
  echo "secret $secret exists"
else
  awsc secretsmanager create-secret --name "$secret" \
    --description "GitPulse GitLab token (GitLabAccessToken shape)" \
    --secret-string '{"token":"","gitlabUrl":"http://127.0.0.1:8929","name":"local"}' >/dev/null
  echo "secret $secret created (placeholder; make run stores the token)"
fi
echo "GitPulse resources ready (prefix $prefix)"
