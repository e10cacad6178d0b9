// Registering a course's project webhooks on GitLab (the project hooks
// API, docs.gitlab.com/api/project_webhooks: Maintainer role and the api
// scope).

package sync

import (
	"context"
	"errors"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// HookEvents are the events GitPulse's hooks subscribe to (the project
// hook's *_events fields).
var HookEvents = []string{"push_events", "merge_requests_events", "note_events", "confidential_note_events",
	"issues_events", "confidential_issues_events", "pipeline_events"}

// ErrHooksNotAllowed is RegisterHooks' error when the token may not manage
// a project's hooks (it needs the Maintainer role and the api scope): the
// operator then adds them by hand.
var ErrHooksNotAllowed = errors.New("the GitLab token may not manage project webhooks (it needs the Maintainer role and the api scope)")

// HookRegistration is what RegisterHooks did to one project.
type HookRegistration struct {
	ProjectID int64  `json:"project_id"`
	HookID    int64  `json:"hook_id"`
	Action    string `json:"action"` // created or updated
}

// RegisterHooks makes sure each project has one hook to url with secret
// and HookEvents: an existing hook to url is updated (so a new secret
// takes over), none is created. Safe to repeat: it never adds a second
// hook to the same url. It stops at the first project whose hooks the
// token may not manage, with ErrHooksNotAllowed and the projects done so
// far.
func (s *Scheduler) RegisterHooks(ctx context.Context, projects []int64, url string, secret gitpulse.Secret) ([]HookRegistration, error) {
	api, err := s.GitLab.API(ctx)
	if err != nil {
		return nil, err
	}
	on := gl.Ptr(true)
	var done []HookRegistration
	for _, pid := range projects {
		var found *gl.ProjectHook
		err := pages(ctx, func(page int64) (*gl.Response, error) {
			hs, resp, err := api.Projects.ListProjectHooks(pid, &gl.ListProjectHooksOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
			for _, h := range hs {
				if h.URL == url && found == nil {
					found = h
				}
			}
			return resp, err
		}, func() bool { return found != nil })
		if err == nil && found != nil {
			var h *gl.ProjectHook
			h, _, err = api.Projects.EditProjectHook(pid, found.ID, &gl.EditProjectHookOptions{URL: gl.Ptr(url), Token: gl.Ptr(secret.Reveal()),
				PushEvents: on, MergeRequestsEvents: on, NoteEvents: on, ConfidentialNoteEvents: on, IssuesEvents: on,
				ConfidentialIssuesEvents: on, PipelineEvents: on, TagPushEvents: gl.Ptr(false), EnableSSLVerification: on}, gl.WithContext(ctx))
			if err == nil {
				done = append(done, HookRegistration{ProjectID: pid, HookID: h.ID, Action: "updated"})
			}
		} else if err == nil {
			var h *gl.ProjectHook
			h, _, err = api.Projects.AddProjectHook(pid, &gl.AddProjectHookOptions{Name: gl.Ptr("gitpulse"), URL: gl.Ptr(url), Token: gl.Ptr(secret.Reveal()),
				PushEvents: on, MergeRequestsEvents: on, NoteEvents: on, ConfidentialNoteEvents: on, IssuesEvents: on,
				ConfidentialIssuesEvents: on, PipelineEvents: on, TagPushEvents: gl.Ptr(false), EnableSSLVerification: on}, gl.WithContext(ctx))
			if err == nil {
				done = append(done, HookRegistration{ProjectID: pid, HookID: h.ID, Action: "created"})
			}
		}
		if err != nil {
			if f := gitlab.Classify(err); f != nil && (f.Status == 401 || f.Status == 403) {
				return done, fmt.Errorf("project %d: %w", pid, ErrHooksNotAllowed)
			}
			return done, fmt.Errorf("register the webhook of project %d: %w", pid, err)
		}
	}
	return done, nil
}
