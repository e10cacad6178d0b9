package templatecheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitpulse/gitpulse/infra/templatecheck"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

// expand runs the SAM transform on text; without python3 and cfn-lint it
// skips (under make test, which needs cfn-lint for the lint, it fails).
func expand(t *testing.T, text []byte) *templatecheck.Expanded {
	t.Helper()
	if err := exec.Command("python3", "-c", "import cfnlint, samtranslator").Run(); err != nil {
		if os.Getenv("GITPULSE_TEST_REQUIRE") != "" {
			t.Fatalf("python3 with cfn-lint (and its SAM translator) is required under make test: %v", err)
		}
		t.Skipf("python3 with cfn-lint is not installed: %v", err)
	}
	e, err := templatecheck.ExpandText(t.TempDir(), text)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var expanded struct {
	once sync.Once
	e    *templatecheck.Expanded
}

// expandTemplate expands template.yaml once for every test that reads it
// (the SAM translator takes seconds); under make test, which has expanded
// it already for the IAM-enforced tests, it reads that expansion.
func expandTemplate(t *testing.T) *templatecheck.Expanded {
	t.Helper()
	expanded.once.Do(func() {
		if p := os.Getenv("GITPULSE_TEST_EXPANDED_TEMPLATE"); p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read the expanded template: %v", err)
			}
			if expanded.e, err = templatecheck.ParseExpanded(b); err != nil {
				t.Fatal(err)
			}
			return
		}
		expanded.e = expand(t, readTemplate(t))
	})
	if expanded.e == nil {
		t.Fatal("template.yaml did not expand (see the first test that tried)")
	}
	return expanded.e
}

