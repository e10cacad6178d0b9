package sim_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// TestBranchesList: GET /projects/:id/repository/branches lists the
// branches by name with their heads, merged and default flags, search and
// counted pages, as lib/api/branches.rb does.
func TestBranchesList(t *testing.T) {
	w := newCourseWorld(t)
	alice := w.users["alice"].ID
	cl := w.as(t, "alice")
	if bs, _, err := cl.Branches.ListBranches(w.deep.ID, nil); err != nil || len(bs) != 0 {
		t.Errorf("empty repository: got %d branches (%v), want none", len(bs), err)
	}
	push := func(branch, title string) sim.Commit {
		t.Helper()
		c, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Branch: branch, Title: title})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	push("main", "base")
	mr, err := w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: alice, SourceBranch: "feature/a"})
	if err != nil {
		t.Fatal(err)
	}
	push("feature/a", "a1")
	b1 := push("Feature/B", "b1")
	if _, err := w.sim.MergeMR(w.app1.ID, mr.IID, alice); err != nil {
		t.Fatal(err)
	}
	bs, _, err := cl.Branches.ListBranches(w.app1.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, fmt.Sprintf("%s merged=%t default=%t protected=%t", b.Name, b.Merged, b.Default, b.Protected))
	}
	want := []string{"Feature/B merged=false default=false protected=false", "feature/a merged=true default=false protected=false", "main merged=false default=true protected=true"}
	if !slices.Equal(got, want) {
		t.Errorf("branches: got %q, want %q", got, want)
	}
	if bs[0].Commit == nil || bs[0].Commit.ID != b1.SHA || !strings.HasSuffix(bs[0].WebURL, "/-/tree/Feature/B") {
		t.Errorf("Feature/B: got head %+v, web_url %q; want %s", bs[0].Commit, bs[0].WebURL, b1.SHA)
	}
	for search, want := range map[string]int{"feature": 2, "^feat": 2, "/b$": 1, "^main$": 1, "x": 0} {
		if bs, _, err := cl.Branches.ListBranches(w.app1.ID, &gitlab.ListBranchesOptions{Search: gitlab.Ptr(search)}); err != nil || len(bs) != want {
			t.Errorf("search %q: got %d (%v), want %d", search, len(bs), err, want)
		}
	}
	if items, total, requests := w.paginated(t, fmt.Sprintf("/api/v4/projects/%d/repository/branches", w.app1.ID), w.tokens["alice"], 2); items != 3 || total != "3" || requests != 2 {
		t.Errorf("per_page=2: got %d items in %d requests, X-Total %q; want 3 in 2, 3", items, requests, total)
	}
	_, _, err = w.as(t, "guest").Branches.ListBranches(w.app1.ID, nil)
	wantFailure(t, "guest lists branches", err, 403, `{"message":"403 Forbidden"}`)
}

