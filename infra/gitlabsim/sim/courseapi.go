package sim

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// courseRoutes registers the read routes of groups, projects, members,
// commits, merge requests, notes, approvals, issues and pipelines. They
// need a token with api or read_api. Groups and projects are private: a
// caller who may not see one gets 404 "Group Not Found" or "Project Not
// Found". Reading merge requests, commits and pipelines needs Reporter in
// the project (403 below it), issues and members any role; the group
// lists leave out the projects the caller may not read that way.
func (s *Sim) courseRoutes(m *http.ServeMux) {
	get := func(pattern string, op func(*readReq) (any, *apiError)) {
		m.Handle("GET /api/v4/"+pattern, s.api(readAPI, s.read(op)))
	}
	get("groups/{id}", s.getGroup)
	get("groups/{id}/subgroups", s.listSubgroups(false))
	get("groups/{id}/descendant_groups", s.listSubgroups(true))
	get("groups/{id}/projects", s.listGroupProjects)
	get("groups/{id}/members", s.listMembers(KindGroup, false))
	get("groups/{id}/members/all", s.listMembers(KindGroup, true))
	get("groups/{id}/merge_requests", s.listMRs(true))
	get("groups/{id}/issues", s.listIssues(true))
	get("projects/{id}", s.getProject)
	get("projects/{id}/members", s.listMembers(KindProject, false))
	get("projects/{id}/members/all", s.listMembers(KindProject, true))
	get("projects/{id}/repository/branches", s.listBranches)
	get("projects/{id}/repository/commits", s.listCommits)
	get("projects/{id}/repository/commits/{sha}", s.getCommit)
	get("projects/{id}/merge_requests", s.listMRs(false))
	get("projects/{id}/merge_requests/{merge_request_iid}", s.getMR)
	get("projects/{id}/merge_requests/{merge_request_iid}/notes", s.listNotes)
	get("projects/{id}/merge_requests/{merge_request_iid}/approvals", s.getApprovals)
	get("projects/{id}/merge_requests/{merge_request_iid}/closes_issues", s.listClosesIssues)
	get("projects/{id}/merge_requests/{merge_request_iid}/commits", s.listMRCommits)
	get("projects/{id}/issues", s.listIssues(false))
	get("projects/{id}/issues/{issue_iid}", s.getIssue)
	get("projects/{id}/pipelines", s.listPipelines)
	get("projects/{id}/pipelines/{pipeline_id}", s.getPipeline)
}

// readReq is one read request as its handler sees it, under s.mu.
type readReq struct {
	s    *Sim
	w    http.ResponseWriter
	r    *http.Request
	q    params
	u    *userRecord
	now  time.Time
	base string
	// mrCounts caches each project's merge requests per issue they close.
	mrCounts map[int]map[int]int
}

