package api

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TeamView is one team of GET /api/v1/courses/{id}/teams.
type TeamView struct {
	gitpulse.Team
	Projects []ProjectView `json:"projects"`
	Summary  TeamSummary   `json:"summary"`
}

// ProjectView is a team's project with its aggregate.
type ProjectView struct {
	gitpulse.Project
	Stats     gpsync.ProjectStats `json:"stats"`
	UpdatedAt time.Time           `json:"updated_at"`
}

// TeamSummary sums a team's projects.
type TeamSummary struct {
	Members             int        `json:"members"`
	Commits7d           int        `json:"commits_last_7_days"`
	Commits             int        `json:"commits"`
	MRsOpen             int        `json:"merge_requests_open"`
	MRsMerged           int        `json:"merge_requests_merged"`
	IssuesOpen          int        `json:"issues_open"`
	IssuesClosed        int        `json:"issues_closed"`
	PipelineSuccessRate *float64   `json:"pipeline_success_rate"` // of finished pipelines; null when none finished
	LastActivity        *time.Time `json:"last_activity"`
	InactiveDays        int        `json:"inactive_days"`
	InactiveMembers     []Inactive `json:"inactive_members"`
}

// Inactive is a member with no activity in the window.
type Inactive struct {
	Username     string     `json:"username,omitempty"`
	Name         string     `json:"name"`
	LastActivity *time.Time `json:"last_activity"`
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) error {
	c, updated, err := s.course(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	days := s.deps.InactiveDays
	if raw := q.Get("inactive_days"); raw != "" {
		if days, err = strconv.Atoi(raw); err != nil || days < 1 || days > 365 {
			return gitpulse.Errorf(gitpulse.EINVALID, "inactive_days: must be an integer from 1 to 365, got %q", clip(raw))
		}
	}
	if err := checkCursor(r, store.CoursePK(c.ID)); err != nil {
		return err
	}
	// Last-7-days and inactive figures are relative to today.
	if fresh(w, r, updated, s.deps.Now().UTC().Format(time.DateOnly), strconv.Itoa(days)) {
		return nil
	}
	// One query: each team item is followed by its projects' summaries
	// (TEAM#<id>#PROJECT#<id>); a page never splits a team.
	p, err := s.deps.Store.GroupPage(r.Context(), store.PageQuery{Listing: listing(r), PK: store.CoursePK(c.ID), Prefix: "TEAM#", Cursor: q.Get("cursor")},
		limit, 8, teamOf)
	if err != nil {
		return err
	}
	teams, err := teamViews(p.Items, s.deps.Now(), days)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listBody[TeamView]{Items: teams, NextCursor: p.Next})
	return nil
}

// teamOf is the team a TEAM# sort key belongs to.
func teamOf(sk string) string {
	team, _, _ := strings.Cut(strings.TrimPrefix(sk, "TEAM#"), "#")
	return team
}

// teamViews builds the teams of a page: team items, each followed by
// its project summaries.
func teamViews(items []map[string]ddbtypes.AttributeValue, now time.Time, days int) ([]TeamView, error) {
	teams := []TeamView{}
	var sums [][]gpsync.ProjectSummary
	for _, item := range items {
		switch kind(item) {
		case "team":
			var t gitpulse.Team
			if err := unmarshal(item, &t); err != nil {
				return nil, err
			}
			teams = append(teams, TeamView{Team: t, Projects: []ProjectView{}})
			sums = append(sums, nil)
		case "project_summary":
			var ps gpsync.ProjectSummary
			if err := unmarshal(item, &ps); err != nil {
				return nil, err
			}
			if len(teams) == 0 || teams[len(teams)-1].ID != ps.Project.TeamID {
				continue // a team's projects whose team item is gone
			}
			i := len(teams) - 1
			teams[i].Projects = append(teams[i].Projects, ProjectView{Project: ps.Project, Stats: ps.Stats, UpdatedAt: ps.UpdatedAt})
			sums[i] = append(sums[i], ps)
		}
	}
	for i := range teams {
		teams[i].Summary = summarize(sums[i], now, days)
	}
	return teams, nil
}

// summarize sums a team's project summaries at now; members with no
// activity in the last days days are listed.
func summarize(projects []gpsync.ProjectSummary, now time.Time, days int) TeamSummary {
	sum := TeamSummary{InactiveDays: days, InactiveMembers: []Inactive{}}
	week := now.UTC().AddDate(0, 0, -6).Format(time.DateOnly) // today and the 6 days before
	finished, succeeded := 0, 0
	last := map[string]*gpsync.PersonActivity{}
	var order []string
	for _, p := range projects {
		st := p.Stats
		sum.Commits += st.Commits
		sum.MRsOpen += st.MRsOpen
		sum.MRsMerged += st.MRsMerged
		sum.IssuesOpen += st.IssuesOpen
		sum.IssuesClosed += st.IssuesClosed
		for day, n := range st.CommitsByDay {
			if day >= week {
				sum.Commits7d += n
			}
		}
		finished += st.Pipelines["success"] + st.Pipelines["failed"] + st.Pipelines["canceled"]
		succeeded += st.Pipelines["success"]
		if st.LastActivity != nil && (sum.LastActivity == nil || st.LastActivity.After(*sum.LastActivity)) {
			t := st.LastActivity.UTC()
			sum.LastActivity = &t
		}
		for _, a := range p.People {
			prev, ok := last[a.Key]
			if !ok {
				a := a
				last[a.Key] = &a
				order = append(order, a.Key)
				continue
			}
			prev.Member = prev.Member || a.Member
			if a.LastActivity != nil && (prev.LastActivity == nil || a.LastActivity.After(*prev.LastActivity)) {
				prev.LastActivity = a.LastActivity
			}
		}
	}
	if finished > 0 {
		rate := float64(succeeded) / float64(finished)
		sum.PipelineSuccessRate = &rate
	}
	cut := now.AddDate(0, 0, -days)
	sort.Strings(order)
	for _, k := range order {
		a := last[k]
		if !a.Member {
			continue
		}
		sum.Members++
		if a.LastActivity == nil || a.LastActivity.Before(cut) {
			var at *time.Time
			if a.LastActivity != nil {
				t := a.LastActivity.UTC()
				at = &t
			}
			sum.InactiveMembers = append(sum.InactiveMembers, Inactive{Username: a.Username, Name: a.Name, LastActivity: at})
		}
	}
	return sum
}
