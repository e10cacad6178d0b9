package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// signInEnv is a synced course behind the API served over loopback http,
// with the simulator as the GitLab the teachers sign in with, a second
// course (B) whose staff is someone else, and a key limited to course B.
type signInEnv struct {
	f          *fixture
	srv        *httptest.Server
	app        sim.OAuthApp
	sessionKey string
	courseB    int64
	scoped     string
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newSignInEnv(t *testing.T) *signInEnv {
	t.Helper()
	e := &signInEnv{sessionKey: randomKey(t), courseB: 990001}
	scopedRaw, scopedKey, err := apikeys.Generate("course-b", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	scopedKey.Courses = []int64{e.courseB}
	e.scoped = scopedRaw.Reveal()
	var si *api.SignIn
	e.f = newFixtureWith(t, sim.CourseSpec{Path: "api/signin", Teams: 2, StudentsPerTeam: 2, Weeks: 1}, testenv.RoleOptions{}, fixtureOptions{
		keys: []apikeys.Key{scopedKey},
		signIn: func(sc *testenv.SyncedCourse, _ *slog.Logger, sink audit.Sink) *api.SignIn {
			si = &api.SignIn{Issuer: sc.SimURL, SessionKey: gitpulse.NewSecret(e.sessionKey), Audit: sink}
			return si
		},
	})
	e.srv = httptest.NewServer(e.f.h)
	t.Cleanup(e.srv.Close)
	app, err := e.f.sc.Sim.AddOAuthApp(sim.OAuthApp{Name: "GitPulse", RedirectURIs: []string{e.srv.URL + api.CallbackPath}, Scopes: []string{"openid"}, Confidential: true})
	if err != nil {
		t.Fatalf("AddOAuthApp: %v", err)
	}
	e.app = app
	si.ClientID, si.ClientSecret = app.UID, gitpulse.NewSecret(app.Secret)

	// Course B: another course whose only staff is a user of no sign-in here.
	ctx := context.Background()
	if err := e.f.sc.Store.Put(ctx, store.Item{PK: "COURSES", SK: store.CourseSK(e.courseB), Kind: "course",
		Value: gitpulse.Course{ID: e.courseB, Path: "other/course", Name: "Other", Source: "api", AddedAt: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	if err := e.f.sc.Store.Put(ctx, store.Item{PK: store.CoursePK(e.courseB), SK: gpsync.StaffSK, Kind: "staff",
		Value: gpsync.Staff{UserIDs: []int64{424242}, Access: []gpsync.StaffAccess{{UserID: 424242, Level: 50}}, CheckedAt: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		testenv.AssertNoSecret(t, "the API's logs", e.f.logs.String(), app.Secret, e.sessionKey)
	})
	return e
}

// browser is an HTTP client that keeps cookies and follows redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

var (
	formRE   = regexp.MustCompile(`(?s)<form method="post" action="/oauth/authorize">(.*?)</form>`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// signIn signs in as user through the simulator's sign-in page: GET the
// login route (redirected to the page), then submit the form of user, as
// a browser would; it returns the last answer and its body.
func (e *signInEnv) signIn(t *testing.T, c *http.Client, userID int, next string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(e.srv.URL + api.LoginPath + "?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatalf("GET login: %v", err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<form") {
		t.Fatalf("GET login: got %d %q, want the sign-in page", resp.StatusCode, clipped(page))
	}
	var form url.Values
	for _, m := range formRE.FindAllStringSubmatch(page, -1) {
		fields := url.Values{}
		for _, in := range hiddenRE.FindAllStringSubmatch(m[1], -1) {
			fields.Set(in[1], html.UnescapeString(in[2]))
		}
		if fields.Get("user_id") == strconv.Itoa(userID) {
			form = fields
		}
	}
	if form == nil {
		t.Fatalf("sign-in page: got no form for user %d", userID)
	}
	resp, err = c.PostForm(resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+"/oauth/authorize", form)
	if err != nil {
		t.Fatalf("POST /oauth/authorize: %v", err)
	}
	return resp, readAll(t, resp)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get sends a GET with c's cookies and returns the status and body.
func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, readAll(t, resp)
}

// send sends method with c's cookies and the header pairs.
func send(t *testing.T, c *http.Client, method, u string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return resp.StatusCode, readAll(t, resp)
}

func cookie(c *http.Client, u, name string) *http.Cookie {
	pu, _ := url.Parse(u)
	for _, ck := range c.Jar.Cookies(pu) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestSignInTeacherSeesOwnCourse(t *testing.T) {
	e := newSignInEnv(t)
	f := e.f
	c := browser(t)
	resp, body := e.signIn(t, c, f.sc.Course.TeacherID, api.MePath)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != api.MePath {
		t.Fatalf("sign-in as the teacher: got %d at %s %q, want 200 at %s", resp.StatusCode, resp.Request.URL.Path, clipped(body), api.MePath)
	}
	var me api.MeView
	if err := json.Unmarshal([]byte(body), &me); err != nil {
		t.Fatalf("me: %v (%s)", err, body)
	}
	if me.UserID != int64(f.sc.Course.TeacherID) || len(me.Courses) != 1 || me.Courses[0].Course.ID != f.sc.CourseID || !me.Courses[0].Admin {
		t.Errorf("me: got user %d courses %+v, want user %d with course %d (admin)", me.UserID, me.Courses, f.sc.Course.TeacherID, f.sc.CourseID)
	}
	sess := cookie(c, e.srv.URL, api.SessionCookie)
	if sess == nil {
		t.Fatalf("got no %s cookie", api.SessionCookie)
	}

	if code, body := get(t, c, fmt.Sprintf("%s/api/v1/courses/%d", e.srv.URL, f.sc.CourseID)); code != http.StatusOK {
		t.Errorf("GET course A: got %d %s, want 200", code, clipped(body))
	}
	if code, body := get(t, c, fmt.Sprintf("%s/api/v1/projects/%d", e.srv.URL, f.sc.Course.ProjectIDs[0])); code != http.StatusOK {
		t.Errorf("GET a project of course A: got %d %s, want 200", code, clipped(body))
	}
	if code, body := get(t, c, fmt.Sprintf("%s/api/v1/courses/%d", e.srv.URL, e.courseB)); code != http.StatusForbidden {
		t.Errorf("GET course B: got %d %s, want 403", code, clipped(body))
	}
	code, body := get(t, c, e.srv.URL+"/api/v1/courses")
	var courses list[gitpulse.Course]
	_ = json.Unmarshal([]byte(body), &courses)
	if code != http.StatusOK || len(courses.Items) != 1 || courses.Items[0].ID != f.sc.CourseID {
		t.Errorf("GET /courses: got %d %s, want 200 with course %d only", code, clipped(body), f.sc.CourseID)
	}
	if code, body := get(t, c, e.srv.URL+"/api/v1/tokens"); code != http.StatusForbidden {
		t.Errorf("GET /tokens signed in: got %d %s, want 403 (admin key only)", code, clipped(body))
	}

	// CSRF: a POST with the cookie but without the token is refused.
	syncURL := fmt.Sprintf("%s/api/v1/courses/%d/sync", e.srv.URL, f.sc.CourseID)
	if code, body := send(t, c, "POST", syncURL); code != http.StatusForbidden || !strings.Contains(body, api.CSRFHeader) {
		t.Errorf("POST sync without %s: got %d %s, want 403 naming the header", api.CSRFHeader, code, clipped(body))
	}
	if code, body := send(t, c, "POST", syncURL, api.CSRFHeader, "wrong"); code != http.StatusForbidden {
		t.Errorf("POST sync with a wrong %s: got %d %s, want 403", api.CSRFHeader, code, clipped(body))
	}
	if code, body := send(t, c, "POST", syncURL, api.CSRFHeader, me.CSRFToken); code != http.StatusAccepted {
		t.Errorf("POST sync with the CSRF token (an Owner): got %d %s, want 202", code, clipped(body))
	}
	if ck := cookie(c, e.srv.URL, api.CSRFCookie); ck == nil || ck.Value != me.CSRFToken {
		t.Errorf("the %s cookie: got %v, want the csrf_token of /auth/me", api.CSRFCookie, ck)
	}

	// A tampered session cookie is a 401.
	tampered := browser(t)
	payload, sig, _ := strings.Cut(sess.Value, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	forged := strings.Replace(string(raw), strconv.Itoa(f.sc.Course.TeacherID), "424242", 1)
	for name, value := range map[string]string{
		"payload changed":  base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + sig,
		"signature cut":    payload + "." + sig[:len(sig)-2],
		"no signature":     payload,
		"signature of 'x'": payload + ".eA",
	} {
		u, _ := url.Parse(e.srv.URL)
		tampered.Jar.SetCookies(u, []*http.Cookie{{Name: api.SessionCookie, Value: value, Path: "/"}})
		if code, body := get(t, tampered, fmt.Sprintf("%s/api/v1/courses/%d", e.srv.URL, e.courseB)); code != http.StatusUnauthorized {
			t.Errorf("%s: GET course B: got %d %s, want 401", name, code, clipped(body))
		}
	}

	// The session ends with the access token's lifetime.
	f.clock.Add(2*time.Hour + time.Second)
	if code, body := get(t, c, fmt.Sprintf("%s/api/v1/courses/%d", e.srv.URL, f.sc.CourseID)); code != http.StatusUnauthorized {
		t.Errorf("GET course A after 2 h: got %d %s, want 401", code, clipped(body))
	}
	f.clock.Add(-2*time.Hour - time.Second)

	// Sign out: needs the CSRF token, then the cookie is gone.
	if code, _ := send(t, c, "POST", e.srv.URL+api.LogoutPath); code != http.StatusForbidden {
		t.Errorf("POST logout without %s: got %d, want 403", api.CSRFHeader, code)
	}
	if code, body := send(t, c, "POST", e.srv.URL+api.LogoutPath, api.CSRFHeader, me.CSRFToken); code != http.StatusNoContent {
		t.Errorf("POST logout: got %d %s, want 204", code, clipped(body))
	}
	if code, _ := get(t, c, e.srv.URL+api.MePath); code != http.StatusUnauthorized {
		t.Errorf("GET me after logout: got %d, want 401", code)
	}

	// The sign-in was audited under the subject's hash, with no secret.
	if _, err := f.auditWriter.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hash := gitpulse.NewSecret("gitlab-user:" + strconv.Itoa(f.sc.Course.TeacherID)).Hash()
	rec := f.do(t, f.admin, "GET", "/api/v1/audit?token_hash="+url.QueryEscape(hash), "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "signed in as @") {
		t.Errorf("audit of the sign-in: got %d %s, want an item saying signed in", rec.Code, clipped(rec.Body.String()))
	}
	entries := decodeAs[list[audit.Entry]](t, rec)
	refused := false
	for _, en := range entries.Items {
		refused = refused || (strings.HasPrefix(en.Detail, "session of @") && en.ResponseStatus == http.StatusForbidden && strings.Contains(en.Endpoint, strconv.FormatInt(e.courseB, 10)))
	}
	if !refused {
		t.Errorf("audit: got no 403 item of the session's request for course B in %d items", len(entries.Items))
	}
	testenv.AssertNoSecret(t, "the sign-in's audit item", rec.Body.String(), sess.Value, sig, me.CSRFToken, e.app.Secret, e.sessionKey)
	testenv.AssertNoSecret(t, "the API's logs", f.logs.String(), sess.Value, sig, me.CSRFToken)
}

func TestSignInStudentIsRefused(t *testing.T) {
	e := newSignInEnv(t)
	f := e.f
	c := browser(t)
	student := f.sc.Course.StudentIDs[0]
	resp, body := e.signIn(t, c, student, api.MePath)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not staff of any course GitPulse syncs") {
		t.Errorf("sign-in as a student: got %d %s, want 403 saying not staff of any course", resp.StatusCode, clipped(body))
	}
	if code, body := get(t, c, fmt.Sprintf("%s/api/v1/courses/%d", e.srv.URL, f.sc.CourseID)); code != http.StatusForbidden {
		t.Errorf("student GET course A: got %d %s, want 403", code, clipped(body))
	}
	if code, body := get(t, c, e.srv.URL+"/api/v1/courses"); code != http.StatusForbidden {
		t.Errorf("student GET /courses: got %d %s, want 403", code, clipped(body))
	}
}

func TestCourseScopedKey(t *testing.T) {
	e := newSignInEnv(t)
	f := e.f
	courses := decodeAs[list[gitpulse.Course]](t, f.do(t, e.scoped, "GET", "/api/v1/courses", ""))
	if len(courses.Items) != 1 || courses.Items[0].ID != e.courseB {
		t.Errorf("scoped key GET /courses: got %+v, want course %d only", courses.Items, e.courseB)
	}
	for _, target := range []string{
		fmt.Sprintf("/api/v1/courses/%d", f.sc.CourseID),
		fmt.Sprintf("/api/v1/courses/%d/teams", f.sc.CourseID),
		fmt.Sprintf("/api/v1/projects/%d", f.sc.Course.ProjectIDs[0]),
		"/api/v1/sync/status",
		fmt.Sprintf("/api/v1/sync/status?course=%d", f.sc.CourseID),
	} {
		if rec := f.do(t, e.scoped, "GET", target, ""); rec.Code != http.StatusForbidden {
			t.Errorf("scoped key GET %s: got %d %s, want 403", target, rec.Code, clipped(rec.Body.String()))
		}
	}
	if rec := f.do(t, e.scoped, "GET", fmt.Sprintf("/api/v1/courses/%d", e.courseB), ""); rec.Code != http.StatusOK {
		t.Errorf("scoped key GET course B: got %d %s, want 200", rec.Code, clipped(rec.Body.String()))
	}
	// Keys without courses see every course, as before.
	all := decodeAs[list[gitpulse.Course]](t, f.do(t, f.reader, "GET", "/api/v1/courses", ""))
	if len(all.Items) != 2 {
		t.Errorf("reader key GET /courses: got %d courses, want 2", len(all.Items))
	}
	testenv.AssertNoSecret(t, "the API's logs", f.logs.String(), e.scoped)
}

// TestSignInAccessLevels checks the thresholds on the stored access
// levels: a Reporter reads the course but may not sync it, a Guest is
// staff of no course.
func TestSignInAccessLevels(t *testing.T) {
	e := newSignInEnv(t)
	f := e.f
	reporter := f.sc.Sim.AddUser("rita.reporter", "Rita Reporter", false)
	guest := f.sc.Sim.AddUser("gus.guest", "Gus Guest", false)
	ctx := context.Background()
	var st gpsync.Staff
	if err := f.sc.Store.Get(ctx, store.CoursePK(f.sc.CourseID), gpsync.StaffSK, &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Level(int64(f.sc.Course.TeacherID)); got != 50 {
		t.Errorf("stored level of the teacher (Owner): got %d, want 50", got)
	}
	st.Access = append(st.Access, gpsync.StaffAccess{UserID: int64(reporter.ID), Level: 20}, gpsync.StaffAccess{UserID: int64(guest.ID), Level: 10})
	if err := f.sc.Store.Put(ctx, store.Item{PK: store.CoursePK(f.sc.CourseID), SK: gpsync.StaffSK, Kind: "staff", Value: st}); err != nil {
		t.Fatal(err)
	}

	c := browser(t)
	resp, body := e.signIn(t, c, reporter.ID, api.MePath)
	me := api.MeView{}
	_ = json.Unmarshal([]byte(body), &me)
	if resp.StatusCode != http.StatusOK || len(me.Courses) != 1 || me.Courses[0].Admin {
		t.Fatalf("reporter: got %d %s, want 200 with one course, not admin", resp.StatusCode, clipped(body))
	}
	if code, body := get(t, c, fmt.Sprintf("%s/api/v1/courses/%d/teams", e.srv.URL, f.sc.CourseID)); code != http.StatusOK {
		t.Errorf("reporter GET teams: got %d %s, want 200", code, clipped(body))
	}
	syncURL := fmt.Sprintf("%s/api/v1/courses/%d/sync", e.srv.URL, f.sc.CourseID)
	if code, body := send(t, c, "POST", syncURL, api.CSRFHeader, me.CSRFToken); code != http.StatusForbidden || !strings.Contains(body, "Maintainer") {
		t.Errorf("reporter POST sync: got %d %s, want 403 naming Maintainer", code, clipped(body))
	}

	g := browser(t)
	if resp, body := e.signIn(t, g, guest.ID, api.MePath); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "@gus.guest") {
		t.Errorf("guest: got %d %s, want 403 naming @gus.guest", resp.StatusCode, clipped(body))
	}
}
