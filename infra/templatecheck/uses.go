package templatecheck

import "slices"

// Use is one AWS call a function makes, on one resource. Resource is
// written as the expanded template renders it (${DataTable.Arn},
// ${GitLabTokenSecretArn}, ${AlertTopic}, ...).
type Use struct {
	Action   string
	Resource string
	// Keys, when set, are the partition keys the call touches (the
	// dynamodb:LeadingKeys patterns, * as in StringLike): a grant of
	// the action must carry a LeadingKeys condition no wider than these.
	Keys []string
	// Runtime marks calls Lambda makes with the role, not the code (the
	// logs, the SQS event source mapping's polling): the IAM-enforced tests
	// do not see them.
	Runtime bool
	// Where in the code (or why) the call is made.
	Why string
	// Untested, when set, says why no test under IAM makes the call (make
	// test otherwise fails when a listed call is never made: a grant
	// nothing exercises may be one nothing needs).
	Untested string
}

// Keys the functions write in the data table (shared/store's key list).
var (
	courseRecordKeys = []string{"COURSES"}
	syncKeys         = []string{"COURSES", "COURSE#*", "PROJECT#*"}
	alertStateKeys   = []string{"ALERT#*"}
	tokenCheckKeys   = []string{"TOKENS", "ALERT#*"}
	hookKeys         = []string{"HOOK#*"}
)

// brokenCurrentOnly is why the token check's version listing is not
// exercised under IAM.
const brokenCurrentOnly = "only a missing or malformed AWSCURRENT makes the provider list versions; shared/secrets' and shared/rotation's tests cover it in-process"

// tokenFromEnv is why the sync functions' secret read is not exercised.
const tokenFromEnv = "the sync tests give the token directly (GITLAB_TOKENS); the secret read is shared/secrets' code, exercised under the api's and token-check's roles"

func logs(group string) []Use {
	return []Use{
		{Action: "logs:CreateLogStream", Resource: "${" + group + ".Arn}", Runtime: true, Why: "Lambda writes the function's log"},
		{Action: "logs:PutLogEvents", Resource: "${" + group + ".Arn}", Runtime: true, Why: "Lambda writes the function's log"},
	}
}

