// Project webhooks: the hooks of a project and the sender that POSTs
// GitLab's webhook payloads to them when activity is added.
//
// Checked against GitLab's documentation (docs.gitlab.com/user/project/
// integrations/webhooks, webhook_events, api/project_webhooks) and source
// (app/services/web_hook_service.rb#build_headers, lib/gitlab/web_hooks.rb):
// each delivery is a POST with Content-Type application/json, User-Agent
// GitLab/<version>, X-Gitlab-Event (<Kind> Hook), X-Gitlab-Instance (the
// instance URL), X-Gitlab-Webhook-UUID (per delivery), X-Gitlab-Event-UUID
// (per event, the same for every hook it goes to), Idempotency-Key (the
// same across retries of one delivery) and, when the hook has a secret
// token, X-Gitlab-Token. GitLab sends them from Sidekiq, asynchronously.
// Member events go to group webhooks only, so project hooks send none.
// System notes trigger no note hook; a commit pushed to an open merge
// request's source branch sends a push event and a merge request event
// (action "update").

package sim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Webhook event names (the X-Gitlab-Event header).
const (
	HookPush         = "Push Hook"
	HookMergeRequest = "Merge Request Hook"
	HookNote         = "Note Hook"
	HookIssue        = "Issue Hook"
	HookPipeline     = "Pipeline Hook"
)

// gitlabVersion is the version the simulator reports (GET /version) and
// sends in User-Agent.
const gitlabVersion = "17.9.0-ee"

// ProjectHook is a project webhook as GET /projects/:id/hooks shows it; the
// secret Token is stored but never shown, as in GitLab.
type ProjectHook struct {
	ID, ProjectID       int
	URL                 string
	Name, Description   string
	Token               string
	PushEvents          bool
	TagPushEvents       bool
	IssuesEvents        bool
	ConfidentialIssues  bool
	MergeRequestsEvents bool
	NoteEvents          bool
	ConfidentialNotes   bool
	PipelineEvents      bool
	JobEvents           bool
	EnableSSL           bool
	CreatedAt           time.Time
	// RecentFailures and DisabledUntil are GitLab's auto-disabling state
	// (hookdisable.go): failed deliveries in a row, and the end of a
	// temporary disablement.
	RecentFailures int
	DisabledUntil  time.Time
	// instance is the URL the hook was created through (X-Gitlab-Instance).
	instance string
}

// wants reports whether the hook takes the event.
func (h *ProjectHook) wants(event string) bool {
	switch event {
	case HookPush:
		return h.PushEvents
	case HookMergeRequest:
		return h.MergeRequestsEvents
	case HookNote:
		return h.NoteEvents
	case HookIssue:
		return h.IssuesEvents
	case HookPipeline:
		return h.PipelineEvents
	}
	return false
}

// HookDelivery is one webhook delivery: sent (Status is the receiver's
// answer, 0 with Err when there was none) or dropped by DropHooks.
type HookDelivery struct {
	HookID, ProjectID int
	Event             string
	EventUUID         string
	Status            int
	Err               string
	Dropped           bool
	// Queued is when the change happened, Sent when the answer came.
	Queued, Sent time.Time
}

// hookState is the hooks and the sender's bookkeeping. The hooks are
// guarded by Sim.mu, the deliveries by their own mutex (they finish
// outside Sim.mu).
type hookState struct {
	hooks    map[int]*ProjectHook
	nextHook int

	mu         sync.Mutex
	drop       int
	deliveries []HookDelivery
	inflight   sync.WaitGroup
	client     *http.Client
	// senders bounds the deliveries in flight, as GitLab's Sidekiq pool
	// of WebHookWorker jobs does: an unbounded burst would put a hundred
	// requests at once on a receiver that serves one at a time (the
	// emulator), and the later ones would meet the 10 s timeout queued
	// behind the others rather than in their own handling.
	senders chan struct{}
}

// hookSenders is how many deliveries the sim sends at once.
const hookSenders = 4

func newHookState() *hookState {
	return &hookState{hooks: map[int]*ProjectHook{}, nextHook: 1, client: &http.Client{Timeout: 10 * time.Second}, senders: make(chan struct{}, hookSenders)}
}

