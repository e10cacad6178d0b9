// Registering a course's project webhooks on GitLab (the project hooks
// API, docs.gitlab.com/api/project_webhooks: Maintainer role and the api
// scope).

package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
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
	// AlertStatus is GitLab's for the hook after the registration:
	// executable, or temporarily_disabled / disabled when GitLab
	// auto-disabled it after failed deliveries and the test delivery that
	// re-enables it did not succeed (Problem says why).
	AlertStatus string `json:"alert_status"`
	// Reenabled: the hook was disabled and a test delivery re-enabled it.
	Reenabled bool   `json:"reenabled,omitempty"`
	Problem   string `json:"problem,omitempty"`
}

// RegisterHooks makes sure each project has one hook to url with secret
// and HookEvents: an existing hook to url is updated (so a new secret
// takes over), none is created. Safe to repeat: it never adds a second
// hook to the same url. A hook GitLab auto-disabled after failed
// deliveries (alert_status temporarily_disabled or disabled) is re-enabled
// the one way GitLab offers, a test delivery that succeeds (POST
// /projects/:id/hooks/:hook_id/test/push_events; editing leaves it
// disabled); when that fails the registration says so and goes on. It
// stops at the first project whose hooks the token may not manage, with
// ErrHooksNotAllowed and the projects done so far.
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
				done = append(done, reenable(ctx, api, HookRegistration{ProjectID: pid, HookID: h.ID, Action: "updated", AlertStatus: h.AlertStatus}))
			}
		} else if err == nil {
			var h *gl.ProjectHook
			h, _, err = api.Projects.AddProjectHook(pid, &gl.AddProjectHookOptions{Name: gl.Ptr("gitpulse"), URL: gl.Ptr(url), Token: gl.Ptr(secret.Reveal()),
				PushEvents: on, MergeRequestsEvents: on, NoteEvents: on, ConfidentialNoteEvents: on, IssuesEvents: on,
				ConfidentialIssuesEvents: on, PipelineEvents: on, TagPushEvents: gl.Ptr(false), EnableSSLVerification: on}, gl.WithContext(ctx))
			if err == nil {
				done = append(done, HookRegistration{ProjectID: pid, HookID: h.ID, Action: "created", AlertStatus: cmp.Or(h.AlertStatus, hookExecutable)})
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

// hookExecutable is the alert_status of a hook GitLab sends events to.
const hookExecutable = "executable"

// reenable sends a test push to a hook GitLab disabled, which re-enables
// it when GitPulse's webhook route answers 2xx (it does for a push: one
// repository poll of the project), and reads the hook's status again.
func reenable(ctx context.Context, api *gl.Client, r HookRegistration) HookRegistration {
	if r.AlertStatus == "" || r.AlertStatus == hookExecutable {
		r.AlertStatus = hookExecutable
		return r
	}
	if _, err := api.Projects.TriggerTestProjectHook(r.ProjectID, r.HookID, gl.ProjectHookEventPush, gl.WithContext(ctx)); err != nil {
		r.Problem = "GitLab disabled this hook after failed deliveries, and the test delivery that would re-enable it failed: " +
			redact.String(err.Error()) + "; once GitPulse's URL answers, use Test → Push events in the project's Settings → Webhooks, or register again"
		return r
	}
	if h, _, err := api.Projects.GetProjectHook(r.ProjectID, r.HookID, gl.WithContext(ctx)); err == nil {
		r.AlertStatus = h.AlertStatus
	} else {
		r.AlertStatus = hookExecutable // the test succeeded, which re-enables it
	}
	r.Reenabled = r.AlertStatus == hookExecutable
	return r
}
