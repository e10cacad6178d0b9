// Who may see what. An API key without courses sees every course, as
// before sign-in existed; a key with courses sees those only. A user
// signed in with GitLab sees a course when the memberships sync stored say
// they are staff of its group: Reporter (20) or higher to read, Maintainer
// (40) or higher for the course's admin routes. Admin routes of no course
// (adding a course, tokens, the audit) need an admin API key.

package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// caller is who sent a request: an API key, or a signed-in user (then key
// is the user as a key: name "@username", for the handlers that record
// who did something).
type caller struct {
	key  apikeys.Key
	user *Session
}

type callerKey struct{}

func callerFrom(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// authenticateCaller authenticates r by its Authorization header (an API
// key, which needs no CSRF token) or else by the session cookie (which
// does, on every method but GET and HEAD).
func (s *Server) authenticateCaller(r *http.Request) (caller, error) {
	if r.Header.Get("Authorization") != "" || s.deps.SignIn == nil {
		key, err := s.authenticate(r)
		return caller{key: key}, err
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		key, err := s.authenticate(r) // the API key's 401
		return caller{key: key}, err
	}
	si, err := s.signInConfigured()
	if err != nil {
		return caller{}, err
	}
	sg := signer{si.SessionKey}
	var sess Session
	if !sg.open("session", c.Value, &sess) || sess.UserID() == 0 {
		return caller{}, gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "the session cookie is not valid: %s", restart)
	}
	if s.deps.Now().Unix() >= sess.ExpiresAt {
		return caller{}, gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "the session ended (it lasts as long as GitLab's access token): %s", restart)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sg.csrf(c.Value))) != 1 {
			return caller{}, gitpulse.Errorf(gitpulse.EFORBIDDEN, "a %s signed in by cookie needs the %s header (the value of the %s cookie or of csrf_token in GET %s)", redact.Echo(r.Method), CSRFHeader, CSRFCookie, MePath)
		}
	}
	return caller{user: &sess, key: apikeys.Key{Name: "@" + cmpOr(sess.Username, sess.Subject), Role: apikeys.RoleReader}}, nil
}

// staffLevel is userID's access level on the course group, from the
// memberships sync stored (0 when not a member or never synced).
func (s *Server) staffLevel(ctx context.Context, courseID, userID int64) (int, error) {
	var st gpsync.Staff
	if err := s.deps.Store.Get(ctx, store.CoursePK(courseID), gpsync.StaffSK, &st); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil
		}
		return 0, err
	}
	return st.Level(userID), nil
}

// CourseAccess is a course a caller may see and whether they may
// administer it.
type CourseAccess struct {
	Course gitpulse.Course `json:"course"`
	Admin  bool            `json:"admin"`
}

// visibleCourses is every course c may see, in the order of the courses
// listing; all is true for an API key without courses (every course,
// listed as before).
func (s *Server) visibleCourses(ctx context.Context, c caller) (out []CourseAccess, all bool, err error) {
	if c.user == nil && len(c.key.Courses) == 0 {
		return nil, true, nil
	}
	courses, err := store.All[gitpulse.Course](ctx, s.deps.Store, "COURSES", "COURSE#")
	if err != nil {
		return nil, false, err
	}
	for _, course := range courses {
		if c.user == nil {
			if slices.Contains(c.key.Courses, course.ID) {
				out = append(out, CourseAccess{Course: course, Admin: c.key.Role == apikeys.RoleAdmin})
			}
			continue
		}
		level, err := s.staffLevel(ctx, course.ID, c.user.UserID())
		if err != nil {
			return nil, false, err
		}
		if level >= gpsync.AccessReporter {
			out = append(out, CourseAccess{Course: course, Admin: level >= gpsync.AccessMaintainer})
		}
	}
	return out, false, nil
}

// notStaff is the 403 of a signed-in user who is staff of no course.
func notStaff(sess *Session) error {
	return gitpulse.Errorf(gitpulse.EFORBIDDEN, "signed in as @%s, who is not staff of any course GitPulse syncs (Reporter or higher on the course's GitLab group); students see nothing here", redact.Echo(cmpOr(sess.Username, sess.Subject)))
}

// routeCourse is the course a route's request is about: the {id} of a
// course route, the course of a project route's project, the course
// parameter of the sync status; ok is false for routes of no course.
func (s *Server) routeCourse(r *http.Request, rt Route) (id int64, ok bool, err error) {
	switch {
	case strings.HasPrefix(rt.Pattern, "/api/v1/courses/{id}"):
		id, err := pathID(r, "id")
		return id, true, err
	case strings.HasPrefix(rt.Pattern, "/api/v1/projects/{id}"):
		_, info, err := s.project(r)
		return info.Project.CourseID, true, err
	case rt.Pattern == "/api/v1/sync/status":
		raw := r.URL.Query().Get("course")
		if raw == "" {
			return 0, false, nil
		}
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return 0, false, nil // the handler's 400
		}
		return id, true, nil
	}
	return 0, false, nil
}

