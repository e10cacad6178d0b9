package sim_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// received is what a hook receiver got.
type received struct {
	header http.Header
	event  any
}

// receiver is an HTTP server that parses every delivery with client-go.
func receiver(t *testing.T) (string, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := gitlab.ParseWebhook(gitlab.HookEventType(r), body)
		if err != nil {
			t.Errorf("client-go cannot parse the %q delivery: %v\n%s", r.Header.Get("X-Gitlab-Event"), err, body)
		}
		mu.Lock()
		got = append(got, received{header: r.Header.Clone(), event: ev})
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

// TestProjectHooksAPI adds, lists, edits and deletes a hook as GitLab's
// project webhooks API does, with its role and scope rules.
func TestProjectHooksAPI(t *testing.T) {
	e := newEnv(t)
	p := e.sim.AddProject(0, "demo")
	maintainer := e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: p.ID, AccessLevel: 40, Scopes: []string{"api"}})
	reporter := e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: p.ID, AccessLevel: 20, Scopes: []string{"api"}})
	readOnly := e.token(t, sim.TokenSpec{Kind: sim.KindProject, ProjectID: p.ID, AccessLevel: 40, Scopes: []string{"read_api"}})

	c := e.client(t, maintainer.Value)
	h, resp, err := c.Projects.AddProjectHook(p.ID, &gitlab.AddProjectHookOptions{URL: gitlab.Ptr("http://127.0.0.1:1/hook"),
		Token: gitlab.Ptr("s3cret"), MergeRequestsEvents: gitlab.Ptr(true), PushEvents: gitlab.Ptr(false)})
	if err != nil || resp.StatusCode != http.StatusCreated || h.ID == 0 || h.PushEvents || !h.MergeRequestsEvents || !h.EnableSSLVerification {
		t.Fatalf("add hook: got %+v, %v, want 201 with push off, merge requests on, SSL verification on", h, err)
	}
	if _, body := e.get(t, "/api/v4/projects/1/hooks", "PRIVATE-TOKEN", maintainer.Value); regexp.MustCompile(`s3cret|"token"`).MatchString(body) {
		t.Errorf("list hooks: got %s, want no token", body)
	}
	if _, _, err := c.Projects.EditProjectHook(p.ID, h.ID, &gitlab.EditProjectHookOptions{URL: gitlab.Ptr("http://127.0.0.1:2/hook"), NoteEvents: gitlab.Ptr(true)}); err != nil {
		t.Fatalf("edit hook: %v", err)
	}
	hooks, _, err := c.Projects.ListProjectHooks(p.ID, nil)
	if err != nil || len(hooks) != 1 || hooks[0].URL != "http://127.0.0.1:2/hook" || !hooks[0].NoteEvents || !hooks[0].MergeRequestsEvents {
		t.Fatalf("list hooks: got %+v, %v, want the edited hook", hooks, err)
	}
	if got := e.sim.ProjectHooks(p.ID); len(got) != 1 || got[0].Token != "s3cret" {
		t.Errorf("stored hooks: got %+v, want the token kept by the edit", got)
	}
	for _, tt := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"reporter lists", "GET", "/api/v4/projects/1/hooks", reporter.Value, "", 403},
		{"read_api adds", "POST", "/api/v4/projects/1/hooks", readOnly.Value, `{"url":"http://x.test/h"}`, 403},
		{"read_api lists", "GET", "/api/v4/projects/1/hooks", readOnly.Value, "", 200},
		{"no url", "POST", "/api/v4/projects/1/hooks", maintainer.Value, `{"push_events":true}`, 400},
		{"bad scheme", "POST", "/api/v4/projects/1/hooks", maintainer.Value, `{"url":"ftp://x.test/h"}`, 400},
		{"unknown hook", "GET", "/api/v4/projects/1/hooks/99", maintainer.Value, "", 404},
		{"unknown project", "GET", "/api/v4/projects/99/hooks", maintainer.Value, "", 404},
	} {
		if resp, body := e.do(t, tt.method, tt.path, tt.body, "PRIVATE-TOKEN", tt.token, "Content-Type", "application/json"); resp.StatusCode != tt.want {
			t.Errorf("%s: got %d %s, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
	if resp, err := c.Projects.DeleteProjectHook(p.ID, h.ID); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete hook: got %v, %v, want 204", resp, err)
	}
	if got := e.sim.ProjectHooks(p.ID); len(got) != 0 {
		t.Errorf("after delete: got %d hooks, want 0", len(got))
	}
}

// TestHookSender adds activity and checks what the hook receives: one
// delivery per event the hook takes, GitLab's headers, payloads client-go
// parses, and a dropped delivery that never arrives.
func TestHookSender(t *testing.T) {
	e := newEnv(t)
	url, got := receiver(t)
	g := e.sim.AddGroup("course", 0)
	p := e.sim.AddProject(g.ID, "team")
	ana, bo := e.sim.AddUser("ana", "Ana", false), e.sim.AddUser("bo", "Bo", false)
	if _, err := e.sim.AddProjectHook(sim.ProjectHook{ProjectID: p.ID, URL: url, Token: "s3cret", PushEvents: true,
		MergeRequestsEvents: true, NoteEvents: true, IssuesEvents: true, PipelineEvents: true}); err != nil {
		t.Fatal(err)
	}
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.sim.AddCommit(p.ID, sim.CommitSpec{AuthorID: ana.ID})
	mustDo(err)
	mr, err := e.sim.AddMergeRequest(p.ID, sim.MRSpec{AuthorID: ana.ID, SourceBranch: "feature"})
	mustDo(err)
	_, err = e.sim.AddCommit(p.ID, sim.CommitSpec{AuthorID: ana.ID, Branch: "feature"}) // push + MR update
	mustDo(err)
	_, err = e.sim.AddNote(p.ID, mr.IID, sim.NoteSpec{AuthorID: bo.ID, Body: "LGTM"})
	mustDo(err)
	mustDo(e.sim.Approve(p.ID, mr.IID, bo.ID))
	is, err := e.sim.AddIssue(p.ID, sim.IssueSpec{AuthorID: bo.ID})
	mustDo(err)
	_, err = e.sim.CloseIssue(p.ID, is.IID, bo.ID)
	mustDo(err)
	pl, err := e.sim.AddPipeline(p.ID, sim.PipelineSpec{Status: "running"})
	mustDo(err)
	_, err = e.sim.SetPipelineStatus(p.ID, pl.ID, "success")
	mustDo(err)
	_, err = e.sim.MergeMR(p.ID, mr.IID, bo.ID) // push + MR merge
	mustDo(err)
	e.sim.DropHooks(1)
	_, err = e.sim.AddIssue(p.ID, sim.IssueSpec{AuthorID: ana.ID})
	mustDo(err)
	e.sim.WaitHooks()

	count := map[string]int{}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, r := range got() {
		h := r.header
		count[h.Get("X-Gitlab-Event")]++
		if h.Get("X-Gitlab-Token") != "s3cret" || h.Get("User-Agent") != "GitLab/17.9.0-ee" || h.Get("X-Gitlab-Instance") == "" ||
			!uuid.MatchString(h.Get("X-Gitlab-Event-UUID")) || !uuid.MatchString(h.Get("Idempotency-Key")) || !uuid.MatchString(h.Get("X-Gitlab-Webhook-UUID")) {
			t.Errorf("headers: got %v, want GitLab's delivery headers", h)
		}
		switch ev := r.event.(type) {
		case *gitlab.PushEvent:
			if ev.ProjectID != int64(p.ID) || len(ev.Commits) != 1 {
				t.Errorf("push: got project %d, %d commits, want %d and 1", ev.ProjectID, len(ev.Commits), p.ID)
			}
		case *gitlab.MergeEvent:
			if ev.Project.ID != int64(p.ID) || ev.ObjectAttributes.IID != int64(mr.IID) || ev.ObjectAttributes.Action == "" {
				t.Errorf("merge request: got %+v, want !%d with an action", ev.ObjectAttributes, mr.IID)
			}
		case *gitlab.MergeCommentEvent:
			if ev.MergeRequest.IID != int64(mr.IID) || ev.ProjectID != int64(p.ID) {
				t.Errorf("note: got MR !%d of project %d, want !%d of %d", ev.MergeRequest.IID, ev.ProjectID, mr.IID, p.ID)
			}
		case *gitlab.IssueEvent:
			if ev.ObjectAttributes.IID != int64(is.IID) {
				t.Errorf("issue: got #%d, want #%d", ev.ObjectAttributes.IID, is.IID)
			}
		case *gitlab.PipelineEvent:
			if ev.ObjectAttributes.ID != int64(pl.ID) {
				t.Errorf("pipeline: got %d, want %d", ev.ObjectAttributes.ID, pl.ID)
			}
		}
	}
	want := map[string]int{sim.HookPush: 3, sim.HookMergeRequest: 4, sim.HookNote: 1, sim.HookIssue: 2, sim.HookPipeline: 2}
	if !maps.Equal(count, want) {
		t.Errorf("deliveries by event: got %v, want %v", count, want)
	}
	var dropped []string
	for _, d := range e.sim.HookDeliveries() {
		if d.Dropped {
			dropped = append(dropped, d.Event)
		}
	}
	// The drop hits the event queued after DropHooks, whatever the
	// sender still had on its way (the merge's deliveries).
	if !slices.Equal(dropped, []string{sim.HookIssue}) {
		t.Errorf("dropped deliveries: got %v, want [%s] (the one queued after DropHooks)", dropped, sim.HookIssue)
	}
}
