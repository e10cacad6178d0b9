package sim_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// TestCommitDatesKeepTheirOffset: as in GitLab, a commit's authored_date,
// committed_date and created_at are written with the UTC offset the commit
// was made with and milliseconds ("2026-11-30T00:30:00.000+02:00"); a
// commit made in UTC shows "+00:00"; since and until compare instants; a
// push hook's timestamp keeps the offset too.
func TestCommitDatesKeepTheirOffset(t *testing.T) {
	w := newCourseWorld(t)
	alice := w.users["alice"].ID
	url, got := receiver(t)
	if _, err := w.sim.AddProjectHook(sim.ProjectHook{ProjectID: w.app1.ID, URL: url, Token: "s3cret", PushEvents: true}); err != nil {
		t.Fatal(err)
	}
	plus2 := time.FixedZone("CEST", 2*3600)
	at := time.Date(2026, 11, 30, 0, 30, 0, 0, plus2) // 2026-11-29 22:30 UTC
	w.clock.Set(at.Add(time.Hour))
	zoned, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Title: "zoned", At: at, Zone: plus2})
	if err != nil {
		t.Fatal(err)
	}
	// Given in UTC, written in India's zone: the offset is the zone's.
	india := time.FixedZone("IST", 5*3600+1800)
	if _, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Title: "india", At: at.UTC().Add(time.Minute), Zone: india}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Title: "utc", At: at.UTC().Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if !zoned.CommittedDate.Equal(time.Date(2026, 11, 29, 22, 30, 0, 0, time.UTC)) {
		t.Errorf("committed date: got %v, want 2026-11-29 22:30 UTC", zoned.CommittedDate)
	}

	_, body := w.get(t, fmt.Sprintf("/api/v4/projects/%d/repository/commits", w.app1.ID), "PRIVATE-TOKEN", w.tokens["alice"])
	var raw []map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("commits JSON: %v\n%s", err, body)
	}
	want := map[string]string{
		"zoned": "2026-11-30T00:30:00.000+02:00",
		"india": "2026-11-30T04:01:00.000+05:30",
		"utc":   "2026-11-29T22:32:00.000+00:00",
	}
	for _, c := range raw {
		title, _ := c["title"].(string)
		for _, field := range []string{"authored_date", "committed_date", "created_at"} {
			if c[field] != want[title] {
				t.Errorf("commit %q %s: got %v, want %s", title, field, c[field], want[title])
			}
		}
	}
	if len(raw) != len(want) {
		t.Errorf("commits: got %d, want %d", len(raw), len(want))
	}

	// client-go reads the instant; since (in UTC) takes the commit made
	// at 00:30+02:00 as the 22:30 UTC it is.
	cl := w.as(t, "alice")
	since := time.Date(2026, 11, 29, 22, 30, 0, 0, time.UTC)
	cs := list[*gitlab.Commit](t, "ListCommits since")(cl.Commits.ListCommits(w.app1.ID, &gitlab.ListCommitsOptions{Since: &since, Until: &since}))
	if len(cs) != 1 || cs[0].Title != "zoned" || !cs[0].AuthoredDate.Equal(since) {
		t.Errorf("since = until = 22:30 UTC: got %d commits (%+v), want the zoned one at that instant", len(cs), cs)
	} else if _, off := cs[0].AuthoredDate.Zone(); off != 2*3600 {
		t.Errorf("client-go authored date offset: got %ds, want 7200s", off)
	}

	w.sim.WaitHooks()
	var stamps []string
	for _, r := range got() {
		if ev, ok := r.event.(*gitlab.PushEvent); ok && len(ev.Commits) == 1 && ev.Commits[0].Timestamp != nil {
			stamps = append(stamps, ev.Commits[0].Timestamp.Format(time.RFC3339))
		}
	}
	// Deliveries are asynchronous: their order is not the pushes'.
	if !slices.Contains(stamps, "2026-11-30T00:30:00+02:00") || !slices.Contains(stamps, "2026-11-30T04:01:00+05:30") {
		t.Errorf("push hook timestamps: got %v, want 2026-11-30T00:30:00+02:00 and 2026-11-30T04:01:00+05:30 among them", stamps)
	}
}

// TestGeneratedCommitsHaveOffsets: a generated course's authors write
// their commits in several time zones, not all in UTC.
func TestGeneratedCommitsHaveOffsets(t *testing.T) {
	e := newEnv(t)
	c := e.sim.GenerateCourse(1, smallCourse)
	offsets := map[int]bool{}
	for _, id := range c.ProjectIDs {
		for _, cm := range e.sim.AllCommits(id) {
			_, off := cm.CommittedDate.Zone()
			offsets[off] = true
		}
	}
	if len(offsets) < 3 {
		t.Errorf("generated commit offsets: got %v (seconds east of UTC), want at least 3 different", offsets)
	}
}
