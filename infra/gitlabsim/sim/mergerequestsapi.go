// Merge requests API (docs.gitlab.com/api/merge_requests): GET
// /groups|projects/:id/merge_requests, /projects/:id/merge_requests/:iid and
// .../closes_issues.

package sim

import (
	"fmt"
	"slices"
	"strings"
)

type refsJSON struct {
	Short    string `json:"short"`
	Relative string `json:"relative"`
	Full     string `json:"full"`
}

type timeStatsJSON struct {
	TimeEstimate        int     `json:"time_estimate"`
	TotalTimeSpent      int     `json:"total_time_spent"`
	HumanTimeEstimate   *string `json:"human_time_estimate"`
	HumanTotalTimeSpent *string `json:"human_total_time_spent"`
}

type taskStatusJSON struct {
	Count          int `json:"count"`
	CompletedCount int `json:"completed_count"`
}

type mrJSON struct {
	ID                          int             `json:"id"`
	IID                         int             `json:"iid"`
	ProjectID                   int             `json:"project_id"`
	Title                       string          `json:"title"`
	Description                 string          `json:"description"`
	State                       string          `json:"state"`
	CreatedAt                   string          `json:"created_at"`
	UpdatedAt                   string          `json:"updated_at"`
	MergedBy                    *userBasicJSON  `json:"merged_by"`
	MergeUser                   *userBasicJSON  `json:"merge_user"`
	MergedAt                    *string         `json:"merged_at"`
	ClosedBy                    *userBasicJSON  `json:"closed_by"`
	ClosedAt                    *string         `json:"closed_at"`
	TargetBranch                string          `json:"target_branch"`
	SourceBranch                string          `json:"source_branch"`
	UserNotesCount              int             `json:"user_notes_count"`
	Upvotes                     int             `json:"upvotes"`
	Downvotes                   int             `json:"downvotes"`
	Author                      *userBasicJSON  `json:"author"`
	Assignees                   []userBasicJSON `json:"assignees"`
	Assignee                    *userBasicJSON  `json:"assignee"`
	Reviewers                   []userBasicJSON `json:"reviewers"`
	SourceProjectID             int             `json:"source_project_id"`
	TargetProjectID             int             `json:"target_project_id"`
	Labels                      []string        `json:"labels"`
	Draft                       bool            `json:"draft"`
	WorkInProgress              bool            `json:"work_in_progress"`
	Milestone                   any             `json:"milestone"`
	MergeWhenPipelineSucceeds   bool            `json:"merge_when_pipeline_succeeds"`
	MergeStatus                 string          `json:"merge_status"`
	DetailedMergeStatus         string          `json:"detailed_merge_status"`
	SHA                         string          `json:"sha"`
	MergeCommitSHA              *string         `json:"merge_commit_sha"`
	SquashCommitSHA             *string         `json:"squash_commit_sha"`
	DiscussionLocked            *bool           `json:"discussion_locked"`
	ShouldRemoveSourceBranch    *bool           `json:"should_remove_source_branch"`
	ForceRemoveSourceBranch     bool            `json:"force_remove_source_branch"`
	Reference                   string          `json:"reference"`
	References                  refsJSON        `json:"references"`
	WebURL                      string          `json:"web_url"`
	TimeStats                   timeStatsJSON   `json:"time_stats"`
	Squash                      bool            `json:"squash"`
	SquashOnMerge               bool            `json:"squash_on_merge"`
	TaskCompletionStatus        taskStatusJSON  `json:"task_completion_status"`
	HasConflicts                bool            `json:"has_conflicts"`
	BlockingDiscussionsResolved bool            `json:"blocking_discussions_resolved"`
}

func (rq *readReq) mrJSON(p *Project, m *MergeRequest) mrJSON {
	d := rq.s.data[p.ID]
	full := rq.s.projectFullPathLocked(p)
	detailed := "mergeable"
	if m.State != stateOpened {
		detailed = "not_open"
	} else if m.Draft {
		detailed = "draft_status"
	}
	j := mrJSON{
		ID: m.ID, IID: m.IID, ProjectID: m.ProjectID, Title: m.Title, Description: m.Description, State: m.State,
		CreatedAt: fmtTime(m.CreatedAt), UpdatedAt: fmtTime(m.UpdatedAt), MergedAt: fmtTimePtr(m.MergedAt),
		ClosedAt: fmtTimePtr(m.ClosedAt), TargetBranch: m.TargetBranch, SourceBranch: m.SourceBranch,
		UserNotesCount: m.UserNotesCount(), Author: rq.user(m.AuthorID), Assignees: rq.users(m.AssigneeIDs),
		Reviewers: rq.users(m.ReviewerIDs), SourceProjectID: p.ID, TargetProjectID: p.ID, Labels: nonNil(slices.Clone(m.Labels)),
		Draft: m.Draft, WorkInProgress: m.Draft, MergeStatus: "can_be_merged", DetailedMergeStatus: detailed,
		Reference: fmt.Sprintf("!%d", m.IID), WebURL: fmt.Sprintf("%s/%s/-/merge_requests/%d", rq.base, full, m.IID),
		References:                  refsJSON{Short: fmt.Sprintf("!%d", m.IID), Relative: fmt.Sprintf("!%d", m.IID), Full: fmt.Sprintf("%s!%d", full, m.IID)},
		BlockingDiscussionsResolved: true,
	}
	if len(j.Assignees) > 0 {
		j.Assignee = &j.Assignees[0]
	}
	if m.State == stateMerged {
		j.MergedBy, j.MergeUser = rq.user(m.MergedByID), rq.user(m.MergedByID)
		sha := m.MergeCommitSHA
		j.MergeCommitSHA = &sha
	}
	if m.State == stateClosed {
		j.ClosedBy = rq.user(m.ClosedByID)
	}
	if br := d.branches[m.SourceBranch]; br != nil {
		j.SHA = br.head
	}
	return j
}

