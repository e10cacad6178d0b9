package sim

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// defaultBranch is the default branch of every project.
const defaultBranch = "main"

// activityInterval is how long GitLab waits before an event moves a
// project's last_activity_at again (Event::RESET_PROJECT_ACTIVITY_INTERVAL).
const activityInterval = time.Hour

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

// Commit is a commit in a project's repository. Git keeps commit times to
// the second, so AuthoredDate and CommittedDate have no fraction.
type Commit struct {
	ProjectID int
	SHA       string
	Title     string
	Message   string
	// AuthorID is the simulator user who wrote the commit; 0 for an author
	// GitLab does not know. The API shows only names and e-mails.
	AuthorID                      int
	AuthorName, AuthorEmail       string
	CommitterName, CommitterEmail string
	AuthoredDate, CommittedDate   time.Time
	ParentIDs                     []string
	Additions, Deletions          int
	// Branch is the branch the commit was pushed to; merge commits are on
	// the default branch.
	Branch string
	// OnDefaultBranch tells whether the default branch reaches the commit:
	// it was pushed there, or its branch was merged since.
	OnDefaultBranch bool
}

// ShortID is the first 8 digits of the SHA, as GitLab shows them.
func (c Commit) ShortID() string { return c.SHA[:8] }

// IsMerge reports whether the commit has more than one parent.
func (c Commit) IsMerge() bool { return len(c.ParentIDs) > 1 }

// CommitSpec describes a commit for AddCommit.
type CommitSpec struct {
	// AuthorID is a simulator user; their name and <username>@example.com
	// are the author unless AuthorName or AuthorEmail say otherwise. With 0
	// both AuthorName and AuthorEmail are needed.
	AuthorID                int
	AuthorName, AuthorEmail string
	// Title is the first line of the message; "Update" when empty.
	// Message is the whole message; the title when empty.
	Title, Message string
	// Branch defaults to the default branch, "main". A new branch starts
	// from the default branch's head.
	Branch               string
	Additions, Deletions int
	// At is when the commit was written and pushed; the clock's now when
	// zero.
	At time.Time
}

// Note is a comment on a merge request. System notes are the ones GitLab
// writes itself ("approved this merge request", "added 1 commit").
type Note struct {
	ID        int
	ProjectID int
	// MRIID is the iid of the merge request, MRID its instance-wide id.
	MRIID, MRID          int
	AuthorID             int
	Body                 string
	System               bool
	CreatedAt, UpdatedAt time.Time
}

// NoteSpec describes a note for AddNote.
type NoteSpec struct {
	AuthorID int
	Body     string
	System   bool
	// At is the note's time; the clock's now when zero.
	At time.Time
}

// Approval is one user's approval of a merge request.
type Approval struct {
	UserID int
	At     time.Time
}

// MergeRequest is a merge request with its notes (oldest first) and
// approvals. State is "opened", "closed" or "merged".
type MergeRequest struct {
	ID, IID, ProjectID         int
	Title, Description         string
	State                      string
	AuthorID                   int
	AssigneeIDs, ReviewerIDs   []int
	SourceBranch, TargetBranch string
	Draft                      bool
	Labels                     []string
	// ClosesIssues are the iids of the project's issues that merging
	// closes (GitLab's closes_issues).
	ClosesIssues         []int
	CreatedAt, UpdatedAt time.Time
	MergedAt, ClosedAt   *time.Time
	MergedByID           int
	ClosedByID           int
	// MergeCommitSHA is the merge commit on the default branch, once merged.
	MergeCommitSHA string
	Notes          []Note
	Approvals      []Approval
}

// UserNotesCount is the number of notes that are not system notes, as
// GitLab's user_notes_count.
func (m MergeRequest) UserNotesCount() int {
	n := 0
	for _, note := range m.Notes {
		if !note.System {
			n++
		}
	}
	return n
}

