// Package sync keeps a course's GitLab activity in DynamoDB, asking GitLab
// as little as possible.
//
// The scheduler runs per course: it lists the teams (descendant groups) and
// projects, reads the course's changed merge requests and issues with one
// paginated group-level call each (updated_after the course cursor), stores
// them, and sends one SQS message per project that has work: its changed
// merge requests (notes, approvals, closed issues) and, unless provably
// unnecessary, a repository poll (members, commits, pipelines).
//
// The worker does a project's work, writes items as upserts by natural key,
// and only then advances the project's cursors, so a crash loses nothing and
// a redelivered message duplicates nothing. It watches its deadline and hands
// the rest of the work back to the queue instead of being cut off. After a
// project's work is complete it recomputes the project's aggregates from its
// items, which keeps them exact however often a message is delivered.
package sync

import (
	"strconv"
	"time"
)

// Task is one SQS message: the work on one project.
type Task struct {
	CourseID  int64 `json:"course_id"`
	ProjectID int64 `json:"project_id"`
	Repo      bool  `json:"repo,omitempty"` // members (unless SkipMembers), commits, pipelines
	// SkipMembers: a repository poll that leaves the members alone (the
	// scheduler saw no sign they changed, see NeedsMembers).
	SkipMembers bool `json:"skip_members,omitempty"`
	// Members asks for the members only (no repository poll).
	Members bool `json:"members,omitempty"`
	// Pipelines asks for the pipelines only: the scheduler's probe saw a
	// pipeline change in a project with no other sign of activity.
	Pipelines bool    `json:"pipelines,omitempty"`
	MRs       []int64 `json:"mrs,omitempty"` // merge requests whose notes and approvals to read
	// CommitsFrom is no longer used (commits are read by range from each
	// branch's last head, so a merge needs no read back); kept so that a
	// task queued by an earlier release still parses.
	CommitsFrom *time.Time `json:"commits_from,omitempty"`
	// ScheduledAt is when the scheduler made the task: a repository poll
	// completed after it makes a duplicate delivery skip the poll.
	ScheduledAt time.Time `json:"scheduled_at"`
	// MembersDone: a continuation after the members were read.
	MembersDone bool `json:"members_done,omitempty"`
	// CommitsDone: a continuation after the commit read completed (only
	// the pipelines are left of the poll).
	CommitsDone bool `json:"commits_done,omitempty"`
	// Part counts continuations after a deadline (for logs).
	Part int `json:"part,omitempty"`
	// Plan asks for the course's scheduling now (project_id absent): the
	// API's "sync now" goes through the queue like any other work.
	Plan bool `json:"plan,omitempty"`
	// Hook asks for what the project's webhook marker says changed (see
	// hookmarker.go); HookN is the marker's count the task read, for its
	// release at the end (continuations carry it).
	Hook  bool  `json:"hook,omitempty"`
	HookN int64 `json:"hook_n,omitempty"`
}

