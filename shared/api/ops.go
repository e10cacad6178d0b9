package api

import (
	"encoding/json"
	"errors"
	"net/http"
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
	// LagSeconds is how long ago the last successful sync started; null
	// before the first.
	LagSeconds *int64 `json:"lag_seconds"`
}

// syncStatus answers each course of the page (or the one of ?course=)
// with its projects' sync states: one query for the courses, then per
// course one read of its state and one query of its projects' states.
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
		for _, st := range states {
			ps := ProjectSync{ProjectState: st}
			if st.LastSuccess != nil {
				lag := int64(now.Sub(*st.LastSuccess) / time.Second)
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
