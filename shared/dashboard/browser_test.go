package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
)

// maxCallsPerPage is the most API calls a dashboard page may make.
const maxCallsPerPage = 5

// served is one request the test server answered.
type served struct {
	path        string // path and query
	status      int
	conditional bool // sent If-None-Match
}

// recorder remembers the requests the server answers, for counting API
// calls and checking revalidation.
type recorder struct {
	mu   sync.Mutex
	seen []served
}

func (rc *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.seen = append(rc.seen, served{path: r.URL.RequestURI(), status: sw.status, conditional: r.Header.Get("If-None-Match") != ""})
	})
}

// take returns the requests answered since the last take.
func (rc *recorder) take() []served {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.seen
	rc.seen = nil
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// apiCalls are the data API requests among rs.
func apiCalls(rs []served) []served {
	var out []served
	for _, r := range rs {
		if strings.HasPrefix(r.path, "/api/") {
			out = append(out, r)
		}
	}
	return out
}

// browser is a headless Chromium tab on the dashboard, with what the tab
// logged and requested.
type browser struct {
	ctx      context.Context
	origin   string
	mu       sync.Mutex
	console  []string // errors and warnings: console calls, exceptions, browser log entries
	requests []string // every URL the tab asked for
}

func startBrowser(t *testing.T, origin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chromium(t)),
		chromedp.NoSandbox, // tests run as root
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &browser{ctx: ctx, origin: origin}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil { // start the browser and open the tab
		t.Fatalf("start Chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.console = append(b.console, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			b.console = append(b.console, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				b.console = append(b.console, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	return b
}

func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ready waits until the dashboard says it drew page.
func (b *browser) ready(t *testing.T, page string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`body[data-ready="`+page+`"]`))); err != nil {
		shown, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.dataset.ready + ': ' + document.getElementById('main').innerText.slice(0, 500)`))
		t.Fatalf("page %s not drawn: %v; the tab shows %q", page, err, shown)
	}
}

func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// row is one table row as shown: its numbers by API field (data-f), and
// the sparkline and flags it carries.
type row struct {
	Fields map[string]string `json:"fields"`
	Weeks  string            `json:"weeks"`
	Flags  []string          `json:"flags"`
}

// rows reads the rows of the table under the element with id, by key.
func rows(t *testing.T, b *browser, id string) map[string]row {
	t.Helper()
	expr := fmt.Sprintf(`(() => {
		const out = {};
		for (const tr of document.querySelectorAll(%q)) {
			const fields = {};
			for (const td of tr.querySelectorAll('[data-f]')) fields[td.dataset.f] = (td.querySelector('.v') || td).textContent.trim();
			const spark = tr.querySelector('svg[data-weeks]');
			out[tr.dataset.key] = {fields, weeks: spark ? spark.dataset.weeks : '', flags: [...tr.querySelectorAll('[data-flag]')].map((e) => e.dataset.flag)};
		}
		return out;
	})()`, "#"+id+" tbody tr[data-key]")
	return eval[map[string]row](t, b, expr)
}

// screenshots saves the page at 1280×800 and, whole, at a phone's width,
// and checks that at the phone's width nothing but the tables' own
// scrolling regions is wider than the screen.
func (b *browser) screenshots(t *testing.T, dir, name string) {
	t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	write(t, filepath.Join(dir, name+"-1280x800.png"), shot)
	b.do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	if w := eval[int](t, b, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("%s at 390 px: the page is %d px wider than the screen, want no horizontal page scrolling", name, w)
	}
	shot, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("phone screenshot %s: %v", name, err)
	}
	write(t, filepath.Join(dir, name+"-390-phone.png"), shot)
	b.do(t, "desktop viewport", chromedp.EmulateViewport(1280, 800))
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The API's answers, as the test reads them (only the fields it checks).
type (
	courseJSON struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Path string `json:"path"`
	}
	teamJSON struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Projects []struct {
			Stats struct {
				CommitsByDay map[string]int `json:"commits_by_day"`
			} `json:"stats"`
		} `json:"projects"`
		Summary struct {
			Members         int        `json:"members"`
			Commits7d       int        `json:"commits_last_7_days"`
			Commits         int        `json:"commits"`
			MRsMerged       int        `json:"merge_requests_merged"`
			IssuesClosed    int        `json:"issues_closed"`
			LastActivity    *time.Time `json:"last_activity"`
			InactiveDays    int        `json:"inactive_days"`
			InactiveMembers []struct {
				Username string `json:"username"`
				Name     string `json:"name"`
			} `json:"inactive_members"`
		} `json:"summary"`
	}
	studentJSON map[string]any
	reviewsJSON struct {
		People []struct {
			Key  string `json:"key"`
			Name string `json:"name"`
		} `json:"people"`
		Pairs []struct {
			Reviewer  string `json:"reviewer"`
			Author    string `json:"author"`
			Notes     int    `json:"notes"`
			Approvals int    `json:"approvals"`
			Merges    int    `json:"merges"`
		} `json:"pairs"`
		Students []struct {
			Key      string `json:"key"`
			Given    int    `json:"given"`
			Received int    `json:"received"`
		} `json:"students"`
	}
	shareJSON struct {
		Balance  map[string]any   `json:"balance"`
		Students []map[string]any `json:"students"`
	}
	weekJSON   map[string]any
	weeklyJSON struct {
		Weeks    []string   `json:"weeks"`
		Team     []weekJSON `json:"team"`
		Students []struct {
			Key   string     `json:"key"`
			Weeks []weekJSON `json:"weeks"`
		} `json:"students"`
	}
)

// apiGet reads an API answer in-process (not through the browser's
// server, so it is not counted).
func apiGet[T any](t *testing.T, h http.Handler, key, path string) T {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: got %d %s, want 200", path, rec.Code, rec.Body.String())
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode GET %s: %v", path, err)
	}
	return v
}

type list[T any] struct {
	Items []T `json:"items"`
}

// text is a JSON number (or string) as the dashboard prints it.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "0"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// weekCounts is the course page's sparkline rule: commits per ISO week
// (Monday, UTC) for the weeks weeks up to this one.
func weekCounts(byDay map[string]int, weeks int, now time.Time) string {
	d := now.UTC().Truncate(24 * time.Hour)
	monday := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	counts := make([]int, weeks)
	for day, n := range byDay {
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			continue
		}
		m := t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		i := weeks - 1 - int(monday.Sub(m).Hours()/(24*7))
		if i >= 0 && i < weeks {
			counts[i] += n
		}
	}
	parts := make([]string, weeks)
	for i, n := range counts {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func checkRow(t *testing.T, where string, got row, want map[string]string) {
	t.Helper()
	for f, w := range want {
		if g, ok := got.Fields[f]; !ok || g != w {
			t.Errorf("%s: %s shown %q, want the API's %q", where, f, g, w)
		}
	}
}

// TestDashboardInBrowser walks the dashboard in Chromium against a synced
// course (moto and the GitLab simulator): courses → course → team →
// student, each page's figures against the API's, at most a handful of
// API calls per page, every one revalidated (304) on reload, no console
// error and no request outside the page's origin. Screenshots go to
// .run/screenshots/ (GITPULSE_TEST_SCREENSHOTS to move them).
func TestDashboardInBrowser(t *testing.T) {
	testenv.Chromium(t) // skip (or fail under make test) before the sync when there is no browser
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "dash/course", Teams: 2, StudentsPerTeam: 3, Weeks: 4, PeopleCases: true})
	// A team whose only student never did anything: a quiet team and an
	// inactive student for the flags to show (the generated teams are busy).
	silent := sc.Sim.AddGroup("team-silent", sc.Course.GroupID)
	silentProject := sc.Sim.AddProject(silent.ID, "silent")
	silentStudent := sc.Sim.AddUser("sam.silent", "Sam Silent", false)
	if err := sc.Sim.AddMember("project", silentProject.ID, silentStudent.ID, 30); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Scheduler.Run(context.Background(), []string{sc.Course.Path}); err != nil {
		t.Fatal(err)
	}
	sc.Drain(t)
	raw, key, err := apikeys.Generate("dashboard", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reader := raw.Reveal()
	h := api.New(api.Deps{Keys: &apikeys.Authenticator{Source: apikeys.Static{key}}, Store: sc.Store})
	rec := &recorder{}
	srv := httptest.NewServer(rec.wrap(h))
	t.Cleanup(srv.Close)

	dir := os.Getenv("GITPULSE_TEST_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), ".run", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, srv.URL)
	calls := map[string]int{}
	urls := map[string]string{}

	// A browser at / is sent to the dashboard, which asks for the key.
	b.do(t, "open /", chromedp.Navigate(srv.URL+"/"))
	b.ready(t, "signin")
	if loc := eval[string](t, b, `location.pathname`); loc != "/dashboard/" {
		t.Errorf("GET / from a browser ended at %s, want /dashboard/", loc)
	}
	rec.take()
	b.do(t, "sign in", chromedp.SendKeys(chromedp.ID("key"), reader), chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)))

	// Courses.
	b.ready(t, "courses")
	calls["courses"] = len(apiCalls(rec.take()))
	urls["courses"] = eval[string](t, b, `location.href`)
	courses := apiGet[list[courseJSON]](t, h, reader, "/api/v1/courses?limit=100").Items
	shownCourses := rows(t, b, "courses")
	if len(shownCourses) != len(courses) {
		t.Errorf("courses page: %d rows, want the API's %d courses", len(shownCourses), len(courses))
	}
	for _, c := range courses {
		checkRow(t, "course "+c.Path, shownCourses[strconv.FormatInt(c.ID, 10)], map[string]string{"id": strconv.FormatInt(c.ID, 10)})
	}
	b.screenshots(t, dir, "1-courses")

	// Course overview, opened with the mouse.
	cid := strconv.FormatInt(sc.CourseID, 10)
	b.do(t, "open the course", chromedp.Click(chromedp.CSS(`#courses a[href="#/courses/`+cid+`"]`)))
	b.ready(t, "course")
	calls["course"] = len(apiCalls(rec.take()))
	urls["course"] = eval[string](t, b, `location.href`)
	teams := apiGet[list[teamJSON]](t, h, reader, "/api/v1/courses/"+cid+"/teams?limit=100").Items
	students := apiGet[list[studentJSON]](t, h, reader, "/api/v1/courses/"+cid+"/students?limit=100").Items
	if n := len(teams); n != 3 {
		t.Fatalf("the API lists %d teams, want the 2 generated and the silent one", n)
	}
	shownTeams := rows(t, b, "teams")
	if len(shownTeams) != len(teams) {
		t.Errorf("course page: %d team rows, want the API's %d", len(shownTeams), len(teams))
	}
	inactive := map[string]bool{}
	now := time.Now()
	for _, tm := range teams {
		s := tm.Summary
		var names []string
		for _, m := range s.InactiveMembers {
			names = append(names, m.Name)
			inactive[m.Username+"|"+m.Name] = true
		}
		got := shownTeams[tm.ID]
		checkRow(t, "team "+tm.Name, got, map[string]string{
			"members": strconv.Itoa(s.Members), "commits_last_7_days": strconv.Itoa(s.Commits7d), "commits": strconv.Itoa(s.Commits),
			"merge_requests_merged": strconv.Itoa(s.MRsMerged), "issues_closed": strconv.Itoa(s.IssuesClosed), "inactive_members": strings.Join(names, ", "),
		})
		byDay := map[string]int{}
		for _, p := range tm.Projects {
			for d, n := range p.Stats.CommitsByDay {
				byDay[d] += n
			}
		}
		if want := weekCounts(byDay, 8, now); got.Weeks != want {
			t.Errorf("team %s: sparkline %q, want commits per week %q from the API's commits_by_day", tm.Name, got.Weeks, want)
		}
		quiet := s.LastActivity == nil || now.Sub(*s.LastActivity) > time.Duration(s.InactiveDays)*24*time.Hour
		if shown := strings.Contains(strings.Join(got.Flags, ","), "quiet"); shown != quiet {
			t.Errorf("team %s: flagged quiet %v, want %v (last activity %v, window %d days)", tm.Name, shown, quiet, s.LastActivity, s.InactiveDays)
		}
	}
	if !inactive[silentStudent.Username+"|"+silentStudent.Name] {
		t.Fatalf("the teams listing does not name %s inactive; the flag check would prove nothing", silentStudent.Name)
	}
	flaggedQuiet := 0
	for _, r := range shownTeams {
		flaggedQuiet += strings.Count(strings.Join(r.Flags, ","), "quiet")
	}
	if flaggedQuiet == 0 {
		t.Errorf("no team flagged quiet, want at least the silent one")
	}
	shownStudents := rows(t, b, "students")
	if len(shownStudents) != len(students) {
		t.Errorf("course page: %d student rows, want the API's %d", len(shownStudents), len(students))
	}
	for _, st := range students {
		k := text(st["key"])
		got := shownStudents[k]
		want := map[string]string{}
		for _, f := range []string{"commits", "mrs_opened", "reviews_given", "issues_closed", "active_days"} {
			want[f] = text(st[f])
		}
		checkRow(t, "student "+k, got, want)
		username, _ := st["username"].(string)
		name, _ := st["name"].(string)
		flagged := strings.Contains(strings.Join(got.Flags, ","), "inactive")
		if want := inactive[username+"|"+name] || (username == "" && inactive["|"+name]); flagged != want {
			t.Errorf("student %s: flagged inactive %v, want %v (the teams listing's inactive members)", k, flagged, want)
		}
	}
	b.screenshots(t, dir, "2-course")

	// Team, opened from the keyboard: the link focused, Enter pressed.
	// The first generated team: the reviewer ring and the student with
	// three commit identities are there.
	var team teamJSON
	for _, tm := range teams {
		if tm.ID == "g"+strconv.Itoa(sc.Course.Teams[0].GroupID) {
			team = tm
		}
	}
	if team.ID == "" {
		t.Fatalf("team g%d is not in the teams listing", sc.Course.Teams[0].GroupID)
	}
	b.do(t, "open the team", chromedp.Focus(chromedp.CSS(`#teams a[href="#/courses/`+cid+`/teams/`+url.PathEscape(team.ID)+`"]`)), chromedp.KeyEvent("\r"))
	b.ready(t, "team")
	calls["team"] = len(apiCalls(rec.take()))
	urls["team"] = eval[string](t, b, `location.href`)
	base := "/api/v1/courses/" + cid + "/teams/" + url.PathEscape(team.ID)
	share := apiGet[shareJSON](t, h, reader, base+"/share")
	reviews := apiGet[reviewsJSON](t, h, reader, base+"/reviews")
	weekly := apiGet[weeklyJSON](t, h, reader, base+"/weekly")
	given := map[string][2]int{}
	for _, s := range reviews.Students {
		given[s.Key] = [2]int{s.Given, s.Received}
	}
	shownShare := rows(t, b, "share")
	if len(shownShare) != len(share.Students) || len(share.Students) == 0 {
		t.Errorf("team page: %d rows of work share, want the API's %d (and some)", len(shownShare), len(share.Students))
	}
	for _, s := range share.Students {
		k := text(s["key"])
		checkRow(t, "team share "+k, shownShare[k], map[string]string{
			"commits": text(s["commits"]), "lines": text(s["lines"]), "mrs": text(s["mrs"]), "reviews": text(s["reviews"]),
			"given": strconv.Itoa(given[k][0]), "received": strconv.Itoa(given[k][1]),
		})
	}
	balance := eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('#balance [data-f]')].map((e) => [e.dataset.f, e.textContent]))`)
	for _, m := range []string{"commits", "lines", "mrs", "reviews"} {
		if f, ok := share.Balance[m].(float64); ok {
			if want := strconv.FormatFloat(f, 'f', 2, 64); balance[m] != want {
				t.Errorf("team balance %s: shown %q, want the API's %s", m, balance[m], want)
			}
		}
	}
	type cell struct{ Notes, Approvals, Merges, Total string }
	shownCells := eval[map[string]cell](t, b, `Object.fromEntries([...document.querySelectorAll('#reviews tbody tr[data-key] td[data-author]')].map((td) =>
		[td.closest('tr').dataset.key + ' ' + td.dataset.author, {Notes: td.dataset.notes, Approvals: td.dataset.approvals, Merges: td.dataset.merges, Total: td.textContent}]))`)
	wantCells := map[string]cell{}
	for _, r := range reviews.People {
		for _, a := range reviews.People {
			if r.Key != a.Key {
				wantCells[r.Key+" "+a.Key] = cell{"0", "0", "0", "0"}
			}
		}
	}
	pairs := 0
	for _, p := range reviews.Pairs {
		wantCells[p.Reviewer+" "+p.Author] = cell{strconv.Itoa(p.Notes), strconv.Itoa(p.Approvals), strconv.Itoa(p.Merges), strconv.Itoa(p.Notes + p.Approvals + p.Merges)}
		pairs += p.Notes + p.Approvals + p.Merges
	}
	if pairs == 0 {
		t.Errorf("team %s: the API's review matrix is empty; the generated course should have reviews to show", team.Name)
	}
	if len(shownCells) != len(wantCells) {
		t.Errorf("review heatmap: %d cells, want %d (people × people, the diagonal left out)", len(shownCells), len(wantCells))
	}
	for k, w := range wantCells {
		if g := shownCells[k]; g != w {
			t.Errorf("review heatmap %s: shown %+v, want the API's %+v", k, g, w)
		}
	}
	checkWeeks(t, "team weekly", rows(t, b, "weekly"), weekly.Team)
	b.screenshots(t, dir, "3-team")

	// Student, opened with the mouse from the team's share table.
	studentKey := text(share.Students[0]["key"])
	b.do(t, "open the student", chromedp.Click(chromedp.CSS(`#share a[href="#/courses/`+cid+`/students/`+url.PathEscape(studentKey)+`"]`)))
	b.ready(t, "student")
	calls["student"] = len(apiCalls(rec.take()))
	urls["student"] = eval[string](t, b, `location.href`)
	var student studentJSON
	for _, st := range students {
		if text(st["key"]) == studentKey {
			student = st
		}
	}
	if student == nil {
		t.Fatalf("student %s of the share route is not in the students listing", studentKey)
	}
	figures := rows(t, b, "figures")
	for _, f := range []string{"commits", "additions", "deletions", "mrs_opened", "mrs_merged", "reviews_given", "reviews_received", "approvals_given", "issues_opened", "issues_closed", "active_days"} {
		checkRow(t, "student page", figures[f], map[string]string{f: text(student[f])})
	}
	for _, s := range weekly.Students {
		if s.Key == studentKey {
			checkWeeks(t, "student weekly", rows(t, b, "weekly"), s.Weeks)
		}
	}
	gave, got := rows(t, b, "gave"), rows(t, b, "got")
	for _, p := range reviews.Pairs {
		want := map[string]string{"notes": strconv.Itoa(p.Notes), "approvals": strconv.Itoa(p.Approvals), "merges": strconv.Itoa(p.Merges)}
		if p.Reviewer == studentKey {
			checkRow(t, "student gave to "+p.Author, gave[p.Author], want)
		}
		if p.Author == studentKey {
			checkRow(t, "student got from "+p.Reviewer, got[p.Reviewer], want)
		}
	}
	b.screenshots(t, dir, "4-student")

	// The key stays in the tab: sessionStorage only, no cookie, no URL.
	if n := eval[int](t, b, `localStorage.length + document.cookie.length`); n != 0 {
		t.Errorf("localStorage and cookies hold %d entries/bytes, want none", n)
	}
	if eval[string](t, b, `sessionStorage.getItem('gitpulse.apiKey')`) != reader {
		t.Errorf("sessionStorage does not hold the key")
	}

	// Each page again, reloaded: every file and every API call is
	// revalidated and answered 304.
	for _, page := range []string{"courses", "course", "team", "student"} {
		b.do(t, "go to "+page, chromedp.Navigate(urls[page]))
		b.ready(t, page)
		rec.take()
		b.do(t, "reload "+page, chromedp.Reload())
		b.ready(t, page)
		rs := rec.take()
		if n := len(apiCalls(rs)); n != calls[page] {
			t.Errorf("reload %s: %d API calls, want the same %d as the first visit", page, n, calls[page])
		}
		for _, r := range rs {
			if r.status != http.StatusNotModified || !r.conditional {
				t.Errorf("reload %s: GET %s answered %d (If-None-Match sent: %v), want 304 to a revalidation", page, r.path, r.status, r.conditional)
			}
		}
	}

	for page, n := range calls {
		t.Logf("page %s: %d API calls", page, n)
		if n < 1 || n > maxCallsPerPage {
			t.Errorf("page %s made %d API calls, want 1 to %d", page, n, maxCallsPerPage)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		t.Errorf("the tab logged: %s", m)
	}
	var outside []string
	for _, u := range b.requests {
		if !strings.HasPrefix(u, srv.URL+"/") {
			outside = append(outside, u)
		}
		if strings.Contains(u, reader) {
			t.Errorf("a request URL holds the API key")
		}
	}
	sort.Strings(outside)
	if len(outside) > 0 {
		t.Errorf("requests outside %s: %v", srv.URL, outside)
	}
	if len(b.requests) == 0 {
		t.Errorf("no request seen from the tab; the network listener is not working")
	}
}

// checkWeeks compares a weekly table with the API's weeks.
func checkWeeks(t *testing.T, where string, shown map[string]row, weeks []weekJSON) {
	t.Helper()
	if len(shown) != len(weeks) {
		t.Errorf("%s: %d weeks shown, want the API's %d", where, len(shown), len(weeks))
	}
	for _, w := range weeks {
		wk := text(w["week"])
		checkRow(t, where+" "+wk, shown[wk], map[string]string{
			"commits": text(w["commits"]), "mrs": text(w["mrs"]), "reviews": text(w["reviews"]), "issues_closed": text(w["issues_closed"]),
		})
	}
}
