package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// CourseSpec describes a course for GenerateCourse. Zero counts and rates
// take the defaults named below; a negative rate means none of that
// activity.
type CourseSpec struct {
	// Path is the course group's full path ("kpi/tp-2024"); missing parent
	// groups are created. Default "course".
	Path string `json:"path"`
	// Teams is the number of team subgroups (default 3, or 0 when
	// SoloProjects is set), StudentsPerTeam the Developers of each (default
	// 3), ProjectsPerTeam the projects of each (default 1).
	Teams           int `json:"teams"`
	StudentsPerTeam int `json:"students_per_team"`
	ProjectsPerTeam int `json:"projects_per_team"`
	// SoloProjects are projects directly in the course group, each a team
	// of its own whose StudentsPerTeam students are Developers of the
	// project.
	SoloProjects int `json:"solo_projects"`
	// Weeks of activity, default 4, from Start (default: the clock's now
	// minus Weeks, so activity ends now).
	Weeks int       `json:"weeks"`
	Start time.Time `json:"start"`
	// Mean activity per student and week (each student has their own pace,
	// and some go quiet in the second half): commits (default 6), merge
	// requests (1), issues (1.5). Pipelines per project and week: 6.
	CommitsPerStudentWeek   float64 `json:"commits_per_student_week"`
	MRsPerStudentWeek       float64 `json:"mrs_per_student_week"`
	IssuesPerStudentWeek    float64 `json:"issues_per_student_week"`
	PipelinesPerProjectWeek float64 `json:"pipelines_per_project_week"`
	// PeopleCases adds what a teacher's view must get right about people
	// (see PeopleCases): an assistant, a student in two projects, a
	// student with two more commit identities, a reviewer ring. It needs
	// two teams with two students or more in the first.
	PeopleCases bool `json:"people_cases"`
}

// Team is a team of a generated course: a subgroup, or a solo project in
// the course group (GroupID 0 then).
type Team struct {
	GroupID    int    `json:"group_id"`
	Path       string `json:"path"`
	ProjectIDs []int  `json:"project_ids"`
	StudentIDs []int  `json:"student_ids"`
}