// AddProjectHook adds a webhook to a project, as POST /projects/:id/hooks
// does, and returns it. It fails for an unknown project.
func (s *Sim) AddProjectHook(h ProjectHook) (ProjectHook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projects[h.ProjectID] == nil {
		return ProjectHook{}, fmt.Errorf("add hook: project %d: %w", h.ProjectID, errNotFound)
	}
	return *s.addHookLocked(h, "http://gitlab.sim"), nil
}

func (s *Sim) addHookLocked(h ProjectHook, instance string) *ProjectHook {
	hs := s.hooks
	h.ID, h.CreatedAt, h.instance = hs.nextHook, stamp(s.now()), instance
	hs.nextHook++
	hs.hooks[h.ID] = &h
	return &h
}

// ProjectHooks returns a project's webhooks by id.
func (s *Sim) ProjectHooks(projectID int) []ProjectHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ProjectHook
	for _, h := range s.projectHooksLocked(projectID) {
		out = append(out, *h)
	}
	return out
}

func (s *Sim) projectHooksLocked(projectID int) []*ProjectHook {
	var out []*ProjectHook
	for _, h := range s.hooks.hooks {
		if h.ProjectID == projectID {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b *ProjectHook) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// DropHooks makes the sender drop the next n deliveries queued after the
// call (a lost webhook: GitLab gave up, or the network lost it). They are
// recorded as dropped. Which deliveries is decided when they are queued,
// not when the asynchronous sender reaches them, so that a delivery queued
// before the call and still on its way is never the one dropped.
func (s *Sim) DropHooks(n int) {
	hs := s.hooksNow()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.drop += n
}

// HookDeliveries returns the deliveries made or dropped so far, in the
// order they finished.
func (s *Sim) HookDeliveries() []HookDelivery {
	hs := s.hooksNow()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return slices.Clone(hs.deliveries)
}

// WaitHooks waits until every delivery queued so far has been answered or
// dropped.
func (s *Sim) WaitHooks() { s.hooksNow().inflight.Wait() }

func (s *Sim) hooksNow() *hookState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hooks
}

// emitLocked queues event to every hook of the project that takes it and
// is executable (a disabled hook's events are lost); payload builds the
// body (under s.mu, only when a hook wants it). Delivery is asynchronous,
// as GitLab's WebHookWorker.
func (s *Sim) emitLocked(projectID int, event string, payload func() map[string]any) {
	if s.hooks == nil || len(s.hooks.hooks) == 0 {
		return
	}
	var targets []*ProjectHook
	now := s.now()
	for _, h := range s.projectHooksLocked(projectID) {
		if h.wants(event) && s.hookStatusLocked(h, now) == HookExecutable {
			targets = append(targets, h)
		}
	}
	if len(targets) == 0 {
		return
	}
	ev := payload()
	hs := s.hooks
	eventUUID := uuid()
	for _, h := range targets {
		d, refused := s.newDeliveryLocked(h, event, ev)
		if refused != nil {
			return
		}
		d.eventUUID = eventUUID
		hs.mu.Lock()
		if hs.drop > 0 {
			hs.drop--
			d.dropped = true
		}
		hs.mu.Unlock()
		hs.inflight.Add(1)
		go s.deliver(d)
	}
}

// newDeliveryLocked is one delivery of event to h, queued now.
func (s *Sim) newDeliveryLocked(h *ProjectHook, event string, ev map[string]any) (delivery, *apiError) {
	body, err := json.Marshal(ev)
	if err != nil {
		return delivery{}, &apiError{status: http.StatusInternalServerError, body: messageBody{"500 Internal Server Error"}}
	}
	return delivery{state: s.hooks, hook: *h, event: event, eventUUID: uuid(), body: body, queued: s.now()}, nil
}

type delivery struct {
	state     *hookState // the hooks it belongs to (a Reset makes new ones)
	hook      ProjectHook
	event     string
	eventUUID string
	body      []byte
	queued    time.Time
	dropped   bool // DropHooks chose it when it was queued
}

// deliver POSTs one delivery, or drops it when DropHooks asked for that,
// and records its outcome on the hook (auto-disabling).
func (s *Sim) deliver(d delivery) {
	hs := d.state
	defer hs.inflight.Done()
	rec := HookDelivery{HookID: d.hook.ID, ProjectID: d.hook.ProjectID, Event: d.event, EventUUID: d.eventUUID, Queued: d.queued}
	if d.dropped {
		rec.Dropped, rec.Sent = true, time.Now()
		hs.mu.Lock()
		hs.deliveries = append(hs.deliveries, rec)
		hs.mu.Unlock()
		return
	}
	hs.senders <- struct{}{}
	status, _, err := hs.send(d)
	<-hs.senders
	rec.Status = status
	if err != nil {
		rec.Err = err.Error()
	}
	rec.Sent = time.Now()
	s.mu.Lock()
	s.hookAnsweredLocked(hs, d.hook.ID, deliveryOK(status, err))
	s.mu.Unlock()
	hs.mu.Lock()
	hs.deliveries = append(hs.deliveries, rec)
	hs.mu.Unlock()
}

// send POSTs d with GitLab's headers and returns the receiver's status and
// the start of its body.
func (hs *hookState) send(d delivery) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.URL, bytes.NewReader(d.body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitLab/"+gitlabVersion)
	req.Header.Set("X-Gitlab-Event", d.event)
	req.Header.Set("X-Gitlab-Instance", d.hook.instance)
	req.Header.Set("X-Gitlab-Webhook-UUID", uuid())
	req.Header.Set("X-Gitlab-Event-UUID", d.eventUUID)
	req.Header.Set("Idempotency-Key", uuid())
	if d.hook.Token != "" {
		req.Header.Set("X-Gitlab-Token", d.hook.Token)
	}
	resp, err := hs.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode, string(body), nil
}

// uuid is a random version 4 UUID.
func uuid() string {
	b := []byte(randomHex(16))
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}

// Payloads, with the fields GitLab's documentation shows for each event
// (docs.gitlab.com/user/project/integrations/webhook_events).

func (s *Sim) hookUserLocked(id int) map[string]any {
	u := s.users[id]
	if u == nil {
		return nil
	}
	return map[string]any{"id": u.ID, "name": u.Name, "username": u.Username, "email": "[REDACTED]"}
}

func (s *Sim) hookProjectLocked(p *Project) map[string]any {
	path := s.projectFullPathLocked(p)
	ns := ""
	if g := s.groups[p.GroupID]; g != nil {
		ns = g.Name
	}
	return map[string]any{"id": p.ID, "name": p.Name, "description": "", "web_url": "http://gitlab.sim/" + path,
		"namespace": ns, "path_with_namespace": path, "default_branch": defaultBranch, "visibility_level": 0}
}

// hookTime is how the issue and merge request payloads write times.
func hookTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// hookUTC is how the note and pipeline payloads write times.
func hookUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// hookPushLocked sends the push event of commit c on branch (before is
// the branch head before it).
func (s *Sim) hookPushLocked(p *Project, branch, before string, c *Commit) {
	s.emitLocked(p.ID, HookPush, func() map[string]any { return s.pushEventLocked(p, branch, before, c, c.AuthorID) })
}

// pushEventLocked is the push payload of commit c (none: an empty
// repository) on branch, pushed by user by; before "" is a new branch.
func (s *Sim) pushEventLocked(p *Project, branch, before string, c *Commit, by int) map[string]any {
	zero := strings.Repeat("0", 40)
	after, commits := zero, []map[string]any{}
	if c != nil {
		after = c.SHA
		commits = append(commits, map[string]any{"id": c.SHA, "message": c.Message, "title": c.Title,
			"timestamp": c.CommittedDate.Format(hookCommitTimeFormat), "author": map[string]any{"name": c.AuthorName, "email": c.AuthorEmail},
			"added": []string{}, "modified": []string{}, "removed": []string{}})
	}
	ev := map[string]any{
		"object_kind": "push", "event_name": "push", "before": cmp.Or(before, zero), "after": after,
		"ref": "refs/heads/" + branch, "ref_protected": branch == defaultBranch, "checkout_sha": after,
		"project_id": p.ID, "project": s.hookProjectLocked(p), "total_commits_count": len(commits), "commits": commits,
	}
	if u := s.users[by]; u != nil {
		ev["user_id"], ev["user_name"], ev["user_username"] = u.ID, u.Name, u.Username
	}
	return ev
}

// hookMRLocked sends a merge request event with action (open, update,
// approved, merge, close).
func (s *Sim) hookMRLocked(m *MergeRequest, action string, by int) {
	if s == nil {
		return
	}
	p := s.projects[m.ProjectID]
	if p == nil {
		return
	}
	s.emitLocked(p.ID, HookMergeRequest, func() map[string]any {
		return map[string]any{
			"object_kind": "merge_request", "event_type": "merge_request", "user": s.hookUserLocked(by),
			"project": s.hookProjectLocked(p), "object_attributes": s.hookMRAttrsLocked(m, action),
		}
	})
}

func (s *Sim) hookMRAttrsLocked(m *MergeRequest, action string) map[string]any {
	attrs := map[string]any{
		"id": m.ID, "iid": m.IID, "title": m.Title, "state": m.State, "author_id": m.AuthorID,
		"source_branch": m.SourceBranch, "target_branch": m.TargetBranch, "source_project_id": m.ProjectID, "target_project_id": m.ProjectID,
		"created_at": hookTime(m.CreatedAt), "updated_at": hookTime(m.UpdatedAt), "merge_commit_sha": m.MergeCommitSHA,
	}
	if action != "" {
		attrs["action"] = action
	}
	return attrs
}

// hookNoteLocked sends the note event of a user note on a merge request.
func (s *Sim) hookNoteLocked(m *MergeRequest, n Note) {
	p := s.projects[m.ProjectID]
	if p == nil || n.System {
		return
	}
	s.emitLocked(p.ID, HookNote, func() map[string]any {
		return map[string]any{
			"object_kind": "note", "event_type": "note", "user": s.hookUserLocked(n.AuthorID), "project_id": p.ID,
			"project": s.hookProjectLocked(p),
			"object_attributes": map[string]any{"id": n.ID, "note": n.Body, "noteable_type": "MergeRequest", "author_id": n.AuthorID,
				"created_at": hookUTC(n.CreatedAt), "updated_at": hookUTC(n.UpdatedAt), "project_id": p.ID, "noteable_id": m.ID, "system": false},
			"merge_request": s.hookMRAttrsLocked(m, ""),
		}
	})
}

// hookIssueLocked sends an issue event with action (open, close).
func (s *Sim) hookIssueLocked(is *Issue, action string, by int) {
	if s == nil {
		return
	}
	p := s.projects[is.ProjectID]
	if p == nil {
		return
	}
	s.emitLocked(p.ID, HookIssue, func() map[string]any {
		return map[string]any{
			"object_kind": "issue", "event_type": "issue", "user": s.hookUserLocked(by), "project": s.hookProjectLocked(p),
			"object_attributes": map[string]any{"id": is.ID, "iid": is.IID, "title": is.Title, "state": is.State, "action": action,
				"author_id": is.AuthorID, "project_id": p.ID, "created_at": hookTime(is.CreatedAt), "updated_at": hookTime(is.UpdatedAt)},
		}
	})
}

// hookPipelineLocked sends a pipeline event (every status change).
func (s *Sim) hookPipelineLocked(pl *Pipeline) {
	if s == nil {
		return
	}
	p := s.projects[pl.ProjectID]
	if p == nil {
		return
	}
	s.emitLocked(p.ID, HookPipeline, func() map[string]any {
		attrs := map[string]any{"id": pl.ID, "iid": pl.IID, "ref": pl.Ref, "sha": pl.SHA, "status": pl.Status, "source": pl.Source,
			"created_at": hookUTC(pl.CreatedAt), "finished_at": nil, "duration": pl.Duration}
		if pl.FinishedAt != nil {
			attrs["finished_at"] = hookUTC(*pl.FinishedAt)
		}
		return map[string]any{"object_kind": "pipeline", "object_attributes": attrs, "user": s.hookUserLocked(pl.UserID),
			"project": s.hookProjectLocked(p)}
	})
}
