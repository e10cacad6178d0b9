package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// Queue is the SQS calls sync makes.
type Queue interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Scheduler plans the sync of courses and queues one task per project.
type Scheduler struct {
	GitLab   *gitlab.Client
	Store    store.Store
	Queue    Queue
	QueueURL string
	Logger   *slog.Logger
	Now      func() time.Time
}

// CourseResult is what one course's scheduling did.
type CourseResult struct {
	Course    string `json:"course"`
	CourseID  int64  `json:"course_id,omitempty"`
	Teams     int    `json:"teams"`
	Projects  int    `json:"projects"`
	MRs       int    `json:"merge_requests_changed"`
	Issues    int    `json:"issues_changed"`
	Tasks     int    `json:"tasks_queued"`
	RepoPolls int    `json:"repo_polls"`
	// PipelineProbes counts the projects not polled whose pipelines were
	// checked (one request each), PipelineReads those found changed.
	PipelineProbes int `json:"pipeline_probes"`
	PipelineReads  int `json:"pipeline_reads"`
	// PipelineProbesSkipped counts the projects whose webhooks work and
	// whose hourly probe was not due: no request at all.
	PipelineProbesSkipped int    `json:"pipeline_probes_skipped"`
	Error                 string `json:"error,omitempty"`
}

// Summary is one scheduler run.
type Summary struct {
	Courses []CourseResult `json:"courses"`
}

// ScheduleTask is the task name of the sync schedule's input.
const ScheduleTask = "sync"

// Handle is the scheduled Lambda handler: it refuses any event but the
// schedule's own input, {"task":"sync","source":"gitpulse.schedule"}
// (garbage, an array, null, another source), before any work; then it
// runs every course, the configured refs and the recorded ones.
func (s *Scheduler) Handle(ctx context.Context, raw json.RawMessage, refs []string) (Summary, error) {
	if _, err := gitpulse.ParseScheduleEvent(raw, ScheduleTask); err != nil {
		return Summary{}, err
	}
	return s.Run(ctx, refs)
}

// Run schedules every course: those named in refs and those recorded in
// the store. One course failing (unknown group, 403) is reported in its
// result and does not stop the others.
func (s *Scheduler) Run(ctx context.Context, refs []string) (Summary, error) {
	recorded, err := store.All[gitpulse.Course](ctx, s.Store, "COURSES", "COURSE#")
	if err != nil {
		return Summary{}, err
	}
	seen := map[string]bool{}
	var sum Summary
	for _, c := range recorded {
		seen[strconv.FormatInt(c.ID, 10)], seen[c.Path] = true, true
		sum.Courses = append(sum.Courses, s.course(ctx, c.Path, &c))
	}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		sum.Courses = append(sum.Courses, s.course(ctx, ref, nil))
	}
	var errs []error
	for _, c := range sum.Courses {
		if c.Error != "" {
			errs = append(errs, fmt.Errorf("course %s: %s", c.Course, c.Error))
		}
	}
	s.Logger.InfoContext(ctx, "sync scheduled", "summary", sum)
	// A bad course is reported in its result and the log; the run fails
	// (and is retried) only when no course could be scheduled at all.
	if len(errs) > 0 && len(errs) == len(sum.Courses) {
		return sum, errors.Join(errs...)
	}
	return sum, nil
}

// ErrUnknownCourse is Course's error for a course that is not recorded.
var ErrUnknownCourse = gitpulse.Errorf(gitpulse.ENOTFOUND, "course is not recorded")

// Course schedules one recorded course now. A failure is returned after
// being recorded in the course's state.
func (s *Scheduler) Course(ctx context.Context, id int64) (CourseResult, error) {
	var c gitpulse.Course
	if err := s.Store.Get(ctx, "COURSES", store.CourseSK(id), &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return CourseResult{CourseID: id}, fmt.Errorf("course %d: %w", id, ErrUnknownCourse)
		}
		return CourseResult{CourseID: id}, err
	}
	res := s.course(ctx, c.Path, &c)
	if res.Error != "" {
		return res, fmt.Errorf("course %s: %s", c.Path, res.Error)
	}
	return res, nil
}

