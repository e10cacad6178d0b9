package api

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// teamWork is what the team routes (reviews, share, weekly) read of one
// team: its students over all its projects, merged by person, and who
// reviewed whom.
type teamWork struct {
	team    gitpulse.Team
	updated time.Time
	people  []*gpsync.PersonStats // sorted by name
	pairs   []gpsync.ReviewPair   // summed over the projects, sorted
}

// loadTeam reads the course, the team of the {team} path parameter (one
// GetItem) and the team's work items (one Query), and sets the
// validators; done is true when the answer is a 304. vary is what else
// the answer depends on.
func (s *Server) loadTeam(w http.ResponseWriter, r *http.Request, vary ...string) (tw teamWork, done bool, err error) {
	c, updated, err := s.course(r)
	if err != nil {
		return tw, false, err
	}
	id := r.PathValue("team")
	if id == "" || len(id) > 64 {
		return tw, false, gitpulse.Errorf(gitpulse.EINVALID, "team: must be a team id as the teams listing gives it")
	}
	cpk := store.CoursePK(c.ID)
	if err := s.deps.Store.Get(r.Context(), cpk, gpsync.TeamSK(id), &tw.team); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return tw, false, gitpulse.Errorf(gitpulse.ENOTFOUND, "team %q: not a team of course %d", clip(id), c.ID)
		}
		return tw, false, err
	}
	tw.updated = updated
	if fresh(w, r, updated, vary...) {
		return tw, true, nil
	}
	works, err := store.All[gpsync.TeamWork](r.Context(), s.deps.Store, cpk, "WORK#"+id+"#")
	if err != nil {
		return tw, false, err
	}
	byKey := map[string]*gpsync.PersonStats{}
	byPair := map[[2]string]*gpsync.ReviewPair{}
	var order [][2]string
	for _, wk := range works {
		for _, ps := range wk.People {
			p := byKey[ps.Key]
			if p == nil {
				p = &gpsync.PersonStats{Key: ps.Key, UserID: ps.UserID, Username: ps.Username, Name: ps.Name, Weeks: map[string]*gpsync.WeekCount{}}
				byKey[ps.Key] = p
				tw.people = append(tw.people, p)
			}
			p.Commits += ps.Commits
			p.Additions += ps.Additions
			p.Deletions += ps.Deletions
			p.MRsOpened += ps.MRsOpened
			p.MRsMerged += ps.MRsMerged
			p.Reviews += ps.Reviews
			p.ReviewsReceived += ps.ReviewsReceived
			p.IssuesClosed += ps.IssuesClosed
			for k, c := range ps.Weeks {
				if c == nil {
					continue
				}
				m := p.Weeks[k]
				if m == nil {
					m = &gpsync.WeekCount{Week: k}
					p.Weeks[k] = m
				}
				m.Commits, m.MRs, m.Reviews, m.IssuesClosed = m.Commits+c.Commits, m.MRs+c.MRs, m.Reviews+c.Reviews, m.IssuesClosed+c.IssuesClosed
			}
		}
		for _, pr := range wk.Pairs {
			k := [2]string{pr.Reviewer, pr.Author}
			p := byPair[k]
			if p == nil {
				p = &gpsync.ReviewPair{Reviewer: pr.Reviewer, Author: pr.Author}
				byPair[k] = p
				order = append(order, k)
			}
			p.Notes, p.Approvals, p.Merges = p.Notes+pr.Notes, p.Approvals+pr.Approvals, p.Merges+pr.Merges
		}
	}
	sortedByName(tw.people, func(p *gpsync.PersonStats) string { return p.Name }, func(p *gpsync.PersonStats) string { return p.Key })
	tw.pairs = []gpsync.ReviewPair{}
	for _, k := range order {
		tw.pairs = append(tw.pairs, *byPair[k])
	}
	sortPairs(tw.pairs)
	return tw, false, nil
}

func sortPairs(ps []gpsync.ReviewPair) {
	slices.SortFunc(ps, func(a, b gpsync.ReviewPair) int {
		return cmp.Or(cmp.Compare(a.Reviewer, b.Reviewer), cmp.Compare(a.Author, b.Author))
	})
}
