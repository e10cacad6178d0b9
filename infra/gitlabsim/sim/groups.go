package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitLab's roles (access levels).
const (
	levelGuest      = 10
	levelPlanner    = 15
	levelReporter   = 20
	levelDeveloper  = 30
	levelMaintainer = 40
	levelOwner      = 50
)

// roles are the access levels a member or a group or project token may have.
var roles = []int{levelGuest, levelPlanner, levelReporter, levelDeveloper, levelMaintainer, levelOwner}

func validRole(level int) bool { return slices.Contains(roles, level) }

// Membership sources, as AddMember names them.
const (
	sourceGroup   = "group"
	sourceProject = "project"
)

// Group is a GitLab group. ParentID is 0 for a top-level group.
type Group struct {
	ID       int    `json:"id"`
	Path     string `json:"path"`
	Name     string `json:"name"`
	ParentID int    `json:"parent_id"`
}

// Project is a GitLab project. GroupID is 0 for a project outside any group
// the simulator knows (as if in a user's namespace).
type Project struct {
	ID      int    `json:"id"`
	Path    string `json:"path"`
	Name    string `json:"name"`
	GroupID int    `json:"group_id"`
}

// memberKey names one membership: a user in a group or project.
type memberKey struct {
	source   string // sourceGroup or sourceProject
	sourceID int
	userID   int
}

// AddGroup creates a group below parentID (0 for a top-level group) and
// returns it. Its name is its path; an empty path becomes group-<id>. A
// parent that does not exist yet is created first, as a top-level group
// with the path group-<parentID>. Paths are not checked for uniqueness:
// looking a group up by full path finds the oldest of equal ones.
func (s *Sim) AddGroup(path string, parentID int) Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	if parentID > 0 {
		s.ensureGroupLocked(parentID)
	}
	return *s.addGroupLocked(s.nextGroup, path, max(parentID, 0))
}

// addGroupLocked stores a group with the given ID, which must be free, and
// keeps IDs handed out later above it.
func (s *Sim) addGroupLocked(id int, path string, parentID int) *Group {
	if path == "" {
		path = fmt.Sprintf("group-%d", id)
	}
	g := &Group{ID: id, Path: path, Name: path, ParentID: parentID}
	s.groups[id] = g
	s.groupCreated[id] = stamp(s.now())
	s.nextGroup = max(s.nextGroup, id+1)
	return g
}

// ensureGroupLocked returns the group with the given ID, creating a
// top-level group group-<id> if there is none.
func (s *Sim) ensureGroupLocked(id int) *Group {
	if g := s.groups[id]; g != nil {
		return g
	}
	return s.addGroupLocked(id, "", 0)
}

// AddProject creates a project in the group groupID (0 for none) and returns
// it. Its name is its path; an empty path becomes project-<id>. A group that
// does not exist yet is created first, as a top-level group with the path
// group-<groupID>.
func (s *Sim) AddProject(groupID int, path string) Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	if groupID > 0 {
		s.ensureGroupLocked(groupID)
	}
	return *s.addProjectLocked(s.nextProject, path, max(groupID, 0))
}

func (s *Sim) addProjectLocked(id int, path string, groupID int) *Project {
	if path == "" {
		path = fmt.Sprintf("project-%d", id)
	}
	p := &Project{ID: id, Path: path, Name: path, GroupID: groupID}
	s.projects[id] = p
	s.data[id] = newProjectData(s.now())
	s.data[id].sim = s
	s.nextProject = max(s.nextProject, id+1)
	return p
}

// ensureProjectLocked returns the project with the given ID, creating
// project-<id> outside any group if there is none.
func (s *Sim) ensureProjectLocked(id int) *Project {
	if p := s.projects[id]; p != nil {
		return p
	}
	return s.addProjectLocked(id, "", 0)
}

// AddMember makes a user a member of a group or project (sourceKind "group"
// or "project") with the given access level (10, 15, 20, 30, 40 or 50), or
// changes the level of an existing membership, so it is safe to repeat.
// Members of a group are members of its subgroups and projects with the
// same level or higher, as in GitLab. It fails for an unknown kind, source
// or user, or an invalid level, and then changes nothing.
func (s *Sim) AddMember(sourceKind string, sourceID, userID, accessLevel int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case sourceKind == sourceGroup && s.groups[sourceID] == nil:
		return fmt.Errorf("add member: group %d: %w", sourceID, errNotFound)
	case sourceKind == sourceProject && s.projects[sourceID] == nil:
		return fmt.Errorf("add member: project %d: %w", sourceID, errNotFound)
	case sourceKind != sourceGroup && sourceKind != sourceProject:
		return fmt.Errorf("add member: source %q: want %q or %q", sourceKind, sourceGroup, sourceProject)
	case s.users[userID] == nil:
		return fmt.Errorf("add member: user %d: %w", userID, errNotFound)
	case !validRole(accessLevel):
		return fmt.Errorf("add member: access level %d: want one of %v", accessLevel, roles)
	}
	k := memberKey{sourceKind, sourceID, userID}
	_, had := s.members[k]
	s.members[k] = accessLevel
	if d := s.data[sourceID]; sourceKind == sourceProject && !had && d != nil {
		// ProjectMember#post_create_hook: a "joined" event, which moves
		// last_activity_at as any event does (at most hourly). Joining a
		// group makes no project event.
		d.activity(s.at(time.Time{}))
	}
	return nil
}

