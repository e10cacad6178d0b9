package sim

import (
	"slices"
	"strings"
)

// branchJSON is API::Entities::Branch (lib/api/entities/branch.rb).
type branchJSON struct {
	Name               string     `json:"name"`
	Commit             commitJSON `json:"commit"`
	Merged             bool       `json:"merged"`
	Protected          bool       `json:"protected"`
	DevelopersCanPush  bool       `json:"developers_can_push"`
	DevelopersCanMerge bool       `json:"developers_can_merge"`
	CanPush            bool       `json:"can_push"`
	Default            bool       `json:"default"`
	WebURL             string     `json:"web_url"`
}

// listBranches answers GET /projects/:id/repository/branches
// (lib/api/branches.rb, docs.gitlab.com/api/branches): the branches that
// have a commit, by name (BranchesFinder's default, name_asc), each with
// its head commit; search keeps the names holding it (case-insensitive;
// ^ anchors the start, $ the end, as the docs say); offset pages with the
// counting headers. merged is GitLab's repository.merged_to_root_ref?:
// the default branch reaches the head (never for the default branch);
// the default branch is protected, as a new project's is.
func (s *Sim) listBranches(rq *readReq) (any, *apiError) {
	var chk validation
	search, _ := rq.q.str(&chk, "search", false)
	if refused := chk.err(); refused != nil {
		return nil, refused
	}
	p, d, refused := rq.project(levelReporter)
	if refused != nil {
		return nil, refused
	}
	var out []branchJSON
	for _, b := range rq.s.branchesLocked(d) {
		if search != "" && !branchMatches(b.Name, search) {
			continue
		}
		out = append(out, branchJSON{Name: b.Name, Commit: rq.commitJSON(p, d.bySHA[b.Head], false), Merged: b.Merged,
			Protected: b.Default, CanPush: true, Default: b.Default, WebURL: rq.projectURL(p) + "/-/tree/" + b.Name})
	}
	lo, hi, refused := rq.page(len(out))
	if refused != nil {
		return nil, refused
	}
	return nonNil(out[lo:hi]), nil
}

// branchMatches is BranchesFinder's search: a substring, or with ^ or $
// anchored at the start or end, without regard to case.
func branchMatches(name, search string) bool {
	name, search = strings.ToLower(name), strings.ToLower(search)
	switch {
	case strings.HasPrefix(search, "^") && strings.HasSuffix(search, "$") && len(search) > 1:
		return name == search[1:len(search)-1]
	case strings.HasPrefix(search, "^"):
		return strings.HasPrefix(name, search[1:])
	case strings.HasSuffix(search, "$"):
		return strings.HasSuffix(name, search[:len(search)-1])
	}
	return strings.Contains(name, search)
}

// BranchInfo is one branch of a project as its head shows it.
type BranchInfo struct {
	Name string `json:"name"`
	Head string `json:"head"` // SHA of its newest commit
	// Merged: the default branch reaches the head (GitLab's Branch
	// entity's merged; false for the default branch itself).
	Merged  bool `json:"merged"`
	Default bool `json:"default"`
}

// Branches returns a project's branches that have a commit, by name. Nil
// for an unknown project.
func (s *Sim) Branches(projectID int) []BranchInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[projectID]
	if d == nil {
		return nil
	}
	return s.branchesLocked(d)
}

func (s *Sim) branchesLocked(d *projectData) []BranchInfo {
	var out []BranchInfo
	for name, br := range d.branches {
		if br.head == "" {
			continue
		}
		c := d.bySHA[br.head]
		out = append(out, BranchInfo{Name: name, Head: br.head, Default: name == defaultBranch,
			Merged: name != defaultBranch && c != nil && c.OnDefaultBranch})
	}
	slices.SortFunc(out, func(a, b BranchInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// resolve names a commit: a branch (its head), a full SHA, or a prefix of
// at least 7 digits of one. Nil when none matches.
func (d *projectData) resolve(ref string) *Commit {
	if br := d.branches[ref]; br != nil {
		return d.bySHA[br.head]
	}
	if c := d.bySHA[ref]; c != nil {
		return c
	}
	if len(ref) >= 7 {
		for _, c := range d.commits {
			if strings.HasPrefix(c.SHA, ref) {
				return c
			}
		}
	}
	return nil
}

// reach is the commits c reaches through its parents, c included.
func (d *projectData) reach(c *Commit, into map[string]bool) {
	stack := []*Commit{c}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c == nil || into[c.SHA] {
			continue
		}
		into[c.SHA] = true
		for _, p := range c.ParentIDs {
			stack = append(stack, d.bySHA[p])
		}
	}
}

// revision is the set of commits a git revision lists: "A..B" what B
// reaches and A does not, anything else what it names reaches. Empty for
// a side that names no commit.
func (d *projectData) revision(rev string) map[string]bool {
	from, to, isRange := strings.Cut(rev, "..")
	if !isRange {
		to = rev
	}
	head := d.resolve(to)
	in := map[string]bool{}
	if head == nil {
		return in
	}
	d.reach(head, in)
	if isRange {
		base := d.resolve(from)
		if base == nil {
			return map[string]bool{}
		}
		out := map[string]bool{}
		d.reach(base, out)
		for sha := range out {
			delete(in, sha)
		}
	}
	return in
}
