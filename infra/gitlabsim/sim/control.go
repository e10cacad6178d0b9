package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// controlRoutes registers the control API under /-/sim/, a path GitLab never
// uses. It takes and gives JSON and needs no token; every call is safe to
// repeat except the ones that create users, tokens, groups, projects and
// faults.
func (s *Sim) controlRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /-/sim/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /-/sim/users", s.ctlAddUser)
	m.HandleFunc("PUT /-/sim/users/{id}/admin", s.ctlSetAdmin)
	m.HandleFunc("POST /-/sim/groups", s.ctlAddGroup)
	m.HandleFunc("POST /-/sim/projects", s.ctlAddProject)
	m.HandleFunc("POST /-/sim/members", s.ctlAddMember)
	m.HandleFunc("POST /-/sim/tokens", s.ctlAddToken)
	m.HandleFunc("POST /-/sim/tokens/{id}/revoke", s.ctlRevokeToken)
	m.HandleFunc("POST /-/sim/tokens/{id}/expire", s.ctlUpdateToken(expireYesterday))
	m.HandleFunc("PUT /-/sim/ratelimit", s.ctlRateLimit)
	m.HandleFunc("POST /-/sim/faults", s.ctlAddFault)
	m.HandleFunc("DELETE /-/sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /-/sim/courses", s.ctlGenerateCourse)
	m.HandleFunc("POST /-/sim/courses/{id}/activity", s.ctlAddActivity)
	m.HandleFunc("POST /-/sim/projects/{id}/archive", s.ctlArchiveProject)
	m.HandleFunc("GET /-/sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]map[string]int{"counts": s.RequestCounts()})
	})
	m.HandleFunc("/-/sim/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, messageBody{"no control route " + r.Method + " " + r.URL.Path})
	})
}

type userRequest struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Bot      bool   `json:"bot"`
}

func (s *Sim) ctlAddUser(w http.ResponseWriter, r *http.Request) {
	var req userRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	if req.Username == "" {
		writeJSON(w, http.StatusBadRequest, messageBody{"username is required"})
		return
	}
	writeJSON(w, http.StatusCreated, s.AddUser(req.Username, req.Name, req.Bot))
}

type tokenRequest struct {
	Kind        TokenKind `json:"kind"`
	UserID      int       `json:"user_id"`
	GroupID     int       `json:"group_id"`
	ProjectID   int       `json:"project_id"`
	AccessLevel int       `json:"access_level"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Scopes      []string  `json:"scopes"`
	ExpiresAt   *string   `json:"expires_at"`
	Value       string    `json:"value"`
}

// tokenJSON is a token as the control API shows it, value included.
type tokenJSON struct {
	ID          int       `json:"id"`
	Token       string    `json:"token"`
	Kind        TokenKind `json:"kind"`
	UserID      int       `json:"user_id"`
	GroupID     int       `json:"group_id,omitempty"`
	ProjectID   int       `json:"project_id,omitempty"`
	AccessLevel int       `json:"access_level,omitempty"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Scopes      []string  `json:"scopes"`
	ExpiresAt   *string   `json:"expires_at"`
	Revoked     bool      `json:"revoked"`
	// RevokeAt is a scheduled revocation not yet due (RFC 3339, UTC).
	RevokeAt   *string `json:"revoke_at,omitempty"`
	FamilyID   int     `json:"family_id"`
	PreviousID int     `json:"previous_id,omitempty"`
}

func newTokenJSON(t Token) tokenJSON {
	j := tokenJSON{
		ID: t.ID, Token: t.Value, Kind: t.Kind, UserID: t.UserID, GroupID: t.GroupID, ProjectID: t.ProjectID,
		AccessLevel: t.AccessLevel, Name: t.Name, Description: t.Description, Scopes: t.Scopes, Revoked: t.Revoked,
		FamilyID: t.FamilyID, PreviousID: t.PreviousID,
	}
	if t.ExpiresAt != nil {
		layout := time.DateOnly
		if t.Kind == KindOAuth {
			layout = time.RFC3339
		}
		v := t.ExpiresAt.UTC().Format(layout)
		j.ExpiresAt = &v
	}
	if t.RevokeAt != nil && !t.Revoked {
		v := t.RevokeAt.UTC().Format(time.RFC3339Nano)
		j.RevokeAt = &v
	}
	return j
}

func (s *Sim) ctlAddToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	spec := TokenSpec{
		Kind: req.Kind, UserID: req.UserID, GroupID: req.GroupID, ProjectID: req.ProjectID, AccessLevel: req.AccessLevel,
		Name: req.Name, Description: req.Description, Scopes: req.Scopes, Value: req.Value,
	}
	if req.ExpiresAt != nil {
		layout := time.DateOnly
		if req.Kind == KindOAuth {
			layout = time.RFC3339
		}
		at, err := time.Parse(layout, *req.ExpiresAt)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("expires_at: want %s, got %q", layout, *req.ExpiresAt)})
			return
		}
		spec.ExpiresAt = &at
	}
	t, err := s.AddToken(spec)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, newTokenJSON(t))
}

type adminRequest struct {
	Admin *bool `json:"admin"`
}

