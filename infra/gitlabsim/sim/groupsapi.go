// Groups API (docs.gitlab.com/api/groups): GET /groups/:id, /groups/:id/subgroups and
// /groups/:id/descendant_groups, as the simulator answers them.

package sim

import (
	"slices"
	"strings"
)

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