// RemoveMember ends a direct membership of a group or project, as
// DELETE /groups/:id/members/:user_id does; removing one that does not
// exist is an error, as in GitLab (404).
func (s *Sim) RemoveMember(sourceKind string, sourceID, userID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := memberKey{sourceKind, sourceID, userID}
	if _, ok := s.members[k]; !ok {
		return fmt.Errorf("remove member: %s %d user %d: %w", sourceKind, sourceID, userID, errNotFound)
	}
	delete(s.members, k)
	if d := s.data[sourceID]; sourceKind == sourceProject && d != nil {
		d.activity(s.at(time.Time{})) // post_destroy_hook: a "left" event
	}
	return nil
}

// SetAdmin makes a user an instance administrator or takes that away; it is
// safe to repeat. Administrators see and manage every group, project and
// token, as in GitLab with Admin Mode off (the default). It fails only for
// an unknown user.
func (s *Sim) SetAdmin(userID int, admin bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	if u == nil {
		return fmt.Errorf("set admin: user %d: %w", userID, errNotFound)
	}
	u.Admin = admin
	return nil
}

// groupChainLocked returns the group with the given ID and its ancestors,
// nearest first; nil for an unknown group.
func (s *Sim) groupChainLocked(id int) []*Group {
	var chain []*Group
	for g := s.groups[id]; g != nil && len(chain) <= len(s.groups); g = s.groups[g.ParentID] {
		chain = append(chain, g)
	}
	return chain
}

// groupFullPathLocked is the group's path with its ancestors' paths before
// it, as in GitLab's URLs ("course/team-1").
func (s *Sim) groupFullPathLocked(g *Group) string {
	chain := s.groupChainLocked(g.ID)
	parts := make([]string, len(chain))
	for i, a := range chain {
		parts[len(chain)-1-i] = a.Path
	}
	return strings.Join(parts, "/")
}

func (s *Sim) projectFullPathLocked(p *Project) string {
	if g := s.groups[p.GroupID]; g != nil {
		return s.groupFullPathLocked(g) + "/" + p.Path
	}
	return p.Path
}

// findGroupLocked finds a group by ID or by full path (case-insensitive),
// the two forms GitLab's :id accepts; nil if there is none.
func (s *Sim) findGroupLocked(ref string) *Group {
	if id, err := strconv.Atoi(ref); err == nil {
		return s.groups[id]
	}
	var found *Group
	for _, g := range s.groups {
		if strings.EqualFold(s.groupFullPathLocked(g), ref) && (found == nil || g.ID < found.ID) {
			found = g
		}
	}
	return found
}

// findProjectLocked finds a project by ID or full path; nil if there is none.
func (s *Sim) findProjectLocked(ref string) *Project {
	if id, err := strconv.Atoi(ref); err == nil {
		return s.projects[id]
	}
	var found *Project
	for _, p := range s.projects {
		if strings.EqualFold(s.projectFullPathLocked(p), ref) && (found == nil || p.ID < found.ID) {
			found = p
		}
	}
	return found
}

// groupAccessLocked is a user's highest role in a group, memberships of
// its ancestors included; 0 for none.
func (s *Sim) groupAccessLocked(groupID, userID int) int {
	level := 0
	for _, g := range s.groupChainLocked(groupID) {
		level = max(level, s.members[memberKey{sourceGroup, g.ID, userID}])
	}
	return level
}

// projectAccessLocked is a user's highest role in a project, memberships of
// its group and that group's ancestors included; 0 for none.
func (s *Sim) projectAccessLocked(p *Project, userID int) int {
	return max(s.members[memberKey{sourceProject, p.ID, userID}], s.groupAccessLocked(p.GroupID, userID))
}

// canSeeGroupLocked reports whether a user may see a private group: an
// administrator, or a member of the group, an ancestor, or a subgroup or
// project below it.
func (s *Sim) canSeeGroupLocked(g *Group, u *userRecord) bool {
	if u.Admin {
		return true
	}
	for k := range s.members {
		if k.userID != u.ID {
			continue
		}
		if k.source == sourceGroup && (s.inChainLocked(k.sourceID, g.ID) || s.inChainLocked(g.ID, k.sourceID)) {
			return true
		}
		if p := s.projects[k.sourceID]; k.source == sourceProject && p != nil && s.inChainLocked(p.GroupID, g.ID) {
			return true
		}
	}
	return false
}

// inChainLocked reports whether the group ancestorID is the group id or one
// of its ancestors.
func (s *Sim) inChainLocked(id, ancestorID int) bool {
	return slices.ContainsFunc(s.groupChainLocked(id), func(g *Group) bool { return g.ID == ancestorID })
}

// canSeeProjectLocked reports whether a user may see a private project: an
// administrator, or a member of the project or of a group above it.
func (s *Sim) canSeeProjectLocked(p *Project, u *userRecord) bool {
	return u.Admin || s.projectAccessLocked(p, u.ID) > 0
}
