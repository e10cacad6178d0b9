package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// Route is one route: method, pattern, the role it needs ("" for open
// routes) and the query parameters it accepts.
type Route struct {
	Method  string
	Pattern string
	Role    apikeys.Role
	Params  []string
	handle  func(w http.ResponseWriter, r *http.Request) error
}

var (
	page      = []string{"limit", "cursor"}
	timeRange = []string{"since", "until"}
)

func params(groups ...[]string) []string { return slices.Concat(groups...) }

// table is every route the API serves.
func (s *Server) table() []Route {
	reader, admin := apikeys.RoleReader, apikeys.RoleAdmin
	return []Route{
		{Method: "GET", Pattern: "/api/v1/health", handle: s.health},
		{Method: "GET", Pattern: "/api/v1/health/live", handle: s.live},
		{Method: "GET", Pattern: OpenAPIPath, handle: s.openapi},

		{Method: "GET", Pattern: "/api/v1/courses", Role: reader, Params: page, handle: byContent(s.listCourses)},
		{Method: "POST", Pattern: "/api/v1/courses", Role: admin, handle: s.addCourse},
		{Method: "GET", Pattern: "/api/v1/courses/{id}", Role: reader, handle: s.getCourse},
		{Method: "DELETE", Pattern: "/api/v1/courses/{id}", Role: admin, handle: s.deleteCourse},
		{Method: "POST", Pattern: "/api/v1/courses/{id}/sync", Role: admin, handle: s.syncCourse},
		{Method: "POST", Pattern: "/api/v1/courses/{id}/hooks", Role: admin, handle: s.registerHooks},
		{Method: "GET", Pattern: "/api/v1/courses/{id}/teams", Role: reader, Params: params(page, []string{"inactive_days"}), handle: s.listTeams},
		{Method: "GET", Pattern: "/api/v1/courses/{id}/students", Role: reader, Params: page, handle: s.listStudents},
		{Method: "GET", Pattern: "/api/v1/courses/{id}/identities", Role: reader, Params: page, handle: s.listIdentities},
		{Method: "POST", Pattern: "/api/v1/courses/{id}/identities", Role: admin, handle: s.mapIdentity},
		{Method: "GET", Pattern: "/api/v1/courses/{id}/teams/{team}/reviews", Role: reader, handle: s.teamReviews},
		{Method: "GET", Pattern: "/api/v1/courses/{id}/teams/{team}/share", Role: reader, handle: s.teamShare},
		{Method: "GET", Pattern: "/api/v1/courses/{id}/teams/{team}/weekly", Role: reader, Params: timeRange, handle: s.teamWeekly},

		{Method: "GET", Pattern: "/api/v1/projects/{id}", Role: reader, handle: s.getProject},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/commits", Role: reader, Params: params(page, timeRange, []string{"author", "branch", "on_default_branch"}), handle: s.listCommits},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/merge_requests", Role: reader, Params: params(page, timeRange, []string{"author", "state"}), handle: s.listMergeRequests},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/issues", Role: reader, Params: params(page, timeRange, []string{"author", "state"}), handle: s.listIssues},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/pipelines", Role: reader, Params: params(page, timeRange, []string{"status", "ref"}), handle: s.listPipelines},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/members", Role: reader, Params: page, handle: s.listMembers},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/contributors", Role: reader, Params: page, handle: s.listContributors},

		{Method: "POST", Pattern: "/api/v1/hooks/gitlab", handle: s.receiveHook},

		{Method: "GET", Pattern: LoginPath, Params: []string{"next"}, handle: s.login},
		{Method: "GET", Pattern: CallbackPath, Params: []string{"code", "state", "error", "error_description"}, handle: s.callback},
		{Method: "POST", Pattern: LogoutPath, Role: reader, handle: s.logout},
		{Method: "GET", Pattern: MePath, handle: s.me},

		{Method: "GET", Pattern: "/api/v1/sync/status", Role: reader, Params: params(page, []string{"course"}), handle: s.syncStatus},
		{Method: "GET", Pattern: "/api/v1/tokens", Role: admin, Params: page, handle: s.listTokens},
		{Method: "GET", Pattern: "/api/v1/audit", Role: admin, Params: params(page, timeRange, []string{"token_hash"}), handle: s.listAudit},
	}
}

