// Issues API (docs.gitlab.com/api/issues): GET /groups|projects/:id/issues and
// /projects/:id/issues/:iid.

package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type issueJSON struct {
	ID                   int             `json:"id"`
	IID                  int             `json:"iid"`
	ProjectID            int             `json:"project_id"`
	Title                string          `json:"title"`
	Description          string          `json:"description"`
	State                string          `json:"state"`
	CreatedAt            string          `json:"created_at"`
	UpdatedAt            string          `json:"updated_at"`
	ClosedAt             *string         `json:"closed_at"`
	ClosedBy             *userBasicJSON  `json:"closed_by"`
	Labels               []string        `json:"labels"`
	Milestone            any             `json:"milestone"`
	Assignees            []userBasicJSON `json:"assignees"`
	Author               *userBasicJSON  `json:"author"`
	Type                 string          `json:"type"`
	Assignee             *userBasicJSON  `json:"assignee"`
	UserNotesCount       int             `json:"user_notes_count"`
	MergeRequestsCount   int             `json:"merge_requests_count"`
	Upvotes              int             `json:"upvotes"`
	Downvotes            int             `json:"downvotes"`
	DueDate              *string         `json:"due_date"`
	Confidential         bool            `json:"confidential"`
	DiscussionLocked     *bool           `json:"discussion_locked"`
	IssueType            string          `json:"issue_type"`
	WebURL               string          `json:"web_url"`
	TimeStats            timeStatsJSON   `json:"time_stats"`
	TaskCompletionStatus taskStatusJSON  `json:"task_completion_status"`
	References           refsJSON        `json:"references"`
	Severity             string          `json:"severity"`
	MovedToID            *int            `json:"moved_to_id"`
}

func (rq *readReq) issueJSON(p *Project, is *Issue) issueJSON {
	if rq.mrCounts == nil {
		rq.mrCounts = map[int]map[int]int{}
	}
	counts := rq.mrCounts[p.ID]
	if counts == nil {
		counts = map[int]int{}
		for _, m := range rq.s.data[p.ID].mrs {
			for _, iid := range m.ClosesIssues {
				counts[iid]++
			}
		}
		rq.mrCounts[p.ID] = counts
	}
	full := rq.s.projectFullPathLocked(p)
	j := issueJSON{
		ID: is.ID, IID: is.IID, ProjectID: is.ProjectID, Title: is.Title, Description: is.Description, State: is.State,
		CreatedAt: fmtTime(is.CreatedAt), UpdatedAt: fmtTime(is.UpdatedAt), ClosedAt: fmtTimePtr(is.ClosedAt),
		Labels: nonNil(slices.Clone(is.Labels)), Assignees: rq.users(is.AssigneeIDs), Author: rq.user(is.AuthorID),
		Type: "ISSUE", MergeRequestsCount: counts[is.IID], IssueType: "issue",
		WebURL:     fmt.Sprintf("%s/%s/-/issues/%d", rq.base, full, is.IID),
		References: refsJSON{Short: fmt.Sprintf("#%d", is.IID), Relative: fmt.Sprintf("#%d", is.IID), Full: fmt.Sprintf("%s#%d", full, is.IID)},
		Severity:   "UNKNOWN",
	}
	if is.State == stateClosed {
		j.ClosedBy = rq.user(is.ClosedByID)
	}
	if len(j.Assignees) > 0 {
		j.Assignee = &j.Assignees[0]
	}
	return j
}

// listIssues answers GET /projects/:id/issues and, with group, GET
// /groups/:id/issues (every subgroup; archived projects only with
// non_archived=false), with the filters of listMRs that apply to issues
// (state opened, closed or all, the default). Order: created_at (default),
// updated_at or title, desc unless sort=asc; GitLab's other order_by values
// order by created_at.
func (s *Sim) listIssues(group bool) func(*readReq) (any, *apiError) {
	return func(rq *readReq) (any, *apiError) {
		var chk validation
		f := readIssuableFilter(rq.q, &chk, false)
		if refused := chk.err(); refused != nil {
			return nil, refused
		}
		projects, refused := f.readable(rq, group, levelGuest)
		if refused != nil {
			return nil, refused
		}
		var issues []*Issue
		for _, p := range projects {
			for _, is := range updatedRange(s.data[p.ID].issuesByUpd, f.updatedAfter, f.updatedBefore, issueKey) {
				if (f.state == "" || is.State == f.state) &&
					f.matchCommon(rq, is.IID, is.AuthorID, is.AssigneeIDs, is.Labels, is.CreatedAt, is.Title, is.Description) {
					issues = append(issues, is)
				}
			}
		}
		slices.SortFunc(issues, func(a, b *Issue) int {
			c := 0
			switch f.orderBy {
			case "updated_at":
				c = a.UpdatedAt.Compare(b.UpdatedAt)
			case "title":
				c = strings.Compare(a.Title, b.Title)
			default:
				c = a.CreatedAt.Compare(b.CreatedAt)
			}
			return ordered(c, a.ID, b.ID, f.desc)
		})
		lo, hi, refused := rq.page(len(issues))
		if refused != nil {
			return nil, refused
		}
		out := make([]issueJSON, 0, hi-lo)
		for _, is := range issues[lo:hi] {
			out = append(out, rq.issueJSON(s.projects[is.ProjectID], is))
		}
		return out, nil
	}
}

// getIssue answers GET /projects/:id/issues/:issue_iid.
func (s *Sim) getIssue(rq *readReq) (any, *apiError) {
	p, d, refused := rq.project(levelGuest)
	if refused != nil {
		return nil, refused
	}
	iid, err := strconv.Atoi(rq.r.PathValue("issue_iid"))
	if err != nil {
		return nil, invalidParams([]string{"issue_iid is invalid"})
	}
	is := d.issue(iid)
	if is == nil {
		return nil, errRecordNotFound
	}
	return rq.issueJSON(p, is), nil
}
