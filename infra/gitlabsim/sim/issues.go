// Issues: opening and closing.

package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

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
	s.hookIssueLocked(is, "open", spec.AuthorID)
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
	d.sim.hookIssueLocked(is, "close", by)
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
