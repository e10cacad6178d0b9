package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// defaultBranch is the default branch of every project.
const defaultBranch = "main"

// activityInterval is how long GitLab waits before an event moves a
// project's last_activity_at again (Event::RESET_PROJECT_ACTIVITY_INTERVAL).
const activityInterval = time.Hour

// repositoryUpdateInterval is how long GitLab waits before a push moves a
// project's last_repository_updated_at (and with it updated_at) again
// (Event::REPOSITORY_UPDATED_AT_INTERVAL).
const repositoryUpdateInterval = 5 * time.Minute

// MR and issue states.
const (
	stateOpened = "opened"
	stateClosed = "closed"
	stateMerged = "merged"
)

// Pipeline statuses and sources GitLab knows. A pipeline in one of
// finishedStatuses has a finished_at.
var (
	pipelineStatuses = []string{
		"created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed", "canceled",
		"canceling", "skipped", "manual", "scheduled",
	}
	finishedStatuses = []string{"success", "failed", "canceled", "skipped"}
	pipelineSources  = []string{
		"push", "web", "trigger", "schedule", "api", "external", "pipeline", "chat", "webide",
		"merge_request_event", "external_pull_request_event", "parent_pipeline", "ondemand_dast_scan",
		"ondemand_dast_validation", "security_orchestration_policy", "container_registry_push", "duo_workflow",
		"pipeline_execution_policy_schedule",
	}
)

// Member is a user's effective membership of a project or group: the
// highest role among the memberships of the project and the groups above.
type Member struct {
	UserID      int
	Username    string
	Name        string
	AccessLevel int
	Bot         bool
}

// ProjectInfo is a project with the state the API shows.
type ProjectInfo struct {
	Project
	FullPath       string
	DefaultBranch  string
	Archived       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastActivityAt time.Time
}

// GroupInfo is a group with its full path ("course/team-01").
type GroupInfo struct {
	Group
	FullPath string
}

// branch is a branch of a project's repository.
type branch struct {
	name string
	head string // SHA of the newest commit; "" for an empty repository
	// commits are the commits pushed to the branch, oldest first.
	commits []*Commit
	// mr is the newest merge request from this branch.
	mr *MergeRequest
}

// projectData is a project's repository, merge requests, issues and
// pipelines, indexed for the list filters: every slice is sorted so a time
// filter is a binary search.
type projectData struct {
	createdAt, updatedAt, lastActivityAt time.Time
	// lastRepositoryUpdatedAt is GitLab's projects.last_repository_updated_at
	// (not in the API; it throttles the pushes' move of updated_at).
	lastRepositoryUpdatedAt time.Time
	archived                bool

	commits   []*Commit // every commit, by committed date, oldest first
	reachable []*Commit // the commits the default branch reaches, same order
	bySHA     map[string]*Commit
	branches  map[string]*branch

	mrs         []*MergeRequest // by iid: mrs[iid-1]
	mrsByUpdate []*MergeRequest // by (updated_at, id)
	issues      []*Issue        // by iid
	issuesByUpd []*Issue        // by (updated_at, id)
	pipelines   []*Pipeline     // by id
	pipesByUpd  []*Pipeline     // by (updated_at, id)

	// sim sends the webhooks of changes made through projectData's own
	// methods (hooks.go).
	sim *Sim
}

func newProjectData(now time.Time) *projectData {
	now = stamp(now)
	return &projectData{
		createdAt: now, updatedAt: now, lastActivityAt: now,
		bySHA:    map[string]*Commit{},
		branches: map[string]*branch{defaultBranch: {name: defaultBranch}},
	}
}

// stamp is t as GitLab renders it: UTC, to the millisecond.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// activity is GitLab's Event#reset_project_activity: an event (push,
// issue or merge request change, comment) at moves last_activity_at (and
// updated_at) to at, unless the last move was less than an hour before.
func (d *projectData) activity(at time.Time) {
	if at.Sub(d.lastActivityAt) >= activityInterval {
		d.lastActivityAt = at
		d.updatedAt = at
	}
}

// pushed is what a push event adds to activity, GitLab's
// Event#set_last_repository_updated_at: touch_all(:last_repository_updated_at,
// time: created_at) on a project whose last_repository_updated_at is older
// than five minutes, which moves updated_at as well (touch_all always sets
// updated_at). So a push at t shows as an updated_at at or after t - 5 min,
// on any branch, although last_activity_at moves only hourly.
func (d *projectData) pushed(at time.Time) {
	if d.lastRepositoryUpdatedAt.IsZero() || at.Sub(d.lastRepositoryUpdatedAt) > repositoryUpdateInterval {
		d.lastRepositoryUpdatedAt = at
		if at.After(d.updatedAt) {
			d.updatedAt = at
		}
	}
}

// byUpdate orders records by updated_at, then id.
func byUpdate(aAt time.Time, aID int, bAt time.Time, bID int) int {
	if c := aAt.Compare(bAt); c != 0 {
		return c
	}
	return cmp.Compare(aID, bID)
}

