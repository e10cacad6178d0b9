package api_test

import (
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/shared/api"
)

// peopleSpec is a course with the people cases: staff (the teacher and an
// assistant in the course group), bots, a student in two projects, a
// student with two more commit identities, and a reviewer ring.
var peopleSpec = sim.CourseSpec{Path: "teach/course", Teams: 2, StudentsPerTeam: 3, Weeks: 3, PeopleCases: true}

// truth is what the simulator says of the course's people.
type truth struct {
	sc    *sim.Course
	s     *sim.Sim
	staff map[int]bool
	bots  map[int]bool
}

func newTruth(f *fixture) truth {
	tr := truth{sc: &f.sc.Course, s: f.sc.Sim, staff: map[int]bool{}, bots: map[int]bool{}}
	for _, m := range f.sc.Sim.GroupMembers(f.sc.Course.GroupID) {
		tr.staff[m.UserID] = true
	}
	for _, id := range f.sc.Course.BotUserIDs {
		tr.bots[id] = true
	}
	return tr
}

func (tr truth) student(id int) bool { return id != 0 && !tr.staff[id] && !tr.bots[id] }

// days are the UTC days with activity of user id in the projects, as
// the simulator holds it: default-branch commits they wrote, merge
// requests opened or merged, notes, issues opened or closed.
func (tr truth) days(id int, projects []int) map[string]bool {
	days := map[string]bool{}
	add := func(t time.Time) { days[t.UTC().Format(time.DateOnly)] = true }
	for _, pid := range projects {
		for _, c := range tr.s.AllCommits(pid) {
			if c.AuthorID == id && len(c.ParentIDs) < 2 {
				add(c.AuthoredDate)
			}
		}
		for _, m := range tr.s.MergeRequests(pid) {
			if m.AuthorID == id {
				add(m.CreatedAt)
			}
			if m.MergedByID == id && m.MergedAt != nil {
				add(*m.MergedAt)
			}
			for _, n := range m.Notes {
				if n.AuthorID == id && !n.System {
					add(n.CreatedAt)
				}
			}
		}
		for _, is := range tr.s.Issues(pid) {
			if is.AuthorID == id {
				add(is.CreatedAt)
			}
			if is.ClosedByID == id && is.ClosedAt != nil && is.State == "closed" {
				add(*is.ClosedAt)
			}
		}
	}
	return days
}

// reviews is the review matrix of the projects computed from the
// simulator's merge requests: "u<reviewer> u<author>" -> notes,
// approvals, merges, between students only.
func (tr truth) reviews(projects []int) map[string][3]int {
	out := map[string][3]int{}
	bump := func(r, a, i int) {
		if r == a || !tr.student(r) || !tr.student(a) {
			return
		}
		k := fmt.Sprintf("u%d u%d", r, a)
		v := out[k]
		v[i]++
		out[k] = v
	}
	for _, pid := range projects {
		for _, m := range tr.s.MergeRequests(pid) {
			for _, n := range m.Notes {
				if !n.System {
					bump(n.AuthorID, m.AuthorID, 0)
				}
			}
			for _, ap := range m.Approvals {
				bump(ap.UserID, m.AuthorID, 1)
			}
			if m.State == "merged" && m.MergedByID != 0 {
				bump(m.MergedByID, m.AuthorID, 2)
			}
		}
	}
	return out
}

// commitsOf counts the non-merge commits (every branch) of user id or of
// the given author e-mails.
func (tr truth) commitsOf(id int, emails ...string) int {
	n := 0
	for _, pid := range tr.sc.ProjectIDs {
		for _, c := range tr.s.AllCommits(pid) {
			if len(c.ParentIDs) < 2 && (c.AuthorID == id && id != 0 || slices.Contains(emails, strings.ToLower(c.AuthorEmail))) {
				n++
			}
		}
	}
	return n
}

