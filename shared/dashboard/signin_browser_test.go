package dashboard_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// TestSignInInBrowser signs in through the simulator's sign-in page in
// Chromium: the teacher sees their course, signs out, and a student who
// signs in next is told they are staff of no course.
func TestSignInInBrowser(t *testing.T) {
	testenv.Chromium(t)
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "dash/signin", Teams: 1, StudentsPerTeam: 2, Weeks: 1})
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	si := &api.SignIn{Issuer: sc.SimURL, SessionKey: gitpulse.NewSecret(base64.RawURLEncoding.EncodeToString(b))}
	h := api.New(api.Deps{Keys: &apikeys.Authenticator{Source: apikeys.Static(nil)}, Store: sc.Store, SignIn: si})
	srv := httptest.NewServer(h)
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
		t.Errorf("courses page signed in as the teacher: got rows %v, want course %d only", shown, sc.CourseID)
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