// listMRs answers GET /projects/:id/merge_requests and, with group, GET
// /groups/:id/merge_requests, which covers every subgroup and leaves out
// archived projects unless non_archived=false. Filters: state (all by
// default), updated_after and updated_before (both included), created_after
// and created_before, scope (all by default), author, assignee, reviewer,
// iids[], labels, search, source and target branch. Order: created_at
// (default), updated_at, title or merged_at (nulls last), desc unless
// sort=asc, id breaking ties; the other order_by values GitLab accepts
// order by created_at.
func (s *Sim) listMRs(group bool) func(*readReq) (any, *apiError) {
	return func(rq *readReq) (any, *apiError) {
		var chk validation
		f := readIssuableFilter(rq.q, &chk, true)
		if refused := chk.err(); refused != nil {
			return nil, refused
		}
		projects, refused := f.readable(rq, group, levelReporter)
		if refused != nil {
			return nil, refused
		}
		var mrs []*MergeRequest
		for _, p := range projects {
			for _, m := range updatedRange(s.data[p.ID].mrsByUpdate, f.updatedAfter, f.updatedBefore, mrKey) {
				if f.matchMR(rq, m) {
					mrs = append(mrs, m)
				}
			}
		}
		slices.SortFunc(mrs, func(a, b *MergeRequest) int {
			c := 0
			switch f.orderBy {
			case "updated_at":
				c = a.UpdatedAt.Compare(b.UpdatedAt)
			case "title":
				c = strings.Compare(a.Title, b.Title)
			case "merged_at":
				switch {
				case a.MergedAt == nil && b.MergedAt == nil:
				case a.MergedAt == nil:
					return 1
				case b.MergedAt == nil:
					return -1
				default:
					c = a.MergedAt.Compare(*b.MergedAt)
				}
			default:
				c = a.CreatedAt.Compare(b.CreatedAt)
			}
			return ordered(c, a.ID, b.ID, f.desc)
		})
		lo, hi, refused := rq.page(len(mrs))
		if refused != nil {
			return nil, refused
		}
		out := make([]mrJSON, 0, hi-lo)
		for _, m := range mrs[lo:hi] {
			out = append(out, rq.mrJSON(s.projects[m.ProjectID], m))
		}
		return out, nil
	}
}

func (f issuableFilter) matchMR(rq *readReq, m *MergeRequest) bool {
	switch {
	case f.state == "locked",
		f.state != "" && m.State != f.state,
		f.scope == "reviews_for_me" && !slices.Contains(m.ReviewerIDs, rq.u.ID),
		f.sourceBranch != "" && m.SourceBranch != f.sourceBranch,
		f.targetBranch != "" && m.TargetBranch != f.targetBranch,
		f.reviewerID != 0 && !slices.Contains(m.ReviewerIDs, f.reviewerID),
		f.reviewerUsr != "" && !slices.ContainsFunc(m.ReviewerIDs, func(id int) bool {
			return rq.s.users[id] != nil && strings.EqualFold(rq.s.users[id].Username, f.reviewerUsr)
		}):
		return false
	}
	return f.matchCommon(rq, m.IID, m.AuthorID, m.AssigneeIDs, m.Labels, m.CreatedAt, m.Title, m.Description)
}

// getMR answers GET /projects/:id/merge_requests/:merge_request_iid.
func (s *Sim) getMR(rq *readReq) (any, *apiError) {
	p, _, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	return rq.mrJSON(p, m), nil
}

// listClosesIssues answers GET /projects/:id/merge_requests/:iid/closes_issues:
// the issues merging closes (or closed), by iid.
func (s *Sim) listClosesIssues(rq *readReq) (any, *apiError) {
	p, d, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	iids := slices.Sorted(slices.Values(m.ClosesIssues))
	lo, hi, refused := rq.page(len(iids))
	if refused != nil {
		return nil, refused
	}
	out := make([]issueJSON, 0, hi-lo)
	for _, iid := range iids[lo:hi] {
		out = append(out, rq.issueJSON(p, d.issue(iid)))
	}
	return out, nil
}