// serve runs one route: the query parameters are checked, the key and
// its role (for routes that need one), then the handler; any error
// becomes a JSON error answer.
func (s *Server) serve(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Role != "" {
			c, err := s.authenticateCaller(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if c.user != nil {
				// The audit middleware files requests by their API key; a
				// signed-in user's are filed here, by the subject's hash.
				rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
				w = rec
				defer func() { s.auditSignIn(r, c.user.Subject, rec.status, "session of @"+redact.Echo(c.user.Username)) }()
			}
			if raw, ok := apikeys.Bearer(r.Header.Get("Authorization")); ok {
				redact.Register(raw) // a valid key, whatever its shape, is never echoed
			}
			if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
				info.key = c.key.Name
			}
			if c, err = s.authorize(r, rt, c); err != nil {
				s.fail(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(apikeys.WithKey(r.Context(), c.key), callerKey{}, c))
		}
		for name, values := range r.URL.Query() {
			var err error
			switch {
			case !slices.Contains(rt.Params, name):
				err = unknownParam(name, rt.Params)
			case len(values) > 1:
				err = gitpulse.Errorf(gitpulse.EINVALID, "%s: given %d times; give it once", name, len(values))
			case values[0] == "":
				err = gitpulse.Errorf(gitpulse.EINVALID, "%s: empty; leave it out or give a value", name)
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if err := rt.handle(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

func unknownParam(name string, accepted []string) error {
	if len(accepted) == 0 {
		return gitpulse.Errorf(gitpulse.EINVALID, "unknown query parameter %q: this route takes none", clip(name))
	}
	sorted := slices.Clone(accepted)
	sort.Strings(sorted)
	return gitpulse.Errorf(gitpulse.EINVALID, "unknown query parameter %q: this route accepts %s", clip(name), strings.Join(sorted, ", "))
}

func (s *Server) authenticate(r *http.Request) (apikeys.Key, error) {
	if s.deps.Keys == nil {
		return apikeys.Key{}, gitpulse.Errorf(gitpulse.EUNAUTHORIZED, apikeys.Unauthorized)
	}
	return s.deps.Keys.Authenticate(r.Context(), r.Header.Get("Authorization"))
}

// clip is client text as an error may quote it back: redacted and cut
// short (package redact decides).
func clip(s string) string { return redact.Echo(s) }

// StatusClientClosed is the status logged and audited for a request whose
// client went away before the answer (nginx's 499; nobody receives it).
const StatusClientClosed = 499

// clientGone reports whether err comes from the request's own context
// being cancelled: the client closed the connection.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled)
}

// fail answers with err's status and its client-safe message. An error
// without a code is logged and answered with a generic 500 (or 503 when
// a dependency let the request down); its text never reaches the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r, err) {
		// Nobody waits for this answer: not a fault of GitPulse, so not a
		// 500 in the log, the audit or the request metrics.
		s.deps.Logger.InfoContext(r.Context(), "client gone before the answer", "method", redact.Echo(r.Method), "path", redact.Path(r.URL))
		w.WriteHeader(StatusClientClosed)
		return
	}
	code := gitpulse.ErrorCode(err)
	if code == gitpulse.EINTERNAL || code == gitpulse.EUNAVAILABLE {
		s.deps.Logger.ErrorContext(r.Context(), "request failed", "method", redact.Echo(r.Method), "path", redact.Path(r.URL), "error", redact.String(err.Error()))
	}
	for _, h := range []string{"ETag", "Last-Modified", "Cache-Control"} {
		w.Header().Del(h) // validators describe a data answer, not an error
	}
	var coded *gitpulse.Error
	if !errors.As(err, &coded) && dependencyFailure(err) {
		err = gitpulse.Errorf(gitpulse.EUNAVAILABLE, "a GitPulse dependency did not answer; try again shortly")
		w.Header().Set("Retry-After", "5")
	}
	writeError(w, err)
}