// ProjectState is a project's sync cursors and status (item COURSE#<id> /
// SYNC#<project id>; the scheduler reads them all with one query).
type ProjectState struct {
	ProjectID int64 `json:"project_id" dynamodbav:"project_id"`
	// Heads is each branch's head commit as last read completely: the
	// next poll reads, per branch whose head moved, the range old..new.
	Heads map[string]string `json:"heads,omitempty" dynamodbav:"heads,omitempty"`
	// CommitDays: the project's commit days (commitdays.go) hold every
	// commit its heads cover, and its aggregate counts them; DaysRebuild:
	// a poll is reading every branch from the start to fill them; DaysOff:
	// a day had too many commits for one item, and the commit items are
	// counted instead.
	CommitDays  bool `json:"commit_days,omitempty" dynamodbav:"commit_days,omitempty"`
	DaysRebuild bool `json:"days_rebuild,omitempty" dynamodbav:"days_rebuild,omitempty"`
	DaysOff     bool `json:"days_off,omitempty" dynamodbav:"days_off,omitempty"`
	// Reading is a commit read cut short by the deadline: the next part
	// goes on at its page.
	Reading *BranchRead `json:"reading,omitempty" dynamodbav:"reading,omitempty"`
	// PipelinesAfter is the newest pipeline update synced, and
	// PipelinesAtCursor the ids of the pipelines updated at exactly that
	// time (GitLab's updated_after is inclusive: the scheduler's probe
	// tells them from a new update at the same millisecond).
	PipelinesAfter    *time.Time `json:"pipelines_after,omitempty" dynamodbav:"pipelines_after,omitempty"`
	PipelinesAtCursor []int64    `json:"pipelines_at_cursor,omitempty" dynamodbav:"pipelines_at_cursor,omitempty"`
	// RunningPipelines is how many pipelines were still running.
	RunningPipelines int `json:"running_pipelines" dynamodbav:"running_pipelines"`
	// RepoPolledAt is when the last complete repository poll started.
	RepoPolledAt *time.Time `json:"repo_polled_at,omitempty" dynamodbav:"repo_polled_at,omitempty"`
	// MembersReadAt is when the task that last read the members started
	// (absent: they were read with each repository poll).
	MembersReadAt *time.Time `json:"members_read_at,omitempty" dynamodbav:"members_read_at,omitempty"`
	// HookAt is when the last webhook task of the project started: its
	// webhooks are known to work while nothing GitLab shows is newer.
	HookAt *time.Time `json:"hook_at,omitempty" dynamodbav:"hook_at,omitempty"`

	// HandedBackTask and HandedBackPart: the last part this task (by its
	// ScheduledAt) was handed back as. A delivery of an earlier part is a
	// duplicate whose work goes on in that part: it is dropped, so that
	// duplicates never multiply the continuations.
	HandedBackTask *time.Time `json:"handed_back_task,omitempty" dynamodbav:"handed_back_task,omitempty"`
	HandedBackPart int        `json:"handed_back_part,omitempty" dynamodbav:"handed_back_part,omitempty"`

	LastSuccess     *time.Time `json:"last_success,omitempty" dynamodbav:"last_success,omitempty"`
	LastError       string     `json:"last_error,omitempty" dynamodbav:"last_error,omitempty"`
	LastErrorAt     *time.Time `json:"last_error_at,omitempty" dynamodbav:"last_error_at,omitempty"`
	LastErrorStatus int        `json:"last_error_status,omitempty" dynamodbav:"last_error_status,omitempty"`
	ItemsWritten    int64      `json:"items_written" dynamodbav:"items_written"`
}

// BranchRead is a commit read in progress: the revision range of one
// branch and the next page of it. The range names commits by SHA, so its
// pages stay put while people push.
type BranchRead struct {
	Branch string `json:"branch" dynamodbav:"branch"`
	Ref    string `json:"ref" dynamodbav:"ref"`
	Head   string `json:"head" dynamodbav:"head"`
	Page   int64  `json:"page" dynamodbav:"page"`
}

// CourseState is the scheduler's cursors for one course.
type CourseState struct {
	MRsAfter    *time.Time `json:"mrs_after,omitempty" dynamodbav:"mrs_after,omitempty"`
	IssuesAfter *time.Time `json:"issues_after,omitempty" dynamodbav:"issues_after,omitempty"`
	LastRun     *time.Time `json:"last_run,omitempty" dynamodbav:"last_run,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty" dynamodbav:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty" dynamodbav:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty" dynamodbav:"last_error_at,omitempty"`
	// Tasked are the projects the last successful run queued a task for;
	// the others it looked at and found unchanged (sync status counts
	// that run as their last sync).
	Tasked []int64 `json:"-" dynamodbav:"tasked,omitempty"`
	// Probed is when each project's pipelines were last checked (a probe
	// or a poll), by project id: a project whose webhooks work is probed
	// at most hourly, the safety net for a lost pipeline event.
	Probed map[string]time.Time `json:"-" dynamodbav:"probed,omitempty"`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func later(a *time.Time, b time.Time) *time.Time {
	if a == nil || b.After(*a) {
		return &b
	}
	return a
}