// Uses lists, per function (logical id), every AWS call its code makes:
// the only grants the least-privilege check allows, and the calls the
// IAM-enforced tests expect to see (infra/iamtest).
var Uses = map[string][]Use{
	"ApiFunction": append(logs("ApiFunctionLogGroup"),
		Use{Action: "dynamodb:GetItem", Resource: "${DataTable.Arn}", Why: "store.Get: course and project records"},
		Use{Action: "dynamodb:Query", Resource: "${DataTable.Arn}", Why: "store.Page, store.Each: every listing"},
		Use{Action: "dynamodb:Query", Resource: "${DataTable.Arn}/index/by_time", Why: "store.Page: time-bounded listings"},
		Use{Action: "dynamodb:PutItem", Resource: "${DataTable.Arn}", Keys: []string{"COURSES", "IDMAP#*"},
			Why: "POST /courses: the course record (sync.Scheduler.Add); POST /courses/{id}/hooks: the webhook secret records; POST /courses/{id}/identities: an identity mapping and the mappings' version"},
		Use{Action: "dynamodb:DeleteItem", Resource: "${DataTable.Arn}", Keys: courseRecordKeys, Why: "DELETE /courses/{id}: the course record; POST /courses/{id}/hooks: a webhook secret replaced twice"},
		Use{Action: "dynamodb:DescribeTable", Resource: "${DataTable.Arn}", Why: "health: the table check"},
		Use{Action: "dynamodb:DescribeTable", Resource: "${AuditTable.Arn}", Why: "health: the table check"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${AuditTable.Arn}", Why: "audit.Writer: every request"},
		Use{Action: "dynamodb:Query", Resource: "${AuditTable.Arn}", Why: "GET /audit: audit.Find"},
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${GitLabTokenSecretArn}", Why: "the GitLab token: health, POST /courses' group lookup"},
		Use{Action: "secretsmanager:ListSecretVersionIds", Resource: "${GitLabTokenSecretArn}", Why: "secrets.Provider.Fallbacks: a refused token's newer versions (health with a revoked token)"},
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${ApiKeysSecretArn}", Why: "apikeys.SecretSource: the API key hashes"},
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${SignInSecretArn}", Why: "platform.SignIn: the OAuth client secret and the session key, read once at start"},
		Use{Action: "sqs:SendMessage", Resource: "${SyncQueue.Arn}", Why: "POST /courses, POST /courses/{id}/sync: a plan task; POST /hooks/gitlab: a project's webhook task"},
		Use{Action: "dynamodb:UpdateItem", Resource: "${DataTable.Arn}", Keys: hookKeys, Why: "POST /hooks/gitlab: the project's webhook marker (sync.ClaimHook)"},
	),
	"TokenCheckFunction": append(logs("TokenCheckFunctionLogGroup"),
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${GitLabTokenSecretArn}", Why: "the token checked"},
		Use{Action: "secretsmanager:DescribeSecret", Resource: "${GitLabTokenSecretArn}", Why: "secrets.Store.Rotation: rotation settings"},
		Use{Action: "secretsmanager:ListSecretVersionIds", Resource: "${GitLabTokenSecretArn}", Why: "secrets.Provider.Token: another version when AWSCURRENT is missing or malformed",
			Untested: brokenCurrentOnly},
		Use{Action: "sns:Publish", Resource: "${AlertTopic}", Why: "alerts.Notifier"},
		Use{Action: "dynamodb:Query", Resource: "${DataTable.Arn}", Keys: alertStateKeys, Why: "alerts.Notifier.load: what was alerted"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${DataTable.Arn}", Keys: tokenCheckKeys, Why: "token reports (TOKENS) and alert state (ALERT#...)"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${AuditTable.Arn}", Why: "audit.Writer: every GitLab call"},
	),
	"TokenRotateFunction": append(logs("TokenRotateFunctionLogGroup"),
		Use{Action: "secretsmanager:DescribeSecret", Resource: "${GitLabTokenSecretArn}", Why: "every rotation step starts with it"},
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${GitLabTokenSecretArn}", Why: "AWSCURRENT and AWSPENDING"},
		Use{Action: "secretsmanager:PutSecretValue", Resource: "${GitLabTokenSecretArn}", Why: "createSecret: AWSPENDING"},
		Use{Action: "secretsmanager:UpdateSecretVersionStage", Resource: "${GitLabTokenSecretArn}", Why: "finishSecret; createSecret's repair of broken labels"},
		Use{Action: "secretsmanager:ListSecretVersionIds", Resource: "${GitLabTokenSecretArn}", Why: "createSecret's repair: the newest version whose token works (rotation.working)",
			Untested: "the repairs run in shared/rotation's scenarios test, in-process as the administrator; the emulator tests start from a working AWSCURRENT"},
		Use{Action: "dynamodb:PutItem", Resource: "${DataTable.Arn}", Keys: []string{"ALERT#ROTATION#*"}, Why: "alerts.RotationAlerter.claim: rotation alerts' de-duplication"},
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${AdminSecretArn}", Why: "admin strategy: the token that creates tokens",
			Untested: "the admin strategy runs in shared/rotation's tests, in-process as the administrator; the emulator tests rotate with the self strategy"},
		Use{Action: "sns:Publish", Resource: "${AlertTopic}", Why: "alerts.RotationAlerter: a failed or refused step, a repair"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${AuditTable.Arn}", Why: "audit.Writer: every GitLab call"},
	),
	"SyncSchedulerFunction": append(logs("SyncSchedulerFunctionLogGroup"),
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${GitLabTokenSecretArn}", Why: "the GitLab token", Untested: tokenFromEnv},
		Use{Action: "secretsmanager:ListSecretVersionIds", Resource: "${GitLabTokenSecretArn}", Why: "secrets.Provider: readers' fallback", Untested: tokenFromEnv},
		Use{Action: "dynamodb:GetItem", Resource: "${DataTable.Arn}", Why: "course records and state"},
		Use{Action: "dynamodb:Query", Resource: "${DataTable.Arn}", Why: "a course's projects"},
		Use{Action: "dynamodb:BatchGetItem", Resource: "${DataTable.Arn}", Why: "teams and project records, compared before writing (store.Writer, IfChanged)"},
		Use{Action: "dynamodb:PutItem", Resource: "${DataTable.Arn}", Keys: syncKeys, Why: "course record and state"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${DataTable.Arn}", Keys: syncKeys, Why: "teams and project records"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${AuditTable.Arn}", Why: "audit.Writer: every GitLab call"},
		Use{Action: "sqs:SendMessageBatch", Resource: "${SyncQueue.Arn}", Why: "one task per project with work"},
	),
	"SyncWorkerFunction": append(logs("SyncWorkerFunctionLogGroup"),
		Use{Action: "sqs:ReceiveMessage", Resource: "${SyncQueue.Arn}", Runtime: true, Why: "the SQS event source mapping"},
		Use{Action: "sqs:DeleteMessage", Resource: "${SyncQueue.Arn}", Runtime: true, Why: "the SQS event source mapping"},
		Use{Action: "sqs:GetQueueAttributes", Resource: "${SyncQueue.Arn}", Runtime: true, Why: "the SQS event source mapping"},
		Use{Action: "sqs:SendMessage", Resource: "${SyncQueue.Arn}", Why: "the rest of a task handed back before the deadline",
			Untested: "only a task that reaches its deadline hands the rest back; a test under IAM reaches one only on a slow run"},
		Use{Action: "sqs:SendMessageBatch", Resource: "${SyncQueue.Arn}", Why: "a plan task's project tasks (the scheduler run in the worker)"},
		Use{Action: "secretsmanager:GetSecretValue", Resource: "${GitLabTokenSecretArn}", Why: "the GitLab token", Untested: tokenFromEnv},
		Use{Action: "secretsmanager:ListSecretVersionIds", Resource: "${GitLabTokenSecretArn}", Why: "secrets.Provider: readers' fallback", Untested: tokenFromEnv},
		Use{Action: "dynamodb:GetItem", Resource: "${DataTable.Arn}", Why: "cursors, records"},
		Use{Action: "dynamodb:Query", Resource: "${DataTable.Arn}", Why: "a project's items (aggregate, read model)"},
		Use{Action: "dynamodb:BatchGetItem", Resource: "${DataTable.Arn}", Why: "stored items compared before writing: commits of a page read (read.go), members, notes, pipelines, stats and read-model rows (store.Writer, IfChanged)"},
		Use{Action: "dynamodb:PutItem", Resource: "${DataTable.Arn}", Keys: syncKeys, Why: "state, records"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${DataTable.Arn}", Keys: syncKeys, Why: "synced items"},
		Use{Action: "dynamodb:DeleteItem", Resource: "${DataTable.Arn}", Keys: append(slices.Clone(syncKeys), hookKeys...), Why: "a member who left, a team's moved project (worker.go, readmodel.go); a webhook task's marker (hookmarker.go)"},
		Use{Action: "dynamodb:BatchWriteItem", Resource: "${AuditTable.Arn}", Why: "audit.Writer: every GitLab call"},
	),
}
