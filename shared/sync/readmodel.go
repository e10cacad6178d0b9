package sync

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// The read model: after a project's aggregates are computed, the worker
// also writes them where the API reads them with one request each, so no
// API request ever sums over a course's raw items.

// ProjectInfo is PROJECT#<id> / INFO: a project, its aggregate, and when
// sync last wrote it (the API's Last-Modified).
type ProjectInfo struct {
	Project   gitpulse.Project `json:"project" dynamodbav:"project"`
	Stats     ProjectStats     `json:"stats" dynamodbav:"stats"`
	UpdatedAt time.Time        `json:"updated_at" dynamodbav:"updated_at"`
	// Data fingerprints the project's synced items: with it, INFO (and
	// so UpdatedAt) is written again when any of them changed.
	Data string `json:"-" dynamodbav:"data,omitempty"`
	// Students are the person keys of the project's STUDENT# rows as
	// written before rows were sorted by name (STUDENT#<key>#<project>),
	// kept so that the next write removes them.
	Students []string `json:"-" dynamodbav:"students,omitempty"`
	// Rows are the sort keys of the project's per-person course rows
	// (STUDENT#, UNRESOLVED#), so that the next write removes the rows
	// of people no longer there (or renamed).
	Rows []string `json:"-" dynamodbav:"rows,omitempty"`
}

// PersonActivity is one person's last activity in a project (the teams
// listing finds members who went quiet with it).
type PersonActivity struct {
	Key          string     `json:"key" dynamodbav:"key"`
	Username     string     `json:"username,omitempty" dynamodbav:"username,omitempty"`
	Name         string     `json:"name" dynamodbav:"name"`
	Member       bool       `json:"member" dynamodbav:"member"`
	LastActivity *time.Time `json:"last_activity,omitempty" dynamodbav:"last_activity,omitempty"`
}

// ProjectSummary is COURSE#<id> / TEAM#<team id>#PROJECT#<id>: it sorts
// right after its team, so one query reads teams with their projects.
type ProjectSummary struct {
	Project   gitpulse.Project `json:"project" dynamodbav:"project"`
	Stats     ProjectStats     `json:"stats" dynamodbav:"stats"`
	People    []PersonActivity `json:"people" dynamodbav:"people"`
	UpdatedAt time.Time        `json:"updated_at" dynamodbav:"updated_at"`
}

// StudentRow is COURSE#<id> / STUDENT#<sort name>#<project id> (see
// SortName): one student's aggregate in one project. Bots, staff and
// commit identities no member matches have none.
type StudentRow struct {
	PersonStats
	ProjectID int64  `json:"project_id" dynamodbav:"project_id"`
	TeamID    string `json:"team_id" dynamodbav:"team_id"`
	TeamName  string `json:"team_name" dynamodbav:"team_name"`
}

// UnresolvedRow is COURSE#<id> / UNRESOLVED#<e-mail>#<project id>: a
// commit identity (author e-mail) of the project that no member matched.
type UnresolvedRow struct {
	Email        string     `json:"email" dynamodbav:"email"`
	Name         string     `json:"name" dynamodbav:"name"`
	ProjectID    int64      `json:"project_id" dynamodbav:"project_id"`
	TeamID       string     `json:"team_id" dynamodbav:"team_id"`
	TeamName     string     `json:"team_name" dynamodbav:"team_name"`
	Commits      int        `json:"commits" dynamodbav:"commits"`
	Additions    int        `json:"additions" dynamodbav:"additions"`
	Deletions    int        `json:"deletions" dynamodbav:"deletions"`
	LastActivity *time.Time `json:"last_activity,omitempty" dynamodbav:"last_activity,omitempty"`
}

// TeamWork is COURSE#<id> / WORK#<team id>#<project id>: the students of
// one of the team's projects with their weekly activity, and who reviewed
// whom among them; the team routes (reviews, share, weekly) read a team's
// with one Query.
type TeamWork struct {
	ProjectID int64         `json:"project_id" dynamodbav:"project_id"`
	TeamID    string        `json:"team_id" dynamodbav:"team_id"`
	People    []PersonStats `json:"people" dynamodbav:"people"`
	Pairs     []ReviewPair  `json:"pairs" dynamodbav:"pairs"`
	UpdatedAt time.Time     `json:"updated_at" dynamodbav:"updated_at"`
}

