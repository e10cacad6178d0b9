// Pipelines: creating them and moving their status.

package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Pipeline is a CI pipeline. Duration and QueuedDuration are whole seconds,
// nil until known (GitLab's null).
type Pipeline struct {
	ID, IID, ProjectID   int
	SHA, Ref             string
	Status, Source       string
	UserID               int
	CreatedAt, UpdatedAt time.Time
	StartedAt            *time.Time
	FinishedAt           *time.Time
	Duration             *int
	QueuedDuration       *int
}

// PipelineSpec describes a pipeline for AddPipeline.
type PipelineSpec struct {
	// Ref defaults to the default branch; SHA to the ref's head.
	Ref, SHA string
	// Source defaults to "push", Status to "pending".
	Source, Status string
	// UserID is who triggered it; 0 for nobody.
	UserID int
	// At is the creation time; the clock's now when zero.
	At time.Time
}

// AddPipeline creates a pipeline and returns it. Pipelines never move the
// project's last_activity_at. A pipeline created running has started_at;
// one created finished has started_at and finished_at equal to its
// creation time. It fails for an unknown project or user, an unknown
// status or source, or a ref without commits when no SHA is given.
func (s *Sim) AddPipeline(projectID int, spec PipelineSpec) (Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Pipeline{}, fmt.Errorf("add pipeline: %w", err)
	}
	if spec.UserID != 0 {
		if err := s.usersExistLocked("add pipeline", spec.UserID); err != nil {
			return Pipeline{}, err
		}
	}
	pl, err := s.addPipelineLocked(p, d, spec, s.at(spec.At))
	if err != nil {
		return Pipeline{}, err
	}
	return pl.clone(), nil
}

func (s *Sim) addPipelineLocked(p *Project, d *projectData, spec PipelineSpec, at time.Time) (*Pipeline, error) {
	ref, source, status := cmp.Or(spec.Ref, defaultBranch), cmp.Or(spec.Source, "push"), cmp.Or(spec.Status, "pending")
	if !slices.Contains(pipelineStatuses, status) {
		return nil, fmt.Errorf("add pipeline: status %q: want one of %v", status, pipelineStatuses)
	}
	if !slices.Contains(pipelineSources, source) {
		return nil, fmt.Errorf("add pipeline: source %q: want one of %v", source, pipelineSources)
	}
	sha := spec.SHA
	if sha == "" {
		if br := d.branches[ref]; br != nil {
			sha = br.head
		}
		if sha == "" {
			return nil, fmt.Errorf("add pipeline: ref %q of project %d has no commits", ref, p.ID)
		}
	}
	pl := &Pipeline{
		ID: s.nextPipeline, IID: len(d.pipelines) + 1, ProjectID: p.ID, SHA: sha, Ref: ref, Status: "created",
		Source: source, UserID: spec.UserID, CreatedAt: at, UpdatedAt: at,
	}
	s.nextPipeline++
	d.pipelines = append(d.pipelines, pl)
	d.pipesByUpd = insertByKey(d.pipesByUpd, pl, pipeKey)
	d.setPipelineStatus(pl, status, at)
	if pl.Status == "created" { // no status change to announce it
		s.hookPipelineLocked(pl)
	}
	return pl, nil
}

// SetPipelineStatus changes a pipeline's status at the clock's now and
// returns it. Every change moves the pipeline's updated_at (never the
// project's last_activity_at); setting the status it has changes nothing.
// "running" sets started_at when unset; a finished status (success,
// failed, canceled, skipped) sets finished_at and, once started, duration
// and queued_duration. It fails for an unknown project, pipeline or
// status.
func (s *Sim) SetPipelineStatus(projectID, pipelineID int, status string) (Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, d, err := s.projectDataLocked(projectID)
	if err != nil {
		return Pipeline{}, fmt.Errorf("set pipeline status: %w", err)
	}
	pl := d.pipeline(pipelineID)
	if pl == nil {
		return Pipeline{}, fmt.Errorf("set pipeline status: pipeline %d of project %d: %w", pipelineID, projectID, errNotFound)
	}
	if !slices.Contains(pipelineStatuses, status) {
		return Pipeline{}, fmt.Errorf("set pipeline status: status %q: want one of %v", status, pipelineStatuses)
	}
	d.setPipelineStatus(pl, status, s.at(time.Time{}))
	return pl.clone(), nil
}

func (d *projectData) setPipelineStatus(pl *Pipeline, status string, at time.Time) {
	if pl.Status == status {
		return
	}
	pl.Status = status
	finished := slices.Contains(finishedStatuses, status)
	if pl.StartedAt == nil && (status == "running" || finished) {
		pl.StartedAt = &at
		q := int(at.Sub(pl.CreatedAt).Seconds())
		if q > 0 {
			pl.QueuedDuration = &q
		}
	}
	pl.FinishedAt, pl.Duration = nil, nil
	if finished {
		pl.FinishedAt = &at
		dur := int(at.Sub(*pl.StartedAt).Seconds())
		pl.Duration = &dur
	}
	d.touchPipeline(pl, at)
	d.sim.hookPipelineLocked(pl)
}

// Pipelines returns a project's pipelines by id, oldest first. Nil for an
// unknown project.
func (s *Sim) Pipelines(projectID int) []Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[projectID]
	if d == nil {
		return nil
	}
	out := make([]Pipeline, len(d.pipelines))
	for i, pl := range d.pipelines {
		out[i] = pl.clone()
	}
	return out
}
