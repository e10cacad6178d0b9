package templatecheck_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/infra/templatecheck"
	"github.com/gitpulse/gitpulse/infra/testenv"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestTemplate fails the build when template.yaml grants every action of
// anything, or leaves a function's logs without a retention.
func TestTemplate(t *testing.T) {
	tpl, err := templatecheck.Load(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tpl.WildcardActions() {
		t.Errorf("wildcard action: %s", f)
	}
	for _, f := range tpl.FunctionsWithoutRetention() {
		t.Errorf("log retention: %s", f)
	}
	var functions int
	for _, r := range tpl.Resources() {
		if r.Type == "AWS::Serverless::Function" {
			functions++
		}
	}
	if functions != 5 {
		t.Errorf("got %d functions in the template, want 5 (is it parsed?)", functions)
	}
}

// TestWorkerBatchSize: the worker's SQS batch in the template is the one
// its code (and the benchmark) is built for.
func TestWorkerBatchSize(t *testing.T) {
	tpl, err := templatecheck.Load(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, r := range tpl.Resources() {
		if r.ID == "SyncWorkerFunction" {
			got = templatecheck.Path(r.Node, "Properties", "Events", "Tasks", "Properties", "BatchSize")
		}
	}
	if want := strconv.Itoa(gpsync.TasksPerInvocation); got != want {
		t.Errorf("SyncWorkerFunction's SQS BatchSize is %q in template.yaml; want %s (sync.TasksPerInvocation)", got, want)
	}
}

const head = "AWSTemplateFormatVersion: \"2010-09-09\"\nTransform: AWS::Serverless-2016-10-31\nResources:\n"

func TestWildcardActions(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // the actions found, in order
	}{
		{"none", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - DynamoDBReadPolicy:
            TableName: !Ref T
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, "s3:Get*"]
              Resource: !GetAtt T.Arn
  Perm:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Fn
      Principal: secretsmanager.amazonaws.com
`, nil},
		{"star alone in a SAM inline statement", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Sid: All
              Effect: Allow
              Action: "*"
              Resource: "*"
`, []string{"*"}},
		{"service star in a list", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            Effect: Allow
            Action:
              - dynamodb:GetItem
              - dynamodb:*
            Resource: !GetAtt T.Arn
`, []string{"dynamodb:*"}},
		{"inside an !If branch", `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - !If
              - Cond
              - Effect: Allow
                Action: !If [Other, "secretsmanager:*", secretsmanager:GetSecretValue]
                Resource: !Ref S
              - !Ref AWS::NoValue
`, []string{"secretsmanager:*"}},
		{"role policy document and NotAction", `
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                NotAction: iam:*
                Resource: "*"
`, []string{"iam:*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := templatecheck.Parse([]byte(head + strings.TrimPrefix(tc.yaml, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range tpl.WildcardActions() {
				got = append(got, strings.Split(f.Message, `"`)[1])
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFunctionsWithoutRetention(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string // the functions found, comma separated
	}{
		{"by logical id and by fixed name", `
  A:
    Type: AWS::Serverless::Function
  ALogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${A}
      RetentionInDays: 30
  B:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-b
  BLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${AWS::StackName}-b
      RetentionInDays: !Ref Days
`, ""},
		{"explicit logging config", `
  A:
    Type: AWS::Serverless::Function
    Properties:
      LoggingConfig:
        LogGroup: !Ref Shared
  Shared:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 7
`, ""},
		{"missing group and missing retention", `
  A:
    Type: AWS::Serverless::Function
  B:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-b
  ALogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${A}
  BLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${B}
      RetentionInDays: 7
`, "A,B"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := templatecheck.Parse([]byte(head + strings.TrimPrefix(tc.yaml, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range tpl.FunctionsWithoutRetention() {
				got = append(got, f.Resource)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %q, want %q", strings.Join(got, ","), tc.want)
			}
		})
	}
}
