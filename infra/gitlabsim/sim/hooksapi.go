// The project webhooks API (docs.gitlab.com/api/project_webhooks;
// lib/api/project_hooks.rb and lib/api/entities/project_hook.rb in
// GitLab's source): list, get, add, edit and delete a project's hooks.

package sim

import (
	"net/http"
	"net/url"
	"strconv"
)

// hookRoutes registers the project hooks routes. Every one needs the
// Maintainer role in the project (GitLab's admin_project); a caller who
// does not see the project gets 404 Project Not Found; writes need the
// api scope (read_api covers GET requests only), one with a lower
// role 403; an unknown hook id is 404 Not found. The token is write-only:
// no answer shows it.
func (s *Sim) hookRoutes(m *http.ServeMux) {
	m.Handle("GET /api/v4/projects/{id}/hooks", s.api(readAPI, s.hookOp(http.StatusOK, false, s.listHooks)))
	m.Handle("GET /api/v4/projects/{id}/hooks/{hook_id}", s.api(readAPI, s.hookOp(http.StatusOK, true, s.getHook)))
	m.Handle("POST /api/v4/projects/{id}/hooks", s.api(writeAPI, s.hookOp(http.StatusCreated, false, s.addHook)))
	m.Handle("PUT /api/v4/projects/{id}/hooks/{hook_id}", s.api(writeAPI, s.hookOp(http.StatusOK, true, s.editHook)))
	m.Handle("DELETE /api/v4/projects/{id}/hooks/{hook_id}", s.api(writeAPI, s.hookOp(http.StatusNoContent, true, s.deleteHook)))
	m.Handle("POST /api/v4/projects/{id}/hooks/{hook_id}/test/{trigger}", s.api(writeAPI, s.testHook))
}

// hookReq is one hooks request: the project, and the hook its path names.
type hookReq struct {
	*readReq
	p    *Project
	hook *ProjectHook
}

// hookOp wraps a hooks handler: parameters, the live caller, the project
// with the Maintainer role, the hook (withHook), then op under s.mu; its
// body is written with status (none for 204).
func (s *Sim) hookOp(status int, withHook bool, op func(*hookReq) (any, *apiError)) func(http.ResponseWriter, *http.Request, caller) {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		body, refused := s.hookCall(w, r, c, withHook, op)
		switch {
		case refused != nil:
			refused.write(w)
		case status == http.StatusNoContent:
			w.WriteHeader(status)
		default:
			writeJSON(w, status, body)
		}
	}
}

// hookCall reads the parameters, checks the live caller and runs op on the
// project (and the hook, withHook) under s.mu.
func (s *Sim) hookCall(w http.ResponseWriter, r *http.Request, c caller, withHook bool, op func(*hookReq) (any, *apiError)) (any, *apiError) {
	q, refused := readParams(r)
	if refused != nil {
		return nil, refused
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, _, refused := s.liveLocked(c)
	if refused != nil {
		return nil, refused
	}
	return s.hookLocked(&readReq{s: s, w: w, r: r, q: q, u: u, now: s.now(), base: baseURL(r)}, withHook, op)
}

func (s *Sim) hookLocked(rq *readReq, withHook bool, op func(*hookReq) (any, *apiError)) (any, *apiError) {
	p, _, refused := rq.project(levelMaintainer)
	if refused != nil {
		return nil, refused
	}
	hr := &hookReq{readReq: rq, p: p}
	if withHook {
		id, err := strconv.Atoi(rq.r.PathValue("hook_id"))
		h := s.hooks.hooks[id]
		if err != nil || h == nil || h.ProjectID != p.ID {
			return nil, errRecordNotFound
		}
		hr.hook = h
	}
	return op(hr)
}

func (s *Sim) listHooks(hr *hookReq) (any, *apiError) {
	hooks := s.projectHooksLocked(hr.p.ID)
	lo, hi, refused := hr.page(len(hooks))
	if refused != nil {
		return nil, refused
	}
	out := []hookJSON{}
	for _, h := range hooks[lo:hi] {
		out = append(out, hr.hookJSON(h))
	}
	return out, nil
}

func (s *Sim) getHook(hr *hookReq) (any, *apiError) { return hr.hookJSON(hr.hook), nil }

func (s *Sim) addHook(hr *hookReq) (any, *apiError) {
	h := ProjectHook{ProjectID: hr.p.ID, PushEvents: true, EnableSSL: true}
	if refused := hr.applyHookParams(&h, true); refused != nil {
		return nil, refused
	}
	return hr.hookJSON(s.addHookLocked(h, hr.base)), nil
}

func (s *Sim) editHook(hr *hookReq) (any, *apiError) {
	h := *hr.hook
	if refused := hr.applyHookParams(&h, false); refused != nil {
		return nil, refused
	}
	*hr.hook = h
	return hr.hookJSON(hr.hook), nil
}

func (s *Sim) deleteHook(hr *hookReq) (any, *apiError) {
	delete(s.hooks.hooks, hr.hook.ID)
	return nil, nil
}

// applyHookParams sets the hook's fields from the request's parameters;
// url is required when adding. A URL that is not http or https is GitLab's
// model validation error (400 with the field's messages).
func (hr *hookReq) applyHookParams(h *ProjectHook, adding bool) *apiError {
	chk := &validation{}
	if u, ok := hr.q.str(chk, "url", adding); ok {
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return &apiError{status: http.StatusBadRequest, body: map[string]any{"message": map[string][]string{"url": {"is blocked: Only allowed schemes are http, https"}}}}
		}
		h.URL = u
	}
	if refused := chk.err(); refused != nil {
		return refused
	}
	if v, ok := hr.q.str(chk, "token", false); ok {
		h.Token = v
	}
	if v, ok := hr.q.str(chk, "name", false); ok {
		h.Name = v
	}
	if v, ok := hr.q.str(chk, "description", false); ok {
		h.Description = v
	}
	for name, field := range map[string]*bool{
		"push_events": &h.PushEvents, "tag_push_events": &h.TagPushEvents, "issues_events": &h.IssuesEvents,
		"confidential_issues_events": &h.ConfidentialIssues, "merge_requests_events": &h.MergeRequestsEvents,
		"note_events": &h.NoteEvents, "confidential_note_events": &h.ConfidentialNotes, "pipeline_events": &h.PipelineEvents,
		"job_events": &h.JobEvents, "enable_ssl_verification": &h.EnableSSL,
	} {
		if v, ok := hr.q.boolean(chk, name); ok {
			*field = v
		}
	}
	return chk.err()
}