func mrKey(m *MergeRequest) (time.Time, int) { return m.UpdatedAt, m.ID }
func issueKey(i *Issue) (time.Time, int)     { return i.UpdatedAt, i.ID }
func pipeKey(p *Pipeline) (time.Time, int)   { return p.UpdatedAt, p.ID }

// insertByKey inserts x into s, sorted by key.
func insertByKey[T any](s []T, x T, key func(T) (time.Time, int)) []T {
	at, id := key(x)
	i, _ := slices.BinarySearchFunc(s, x, func(e, _ T) int {
		eAt, eID := key(e)
		return byUpdate(eAt, eID, at, id)
	})
	return slices.Insert(s, i, x)
}

// removeByKey removes x from s, sorted by key, x's key unchanged since it
// was inserted.
func removeByKey[T comparable](s []T, x T, key func(T) (time.Time, int)) []T {
	at, id := key(x)
	i, found := slices.BinarySearchFunc(s, x, func(e, _ T) int {
		eAt, eID := key(e)
		return byUpdate(eAt, eID, at, id)
	})
	if found && s[i] == x {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// fromTime is the index of the first element of s, sorted by key, updated
// at or after t.
func fromTime[T any](s []T, t time.Time, key func(T) (time.Time, int)) int {
	i, _ := slices.BinarySearchFunc(s, t, func(e T, t time.Time) int {
		at, _ := key(e)
		if at.Before(t) {
			return -1
		}
		return 1
	})
	return i
}

// afterTime is the index of the first element of s, sorted by key, updated
// after t.
func afterTime[T any](s []T, t time.Time, key func(T) (time.Time, int)) int {
	i, _ := slices.BinarySearchFunc(s, t, func(e T, t time.Time) int {
		at, _ := key(e)
		if at.After(t) {
			return 1
		}
		return -1
	})
	return i
}

func (d *projectData) touchMR(m *MergeRequest, at time.Time) {
	if at.After(m.UpdatedAt) {
		d.mrsByUpdate = removeByKey(d.mrsByUpdate, m, mrKey)
		m.UpdatedAt = at
		d.mrsByUpdate = insertByKey(d.mrsByUpdate, m, mrKey)
	}
}

func (d *projectData) touchIssue(is *Issue, at time.Time) {
	if at.After(is.UpdatedAt) {
		d.issuesByUpd = removeByKey(d.issuesByUpd, is, issueKey)
		is.UpdatedAt = at
		d.issuesByUpd = insertByKey(d.issuesByUpd, is, issueKey)
	}
}

// touchPipeline moves a pipeline's updated_at to at (GitLab moves it on
// every status change, whatever the previous value).
func (d *projectData) touchPipeline(p *Pipeline, at time.Time) {
	d.pipesByUpd = removeByKey(d.pipesByUpd, p, pipeKey)
	p.UpdatedAt = at
	d.pipesByUpd = insertByKey(d.pipesByUpd, p, pipeKey)
}

// mr returns the merge request with the given iid, or nil.
func (d *projectData) mr(iid int) *MergeRequest {
	if iid < 1 || iid > len(d.mrs) {
		return nil
	}
	return d.mrs[iid-1]
}

// issue returns the issue with the given iid, or nil.
func (d *projectData) issue(iid int) *Issue {
	if iid < 1 || iid > len(d.issues) {
		return nil
	}
	return d.issues[iid-1]
}

// pipeline returns the pipeline with the given instance-wide id, or nil.
func (d *projectData) pipeline(id int) *Pipeline {
	i, found := slices.BinarySearchFunc(d.pipelines, id, func(p *Pipeline, id int) int { return cmp.Compare(p.ID, id) })
	if !found {
		return nil
	}
	return d.pipelines[i]
}

// at returns the time of a change: t, or the clock's now when t is zero,
// to the millisecond.
func (s *Sim) at(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return stamp(t)
}

// projectDataLocked returns a project and its data.
func (s *Sim) projectDataLocked(id int) (*Project, *projectData, error) {
	p := s.projects[id]
	if p == nil {
		return nil, nil, fmt.Errorf("project %d: %w", id, errNotFound)
	}
	return p, s.data[id], nil
}

// usersExistLocked fails for the first ID that names no user.
func (s *Sim) usersExistLocked(what string, ids ...int) error {
	for _, id := range ids {
		if s.users[id] == nil {
			return fmt.Errorf("%s: user %d: %w", what, id, errNotFound)
		}
	}
	return nil
}

// email is the e-mail address the simulator gives a user's commits.
func email(u *userRecord) string { return u.Username + "@example.com" }

// ArchiveProject archives a project: the group issue and merge request
// lists leave it out unless non_archived=false. It is safe to repeat and
// fails only for an unknown project.
func (s *Sim) ArchiveProject(projectID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return fmt.Errorf("archive project: %w", err)
	}
	if !d.archived {
		d.archived = true
		d.updatedAt = s.at(time.Time{})
	}
	return nil
}

// Members returns a project's effective members (direct, and inherited
// from the groups above, highest role per user) by user id, token bots
// included. Nil for an unknown project.
func (s *Sim) Members(projectID int) []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return nil
	}
	return s.membersLocked(p.GroupID, p.ID, true)
}

