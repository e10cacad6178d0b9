package sim

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
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

type groupAPIJSON struct {
	ID                   int     `json:"id"`
	WebURL               string  `json:"web_url"`
	Name                 string  `json:"name"`
	Path                 string  `json:"path"`
	Description          string  `json:"description"`
	Visibility           string  `json:"visibility"`
	AvatarURL            *string `json:"avatar_url"`
	RequestAccessEnabled bool    `json:"request_access_enabled"`
	FullName             string  `json:"full_name"`
	FullPath             string  `json:"full_path"`
	CreatedAt            string  `json:"created_at"`
	ParentID             *int    `json:"parent_id"`
}

// groupDetailJSON is GET /groups/:id: the group with its projects unless
// with_projects=false.
type groupDetailJSON struct {
	groupAPIJSON
	Projects       *[]projectAPIJSON `json:"projects,omitempty"`
	SharedProjects *[]projectAPIJSON `json:"shared_projects,omitempty"`
}

func (rq *readReq) groupJSON(g *Group) groupAPIJSON {
	chain := rq.s.groupChainLocked(g.ID)
	names := make([]string, len(chain))
	for i, a := range chain {
		names[len(chain)-1-i] = a.Name
	}
	full := rq.s.groupFullPathLocked(g)
	j := groupAPIJSON{
		ID: g.ID, WebURL: rq.base + "/groups/" + full, Name: g.Name, Path: g.Path, Visibility: "private",
		FullName: strings.Join(names, " / "), FullPath: full, CreatedAt: fmtTime(rq.s.groupCreated[g.ID]),
	}
	if g.ParentID != 0 {
		parent := g.ParentID
		j.ParentID = &parent
	}
	return j
}