// CourseVersion is COURSE#<id> / VERSION: when sync last wrote anything of
// the course (the course routes' Last-Modified).
type CourseVersion struct {
	UpdatedAt time.Time `json:"updated_at" dynamodbav:"updated_at"`
}

// Key helpers of the read model.
func TeamSK(team string) string { return "TEAM#" + team }
func SummarySK(team string, project int64) string {
	return "TEAM#" + team + "#PROJECT#" + itoa(project)
}
func StudentSK(name, key string, project int64) string {
	return "STUDENT#" + SortName(name, key) + "#" + itoa(project)
}
func UnresolvedSK(email string, project int64) string {
	return "UNRESOLVED#" + strings.ToLower(email) + "#" + itoa(project)
}
func WorkSK(team string, project int64) string { return "WORK#" + team + "#" + itoa(project) }

// student reports whether a person gets a student row: a GitLab user
// who is neither a bot nor staff.
func student(ps *PersonStats) bool { return ps.UserID != 0 && !ps.Bot && !ps.Staff }

// summaryDays is how many days of commits per day a summary keeps.
const summaryDays = 31

// writeReadModel puts the project's read-model items into the run's
// writer; the caller flushes them with the rest.
func (w *Worker) writeReadModel(ctx context.Context, r *run, agg Aggregates) error {
	now := w.Now().UTC()
	var proj gitpulse.Project
	if err := w.Store.Get(ctx, store.CoursePK(r.t.CourseID), store.ProjectSK(r.t.ProjectID), &proj); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	proj.ID, proj.CourseID = r.t.ProjectID, r.t.CourseID
	var prev ProjectInfo
	if err := w.Store.Get(ctx, store.ProjectPK(proj.ID), "INFO", &prev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	cpk := store.CoursePK(r.t.CourseID)
	info := ProjectInfo{Project: proj, Stats: agg.Project, UpdatedAt: now, Data: agg.Data}
	if proj.TeamID != "" {
		for _, k := range sortedKeys(agg.People) {
			switch ps := agg.People[k]; {
			case student(ps):
				info.Rows = append(info.Rows, StudentSK(ps.Name, k, proj.ID))
			case ps.UserID == 0:
				info.Rows = append(info.Rows, UnresolvedSK(strings.TrimPrefix(k, "e"), proj.ID))
			}
		}
	}
	// Rows the last write made that this one does not replace: the
	// project moved to another team, or people left it (or were renamed).
	// Each row is written only when its content changed (updated_at
	// aside), and the course's VERSION, which the API's validators read,
	// only when some row was written or deleted.
	changed := r.w.Changed
	deleted := 0
	if prev.Project.TeamID != "" && prev.Project.TeamID != proj.TeamID {
		for _, sk := range []string{SummarySK(prev.Project.TeamID, proj.ID), WorkSK(prev.Project.TeamID, proj.ID)} {
			if err := w.Store.Delete(ctx, cpk, sk); err != nil {
				return err
			}
			deleted++
		}
	}
	old := slices.Clone(prev.Rows)
	for _, k := range prev.Students {
		old = append(old, "STUDENT#"+k+"#"+itoa(proj.ID))
	}
	for _, sk := range old {
		if !slices.Contains(info.Rows, sk) {
			if err := w.Store.Delete(ctx, cpk, sk); err != nil {
				return err
			}
			deleted++
		}
	}
	if err := r.w.Put(ctx, store.Item{PK: store.ProjectPK(proj.ID), SK: "INFO", Kind: "project_info", Value: info,
		IfChanged: true, Unhashed: []string{"updated_at"}}); err != nil {
		return err
	}
	if proj.TeamID == "" {
		return nil // not (or no longer) listed in the course: no course rows
	}
	recent := agg.Project
	recent.CommitsByDay = map[string]int{}
	cut := now.AddDate(0, 0, -summaryDays).Format(time.DateOnly)
	for day, n := range agg.Project.CommitsByDay {
		if day >= cut {
			recent.CommitsByDay[day] = n
		}
	}
	var team gitpulse.Team
	if err := w.Store.Get(ctx, cpk, TeamSK(proj.TeamID), &team); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	sum := ProjectSummary{Project: proj, Stats: recent, UpdatedAt: now, People: []PersonActivity{}}
	work := TeamWork{ProjectID: proj.ID, TeamID: proj.TeamID, People: []PersonStats{}, Pairs: []ReviewPair{}, UpdatedAt: now}
	for _, k := range sortedKeys(agg.People) {
		ps := agg.People[k]
		if ps.UserID == 0 {
			if err := r.w.Put(ctx, store.Item{PK: cpk, SK: UnresolvedSK(strings.TrimPrefix(k, "e"), proj.ID), Kind: "unresolved_identity",
				Value: UnresolvedRow{Email: strings.TrimPrefix(k, "e"), Name: ps.Name, ProjectID: proj.ID, TeamID: proj.TeamID, TeamName: team.Name,
					Commits: ps.Commits, Additions: ps.Additions, Deletions: ps.Deletions, LastActivity: ps.LastActivity}, IfChanged: true}); err != nil {
				return err
			}
			continue
		}
		if !student(ps) {
			continue // bots and staff: never students, never inactive members
		}
		sum.People = append(sum.People, PersonActivity{Key: ps.Key, Username: ps.Username, Name: ps.Name, Member: ps.Member, LastActivity: ps.LastActivity})
		if err := r.w.Put(ctx, store.Item{PK: cpk, SK: StudentSK(ps.Name, k, proj.ID), Kind: "student",
			Value: StudentRow{PersonStats: *ps, ProjectID: proj.ID, TeamID: proj.TeamID, TeamName: team.Name}, IfChanged: true}); err != nil {
			return err
		}
		pw := *ps
		pw.Days, pw.CommitsByDay = nil, nil
		work.People = append(work.People, pw)
	}
	for _, p := range agg.Pairs {
		if slices.ContainsFunc(work.People, func(ps PersonStats) bool { return ps.Key == p.Reviewer }) &&
			slices.ContainsFunc(work.People, func(ps PersonStats) bool { return ps.Key == p.Author }) {
			work.Pairs = append(work.Pairs, p)
		}
	}
	if err := r.w.Put(ctx, store.Item{PK: cpk, SK: SummarySK(proj.TeamID, proj.ID), Kind: "project_summary", Value: sum,
		IfChanged: true, Unhashed: []string{"updated_at"}}); err != nil {
		return err
	}
	if err := r.w.Put(ctx, store.Item{PK: cpk, SK: WorkSK(proj.TeamID, proj.ID), Kind: "team_work", Value: work,
		IfChanged: true, Unhashed: []string{"updated_at"}}); err != nil {
		return err
	}
	if err := r.w.Resolve(ctx); err != nil {
		return err
	}
	if r.w.Changed == changed && deleted == 0 {
		return nil
	}
	// After the rows it versions (a client never caches an old row under
	// the new validator), and once for the tasks of a batch: a later
	// task's VERSION replaces one still held.
	return r.w.PutAfter(ctx, store.Item{PK: cpk, SK: "VERSION", Kind: "course_version", Value: CourseVersion{UpdatedAt: now}})
}

// touchInfo marks the project's data as changed without new aggregates:
// a task that ended in a recorded error may still have stored items (and
// the scheduler stores merge requests and issues itself), so validators
// must move.
func (w *Worker) touchInfo(ctx context.Context, projectID int64) error {
	var info ProjectInfo
	if err := w.Store.Get(ctx, store.ProjectPK(projectID), "INFO", &info); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // never aggregated: the API does not list it yet
		}
		return err
	}
	info.UpdatedAt = w.Now().UTC()
	return w.Store.Put(ctx, store.Item{PK: store.ProjectPK(projectID), SK: "INFO", Kind: "project_info", Value: info})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