// MRSpec describes a merge request for AddMergeRequest.
type MRSpec struct {
	AuthorID    int
	Title       string
	Description string
	// SourceBranch defaults to feature-<iid>; a branch that does not exist
	// yet is created at the default branch's head. TargetBranch must be
	// empty or the default branch.
	SourceBranch, TargetBranch string
	AssigneeIDs, ReviewerIDs   []int
	Draft                      bool
	Labels                     []string
	// ClosesIssues names issues of the same project by iid; merging closes
	// them.
	ClosesIssues []int
	// At is the creation time; the clock's now when zero.
	At time.Time
}

// Issue is an issue. State is "opened" or "closed".
type Issue struct {
	ID, IID, ProjectID   int
	Title, Description   string
	State                string
	AuthorID             int
	AssigneeIDs          []int
	Labels               []string
	CreatedAt, UpdatedAt time.Time
	ClosedAt             *time.Time
	ClosedByID           int
	// ClosedByMRIID is the iid of the merge request whose merge closed the
	// issue; 0 if none did.
	ClosedByMRIID int
}

// IssueSpec describes an issue for AddIssue.
type IssueSpec struct {
	AuthorID    int
	Title       string
	Description string
	AssigneeIDs []int
	Labels      []string
	// At is the creation time; the clock's now when zero.
	At time.Time
}

// Pipeline is a CI pipeline. Duration and QueuedDuration are whole seconds,
// nil until known (GitLab's null).
type Pipeline struct {
	ID, IID, ProjectID   int
	SHA, Ref             string
	Status, Source       string
	UserID               int
	CreatedAt, UpdatedAt time.Time
	StartedAt            *time.Time
	FinishedAt           *time.Time
	Duration             *int
	QueuedDuration       *int
}

// PipelineSpec describes a pipeline for AddPipeline.
type PipelineSpec struct {
	// Ref defaults to the default branch; SHA to the ref's head.
	Ref, SHA string
	// Source defaults to "push", Status to "pending".
	Source, Status string
	// UserID is who triggered it; 0 for nobody.
	UserID int
	// At is the creation time; the clock's now when zero.
	At time.Time
}

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
	// base is the committed date of the default-branch commit the branch
	// started from.
	base time.Time
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
	archived                             bool

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

// insertByDate inserts c into s, sorted by committed date; a commit goes
// after the ones with the same date.
func insertByDate(s []*Commit, c *Commit) []*Commit {
	i, _ := slices.BinarySearchFunc(s, c.CommittedDate, func(e *Commit, t time.Time) int {
		if e.CommittedDate.After(t) {
			return 1
		}
		return -1
	})
	return slices.Insert(s, i, c)
}

// commitRange is the part of s, sorted by committed date, from since to
// until (both included; nil for no bound).
func commitRange(s []*Commit, since, until *time.Time) []*Commit {
	lo, hi := 0, len(s)
	if since != nil {
		lo, _ = slices.BinarySearchFunc(s, *since, func(e *Commit, t time.Time) int {
			if e.CommittedDate.Before(t) {
				return -1
			}
			return 1
		})
	}
	if until != nil {
		hi, _ = slices.BinarySearchFunc(s, *until, func(e *Commit, t time.Time) int {
			if e.CommittedDate.After(t) {
				return 1
			}
			return -1
		})
	}
	if lo > hi {
		return nil
	}
	return s[lo:hi]
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

// AddCommit pushes a commit to a branch of a project and returns it. It
// moves the project's last_activity_at as a push does, and when the branch
// is the source of an open merge request, adds the system note "added 1
// commit" to it, which moves the merge request's updated_at. It fails for
// an unknown project or user, or a commit without an author. Every call
// adds a commit.
func (s *Sim) AddCommit(projectID int, spec CommitSpec) (Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Commit{}, fmt.Errorf("add commit: %w", err)
	}
	c, err := s.addCommitLocked(p, d, spec, s.at(spec.At))
	if err != nil {
		return Commit{}, err
	}
	return c.clone(), nil
}