type namespaceJSON struct {
	ID        int     `json:"id"`
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	Kind      string  `json:"kind"`
	FullPath  string  `json:"full_path"`
	ParentID  *int    `json:"parent_id"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
}

// projectSimpleAPIJSON is GitLab's BasicProjectDetails, what simple=true
// lists show.
type projectSimpleAPIJSON struct {
	ID                int           `json:"id"`
	Description       *string       `json:"description"`
	Name              string        `json:"name"`
	NameWithNamespace string        `json:"name_with_namespace"`
	Path              string        `json:"path"`
	PathWithNamespace string        `json:"path_with_namespace"`
	CreatedAt         string        `json:"created_at"`
	DefaultBranch     string        `json:"default_branch"`
	TagList           []string      `json:"tag_list"`
	Topics            []string      `json:"topics"`
	SSHURLToRepo      string        `json:"ssh_url_to_repo"`
	HTTPURLToRepo     string        `json:"http_url_to_repo"`
	WebURL            string        `json:"web_url"`
	ReadmeURL         *string       `json:"readme_url"`
	ForksCount        int           `json:"forks_count"`
	AvatarURL         *string       `json:"avatar_url"`
	StarCount         int           `json:"star_count"`
	LastActivityAt    string        `json:"last_activity_at"`
	Namespace         namespaceJSON `json:"namespace"`
}

// projectAPIJSON is GitLab's Project entity, in part.
type projectAPIJSON struct {
	projectSimpleAPIJSON
	Visibility           string `json:"visibility"`
	Archived             bool   `json:"archived"`
	UpdatedAt            string `json:"updated_at"`
	EmptyRepo            bool   `json:"empty_repo"`
	IssuesEnabled        bool   `json:"issues_enabled"`
	MergeRequestsEnabled bool   `json:"merge_requests_enabled"`
	JobsEnabled          bool   `json:"jobs_enabled"`
	OpenIssuesCount      int    `json:"open_issues_count"`
}

func (rq *readReq) projectURL(p *Project) string {
	return rq.base + "/" + rq.s.projectFullPathLocked(p)
}

func (rq *readReq) projectSimple(p *Project) projectSimpleAPIJSON {
	d := rq.s.data[p.ID]
	full := rq.s.projectFullPathLocked(p)
	ns := namespaceJSON{Kind: "user", WebURL: rq.base}
	nameWithNS := p.Name
	if g := rq.s.groups[p.GroupID]; g != nil {
		gj := rq.groupJSON(g)
		ns = namespaceJSON{ID: g.ID, Name: g.Name, Path: g.Path, Kind: "group", FullPath: gj.FullPath, ParentID: gj.ParentID, WebURL: gj.WebURL}
		nameWithNS = gj.FullName + " / " + p.Name
	}
	host := rq.r.Host
	if h, _, found := strings.Cut(host, ":"); found {
		host = h
	}
	return projectSimpleAPIJSON{
		ID: p.ID, Name: p.Name, NameWithNamespace: nameWithNS, Path: p.Path, PathWithNamespace: full,
		CreatedAt: fmtTime(d.createdAt), DefaultBranch: defaultBranch, TagList: []string{}, Topics: []string{},
		SSHURLToRepo: "git@" + host + ":" + full + ".git", HTTPURLToRepo: rq.base + "/" + full + ".git",
		WebURL: rq.base + "/" + full, LastActivityAt: fmtTime(d.lastActivityAt), Namespace: ns,
	}
}

func (rq *readReq) projectFull(p *Project) projectAPIJSON {
	d := rq.s.data[p.ID]
	open := 0
	for _, is := range d.issues {
		if is.State == stateOpened {
			open++
		}
	}
	return projectAPIJSON{
		projectSimpleAPIJSON: rq.projectSimple(p), Visibility: "private", Archived: d.archived,
		UpdatedAt: fmtTime(d.updatedAt), EmptyRepo: len(d.commits) == 0, IssuesEnabled: true,
		MergeRequestsEnabled: true, JobsEnabled: true, OpenIssuesCount: open,
	}
}

// getGroup answers GET /groups/:id, with the group's own projects (not its
// subgroups', up to 100, as GitLab) unless with_projects=false.
func (s *Sim) getGroup(rq *readReq) (any, *apiError) {
	var chk validation
	withProjects, set := rq.q.boolean(&chk, "with_projects")
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	g, refused := rq.group()
	if refused != nil {
		return nil, refused
	}
	out := groupDetailJSON{groupAPIJSON: rq.groupJSON(g)}
	if withProjects || !set {
		projects, shared := []projectAPIJSON{}, []projectAPIJSON{}
		for _, p := range s.subtreeProjectsLocked(g.ID, false) {
			if s.canSeeProjectLocked(p, rq.u) && len(projects) < maxPerPage {
				projects = append(projects, rq.projectFull(p))
			}
		}
		out.Projects, out.SharedProjects = &projects, &shared
	}
	return out, nil
}

// listSubgroups answers GET /groups/:id/subgroups (direct children) and,
// with all, GET /groups/:id/descendant_groups (every level): the groups
// the caller may see, by name unless order_by says id, path or
// similarity, ascending unless sort=desc; search matches name or path.
func (s *Sim) listSubgroups(all bool) func(*readReq) (any, *apiError) {
	return func(rq *readReq) (any, *apiError) {
		var chk validation
		orderBy, _ := rq.q.oneOf(&chk, "order_by", []string{"name", "path", "id", "similarity"})
		desc := rq.q.direction(&chk, "asc")
		search, _ := rq.q.str(&chk, "search", false)
		skip := rq.q.ints(&chk, "skip_groups")
		if refused := chk.err(); refused != nil {
			return nil, refused
		}
		g, refused := rq.group()
		if refused != nil {
			return nil, refused
		}
		var groups []*Group
		for _, sub := range s.descendantsLocked(g.ID, all) {
			if s.canSeeGroupLocked(sub, rq.u) && matchesSearch(search, sub.Name, sub.Path) && !slices.Contains(skip, sub.ID) {
				groups = append(groups, sub)
			}
		}
		slices.SortFunc(groups, func(a, b *Group) int {
			c := 0
			switch orderBy {
			case "id":
			case "path":
				c = strings.Compare(a.Path, b.Path)
			default:
				c = strings.Compare(a.Name, b.Name)
			}
			return ordered(c, a.ID, b.ID, desc)
		})
		lo, hi, refused := rq.page(len(groups))
		if refused != nil {
			return nil, refused
		}
		out := make([]groupAPIJSON, 0, hi-lo)
		for _, sub := range groups[lo:hi] {
			out = append(out, rq.groupJSON(sub))
		}
		return out, nil
	}
}

func matchesSearch(search string, fields ...string) bool {
	if search == "" {
		return true
	}
	search = strings.ToLower(search)
	return slices.ContainsFunc(fields, func(f string) bool { return strings.Contains(strings.ToLower(f), search) })
}

// listGroupProjects answers GET /groups/:id/projects: the group's projects
// the caller may see, with include_subgroups those of every descendant
// too; archived filters by archived state (both when absent), search by
// name or path, min_access_level by the caller's role. Order: created_at
// (default), id, name, path, updated_at or last_activity_at, desc unless
// sort=asc. simple=true gives the short form. with_shared (default true)
// changes nothing: the simulator has no shared projects.
func (s *Sim) listGroupProjects(rq *readReq) (any, *apiError) {
	var chk validation
	archived, archivedSet := rq.q.boolean(&chk, "archived")
	subgroups, _ := rq.q.boolean(&chk, "include_subgroups")
	simple, _ := rq.q.boolean(&chk, "simple")
	rq.q.boolean(&chk, "with_shared")
	rq.q.boolean(&chk, "owned")
	rq.q.boolean(&chk, "starred")
	orderBy, _ := rq.q.oneOf(&chk, "order_by", []string{
		"id", "name", "path", "created_at", "updated_at", "last_activity_at", "similarity", "star_count",
		"storage_size", "repository_size", "wiki_size", "packages_size",
	})
	desc := rq.q.direction(&chk, "desc")
	search, _ := rq.q.str(&chk, "search", false)
	minLevel, _ := rq.q.integer(&chk, "min_access_level", roles)
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	g, refused := rq.group()
	if refused != nil {
		return nil, refused
	}
	var projects []*Project
	for _, p := range s.subtreeProjectsLocked(g.ID, subgroups) {
		d := s.data[p.ID]
		switch {
		case !s.canSeeProjectLocked(p, rq.u),
			archivedSet && d.archived != archived,
			!matchesSearch(search, p.Name, p.Path),
			minLevel > 0 && s.projectAccessLocked(p, rq.u.ID) < minLevel:
			continue
		}
		projects = append(projects, p)
	}
	slices.SortFunc(projects, func(a, b *Project) int {
		da, db := s.data[a.ID], s.data[b.ID]
		c := 0
		switch orderBy {
		case "id", "star_count", "storage_size", "repository_size", "wiki_size", "packages_size":
		case "name":
			c = strings.Compare(a.Name, b.Name)
		case "path":
			c = strings.Compare(a.Path, b.Path)
		case "updated_at":
			c = da.updatedAt.Compare(db.updatedAt)
		case "last_activity_at":
			c = da.lastActivityAt.Compare(db.lastActivityAt)
		default:
			c = da.createdAt.Compare(db.createdAt)
		}
		return ordered(c, a.ID, b.ID, desc)
	})
	lo, hi, refused := rq.page(len(projects))
	if refused != nil {
		return nil, refused
	}
	if simple {
		out := make([]projectSimpleAPIJSON, 0, hi-lo)
		for _, p := range projects[lo:hi] {
			out = append(out, rq.projectSimple(p))
		}
		return out, nil
	}
	out := make([]projectAPIJSON, 0, hi-lo)
	for _, p := range projects[lo:hi] {
		out = append(out, rq.projectFull(p))
	}
	return out, nil
}

// getProject answers GET /projects/:id.
func (s *Sim) getProject(rq *readReq) (any, *apiError) {
	p, _, refused := rq.project(levelGuest)
	if refused != nil {
		return nil, refused
	}
	return rq.projectFull(p), nil
}

type memberJSON struct {
	userBasicJSON
	AccessLevel     int     `json:"access_level"`
	CreatedAt       string  `json:"created_at"`
	ExpiresAt       *string `json:"expires_at"`
	MembershipState string  `json:"membership_state"`
}

// listMembers answers GET /groups/:id/members and /projects/:id/members
// (direct members) and, with inherited, .../members/all (the groups above
// too, highest role per user), by user id; query matches name or
// username, user_ids keeps the given users. Token bots are members like
// anyone else; as in GitLab, the member entity has no "bot" field (their
// usernames are group_<id>_bot_<hex> and project_<id>_bot_<hex>).
func (s *Sim) listMembers(kind TokenKind, inherited bool) func(*readReq) (any, *apiError) {
	return func(rq *readReq) (any, *apiError) {
		var chk validation
		query, _ := rq.q.str(&chk, "query", false)
		userIDs := rq.q.ints(&chk, "user_ids")
		if refused := chk.err(); refused != nil {
			return nil, refused
		}
		var members []Member
		if kind == KindGroup {
			g, refused := rq.group()
			if refused != nil {
				return nil, refused
			}
			members = s.membersLocked(g.ID, 0, inherited)
		} else {
			p, _, refused := rq.project(levelGuest)
			if refused != nil {
				return nil, refused
			}
			members = s.membersLocked(p.GroupID, p.ID, inherited)
		}
		members = slices.DeleteFunc(members, func(m Member) bool {
			return !matchesSearch(query, m.Name, m.Username) || (userIDs != nil && !slices.Contains(userIDs, m.UserID))
		})
		lo, hi, refused := rq.page(len(members))
		if refused != nil {
			return nil, refused
		}
		out := make([]memberJSON, 0, hi-lo)
		for _, m := range members[lo:hi] {
			out = append(out, memberJSON{
				userBasicJSON: *rq.user(m.UserID), AccessLevel: m.AccessLevel,
				CreatedAt: fmtTime(s.users[m.UserID].createdAt), MembershipState: "active",
			})
		}
		return out, nil
	}
}

type commitStatsJSON struct {
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
	Total     int `json:"total"`
}

type commitJSON struct {
	ID               string              `json:"id"`
	ShortID          string              `json:"short_id"`
	CreatedAt        string              `json:"created_at"`
	ParentIDs        []string            `json:"parent_ids"`
	Title            string              `json:"title"`
	Message          string              `json:"message"`
	AuthorName       string              `json:"author_name"`
	AuthorEmail      string              `json:"author_email"`
	AuthoredDate     string              `json:"authored_date"`
	CommitterName    string              `json:"committer_name"`
	CommitterEmail   string              `json:"committer_email"`
	CommittedDate    string              `json:"committed_date"`
	Trailers         map[string]string   `json:"trailers"`
	ExtendedTrailers map[string][]string `json:"extended_trailers"`
	WebURL           string              `json:"web_url"`
	Stats            *commitStatsJSON    `json:"stats,omitempty"`
}

// commitDetailJSON is GET .../repository/commits/:sha.
type commitDetailJSON struct {
	commitJSON
	Status       *string            `json:"status"`
	ProjectID    int                `json:"project_id"`
	LastPipeline *pipelineBasicJSON `json:"last_pipeline"`
}

func (rq *readReq) commitJSON(p *Project, c *Commit, withStats bool) commitJSON {
	j := commitJSON{
		ID: c.SHA, ShortID: c.ShortID(), CreatedAt: fmtTime(c.CommittedDate), ParentIDs: nonNil(slices.Clone(c.ParentIDs)),
		Title: c.Title, Message: c.Message, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail,
		AuthoredDate: fmtTime(c.AuthoredDate), CommitterName: c.CommitterName, CommitterEmail: c.CommitterEmail,
		CommittedDate: fmtTime(c.CommittedDate), Trailers: map[string]string{}, ExtendedTrailers: map[string][]string{},
		WebURL: rq.projectURL(p) + "/-/commit/" + c.SHA,
	}
	if withStats {
		j.Stats = &commitStatsJSON{Additions: c.Additions, Deletions: c.Deletions, Total: c.Additions + c.Deletions}
	}
	return j
}

// listCommits answers GET /projects/:id/repository/commits, newest first
// (by committed date, as git log): the commits ref_name reaches (default:
// the default branch; for another branch, its own commits and the
// default-branch history up to where it started), every branch's with
// all=true, only the default branch's first-parent chain (pushes and merge
// commits) with first_parent=true. since and until bound the committed
// date, both included. author matches the author's name or e-mail. stats
// only with with_stats=true. path is accepted but not applied: the
// simulator keeps no files. An unknown ref gives an empty list. As in
// GitLab, the list is not counted: no X-Total, X-Total-Pages or
// rel="last", and a full page always has a next page, so reading n
// commits takes n/per_page + 1 requests when per_page divides n.
func (s *Sim) listCommits(rq *readReq) (any, *apiError) {
	var chk validation
	ref, _ := rq.q.str(&chk, "ref_name", false)
	since, until := rq.q.instant(&chk, "since"), rq.q.instant(&chk, "until")
	all, _ := rq.q.boolean(&chk, "all")
	withStats, _ := rq.q.boolean(&chk, "with_stats")
	firstParent, _ := rq.q.boolean(&chk, "first_parent")
	rq.q.boolean(&chk, "trailers")
	rq.q.oneOf(&chk, "order", []string{"default", "topo"})
	author, _ := rq.q.str(&chk, "author", false)
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	p, d, refused := rq.project(levelReporter)
	if refused != nil {
		return nil, refused
	}
	ref = cmp.Or(ref, defaultBranch)
	var src []*Commit
	keep := func(*Commit) bool { return true }
	switch br := d.branches[ref]; {
	case all:
		src = d.commits
	case ref == defaultBranch:
		src = d.reachable
		if firstParent {
			keep = func(c *Commit) bool { return c.Branch == defaultBranch }
		}
	case br != nil:
		// The branch's own commits, and the default branch's history up to
		// where the branch started.
		src = d.commits
		keep = func(c *Commit) bool {
			older := !c.CommittedDate.After(br.base)
			if firstParent {
				return c.Branch == ref || (c.Branch == defaultBranch && older)
			}
			return c.Branch == ref || (c.OnDefaultBranch && older)
		}
	}
	var commits []*Commit
	for _, c := range slices.Backward(commitRange(src, since, until)) {
		if keep(c) && (author == "" || matchesSearch(author, c.AuthorName, c.AuthorEmail)) {
			commits = append(commits, c)
		}
	}
	lo, hi, refused := rq.pageWithoutCount(len(commits))
	if refused != nil {
		return nil, refused
	}
	out := make([]commitJSON, 0, hi-lo)
	for _, c := range commits[lo:hi] {
		out = append(out, rq.commitJSON(p, c, withStats))
	}
	return out, nil
}

// getCommit answers GET /projects/:id/repository/commits/:sha, stats
// included unless stats=false; :sha may be a full SHA, a prefix of at
// least 7 digits, or a branch name. Unknown: 404 "Commit Not Found".
func (s *Sim) getCommit(rq *readReq) (any, *apiError) {
	var chk validation
	stats, set := rq.q.boolean(&chk, "stats")
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	p, d, refused := rq.project(levelReporter)
	if refused != nil {
		return nil, refused
	}
	ref := rq.r.PathValue("sha")
	c := d.bySHA[ref]
	if br := d.branches[ref]; c == nil && br != nil {
		c = d.bySHA[br.head]
	}
	if c == nil && len(ref) >= 7 {
		for _, cand := range d.commits {
			if strings.HasPrefix(cand.SHA, ref) {
				c = cand
				break
			}
		}
	}
	if c == nil {
		return nil, notFound("Commit")
	}
	out := commitDetailJSON{commitJSON: rq.commitJSON(p, c, stats || !set), ProjectID: p.ID}
	for _, pl := range slices.Backward(d.pipelines) {
		if pl.SHA == c.SHA {
			j := rq.pipelineBasic(p, pl)
			out.LastPipeline, out.Status = &j, &pl.Status
			break
		}
	}
	return out, nil
}

// listMRCommits answers GET /projects/:id/merge_requests/:iid/commits: the
// commits pushed to the merge request's source branch, newest first.
func (s *Sim) listMRCommits(rq *readReq) (any, *apiError) {
	p, d, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	var commits []*Commit
	if br := d.branches[m.SourceBranch]; br != nil {
		for _, c := range slices.Backward(br.commits) {
			commits = append(commits, c)
		}
	}
	lo, hi, refused := rq.page(len(commits))
	if refused != nil {
		return nil, refused
	}
	out := make([]commitJSON, 0, hi-lo)
	for _, c := range commits[lo:hi] {
		out = append(out, rq.commitJSON(p, c, false))
	}
	return out, nil
}

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

type noteJSON struct {
	ID              int            `json:"id"`
	Type            *string        `json:"type"`
	Body            string         `json:"body"`
	Attachment      *string        `json:"attachment"`
	Author          *userBasicJSON `json:"author"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	System          bool           `json:"system"`
	NoteableID      int            `json:"noteable_id"`
	NoteableType    string         `json:"noteable_type"`
	ProjectID       int            `json:"project_id"`
	Resolvable      bool           `json:"resolvable"`
	Confidential    bool           `json:"confidential"`
	Internal        bool           `json:"internal"`
	NoteableIID     int            `json:"noteable_iid"`
	CommandsChanges struct{}       `json:"commands_changes"`
}