// authorize checks that c may call rt for r: the role and, for a key with
// courses or a signed-in user, the course. It returns c as the handlers
// see it (a signed-in Maintainer of the course gets the admin role).
func (s *Server) authorize(r *http.Request, rt Route, c caller) (caller, error) {
	if c.user == nil && len(c.key.Courses) == 0 {
		return c, apikeys.Require(c.key, rt.Role)
	}
	courseID, ok, err := s.routeCourse(r, rt)
	if err != nil {
		return c, err
	}
	if !ok {
		switch {
		case rt.Pattern == LogoutPath:
			return c, nil
		case rt.Pattern == "/api/v1/courses" && rt.Method == http.MethodGet:
			if c.user != nil {
				return c, s.requireSomeCourse(r.Context(), c)
			}
			return c, apikeys.Require(c.key, rt.Role)
		case rt.Pattern == "/api/v1/sync/status":
			return c, gitpulse.Errorf(gitpulse.EFORBIDDEN, "the sync status of every course needs an API key for every course; give course=<id> for one of yours")
		case c.user != nil:
			return c, gitpulse.Errorf(gitpulse.EFORBIDDEN, "%s %s needs an admin API key; signing in with GitLab gives access to your courses' routes only", rt.Method, rt.Pattern)
		default:
			return c, gitpulse.Errorf(gitpulse.EFORBIDDEN, "key '%s' is limited to courses %s; %s %s is not a route of one course", c.key.Name, courseList(c.key.Courses), rt.Method, rt.Pattern)
		}
	}
	if c.user == nil {
		if !slices.Contains(c.key.Courses, courseID) {
			return c, gitpulse.Errorf(gitpulse.EFORBIDDEN, "key '%s' is limited to courses %s, not course %d", c.key.Name, courseList(c.key.Courses), courseID)
		}
		return c, apikeys.Require(c.key, rt.Role)
	}
	level, err := s.staffLevel(r.Context(), courseID, c.user.UserID())
	if err != nil {
		return c, err
	}
	if level < gpsync.AccessReporter {
		if err := s.requireSomeCourse(r.Context(), c); err != nil {
			return c, err
		}
		return c, gitpulse.Errorf(gitpulse.EFORBIDDEN, "signed in as @%s, who is not staff of course %d on GitLab", redact.Echo(c.user.Username), courseID)
	}
	if level >= gpsync.AccessMaintainer {
		c.key.Role = apikeys.RoleAdmin
	}
	if rt.Role == apikeys.RoleAdmin && level < gpsync.AccessMaintainer {
		return c, gitpulse.Errorf(gitpulse.EFORBIDDEN, "%s %s needs Maintainer or Owner on course %d's GitLab group; @%s has a lower role", rt.Method, rt.Pattern, courseID, redact.Echo(c.user.Username))
	}
	return c, nil
}

// requireSomeCourse is the clear 403 of a signed-in user who is staff of
// no course.
func (s *Server) requireSomeCourse(ctx context.Context, c caller) error {
	visible, _, err := s.visibleCourses(ctx, c)
	if err != nil {
		return err
	}
	if len(visible) == 0 {
		return notStaff(c.user)
	}
	return nil
}

func courseList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// MeView is GET /api/v1/auth/me: the signed-in user, the courses they may
// see, and the CSRF token their state-changing requests must send.
type MeView struct {
	UserID    int64          `json:"user_id"`
	Username  string         `json:"username"`
	Name      string         `json:"name"`
	ExpiresAt int64          `json:"expires_at"`
	Courses   []CourseAccess `json:"courses"`
	CSRFToken string         `json:"csrf_token"`
}

// me answers GET /api/v1/auth/me: 401 without a valid session, 403 when
// the user is staff of no course, else who they are and their courses.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	si, err := s.signInConfigured()
	if err != nil {
		return err
	}
	c, err := s.authenticateCaller(r)
	if err != nil {
		return err
	}
	if c.user == nil {
		return gitpulse.Errorf(gitpulse.EUNAUTHORIZED, "not signed in: sign in at %s (an API key has no GitLab user)", LoginPath)
	}
	courses, _, err := s.visibleCourses(r.Context(), c)
	if err != nil {
		return err
	}
	if len(courses) == 0 {
		return notStaff(c.user)
	}
	cookie, _ := r.Cookie(SessionCookie)
	writeJSON(w, http.StatusOK, MeView{UserID: c.user.UserID(), Username: c.user.Username, Name: c.user.Name,
		ExpiresAt: c.user.ExpiresAt, Courses: courses, CSRFToken: signer{si.SessionKey}.csrf(cookie.Value)})
	return nil
}

// visibleCourseList answers the courses listing of a caller limited to
// some courses (one page: a caller sees a handful of courses).
func (s *Server) visibleCourseList(w http.ResponseWriter, r *http.Request, c caller) (bool, error) {
	visible, all, err := s.visibleCourses(r.Context(), c)
	if err != nil || all {
		return false, err
	}
	items := make([]gitpulse.Course, 0, len(visible))
	for _, v := range visible {
		items = append(items, v.Course)
	}
	writeJSON(w, http.StatusOK, listBody[gitpulse.Course]{Items: items})
	return true, nil
}
