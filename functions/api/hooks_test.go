package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// gateway serves HTTP by invoking the api bootstrap under the emulator
// with the request as an API Gateway HTTP API event (payload 2.0), one
// invocation at a time as the emulator takes them: what the simulator's
// webhooks and the test's own calls reach.
func gateway(t *testing.T, fn *testenv.Lambda) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k := range r.Header {
			headers[strings.ToLower(k)] = r.Header.Get(k)
		}
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "ANY /api/{proxy+}", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery, Headers: headers,
			RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default", RequestID: "hooks-" + strconv.FormatInt(time.Now().UnixNano(), 36),
				DomainName: r.Host, HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, SourceIP: "127.0.0.1"}},
			Body: string(body),
		})
		mu.Lock()
		raw := fn.Invoke(t, ev)
		mu.Unlock()
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode == 0 {
			http.Error(w, "not an API Gateway response: "+string(raw), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.WriteString(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hookEnv is a synced course, the api bootstrap behind a gateway, and the
// test's own worker on the sync queue.
type hookEnv struct {
	t     *testing.T
	sc    *testenv.SyncedCourse
	gw    *httptest.Server
	admin string
	q     *sqs.Client
}

func (e *hookEnv) call(method, path, body string, header ...string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.gw.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// drain runs the worker on every queued task and returns how many it ran.
func (e *hookEnv) drain() int {
	e.t.Helper()
	n := 0
	for {
		out, err := e.q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.sc.Resources.SyncQueueURL), MaxNumberOfMessages: 10})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return n
		}
		for _, m := range out.Messages {
			resp, err := e.sc.Worker.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
			if err != nil || len(resp.BatchItemFailures) > 0 {
				e.t.Fatalf("task %s: %v %+v", aws.ToString(m.Body), err, resp)
			}
			n++
			if _, err := e.q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.sc.Resources.SyncQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// queued is how many tasks wait in the sync queue (received and left
// there: the visibility timeout of the test queue is 0).
func (e *hookEnv) queued() []string {
	e.t.Helper()
	var bodies []string
	out, err := e.q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.sc.Resources.SyncQueueURL), MaxNumberOfMessages: 10})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies
}

