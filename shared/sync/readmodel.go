package sync

import (
	"context"
	"errors"
	"slices"
	"sort"
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
	// Students are the person keys of the project's STUDENT# rows, so
	// that the next write removes the rows of people no longer there.
	Students []string `json:"-" dynamodbav:"students,omitempty"`
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

// StudentRow is COURSE#<id> / STUDENT#<person key>#<project id>: one
// person's aggregate in one project, bots left out.
type StudentRow struct {
	PersonStats
	ProjectID int64  `json:"project_id" dynamodbav:"project_id"`
	TeamID    string `json:"team_id" dynamodbav:"team_id"`
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
func StudentSK(key string, project int64) string { return "STUDENT#" + key + "#" + itoa(project) }

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
	info := ProjectInfo{Project: proj, Stats: agg.Project, UpdatedAt: now}
	if proj.TeamID != "" {
		for _, k := range sortedKeys(agg.People) {
			if !agg.People[k].Bot {
				info.Students = append(info.Students, k)
			}
		}
	}
	// Rows the last write made that this one does not replace: the
	// project moved to another team, or people left it.
	if prev.Project.TeamID != "" && prev.Project.TeamID != proj.TeamID {
		if err := w.Store.Delete(ctx, cpk, SummarySK(prev.Project.TeamID, proj.ID)); err != nil {
			return err
		}
	}
	for _, k := range prev.Students {
		if !slices.Contains(info.Students, k) {
			if err := w.Store.Delete(ctx, cpk, StudentSK(k, proj.ID)); err != nil {
				return err
			}
		}
	}
	if err := r.w.Put(ctx, store.Item{PK: store.ProjectPK(proj.ID), SK: "INFO", Kind: "project_info", Value: info}); err != nil {
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
	sum := ProjectSummary{Project: proj, Stats: recent, UpdatedAt: now, People: []PersonActivity{}}
	for _, k := range sortedKeys(agg.People) {
		ps := agg.People[k]
		if ps.Bot {
			continue
		}
		sum.People = append(sum.People, PersonActivity{Key: ps.Key, Username: ps.Username, Name: ps.Name, Member: ps.Member, LastActivity: ps.LastActivity})
		if err := r.w.Put(ctx, store.Item{PK: cpk, SK: StudentSK(k, proj.ID), Kind: "student",
			Value: StudentRow{PersonStats: *ps, ProjectID: proj.ID, TeamID: proj.TeamID}}); err != nil {
			return err
		}
	}
	if err := r.w.Put(ctx, store.Item{PK: cpk, SK: SummarySK(proj.TeamID, proj.ID), Kind: "project_summary", Value: sum}); err != nil {
		return err
	}
	return r.w.Put(ctx, store.Item{PK: cpk, SK: "VERSION", Kind: "course_version", Value: CourseVersion{UpdatedAt: now}})
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
