// Pipelines API (docs.gitlab.com/api/pipelines): GET /projects/:id/pipelines and
// /projects/:id/pipelines/:pipeline_id.

package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

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
		v := c.CommittedDate.Format(commitTimeFormat) // the commit's date, its offset kept
		committedAt = &v
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
