package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
	"github.com/gitpulse/gitpulse/shared/tokencheck"
)

// fixture is a synced course behind the API handler, with a reader and an
// admin key and the audit recorded.
type fixture struct {
	sc            *testenv.SyncedCourse
	h             http.Handler
	reader, admin string
	readerHash    string
	auditWriter   *audit.Writer
	logs          *bytes.Buffer
	now           time.Time
	clock         *testenv.Clock
}

func newFixture(t *testing.T, configured ...string) *fixture {
	t.Helper()
	return newFixtureOf(t, sim.CourseSpec{Path: "api/course", Teams: 2, StudentsPerTeam: 3, SoloProjects: 1, Weeks: 3}, configured...)
}

// newFixtureOf is newFixture with the course spec.
func newFixtureOf(t *testing.T, spec sim.CourseSpec, configured ...string) *fixture {
	t.Helper()
	return newFixtureRole(t, spec, testenv.RoleOptions{}, configured...)
}

// newFixtureRole is newFixtureOf with options for the API's role.
func newFixtureRole(t *testing.T, spec sim.CourseSpec, role testenv.RoleOptions, configured ...string) *fixture {
	t.Helper()
	return newFixtureWith(t, spec, role, fixtureOptions{}, configured...)
}

// fixtureOptions are what some tests add to the API: a GitLab sign-in
// (made once the simulator runs) and more keys.
type fixtureOptions struct {
	signIn func(sc *testenv.SyncedCourse, logger *slog.Logger, sink audit.Sink) *api.SignIn
	keys   []apikeys.Key
}

// newFixtureWith is newFixtureRole with the fixture's options.
func newFixtureWith(t *testing.T, spec sim.CourseSpec, role testenv.RoleOptions, opts fixtureOptions, configured ...string) *fixture {
	t.Helper()
	sc := testenv.SyncCourse(t, spec)
	rraw, rk, err := apikeys.Generate("dashboard", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	araw, ak, err := apikeys.Generate("operator", apikeys.RoleAdmin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sc: sc, reader: rraw.Reveal(), admin: araw.Reveal(), readerHash: rk.Hash, logs: &bytes.Buffer{}, now: time.Now(), clock: testenv.NewClock(time.Now())}
	db := dynamodb.NewFromConfig(sc.AWS)
	apiCfg := testenv.FunctionConfig(t, "ApiFunction", sc.Resources, role)
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.auditWriter = &audit.Writer{DB: db, Table: sc.Resources.AuditTable, Logger: logger}
	rec := &audit.Recorder{Sink: f.auditWriter, Function: "api", Now: time.Now}
	var signIn *api.SignIn
	if opts.signIn != nil {
		signIn = opts.signIn(sc, logger, f.auditWriter)
	}
	f.h = api.New(api.Deps{
		Health: &fakeChecker{report: health.Report{Status: health.StatusOK}},
		Keys:   &apikeys.Authenticator{Source: append(apikeys.Static{rk, ak}, opts.keys...)},
		SignIn: signIn,
		// The API runs with its own role (when IAM is enforced); the test
		// reads as the administrator.
		Store: store.Store{DB: dynamodb.NewFromConfig(apiCfg), Table: sc.Resources.DataTable},
		Audit: func(ctx context.Context, q audit.Query) (audit.Page, error) {
			return audit.Find(ctx, db, sc.Resources.AuditTable, q, time.Now())
		},
		Courses: sc.Scheduler, Queue: sqs.NewFromConfig(apiCfg), QueueURL: sc.Resources.SyncQueueURL,
		ConfiguredCourses: configured,
		Logger:            logger,
		Middleware:        []func(http.Handler) http.Handler{rec.Middleware},
		Now:               f.clock.Now,
	})
	t.Cleanup(func() { testenv.AssertNoSecret(t, "the API's logs", f.logs.String(), f.reader, f.admin) })
	return f
}

// do sends a request with key (raw) and returns the answer, checking what
// every answer must hold: JSON (but 204/304), no 5xx, no key in it.
func (f *fixture) do(t *testing.T, key, method, target string, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Errorf("%s %s: got %d %s, want no 5xx", method, target, rec.Code, rec.Body.String())
	}
	if rec.Code != http.StatusNoContent && rec.Code != http.StatusNotModified {
		if !json.Valid(rec.Body.Bytes()) || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: got %q (%s), want a JSON body", method, target, rec.Body.String(), rec.Header().Get("Content-Type"))
		}
	}
	testenv.AssertNoSecret(t, method+" "+target, rec.Body.String()+fmt.Sprint(rec.Header()), f.reader, f.admin)
	return rec
}

