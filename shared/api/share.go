package api

import (
	"net/http"
	"sort"
	"time"

	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// ShareView is GET /api/v1/courses/{id}/teams/{team}/share: each
// student's share of the team's commits, changed lines (additions plus
// deletions), merge requests opened and reviews given, and how evenly
// each is shared (Balance).
type ShareView struct {
	TeamID   string     `json:"team_id"`
	TeamName string     `json:"team_name"`
	Balance  Balance    `json:"balance"`
	Students []ShareRow `json:"students"`
}

// Balance is the Gini coefficient of each metric over the team's
// students: 0 when everyone did the same, towards 1 when one did all
// (at most (n-1)/n for n students); 0 for a metric nobody has any of.
type Balance struct {
	Metric  string  `json:"metric"` // "gini"
	Commits float64 `json:"commits"`
	Lines   float64 `json:"lines"`
	MRs     float64 `json:"mrs"`
	Reviews float64 `json:"reviews"`
}

// ShareRow is one student's figures and shares (0 to 1; 0 when the team
// has none).
type ShareRow struct {
	Key          string  `json:"key"`
	Name         string  `json:"name"`
	Commits      int     `json:"commits"`
	CommitsShare float64 `json:"commits_share"`
	Lines        int     `json:"lines"`
	LinesShare   float64 `json:"lines_share"`
	MRs          int     `json:"mrs"`
	MRsShare     float64 `json:"mrs_share"`
	Reviews      int     `json:"reviews"`
	ReviewsShare float64 `json:"reviews_share"`
}

func (s *Server) teamShare(w http.ResponseWriter, r *http.Request) error {
	asCSV := wantsCSV(r)
	tw, done, err := s.loadTeam(w, r, representation(asCSV)...)
	if err != nil || done {
		return err
	}
	v := shareOf(tw)
	if asCSV {
		return writeCSV(w, shareCSV(v.Students))
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func shareOf(tw teamWork) ShareView {
	v := ShareView{TeamID: tw.team.ID, TeamName: tw.team.Name, Balance: Balance{Metric: "gini"}, Students: []ShareRow{}}
	var commits, lines, mrs, reviews []float64
	for _, p := range tw.people {
		row := ShareRow{Key: p.Key, Name: p.Name, Commits: p.Commits, Lines: p.Additions + p.Deletions, MRs: p.MRsOpened, Reviews: p.Reviews}
		v.Students = append(v.Students, row)
		commits = append(commits, float64(row.Commits))
		lines = append(lines, float64(row.Lines))
		mrs = append(mrs, float64(row.MRs))
		reviews = append(reviews, float64(row.Reviews))
	}
	share := func(x []float64, i int) float64 {
		total := 0.0
		for _, v := range x {
			total += v
		}
		if total == 0 {
			return 0
		}
		return x[i] / total
	}
	for i := range v.Students {
		st := &v.Students[i]
		st.CommitsShare, st.LinesShare, st.MRsShare, st.ReviewsShare = share(commits, i), share(lines, i), share(mrs, i), share(reviews, i)
	}
	v.Balance.Commits, v.Balance.Lines, v.Balance.MRs, v.Balance.Reviews = Gini(commits), Gini(lines), Gini(mrs), Gini(reviews)
	return v
}

// Gini is the Gini coefficient of x: the mean absolute difference of all
// ordered pairs divided by twice the mean, sum |xi - xj| / (2 n sum x).
// It is 0 for an empty x or one that sums to 0.
func Gini(x []float64) float64 {
	n, total := float64(len(x)), 0.0
	for _, v := range x {
		total += v
	}
	if n == 0 || total == 0 {
		return 0
	}
	diff := 0.0
	for _, a := range x {
		for _, b := range x {
			if a > b {
				diff += a - b
			} else {
				diff += b - a
			}
		}
	}
	return diff / (2 * n * total)
}

// WeeklyView is GET /api/v1/courses/{id}/teams/{team}/weekly: the team's
// and each student's activity per ISO week (Monday to Sunday, UTC) from
// since to until.
type WeeklyView struct {
	TeamID   string             `json:"team_id"`
	TeamName string             `json:"team_name"`
	Weeks    []string           `json:"weeks"` // the Mondays, oldest first
	Team     []gpsync.WeekCount `json:"team"`
	Students []StudentWeeks     `json:"students"`
	// Truncated is set when since asked for more than maxWeeks weeks: the
	// maxWeeks weeks up to until's are served, and Weeks says which.
	Truncated bool `json:"truncated,omitempty"`
}

// StudentWeeks is one student's weeks (one entry per week of the range).
type StudentWeeks struct {
	Key   string             `json:"key"`
	Name  string             `json:"name"`
	Weeks []gpsync.WeekCount `json:"weeks"`
}

// Weekly defaults and bounds.
const (
	defaultWeeks = 12  // until - since when since is absent
	maxWeeks     = 104 // the longest range served
)

func (s *Server) teamWeekly(w http.ResponseWriter, r *http.Request) error {
	since, until, err := timeRangeParams(r.URL.Query())
	if err != nil {
		return err
	}
	end := s.deps.Now().UTC()
	if until != nil {
		end = *until
	}
	start := end.AddDate(0, 0, -7*(defaultWeeks-1))
	if since != nil {
		start = *since
	}
	// A longer range than is served is cut to its last maxWeeks weeks,
	// and the answer says so: a since far back asks for "everything".
	truncated := false
	if oldest := end.AddDate(0, 0, -7*(maxWeeks-1)); start.Before(oldest) && gpsync.WeekOf(start) < gpsync.WeekOf(oldest) {
		start, truncated = oldest, true
	}
	weeks := weekRange(start, end)
	// Without until, the range ends this week: it depends on the day.
	tw, done, err := s.loadTeam(w, r, end.Format(time.DateOnly))
	if err != nil || done {
		return err
	}
	v := weeklyOf(tw, weeks)
	v.Truncated = truncated
	writeJSON(w, http.StatusOK, v)
	return nil
}

// weekRange is the Mondays of the ISO weeks from start's to end's.
func weekRange(start, end time.Time) []string {
	out := []string{}
	first, err := time.Parse(time.DateOnly, gpsync.WeekOf(start))
	if err != nil {
		return out
	}
	last := gpsync.WeekOf(end)
	for d := first; d.Format(time.DateOnly) <= last && len(out) <= maxWeeks; d = d.AddDate(0, 0, 7) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

func weeklyOf(tw teamWork, weeks []string) WeeklyView {
	v := WeeklyView{TeamID: tw.team.ID, TeamName: tw.team.Name, Weeks: weeks, Team: []gpsync.WeekCount{}, Students: []StudentWeeks{}}
	team := map[string]*gpsync.WeekCount{}
	for _, wk := range weeks {
		c := &gpsync.WeekCount{Week: wk}
		team[wk] = c
	}
	for _, p := range tw.people {
		sw := StudentWeeks{Key: p.Key, Name: p.Name, Weeks: []gpsync.WeekCount{}}
		for _, wk := range weeks {
			c := gpsync.WeekCount{Week: wk}
			if got := p.Weeks[wk]; got != nil {
				c = *got
				c.Week = wk
			}
			sw.Weeks = append(sw.Weeks, c)
			t := team[wk]
			t.Commits, t.MRs, t.Reviews, t.IssuesClosed = t.Commits+c.Commits, t.MRs+c.MRs, t.Reviews+c.Reviews, t.IssuesClosed+c.IssuesClosed
		}
		v.Students = append(v.Students, sw)
	}
	keys := make([]string, 0, len(team))
	for k := range team {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Team = append(v.Team, *team[k])
	}
	return v
}
