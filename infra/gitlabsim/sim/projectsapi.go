// Projects API (docs.gitlab.com/api/projects, api/groups#list-projects): GET
// /projects/:id and /groups/:id/projects, the full and the simple entity.

package sim

import (
	"slices"
	"strings"
)

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
// lists show (lib/api/groups.rb present_projects: params[:simple] ?
// Entities::BasicProjectDetails : Entities::Project): ProjectIdentity's
// fields, then default_branch, tag_list, topics, the URLs, readme_url,
// forks_count, avatar_url, star_count, last_activity_at and namespace
// (NamespaceBasic). GitLab leaves out default_branch, readme_url and
// forks_count for a caller who may not read the code, and adds license
// and custom_attributes only when asked; the simulator always shows the
// first three and never the others. The sync lists projects with the full
// entity, not this one.
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