// ErrCourseExists is Add's error for a group already recorded as a course.
var ErrCourseExists = gitpulse.Errorf(gitpulse.ECONFLICT, "the group is already a course")

// ErrCourseOverlaps is Add's error for a group that contains, or lies
// within, a recorded course: their projects would belong to both.
var ErrCourseOverlaps = gitpulse.Errorf(gitpulse.ECONFLICT, "the group overlaps a course")

// Overlapping returns the first of courses whose group contains the group
// at fullPath or lies within it, and how ("contains" or "is within"). The
// hierarchy is read from GitLab's full paths (a subgroup's full path is
// its parent's plus "/<path>"; GitLab compares them without regard to
// case), so no further GitLab call is needed. The group itself is not an
// overlap (see ErrCourseExists).
func Overlapping(fullPath string, courses []gitpulse.Course) (gitpulse.Course, string, bool) {
	p := strings.ToLower(strings.Trim(fullPath, "/"))
	for _, c := range courses {
		cp := strings.ToLower(strings.Trim(c.Path, "/"))
		switch {
		case cp == "" || cp == p:
		case strings.HasPrefix(cp, p+"/"):
			return c, "contains", true
		case strings.HasPrefix(p, cp+"/"):
			return c, "is within", true
		}
	}
	return gitpulse.Course{}, "", false
}

// Add resolves ref (a group id or full path) on GitLab, lists its teams
// (subgroups; projects directly in the group become teams at the first
// sync), and records the course (the teams are stored by its first sync,
// which the API queues); the next scheduling syncs it. A group GitLab
// does not show the token is an ENOTFOUND error; a group already recorded
// is ErrCourseExists, and one that contains or lies within a recorded
// course ErrCourseOverlaps, naming that course (nothing is written).
func (s *Scheduler) Add(ctx context.Context, ref string) (gitpulse.Course, []gitpulse.Team, error) {
	api, err := s.GitLab.API(ctx)
	if err != nil {
		return gitpulse.Course{}, nil, err
	}
	g, _, err := api.Groups.GetGroup(ref, &gl.GetGroupOptions{WithProjects: gl.Ptr(false)}, gl.WithContext(ctx))
	if err != nil {
		if f := gitlab.Classify(err); f != nil && f.Kind == gitlab.FailNotFound {
			return gitpulse.Course{}, nil, gitpulse.Errorf(gitpulse.ENOTFOUND, "group %q: not found on GitLab, or not visible to GitPulse's token", ref)
		}
		return gitpulse.Course{}, nil, fmt.Errorf("read group %q: %w", ref, err)
	}
	var existing gitpulse.Course
	if err := s.Store.Get(ctx, "COURSES", store.CourseSK(g.ID), &existing); err == nil {
		return existing, nil, &gitpulse.Error{Code: gitpulse.ECONFLICT, Err: ErrCourseExists,
			Message: fmt.Sprintf("group %s is already course %d (added %s)", g.FullPath, g.ID, existing.AddedAt.UTC().Format(time.DateOnly))}
	} else if !errors.Is(err, store.ErrNotFound) {
		return gitpulse.Course{}, nil, err
	}
	recorded, err := store.All[gitpulse.Course](ctx, s.Store, "COURSES", "COURSE#")
	if err != nil {
		return gitpulse.Course{}, nil, err
	}
	if c, rel, ok := Overlapping(g.FullPath, recorded); ok {
		return c, nil, &gitpulse.Error{Code: gitpulse.ECONFLICT, Err: ErrCourseOverlaps,
			Message: fmt.Sprintf("group %s %s course %d (%s): courses must not overlap, a project belongs to one course", g.FullPath, rel, c.ID, c.Path)}
	}
	course := gitpulse.Course{ID: g.ID, Path: g.FullPath, Name: g.Name, WebURL: g.WebURL, Source: "api", AddedAt: s.Now().UTC()}
	// The teams are listed for the answer, not stored: the course's first
	// sync (queued by the API right after) stores them. So the internet-
	// facing API writes nothing but the COURSES partition (its IAM role
	// allows no more; see template.yaml).
	_, teams, err := listTeams(ctx, api, g.ID, nil, nil)
	if err != nil {
		return course, nil, fmt.Errorf("list teams of %s: %w", g.FullPath, err)
	}
	if err := s.Store.Put(ctx, store.Item{PK: "COURSES", SK: store.CourseSK(g.ID), Kind: "course", Value: course}); err != nil {
		return course, nil, err
	}
	return course, teams, nil
}

