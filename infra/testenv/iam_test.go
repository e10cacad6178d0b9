package testenv_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestMissingPermissionFails shows that moto enforces the roles: the
// worker's role without dynamodb:DeleteItem (as template.yaml had it)
// cannot forget a member who left the project, and the denial names the
// action. With the role as the template grants it, the same task passes
// (shared/sync TestReadModelFollowsMembership).
func TestMissingPermissionFails(t *testing.T) {
	if !testenv.IAMEnforced() {
		if os.Getenv("GITPULSE_TEST_REQUIRE") != "" {
			t.Fatal("moto does not enforce IAM under make test (infra/scripts/moto.sh iam)")
		}
		t.Skip("moto does not enforce IAM: run through make test")
	}
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "iam/course", Teams: 1, StudentsPerTeam: 2, Weeks: 1})
	ctx := context.Background()
	pid := sc.Course.ProjectIDs[0]
	newbie := sc.Sim.AddUser("newbie", "New Bie", false)
	if err := sc.Sim.AddMember("project", pid, newbie.ID, 30); err != nil {
		t.Fatal(err)
	}
	task := func() gpsync.Task {
		return gpsync.Task{CourseID: sc.CourseID, ProjectID: int64(pid), Repo: true, ScheduledAt: time.Now().Add(time.Second)}
	}
	if err := sc.Worker.Process(ctx, task()); err != nil {
		t.Fatalf("with the template's role: %v", err)
	}
	if err := sc.Sim.RemoveMember("project", pid, newbie.ID); err != nil {
		t.Fatal(err)
	}
	role := testenv.FunctionRole(t, "SyncWorkerFunction", sc.Resources, testenv.RoleOptions{Drop: []string{"dynamodb:DeleteItem"}, ExpectDenied: true})
	narrow := *sc.Worker
	narrow.Store = store.Store{DB: dynamodb.NewFromConfig(role.Config(t)), Table: sc.Resources.DataTable}
	err := narrow.Process(ctx, task())
	denied := role.Denied()
	if err == nil || !slices.ContainsFunc(denied, func(d string) bool { return strings.HasPrefix(d, "dynamodb:DeleteItem: denied") }) {
		t.Fatalf("without dynamodb:DeleteItem: got error %v and denials %q, want the task to fail on a denied dynamodb:DeleteItem", err, denied)
	}
	t.Logf("the task failed: %v\ndenied: %s", err, strings.Join(denied, "; "))
	if calls := role.Calls(); !slices.Contains(calls, "dynamodb:Query") || !slices.Contains(calls, "dynamodb:DeleteItem") {
		t.Errorf("got calls %q, want the task's Query and DeleteItem recorded", calls)
	}
}

// TestKeyConditionEnforced: where moto checks neither resources nor
// conditions, the role's proxy does. The api may write the COURSES
// partition only, and read only its own secrets.
func TestKeyConditionEnforced(t *testing.T) {
	if !testenv.IAMEnforced() {
		t.Skip("moto does not enforce IAM: run through make test")
	}
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	role := testenv.FunctionRole(t, "ApiFunction", res, testenv.RoleOptions{ExpectDenied: true})
	st := store.Store{DB: dynamodb.NewFromConfig(role.Config(t)), Table: res.DataTable}
	ctx := context.Background()
	if err := st.Put(ctx, store.Item{PK: "COURSES", SK: store.CourseSK(1), Kind: "course", Value: map[string]int{"id": 1}}); err != nil {
		t.Fatalf("api writing its course record: %v", err)
	}
	if err := st.Put(ctx, store.Item{PK: store.CoursePK(1), SK: "TEAM#g2", Kind: "team", Value: map[string]int{"id": 2}}); err == nil {
		t.Fatal("api wrote COURSE#1/TEAM#g2, outside its COURSES partition; want AccessDenied")
	}
	if err := st.Delete(ctx, "PROJECT#1", "STATE"); err == nil {
		t.Fatal("api deleted PROJECT#1/STATE; want AccessDenied")
	}
	other := testenv.Provision(t, cfg, nil) // another stack's table
	if err := (store.Store{DB: st.DB, Table: other.DataTable}).Put(ctx, store.Item{PK: "COURSES", SK: store.CourseSK(1), Kind: "course", Value: 1}); err == nil {
		t.Fatal("api wrote another table; want AccessDenied")
	}
	denied := role.Denied()
	if len(denied) != 3 || !strings.HasPrefix(denied[0], "dynamodb:PutItem: denied") || !strings.HasPrefix(denied[1], "dynamodb:DeleteItem: denied") {
		t.Errorf("got denials %q, want PutItem, DeleteItem, PutItem", denied)
	}
}

// TestMotoEnforcesIAM: under make test, moto refuses a call signed by no
// key it knows (moto's usual "test" credentials).
func TestMotoEnforcesIAM(t *testing.T) {
	if !testenv.IAMEnforced() {
		t.Skip("moto does not enforce IAM: run through make test")
	}
	cfg := testenv.AWSConfig(t)
	cfg.Credentials = credentials.NewStaticCredentialsProvider("test", "test", "")
	_, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("ListTables with unknown credentials: got %v, want a 403", err)
	}
}
