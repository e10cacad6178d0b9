// A project's repository: commits, branches and what the default branch reaches.

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

// Commit is a commit in a project's repository. Git keeps commit times to
// the second, so AuthoredDate and CommittedDate have no fraction. Git also
// keeps the UTC offset the commit was written with, and so do the dates
// here: their Location is a fixed zone (UTC for a commit made in UTC), and
// the API writes them with that offset, as GitLab does.
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
	// Zone is the time zone the commit was written in (author and
	// committer alike): the commit's dates keep its UTC offset at At, and
	// the API writes them with it ("2026-11-30T00:30:00.000+02:00"). Nil
	// is UTC, which the API writes "+00:00" as Git keeps "+0000".
	Zone *time.Location
}

// commitTimeFormat is how the Commits API writes a commit's dates: Gitaly
// gives the seconds and the commit's own offset (Gitlab::Git::Commit
// init_date_from_gitaly: Time.strptime("<seconds> <timezone>", "%s %z")),
// and Rails writes that Time with milliseconds and its offset, "+00:00"
// rather than "Z" for a commit made in UTC (Time#xmlschema(3)).
const commitTimeFormat = "2006-01-02T15:04:05.000-07:00"

// hookCommitTimeFormat is a push hook's commits[].timestamp: GitLab writes
// committed_date.xmlschema, the commit's offset kept and no fraction
// (app/models/commit.rb hook_attrs).
const hookCommitTimeFormat = "2006-01-02T15:04:05-07:00"

// commitTime is at as a commit's date: to the second, in zone (nil: UTC)
// as a fixed offset, so that the offset stays what it was at at.
func commitTime(at time.Time, zone *time.Location) time.Time {
	at = at.Truncate(time.Second)
	if zone == nil {
		return at.UTC()
	}
	_, off := at.In(zone).Zone()
	return at.In(time.FixedZone(zoneName(off), off))
}

// zoneName is the name of the fixed zone of offset off (seconds east of
// UTC), as "+02:00".
func zoneName(off int) string {
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60)
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
		AuthoredDate: commitTime(at, spec.Zone), CommittedDate: commitTime(at, spec.Zone),
		Additions: max(spec.Additions, 0), Deletions: max(spec.Deletions, 0), Branch: br.name,
	}
	before := br.head
	if br.head != "" {
		c.ParentIDs = []string{br.head}
	}
	d.storeCommit(c, br)
	d.activity(at)
	d.pushed(at)
	s.hookPushLocked(p, br.name, before, c)
	if m := br.mr; m != nil && m.State == stateOpened && br.name != defaultBranch {
		body := fmt.Sprintf("added 1 commit\n\n<ul><li>%s - %s</li></ul>", c.ShortID(), c.Title)
		s.addNoteLocked(d, m, NoteSpec{AuthorID: cmp.Or(spec.AuthorID, m.AuthorID), Body: body, System: true}, at)
		s.hookMRLocked(m, "update", cmp.Or(spec.AuthorID, m.AuthorID))
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
