package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// maxBody is the largest request body accepted.
const maxBody = 16 << 10

// courseRecord reads the course of the {id} path parameter (one GetItem).
func (s *Server) courseRecord(r *http.Request) (gitpulse.Course, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return gitpulse.Course{}, err
	}
	var c gitpulse.Course
	if err := s.deps.Store.Get(r.Context(), "COURSES", store.CourseSK(id), &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c, gitpulse.Errorf(gitpulse.ENOTFOUND, "course %d: not known to GitPulse", id)
		}
		return c, err
	}
	return c, nil
}

// course reads the course of the {id} path parameter and when sync last
// wrote anything of it (two GetItems), for answers with validators.
func (s *Server) course(r *http.Request) (gitpulse.Course, time.Time, error) {
	c, err := s.courseRecord(r)
	if err != nil {
		return c, time.Time{}, err
	}
	id := c.ID
	var v gpsync.CourseVersion
	if err := s.deps.Store.Get(r.Context(), store.CoursePK(id), "VERSION", &v); err != nil && !errors.Is(err, store.ErrNotFound) {
		return c, time.Time{}, err
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = c.AddedAt
	}
	return c, v.UpdatedAt, nil
}

func (s *Server) listCourses(w http.ResponseWriter, r *http.Request) error {
	if c, ok := callerFrom(r.Context()); ok {
		if done, err := s.visibleCourseList(w, r, c); done || err != nil {
			return err
		}
	}
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	return writePage[gitpulse.Course](s, w, r, store.PageQuery{Listing: listing(r), PK: "COURSES", Prefix: "COURSE#", Limit: int32(limit), Cursor: q.Get("cursor")})
}

// CourseView is GET /api/v1/courses/{id}.
type CourseView struct {
	Course    gitpulse.Course    `json:"course"`
	Sync      gpsync.CourseState `json:"sync"`
	UpdatedAt time.Time          `json:"updated_at"`
}

func (s *Server) getCourse(w http.ResponseWriter, r *http.Request) error {
	c, updated, err := s.course(r)
	if err != nil {
		return err
	}
	view := CourseView{Course: c}
	if err := s.deps.Store.Get(r.Context(), store.CoursePK(c.ID), "STATE", &view.Sync); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// The scheduler's state changes on every run, failed ones included.
	for _, t := range []*time.Time{view.Sync.LastRun, view.Sync.LastErrorAt} {
		if t != nil && t.After(updated) {
			updated = *t
		}
	}
	view.UpdatedAt = updated.UTC()
	if fresh(w, r, updated) {
		return nil
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// AddCourseBody is POST /api/v1/courses.
type AddCourseBody struct {
	// Group is the course's GitLab group: its id, full path or URL.
	Group json.RawMessage `json:"group"`
}

// AddedCourse is the answer to POST /api/v1/courses.
type AddedCourse struct {
	Course     gitpulse.Course `json:"course"`
	Teams      []gitpulse.Team `json:"teams"`
	SyncQueued bool            `json:"sync_queued"`
}

func (s *Server) addCourse(w http.ResponseWriter, r *http.Request) error {
	var body AddCourseBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	ref, err := groupRef(body.Group)
	if err != nil {
		return err
	}
	if s.deps.Courses == nil {
		return gitpulse.Errorf(gitpulse.EUNAVAILABLE, "adding courses is not configured on this deployment")
	}
	course, teams, err := s.deps.Courses.Add(r.Context(), ref)
	if err != nil {
		if gitpulse.ErrorCode(err) == gitpulse.EINTERNAL {
			if f := gitlab.Classify(err); f != nil {
				// GitLab or the token failed, not the request.
				s.deps.Logger.WarnContext(r.Context(), "course not added: GitLab failed", "group", ref, "error", err.Error())
				return gitpulse.Errorf(gitpulse.EUNAVAILABLE, "GitLab did not answer the group lookup (%s); try again, or check GET /api/v1/health", f.Kind)
			}
		}
		return err
	}
	if teams == nil {
		teams = []gitpulse.Team{}
	}
	w.Header().Set("Location", "/api/v1/courses/"+strconv.FormatInt(course.ID, 10))
	writeJSON(w, http.StatusCreated, AddedCourse{Course: course, Teams: teams, SyncQueued: s.planQueued(r, course.ID)})
	return nil
}

// planQueued is queuePlan for a course just added: whether a plan is now
// in flight.
func (s *Server) planQueued(r *http.Request, id int64) bool {
	_, err := s.queuePlan(r, id)
	return err == nil
}

// queuePlan asks the sync worker to schedule the course now, unless a
// plan of the course is already in flight (gpsync.ClaimPlan): then it
// queues nothing and answers with that plan. Any number of calls queue at
// most one plan per course at a time.
func (s *Server) queuePlan(r *http.Request, id int64) (SyncQueued, error) {
	if s.deps.Queue == nil || s.deps.QueueURL == "" {
		return SyncQueued{}, gitpulse.Errorf(gitpulse.EUNAVAILABLE, "the sync queue is not configured on this deployment")
	}
	ctx := r.Context()
	marker, mine, err := gpsync.ClaimPlan(ctx, s.deps.Store, id, s.deps.Now())
	if err != nil {
		return SyncQueued{}, err
	}
	if !mine {
		return SyncQueued{CourseID: id, QueuedAt: marker.QueuedAt, AlreadyQueued: true}, nil
	}
	body, _ := json.Marshal(gpsync.Task{CourseID: id, Plan: true, ScheduledAt: marker.QueuedAt})
	if _, err := s.deps.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.deps.QueueURL), MessageBody: aws.String(string(body))}); err != nil {
		s.deps.Logger.ErrorContext(ctx, "sync not queued", "course_id", id, "error", err.Error())
		// Free the claim so that the next call may queue the plan.
		if rerr := gpsync.ReleasePlan(context.WithoutCancel(ctx), s.deps.Store, id); rerr != nil {
			s.deps.Logger.WarnContext(ctx, "plan marker not released", "course_id", id, "error", rerr.Error())
		}
		return SyncQueued{}, gitpulse.Errorf(gitpulse.EUNAVAILABLE, "the sync could not be queued; try again shortly")
	}
	return SyncQueued{CourseID: id, QueuedAt: marker.QueuedAt}, nil
}

