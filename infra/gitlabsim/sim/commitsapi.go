// Commits API (docs.gitlab.com/api/commits): GET /projects/:id/repository/commits,
// .../commits/:sha and /projects/:id/merge_requests/:iid/commits.

package sim

import (
	"cmp"
	"slices"
	"strings"
)

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

// commitJSON is API::Entities::Commit: created_at is the committed date
// ("always identical to the committed_date field", docs.gitlab.com/api/commits),
// and the dates keep the commit's own UTC offset.
func (rq *readReq) commitJSON(p *Project, c *Commit, withStats bool) commitJSON {
	j := commitJSON{
		ID: c.SHA, ShortID: c.ShortID(), CreatedAt: c.CommittedDate.Format(commitTimeFormat), ParentIDs: nonNil(slices.Clone(c.ParentIDs)),
		Title: c.Title, Message: c.Message, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail,
		AuthoredDate: c.AuthoredDate.Format(commitTimeFormat), CommitterName: c.CommitterName, CommitterEmail: c.CommitterEmail,
		CommittedDate: c.CommittedDate.Format(commitTimeFormat), Trailers: map[string]string{}, ExtendedTrailers: map[string][]string{},
		WebURL: rq.projectURL(p) + "/-/commit/" + c.SHA,
	}
	if withStats {
		j.Stats = &commitStatsJSON{Additions: c.Additions, Deletions: c.Deletions, Total: c.Additions + c.Deletions}
	}
	return j
}

// listCommits answers GET /projects/:id/repository/commits, newest first
// (by committed date, as git log): the commits ref_name reaches (a branch,
// a SHA, or a range A..B: what B reaches and A does not; default:
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
	case br == nil && !all:
		// A revision: a SHA (or a prefix of 7 or more) or a range A..B,
		// as git log takes it (ref_name goes to Gitaly as a revision):
		// what B reaches and A does not, in committed-date order. An
		// unknown side gives an empty list, as an unknown ref does
		// (first_parent is not applied to a revision).
		in := d.revision(ref)
		src = d.commits
		keep = func(c *Commit) bool { return in[c.SHA] }
	case ref == defaultBranch:
		src = d.reachable
		if firstParent {
			keep = func(c *Commit) bool { return c.Branch == defaultBranch }
		}
	default:
		// Another branch: what its head reaches, walked through the
		// parents as git log walks it (merges from the default branch
		// included), or with first_parent only its first parents.
		in := map[string]bool{}
		if firstParent {
			for c := d.bySHA[br.head]; c != nil && !in[c.SHA]; {
				in[c.SHA] = true
				if len(c.ParentIDs) == 0 {
					break
				}
				c = d.bySHA[c.ParentIDs[0]]
			}
		} else {
			in = d.revision(ref)
		}
		src = d.commits
		keep = func(c *Commit) bool { return in[c.SHA] }
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
