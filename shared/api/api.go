// Package api is GitPulse's HTTP API as a plain net/http handler. Only
// functions/api/main.go knows it runs behind API Gateway; tests and the
// local runner serve it directly.
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
)

// HealthChecker runs the dependency checks behind GET /api/v1/health.
type HealthChecker interface {
	Check(ctx context.Context) health.Report
}

// Deps are what the API needs.
type Deps struct {
	Health HealthChecker
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
	s := &Server{deps: deps, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/v1/health", s.health)
	s.mux.HandleFunc("GET /api/v1/health/live", s.live)

	var h http.Handler = http.HandlerFunc(s.route)
	for i := len(deps.Middleware) - 1; i >= 0; i-- {
		h = deps.Middleware[i](h)
	}
	s.handler = s.logRequests(h)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route dispatches to the mux, answering unknown routes and wrong methods
// with JSON errors instead of the mux's plain text.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if h, pattern := s.mux.Handler(r); pattern != "" {
		h.ServeHTTP(w, r)
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
		writeError(w, gitpulse.Errorf(gitpulse.EMETHOD, "method %s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeError(w, gitpulse.Errorf(gitpulse.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
}

// health answers 200 with every check when all pass, else 503 naming the
// failing checks.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	report := s.deps.Health.Check(r.Context())
	if report.Status == health.StatusOK {
		writeJSON(w, http.StatusOK, report)
		return
	}
	s.deps.Logger.WarnContext(r.Context(), "health check failed", "failing", report.Failing(), "reason", report.Summary())
	writeJSON(w, http.StatusServiceUnavailable, struct {
		health.Report
		Code    string `json:"code"`
		Message string `json:"message"`
	}{report, gitpulse.EUNAVAILABLE, report.Summary()})
}

// live answers 200 without touching any dependency.
func (s *Server) live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": health.StatusOK})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

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
		next.ServeHTTP(rec, r)
		s.deps.Logger.InfoContext(r.Context(), "request",
			"method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", s.deps.Now().Sub(start).Milliseconds())
	})
}
