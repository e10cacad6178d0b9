package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
	"github.com/gitpulse/gitpulse/shared/tokencheck"
)

func kind(item map[string]ddbtypes.AttributeValue) string {
	if k, ok := item["kind"].(*ddbtypes.AttributeValueMemberS); ok {
		return k.Value
	}
	return ""
}

func unmarshal(item map[string]ddbtypes.AttributeValue, v any) error {
	return attributevalue.UnmarshalMap(item, v)
}

// CourseSync is one course of GET /api/v1/sync/status.
type CourseSync struct {
	Course   gitpulse.Course    `json:"course"`
	State    gpsync.CourseState `json:"state"`
	Projects []ProjectSync      `json:"projects"`
}

// ProjectSync is one project's sync status.
type ProjectSync struct {
	gpsync.ProjectState
	// ProjectName, TeamID and TeamName name the project and its team
	// (empty for a project the course no longer lists).
	ProjectName string `json:"project_name"`
	TeamID      string `json:"team_id"`
	TeamName    string `json:"team_name"`
	// LookedAt is when a sync last looked at the project: its last
	// successful task, or a later scheduling that found nothing changed
	// (a skipped project is up to date as of that run). LagSeconds is how
	// long ago that was; both null before the first.
	LookedAt   *time.Time `json:"looked_at"`
	LagSeconds *int64     `json:"lag_seconds"`
}

// lookedAt is when a sync last looked at a project: its last successful
// task, or the course's last successful scheduling when that run found
// nothing to do for it (it queued no task). A project the run queued a
// task for is looked at when that task succeeds.
func lookedAt(st gpsync.ProjectState, course gpsync.CourseState) *time.Time {
	t := st.LastSuccess
	if run := course.LastSuccess; run != nil && (t == nil || run.After(*t)) && st.LastSuccess != nil && !slices.Contains(course.Tasked, st.ProjectID) {
		t = run
	}
	return t
}

// names reads the course's team items and project summaries (one Query
// of TEAM#) for the project and team names of the sync status.
func (s *Server) names(r *http.Request, courseID int64) (teams map[string]string, projects map[int64]gitpulse.Project, err error) {
	teams, projects = map[string]string{}, map[int64]gitpulse.Project{}
	err = s.deps.Store.Each(r.Context(), store.CoursePK(courseID), "TEAM#", func(_ string, item map[string]ddbtypes.AttributeValue) error {
		switch kind(item) {
		case "team":
			var t gitpulse.Team
			if err := unmarshal(item, &t); err != nil {
				return err
			}
			teams[t.ID] = t.Name
		case "project_summary":
			var sum struct {
				Project gitpulse.Project `dynamodbav:"project"`
			}
			if err := unmarshal(item, &sum); err != nil {
				return err
			}
			projects[sum.Project.ID] = sum.Project
		}
		return nil
	})
	return teams, projects, err
}

// syncStatus answers each course of the page (or the one of ?course=)
// with its projects' sync states: one query for the courses, then per
// course one read of its state, one query of its projects' states and
// one of its teams (for the names).
func (s *Server) syncStatus(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	var courses []gitpulse.Course
	var next string
	if raw := q.Get("course"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return gitpulse.Errorf(gitpulse.EINVALID, "course: must be a positive integer (a course id), got %q", clip(raw))
		}
		var c gitpulse.Course
		if err := s.deps.Store.Get(r.Context(), "COURSES", store.CourseSK(id), &c); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return gitpulse.Errorf(gitpulse.ENOTFOUND, "course %d: not known to GitPulse", id)
			}
			return err
		}
		courses = append(courses, c)
	} else {
		p, err := s.deps.Store.Page(r.Context(), store.PageQuery{Listing: listing(r), PK: "COURSES", Prefix: "COURSE#", Limit: int32(min(limit, 20)), Cursor: q.Get("cursor")})
		if err != nil {
			return err
		}
		if courses, err = decode[gitpulse.Course](p.Items); err != nil {
			return err
		}
		next = p.Next
	}
	now := s.deps.Now()
	out := []CourseSync{}
	for _, c := range courses {
		cs := CourseSync{Course: c, Projects: []ProjectSync{}}
		if err := s.deps.Store.Get(r.Context(), store.CoursePK(c.ID), "STATE", &cs.State); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		states, err := store.All[gpsync.ProjectState](r.Context(), s.deps.Store, store.CoursePK(c.ID), "SYNC#")
		if err != nil {
			return err
		}
		teams, projects, err := s.names(r, c.ID)
		if err != nil {
			return err
		}
		for _, st := range states {
			p := projects[st.ProjectID]
			ps := ProjectSync{ProjectState: st, ProjectName: p.Name, TeamID: p.TeamID, TeamName: teams[p.TeamID]}
			if ps.LookedAt = lookedAt(st, cs.State); ps.LookedAt != nil {
				lag := max(int64(now.Sub(*ps.LookedAt)/time.Second), 0)
				ps.LagSeconds = &lag
			}
			cs.Projects = append(cs.Projects, ps)
		}
		out = append(out, cs)
	}
	writeJSON(w, http.StatusOK, listBody[CourseSync]{Items: out, NextCursor: next})
	return nil
}

// TokenView is one token of GET /api/v1/tokens: the token check's last
// report of it. Stale marks a token the latest check no longer saw.
type TokenView struct {
	tokencheck.TokenSummary
	Stale bool `json:"stale"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	p, err := s.deps.Store.Page(r.Context(), store.PageQuery{Listing: listing(r), PK: "TOKENS", Prefix: "TOKEN#", Limit: int32(limit), Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	stored, err := decode[tokencheck.Stored](p.Items)
	if err != nil {
		return err
	}
	var run tokencheck.Run
	if err := s.deps.Store.Get(r.Context(), "TOKENS", "RUN", &run); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	out := []TokenView{}
	for _, st := range stored {
		var v TokenView
		if err := json.Unmarshal([]byte(st.Report), &v.TokenSummary); err != nil {
			return err
		}
		// Reports of one run share its time; an older one is of a token
		// the last run no longer checked.
		v.Stale = st.CheckedAt.Before(run.CheckedAt)
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, listBody[TokenView]{Items: out, NextCursor: p.Next})
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	since, until, err := timeRangeParams(q)
	if err != nil {
		return err
	}
	hash := q.Get("token_hash")
	if hash == "" {
		return gitpulse.Errorf(gitpulse.EINVALID, "token_hash: required (sha256:<64 hex>; GET /api/v1/tokens lists them)")
	}
	if err := audit.CheckHash(hash); err != nil {
		return gitpulse.Errorf(gitpulse.EINVALID, "token_hash: must be sha256: and 64 lowercase hex digits")
	}
	query := audit.Query{TokenHash: hash, Limit: limit, Cursor: q.Get("cursor")}
	if since != nil {
		query.Since = *since
	}
	if until != nil {
		query.Until = until.Add(time.Millisecond) // Find's upper bound is exclusive
	}
	if s.deps.Audit == nil {
		return gitpulse.Errorf(gitpulse.EUNAVAILABLE, "the audit table is not configured on this deployment")
	}
	page, err := s.deps.Audit(r.Context(), query)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