// listTeams lists the course group's descendant groups, the teams, and
// puts a team item for each into w (none when w is nil), leaving out the
// groups skip names (those of another course). (A project directly in the course
// group is a team of its own; the project listing adds those.)
func listTeams(ctx context.Context, api *gl.Client, courseID int64, w *store.Writer, skip func(fullPath string) bool) (map[int64]*gl.Group, []gitpulse.Team, error) {
	groups := map[int64]*gl.Group{}
	var teams []gitpulse.Team
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		gs, resp, err := api.Groups.ListDescendantGroups(courseID, &gl.ListDescendantGroupsOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
		for _, g := range gs {
			groups[g.ID] = g
			if skip != nil && skip(g.FullPath) {
				continue // another course's group (or within it)
			}
			t := gitpulse.Team{ID: "g" + itoa(g.ID), CourseID: courseID, Name: g.Name, FullPath: g.FullPath}
			teams = append(teams, t)
			if w == nil {
				continue
			}
			if err := w.Put(ctx, store.Item{PK: store.CoursePK(courseID), SK: TeamSK(t.ID), Kind: "team", Value: t, IfChanged: true}); err != nil {
				return resp, err
			}
		}
		return resp, err
	}, nil)
	return groups, teams, err
}

func (s *Scheduler) course(ctx context.Context, ref string, known *gitpulse.Course) CourseResult {
	res := CourseResult{Course: ref}
	err := s.schedule(ctx, ref, known, &res)
	if err != nil {
		res.Error = describeErr(err)
		s.Logger.WarnContext(ctx, "course not scheduled", "course", ref, "error", res.Error)
		if res.CourseID != 0 {
			now := s.Now().UTC()
			var st CourseState
			_ = s.Store.Get(ctx, store.CoursePK(res.CourseID), "STATE", &st)
			st.LastError, st.LastErrorAt = res.Error, &now
			_ = s.Store.Put(ctx, store.Item{PK: store.CoursePK(res.CourseID), SK: "STATE", Kind: "course_state", Value: st})
		}
	}
	return res
}

func describeErr(err error) string {
	var aws *smithy.OperationError
	if errors.As(err, &aws) {
		return err.Error() // an AWS call failed (it names the service and operation), not GitLab
	}
	if f := gitlab.Classify(err); f != nil && !errors.Is(err, errNotGroup) {
		if f.Kind == gitlab.FailNotFound {
			return "not a GitLab group, or not visible to the token (404)"
		}
		return f.Message
	}
	return err.Error()
}

var errNotGroup = errors.New("not a group")