func (s *Sim) addCommitLocked(p *Project, d *projectData, spec CommitSpec, at time.Time) (*Commit, error) {
	name, mail := spec.AuthorName, spec.AuthorEmail
	if spec.AuthorID != 0 {
		u := s.users[spec.AuthorID]
		if u == nil {
			return nil, fmt.Errorf("add commit: author: user %d: %w", spec.AuthorID, errNotFound)
		}
		name, mail = cmp.Or(name, u.Name), cmp.Or(mail, email(u))
	}
	if name == "" || mail == "" {
		return nil, errors.New("add commit: needs an AuthorID or an AuthorName and AuthorEmail")
	}
	br := d.branchLocked(cmp.Or(spec.Branch, defaultBranch))
	title := cmp.Or(spec.Title, "Update")
	c := &Commit{
		ProjectID: p.ID, Title: title, Message: cmp.Or(spec.Message, title),
		AuthorID: spec.AuthorID, AuthorName: name, AuthorEmail: mail, CommitterName: name, CommitterEmail: mail,
		AuthoredDate: at.Truncate(time.Second), CommittedDate: at.Truncate(time.Second),
		Additions: max(spec.Additions, 0), Deletions: max(spec.Deletions, 0), Branch: br.name,
	}
	if br.head != "" {
		c.ParentIDs = []string{br.head}
	}
	d.storeCommit(c, br)
	d.activity(at)
	if m := br.mr; m != nil && m.State == stateOpened && br.name != defaultBranch {
		body := fmt.Sprintf("added 1 commit\n\n<ul><li>%s - %s</li></ul>", c.ShortID(), c.Title)
		s.addNoteLocked(d, m, NoteSpec{AuthorID: cmp.Or(spec.AuthorID, m.AuthorID), Body: body, System: true}, at)
	}
	return c, nil
}

// branchLocked returns the named branch, creating it at the default
// branch's head if it does not exist.
func (d *projectData) branchLocked(name string) *branch {
	if br := d.branches[name]; br != nil {
		return br
	}
	main := d.branches[defaultBranch]
	br := &branch{name: name, head: main.head}
	if c := d.bySHA[main.head]; c != nil {
		br.base = c.CommittedDate
	}
	d.branches[name] = br
	return br
}

// storeCommit gives c its SHA, a hash of what it holds as in Git, and
// stores it as the new head of br.
func (d *projectData) storeCommit(c *Commit, br *branch) {
	h := sha1.New()
	fmt.Fprintf(h, "project %d\nbranch %s\nparents %s\nauthor %s <%s> %d\nstats %d %d\n\n%s",
		c.ProjectID, c.Branch, strings.Join(c.ParentIDs, " "), c.AuthorName, c.AuthorEmail,
		c.CommittedDate.Unix(), c.Additions, c.Deletions, c.Message)
	c.SHA = hex.EncodeToString(h.Sum(nil))
	for d.bySHA[c.SHA] != nil { // Only identical commits of one branch at one second collide.
		h.Write([]byte{0})
		c.SHA = hex.EncodeToString(h.Sum(nil))
	}
	d.bySHA[c.SHA] = c
	d.commits = insertByDate(d.commits, c)
	br.head = c.SHA
	if br.name == defaultBranch {
		c.OnDefaultBranch = true
		d.reachable = insertByDate(d.reachable, c)
	} else {
		br.commits = append(br.commits, c)
	}
}

// AddMergeRequest opens a merge request and returns it. It moves the
// project's last_activity_at. It fails for an unknown project, user or
// issue, or a target branch other than the default branch. Every call adds
// a merge request.
func (s *Sim) AddMergeRequest(projectID int, spec MRSpec) (MergeRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return MergeRequest{}, fmt.Errorf("add merge request: %w", err)
	}
	m, err := s.addMRLocked(p, d, spec, s.at(spec.At))
	if err != nil {
		return MergeRequest{}, err
	}
	return m.clone(), nil
}

