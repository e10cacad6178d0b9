package api

import (
	"net/http"

	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// ReviewsView is GET /api/v1/courses/{id}/teams/{team}/reviews: who
// reviewed whom among the team's students. A pair counts the reviewer's
// review notes (not system notes) on the author's merge requests, their
// approvals of them, and their merges of them, apart; given and received
// are the sums of the three (staff and bots are not students, so their
// reviews are in neither).
type ReviewsView struct {
	TeamID   string              `json:"team_id"`
	TeamName string              `json:"team_name"`
	People   []PersonRef         `json:"people"`
	Pairs    []gpsync.ReviewPair `json:"pairs"`
	Students []ReviewTotals      `json:"students"`
}

// PersonRef names a person of a team route.
type PersonRef struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

// ReviewTotals is one student's reviews given and received.
type ReviewTotals struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Given    int    `json:"given"`
	Received int    `json:"received"`
}

func (s *Server) teamReviews(w http.ResponseWriter, r *http.Request) error {
	tw, done, err := s.loadTeam(w, r)
	if err != nil || done {
		return err
	}
	writeJSON(w, http.StatusOK, reviewsOf(tw))
	return nil
}

func reviewsOf(tw teamWork) ReviewsView {
	v := ReviewsView{TeamID: tw.team.ID, TeamName: tw.team.Name, People: []PersonRef{}, Pairs: tw.pairs, Students: []ReviewTotals{}}
	given, received := map[string]int{}, map[string]int{}
	for _, p := range tw.pairs {
		n := p.Notes + p.Approvals + p.Merges
		given[p.Reviewer] += n
		received[p.Author] += n
	}
	for _, p := range tw.people {
		v.People = append(v.People, PersonRef{Key: p.Key, Name: p.Name})
		v.Students = append(v.Students, ReviewTotals{Key: p.Key, Name: p.Name, Given: given[p.Key], Received: received[p.Key]})
	}
	return v
}