func readTemplate(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeastPrivilege expands template.yaml as CloudFormation will see it
// and fails on any grant beyond what each function's code calls, any
// wildcard, any Resource "*" outside a key policy, any key condition wider
// than the items written, and any missing grant. It logs each function's
// final action list.
func TestLeastPrivilege(t *testing.T) {
	t.Parallel()
	e := expandTemplate(t)
	for _, f := range e.LeastPrivilege(templatecheck.Uses) {
		t.Error(f)
	}
	if n := len(e.FunctionRoles()); n != 5 {
		t.Errorf("got %d functions in the expanded template, want 5", n)
	}
	for _, fn := range []string{"ApiFunction", "TokenCheckFunction", "TokenRotateFunction", "SyncSchedulerFunction", "SyncWorkerFunction"} {
		var lines []string
		for _, s := range e.Grants(fn) {
			line := strings.Join(s.Actions, " ") + " on " + strings.Join(s.Resources, " ")
			if lk, ok := s.LeadingKeys(); ok {
				line += " keys " + strings.Join(lk, " ")
			}
			lines = append(lines, line)
		}
		t.Logf("%s:\n  %s", fn, strings.Join(lines, "\n  "))
	}
}

// TestAlertWiring checks that alarms can reach AlertTopic.
func TestAlertWiring(t *testing.T) {
	t.Parallel()
	e := expandTemplate(t)
	for _, f := range e.AlertWiring("AlertTopic") {
		t.Error(f)
	}
}

// TestWidenedPolicyFails widens template.yaml in every way the check must
// catch and expects a finding for each: the check cannot pass a broader
// template.
func TestWidenedPolicyFails(t *testing.T) {
	t.Parallel()
	tpl := string(readTemplate(t))
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(tpl, old) {
			t.Fatalf("template.yaml no longer contains %q: update the test", old)
		}
		tpl = strings.Replace(tpl, old, new, 1)
	}
	// The api may Scan and BatchGetItem (never called).
	replace("Action: [dynamodb:GetItem, dynamodb:Query]\n                Resource: !GetAtt DataTable.Arn\n              - Sid: ReadDataByTime",
		"Action: [dynamodb:GetItem, dynamodb:Query, dynamodb:Scan, dynamodb:BatchGetItem]\n                Resource: !GetAtt DataTable.Arn\n              - Sid: ReadDataByTime")
	// The api may write every course's read model.
	replace("dynamodb:LeadingKeys: [COURSES]", `dynamodb:LeadingKeys: [COURSES, "COURSE#*"]`)
	// token-check may write anywhere in the data table.
	replace(`                    dynamodb:LeadingKeys: [TOKENS, "ALERT#*"]`+"\n", "")
	replace("                Condition:\n                  ForAllValues:StringLike:\n              - Sid: AuditWrite", "              - Sid: AuditWrite")
	// A wildcard SQS action and Resource "*".
	replace("Action: sqs:SendMessageBatch\n                Resource: !GetAtt SyncQueue.Arn", "Action: sqs:SendMessage*\n                Resource: \"*\"")
	// The worker loses DeleteItem, which its code calls.
	replace("Action: [dynamodb:PutItem, dynamodb:BatchWriteItem, dynamodb:DeleteItem]", "Action: [dynamodb:PutItem, dynamodb:BatchWriteItem]")
	// The rotation permission loses its SourceArn.
	replace("      SourceArn: !Ref GitLabTokenSecretArn\n", "")
	// token-rotate goes back to SAM's generated role: the policy template
	// SQSSendMessagePolicy (sqs:SendMessage*) and the managed
	// AWSLambdaBasicExecutionRole (logs on "*") SAM adds.
	replace("      Role: !GetAtt TokenRotateFunctionRole.Arn\n", "      Policies:\n        - SQSSendMessagePolicy:\n            QueueName: !GetAtt SyncQueue.QueueName\n")
	replace("  TokenRotateFunctionRole:\n    Type: AWS::IAM::Role", "  TokenRotateFunctionUnusedRole:\n    Type: AWS::IAM::Role")
	// Alarms through the AWS managed key.
	replace("      KmsMasterKeyId: !Ref AlertTopicKey", "      KmsMasterKeyId: alias/aws/sns")

	e := expand(t, []byte(tpl))
	found := strings.Join(append(e.LeastPrivilege(templatecheck.Uses), e.AlertWiring("AlertTopic")...), "\n")
	for _, want := range []string{
		"ApiFunction: ApiFunctionRole/api statement ReadData grants dynamodb:Scan on ${DataTable.Arn}, which the function's code never calls",
		"ApiFunction: ApiFunctionRole/api statement ReadData grants dynamodb:BatchGetItem on ${DataTable.Arn}, which the function's code never calls",
		`ApiFunction: ApiFunctionRole/api statement CourseRecords grants dynamodb:PutItem on ${DataTable.Arn} for keys "COURSE#*", wider than the keys the function touches (COURSES, IDMAP#*)`,
		"TokenCheckFunction: TokenCheckFunctionRole/token-check statement ReportsAndAlertState grants dynamodb:BatchWriteItem on ${DataTable.Arn} for every key",
		`SyncSchedulerFunctionRole/sync-scheduler statement QueueTasks: action "sqs:SendMessage*" has a wildcard`,
		`SyncSchedulerFunctionRole/sync-scheduler statement QueueTasks: Resource "*"`,
		"SyncSchedulerFunction: the code calls sqs:SendMessageBatch on ${SyncQueue.Arn} (one task per project with work), but the role does not grant it",
		"SyncWorkerFunction: the code calls dynamodb:DeleteItem on ${DataTable.Arn}",
		"TokenRotatePermission: permission for secretsmanager.amazonaws.com has no SourceArn",
		`TokenRotateFunctionRole/TokenRotateFunctionRolePolicy0 statement sqs:SendMessage*: action "sqs:SendMessage*" has a wildcard`,
		`TokenRotateFunctionRole/AWSLambdaBasicExecutionRole (AWS managed) statement logs:CreateLogGroup,logs:CreateLogStream,logs:PutLogEvents: Resource "*"`,
		"TokenRotateFunction: the code calls secretsmanager:PutSecretValue",
		"AlertTopic: KmsMasterKeyId alias/aws/sns is not a customer managed key",
	} {
		if !strings.Contains(found, want) {
			t.Errorf("widened template: no finding %q", want)
		}
	}
	if t.Failed() {
		t.Logf("findings:\n%s", found)
	}
}

// TestEveryUseIsExercised runs after go test under make test (which sets
// GITPULSE_TEST_IAM_USES_DONE): every call templatecheck.Uses lists, and so
// every grant, must have been made by some test under IAM with the
// function's role, or say why not (Use.Untested). With the least-privilege
// check this holds both ways: nothing granted that is not called, nothing
// called that is not granted.
func TestEveryUseIsExercised(t *testing.T) {
	dir := os.Getenv("GITPULSE_TEST_IAM_USES")
	if dir == "" || os.Getenv("GITPULSE_TEST_IAM_USES_DONE") == "" {
		t.Skip("runs after the IAM-enforced tests under make test")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded uses in %s (%v): did the IAM-enforced tests run?", dir, err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			seen[line] = true
		}
	}
	for fn, uses := range templatecheck.Uses {
		for _, u := range uses {
			key := fn + " " + u.Action + " " + u.Resource
			switch {
			case u.Runtime:
			case seen[key] && u.Untested != "":
				// Some runs reach it (a deadline depends on the machine's speed).
				t.Logf("%s: %s on %s was exercised in this run (Untested: %s)", fn, u.Action, u.Resource, u.Untested)
			case !seen[key] && u.Untested == "":
				t.Errorf("%s: no test under IAM calls %s on %s (%s): test it, or say why not in Use.Untested", fn, u.Action, u.Resource, u.Why)
			case !seen[key]:
				t.Logf("%s: %s on %s not exercised: %s", fn, u.Action, u.Resource, u.Untested)
			}
		}
	}
}
