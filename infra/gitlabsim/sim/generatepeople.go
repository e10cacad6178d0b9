// The generator's people cases (CourseSpec.PeopleCases): what a teacher's
// view must get right about who is who.

package sim

import (
	"fmt"
	"strings"
	"time"
)

// PeopleCases is what CourseSpec.PeopleCases added to a course.
type PeopleCases struct {
	// AssistantID is a teaching assistant, Maintainer of the course group
	// (the teacher is its Owner): staff, who comments on and approves the
	// ring's merge requests.
	AssistantID int `json:"assistant_id"`
	// TwoProjectsID is the first student of the first team, also a
	// Developer of the second team's first project, with commits in both
	// on the same days.
	TwoProjectsID int `json:"two_projects_id"`
	// IdentitiesID is the second student of the first team, who commits
	// under three more identities: Resolvable (name other than theirs,
	// e-mail <username>@laptop.local: the e-mail's local part is the
	// username), Public (their profile's public e-mail, with their
	// initial and last name) and Unresolvable (<first name>@home.local,
	// named as the first name in lower case: nothing GitLab shows matches
	// it).
	IdentitiesID int          `json:"identities_id"`
	Resolvable   CommitAuthor `json:"resolvable"`
	Public       CommitAuthor `json:"public"`
	Unresolvable CommitAuthor `json:"unresolvable"`
	// Ring are the first team's students in ring order: each opens a
	// merge request that the next one reviews (a note), approves and
	// merges.
	Ring []int `json:"ring"`
}

// CommitAuthor is a Git identity as commits show it.
type CommitAuthor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// peopleCases adds the people cases to a course whose teams are made
// (before the activity is planned); it needs two teams, and two students
// in the first.
func (g *gen) peopleCases(course *Course, teams []*genTeam) {
	if len(teams) < 2 || len(teams[0].StudentIDs) < 2 || teams[0].GroupID == 0 || teams[1].GroupID == 0 {
		return
	}
	s := g.s
	pc := &PeopleCases{AssistantID: g.person()}
	s.members[memberKey{sourceGroup, course.GroupID, pc.AssistantID}] = levelMaintainer
	first, second := teams[0], teams[1]

	// A student in two projects, active in both on the same days.
	pc.TwoProjectsID = first.StudentIDs[0]
	other := second.projects[0]
	s.members[memberKey{sourceProject, other.p.ID, pc.TwoProjectsID}] = levelDeveloper
	own := first.projects[0]
	for week := range g.spec.Weeks {
		at := g.spec.Start.AddDate(0, 0, 7*week+1).Add(10 * time.Hour)
		for i, gp := range []*genProject{own, other} {
			spec := g.commitSpec(pc.TwoProjectsID, defaultBranch)
			spec.AuthorID, spec.AuthorName, spec.AuthorEmail = pc.TwoProjectsID, "", ""
			g.plan(at.Add(time.Duration(i)*time.Hour), func(at time.Time) { _, _ = s.addCommitLocked(gp.p, gp.d, spec, at) })
		}
	}

	// A student with two more commit identities.
	pc.IdentitiesID = first.StudentIDs[1]
	u := s.users[pc.IdentitiesID]
	firstName := strings.ToLower(strings.Fields(u.Name)[0])
	pc.Resolvable = CommitAuthor{Name: "Laptop " + strings.ToUpper(firstName[:1]), Email: u.Username + "@laptop.local"}
	pc.Unresolvable = CommitAuthor{Name: firstName, Email: firstName + "@home.local"}
	lastName := strings.ToLower(strings.Fields(u.Name)[len(strings.Fields(u.Name))-1])
	pc.Public = CommitAuthor{Name: strings.ToUpper(firstName[:1]) + ". " + strings.Fields(u.Name)[len(strings.Fields(u.Name))-1],
		Email: firstName[:1] + "." + lastName + "@uni.example"}
	u.PublicEmail = pc.Public.Email
	for week := range g.spec.Weeks {
		for i, who := range []CommitAuthor{pc.Resolvable, pc.Public, pc.Unresolvable} {
			spec := g.commitSpec(pc.IdentitiesID, defaultBranch)
			spec.AuthorID, spec.AuthorName, spec.AuthorEmail = 0, who.Name, who.Email
			at := g.spec.Start.AddDate(0, 0, 7*week+2).Add(time.Duration(14+i) * time.Hour)
			g.plan(at, func(at time.Time) { _, _ = s.addCommitLocked(own.p, own.d, spec, at) })
		}
	}

	// A reviewer ring in the first team; the assistant comments on each.
	pc.Ring = append([]int(nil), first.StudentIDs...)
	t0 := g.spec.Start.Add(30 * time.Hour)
	for i, author := range pc.Ring {
		reviewer := pc.Ring[(i+1)%len(pc.Ring)]
		at := t0.Add(time.Duration(i) * 3 * time.Hour)
		branch := fmt.Sprintf("ring/%d", i+1)
		spec := g.commitSpec(author, branch)
		spec.AuthorName, spec.AuthorEmail = "", ""
		spec.AuthorID = author
		g.plan(at, func(at time.Time) {
			if _, err := s.addCommitLocked(own.p, own.d, spec, at); err != nil {
				return
			}
			m, err := s.addMRLocked(own.p, own.d, MRSpec{AuthorID: author, Title: "Ring " + branch, Description: "Part of the review ring.",
				SourceBranch: branch, AssigneeIDs: []int{author}, ReviewerIDs: []int{reviewer}}, at.Add(time.Minute))
			if err != nil {
				return
			}
			s.addNoteLocked(own.d, m, NoteSpec{AuthorID: reviewer, Body: g.pick(comments)}, at.Add(20*time.Minute))
			s.addNoteLocked(own.d, m, NoteSpec{AuthorID: pc.AssistantID, Body: g.pick(teacherComments)}, at.Add(25*time.Minute))
			_ = s.approveLocked(own.d, m, reviewer, at.Add(40*time.Minute))
			_ = s.approveLocked(own.d, m, pc.AssistantID, at.Add(41*time.Minute))
			_ = s.mergeLocked(own.p, own.d, m, reviewer, at.Add(time.Hour))
		})
	}
	course.People = pc
}