func (s *Sim) addMRLocked(p *Project, d *projectData, spec MRSpec, at time.Time) (*MergeRequest, error) {
	if err := s.usersExistLocked("add merge request", append(append([]int{spec.AuthorID}, spec.AssigneeIDs...), spec.ReviewerIDs...)...); err != nil {
		return nil, err
	}
	if spec.TargetBranch != "" && spec.TargetBranch != defaultBranch {
		return nil, fmt.Errorf("add merge request: target branch %q: only the default branch %q is simulated", spec.TargetBranch, defaultBranch)
	}
	for _, iid := range spec.ClosesIssues {
		if d.issue(iid) == nil {
			return nil, fmt.Errorf("add merge request: closes issue #%d of project %d: %w", iid, p.ID, errNotFound)
		}
	}
	iid := len(d.mrs) + 1
	source := cmp.Or(spec.SourceBranch, fmt.Sprintf("feature-%d", iid))
	if source == defaultBranch {
		return nil, errors.New("add merge request: the source branch must not be the default branch")
	}
	m := &MergeRequest{
		ID: s.nextMR, IID: iid, ProjectID: p.ID, Title: cmp.Or(spec.Title, "Draft: "+source), Description: spec.Description,
		State: stateOpened, AuthorID: spec.AuthorID, AssigneeIDs: slices.Clone(spec.AssigneeIDs),
		ReviewerIDs: slices.Clone(spec.ReviewerIDs), SourceBranch: source, TargetBranch: defaultBranch, Draft: spec.Draft,
		Labels: slices.Clone(spec.Labels), ClosesIssues: slices.Clone(spec.ClosesIssues), CreatedAt: at, UpdatedAt: at,
	}
	s.nextMR++
	d.mrs = append(d.mrs, m)
	d.mrsByUpdate = insertByKey(d.mrsByUpdate, m, mrKey)
	d.branchLocked(source).mr = m
	d.activity(at)
	return m, nil
}

// mrLocked returns a project's data and merge request.
func (s *Sim) mrLocked(what string, projectID, iid int) (*Project, *projectData, *MergeRequest, error) {
	p, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	m := d.mr(iid)
	if m == nil {
		return nil, nil, nil, fmt.Errorf("%s: merge request !%d of project %d: %w", what, iid, projectID, errNotFound)
	}
	return p, d, m, nil
}

// AddNote adds a note to a merge request and returns it. Any note moves
// the merge request's updated_at, as GitLab touches the noteable; a user
// note (not a system note) also moves the project's last_activity_at. It
// fails for an unknown project, merge request or user. Every call adds a
// note.
func (s *Sim) AddNote(projectID, mrIID int, spec NoteSpec) (Note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, m, err := s.mrLocked("add note", projectID, mrIID)
	if err != nil {
		return Note{}, err
	}
	if err := s.usersExistLocked("add note", spec.AuthorID); err != nil {
		return Note{}, err
	}
	return s.addNoteLocked(d, m, spec, s.at(spec.At)), nil
}

func (s *Sim) addNoteLocked(d *projectData, m *MergeRequest, spec NoteSpec, at time.Time) Note {
	n := Note{
		ID: s.nextNote, ProjectID: m.ProjectID, MRIID: m.IID, MRID: m.ID, AuthorID: spec.AuthorID,
		Body: spec.Body, System: spec.System, CreatedAt: at, UpdatedAt: at,
	}
	s.nextNote++
	i, _ := slices.BinarySearchFunc(m.Notes, n, func(e, n Note) int { return byUpdate(e.CreatedAt, e.ID, n.CreatedAt, n.ID) })
	m.Notes = slices.Insert(m.Notes, i, n)
	d.touchMR(m, at)
	if !n.System {
		d.activity(at)
	}
	return n
}

// Approve records a user's approval of an open merge request at the
// clock's now, with the system note "approved this merge request", which
// moves the merge request's updated_at and the project's
// last_activity_at. Approving again is a no-op. It fails for an unknown
// project, merge request or user, and for a merge request that is not
// open.
func (s *Sim) Approve(projectID, mrIID, userID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, m, err := s.mrLocked("approve", projectID, mrIID)
	if err != nil {
		return err
	}
	if err := s.usersExistLocked("approve", userID); err != nil {
		return err
	}
	return s.approveLocked(d, m, userID, s.at(time.Time{}))
}

func (s *Sim) approveLocked(d *projectData, m *MergeRequest, userID int, at time.Time) error {
	if m.State != stateOpened {
		return fmt.Errorf("approve: merge request !%d of project %d is %s", m.IID, m.ProjectID, m.State)
	}
	if slices.ContainsFunc(m.Approvals, func(a Approval) bool { return a.UserID == userID }) {
		return nil
	}
	m.Approvals = append(m.Approvals, Approval{UserID: userID, At: at})
	s.addNoteLocked(d, m, NoteSpec{AuthorID: userID, Body: "approved this merge request", System: true}, at)
	d.activity(at)
	return nil
}

