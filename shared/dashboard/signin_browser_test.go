package dashboard_test

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestSignInInBrowser signs in through the simulator's sign-in page in
// Chromium: the teacher sees their course, signs out, and a student who
// signs in next is told they are staff of no course.
func TestSignInInBrowser(t *testing.T) {
	testenv.Chromium(t)
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "dash/signin", Teams: 1, StudentsPerTeam: 2, Weeks: 1})
	// Another course, whose only staff is someone else: the teacher must
	// not see it.
	other := int64(990002)
	if err := sc.Store.Put(t.Context(), store.Item{PK: "COURSES", SK: store.CourseSK(other), Kind: "course",
		Value: gitpulse.Course{ID: other, Path: "other/course", Name: "Other", Source: "api", AddedAt: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	if err := sc.Store.Put(t.Context(), store.Item{PK: store.CoursePK(other), SK: gpsync.StaffSK, Kind: "staff",
		Value: gpsync.Staff{UserIDs: []int64{424242}, Access: []gpsync.StaffAccess{{UserID: 424242, Level: 50}}, CheckedAt: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	si := &api.SignIn{Issuer: sc.SimURL, SessionKey: gitpulse.NewSecret(base64.RawURLEncoding.EncodeToString(b))}
	logs := &testenv.Output{}
	h := api.New(api.Deps{Keys: &apikeys.Authenticator{Source: apikeys.Static(nil)}, Store: sc.Store, SignIn: si,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	// Every cookie value the API sets (the sign-in state, the session, the
	// CSRF token), to look for in URLs and logs at the end.
	var cookieMu sync.Mutex
	var cookieValues []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			if c.Value != "" {
				cookieMu.Lock()
				cookieValues = append(cookieValues, c.Value)
				cookieMu.Unlock()
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	app, err := sc.Sim.AddOAuthApp(sim.OAuthApp{Name: "GitPulse", RedirectURIs: []string{srv.URL + api.CallbackPath}, Scopes: []string{"openid"}, Confidential: true})
	if err != nil {
		t.Fatal(err)
	}
	si.ClientID, si.ClientSecret = app.UID, gitpulse.NewSecret(app.Secret)

	br := startBrowser(t, srv.URL)
	signInAs := func(userID int) {
		t.Helper()
		br.ready(t, "signin")
		br.do(t, "sign in with GitLab", chromedp.Click(chromedp.ID("gitlab-signin")))
		button := `button[data-user-id="` + strconv.Itoa(userID) + `"]`
		br.do(t, "the sign-in page", chromedp.WaitVisible(chromedp.CSS(button)))
		br.do(t, "pick the user", chromedp.Click(chromedp.CSS(button)))
	}

	br.do(t, "open the dashboard", chromedp.Navigate(srv.URL+"/dashboard/"))
	signInAs(sc.Course.TeacherID)
	br.ready(t, "courses")
	shown := rows(t, br, "courses")
	if _, ok := shown[strconv.FormatInt(sc.CourseID, 10)]; !ok || len(shown) != 1 {
		t.Errorf("courses page signed in as the teacher: got rows %v, want course %d only (not %d)", shown, sc.CourseID, other)
	}
	if got := eval[string](t, br, `document.getElementById('forget').textContent`); got != "Sign out" {
		t.Errorf("the header button: got %q, want Sign out", got)
	}
	if got := eval[string](t, br, `document.cookie`); strings.Contains(got, api.SessionCookie) {
		t.Errorf("document.cookie: got %q, want no session cookie (it is HttpOnly)", got)
	}

	br.do(t, "sign out", chromedp.Click(chromedp.ID("forget")))
	signInAs(sc.Course.StudentIDs[0])
	br.ready(t, "notstaff")
	if text := eval[string](t, br, `document.getElementById('main').innerText`); !strings.Contains(text, "not staff of any course GitPulse syncs") {
		t.Errorf("signed in as a student: the page shows %q, want it to say they are not staff of any course", text)
	}
	if n := eval[int](t, br, `document.querySelectorAll('#courses tbody tr').length`); n != 0 {
		t.Errorf("signed in as a student: %d course rows shown, want none", n)
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	// No token in any URL the browser asked for (the code flow puts only
	// the one-use code there), nor a cookie's value; none in the API's log.
	cookieMu.Lock()
	secrets := append(slices.Clone(cookieValues), app.Secret)
	cookieMu.Unlock()
	if len(secrets) < 3 {
		t.Errorf("cookies set by the API: got %d values, want the sign-in state, the session and the CSRF token at least", len(secrets)-1)
	}
	for _, u := range br.requests {
		for _, marker := range []string{"access_token", "id_token", "refresh_token", "eyJ"} {
			if strings.Contains(u, marker) {
				t.Errorf("browser request %.120s… carries %q: a token in a URL", u, marker)
			}
		}
	}
	testenv.AssertNoSecret(t, "browser URLs", strings.Join(br.requests, "\n"), secrets...)
	testenv.AssertNoSecret(t, "api log", logs.String(), secrets...)
	for _, c := range br.console {
		// The 401 before signing in and the student's 403 are answers the
		// page expects; Chromium logs them all the same.
		// The simulator's page has no icon: its favicon.ico is a 404.
		if strings.Contains(c, "Failed to load resource") && (strings.Contains(c, api.MePath) || strings.Contains(c, sc.SimURL)) {
			continue
		}
		t.Errorf("browser console: %s", c)
	}
}