func (s *Scheduler) schedule(ctx context.Context, ref string, known *gitpulse.Course, res *CourseResult) error {
	api, err := s.GitLab.API(ctx)
	if err != nil {
		return err
	}
	start := s.Now().UTC()
	course := known
	if course == nil {
		// Resolve once; the record keeps the id, so later runs skip this call.
		g, _, err := api.Groups.GetGroup(ref, &gl.GetGroupOptions{WithProjects: gl.Ptr(false)}, gl.WithContext(ctx))
		if err != nil {
			return err
		}
		course = &gitpulse.Course{ID: g.ID, Path: g.FullPath, Name: g.Name, WebURL: g.WebURL, Source: "config", AddedAt: start}
		if err := s.Store.Put(ctx, store.Item{PK: "COURSES", SK: store.CourseSK(g.ID), Kind: "course", Value: course}); err != nil {
			return err
		}
	}
	res.CourseID = course.ID
	pk := store.CoursePK(course.ID)
	w := &store.Writer{Store: s.Store}
	owners, err := s.owners(ctx, *course)
	if err != nil {
		return err
	}

	// Teams: every descendant group; a project directly in the course
	// group is a team of its own.
	groups, teams, err := listTeams(ctx, api, course.ID, w, owners.within)
	if err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	res.Teams = len(teams)
	peopleChanged, err := s.staff(ctx, api, course.ID, start)
	if err != nil {
		return err
	}
	projects := map[int64]gitpulse.Project{}
	err = pages(ctx, func(page int64) (*gl.Response, error) {
		ps, resp, err := api.Groups.ListGroupProjects(course.ID, &gl.ListGroupProjectsOptions{
			ListOptions: gl.ListOptions{PerPage: perPage, Page: page}, IncludeSubGroups: gl.Ptr(true), WithShared: gl.Ptr(false),
		}, gl.WithContext(ctx))
		for _, p := range ps {
			if other, err := owners.elsewhere(ctx, p.ID, p.PathWithNamespace); err != nil {
				return resp, err
			} else if other != 0 {
				// Never moved between courses: it stays with its own.
				s.Logger.InfoContext(ctx, "project left to the course that holds it", "course_id", course.ID, "project_id", p.ID, "owner_course_id", other)
				continue
			}
			team := "p" + itoa(p.ID)
			if p.Namespace != nil && p.Namespace.ID != course.ID {
				team = "g" + itoa(teamGroup(groups, p.Namespace.ID, course.ID))
			} else if err := w.Put(ctx, store.Item{PK: pk, SK: "TEAM#" + team, Kind: "team",
				Value: gitpulse.Team{ID: team, CourseID: course.ID, Name: p.Name, FullPath: p.PathWithNamespace}, IfChanged: true}); err != nil {
				return resp, err
			}
			proj := gitpulse.Project{ID: p.ID, CourseID: course.ID, TeamID: team, Name: p.Name, Path: p.Path,
				FullPath: p.PathWithNamespace, WebURL: p.WebURL, DefaultBranch: p.DefaultBranch,
				LastActivityAt: val(p.LastActivityAt), UpdatedAt: val(p.UpdatedAt), Archived: p.Archived}
			projects[p.ID] = proj
			if err := w.Put(ctx, store.Item{PK: pk, SK: store.ProjectSK(p.ID), Kind: "project", Value: proj, IfChanged: true}); err != nil {
				return resp, err
			}
		}
		return resp, err
	}, nil)
	if err != nil {
		return fmt.Errorf("list projects: %w", err)
	}
	res.Projects = len(projects)

	var state CourseState
	if err := s.Store.Get(ctx, pk, "STATE", &state); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	tasks := map[int64]*Task{}
	task := func(pid int64) *Task {
		if tasks[pid] == nil {
			tasks[pid] = &Task{CourseID: course.ID, ProjectID: pid, ScheduledAt: start}
		}
		return tasks[pid]
	}

	// Changed merge requests and issues of the whole course: one list each.
	newMRsAfter := state.MRsAfter
	err = pages(ctx, func(page int64) (*gl.Response, error) {
		opt := &gl.ListGroupMergeRequestsOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page},
			State: gl.Ptr("all"), Scope: gl.Ptr("all"), OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc")}
		mrs, resp, err := api.MergeRequests.ListGroupMergeRequests(course.ID, opt, gl.WithContext(ctx), withArchived, updatedAfter(state.MRsAfter))
		for _, m := range mrs {
			if _, ok := projects[m.ProjectID]; !ok {
				continue // a project shared into the course, not one of its own
			}
			mr := mergeRequest(m)
			if state.MRsAfter != nil && !mr.UpdatedAt.After(*state.MRsAfter) {
				continue // the boundary item of an inclusive updated_after: done last time
			}
			res.MRs++
			if err := w.Put(ctx, store.Item{PK: store.ProjectPK(m.ProjectID), SK: "MR#" + itoa(m.IID), Kind: "merge_request",
				At: store.At("MR", mr.CreatedAt, itoa(m.IID)), Value: mr}); err != nil {
				return resp, err
			}
			t := task(m.ProjectID)
			t.MRs = append(t.MRs, m.IID)
			if mr.MergedAt != nil && state.MRsAfter != nil && mr.MergedAt.After(*state.MRsAfter) {
				// The merge moved the default branch: its range read
				// brings the merged commits to it.
				t.Repo = true
			}
			newMRsAfter = later(newMRsAfter, mr.UpdatedAt)
		}
		return resp, err
	}, nil)
	if err != nil {
		return fmt.Errorf("list merge requests: %w", err)
	}
	newIssuesAfter := state.IssuesAfter
	err = pages(ctx, func(page int64) (*gl.Response, error) {
		opt := &gl.ListGroupIssuesOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page},
			State: gl.Ptr("all"), Scope: gl.Ptr("all"), OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc")}
		is, resp, err := api.Issues.ListGroupIssues(course.ID, opt, gl.WithContext(ctx), withArchived, updatedAfter(state.IssuesAfter))
		for _, i := range is {
			if _, ok := projects[i.ProjectID]; !ok {
				continue
			}
			it := issue(i)
			if state.IssuesAfter != nil && !it.UpdatedAt.After(*state.IssuesAfter) {
				continue
			}
			res.Issues++
			if err := w.Put(ctx, store.Item{PK: store.ProjectPK(i.ProjectID), SK: "ISSUE#" + itoa(i.IID), Kind: "issue",
				At: store.At("ISSUE", it.CreatedAt, itoa(i.IID)), Value: it}); err != nil {
				return resp, err
			}
			task(i.ProjectID) // the aggregates change
			newIssuesAfter = later(newIssuesAfter, it.UpdatedAt)
		}
		return resp, err
	}, nil)
	if err != nil {
		return fmt.Errorf("list issues: %w", err)
	}

	// Repository polls: skipped only where provably safe.
	states, err := store.All[ProjectState](ctx, s.Store, pk, "SYNC#")
	if err != nil {
		return err
	}
	byID := map[int64]ProjectState{}
	for _, st := range states {
		byID[st.ProjectID] = st
	}
	probed := map[string]time.Time{}
	for id, p := range projects {
		st, ok := byID[id]
		if !ok {
			// New: its team lists it at once, with empty figures, until
			// the worker's first aggregate replaces them.
			if err := w.Put(ctx, store.Item{PK: pk, SK: SummarySK(p.TeamID, id), Kind: "project_summary",
				Value: ProjectSummary{Project: p, Stats: ProjectStats{Pipelines: map[string]int{}}, People: []PersonActivity{}, UpdatedAt: start}}); err != nil {
				return err
			}
		}
		if ok && st.LastSuccess != nil && st.LastSuccess.Before(peopleChanged) {
			task(id) // staff or identity mappings changed: aggregate again
		}
		if NeedsRepoPoll(p, st, ok, start) {
			task(id).Repo = true
		}
		members := NeedsMembers(p, st, ok, start)
		switch t := tasks[id]; {
		case t != nil && t.Repo:
			t.SkipMembers = !members
			res.RepoPolls++
			probed[itoa(id)] = start
		case members:
			task(id).Members = true
		}
		if t := tasks[id]; t != nil && t.Repo {
			continue
		}
		last, seen := state.Probed[itoa(id)]
		if HooksWork(p, st) && seen && start.Sub(last) < hookProbeInterval {
			// Its webhooks announce pipelines: no probe (one an hour
			// still, for an event GitLab failed to deliver).
			probed[itoa(id)] = last
			res.PipelineProbesSkipped++
			continue
		}
		// No activity shows, but pipelines move none: ask GitLab.
		if changed := s.pipelinesChanged(ctx, api, id, st); changed {
			task(id).Pipelines = true
			res.PipelineReads++
		}
		res.PipelineProbes++
		probed[itoa(id)] = start
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	if err := s.send(ctx, tasks); err != nil {
		return err
	}
	res.Tasks = len(tasks)
	recordQueued(ctx, course.ID, res.Tasks)

	// Only now, with the items stored and the tasks queued, move the
	// cursors. GitLab's updated_after is inclusive: the boundary items are
	// read again next time, which upserts make harmless.
	state.MRsAfter, state.IssuesAfter = newMRsAfter, newIssuesAfter
	state.LastRun, state.LastSuccess, state.LastError, state.LastErrorAt = &start, &start, "", nil
	state.Tasked = slices.Sorted(maps.Keys(tasks))
	state.Probed = probed
	return s.Store.Put(ctx, store.Item{PK: pk, SK: "STATE", Kind: "course_state", Value: state})
}