func decodeAs[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body.String(), err)
	}
	return v
}

type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// all walks a listing page by page.
func all[T any](t *testing.T, f *fixture, target string, limit int) (items []T, pages int) {
	t.Helper()
	cursor := ""
	for {
		u := target + sep(target) + "limit=" + strconv.Itoa(limit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		rec := f.do(t, f.reader, "GET", u, "")
		if rec.Code != 200 {
			t.Fatalf("GET %s: got %d %s", u, rec.Code, rec.Body.String())
		}
		page := decodeAs[list[T]](t, rec)
		if len(page.Items) > limit {
			t.Fatalf("GET %s: got %d items, want at most %d", u, len(page.Items), limit)
		}
		items = append(items, page.Items...)
		pages++
		if page.NextCursor == "" {
			return items, pages
		}
		if pages > 500 {
			t.Fatalf("GET %s: more than 500 pages", target)
		}
		cursor = page.NextCursor
	}
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

func TestDataAPI(t *testing.T) {
	f := newFixture(t, "api/course")
	cid := f.sc.CourseID
	course := "/api/v1/courses/" + strconv.FormatInt(cid, 10)
	pid := int64(f.sc.Course.ProjectIDs[0])
	project := "/api/v1/projects/" + strconv.FormatInt(pid, 10)

	t.Run("auth", func(t *testing.T) {
		for _, tc := range []struct {
			name, key, method, path string
			want                    int
		}{
			{"no key", "", "GET", "/api/v1/courses", 401},
			{"unknown key", "gpk_not-a-key", "GET", "/api/v1/courses", 401},
			{"reader reads", f.reader, "GET", "/api/v1/courses", 200},
			{"reader on an admin route", f.reader, "GET", "/api/v1/tokens", 403},
			{"reader cannot add", f.reader, "POST", "/api/v1/courses", 403},
			{"admin reads", f.admin, "GET", "/api/v1/tokens", 200},
			{"health is open", "", "GET", "/api/v1/health", 200},
			{"openapi is open", "", "GET", "/api/v1/openapi.json", 200},
		} {
			rec := f.do(t, tc.key, tc.method, tc.path, "")
			if rec.Code != tc.want {
				t.Errorf("%s: got %d %s, want %d", tc.name, rec.Code, rec.Body.String(), tc.want)
			}
		}
		// Missing and unknown keys get the same answer: it tells nothing.
		a, b := f.do(t, "", "GET", "/api/v1/courses", ""), f.do(t, "gpk_x", "GET", "/api/v1/courses", "")
		if a.Body.String() != b.Body.String() || a.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("got %q and %q (WWW-Authenticate %q), want the same generic 401", a.Body.String(), b.Body.String(), a.Header().Get("WWW-Authenticate"))
		}
		r := f.do(t, "", "GET", "/api/v1/courses", "", "Authorization", "Basic "+f.reader)
		if r.Code != 401 {
			t.Errorf("Basic scheme: got %d, want 401", r.Code)
		}
	})

	t.Run("courses", func(t *testing.T) {
		cs, _ := all[gitpulse.Course](t, f, "/api/v1/courses", 10)
		if len(cs) != 1 || cs[0].ID != cid || cs[0].Path != "api/course" {
			t.Fatalf("got courses %+v, want api/course (%d)", cs, cid)
		}
		rec := f.do(t, f.reader, "GET", course, "")
		v := decodeAs[api.CourseView](t, rec)
		if rec.Code != 200 || v.Course.ID != cid || v.Sync.LastSuccess == nil || v.UpdatedAt.IsZero() {
			t.Errorf("GET course: got %d %+v, want the course with its last sync", rec.Code, v)
		}
	})

	t.Run("teams", func(t *testing.T) {
		teams, pages := all[api.TeamView](t, f, course+"/teams", 1)
		if len(teams) != 3 || pages < 3 {
			t.Fatalf("got %d teams in %d pages, want 3 teams one per page", len(teams), pages)
		}
		projects := map[int64]bool{}
		for _, tm := range teams {
			if len(tm.Projects) != 1 {
				t.Errorf("team %s: got %d projects, want 1", tm.ID, len(tm.Projects))
				continue
			}
			p := tm.Projects[0]
			projects[p.ID] = true
			s := tm.Summary
			if s.Commits != p.Stats.Commits || s.MRsMerged != p.Stats.MRsMerged || s.IssuesClosed != p.Stats.IssuesClosed || s.Members != p.Stats.Members {
				t.Errorf("team %s: summary %+v does not add up its project %+v", tm.ID, s, p.Stats)
			}
			if s.Members < 3 || s.Commits == 0 || s.LastActivity == nil || s.PipelineSuccessRate == nil {
				t.Errorf("team %s: got summary %+v, want at least the 3 students, commits, activity and a success rate", tm.ID, s)
			}
			if s.Commits7d > s.Commits {
				t.Errorf("team %s: %d commits in 7 days of %d", tm.ID, s.Commits7d, s.Commits)
			}
		}
		if len(projects) != len(f.sc.Course.ProjectIDs) {
			t.Errorf("got projects %v, want all %d", projects, len(f.sc.Course.ProjectIDs))
		}
		// Every member is inactive over a 1-day window that ended before
		// the activity? No: activity ended an hour ago, so a 1-day window
		// finds the quiet ones only; 365 days finds none.
		wide := decodeAs[list[api.TeamView]](t, f.do(t, f.reader, "GET", course+"/teams?inactive_days=365", ""))
		for _, tm := range wide.Items {
			if len(tm.Summary.InactiveMembers) != 0 {
				t.Errorf("team %s: got inactive %+v over 365 days, want none", tm.ID, tm.Summary.InactiveMembers)
			}
		}
	})

	t.Run("students", func(t *testing.T) {
		students, _ := all[api.StudentView](t, f, course+"/students", 2)
		teams := decodeAs[list[api.TeamView]](t, f.do(t, f.reader, "GET", course+"/teams", ""))
		commits := 0
		for _, tm := range teams.Items {
			commits += tm.Summary.Commits
		}
		sum, keys := 0, map[string]bool{}
		for _, s := range students {
			if keys[s.Key] {
				t.Errorf("student %s listed twice", s.Key)
			}
			keys[s.Key] = true
			if len(s.Projects) == 0 || s.UserID == 0 {
				t.Errorf("got student %+v, want a person with a project", s)
			}
			sum += s.Commits
		}
		// The teams' commits are the students', the unresolved
		// identities' and the staff's (the teacher's initial commits).
		ids, _ := all[api.IdentityView](t, f, course+"/identities", 2)
		others := 0
		for _, id := range ids {
			others += id.Commits
		}
		for _, pid := range f.sc.Course.ProjectIDs {
			for _, c := range f.sc.Sim.AllCommits(pid) {
				if c.AuthorID == f.sc.Course.TeacherID && len(c.ParentIDs) < 2 {
					others++
				}
			}
		}
		if len(students) != 9 || sum+others != commits {
			t.Errorf("got %d students with %d commits (%d of others), want 9 with the teams' %d", len(students), sum, others, commits)
		}
	})

	t.Run("commits newest first, bounded, filtered, paged", func(t *testing.T) {
		var stored []gitpulse.Commit
		stored, err := store.All[gitpulse.Commit](context.Background(), f.sc.Store, store.ProjectPK(pid), "COMMIT#")
		if err != nil {
			t.Fatal(err)
		}
		got, pages := all[gitpulse.Commit](t, f, project+"/commits", 7)
		if len(got) != len(stored) || pages < 2 {
			t.Fatalf("got %d commits in %d pages, want all %d", len(got), pages, len(stored))
		}
		if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].AuthoredAt.After(got[j].AuthoredAt) }) {
			t.Error("commits are not newest first")
		}
		mid := got[len(got)/2].AuthoredAt
		since := mid.Add(-48 * time.Hour)
		bounded, _ := all[gitpulse.Commit](t, f, project+"/commits?since="+since.Format(time.RFC3339)+"&until="+mid.Format(time.RFC3339Nano), 100)
		want := 0
		for _, c := range stored {
			if !c.AuthoredAt.Before(since) && !c.AuthoredAt.After(mid) {
				want++
			}
		}
		if len(bounded) != want || want == 0 {
			t.Errorf("since/until: got %d commits, want %d", len(bounded), want)
		}
		// until before since is an empty range (200, no items), as GitLab's
		// own list filters answer it: not an error the document cannot state.
		if inverted, _ := all[gitpulse.Commit](t, f, project+"/commits?since="+mid.Format(time.RFC3339Nano)+"&until="+since.Format(time.RFC3339), 100); len(inverted) != 0 {
			t.Errorf("until before since: got %d commits, want none", len(inverted))
		}
		author := got[0].AuthorEmail
		mine, _ := all[gitpulse.Commit](t, f, project+"/commits?author="+url.QueryEscape(author), 100)
		for _, c := range mine {
			if c.AuthorEmail != author {
				t.Errorf("author filter: got a commit by %s", c.AuthorEmail)
			}
		}
		if len(mine) == 0 {
			t.Error("author filter: got no commits")
		}
		if !strings.HasSuffix(string(must(json.Marshal(got[0].AuthoredAt))), `Z"`) {
			t.Errorf("got time %s, want UTC", got[0].AuthoredAt)
		}
	})

	t.Run("merge requests, issues, pipelines, members, contributors", func(t *testing.T) {
		mrs, _ := all[gitpulse.MergeRequest](t, f, project+"/merge_requests?state=merged", 100)
		for _, m := range mrs {
			if m.State != "merged" {
				t.Errorf("state=merged: got %s", m.State)
			}
		}
		issues, _ := all[gitpulse.Issue](t, f, project+"/issues", 100)
		pipes, _ := all[gitpulse.Pipeline](t, f, project+"/pipelines?status=success", 100)
		for _, p := range pipes {
			if p.Status != "success" {
				t.Errorf("status=success: got %s", p.Status)
			}
		}
		members, _ := all[gitpulse.Member](t, f, project+"/members", 100)
		contributors, _ := all[gpsync.PersonStats](t, f, project+"/contributors", 100)
		info := decodeAs[gpsync.ProjectInfo](t, f.do(t, f.reader, "GET", project, ""))
		if len(issues) != info.Stats.IssuesOpen+info.Stats.IssuesClosed || len(mrs) != info.Stats.MRsMerged || len(members) == 0 || len(pipes) == 0 {
			t.Errorf("got %d issues, %d merged MRs, %d members, %d pipelines; project stats %+v", len(issues), len(mrs), len(members), len(pipes), info.Stats)
		}
		commits := 0
		for _, c := range contributors {
			if c.Bot {
				t.Errorf("contributors: got bot %s", c.Username)
			}
			commits += c.Commits
		}
		if commits != info.Stats.Commits {
			t.Errorf("contributors: got %d commits, want the project's %d", commits, info.Stats.Commits)
		}
	})

	t.Run("conditional requests", func(t *testing.T) {
		for _, path := range []string{course + "/teams", project + "/commits?limit=5", project} {
			first := f.do(t, f.reader, "GET", path, "")
			etag, lm := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
			if etag == "" || lm == "" {
				t.Fatalf("%s: got ETag %q Last-Modified %q, want both", path, etag, lm)
			}
			if again := f.do(t, f.reader, "GET", path, "", "If-None-Match", etag); again.Code != 304 || again.Body.Len() != 0 {
				t.Errorf("%s If-None-Match: got %d %q, want 304 and no body", path, again.Code, again.Body.String())
			}
			if again := f.do(t, f.reader, "GET", path, "", "If-Modified-Since", lm); (again.Code == 304) != !strings.Contains(path, "/teams") {
				t.Errorf("%s If-Modified-Since: got %d, want 304 (200 for teams: their figures follow the day)", path, again.Code)
			}
			if other := f.do(t, f.reader, "GET", path, "", "If-None-Match", `W/"other"`); other.Code != 200 {
				t.Errorf("%s stale ETag: got %d, want 200", path, other.Code)
			}
		}
	})

	t.Run("teams revalidate by day", func(t *testing.T) {
		etag := f.do(t, f.reader, "GET", course+"/teams", "").Header().Get("ETag")
		f.clock.Add(24 * time.Hour)
		defer f.clock.Add(-24 * time.Hour)
		next := f.do(t, f.reader, "GET", course+"/teams", "", "If-None-Match", etag)
		if next.Code != 200 || next.Header().Get("ETag") == etag {
			t.Errorf("a day later: got %d with ETag %s, want 200 with a new ETag (7-day figures moved)", next.Code, next.Header().Get("ETag"))
		}
	})

	t.Run("errors carry no validators", func(t *testing.T) {
		rec := f.do(t, f.reader, "GET", project+"/commits?cursor=garbage", "")
		if rec.Code != 400 || rec.Header().Get("ETag") != "" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("got %d ETag %q Cache-Control %q, want 400 without validators", rec.Code, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
		}
	})

	t.Run("bad input", func(t *testing.T) {
		teams := decodeAs[list[api.TeamView]](t, f.do(t, f.reader, "GET", course+"/teams?limit=1", ""))
		for _, tc := range []struct {
			method, path, body string
			want               int
			mention            string
		}{
			{"GET", "/api/v1/courses/abc", "", 400, "id"},
			{"GET", "/api/v1/courses/-4", "", 400, "id"},
			{"GET", "/api/v1/courses/99999999999999999999", "", 400, "id"},
			{"GET", "/api/v1/courses/424242", "", 404, "course 424242"},
			{"GET", "/api/v1/projects/424242/commits", "", 404, "project 424242"},
			{"GET", project + "/commits?limit=0", "", 400, "limit"},
			{"GET", project + "/commits?limit=101", "", 400, "limit"},
			{"GET", project + "/commits?limit=ten", "", 400, "limit"},
			{"GET", project + "/commits?since=yesterday", "", 400, "since"},
			{"GET", project + "/commits?sinse=2026-01-01", "", 400, "sinse"},
			{"GET", project + "/commits?until=", "", 400, "until: empty"},
			{"GET", "/api/v1/courses?limit=&limit=5", "", 400, "limit: given 2 times"},
			{"GET", project + "/commits?cursor=garbage", "", 400, "cursor"},
			{"GET", course + "/students?cursor=" + url.QueryEscape(teams.NextCursor), "", 400, "cursor"},
			{"GET", project + "/merge_requests?state=done", "", 400, "state"},
			{"GET", "/api/v1/audit", "", 400, "token_hash"},
			{"GET", "/api/v1/audit?token_hash=sha256:xyz", "", 400, "token_hash"},
			{"GET", "/api/v1/nope", "", 404, "no route"},
			{"PUT", course, "", 405, "PUT"},
			{"POST", "/api/v1/courses", "not json", 400, "body"},
			{"POST", "/api/v1/courses", `{"group": "x", "extra": 1}`, 400, "extra"},
			{"POST", "/api/v1/courses", `{}`, 400, "group"},
			{"POST", "/api/v1/courses", `null`, 400, "must be a JSON object, got null"},
			{"POST", "/api/v1/courses", `[{"group": 1}]`, 400, "must be a JSON object"},
			{"POST", "/api/v1/courses", `{"group": 1} {}`, 400, "more than one JSON value"},
			{"POST", course + "/hooks", `null`, 400, "must be a JSON object"},
			{"POST", course + "/hooks", `{"url": "\u008e"}`, 400, "url: must be an http(s) URL"},
			{"POST", course + "/hooks", `{"url": ""}`, 400, "url: must be an http(s) URL"},
			{"POST", "/api/v1/courses", `{"group": "../etc"}`, 400, "group"},
			{"POST", "/api/v1/courses", `{"group": "` + strings.Repeat("a", 20000) + `"}`, 413, "body"},
		} {
			rec := f.do(t, f.admin, tc.method, tc.path, tc.body)
			eb := decodeAs[api.ErrorBody](t, rec)
			if rec.Code != tc.want || eb.Code == "" || !strings.Contains(eb.Message, tc.mention) {
				t.Errorf("%s %s: got %d %+v, want %d mentioning %q", tc.method, clipped(tc.path), rec.Code, eb, tc.want, tc.mention)
			}
		}
	})

	t.Run("sync status", func(t *testing.T) {
		st := decodeAs[list[api.CourseSync]](t, f.do(t, f.reader, "GET", "/api/v1/sync/status", ""))
		if len(st.Items) != 1 || len(st.Items[0].Projects) != len(f.sc.Course.ProjectIDs) {
			t.Fatalf("got %+v, want the course with its %d projects", st, len(f.sc.Course.ProjectIDs))
		}
		for _, p := range st.Items[0].Projects {
			if p.LastSuccess == nil || p.LagSeconds == nil || *p.LagSeconds < 0 || p.LastError != "" {
				t.Errorf("project %d: got %+v, want a success and its lag", p.ProjectID, p)
			}
		}
	})

	t.Run("tokens", func(t *testing.T) {
		report, _ := json.Marshal(tokencheck.TokenSummary{Name: "primary", Hash: "sha256:" + strings.Repeat("ab", 32), Kind: gitpulse.KindGroup, Scopes: []string{"read_api"}, CheckedAt: f.now})
		if err := f.sc.Store.Put(context.Background(), store.Item{PK: "TOKENS", SK: "TOKEN#primary", Kind: "token_report",
			Value: tokencheck.Stored{Name: "primary", CheckedAt: f.now, Report: string(report)}}); err != nil {
			t.Fatal(err)
		}
		old, _ := json.Marshal(tokencheck.TokenSummary{Name: "retired", CheckedAt: f.now.Add(-48 * time.Hour)})
		for _, it := range []store.Item{
			{PK: "TOKENS", SK: "TOKEN#retired", Kind: "token_report", Value: tokencheck.Stored{Name: "retired", CheckedAt: f.now.Add(-48 * time.Hour), Report: string(old)}},
			{PK: "TOKENS", SK: "RUN", Kind: "token_check_run", Value: tokencheck.Run{CheckedAt: f.now}},
		} {
			if err := f.sc.Store.Put(context.Background(), it); err != nil {
				t.Fatal(err)
			}
		}
		// One per page: staleness does not depend on what else the page holds.
		page := decodeAs[list[api.TokenView]](t, f.do(t, f.admin, "GET", "/api/v1/tokens?limit=1", ""))
		next := decodeAs[list[api.TokenView]](t, f.do(t, f.admin, "GET", "/api/v1/tokens?limit=1&cursor="+url.QueryEscape(page.NextCursor), ""))
		if len(page.Items) != 1 || page.Items[0].Name != "primary" || page.Items[0].Kind != gitpulse.KindGroup || page.Items[0].Stale {
			t.Errorf("got %+v, want the primary token's current report", page)
		}
		if len(next.Items) != 1 || next.Items[0].Name != "retired" || !next.Items[0].Stale {
			t.Errorf("got %+v, want the retired token's report, stale", next)
		}
	})

	t.Run("admin: add, sync now, delete", func(t *testing.T) {
		second := f.sc.Sim.GenerateCourse(11, sim.CourseSpec{Path: "api/second", Teams: 2, StudentsPerTeam: 2, Weeks: 1})
		if err := f.sc.Sim.AddMember("group", second.GroupID, f.sc.Course.TeacherID, 50); err != nil {
			t.Fatal(err)
		}
		rec := f.do(t, f.admin, "POST", "/api/v1/courses", `{"group": "http://gitlab.example/api/second/-/issues"}`, "Content-Type", "application/json")
		added := decodeAs[api.AddedCourse](t, rec)
		if rec.Code != 201 || added.Course.ID != int64(second.GroupID) || len(added.Teams) != 2 || !added.SyncQueued || rec.Header().Get("Location") == "" {
			t.Fatalf("POST courses: got %d %s, want 201 with 2 teams and a sync queued", rec.Code, rec.Body.String())
		}
		if again := f.do(t, f.admin, "POST", "/api/v1/courses", `{"group": `+strconv.Itoa(second.GroupID)+`}`); again.Code != 409 {
			t.Errorf("POST the same course: got %d, want 409", again.Code)
		}
		if missing := f.do(t, f.admin, "POST", "/api/v1/courses", `{"group": "no/such/group"}`); missing.Code != 404 {
			t.Errorf("POST an unknown group: got %d, want 404", missing.Code)
		}
		f.sc.Drain(t) // the plan task: the worker schedules the course, then syncs its projects
		secondPath := "/api/v1/courses/" + strconv.Itoa(second.GroupID)
		teams := decodeAs[list[api.TeamView]](t, f.do(t, f.reader, "GET", secondPath+"/teams", ""))
		if len(teams.Items) != 2 || len(teams.Items[0].Projects) == 0 {
			t.Errorf("after the queued sync: got teams %+v, want 2 with projects", teams.Items)
		}
		if rec := f.do(t, f.admin, "POST", secondPath+"/sync", ""); rec.Code != 202 {
			t.Errorf("POST sync: got %d %s, want 202", rec.Code, rec.Body.String())
		}
		f.sc.Drain(t)
		if rec := f.do(t, f.admin, "DELETE", course, ""); rec.Code != 409 {
			t.Errorf("DELETE a configured course: got %d, want 409", rec.Code)
		}
		if rec := f.do(t, f.admin, "DELETE", secondPath, ""); rec.Code != 204 {
			t.Errorf("DELETE: got %d %s, want 204", rec.Code, rec.Body.String())
		}
		if rec := f.do(t, f.reader, "GET", secondPath, ""); rec.Code != 404 {
			t.Errorf("GET a deleted course: got %d, want 404", rec.Code)
		}
		// A sync asked for before the delete finds no course: the task is
		// done, not retried into the dead-letter queue (Drain fails on a
		// reported failure).
		body, _ := json.Marshal(gpsync.Task{CourseID: int64(second.GroupID), Plan: true, ScheduledAt: time.Now()})
		if _, err := sqs.NewFromConfig(f.sc.AWS).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(f.sc.Resources.SyncQueueURL), MessageBody: aws.String(string(body))}); err != nil {
			t.Fatal(err)
		}
		f.sc.Drain(t)
	})

	t.Run("every authenticated call is audited by key hash", func(t *testing.T) {
		if rec := f.do(t, "", "GET", "/api/v1/projects/999999", "", "Authorization", "bearer  "+f.reader); rec.Code != 404 {
			t.Errorf("lowercase bearer: got %d, want 404 (authenticated)", rec.Code)
		}
		if _, err := f.auditWriter.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		page := decodeAs[audit.Page](t, f.do(t, f.admin, "GET", "/api/v1/audit?limit=100&token_hash="+f.readerHash, ""))
		if len(page.Items) < 20 {
			t.Fatalf("got %d audit items for the reader key, want every call", len(page.Items))
		}
		statuses := map[int]int{}
		for _, e := range page.Items {
			statuses[e.ResponseStatus]++
			if e.TokenHash != f.readerHash || e.Direction != audit.DirectionAPI {
				t.Errorf("got audit item %+v", e)
			}
		}
		lower := false
		for _, e := range page.Items {
			lower = lower || (e.Endpoint == "/api/v1/projects/999999" && e.ResponseStatus == 404)
		}
		if !lower {
			t.Error("a call with the scheme spelled \"bearer\" authenticated but left no audit item")
		}
		if statuses[200] == 0 || statuses[403] == 0 {
			t.Errorf("got statuses %v, want the 200s and the 403s", statuses)
		}
		testenv.AssertNoSecret(t, "audit items", fmt.Sprint(page), f.reader, f.admin)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func clipped(s string) string { return s[:min(len(s), 80)] }