// MergeMR merges an open merge request at the clock's now: it adds a merge
// commit by the merging user to the default branch (its stats are the
// branch's changes, as GitLab's diff against the first parent), makes the
// branch's commits reachable from the default branch, closes the issues
// the merge request closes, and moves updated_at and last_activity_at. It
// fails for an unknown project, merge request or user, and for a merge
// request that is not open.
func (s *Sim) MergeMR(projectID, mrIID, byUserID int) (MergeRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, d, m, err := s.mrLocked("merge", projectID, mrIID)
	if err != nil {
		return MergeRequest{}, err
	}
	if err := s.usersExistLocked("merge", byUserID); err != nil {
		return MergeRequest{}, err
	}
	if err := s.mergeLocked(p, d, m, byUserID, s.at(time.Time{})); err != nil {
		return MergeRequest{}, err
	}
	return m.clone(), nil
}

func (s *Sim) mergeLocked(p *Project, d *projectData, m *MergeRequest, by int, at time.Time) error {
	if m.State != stateOpened {
		return fmt.Errorf("merge: merge request !%d of project %d is %s", m.IID, m.ProjectID, m.State)
	}
	br := d.branchLocked(m.SourceBranch)
	main := d.branches[defaultBranch]
	u := s.users[by]
	title := fmt.Sprintf("Merge branch '%s' into '%s'", m.SourceBranch, defaultBranch)
	c := &Commit{
		ProjectID: p.ID, Title: title,
		Message:  fmt.Sprintf("%s\n\n%s\n\nSee merge request %s!%d", title, m.Title, s.projectFullPathLocked(p), m.IID),
		AuthorID: by, AuthorName: u.Name, AuthorEmail: email(u), CommitterName: u.Name, CommitterEmail: email(u),
		AuthoredDate: at.Truncate(time.Second), CommittedDate: at.Truncate(time.Second), Branch: defaultBranch,
	}
	if main.head != "" {
		c.ParentIDs = append(c.ParentIDs, main.head)
	}
	if br.head != "" && br.head != main.head && !d.bySHA[br.head].OnDefaultBranch {
		c.ParentIDs = append(c.ParentIDs, br.head)
	}
	for _, bc := range br.commits {
		if !bc.OnDefaultBranch {
			bc.OnDefaultBranch = true
			d.reachable = insertByDate(d.reachable, bc)
			c.Additions += bc.Additions
			c.Deletions += bc.Deletions
		}
	}
	d.storeCommit(c, main)
	m.State = stateMerged
	m.MergedAt, m.MergedByID, m.MergeCommitSHA = &at, by, c.SHA
	d.touchMR(m, at)
	d.activity(at)
	for _, iid := range m.ClosesIssues {
		if is := d.issue(iid); is.State == stateOpened {
			d.closeIssue(is, by, at)
			is.ClosedByMRIID = m.IID
		}
	}
	return nil
}

// CloseMR closes an open merge request without merging it, at the clock's
// now, moving updated_at and last_activity_at. Closing a closed merge
// request is a no-op. It fails for an unknown project, merge request or
// user, and for a merged merge request.
func (s *Sim) CloseMR(projectID, mrIID, byUserID int) (MergeRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, m, err := s.mrLocked("close", projectID, mrIID)
	if err != nil {
		return MergeRequest{}, err
	}
	if err := s.usersExistLocked("close", byUserID); err != nil {
		return MergeRequest{}, err
	}
	if err := d.closeMR(m, byUserID, s.at(time.Time{})); err != nil {
		return MergeRequest{}, err
	}
	return m.clone(), nil
}

func (d *projectData) closeMR(m *MergeRequest, by int, at time.Time) error {
	switch m.State {
	case stateClosed:
		return nil
	case stateMerged:
		return fmt.Errorf("close: merge request !%d of project %d is merged", m.IID, m.ProjectID)
	}
	m.State = stateClosed
	m.ClosedAt, m.ClosedByID = &at, by
	d.touchMR(m, at)
	d.activity(at)
	return nil
}