// teamGroup returns the course's direct subgroup that holds namespace id
// (teams are the first level below the course; deeper groups belong to
// their team).
func teamGroup(groups map[int64]*gl.Group, id, courseID int64) int64 {
	for {
		g, ok := groups[id]
		if !ok || g.ParentID == courseID || g.ParentID == 0 {
			return id
		}
		id = g.ParentID
	}
}

// pipelinesChanged asks GitLab, with one request, whether any pipeline of
// the project was created or updated since its cursor: the first page, in
// ascending update order, of the pipelines updated at or after the cursor
// (updated_after is inclusive, UpdatedAtFilterable's gteq), just long
// enough to hold the pipelines known at the cursor plus one. Anything else
// on it is news. GitLab has no group-level pipelines list and nothing in
// the project list moves with a pipeline, so this is the cheapest read
// that proves "no new pipeline". A failed probe counts as a change: the
// worker's read then retries under the task's own error handling.
func (s *Scheduler) pipelinesChanged(ctx context.Context, api *gl.Client, pid int64, st ProjectState) bool {
	opt := &gl.ListProjectPipelinesOptions{ListOptions: gl.ListOptions{PerPage: int64(min(perPage, len(st.PipelinesAtCursor)+1))},
		OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc")}
	ps, _, err := api.Pipelines.ListProjectPipelines(pid, opt, gl.WithContext(ctx), updatedAfter(st.PipelinesAfter))
	if err != nil {
		s.Logger.WarnContext(ctx, "pipeline probe failed: the worker reads the pipelines", "project_id", pid, "error", describeErr(err))
		return true
	}
	for _, p := range ps {
		pl := pipeline(p)
		if st.PipelinesAfter != nil && pl.UpdatedAt.Before(*st.PipelinesAfter) {
			continue // not news (a GitLab that reads the cursor to the second)
		}
		if st.PipelinesAfter == nil || pl.UpdatedAt.After(*st.PipelinesAfter) || !slices.Contains(st.PipelinesAtCursor, pl.ID) {
			return true
		}
	}
	return false
}

func (s *Scheduler) send(ctx context.Context, tasks map[int64]*Task) error {
	var batch []sqstypes.SendMessageBatchRequestEntry
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := s.Queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.QueueURL), Entries: batch})
		if err != nil {
			return fmt.Errorf("queue tasks: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("queue tasks: %d of %d refused (%s)", len(out.Failed), len(batch), aws.ToString(out.Failed[0].Message))
		}
		batch = batch[:0]
		return nil
	}
	for id, t := range tasks {
		body, err := json.Marshal(t)
		if err != nil {
			return err
		}
		batch = append(batch, sqstypes.SendMessageBatchRequestEntry{Id: aws.String("p" + itoa(id)), MessageBody: aws.String(string(body))})
		if len(batch) == 10 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
