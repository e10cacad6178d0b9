// Failing project webhooks: GitLab's auto-disabling and the test API that
// re-enables a hook.
//
// Checked against GitLab's source: app/models/concerns/web_hooks/
// auto_disabling.rb (GitLab 17.11 and later, after MR 166329 made 4xx and
// 5xx answers alike): a hook's recent_failures grows by one with each
// failed delivery (an answer outside 2xx/3xx, or none); from the fourth it
// is temporarily disabled until now + 1 minute × 2^(failures before it − 3),
// at most a day, and after the fortieth for good (alert_status "disabled");
// a delivery that succeeds resets both. Only project hooks are
// auto-disabled, and only where the ops feature flag auto_disabling_web_hooks
// is on: on GitLab.com, and on self-managed instances off by default
// (gitlab-org/gitlab#390157), so the simulator's default is off
// (SetHookAutoDisabling). A hook that is not executable is not sent (its
// events are lost; GitLab keeps no queue for it). POST
// /projects/:id/hooks/:hook_id/test/:trigger (lib/api/hooks/test.rb,
// docs.gitlab.com/api/project_webhooks#trigger-a-test-project-webhook)
// sends a sample event at once, disabled or not, answers 201 when the
// receiver answered 2xx and 422 with its answer otherwise, and a success
// re-enables the hook; it is limited to 5 requests a minute for each
// project and user (GitLab 17.1).

package sim

import (
	"net/http"
	"strconv"
	"time"
)

const (
	hookTempThreshold  = 3  // TEMPORARILY_DISABLED_FAILURE_THRESHOLD
	hookPermThreshold  = 39 // PERMANENTLY_DISABLED_FAILURE_THRESHOLD
	hookInitialBackoff = time.Minute
	hookMaxBackoff     = 24 * time.Hour
	hookTestsPerMinute = 5
)

// Hook alert statuses, as the hooks API shows them.
const (
	HookExecutable          = "executable"
	HookTemporarilyDisabled = "temporarily_disabled"
	HookDisabled            = "disabled"
)

// SetHookAutoDisabling turns GitLab's auto-disabling of failing project
// hooks on (GitLab.com, or a self-managed instance with the
// auto_disabling_web_hooks flag) or off (the self-managed default, and the
// simulator's).
func (s *Sim) SetHookAutoDisabling(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookAutoDisable = on
}

// hookStatusLocked is the hook's alert status at now.
func (s *Sim) hookStatusLocked(h *ProjectHook, now time.Time) string {
	switch {
	case !s.hookAutoDisable:
		return HookExecutable
	case h.RecentFailures > hookPermThreshold:
		return HookDisabled
	case h.RecentFailures > hookTempThreshold && !h.DisabledUntil.IsZero() && !h.DisabledUntil.Before(now):
		return HookTemporarilyDisabled
	}
	return HookExecutable
}

// hookAnsweredLocked records a delivery's outcome on the hook: enable! on
// success, backoff! on failure (auto_disabling.rb). A hook deleted since,
// or one of an earlier Reset, is left alone.
func (s *Sim) hookAnsweredLocked(hs *hookState, id int, ok bool) {
	h := hs.hooks[id]
	if h == nil || s.hooks != hs || !s.hookAutoDisable {
		return
	}
	if ok {
		h.RecentFailures, h.DisabledUntil = 0, time.Time{}
		return
	}
	now := s.now()
	if s.hookStatusLocked(h, now) != HookExecutable {
		return
	}
	if h.RecentFailures+1 > hookTempThreshold {
		// 1 minute × 2^n passes a day from n = 11 (GitLab's MAX_BACKOFF_COUNT).
		backoff := hookMaxBackoff
		if n := h.RecentFailures - hookTempThreshold; n < 11 {
			backoff = min(hookInitialBackoff<<n, hookMaxBackoff)
		}
		h.DisabledUntil = now.Add(backoff)
	}
	h.RecentFailures = min(h.RecentFailures+1, hookPermThreshold+1)
}

// deliveryOK is GitLab's :ok response category: a 2xx or 3xx answer.
func deliveryOK(status int, err error) bool { return err == nil && status >= 200 && status < 400 }

// testHook answers POST /projects/:id/hooks/:hook_id/test/:trigger.
func (s *Sim) testHook(w http.ResponseWriter, r *http.Request, c caller) {
	var d delivery
	_, refused := s.hookCall(w, r, c, true, func(hr *hookReq) (any, *apiError) {
		var refused *apiError
		d, refused = s.testDeliveryLocked(hr, r.PathValue("trigger"))
		return nil, refused
	})
	if refused != nil {
		refused.write(w)
		return
	}
	status, body, err := d.state.send(d)
	s.mu.Lock()
	s.hookAnsweredLocked(d.state, d.hook.ID, deliveryOK(status, err))
	s.mu.Unlock()
	if status < 200 || status > 299 || err != nil {
		msg := body
		if err != nil {
			msg = err.Error()
		}
		writeJSON(w, http.StatusUnprocessableEntity, messageBody{msg})
		return
	}
	writeJSON(w, http.StatusCreated, messageBody{"201 Created"})
}

// testDeliveryLocked checks the trigger and the test rate limit and builds
// the sample delivery (TestHooks::ProjectService: a push of the default
// branch's head by the caller).
func (s *Sim) testDeliveryLocked(hr *hookReq, trigger string) (delivery, *apiError) {
	if trigger != "push_events" {
		// GitLab takes every *_events trigger; the simulator builds the
		// sample of push events only.
		return delivery{}, &apiError{status: http.StatusBadRequest, body: messageBody{"trigger does not have a valid value"}}
	}
	if s.countLocked("hooktest:"+strconv.Itoa(hr.p.ID)+":"+strconv.Itoa(hr.u.ID), hr.now) > hookTestsPerMinute {
		return delivery{}, &apiError{status: http.StatusTooManyRequests, body: messageBody{"This endpoint has been requested too many times. Try again later."}}
	}
	var head *Commit
	before := ""
	if d := s.data[hr.p.ID]; d != nil {
		if br := d.branches[defaultBranch]; br != nil {
			head = d.bySHA[br.head]
		}
	}
	if head != nil && len(head.ParentIDs) > 0 {
		before = head.ParentIDs[0]
	}
	ev := s.pushEventLocked(hr.p, defaultBranch, before, head, hr.u.ID)
	return s.newDeliveryLocked(hr.hook, HookPush, ev)
}