// hookJSON is Entities::ProjectHook (the token is never shown).
type hookJSON struct {
	ID                        int      `json:"id"`
	URL                       string   `json:"url"`
	Name                      string   `json:"name"`
	Description               string   `json:"description"`
	ProjectID                 int      `json:"project_id"`
	PushEvents                bool     `json:"push_events"`
	PushEventsBranchFilter    string   `json:"push_events_branch_filter"`
	IssuesEvents              bool     `json:"issues_events"`
	ConfidentialIssuesEvents  bool     `json:"confidential_issues_events"`
	MergeRequestsEvents       bool     `json:"merge_requests_events"`
	TagPushEvents             bool     `json:"tag_push_events"`
	NoteEvents                bool     `json:"note_events"`
	ConfidentialNoteEvents    bool     `json:"confidential_note_events"`
	JobEvents                 bool     `json:"job_events"`
	PipelineEvents            bool     `json:"pipeline_events"`
	WikiPageEvents            bool     `json:"wiki_page_events"`
	DeploymentEvents          bool     `json:"deployment_events"`
	ReleasesEvents            bool     `json:"releases_events"`
	EnableSSLVerification     bool     `json:"enable_ssl_verification"`
	RepositoryUpdateEvents    bool     `json:"repository_update_events"`
	AlertStatus               string   `json:"alert_status"`
	DisabledUntil             *string  `json:"disabled_until"`
	URLVariables              []string `json:"url_variables"`
	CreatedAt                 string   `json:"created_at"`
	ResourceAccessTokenEvents bool     `json:"resource_access_token_events"`
	CustomWebhookTemplate     string   `json:"custom_webhook_template"`
}

// hookJSON is h as the API shows it now, its alert status included.
func (hr *hookReq) hookJSON(h *ProjectHook) hookJSON {
	var until *string
	if !h.DisabledUntil.IsZero() {
		until = new(fmtTime(h.DisabledUntil))
	}
	return hookJSON{
		AlertStatus: hr.s.hookStatusLocked(h, hr.now), DisabledUntil: until,
		ID: h.ID, URL: h.URL, Name: h.Name, Description: h.Description, ProjectID: h.ProjectID,
		PushEvents: h.PushEvents, IssuesEvents: h.IssuesEvents, ConfidentialIssuesEvents: h.ConfidentialIssues,
		MergeRequestsEvents: h.MergeRequestsEvents, TagPushEvents: h.TagPushEvents, NoteEvents: h.NoteEvents,
		ConfidentialNoteEvents: h.ConfidentialNotes, JobEvents: h.JobEvents, PipelineEvents: h.PipelineEvents,
		EnableSSLVerification: h.EnableSSL, URLVariables: []string{}, CreatedAt: fmtTime(h.CreatedAt),
	}
}