// SyncQueued is the answer to POST /api/v1/courses/{id}/sync.
type SyncQueued struct {
	CourseID int64     `json:"course_id"`
	QueuedAt time.Time `json:"queued_at"`
	// AlreadyQueued: a plan of the course was in flight; this call queued
	// nothing, and QueuedAt is when that plan was queued.
	AlreadyQueued bool `json:"already_queued"`
}

func (s *Server) syncCourse(w http.ResponseWriter, r *http.Request) error {
	c, err := s.courseRecord(r)
	if err != nil {
		return err
	}
	queued, err := s.queuePlan(r, c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, queued)
	return nil
}

// deleteCourse forgets a course: it is no longer listed or synced. The
// synced items stay (the table keeps them; see the README).
func (s *Server) deleteCourse(w http.ResponseWriter, r *http.Request) error {
	c, err := s.courseRecord(r)
	if err != nil {
		return err
	}
	if slices.Contains(s.deps.ConfiguredCourses, c.Path) || slices.Contains(s.deps.ConfiguredCourses, strconv.FormatInt(c.ID, 10)) {
		return gitpulse.Errorf(gitpulse.ECONFLICT, "course %s is configured in GITPULSE_COURSES: remove it there, or the next sync adds it again", c.Path)
	}
	if err := s.deps.Store.Delete(r.Context(), "COURSES", store.CourseSK(c.ID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readJSON decodes a JSON object body strictly: a body over maxBody is
// 413, anything but one object with known fields 400 with the reason.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return gitpulse.Errorf(gitpulse.EINVALID, "body: Content-Type must be application/json, got %q", clip(ct))
	}
	// One JSON value, and an object: every body the document describes is
	// one (a null, an array or a bare string is refused, not read as {}).
	var raw json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	err := dec.Decode(&raw)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("more than one JSON value")
		} else if !bytes.HasPrefix(raw, []byte("{")) {
			return gitpulse.Errorf(gitpulse.EINVALID, "body: must be a JSON object, got %s", clip(string(raw)))
		}
	}
	if err == nil {
		obj := json.NewDecoder(bytes.NewReader(raw))
		obj.DisallowUnknownFields()
		err = obj.Decode(v)
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return gitpulse.Errorf(gitpulse.ETOOLARGE, "body: larger than %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return gitpulse.Errorf(gitpulse.EINVALID, "body: empty; send a JSON object")
	default:
		return gitpulse.Errorf(gitpulse.EINVALID, "body: not the expected JSON object: %s", clip(jsonReason(err)))
	}
}

// jsonReason is a decoding error's reason without Go type names.
func jsonReason(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s has the wrong type", typ.Field)
		}
		return "a JSON object is expected"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return err.Error()
}