// Course is what GenerateCourse made. TeacherToken is a personal access
// token of the teacher (Owner of the course group) with read_api and
// read_repository, expiring in a year, made for syncing; BotToken is the
// course group's access token (scopes read_api and read_repository, its
// bot user a Reporter). BotUserIDs are the token bots: the course group's
// and a "ci-bot" project bot in each team's first project, which comments
// on merge requests.
type Course struct {
	GroupID        int       `json:"group_id"`
	Path           string    `json:"path"`
	Teams          []Team    `json:"teams"`
	TeamGroupIDs   []int     `json:"team_group_ids"`
	ProjectIDs     []int     `json:"project_ids"`
	TeacherID      int       `json:"teacher_id"`
	StudentIDs     []int     `json:"student_ids"`
	BotUserIDs     []int     `json:"bot_user_ids"`
	TeacherToken   string    `json:"teacher_token"`
	TeacherTokenID int       `json:"teacher_token_id"`
	BotToken       string    `json:"bot_token"`
	BotTokenID     int       `json:"bot_token_id"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	// People is what spec.PeopleCases added; nil without.
	People *PeopleCases `json:"people,omitempty"`
}

func (spec *CourseSpec) defaults(now time.Time) {
	spec.Path = strings.Trim(cmp.Or(spec.Path, "course"), "/")
	if spec.Teams == 0 && spec.SoloProjects == 0 {
		spec.Teams = 3
	}
	spec.Teams, spec.SoloProjects = max(spec.Teams, 0), max(spec.SoloProjects, 0)
	spec.StudentsPerTeam = max(cmp.Or(spec.StudentsPerTeam, 3), 1)
	spec.ProjectsPerTeam = max(cmp.Or(spec.ProjectsPerTeam, 1), 1)
	spec.Weeks = max(cmp.Or(spec.Weeks, 4), 1)
	if spec.Start.IsZero() {
		spec.Start = now.AddDate(0, 0, -7*spec.Weeks)
	}
	spec.Start = stamp(spec.Start)
	rate := func(v *float64, def float64) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	rate(&spec.CommitsPerStudentWeek, 6)
	rate(&spec.MRsPerStudentWeek, 1)
	rate(&spec.IssuesPerStudentWeek, 1.5)
	rate(&spec.PipelinesPerProjectWeek, 6)
}

// Word lists for names, titles and comments.
var (
	firstNames = []string{
		"Olena", "Andrii", "Iryna", "Dmytro", "Oksana", "Taras", "Mariia", "Bohdan", "Sofiia", "Yurii", "Kateryna",
		"Maksym", "Anna", "Serhii", "Daria", "Oleh", "Yuliia", "Ivan", "Viktoriia", "Artem", "Nataliia", "Roman",
	}
	lastNames = []string{
		"Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko", "Kravchenko", "Melnyk", "Boiko", "Oliinyk", "Lysenko",
		"Marchenko", "Rudenko", "Savchenko", "Petrenko", "Moroz", "Pavlenko", "Kovalchuk", "Klymenko", "Levchenko",
	}
	projectNames = []string{"backend", "frontend", "docs", "infra", "mobile", "analytics", "bot", "library"}
	verbs        = []string{"Add", "Fix", "Update", "Refactor", "Remove", "Implement", "Improve", "Rename", "Test", "Document", "Simplify", "Move"}
	objects      = []string{
		"login form", "user model", "API client", "parser", "README", "CI config", "database schema", "error handling",
		"pagination", "search endpoint", "logging", "Dockerfile", "config loader", "input validation", "unit tests",
		"routing", "cache layer", "settings page", "export to CSV", "auth middleware", "migrations", "build script",
	}
	bodies = []string{
		"The previous version failed on empty input.", "Split into smaller functions.", "As discussed with the team.",
		"Closes the gap found in review.", "Needed for the next lab.", "Follow-up to the last merge request.",
	}
	comments = []string{
		"Looks good to me.", "Could you add a test for this?", "Why not reuse the existing helper?", "Nice, thanks!",
		"This breaks the build on my machine.", "Please rename this variable.", "Done.", "Fixed in the latest commit.",
		"Can we discuss this at the next meeting?", "LGTM, one nit inline.", "I think this needs error handling.",
		"Good catch.", "Should this be configurable?", "Resolved, please take another look.",
	}
	teacherComments = []string{
		"Please describe the design decision in the README.", "Good work, keep commits smaller.",
		"Remember the deadline on Friday.", "Tests are required before merging.",
	}
	labelSet = []string{"bug", "feature", "documentation", "enhancement", "question", "priority::high", "priority::low", "frontend", "backend"}
)

// gen is one run of the generator: the simulator (locked), its random
// source and the timeline of changes to apply in order.
type gen struct {
	s      *Sim
	r      *rand.Rand
	spec   CourseSpec
	end    time.Time
	events []genEvent
}

// genEvent is a change planned for a moment; seq keeps the planned order
// among changes at one moment.
type genEvent struct {
	at  time.Time
	seq int
	do  func(at time.Time)
}

func (g *gen) plan(at time.Time, do func(at time.Time)) {
	g.events = append(g.events, genEvent{at: stamp(at), seq: len(g.events), do: do})
}

// project is a generated project with what the generator needs to know.
type genProject struct {
	p        *Project
	d        *projectData
	team     *genTeam
	bot      int      // the project's ci-bot user, 0 for none
	open     []*genMR // merge requests open in the plan, for pipelines on their branches
	branches int
	// candidates are issues planned to be closed by a merge request.
	candidates []*genIssue
}

type genTeam struct {
	Team
	projects []*genProject
	pace     map[int]float64 // student's activity factor
	quietAt  map[int]int     // week from which the student is quiet, -1 never
}

type genMR struct {
	m       *MergeRequest
	gp      *genProject
	closing []*genIssue
}

type genIssue struct {
	is      *Issue
	claimed bool
	gp      *genProject
	created time.Time
}

// GenerateCourse builds a course as described by spec and returns what it
// made: the course group (and any missing parents), a subgroup per team,
// the projects, a teacher who owns the course group, students who are
// Developers of their team, token bots, and activity spread over the weeks
// in students' daytime and evening hours: commits with stats (pushed to
// the default branch or to merge request branches, some by an author
// GitLab does not know), merge requests with reviewers, assignees, user,
// bot and system notes, approvals, merged (most), closed or still open,
// some closing issues; issues with labels, opened and closed by members;
// pipelines that succeed, fail or are canceled, a few still running at
// the end. Each project's last_activity_at follows GitLab's hourly rule.
// The same seed on an equally set up simulator gives the same data (token
// values included). Each call makes a new course.
func (s *Sim) GenerateCourse(seed int64, spec CourseSpec) Course {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	spec.defaults(now)
	g := &gen{s: s, r: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)), spec: spec}
	g.end = spec.Start.AddDate(0, 0, 7*spec.Weeks)

	// The course group is always new: a path already taken gets a suffix.
	parts := strings.Split(spec.Path, "/")
	var parent int
	for i, part := range parts {
		grp := s.findGroupLocked(strings.Join(parts[:i+1], "/"))
		if last := i == len(parts)-1; grp == nil || last {
			path := part
			for n := 2; last && s.pathTakenLocked(path, parent, true); n++ {
				path = fmt.Sprintf("%s-%d", part, n)
			}
			grp = s.addGroupLocked(s.nextGroup, path, parent)
			s.groupCreated[grp.ID] = stamp(spec.Start.AddDate(0, 0, -7))
		}
		parent = grp.ID
	}
	course := Course{GroupID: parent, Path: s.groupFullPathLocked(s.groups[parent]), Start: spec.Start, End: g.end}

	teacher := g.person()
	course.TeacherID = teacher
	s.members[memberKey{sourceGroup, course.GroupID, teacher}] = levelOwner
	expires := today(now).AddDate(0, 0, maxLifetimeDays)
	tt := s.storeTokenLocked(Token{
		Kind: KindPersonal, UserID: teacher, Name: "gitpulse-sync", Scopes: []string{"read_api", "read_repository"},
		ExpiresAt: &expires, Value: g.tokenValue(),
	}, now)
	course.TeacherToken, course.TeacherTokenID = tt.Value, tt.ID
	bt := g.bot(KindGroup, course.GroupID, "gitpulse-sync", levelReporter, []string{"read_api", "read_repository"})
	course.BotToken, course.BotTokenID, course.BotUserIDs = bt.Value, bt.ID, []int{bt.UserID}

	var teams []*genTeam
	for t := range spec.Teams + spec.SoloProjects {
		team := &genTeam{pace: map[int]float64{}, quietAt: map[int]int{}}
		solo := t >= spec.Teams
		if solo {
			team.Path = fmt.Sprintf("solo-%02d", t-spec.Teams+1)
		} else {
			team.Path = fmt.Sprintf("team-%02d", t+1)
			grp := s.addGroupLocked(s.nextGroup, team.Path, course.GroupID)
			grp.Name = fmt.Sprintf("Team %02d", t+1)
			s.groupCreated[grp.ID] = stamp(spec.Start.AddDate(0, 0, -6))
			team.GroupID = grp.ID
			course.TeamGroupIDs = append(course.TeamGroupIDs, grp.ID)
		}
		nProjects := spec.ProjectsPerTeam
		if solo {
			nProjects = 1
		}
		for i := range nProjects {
			path := projectNames[i%len(projectNames)]
			if i >= len(projectNames) {
				path = fmt.Sprintf("%s-%d", path, i/len(projectNames)+1)
			}
			group := team.GroupID
			if solo {
				path, group = team.Path, course.GroupID
			}
			p := s.addProjectLocked(s.nextProject, path, group)
			p.Name = strings.ToUpper(path[:1]) + path[1:]
			created := stamp(spec.Start.Add(-time.Duration(24+g.r.IntN(48)) * time.Hour))
			d := s.data[p.ID]
			d.createdAt, d.updatedAt, d.lastActivityAt = created, created, created
			gp := &genProject{p: p, d: d, team: team}
			if i == 0 {
				gp.bot = g.bot(KindProject, p.ID, "ci-bot", levelDeveloper, []string{"api"}).UserID
				course.BotUserIDs = append(course.BotUserIDs, gp.bot)
			}
			team.projects = append(team.projects, gp)
			team.ProjectIDs = append(team.ProjectIDs, p.ID)
			course.ProjectIDs = append(course.ProjectIDs, p.ID)
			g.plan(created, func(at time.Time) {
				_, _ = s.addCommitLocked(p, d, CommitSpec{
					AuthorID: teacher, Title: "Initial commit", Message: "Initial commit\n\nProject template.",
					Additions: 40 + g.r.IntN(400), Zone: zoneOf(teacher),
				}, at)
			})
		}
		for range spec.StudentsPerTeam {
			id := g.person()
			if solo {
				s.members[memberKey{sourceProject, team.ProjectIDs[0], id}] = levelDeveloper
			} else {
				s.members[memberKey{sourceGroup, team.GroupID, id}] = levelDeveloper
			}
			team.StudentIDs = append(team.StudentIDs, id)
			course.StudentIDs = append(course.StudentIDs, id)
			team.pace[id] = 0.4 + 1.2*g.r.Float64()
			team.quietAt[id] = -1
			if spec.Weeks >= 2 && g.r.Float64() < 0.12 {
				team.quietAt[id] = spec.Weeks/2 + g.r.IntN(spec.Weeks-spec.Weeks/2)
			}
		}
		teams = append(teams, team)
	}

	if spec.PeopleCases {
		g.peopleCases(&course, teams)
	}
	for week := range spec.Weeks {
		weekStart := spec.Start.AddDate(0, 0, 7*week)
		for _, team := range teams {
			for _, student := range team.StudentIDs {
				pace := team.pace[student]
				if q := team.quietAt[student]; q >= 0 && week >= q {
					pace *= 0.05
				}
				g.studentWeek(team, teacher, student, weekStart, pace)
			}
			for _, gp := range team.projects {
				for range g.poisson(spec.PipelinesPerProjectWeek) {
					g.pipeline(gp, teacher, g.moment(weekStart), false)
				}
			}
		}
	}
	// Issues meant for a merge request that none took: half are closed by
	// hand, the others stay open.
	for _, team := range teams {
		for _, gp := range team.projects {
			for _, gi := range gp.candidates {
				if !gi.claimed && g.r.IntN(2) == 0 {
					g.closeIssueLater(gi, pickInt(g.r, append(slices.Clone(team.StudentIDs), teacher)))
				}
			}
		}
	}
	// A few pipelines are running when the activity ends.
	var all []*genProject
	for _, team := range teams {
		all = append(all, team.projects...)
	}
	for _, i := range g.r.Perm(len(all))[:min(3, len(all))] {
		g.pipeline(all[i], teacher, g.end.Add(-time.Duration(2+g.r.IntN(8))*time.Minute), true)
	}

	slices.SortFunc(g.events, func(a, b genEvent) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
	})
	for _, e := range g.events {
		e.do(e.at)
	}
	for _, team := range teams {
		course.Teams = append(course.Teams, team.Team)
	}
	s.courses[course.GroupID] = course
	return cloneCourse(course)
}

func cloneCourse(c Course) Course {
	c.Teams = slices.Clone(c.Teams)
	for i := range c.Teams {
		c.Teams[i].ProjectIDs = slices.Clone(c.Teams[i].ProjectIDs)
		c.Teams[i].StudentIDs = slices.Clone(c.Teams[i].StudentIDs)
	}
	c.TeamGroupIDs = slices.Clone(c.TeamGroupIDs)
	c.ProjectIDs = slices.Clone(c.ProjectIDs)
	c.StudentIDs = slices.Clone(c.StudentIDs)
	c.BotUserIDs = slices.Clone(c.BotUserIDs)
	if c.People != nil {
		pc := *c.People
		pc.Ring = slices.Clone(pc.Ring)
		c.People = &pc
	}
	return c
}

// person creates a human user with a generated name and returns its ID.
func (g *gen) person() int {
	first, last := g.pick(firstNames), g.pick(lastNames)
	username := fmt.Sprintf("%s.%s.%d", strings.ToLower(first), strings.ToLower(last), g.s.nextUser)
	u := g.s.addUserLocked(username, first+" "+last, false)
	u.createdAt = stamp(g.spec.Start.AddDate(0, 0, -14))
	return u.ID
}

// tokenValue is a "glpat-" token value from the generator's random source,
// not yet in use.
func (g *gen) tokenValue() string {
	for {
		b := make([]byte, 20)
		for i := range b {
			b[i] = alnum[g.r.IntN(len(alnum))]
		}
		if v := "glpat-" + string(b); g.s.byValue[v] == nil {
			return v
		}
	}
}

// bot creates a group or project access token, its bot user named as
// GitLab names them, a member with the given level.
func (g *gen) bot(kind TokenKind, id int, name string, level int, scopes []string) *tokenRecord {
	s := g.s
	username := fmt.Sprintf("%s_%d_bot_%08x", kind, id, g.r.Uint32())
	u := s.addUserLocked(username, name, true)
	u.createdAt = stamp(g.spec.Start.AddDate(0, 0, -7))
	s.members[memberKey{string(kind), id, u.ID}] = level
	t := Token{Kind: kind, UserID: u.ID, Name: name, Scopes: scopes, Value: g.tokenValue()}
	if kind == KindGroup {
		t.GroupID = id
	} else {
		t.ProjectID = id
	}
	return s.storeTokenLocked(t, s.now())
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func pickInt(r *rand.Rand, s []int) int { return s[r.IntN(len(s))] }

// poisson draws from a Poisson distribution with mean lambda.
func (g *gen) poisson(lambda float64) int {
	switch {
	case lambda <= 0:
		return 0
	case lambda > 30:
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*g.r.NormFloat64())))
	}
	limit, k, p := math.Exp(-lambda), 0, g.r.Float64()
	for p > limit {
		k++
		p *= g.r.Float64()
	}
	return k
}

// dayWeights and hourWeights shape when students work: every day, most in
// the afternoon and evening, a little at night.
var (
	dayWeights  = []float64{1, 1, 1, 1, 0.9, 0.6, 0.8}
	hourWeights = []float64{
		0.3, 0.15, 0.05, 0.02, 0.02, 0.03, 0.1, 0.3, 0.6, 0.9, 1, 1, 0.9, 1, 1.1, 1.2, 1.2, 1.2, 1.3, 1.4, 1.5, 1.4, 1.1, 0.7,
	}
)

func (g *gen) weighted(w []float64) int {
	total := 0.0
	for _, v := range w {
		total += v
	}
	x := g.r.Float64() * total
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// moment is a random working moment in the week from weekStart, never after
// the end of the activity.
func (g *gen) moment(weekStart time.Time) time.Time {
	day := weekStart.Truncate(24*time.Hour).AddDate(0, 0, g.weighted(dayWeights))
	t := day.Add(time.Duration(g.weighted(hourWeights))*time.Hour + time.Duration(g.r.IntN(3600))*time.Second)
	t = t.Add(time.Duration(g.r.IntN(1000)) * time.Millisecond)
	switch {
	case t.Before(g.spec.Start):
		return g.spec.Start.Add(time.Duration(g.r.IntN(3600)) * time.Second)
	case t.After(g.end):
		return g.end.Add(-time.Duration(1+g.r.IntN(3600)) * time.Second)
	}
	return t
}

func (g *gen) title() string { return g.pick(verbs) + " " + g.pick(objects) }

// stats draws a commit's line counts: mostly small, now and then large.
func (g *gen) stats() (int, int) {
	add := int(math.Min(3000, math.Exp(2.8+1.3*g.r.NormFloat64())))
	return add, int(float64(add) * g.r.Float64() * 0.7)
}

// commitZones are the time zones generated commits are written in, so
// that the Commits API shows offsets other than UTC's: most people of a
// course at +01:00, some at +02:00, -05:00, +05:30 or in UTC.
var commitZones = []*time.Location{
	time.FixedZone("+01:00", 3600), time.FixedZone("+02:00", 2*3600), time.FixedZone("+01:00", 3600),
	time.FixedZone("-05:00", -5*3600), time.FixedZone("+01:00", 3600), time.FixedZone("+05:30", 5*3600+1800), time.UTC,
}

// zoneOf is the time zone user id writes commits in. It is drawn from the
// ID, not the generator's random source, so that courses generated before
// commits had offsets stay the same.
func zoneOf(id int) *time.Location { return commitZones[id%len(commitZones)] }

// commitSpec is a commit by author with a generated title, message and
// stats; now and then GitLab does not know the author (a machine with
// another Git identity).
func (g *gen) commitSpec(author int, branch string) CommitSpec {
	title := g.title()
	msg := title
	if g.r.IntN(3) == 0 {
		msg += "\n\n" + g.pick(bodies)
	}
	add, del := g.stats()
	spec := CommitSpec{AuthorID: author, Title: title, Message: msg, Branch: branch, Additions: add, Deletions: del, Zone: zoneOf(author)}
	if g.r.IntN(100) == 0 {
		u := g.s.users[author]
		first := strings.ToLower(strings.Fields(u.Name)[0])
		spec.AuthorID, spec.AuthorName, spec.AuthorEmail = 0, first, first+"@laptop.local"
	}
	return spec
}