// GroupMembers returns a group's effective members (direct, and inherited
// from its ancestors) by user id. Nil for an unknown group.
func (s *Sim) GroupMembers(groupID int) []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[groupID] == nil {
		return nil
	}
	return s.membersLocked(groupID, 0, true)
}

// membersLocked returns the members of the project projectID (0 for none)
// in the group groupID, or of the group: with inherited, the highest role
// through the group's ancestors too; without, direct members only.
func (s *Sim) membersLocked(groupID, projectID int, inherited bool) []Member {
	chain := map[int]bool{}
	if inherited || projectID == 0 {
		for _, g := range s.groupChainLocked(groupID) {
			chain[g.ID] = true
			if !inherited {
				break
			}
		}
	}
	levels := map[int]int{}
	for k, level := range s.members {
		if (k.source == sourceProject && projectID != 0 && k.sourceID == projectID) || (k.source == sourceGroup && chain[k.sourceID]) {
			levels[k.userID] = max(levels[k.userID], level)
		}
	}
	out := make([]Member, 0, len(levels))
	for id, level := range levels {
		u := s.users[id]
		out = append(out, Member{UserID: id, Username: u.Username, Name: u.Name, AccessLevel: level, Bot: u.Bot})
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.UserID, b.UserID) })
	return out
}

// GetProject returns a project with its state; false for an unknown one.
func (s *Sim) GetProject(projectID int) (ProjectInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return ProjectInfo{}, false
	}
	return s.projectInfoLocked(p), true
}

func (s *Sim) projectInfoLocked(p *Project) ProjectInfo {
	d := s.data[p.ID]
	return ProjectInfo{
		Project: *p, FullPath: s.projectFullPathLocked(p), DefaultBranch: defaultBranch, Archived: d.archived,
		CreatedAt: d.createdAt, UpdatedAt: d.updatedAt, LastActivityAt: d.lastActivityAt,
	}
}

// GroupProjects returns the projects of a group and its descendants by
// id. Nil for an unknown group.
func (s *Sim) GroupProjects(groupID int) []ProjectInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[groupID] == nil {
		return nil
	}
	var out []ProjectInfo
	for _, p := range s.subtreeProjectsLocked(groupID, true) {
		out = append(out, s.projectInfoLocked(p))
	}
	return out
}

// Groups returns a group and its descendants by id. Nil for an unknown
// group.
func (s *Sim) Groups(rootID int) []GroupInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[rootID] == nil {
		return nil
	}
	var out []GroupInfo
	for _, g := range s.descendantsLocked(rootID, true) {
		out = append(out, GroupInfo{*g, s.groupFullPathLocked(g)})
	}
	return slices.Insert(out, 0, GroupInfo{*s.groups[rootID], s.groupFullPathLocked(s.groups[rootID])})
}

// descendantsLocked returns the groups below the group id, by id: every
// level with all, else the direct children only.
func (s *Sim) descendantsLocked(id int, all bool) []*Group {
	var out []*Group
	for _, g := range s.groups {
		if g.ID == id {
			continue
		}
		if (!all && g.ParentID == id) || (all && s.inChainLocked(g.ID, id)) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *Group) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// subtreeProjectsLocked returns the projects of the group id and, with
// subgroups, of its descendants, by id.
func (s *Sim) subtreeProjectsLocked(id int, subgroups bool) []*Project {
	var out []*Project
	for _, p := range s.projects {
		if p.GroupID == id || (subgroups && p.GroupID != 0 && s.inChainLocked(p.GroupID, id)) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Project) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (c *Commit) clone() Commit {
	out := *c
	out.ParentIDs = slices.Clone(c.ParentIDs)
	return out
}

func (m *MergeRequest) clone() MergeRequest {
	out := *m
	out.AssigneeIDs = slices.Clone(m.AssigneeIDs)
	out.ReviewerIDs = slices.Clone(m.ReviewerIDs)
	out.Labels = slices.Clone(m.Labels)
	out.ClosesIssues = slices.Clone(m.ClosesIssues)
	out.Notes = slices.Clone(m.Notes)
	out.Approvals = slices.Clone(m.Approvals)
	out.MergedAt, out.ClosedAt = cloneTime(m.MergedAt), cloneTime(m.ClosedAt)
	return out
}

func (is *Issue) clone() Issue {
	out := *is
	out.AssigneeIDs = slices.Clone(is.AssigneeIDs)
	out.Labels = slices.Clone(is.Labels)
	out.ClosedAt = cloneTime(is.ClosedAt)
	return out
}

func (pl *Pipeline) clone() Pipeline {
	out := *pl
	out.StartedAt, out.FinishedAt = cloneTime(pl.StartedAt), cloneTime(pl.FinishedAt)
	out.Duration, out.QueuedDuration = cloneInt(pl.Duration), cloneInt(pl.QueuedDuration)
	return out
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func cloneInt(n *int) *int {
	if n == nil {
		return nil
	}
	c := *n
	return &c
}