// listNotes answers GET /projects/:id/merge_requests/:iid/notes: every
// note, system notes included, by created_at (default) or updated_at, desc
// unless sort=asc. GitLab offers no updated_after here.
func (s *Sim) listNotes(rq *readReq) (any, *apiError) {
	var chk validation
	orderBy, _ := rq.q.oneOf(&chk, "order_by", []string{"created_at", "updated_at"})
	desc := rq.q.direction(&chk, "desc")
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	_, _, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	notes := slices.Clone(m.Notes)
	slices.SortFunc(notes, func(a, b Note) int {
		c := a.CreatedAt.Compare(b.CreatedAt)
		if orderBy == "updated_at" {
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		}
		return ordered(c, a.ID, b.ID, desc)
	})
	lo, hi, refused := rq.page(len(notes))
	if refused != nil {
		return nil, refused
	}
	out := make([]noteJSON, 0, hi-lo)
	for _, n := range notes[lo:hi] {
		out = append(out, noteJSON{
			ID: n.ID, Body: n.Body, Author: rq.user(n.AuthorID), CreatedAt: fmtTime(n.CreatedAt), UpdatedAt: fmtTime(n.UpdatedAt),
			System: n.System, NoteableID: n.MRID, NoteableType: "MergeRequest", ProjectID: n.ProjectID, NoteableIID: n.MRIID,
		})
	}
	return out, nil
}

