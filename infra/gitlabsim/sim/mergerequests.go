// Merge requests, their notes and approvals: opening, reviewing, merging, closing.

package sim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

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
	s.hookMRLocked(m, "open", spec.AuthorID)
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
	s.hookNoteLocked(m, n)
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
	s.hookMRLocked(m, "approved", userID)
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
		// GitLab writes a merge commit in the merging user's time zone; the
		// simulator keeps no user time zone and writes it in UTC.
		AuthoredDate: commitTime(at, nil), CommittedDate: commitTime(at, nil), Branch: defaultBranch,
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
	before := main.head
	d.storeCommit(c, main)
	s.hookPushLocked(p, defaultBranch, before, c)
	m.State = stateMerged
	m.MergedAt, m.MergedByID, m.MergeCommitSHA = &at, by, c.SHA
	d.touchMR(m, at)
	d.activity(at)
	d.pushed(at) // the merge pushes to the default branch
	for _, iid := range m.ClosesIssues {
		if is := d.issue(iid); is.State == stateOpened {
			d.closeIssue(is, by, at)
			is.ClosedByMRIID = m.IID
		}
	}
	s.hookMRLocked(m, "merge", by)
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
	d.sim.hookMRLocked(m, "close", by)
	return nil
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
