package sync

import (
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// The scheduler's rules for what a project must have read, from what the
// project list and one pipelines probe show.

// The signs GitLab gives of a change, and how late they can be (checked
// against app/models/event.rb): an event (push, issue, merge request,
// comment, a member joining or leaving the project) moves last_activity_at
// to its time unless the last move is less than activityInterval old
// (reset_project_activity); a push, to any branch, moves updated_at to its
// time unless the last push's move is less than pushInterval old
// (set_last_repository_updated_at, touch_all). Pipelines move neither.
const (
	activityInterval = time.Hour
	pushInterval     = 5 * time.Minute
	// hookProbeInterval: a project whose webhooks work gets its pipelines
	// probe once in this long.
	hookProbeInterval = time.Hour
)

// NeedsRepoPoll decides whether a project's commits and pipelines must be
// read. A push at t shows as an updated_at at or after t - pushInterval,
// so commits are provably all read when the last complete poll started
// more than pushInterval after updated_at. The hourly last_activity_at
// adds one poll after each event it shows (a poll that started before it)
// and one after the hour that followed it closed, which also covers a
// GitLab that does not move updated_at on a push. So in the busy hour
// after activity a project costs its pipelines probe and nothing more
// (pipelinesChanged: no pipeline change moves either field).
func NeedsRepoPoll(p gitpulse.Project, st ProjectState, known bool, now time.Time) bool {
	if !known || st.RepoPolledAt == nil || st.Reading != nil {
		return true
	}
	if p.UpdatedAt.IsZero() { // a GitLab that does not list updated_at: the hourly rule alone
		return !st.RepoPolledAt.After(p.LastActivityAt.Add(activityInterval))
	}
	return !st.RepoPolledAt.After(p.UpdatedAt.Add(pushInterval)) || afterEventOrHour(*st.RepoPolledAt, p.LastActivityAt, now)
}

// NeedsMembers decides whether a project's members must be read. Nothing
// cheaper than the list proves they did not change: joining or leaving the
// project is an event, shown by last_activity_at within the hour, and a
// change in a group above it shows nowhere (a group Member Hook does, see
// the README). So they are read after each event last_activity_at shows
// and once after the hour that followed it closed: a change in the busy
// hour lands within the hour, not on every sync of it.
func NeedsMembers(p gitpulse.Project, st ProjectState, known bool, now time.Time) bool {
	read := st.MembersReadAt
	if read == nil {
		read = st.RepoPolledAt // read with every poll, before MembersReadAt
	}
	if !known || read == nil {
		return true
	}
	return afterEventOrHour(*read, p.LastActivityAt, now)
}

// afterEventOrHour: a read that started at read is out of date for a
// project whose last_activity_at is last when an event came after it
// started (last not before read), or when it started within the hour that
// followed last and that hour has closed since (an event in that hour
// moved nothing).
func afterEventOrHour(read, last, now time.Time) bool {
	closes := last.Add(activityInterval)
	return !read.After(last) || (!read.After(closes) && now.After(closes))
}

// HooksWork reports whether the project's webhooks are known to work: a
// webhook task ran after the latest change GitLab shows for it.
func HooksWork(p gitpulse.Project, st ProjectState) bool {
	return st.HookAt != nil && !st.HookAt.Before(p.UpdatedAt) && !st.HookAt.Before(p.LastActivityAt)
}
