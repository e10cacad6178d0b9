// Package api is GitPulse's HTTP API as a plain net/http handler. Only
// functions/api/main.go knows it runs behind API Gateway; tests and the
// local runner serve it directly.
//
// Every route except health, sign-in and the OpenAPI document needs an
// API key (Authorization: Bearer <key>) or a GitLab sign-in (the session
// cookie, see signin.go); admin routes need a key with the admin role or
// a Maintainer of the course. What each caller may see is access.go's. Data routes answer from what sync stored, never by asking GitLab:
// a list page is one DynamoDB Query, statistics come from the aggregates
// sync keeps, and every data answer carries an ETag and Last-Modified from
// the last sync so that a dashboard polling every minute mostly gets 304.
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
	"github.com/gitpulse/gitpulse/shared/redact"
	"github.com/gitpulse/gitpulse/shared/store"
)

// HealthChecker runs the dependency checks behind GET /api/v1/health.
type HealthChecker interface {
	Check(ctx context.Context) health.Report
}

// Authenticator checks an Authorization header and returns the key's
// name and role.
type Authenticator interface {
	Authenticate(ctx context.Context, header string) (apikeys.Key, error)
}

// Courses adds a course: it resolves the group on GitLab (the only GitLab
// call the API makes) and records the course and its teams.
type Courses interface {
	Add(ctx context.Context, ref string) (gitpulse.Course, []gitpulse.Team, error)
}

// Sender queues sync work.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Deps are what the API needs.
type Deps struct {
	Health HealthChecker
	Keys   Authenticator
	// Store is the data table.
	Store store.Store
	// Audit reads the audit table (GET /api/v1/audit).
	Audit func(ctx context.Context, q audit.Query) (audit.Page, error)
	// Courses and Queue serve the admin course routes.
	Courses  Courses
	Queue    Sender
	QueueURL string
	// ConfiguredCourses are the course refs of GITPULSE_COURSES: deleting
	// one of these through the API would not last.
	ConfiguredCourses []string
	// HookAudit records the webhook calls; Hooks registers a course's
	// project hooks on GitLab (POST /api/v1/courses/{id}/hooks).
	HookAudit HookAuditor
	Hooks     HookRegistrar
	// InactiveDays is the default window of the teams listing's "members
	// with no activity" (default 14).
	InactiveDays int
	// SignIn configures signing in with GitLab (nil: API keys only).
	SignIn *SignIn
	Logger *slog.Logger
	// Middleware wraps every request, outermost first (the audit hook
	// goes here).
	Middleware []func(http.Handler) http.Handler
	Now        func() time.Time
}

// Server is the API's http.Handler.
type Server struct {
	deps    Deps
	mux     *http.ServeMux
	routes  []Route
	handler http.Handler
}

// New returns the API handler.
func New(deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.InactiveDays <= 0 {
		deps.InactiveDays = 14
	}
	s := &Server{deps: deps, mux: http.NewServeMux()}
	for _, rt := range s.table() {
		s.routes = append(s.routes, rt)
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.serve(rt))
	}
	var h http.Handler = withDashboard(http.HandlerFunc(s.route), deps.SignIn != nil)
	for i := len(deps.Middleware) - 1; i >= 0; i-- {
		h = deps.Middleware[i](h)
	}
	s.handler = s.logRequests(h)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes lists the routes the handler serves (the OpenAPI document is
// tested against it).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// route dispatches to the mux, answering unknown routes and wrong methods
// with JSON errors instead of the mux's plain text.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	// The mux answers a path that is not canonical ("//", "/x/..") with a
	// redirect and an HTML body; no route here has such a path.
	if p := r.URL.EscapedPath(); p != canonical(p) {
		s.fail(w, r, noRoute(r))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r) // the mux sets the path values
		return
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		for _, m := range allowed {
			w.Header().Add("Allow", m)
		}
		s.fail(w, r, gitpulse.Errorf(gitpulse.EMETHOD, "method %s is not allowed on %s", redact.Echo(r.Method), redact.Echo(r.URL.Path)))
		return
	}
	s.fail(w, r, noRoute(r))
}

// noRoute is the 404 of a path no route serves; it points at the API
// document, the list of the routes that exist.
func noRoute(r *http.Request) error {
	return gitpulse.Errorf(gitpulse.ENOTFOUND, "no route for %s %s; GET %s lists every route", redact.Echo(r.Method), redact.Echo(r.URL.Path), OpenAPIPath)
}

// canonical is p as the mux cleans it: no "//", "." or ".." segments,
// a trailing slash kept.
func canonical(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// health answers 200 unless GitPulse cannot serve (a table unreachable,
// or no configured token able to serve reads): then 503 naming the failing
// checks. A degraded check (GitLab throttling, a rotation under way, one
// token of several broken) is still 200. Without a key it shows the
// public report (no resource names, expiry or error text); with an admin
// key the whole report; a key that does not authenticate is a 401, as on
// every route.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	full := false
	if r.Header.Get("Authorization") != "" {
		key, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.key = key.Name
		}
		full = apikeys.Require(key, apikeys.RoleAdmin) == nil
	}
	report := s.deps.Health.Check(r.Context())
	status := http.StatusOK
	if report.Status == health.StatusFail {
		status = http.StatusServiceUnavailable
		s.deps.Logger.WarnContext(r.Context(), "health check failed", "failing", report.Failing(), "reason", report.Summary())
	} else if report.Status == health.StatusDegraded {
		s.deps.Logger.InfoContext(r.Context(), "health degraded", "checks", report.Failing(), "reason", report.Summary())
	}
	var checks any
	message := ""
	if full {
		checks, message = report.Checks, report.Summary()
	} else {
		pub := report.Public()
		checks = pub.Checks
		var parts []string
		for name, c := range pub.Checks {
			if c.Status != health.StatusOK {
				parts = append(parts, name+": "+c.Reason)
			}
		}
		sort.Strings(parts)
		message = strings.Join(parts, "; ")
	}
	body := healthBody{Status: report.Status, Checks: checks}
	if status != http.StatusOK {
		w.Header().Set("Retry-After", "30")
		body.Code, body.Message = gitpulse.EUNAVAILABLE, "GitPulse cannot serve: "+message
	}
	writeJSON(w, status, body)
	return nil
}

// healthBody is the health answer: the report (public or full) and, on a
// 503, the error fields.
type healthBody struct {
	Status  string `json:"status"`
	Checks  any    `json:"checks"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// live answers 200 without touching any dependency.
func (s *Server) live(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": health.StatusOK})
	return nil
}

// writeJSON writes v with status; answers are not cached unless the
// handler set its own Cache-Control.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// "<" in a message stays "<", not \u003c: answers are read in
	// terminals, and Content-Type keeps browsers from sniffing HTML.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// requestInfo is what the request log learns from inside the handler.
type requestInfo struct{ key string }

type requestInfoKey struct{}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.deps.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		next.ServeHTTP(rec, r)
		attrs := []any{"method", redact.Echo(r.Method), "path", redact.Path(r.URL), "status", rec.status,
			"duration_ms", s.deps.Now().Sub(start).Milliseconds()}
		if info.key != "" {
			attrs = append(attrs, "key", info.key)
		}
		s.deps.Logger.InfoContext(r.Context(), "request", attrs...)
	})
}