// TestTeachersView checks the teacher's figures on a course with the
// people cases against the simulator's truth.
func TestTeachersView(t *testing.T) {
	f := newFixtureOf(t, peopleSpec)
	tr := newTruth(f)
	pc := f.sc.Course.People
	if pc == nil {
		t.Fatal("the generator made no people cases")
	}
	course := "/api/v1/courses/" + strconv.FormatInt(f.sc.CourseID, 10)
	if !tr.staff[f.sc.Course.TeacherID] || !tr.staff[pc.AssistantID] {
		t.Fatalf("got staff %v, want the teacher %d and the assistant %d", tr.staff, f.sc.Course.TeacherID, pc.AssistantID)
	}

	t.Run("students are the real students, one row each, sorted by name", func(t *testing.T) {
		students, _ := all[api.StudentView](t, f, course+"/students", 2)
		var got, want []string
		for _, s := range students {
			got = append(got, s.Key)
			if u := tr.s.User(int(s.UserID)); u.Name != s.Name || u.Username != s.Username {
				t.Errorf("student %s: got %q (%s), want %q (%s)", s.Key, s.Name, s.Username, u.Name, u.Username)
			}
		}
		for _, id := range f.sc.Course.StudentIDs {
			want = append(want, "u"+strconv.Itoa(id))
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		slices.Sort(want)
		if !slices.Equal(sorted, want) {
			t.Errorf("got students %v, want exactly %v (teacher u%d, assistant u%d, bots %v out)", sorted, want, f.sc.Course.TeacherID, pc.AssistantID, f.sc.Course.BotUserIDs)
		}
		if !slices.IsSortedFunc(students, func(a, b api.StudentView) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}) {
			t.Errorf("got students in the order %v, want sorted by name", names(students))
		}
	})

	t.Run("active days are distinct days across projects", func(t *testing.T) {
		id := pc.TwoProjectsID
		s := studentByKey(t, f, course, "u"+strconv.Itoa(id))
		var projects []int
		for _, p := range s.Projects {
			projects = append(projects, int(p.ProjectID))
		}
		if len(projects) != 2 {
			t.Fatalf("student u%d: got projects %v, want two", id, projects)
		}
		want, summed := len(tr.days(id, projects)), len(tr.days(id, projects[:1]))+len(tr.days(id, projects[1:]))
		if s.ActiveDays != want || want >= summed {
			t.Errorf("student u%d: got %d active days, want %d distinct (%d summed per project, which must be more)", id, s.ActiveDays, want, summed)
		}
	})

	t.Run("staff are never inactive members", func(t *testing.T) {
		teams := decodeAs[list[api.TeamView]](t, f.do(t, f.reader, "GET", course+"/teams?inactive_days=1", ""))
		staffNames := []string{tr.s.User(f.sc.Course.TeacherID).Name, tr.s.User(pc.AssistantID).Name}
		for _, tm := range teams.Items {
			for _, m := range tm.Summary.InactiveMembers {
				if slices.Contains(staffNames, m.Name) {
					t.Errorf("team %s: staff %q listed as an inactive member", tm.ID, m.Name)
				}
			}
		}
	})

	t.Run("the review matrix equals the simulator's", func(t *testing.T) {
		for i, team := range f.sc.Course.Teams {
			target := course + "/teams/g" + strconv.Itoa(team.GroupID) + "/reviews"
			rec := f.do(t, f.reader, "GET", target, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: got %d %s", target, rec.Code, rec.Body.String())
			}
			v := decodeAs[api.ReviewsView](t, rec)
			got := map[string][3]int{}
			given, received := map[string]int{}, map[string]int{}
			for _, p := range v.Pairs {
				got[p.Reviewer+" "+p.Author] = [3]int{p.Notes, p.Approvals, p.Merges}
				given[p.Reviewer] += p.Notes + p.Approvals + p.Merges
				received[p.Author] += p.Notes + p.Approvals + p.Merges
			}
			want := tr.reviews(team.ProjectIDs)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("team %s: got pairs %v, want %v", team.Path, got, want)
			}
			for _, s := range v.Students {
				if s.Given != given[s.Key] || s.Received != received[s.Key] {
					t.Errorf("team %s, %s: got given %d received %d, want %d and %d", team.Path, s.Key, s.Given, s.Received, given[s.Key], received[s.Key])
				}
			}
			if v.TeamName == "" || v.TeamID != "g"+strconv.Itoa(team.GroupID) {
				t.Errorf("team %s: got id %q name %q", team.Path, v.TeamID, v.TeamName)
			}
			if i == 0 {
				for j, a := range pc.Ring {
					r := pc.Ring[(j+1)%len(pc.Ring)]
					if p := got[fmt.Sprintf("u%d u%d", r, a)]; p[0] < 1 || p[1] < 1 || p[2] < 1 {
						t.Errorf("ring u%d -> u%d: got %v, want a note, an approval and a merge at least", r, a, p)
					}
				}
			}
			// Revalidation: 304 with the ETag.
			again := f.do(t, f.reader, "GET", target, "", "If-None-Match", rec.Header().Get("ETag"))
			if again.Code != http.StatusNotModified {
				t.Errorf("GET %s with its ETag: got %d, want 304", target, again.Code)
			}
		}
	})

	t.Run("commit identities resolve, and a mapping applies to stored commits", func(t *testing.T) {
		id := pc.IdentitiesID
		key := "u" + strconv.Itoa(id)
		resolvable, public, unresolvable := strings.ToLower(pc.Resolvable.Email), strings.ToLower(pc.Public.Email), strings.ToLower(pc.Unresolvable.Email)
		if got, want := studentByKey(t, f, course, key).Commits, tr.commitsOf(id, resolvable, public); got != want || tr.commitsOf(0, public) == 0 {
			t.Errorf("student %s: got %d commits, want %d (their own, %s's and their public e-mail %s's)", key, got, want, resolvable, public)
		}
		ids, _ := all[api.IdentityView](t, f, course+"/identities", 50)
		var listed *api.IdentityView
		for i := range ids {
			if ids[i].Email == resolvable || ids[i].Email == public {
				t.Errorf("identity %s listed unresolved, want it matched (by the e-mail's local part, by the public e-mail)", ids[i].Email)
			}
			if ids[i].Email == unresolvable {
				listed = &ids[i]
			}
		}
		if listed == nil || listed.Commits != tr.commitsOf(0, unresolvable) || listed.Name != pc.Unresolvable.Name {
			t.Fatalf("got identity %+v, want %s with its %d commits", listed, unresolvable, tr.commitsOf(0, unresolvable))
		}
		body := fmt.Sprintf(`{"email":%q,"user_id":%d}`, pc.Unresolvable.Email, id)
		if rec := f.do(t, f.reader, "POST", course+"/identities", body, "Content-Type", "application/json"); rec.Code != http.StatusForbidden {
			t.Errorf("a reader mapping an identity: got %d, want 403", rec.Code)
		}
		if rec := f.do(t, f.admin, "POST", course+"/identities", fmt.Sprintf(`{"email":%q,"user_id":%d}`, pc.Unresolvable.Email, f.sc.Course.Teams[1].StudentIDs[1])); rec.Code != http.StatusNotFound {
			t.Errorf("mapping to a user who is no member where it commits: got %d %s, want 404", rec.Code, rec.Body.String())
		}
		for _, bad := range []string{`""`, `" ` + pc.Unresolvable.Email + `"`, `"a#b"`} {
			if rec := f.do(t, f.admin, "POST", course+"/identities", fmt.Sprintf(`{"email":%s,"user_id":%d}`, bad, id)); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "email: required") {
				t.Errorf("mapping the e-mail %s: got %d %s, want 400 naming the e-mail", bad, rec.Code, rec.Body.String())
			}
		}
		rec := f.do(t, f.admin, "POST", course+"/identities", body)
		if rec.Code != http.StatusOK || !decodeAs[api.MappedIdentity](t, rec).SyncQueued {
			t.Fatalf("map %s: got %d %s, want 200 with a sync queued", unresolvable, rec.Code, rec.Body.String())
		}
		f.sc.Drain(t)
		if got, want := studentByKey(t, f, course, key).Commits, tr.commitsOf(id, resolvable, public, unresolvable); got != want {
			t.Errorf("after the mapping, student %s: got %d commits, want %d", key, got, want)
		}
		ids, _ = all[api.IdentityView](t, f, course+"/identities", 50)
		for _, v := range ids {
			if v.Email == unresolvable {
				t.Errorf("after the mapping: %s still listed unresolved", unresolvable)
			}
		}
	})

	t.Run("share and balance", func(t *testing.T) {
		team := f.sc.Course.Teams[0]
		v := decodeAs[api.ShareView](t, f.do(t, f.reader, "GET", course+"/teams/g"+strconv.Itoa(team.GroupID)+"/share", ""))
		if len(v.Students) != len(team.StudentIDs) || v.Balance.Metric != "gini" {
			t.Fatalf("got %+v, want the team's %d students and a gini balance", v, len(team.StudentIDs))
		}
		metrics := []struct {
			name  string
			value func(api.ShareRow) (int, float64)
			gini  float64
		}{
			{"commits", func(r api.ShareRow) (int, float64) { return r.Commits, r.CommitsShare }, v.Balance.Commits},
			{"lines", func(r api.ShareRow) (int, float64) { return r.Lines, r.LinesShare }, v.Balance.Lines},
			{"mrs", func(r api.ShareRow) (int, float64) { return r.MRs, r.MRsShare }, v.Balance.MRs},
			{"reviews", func(r api.ShareRow) (int, float64) { return r.Reviews, r.ReviewsShare }, v.Balance.Reviews},
		}
		for _, m := range metrics {
			var xs []float64
			total, shares := 0, 0.0
			for _, r := range v.Students {
				n, sh := m.value(r)
				xs = append(xs, float64(n))
				total += n
				shares += sh
			}
			if total > 0 && math.Abs(shares-1) > 1e-9 {
				t.Errorf("%s: shares sum to %v, want 1", m.name, shares)
			}
			if want := sortedGini(xs); math.Abs(m.gini-want) > 1e-9 {
				t.Errorf("%s: got gini %v, want %v for %v", m.name, m.gini, want, xs)
			}
		}
	})

	t.Run("weekly sums to the share", func(t *testing.T) {
		team := f.sc.Course.Teams[0]
		base := course + "/teams/g" + strconv.Itoa(team.GroupID)
		since := f.sc.Course.Start.AddDate(0, 0, -7).Format(time.DateOnly)
		v := decodeAs[api.WeeklyView](t, f.do(t, f.reader, "GET", base+"/weekly?since="+since, ""))
		share := decodeAs[api.ShareView](t, f.do(t, f.reader, "GET", base+"/share", ""))
		for i, w := range v.Weeks {
			d, err := time.Parse(time.DateOnly, w)
			if err != nil || d.Weekday() != time.Monday || (i > 0 && w != mustDay(v.Weeks[i-1]).AddDate(0, 0, 7).Format(time.DateOnly)) {
				t.Errorf("weeks %v: %q is not the Monday after the one before", v.Weeks, w)
			}
		}
		teamCommits := 0
		for _, w := range v.Team {
			teamCommits += w.Commits
		}
		shareCommits, byKey := 0, map[string]int{}
		for _, r := range share.Students {
			shareCommits += r.Commits
			byKey[r.Key] = r.Commits
		}
		if teamCommits != shareCommits || teamCommits == 0 {
			t.Errorf("got %d commits over the weeks, want the share's %d (and some)", teamCommits, shareCommits)
		}
		for _, s := range v.Students {
			n := 0
			for _, w := range s.Weeks {
				n += w.Commits
			}
			if n != byKey[s.Key] || len(s.Weeks) != len(v.Weeks) {
				t.Errorf("student %s: got %d commits over %d weeks, want %d over %d", s.Key, n, len(s.Weeks), byKey[s.Key], len(v.Weeks))
			}
		}
		// A range longer than 104 weeks is served as its last 104, and
		// says so; 104 weeks exactly is not cut.
		long := decodeAs[api.WeeklyView](t, f.do(t, f.reader, "GET", base+"/weekly?since=2000-01-01&until=2026-01-01", ""))
		if len(long.Weeks) != 104 || !long.Truncated || long.Weeks[103] != "2025-12-29" || len(long.Team) != 104 {
			t.Errorf("since 2000-01-01 until 2026-01-01: got %d weeks (%v … ), truncated %t, want the 104 to the week of 2025-12-29, truncated", len(long.Weeks), long.Weeks[:min(1, len(long.Weeks))], long.Truncated)
		}
		exact := decodeAs[api.WeeklyView](t, f.do(t, f.reader, "GET", base+"/weekly?since=2024-01-08&until=2025-12-29", ""))
		if len(exact.Weeks) != 104 || exact.Truncated {
			t.Errorf("104 weeks exactly: got %d weeks, truncated %t, want 104, not truncated", len(exact.Weeks), exact.Truncated)
		}
	})

	t.Run("CSV parses back to the JSON", func(t *testing.T) {
		students, _ := all[api.StudentView](t, f, course+"/students", 100)
		rows := getCSV(t, f, f.reader, course+"/students?limit=2")
		if !slices.Equal(rows[0], api.StudentCSVHeader) || len(rows) != len(students)+1 {
			t.Fatalf("got header %v and %d rows, want %v and %d", rows[0], len(rows)-1, api.StudentCSVHeader, len(students))
		}
		for i, s := range students {
			want := map[string]string{"key": s.Key, "name": s.Name, "username": s.Username, "team_name": s.TeamName,
				"commits": strconv.Itoa(s.Commits), "reviews_given": strconv.Itoa(s.ReviewsGiven), "reviews_received": strconv.Itoa(s.ReviewsReceived),
				"active_days": strconv.Itoa(s.ActiveDays), "additions": strconv.Itoa(s.Additions), "issues_closed": strconv.Itoa(s.IssuesClosed)}
			for col, w := range want {
				if got := rows[i+1][slices.Index(rows[0], col)]; got != w {
					t.Errorf("row %d, %s: got %q, want %q", i+1, col, got, w)
				}
			}
		}
		team := f.sc.Course.Teams[0]
		base := course + "/teams/g" + strconv.Itoa(team.GroupID) + "/share"
		share := decodeAs[api.ShareView](t, f.do(t, f.reader, "GET", base, ""))
		rows = getCSV(t, f, f.reader, base)
		if !slices.Equal(rows[0], api.ShareCSVHeader) || len(rows) != len(share.Students)+1 {
			t.Fatalf("got %v, want the header and %d rows", rows, len(share.Students))
		}
		for i, s := range share.Students {
			share, _ := strconv.ParseFloat(rows[i+1][3], 64)
			if rows[i+1][0] != s.Key || rows[i+1][2] != strconv.Itoa(s.Commits) || math.Abs(share-s.CommitsShare) > 1e-4 {
				t.Errorf("share row %d: got %v, want %+v", i+1, rows[i+1], s)
			}
		}
		// The same authorization as the JSON.
		if rec := csvRequest(f, "", base); rec.Code != http.StatusUnauthorized {
			t.Errorf("CSV without a key: got %d, want 401", rec.Code)
		}
	})
}

