// The filters merge requests and issues share (docs.gitlab.com/api/merge_requests,
// api/issues): state, author, assignee, labels, created and updated ranges, search.

package sim

import (
	"slices"
	"strings"
	"time"
)

// issuableFilter holds the filters the merge request and issue lists
// share.
type issuableFilter struct {
	state                         string // "" for all
	updatedAfter, updatedBefore   *time.Time
	createdAfter, createdBefore   *time.Time
	orderBy                       string
	desc                          bool
	scope                         string
	authorID                      int
	authorUsername                string
	iids                          []int
	labels                        []string
	search                        string
	nonArchived                   bool
	sourceBranch, targetBranch    string
	assigneeID, reviewerID        int
	assigneeUsername, reviewerUsr string
}

func readIssuableFilter(q params, chk *validation, mr bool) issuableFilter {
	var f issuableFilter
	states := []string{"opened", "closed", "all"}
	orders := []string{"created_at", "due_date", "label_priority", "milestone_due", "popularity", "priority", "relative_position", "title", "updated_at", "weight"}
	scopes := []string{"created_by_me", "assigned_to_me", "created-by-me", "assigned-to-me", "all"}
	if mr {
		states = []string{"opened", "closed", "locked", "merged", "all"}
		orders = []string{"created_at", "label_priority", "milestone_due", "popularity", "priority", "title", "updated_at", "merged_at"}
		scopes = append(scopes, "reviews_for_me")
	}
	f.state, _ = q.oneOf(chk, "state", states)
	if f.state == "all" {
		f.state = ""
	}
	f.updatedAfter, f.updatedBefore = q.instant(chk, "updated_after"), q.instant(chk, "updated_before")
	f.createdAfter, f.createdBefore = q.instant(chk, "created_after"), q.instant(chk, "created_before")
	f.orderBy, _ = q.oneOf(chk, "order_by", orders)
	f.desc = q.direction(chk, "desc")
	f.scope, _ = q.oneOf(chk, "scope", scopes)
	f.scope = strings.ReplaceAll(f.scope, "-", "_")
	f.authorID, _ = q.integer(chk, "author_id", nil)
	f.authorUsername, _ = q.str(chk, "author_username", false)
	f.assigneeID, _ = q.integer(chk, "assignee_id", nil)
	f.assigneeUsername, _ = q.str(chk, "assignee_username", false)
	f.iids = q.ints(chk, "iids")
	if labels, ok := q.list(chk, "labels", false, true, nil); ok {
		f.labels = labels
	}
	f.search, _ = q.str(chk, "search", false)
	f.nonArchived = true
	if v, ok := q.boolean(chk, "non_archived"); ok {
		f.nonArchived = v
	}
	if mr {
		f.sourceBranch, _ = q.str(chk, "source_branch", false)
		f.targetBranch, _ = q.str(chk, "target_branch", false)
		f.reviewerID, _ = q.integer(chk, "reviewer_id", nil)
		f.reviewerUsr, _ = q.str(chk, "reviewer_username", false)
	}
	return f
}

// matchCommon applies the filters both kinds share; the time and state
// filters are applied by the callers.
func (f issuableFilter) matchCommon(rq *readReq, iid, authorID int, assignees []int, labels []string, created time.Time, title, description string) bool {
	inIDs := func(ids []int, id int, username string) bool {
		return slices.ContainsFunc(ids, func(u int) bool {
			return (id == 0 || u == id) && (username == "" || rq.s.users[u] != nil && strings.EqualFold(rq.s.users[u].Username, username))
		})
	}
	switch {
	case f.createdAfter != nil && created.Before(*f.createdAfter),
		f.createdBefore != nil && created.After(*f.createdBefore),
		f.scope == "created_by_me" && authorID != rq.u.ID,
		f.scope == "assigned_to_me" && !slices.Contains(assignees, rq.u.ID),
		f.authorID != 0 && authorID != f.authorID,
		f.authorUsername != "" && !inIDs([]int{authorID}, 0, f.authorUsername),
		(f.assigneeID != 0 || f.assigneeUsername != "") && !inIDs(assignees, f.assigneeID, f.assigneeUsername),
		f.iids != nil && !slices.Contains(f.iids, iid),
		slices.ContainsFunc(f.labels, func(l string) bool { return !slices.Contains(labels, l) }),
		!matchesSearch(f.search, title, description):
		return false
	}
	return true
}

// projects returns the projects a group list covers: the group's and its
// descendants' that the caller may read with role need, archived ones only
// with non_archived=false.
// readable returns the projects a group list (group) or a project list reads,
// the caller needing at least role need.
func (f issuableFilter) readable(rq *readReq, group bool, need int) ([]*Project, *apiError) {
	if !group {
		p, _, refused := rq.project(need)
		if refused != nil {
			return nil, refused
		}
		return []*Project{p}, nil
	}
	g, refused := rq.group()
	if refused != nil {
		return nil, refused
	}
	return f.projects(rq, g, need), nil
}

func (f issuableFilter) projects(rq *readReq, g *Group, need int) []*Project {
	var out []*Project
	for _, p := range rq.s.subtreeProjectsLocked(g.ID, true) {
		if rq.canRead(p, need) && !(f.nonArchived && rq.s.data[p.ID].archived) {
			out = append(out, p)
		}
	}
	return out
}

// updatedRange is the part of s, sorted by (updated_at, id), that
// updated_after and updated_before keep: both bounds included, as GitLab's
// updated_after (>=) and updated_before (<=) scopes.
func updatedRange[T any](s []T, after, before *time.Time, key func(T) (time.Time, int)) []T {
	if after != nil {
		s = s[fromTime(s, *after, key):]
	}
	if before != nil {
		s = s[:afterTime(s, *before, key)]
	}
	return s
}