// read wraps a read handler: it parses the parameters, runs op under s.mu
// with the live caller and writes op's body with 200, or its refusal. op
// validates its parameters first (Grape answers 400 before looking
// anything up) and calls page last, which writes the pagination headers.
func (s *Sim) read(op func(*readReq) (any, *apiError)) func(http.ResponseWriter, *http.Request, caller) {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		q, refused := readParams(r)
		if refused != nil {
			refused.write(w)
			return
		}
		var body any
		s.mu.Lock()
		u, _, refused := s.liveLocked(c)
		if refused == nil {
			body, refused = op(&readReq{s: s, w: w, r: r, q: q, u: u, now: s.now(), base: baseURL(r)})
		}
		s.mu.Unlock()
		if refused != nil {
			refused.write(w)
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// page writes the pagination headers for a list of n items and returns the
// bounds of the requested page.
func (rq *readReq) page(n int) (lo, hi int, refused *apiError) {
	lo, hi, err := paginate(rq.w, rq.r, n)
	if err != nil {
		return 0, 0, invalidParams([]string{err.Error()})
	}
	return lo, hi, nil
}

// pageWithoutCount is page for the lists GitLab does not count (see
// paginateWithoutCount).
func (rq *readReq) pageWithoutCount(n int) (lo, hi int, refused *apiError) {
	lo, hi, err := paginateWithoutCount(rq.w, rq.r, n)
	if err != nil {
		return 0, 0, invalidParams([]string{err.Error()})
	}
	return lo, hi, nil
}

// group finds the group the path's :id names (ID or full path), as the
// caller sees it.
func (rq *readReq) group() (*Group, *apiError) {
	if g := rq.s.findGroupLocked(rq.r.PathValue("id")); g != nil && rq.s.canSeeGroupLocked(g, rq.u) {
		return g, nil
	}
	return nil, notFound("Group")
}

// project finds the project the path's :id names, as the caller sees it.
// With need above Guest, a caller who sees the project with a lower role
// gets 403.
func (rq *readReq) project(need int) (*Project, *projectData, *apiError) {
	p := rq.s.findProjectLocked(rq.r.PathValue("id"))
	if p == nil || !rq.s.canSeeProjectLocked(p, rq.u) {
		return nil, nil, notFound("Project")
	}
	if !rq.canRead(p, need) {
		return nil, nil, errForbidden
	}
	return p, rq.s.data[p.ID], nil
}

// canRead reports whether the caller has at least the role need in p.
func (rq *readReq) canRead(p *Project, need int) bool {
	return rq.u.Admin || rq.s.projectAccessLocked(p, rq.u.ID) >= need
}

// mr finds the merge request the path's :merge_request_iid names in a
// project the caller may read merge requests of.
func (rq *readReq) mr() (*Project, *projectData, *MergeRequest, *apiError) {
	p, d, refused := rq.project(levelReporter)
	if refused != nil {
		return nil, nil, nil, refused
	}
	iid, err := strconv.Atoi(rq.r.PathValue("merge_request_iid"))
	if err != nil {
		return nil, nil, nil, invalidParams([]string{"merge_request_iid is invalid"})
	}
	m := d.mr(iid)
	if m == nil {
		return nil, nil, nil, errRecordNotFound
	}
	return p, d, m, nil
}

// instant reads a Grape DateTime parameter: ISO 8601 with or without a
// fraction and an offset (UTC when none), or a date (00:00 UTC).
func (p params) instant(chk *validation, name string) *time.Time {
	s, ok := p.str(chk, name, false)
	if !ok {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			t = t.UTC()
			return &t
		}
	}
	chk.add("%s is invalid", name)
	return nil
}

// ints reads an array of integers ("iids[]=1&iids[]=2" or "1,2").
func (p params) ints(chk *validation, name string) []int {
	vs, ok := p.list(chk, name, false, true, nil)
	if !ok {
		return nil
	}
	out := make([]int, 0, len(vs))
	for _, v := range vs {
		n, err := strconv.Atoi(v)
		if err != nil {
			chk.add("%s is invalid", name)
			return nil
		}
		out = append(out, n)
	}
	return out
}

// direction reads the sort parameter (asc or desc, default def) and
// reports whether it is descending.
func (p params) direction(chk *validation, def string) bool {
	dir, ok := p.oneOf(chk, "sort", []string{"asc", "desc"})
	if !ok {
		dir = def
	}
	return dir == "desc"
}

// ordered compares by c, then by id, reversed when desc: GitLab's
// ORDER BY <column> <dir>, id <dir>.
func ordered(c, idA, idB int, desc bool) int {
	if c == 0 {
		c = cmp.Compare(idA, idB)
	}
	if desc {
		return -c
	}
	return c
}

// JSON shapes, as GitLab's API entities render them.

type userBasicJSON struct {
	ID        int     `json:"id"`
	Username  string  `json:"username"`
	Name      string  `json:"name"`
	State     string  `json:"state"`
	Locked    bool    `json:"locked"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
}

// user renders a user as UserBasic; nil for no user.
func (rq *readReq) user(id int) *userBasicJSON {
	u := rq.s.users[id]
	if u == nil {
		return nil
	}
	return &userBasicJSON{ID: u.ID, Username: u.Username, Name: u.Name, State: "active", WebURL: rq.base + "/" + u.Username}
}

func (rq *readReq) users(ids []int) []userBasicJSON {
	out := make([]userBasicJSON, 0, len(ids))
	for _, id := range ids {
		if u := rq.user(id); u != nil {
			out = append(out, *u)
		}
	}
	return out
}

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func fmtTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := fmtTime(*t)
	return &v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