// AddIssue opens an issue and returns it, moving the project's
// last_activity_at. It fails for an unknown project or user. Every call
// adds an issue.
func (s *Sim) AddIssue(projectID int, spec IssueSpec) (Issue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Issue{}, fmt.Errorf("add issue: %w", err)
	}
	if err := s.usersExistLocked("add issue", append([]int{spec.AuthorID}, spec.AssigneeIDs...)...); err != nil {
		return Issue{}, err
	}
	return s.addIssueLocked(p, d, spec, s.at(spec.At)).clone(), nil
}

func (s *Sim) addIssueLocked(p *Project, d *projectData, spec IssueSpec, at time.Time) *Issue {
	is := &Issue{
		ID: s.nextIssue, IID: len(d.issues) + 1, ProjectID: p.ID, Title: cmp.Or(spec.Title, "Issue"),
		Description: spec.Description, State: stateOpened, AuthorID: spec.AuthorID,
		AssigneeIDs: slices.Clone(spec.AssigneeIDs), Labels: slices.Clone(spec.Labels), CreatedAt: at, UpdatedAt: at,
	}
	s.nextIssue++
	d.issues = append(d.issues, is)
	d.issuesByUpd = insertByKey(d.issuesByUpd, is, issueKey)
	d.activity(at)
	return is
}

// CloseIssue closes an issue at the clock's now, moving its updated_at and
// the project's last_activity_at, and returns it. Closing a closed issue
// is a no-op. It fails for an unknown project, issue or user.
func (s *Sim) CloseIssue(projectID, iid, byUserID int) (Issue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Issue{}, fmt.Errorf("close issue: %w", err)
	}
	is := d.issue(iid)
	if is == nil {
		return Issue{}, fmt.Errorf("close issue: issue #%d of project %d: %w", iid, projectID, errNotFound)
	}
	if err := s.usersExistLocked("close issue", byUserID); err != nil {
		return Issue{}, err
	}
	if is.State == stateOpened {
		d.closeIssue(is, byUserID, s.at(time.Time{}))
	}
	return is.clone(), nil
}

func (d *projectData) closeIssue(is *Issue, by int, at time.Time) {
	is.State = stateClosed
	is.ClosedAt, is.ClosedByID = &at, by
	d.touchIssue(is, at)
	d.activity(at)
}

// AddPipeline creates a pipeline and returns it. Pipelines never move the
// project's last_activity_at. A pipeline created running has started_at;
// one created finished has started_at and finished_at equal to its
// creation time. It fails for an unknown project or user, an unknown
// status or source, or a ref without commits when no SHA is given.
func (s *Sim) AddPipeline(projectID int, spec PipelineSpec) (Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Pipeline{}, fmt.Errorf("add pipeline: %w", err)
	}
	if spec.UserID != 0 {
		if err := s.usersExistLocked("add pipeline", spec.UserID); err != nil {
			return Pipeline{}, err
		}
	}
	pl, err := s.addPipelineLocked(p, d, spec, s.at(spec.At))
	if err != nil {
		return Pipeline{}, err
	}
	return pl.clone(), nil
}

func (s *Sim) addPipelineLocked(p *Project, d *projectData, spec PipelineSpec, at time.Time) (*Pipeline, error) {
	ref, source, status := cmp.Or(spec.Ref, defaultBranch), cmp.Or(spec.Source, "push"), cmp.Or(spec.Status, "pending")
	if !slices.Contains(pipelineStatuses, status) {
		return nil, fmt.Errorf("add pipeline: status %q: want one of %v", status, pipelineStatuses)
	}
	if !slices.Contains(pipelineSources, source) {
		return nil, fmt.Errorf("add pipeline: source %q: want one of %v", source, pipelineSources)
	}
	sha := spec.SHA
	if sha == "" {
		if br := d.branches[ref]; br != nil {
			sha = br.head
		}
		if sha == "" {
			return nil, fmt.Errorf("add pipeline: ref %q of project %d has no commits", ref, p.ID)
		}
	}
	pl := &Pipeline{
		ID: s.nextPipeline, IID: len(d.pipelines) + 1, ProjectID: p.ID, SHA: sha, Ref: ref, Status: "created",
		Source: source, UserID: spec.UserID, CreatedAt: at, UpdatedAt: at,
	}
	s.nextPipeline++
	d.pipelines = append(d.pipelines, pl)
	d.pipesByUpd = insertByKey(d.pipesByUpd, pl, pipeKey)
	d.setPipelineStatus(pl, status, at)
	return pl, nil
}