func names(ss []api.StudentView) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func studentByKey(t *testing.T, f *fixture, course, key string) api.StudentView {
	t.Helper()
	students, _ := all[api.StudentView](t, f, course+"/students", 100)
	for _, s := range students {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("student %s not listed", key)
	return api.StudentView{}
}

func mustDay(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

// sortedGini is the Gini coefficient by its sorted-values formula,
// (2 sum i*x(i)) / (n sum x) - (n+1)/n with x sorted ascending and i
// from 1: another computation than the API's pairwise one.
func sortedGini(xs []float64) float64 {
	x := slices.Clone(xs)
	sort.Float64s(x)
	n, total, weighted := float64(len(x)), 0.0, 0.0
	for i, v := range x {
		total += v
		weighted += float64(i+1) * v
	}
	if total == 0 {
		return 0
	}
	return 2*weighted/(n*total) - (n+1)/n
}

func csvRequest(f *fixture, key, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", target, nil)
	req.Header.Set("Accept", "text/csv")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// getCSV reads a CSV answer and parses it back.
func getCSV(t *testing.T, f *fixture, key, target string) [][]string {
	t.Helper()
	rec := csvRequest(f, key, target)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("GET %s as CSV: got %d %s %q", target, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	body := strings.TrimPrefix(rec.Body.String(), "\ufeff")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("GET %s: not CSV (%v): %q", target, err, body)
	}
	return rows
}

// TestGini checks the balance figure on known distributions.
func TestGini(t *testing.T) {
	for _, c := range []struct {
		x    []float64
		want float64
	}{
		{nil, 0}, {[]float64{0, 0}, 0}, {[]float64{5}, 0}, {[]float64{1, 1, 1, 1}, 0},
		{[]float64{0, 0, 0, 4}, 0.75}, {[]float64{1, 3}, 0.25}, {[]float64{2, 4, 6}, 2.0 / 9},
	} {
		if got := api.Gini(c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Gini(%v): got %v, want %v", c.x, got, c.want)
		}
	}
}