type approverJSON struct {
	User *userBasicJSON `json:"user"`
}

type approvalsJSON struct {
	ID                             int            `json:"id"`
	IID                            int            `json:"iid"`
	ProjectID                      int            `json:"project_id"`
	Title                          string         `json:"title"`
	Description                    string         `json:"description"`
	State                          string         `json:"state"`
	CreatedAt                      string         `json:"created_at"`
	UpdatedAt                      string         `json:"updated_at"`
	MergeStatus                    string         `json:"merge_status"`
	Approved                       bool           `json:"approved"`
	ApprovalsRequired              int            `json:"approvals_required"`
	ApprovalsLeft                  int            `json:"approvals_left"`
	RequirePasswordToApprove       bool           `json:"require_password_to_approve"`
	ApprovedBy                     []approverJSON `json:"approved_by"`
	SuggestedApprovers             []any          `json:"suggested_approvers"`
	Approvers                      []any          `json:"approvers"`
	ApproverGroups                 []any          `json:"approver_groups"`
	UserHasApproved                bool           `json:"user_has_approved"`
	UserCanApprove                 bool           `json:"user_can_approve"`
	ApprovalRulesLeft              []any          `json:"approval_rules_left"`
	HasApprovalRules               bool           `json:"has_approval_rules"`
	MergeRequestApproversAvailable bool           `json:"merge_request_approvers_available"`
	MultipleApprovalRulesAvailable bool           `json:"multiple_approval_rules_available"`
	InvalidApproversRules          []any          `json:"invalid_approvers_rules"`
}