// TestCommitRanges: ref_name takes a git revision: A..B lists what B
// reaches and A does not (a walk of the parents), a SHA what it reaches,
// so a sync can read exactly what a branch gained since its last head.
func TestCommitRanges(t *testing.T) {
	w := newCourseWorld(t)
	alice := w.users["alice"].ID
	cl := w.as(t, "alice")
	push := func(branch, title string) sim.Commit {
		t.Helper()
		c, err := w.sim.AddCommit(w.app1.ID, sim.CommitSpec{AuthorID: alice, Branch: branch, Title: title, Additions: 3})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	titles := func(ref string) []string {
		t.Helper()
		cs, _, err := cl.Commits.ListCommits(w.app1.ID, &gitlab.ListCommitsOptions{RefName: gitlab.Ptr(ref), WithStats: gitlab.Ptr(true), ListOptions: gitlab.ListOptions{PerPage: 100}})
		if err != nil {
			t.Fatalf("ref %s: %v", ref, err)
		}
		var out []string
		for _, c := range cs {
			if c.Stats == nil {
				t.Errorf("ref %s: commit %s without stats", ref, c.Title)
			}
			out = append(out, c.Title)
		}
		return out
	}
	m1 := push("main", "m1")
	mr, err := w.sim.AddMergeRequest(w.app1.ID, sim.MRSpec{AuthorID: alice, SourceBranch: "feature"})
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Set(w.clock.Now().Add(1e9))
	push("feature", "f1")
	w.clock.Set(w.clock.Now().Add(1e9))
	f2 := push("feature", "f2")
	w.clock.Set(w.clock.Now().Add(1e9))
	m2 := push("main", "m2")
	for _, tc := range []struct {
		ref  string
		want []string
	}{
		{"main..feature", []string{"f2", "f1"}},
		{"feature..main", []string{"m2"}},
		{m1.SHA + "..main", []string{"m2"}},
		{m1.SHA[:8] + "..feature", []string{"f2", "f1"}},
		{f2.SHA, []string{"f2", "f1", "m1"}},
		{"main..nothing", nil},
		{"nothing..main", nil},
	} {
		if got := titles(tc.ref); !slices.Equal(got, tc.want) {
			t.Errorf("ref_name=%s: got %q, want %q", tc.ref, got, tc.want)
		}
	}
	w.clock.Set(w.clock.Now().Add(1e9))
	if _, err := w.sim.MergeMR(w.app1.ID, mr.IID, alice); err != nil {
		t.Fatal(err)
	}
	// From before the merge: the merge commit and the branch's commits.
	got := titles(m2.SHA + "..main")
	if len(got) != 3 || !strings.HasPrefix(got[0], "Merge branch 'feature'") || !slices.Contains(got, "f1") || !slices.Contains(got, "f2") {
		t.Errorf("range over the merge: got %q, want the merge commit, f2 and f1", got)
	}
	if got := titles("main..feature"); len(got) != 0 {
		t.Errorf("main..feature after the merge: got %q, want nothing", got)
	}
}

// TestRevisionWalkAgreesWithTheModel: on a generated course with added
// activity, what the default branch's head reaches by its parents is
// exactly the commits the simulator marks as on the default branch.
func TestRevisionWalkAgreesWithTheModel(t *testing.T) {
	e := newEnv(t)
	c := e.sim.GenerateCourse(3, smallCourse)
	if _, err := e.sim.AddActivity(4, c, 60); err != nil {
		t.Fatal(err)
	}
	cl := e.client(t, c.TeacherToken)
	for _, pid := range c.ProjectIDs {
		want := map[string]bool{}
		for _, cm := range e.sim.Commits(pid) {
			want[cm.SHA] = true
		}
		var head string
		for _, b := range e.sim.Branches(pid) {
			if b.Default {
				head = b.Head
			}
		}
		got := map[string]bool{}
		for cm, err := range gitlab.Scan2(func(p gitlab.PaginationOptionFunc) ([]*gitlab.Commit, *gitlab.Response, error) {
			return cl.Commits.ListCommits(pid, &gitlab.ListCommitsOptions{RefName: gitlab.Ptr(head), ListOptions: gitlab.ListOptions{PerPage: 100}}, p)
		}) {
			if err != nil {
				t.Fatal(err)
			}
			got[cm.ID] = true
		}
		if len(got) != len(want) {
			t.Errorf("project %d: the walk from %s reaches %d commits, the model has %d on the default branch", pid, head[:8], len(got), len(want))
		}
		for sha := range want {
			if !got[sha] {
				t.Errorf("project %d: commit %s is on the default branch but the walk does not reach it", pid, sha[:8])
				break
			}
		}
		// A branch's name lists what its head reaches, as git log does.
		list := func(ref string) []string {
			var out []string
			for cm, err := range gitlab.Scan2(func(p gitlab.PaginationOptionFunc) ([]*gitlab.Commit, *gitlab.Response, error) {
				return cl.Commits.ListCommits(pid, &gitlab.ListCommitsOptions{RefName: gitlab.Ptr(ref), ListOptions: gitlab.ListOptions{PerPage: 100}}, p)
			}) {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, cm.ID)
			}
			return out
		}
		for _, b := range e.sim.Branches(pid) {
			if byName, byHead := list(b.Name), list(b.Head); !slices.Equal(byName, byHead) {
				t.Errorf("project %d: ref_name=%s lists %d commits, its head %s reaches %d", pid, b.Name, len(byName), b.Head[:8], len(byHead))
			}
		}
	}
}