// SetPipelineStatus changes a pipeline's status at the clock's now and
// returns it. Every change moves the pipeline's updated_at (never the
// project's last_activity_at); setting the status it has changes nothing.
// "running" sets started_at when unset; a finished status (success,
// failed, canceled, skipped) sets finished_at and, once started, duration
// and queued_duration. It fails for an unknown project, pipeline or
// status.
func (s *Sim) SetPipelineStatus(projectID, pipelineID int, status string) (Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Pipeline{}, fmt.Errorf("set pipeline status: %w", err)
	}
	pl := d.pipeline(pipelineID)
	if pl == nil {
		return Pipeline{}, fmt.Errorf("set pipeline status: pipeline %d of project %d: %w", pipelineID, projectID, errNotFound)
	}
	if !slices.Contains(pipelineStatuses, status) {
		return Pipeline{}, fmt.Errorf("set pipeline status: status %q: want one of %v", status, pipelineStatuses)
	}
	d.setPipelineStatus(pl, status, s.at(time.Time{}))
	return pl.clone(), nil
}

func (d *projectData) setPipelineStatus(pl *Pipeline, status string, at time.Time) {
	if pl.Status == status {
		return
	}
	pl.Status = status
	finished := slices.Contains(finishedStatuses, status)
	if pl.StartedAt == nil && (status == "running" || finished) {
		pl.StartedAt = &at
		q := int(at.Sub(pl.CreatedAt).Seconds())
		if q > 0 {
			pl.QueuedDuration = &q
		}
	}
	pl.FinishedAt, pl.Duration = nil, nil
	if finished {
		pl.FinishedAt = &at
		dur := int(at.Sub(*pl.StartedAt).Seconds())
		pl.Duration = &dur
	}
	d.touchPipeline(pl, at)
}

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

// Commits returns the commits the default branch reaches, newest first:
// what GET /projects/:id/repository/commits lists without parameters. Nil
// for an unknown project.
func (s *Sim) Commits(projectID int) []Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.data[projectID]; d != nil {
		return cloneCommits(d.reachable)
	}
	return nil
}

// AllCommits returns every commit of every branch, newest first (what the
// commits list gives with all=true). Nil for an unknown project.
func (s *Sim) AllCommits(projectID int) []Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.data[projectID]; d != nil {
		return cloneCommits(d.commits)
	}
	return nil
}

func cloneCommits(s []*Commit) []Commit {
	out := make([]Commit, len(s))
	for i, c := range s {
		out[len(s)-1-i] = c.clone()
	}
	return out
}

// MergeRequests returns a project's merge requests by iid, with their notes
// and approvals. Nil for an unknown project.
func (s *Sim) MergeRequests(projectID int) []MergeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[projectID]
	if d == nil {
		return nil
	}
	out := make([]MergeRequest, len(d.mrs))
	for i, m := range d.mrs {
		out[i] = m.clone()
	}
	return out
}

// Issues returns a project's issues by iid. Nil for an unknown project.
func (s *Sim) Issues(projectID int) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[projectID]
	if d == nil {
		return nil
	}
	out := make([]Issue, len(d.issues))
	for i, is := range d.issues {
		out[i] = is.clone()
	}
	return out
}

// Pipelines returns a project's pipelines by id, oldest first. Nil for an
// unknown project.
func (s *Sim) Pipelines(projectID int) []Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[projectID]
	if d == nil {
		return nil
	}
	out := make([]Pipeline, len(d.pipelines))
	for i, pl := range d.pipelines {
		out[i] = pl.clone()
	}
	return out
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