// ctlSetAdmin answers PUT /-/sim/users/{id}/admin {"admin":true|false} with
// the user; it is safe to repeat.
func (s *Sim) ctlSetAdmin(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("user id: want an integer, got %q", r.PathValue("id"))})
		return
	}
	var req adminRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	if req.Admin == nil {
		writeJSON(w, http.StatusBadRequest, messageBody{"admin: want true or false"})
		return
	}
	if err := s.SetAdmin(id, *req.Admin); err != nil {
		writeControlError(w, err)
		return
	}
	s.mu.Lock()
	u := s.users[id].User
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, u)
}

type groupRequest struct {
	Path     string `json:"path"`
	ParentID int    `json:"parent_id"`
}

// groupJSON is a group as the control API shows it.
type groupJSON struct {
	Group
	FullPath string `json:"full_path"`
}

// ctlAddGroup answers POST /-/sim/groups {"path","parent_id"} with 201 and
// the group. Unlike AddGroup it refuses an unknown parent (404), an empty
// path and a path its parent already has (400).
func (s *Sim) ctlAddGroup(w http.ResponseWriter, r *http.Request) {
	var req groupRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	s.mu.Lock()
	var out groupJSON
	var err error
	switch {
	case req.Path == "":
		err = errors.New("path is required")
	case req.ParentID != 0 && s.groups[req.ParentID] == nil:
		err = fmt.Errorf("parent group %d: %w", req.ParentID, errNotFound)
	case s.pathTakenLocked(req.Path, req.ParentID, true):
		err = fmt.Errorf("path %q has already been taken in group %d", req.Path, req.ParentID)
	default:
		g := s.addGroupLocked(s.nextGroup, req.Path, req.ParentID)
		out = groupJSON{*g, s.groupFullPathLocked(g)}
	}
	s.mu.Unlock()
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

type projectRequest struct {
	GroupID int    `json:"group_id"`
	Path    string `json:"path"`
}

// projectJSON is a project as the control API shows it.
type projectJSON struct {
	Project
	FullPath string `json:"full_path"`
}

// ctlAddProject answers POST /-/sim/projects {"group_id","path"} with 201
// and the project. Unlike AddProject it refuses an unknown group (404), an
// empty path and a path the group already has (400).
func (s *Sim) ctlAddProject(w http.ResponseWriter, r *http.Request) {
	var req projectRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	s.mu.Lock()
	var out projectJSON
	var err error
	switch {
	case req.Path == "":
		err = errors.New("path is required")
	case req.GroupID != 0 && s.groups[req.GroupID] == nil:
		err = fmt.Errorf("group %d: %w", req.GroupID, errNotFound)
	case s.pathTakenLocked(req.Path, req.GroupID, false):
		err = fmt.Errorf("path %q has already been taken in group %d", req.Path, req.GroupID)
	default:
		p := s.addProjectLocked(s.nextProject, req.Path, req.GroupID)
		out = projectJSON{*p, s.projectFullPathLocked(p)}
	}
	s.mu.Unlock()
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// pathTakenLocked reports whether a subgroup (group true) or project of the
// group parentID already has path (any case).
func (s *Sim) pathTakenLocked(path string, parentID int, group bool) bool {
	if group {
		for _, g := range s.groups {
			if g.ParentID == parentID && strings.EqualFold(g.Path, path) {
				return true
			}
		}
		return false
	}
	for _, p := range s.projects {
		if p.GroupID == parentID && strings.EqualFold(p.Path, path) {
			return true
		}
	}
	return false
}

type memberRequest struct {
	Source      string `json:"source"`
	SourceID    int    `json:"source_id"`
	UserID      int    `json:"user_id"`
	AccessLevel int    `json:"access_level"`
}

// ctlAddMember answers POST /-/sim/members
// {"source":"group|project","source_id","user_id","access_level"} with 200
// and the membership; see AddMember. It is safe to repeat.
func (s *Sim) ctlAddMember(w http.ResponseWriter, r *http.Request) {
	var req memberRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	if err := s.AddMember(req.Source, req.SourceID, req.UserID, req.AccessLevel); err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// ctlUpdateToken answers the expire call; it is safe to repeat.
func (s *Sim) ctlUpdateToken(change func(*Token, time.Time)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := tokenID(w, r)
		if !ok {
			return
		}
		t, err := s.updateToken(id, change)
		if err != nil {
			writeControlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, newTokenJSON(t))
	}
}

// tokenID reads the {id} path value; when it is not an integer it answers
// 400 and reports false.
func tokenID(w http.ResponseWriter, r *http.Request) (int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("token id: want an integer, got %q", r.PathValue("id"))})
		return 0, false
	}
	return id, true
}

type revokeRequest struct {
	At *string `json:"at"`
}