// getApprovals answers GET /projects/:id/merge_requests/:iid/approvals:
// approved_by in approval order. As on a GitLab EE instance without
// approval rules, nothing is required, so approved is true whether or not
// anyone approved.
func (s *Sim) getApprovals(rq *readReq) (any, *apiError) {
	_, _, m, refused := rq.mr()
	if refused != nil {
		return nil, refused
	}
	out := approvalsJSON{
		ID: m.ID, IID: m.IID, ProjectID: m.ProjectID, Title: m.Title, Description: m.Description, State: m.State,
		CreatedAt: fmtTime(m.CreatedAt), UpdatedAt: fmtTime(m.UpdatedAt), MergeStatus: "can_be_merged", Approved: true,
		ApprovedBy: []approverJSON{}, SuggestedApprovers: []any{}, Approvers: []any{}, ApproverGroups: []any{},
		UserCanApprove: m.State == stateOpened && m.AuthorID != rq.u.ID, ApprovalRulesLeft: []any{}, InvalidApproversRules: []any{},
	}
	for _, a := range m.Approvals {
		out.ApprovedBy = append(out.ApprovedBy, approverJSON{User: rq.user(a.UserID)})
		if a.UserID == rq.u.ID {
			out.UserHasApproved, out.UserCanApprove = true, false
		}
	}
	return out, nil
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

// pipelineBasicJSON is a pipeline as GitLab's lists show it: no user,
// times or duration.
type pipelineBasicJSON struct {
	ID        int     `json:"id"`
	IID       int     `json:"iid"`
	ProjectID int     `json:"project_id"`
	SHA       string  `json:"sha"`
	Ref       string  `json:"ref"`
	Status    string  `json:"status"`
	Source    string  `json:"source"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	WebURL    string  `json:"web_url"`
	Name      *string `json:"name"`
}

type detailedStatusJSON struct {
	Icon         string  `json:"icon"`
	Text         string  `json:"text"`
	Label        string  `json:"label"`
	Group        string  `json:"group"`
	Tooltip      string  `json:"tooltip"`
	HasDetails   bool    `json:"has_details"`
	DetailsPath  string  `json:"details_path"`
	Illustration any     `json:"illustration"`
	Favicon      string  `json:"favicon"`
	Action       *string `json:"action,omitempty"`
}

type pipelineJSON struct {
	pipelineBasicJSON
	BeforeSHA      string             `json:"before_sha"`
	Tag            bool               `json:"tag"`
	YamlErrors     *string            `json:"yaml_errors"`
	User           *userBasicJSON     `json:"user"`
	StartedAt      *string            `json:"started_at"`
	FinishedAt     *string            `json:"finished_at"`
	CommittedAt    *string            `json:"committed_at"`
	Duration       *int               `json:"duration"`
	QueuedDuration *int               `json:"queued_duration"`
	Coverage       *string            `json:"coverage"`
	DetailedStatus detailedStatusJSON `json:"detailed_status"`
}

func (rq *readReq) pipelineBasic(p *Project, pl *Pipeline) pipelineBasicJSON {
	return pipelineBasicJSON{
		ID: pl.ID, IID: pl.IID, ProjectID: pl.ProjectID, SHA: pl.SHA, Ref: pl.Ref, Status: pl.Status, Source: pl.Source,
		CreatedAt: fmtTime(pl.CreatedAt), UpdatedAt: fmtTime(pl.UpdatedAt), WebURL: fmt.Sprintf("%s/-/pipelines/%d", rq.projectURL(p), pl.ID),
	}
}

// listPipelines answers GET /projects/:id/pipelines. Filters: scope
// (running, pending, finished, branches: the newest pipeline of each
// branch, tags: none), status, source, ref, sha, username, updated_after
// and updated_before (both included), created_after and created_before.
// Order: id (default), status, ref, updated_at or user_id, desc unless
// sort=asc, id breaking ties.
func (s *Sim) listPipelines(rq *readReq) (any, *apiError) {
	var chk validation
	scope, _ := rq.q.oneOf(&chk, "scope", []string{"running", "pending", "finished", "branches", "tags"})
	status, _ := rq.q.oneOf(&chk, "status", pipelineStatuses)
	source, _ := rq.q.oneOf(&chk, "source", pipelineSources)
	ref, _ := rq.q.str(&chk, "ref", false)
	sha, _ := rq.q.str(&chk, "sha", false)
	username, _ := rq.q.str(&chk, "username", false)
	rq.q.boolean(&chk, "yaml_errors")
	updatedAfter, updatedBefore := rq.q.instant(&chk, "updated_after"), rq.q.instant(&chk, "updated_before")
	createdAfter, createdBefore := rq.q.instant(&chk, "created_after"), rq.q.instant(&chk, "created_before")
	orderBy, _ := rq.q.oneOf(&chk, "order_by", []string{"id", "status", "ref", "updated_at", "user_id"})
	desc := rq.q.direction(&chk, "desc")
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	p, d, refused := rq.project(levelReporter)
	if refused != nil {
		return nil, refused
	}
	newestOfRef := map[string]int{}
	if scope == "branches" {
		for _, pl := range d.pipelines {
			newestOfRef[pl.Ref] = pl.ID
		}
	}
	var pipes []*Pipeline
	for _, pl := range updatedRange(d.pipesByUpd, updatedAfter, updatedBefore, pipeKey) {
		switch {
		case scope == "running" && pl.Status != "running",
			scope == "pending" && pl.Status != "pending",
			scope == "finished" && !slices.Contains(finishedStatuses, pl.Status),
			scope == "branches" && newestOfRef[pl.Ref] != pl.ID,
			scope == "tags",
			status != "" && pl.Status != status,
			source != "" && pl.Source != source,
			ref != "" && pl.Ref != ref,
			sha != "" && pl.SHA != sha,
			username != "" && (s.users[pl.UserID] == nil || !strings.EqualFold(s.users[pl.UserID].Username, username)),
			createdAfter != nil && pl.CreatedAt.Before(*createdAfter),
			createdBefore != nil && pl.CreatedAt.After(*createdBefore):
			continue
		}
		pipes = append(pipes, pl)
	}
	slices.SortFunc(pipes, func(a, b *Pipeline) int {
		c := 0
		switch orderBy {
		case "status":
			c = strings.Compare(a.Status, b.Status)
		case "ref":
			c = strings.Compare(a.Ref, b.Ref)
		case "updated_at":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "user_id":
			c = cmp.Compare(a.UserID, b.UserID)
		}
		return ordered(c, a.ID, b.ID, desc)
	})
	lo, hi, refused := rq.page(len(pipes))
	if refused != nil {
		return nil, refused
	}
	out := make([]pipelineBasicJSON, 0, hi-lo)
	for _, pl := range pipes[lo:hi] {
		out = append(out, rq.pipelineBasic(p, pl))
	}
	return out, nil
}

// getPipeline answers GET /projects/:id/pipelines/:pipeline_id with the
// user, start and finish times and durations.
func (s *Sim) getPipeline(rq *readReq) (any, *apiError) {
	p, d, refused := rq.project(levelReporter)
	if refused != nil {
		return nil, refused
	}
	id, err := strconv.Atoi(rq.r.PathValue("pipeline_id"))
	if err != nil {
		return nil, invalidParams([]string{"pipeline_id is invalid"})
	}
	pl := d.pipeline(id)
	if pl == nil {
		return nil, errRecordNotFound
	}
	before := strings.Repeat("0", 40)
	var committedAt *string
	if c := d.bySHA[pl.SHA]; c != nil {
		committedAt = fmtTimePtr(&c.CommittedDate)
		if len(c.ParentIDs) > 0 {
			before = c.ParentIDs[0]
		}
	}
	group := pl.Status
	text := map[string]string{"success": "Passed", "failed": "Failed", "canceled": "Canceled", "running": "Running", "pending": "Pending", "skipped": "Skipped", "created": "Created", "manual": "Manual"}[pl.Status]
	basic := rq.pipelineBasic(p, pl)
	detailsPath := fmt.Sprintf("/%s/-/pipelines/%d", s.projectFullPathLocked(p), pl.ID)
	return pipelineJSON{
		pipelineBasicJSON: basic, BeforeSHA: before, User: rq.user(pl.UserID), StartedAt: fmtTimePtr(pl.StartedAt),
		FinishedAt: fmtTimePtr(pl.FinishedAt), CommittedAt: committedAt, Duration: cloneInt(pl.Duration),
		QueuedDuration: cloneInt(pl.QueuedDuration),
		DetailedStatus: detailedStatusJSON{
			Icon: "status_" + group, Text: cmp.Or(text, pl.Status), Label: strings.ToLower(cmp.Or(text, pl.Status)),
			Group: group, Tooltip: strings.ToLower(cmp.Or(text, pl.Status)), HasDetails: true, DetailsPath: detailsPath,
			Favicon: "/assets/ci_favicons/favicon_status_" + group + ".png",
		},
	}, nil
}