// auditStatuses is the statuses of the webhook calls audited under hash.
func (e *hookEnv) auditStatuses(hash string) []int {
	e.t.Helper()
	out, err := dynamodb.NewFromConfig(e.sc.AWS).Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(e.sc.Resources.AuditTable), KeyConditionExpression: aws.String("token_hash = :h"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":h": &ddbtypes.AttributeValueMemberS{Value: hash}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var statuses []int
	for _, it := range out.Items {
		if d, _ := it["direction"].(*ddbtypes.AttributeValueMemberS); d == nil || d.Value != "webhook" {
			continue
		}
		n, _ := strconv.Atoi(it["response_status"].(*ddbtypes.AttributeValueMemberN).Value)
		statuses = append(statuses, n)
	}
	slices.Sort(statuses)
	return statuses
}

// TestWebhooksUnderEmulator runs GitLab's webhooks end to end: the
// simulator sends them to the real api bootstrap under the emulator, the
// api queues the project's task, the test's worker (with the worker's
// role) runs it, and the change is read back through the API. No
// scheduled sync runs in between. Then the refusals, a burst, and a lost
// webhook that the next scheduled sync catches.
func TestWebhooksUnderEmulator(t *testing.T) {
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "hooks/course", Teams: 2, StudentsPerTeam: 2, Weeks: 1})
	s := sc.Sim
	// The api's token may manage hooks: the teacher (group Owner), api scope.
	tok, err := s.AddToken(sim.TokenSpec{Kind: sim.KindPersonal, UserID: sc.Course.TeacherID, Name: "hooks", Scopes: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, key, err := apikeys.Generate("hooks-admin", apikeys.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := json.Marshal([]apikeys.Key{key})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.FunctionEnv(t, "ApiFunction", sc.Resources),
		"DATA_TABLE="+sc.Resources.DataTable, "AUDIT_TABLE="+sc.Resources.AuditTable, "SYNC_QUEUE_URL="+sc.Resources.SyncQueueURL,
		"GITLAB_URL="+sc.SimURL, "GITLAB_TOKEN="+tok.Value, "API_KEYS="+string(keys)))
	e := &hookEnv{t: t, sc: sc, gw: gateway(t, fn), admin: "Bearer " + raw.Reveal(), q: sqs.NewFromConfig(sc.AWS)}
	course := strconv.FormatInt(sc.CourseID, 10)

	// Register: one hook per project, created; again: the same hooks,
	// updated with the new secret (the first one still accepted).
	var reg struct {
		Secret     string `json:"secret"`
		SecretHash string `json:"secret_hash"`
		Manual     bool   `json:"manual"`
		Registered []struct {
			Action string `json:"action"`
		} `json:"registered"`
	}
	status, body := e.call("POST", "/api/v1/courses/"+course+"/hooks", "", "Authorization", e.admin)
	if err := json.Unmarshal([]byte(body), &reg); err != nil || status != 200 || reg.Manual || len(reg.Registered) != len(sc.Course.ProjectIDs) || reg.Registered[0].Action != "created" {
		t.Fatalf("register hooks: got %d %s, want 200 and one created hook per project", status, body)
	}
	first := reg.Secret
	status, body = e.call("POST", "/api/v1/courses/"+course+"/hooks", "", "Authorization", e.admin)
	if err := json.Unmarshal([]byte(body), &reg); err != nil || status != 200 || reg.Registered[0].Action != "updated" || reg.Secret == first {
		t.Fatalf("register again: got %d %s, want 200, the hooks updated with a new secret", status, body)
	}
	for _, pid := range sc.Course.ProjectIDs {
		if hs := s.ProjectHooks(pid); len(hs) != 1 || hs[0].Token != reg.Secret || hs[0].URL != e.gw.URL+"/api/v1/hooks/gitlab" {
			t.Fatalf("project %d: got hooks %+v, want one to the gateway with the new secret", pid, hs)
		}
	}
	if e.drain() != 0 {
		t.Fatal("registering queued sync work; want none")
	}

	// (a) Activity lands through the webhooks within 5 s, with no
	// scheduled sync in between.
	groupReads := s.RequestCounts()["GET /api/v4/groups/:id/projects"]
	student := sc.Course.Teams[0].StudentIDs[0]
	var lat []time.Duration
	for i := range 20 {
		pid := sc.Course.ProjectIDs[i%len(sc.Course.ProjectIDs)]
		for _, tm := range sc.Course.Teams {
			if slices.Contains(tm.ProjectIDs, pid) {
				student = tm.StudentIDs[0]
			}
		}
		start := time.Now()
		var path, want string
		switch i % 3 {
		case 0:
			c, err := s.AddCommit(pid, sim.CommitSpec{AuthorID: student, Title: fmt.Sprintf("hook commit %d", i), Additions: 3})
			if err != nil {
				t.Fatal(err)
			}
			path, want = "/api/v1/projects/"+strconv.Itoa(pid)+"/commits?limit=1", c.SHA
		case 1:
			is, err := s.AddIssue(pid, sim.IssueSpec{AuthorID: student, Title: fmt.Sprintf("hook issue %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			path, want = "/api/v1/projects/"+strconv.Itoa(pid)+"/issues?limit=1", fmt.Sprintf(`"iid":%d,`, is.IID)
		default:
			m, err := s.AddMergeRequest(pid, sim.MRSpec{AuthorID: student, Title: fmt.Sprintf("hook MR %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			path, want = "/api/v1/projects/"+strconv.Itoa(pid)+"/merge_requests?limit=1", fmt.Sprintf(`"iid":%d,`, m.IID)
		}
		for {
			e.drain()
			if _, got := e.call("GET", path, "", "Authorization", e.admin); strings.Contains(got, want) {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("event %d: %s not readable from %s within 5 s", i, want, path)
			}
			time.Sleep(20 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("webhook to readable from the API, %d events: median %v, max %v", len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	if got := s.RequestCounts()["GET /api/v4/groups/:id/projects"]; got != groupReads {
		t.Errorf("group project lists during the webhooks: got %d more, want 0 (no scheduled sync)", got-groupReads)
	}

	// (b) Refusals: a clear 4xx, audited under the hash of the secret
	// presented, nothing queued.
	pid := sc.Course.ProjectIDs[0]
	push := fmt.Sprintf(`{"object_kind":"push","project_id":%d,"ref":"refs/heads/main","commits":[]}`, pid)
	wrong := "gph_not-the-secret"
	for _, tt := range []struct {
		name, secret, event, body string
		want                      int
		message                   string
	}{
		{"wrong secret", wrong, "Push Hook", push, 401, "X-Gitlab-Token"},
		{"no secret", "", "Push Hook", push, 401, "X-Gitlab-Token: missing"},
		{"oversize", reg.Secret, "Push Hook", `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "larger than"},
		{"malformed", reg.Secret, "Push Hook", `{"object_kind":"push",`, 400, "not a GitLab Push Hook payload"},
		{"unknown event", reg.Secret, "Coffee Hook", push, 400, "X-Gitlab-Event"},
	} {
		hdr := []string{"X-Gitlab-Event", tt.event, "Content-Type", "application/json"}
		if tt.secret != "" {
			hdr = append(hdr, "X-Gitlab-Token", tt.secret)
		}
		if status, body := e.call("POST", "/api/v1/hooks/gitlab", tt.body, hdr...); status != tt.want || !strings.Contains(body, tt.message) {
			t.Errorf("%s: got %d %s, want %d naming %q", tt.name, status, body, tt.want, tt.message)
		}
		if q := e.queued(); len(q) != 0 {
			t.Errorf("%s: got %d tasks queued, want none", tt.name, len(q))
		}
	}
	if got := e.auditStatuses(gitpulse.NewSecret(wrong).Hash()); !slices.Equal(got, []int{401}) {
		t.Errorf("audit of the wrong secret: got %v, want [401]", got)
	}
	if got := e.auditStatuses(gitpulse.NewSecret("").Hash()); !slices.Equal(got, []int{401}) {
		t.Errorf("audit of the call without a secret: got %v, want [401]", got)
	}
	if got := e.auditStatuses(reg.SecretHash); !slices.Contains(got, 400) || !slices.Contains(got, 413) || !slices.Contains(got, 202) {
		t.Errorf("audit of the course secret: got %v, want the 202s, the 400s and the 413", got)
	}
	// The replaced secret still works during the overlap; a project the
	// course does not list is ignored with a 202.
	if status, body := e.call("POST", "/api/v1/hooks/gitlab", push, "X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", first); status != 202 || !strings.Contains(body, `"queued"`) {
		t.Errorf("previous secret: got %d %s, want 202 queued", status, body)
	}
	if status, body := e.call("POST", "/api/v1/hooks/gitlab", `{"object_kind":"push","project_id":999999}`, "X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", reg.Secret); status != 202 || !strings.Contains(body, `"ignored"`) {
		t.Errorf("foreign project: got %d %s, want 202 ignored", status, body)
	}
	e.drain()

	// (c) A burst of 100 events for one project queues one task; events
	// that come while it runs queue exactly one more.
	for i := range 100 {
		if _, err := s.AddIssue(pid, sim.IssueSpec{AuthorID: student, Title: fmt.Sprintf("burst %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.WaitHooks()
	for _, d := range s.HookDeliveries() {
		if d.Err != "" || d.Status != http.StatusAccepted {
			t.Fatalf("burst of 100: a delivery got %d %q, want 202 (every one answered before the tasks are counted)", d.Status, d.Err)
		}
	}
	if q := e.queued(); len(q) != 1 {
		t.Errorf("burst of 100: got %d tasks queued, want 1: %v", len(q), q)
	}
	if n := e.drain(); n != 1 {
		t.Errorf("burst of 100: the worker ran %d tasks, want 1", n)
	}
	if got, want := len(storeItems[gitpulse.Issue](t, sc, pid, "ISSUE#")), len(s.Issues(pid)); got != want {
		t.Errorf("after the burst: got %d issues stored, want %d", got, want)
	}

	// (d) A lost webhook: nothing queued; the next scheduled sync finds it,
	// and the store equals the simulator.
	s.DropHooks(1)
	lost, err := s.AddIssue(pid, sim.IssueSpec{AuthorID: student, Title: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	s.WaitHooks()
	if q := e.queued(); len(q) != 0 {
		t.Errorf("dropped webhook: got %d tasks queued, want none", len(q))
	}
	if _, err := sc.Scheduler.Run(context.Background(), []string{sc.Course.Path}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	found := false
	for _, is := range storeItems[gitpulse.Issue](t, sc, pid, "ISSUE#") {
		found = found || is.IID == int64(lost.IID)
	}
	if !found {
		t.Errorf("the issue of the lost webhook (#%d) is not stored after the scheduled sync", lost.IID)
	}
	compareWithSim(t, sc)
	testenv.AssertNoSecret(t, "function output", fn.Output.String(), raw.Reveal(), tok.Value, reg.Secret, first)
}

func storeItems[T any](t *testing.T, sc *testenv.SyncedCourse, pid int, prefix string) []T {
	t.Helper()
	items, err := store.All[T](context.Background(), sc.Store, store.ProjectPK(int64(pid)), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// compareWithSim checks each project's stored commits, merge requests
// (state, notes), issues (state) and pipelines (status) against the
// simulator's truth.
func compareWithSim(t *testing.T, sc *testenv.SyncedCourse) {
	t.Helper()
	s := sc.Sim
	for _, pid := range sc.Course.ProjectIDs {
		commits := map[string]bool{}
		for _, c := range storeItems[gitpulse.Commit](t, sc, pid, "COMMIT#") {
			commits[c.SHA] = true
		}
		truth := s.AllCommits(pid)
		for _, c := range truth {
			if !commits[c.SHA] {
				t.Errorf("project %d: commit %s not stored", pid, c.ShortID())
			}
		}
		if len(commits) != len(truth) {
			t.Errorf("project %d: got %d commits, want %d", pid, len(commits), len(truth))
		}
		mrs := map[int64]string{}
		for _, m := range storeItems[gitpulse.MergeRequest](t, sc, pid, "MR#") {
			mrs[m.IID] = m.State
		}
		notes := map[int64]int{}
		for _, n := range storeItems[gitpulse.Note](t, sc, pid, "NOTE#") {
			notes[n.MRIID]++
		}
		for _, m := range s.MergeRequests(pid) {
			if mrs[int64(m.IID)] != m.State || notes[int64(m.IID)] != len(m.Notes) {
				t.Errorf("project %d MR !%d: got state %q, %d notes, want %q, %d", pid, m.IID, mrs[int64(m.IID)], notes[int64(m.IID)], m.State, len(m.Notes))
			}
		}
		issues := map[int64]string{}
		for _, is := range storeItems[gitpulse.Issue](t, sc, pid, "ISSUE#") {
			issues[is.IID] = is.State
		}
		for _, is := range s.Issues(pid) {
			if issues[int64(is.IID)] != is.State {
				t.Errorf("project %d issue #%d: got state %q, want %q", pid, is.IID, issues[int64(is.IID)], is.State)
			}
		}
		pipes := map[int64]string{}
		for _, pl := range storeItems[gitpulse.Pipeline](t, sc, pid, "PIPELINE#") {
			pipes[pl.ID] = pl.Status
		}
		for _, pl := range s.Pipelines(pid) {
			if pipes[int64(pl.ID)] != pl.Status {
				t.Errorf("project %d pipeline %d: got %q, want %q", pid, pl.ID, pipes[int64(pl.ID)], pl.Status)
			}
		}
	}
}