// ctlRevokeToken answers the revoke call. With no body (or no "at") the
// token is revoked now; {"at":"<RFC 3339>"} schedules the revocation for
// that instant on the simulator's clock (see RevokeTokenAt). It is safe to
// repeat: a revocation is never undone or postponed.
func (s *Sim) ctlRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, ok := tokenID(w, r)
	if !ok {
		return
	}
	var req revokeRequest
	if err := decodeOptional(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	var at time.Time // the zero time: now
	if req.At != nil {
		var err error
		if at, err = time.Parse(time.RFC3339, *req.At); err != nil {
			writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("at: want an RFC 3339 time, got %q", *req.At)})
			return
		}
	}
	t, err := s.updateToken(id, revokeAt(at))
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newTokenJSON(t))
}

type rateLimitRequest struct {
	PerMinute *int `json:"per_minute"`
	// Headers is "throttled" (self-managed, the default: RateLimit-* on
	// 429 answers only) or "every" (GitLab.com: on every answer); absent
	// keeps the current choice.
	Headers string `json:"headers,omitempty"`
}

func (s *Sim) ctlRateLimit(w http.ResponseWriter, r *http.Request) {
	var req rateLimitRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	if req.PerMinute == nil || *req.PerMinute < 0 {
		writeJSON(w, http.StatusBadRequest, messageBody{"per_minute: want an integer >= 0 (0 turns throttling off)"})
		return
	}
	switch req.Headers {
	case "":
	case "throttled", "every":
		s.SetRateLimitHeadersOnEveryAnswer(req.Headers == "every")
	default:
		writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("headers: got %q, want \"throttled\" (self-managed) or \"every\" (GitLab.com)", req.Headers)})
		return
	}
	s.SetRateLimit(*req.PerMinute)
	writeJSON(w, http.StatusOK, req)
}

type faultRequest struct {
	PathPrefix string  `json:"path_prefix"`
	LatencyMS  int     `json:"latency_ms"`
	Status     int     `json:"status"`
	Count      int     `json:"count"`
	Fraction   float64 `json:"fraction"`
	Drop       bool    `json:"drop"`
}

func (s *Sim) ctlAddFault(w http.ResponseWriter, r *http.Request) {
	var req faultRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	var problem string
	switch {
	case req.Status != 0 && (req.Status < 100 || req.Status > 599):
		problem = fmt.Sprintf("status: want 0 or 100..599, got %d", req.Status)
	case req.LatencyMS < 0:
		problem = fmt.Sprintf("latency_ms: want >= 0, got %d", req.LatencyMS)
	case req.Count < 0:
		problem = fmt.Sprintf("count: want >= 0, got %d", req.Count)
	case req.Fraction < 0 || req.Fraction > 1:
		problem = fmt.Sprintf("fraction: want 0..1, got %g", req.Fraction)
	}
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, messageBody{problem})
		return
	}
	s.InjectFault(Fault{
		PathPrefix: req.PathPrefix,
		Latency:    time.Duration(req.LatencyMS) * time.Millisecond,
		Status:     req.Status,
		Count:      req.Count,
		Fraction:   req.Fraction,
		Drop:       req.Drop,
	})
	writeJSON(w, http.StatusCreated, req)
}

// decode reads one JSON object into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	return decodeFrom(io.LimitReader(r.Body, 1<<20), v)
}

// decodeOptional is decode for calls whose body may be left out: an empty
// (or all white space) body leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeFrom(bytes.NewReader(b), v)
}

func decodeFrom(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("invalid JSON body: empty, want an object")
		}
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: more than one value")
	}
	return nil
}

// writeControlError maps a Sim method's error to a control API answer.
func writeControlError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, errNotFound) {
		status = http.StatusNotFound
	}
	writeJSON(w, status, messageBody{err.Error()})
}

type courseRequest struct {
	Seed int64      `json:"seed"`
	Spec CourseSpec `json:"spec"`
}

// ctlGenerateCourse answers POST /-/sim/courses {"seed","spec"} with 201
// and the Course (see GenerateCourse; spec.start is RFC 3339). Every call
// makes a new course.
func (s *Sim) ctlGenerateCourse(w http.ResponseWriter, r *http.Request) {
	var req courseRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, s.GenerateCourse(req.Seed, req.Spec))
}

type activityRequest struct {
	Seed int64 `json:"seed"`
	N    int   `json:"n"`
}

// ctlAddActivity answers POST /-/sim/courses/{id}/activity {"seed","n"}
// for a course GenerateCourse made (id is its group ID) with 200 and the
// Activity (see AddActivity), 404 for an unknown course. Each call makes
// new changes.
func (s *Sim) ctlAddActivity(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("course id: want an integer, got %q", r.PathValue("id"))})
		return
	}
	var req activityRequest
	if err := decode(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{err.Error()})
		return
	}
	s.mu.Lock()
	course, ok := s.courses[id]
	s.mu.Unlock()
	if !ok {
		writeControlError(w, fmt.Errorf("course %d: %w", id, errNotFound))
		return
	}
	act, err := s.AddActivity(req.Seed, course, req.N)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, act)
}

// ctlArchiveProject answers POST /-/sim/projects/{id}/archive with 204; it
// is safe to repeat.
func (s *Sim) ctlArchiveProject(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, messageBody{fmt.Sprintf("project id: want an integer, got %q", r.PathValue("id"))})
		return
	}
	if err := s.ArchiveProject(id); err != nil {
		writeControlError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
