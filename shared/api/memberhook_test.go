package api_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// memberHookBody is a "Member Hook" payload as GitLab sends it to a group
// webhook (docs.gitlab.com/user/project/integrations/webhook_events,
// "Group member events": user_add_to_group, user_update_for_group,
// user_remove_from_group). GitLab triggers member events for group
// webhooks only: project hooks, the ones POST /courses/{id}/hooks
// registers, never receive them, so they reach GitPulse through a group
// hook on the course group added by hand (GitLab Premium). The simulator
// has no group hooks, so the test builds the payload from the documented
// example with the simulator's group and user.
func memberHookBody(event string, g sim.Team, u sim.User, access string) string {
	return fmt.Sprintf(`{"created_at":"2026-11-30T09:15:00Z","updated_at":"2026-11-30T09:15:00Z","group_name":%q,"group_path":%q,`+
		`"group_id":%d,"user_username":%q,"user_name":%q,"user_email":"[REDACTED]","user_id":%d,"group_access":%q,`+
		`"group_plan":null,"expires_at":null,"event_name":%q}`,
		path.Base(g.Path), path.Base(g.Path), g.GroupID, u.Username, u.Name, u.ID, access, event)
}

// TestMemberHookRereadsMembers sends GitLab's Member Hook payloads for a
// team group through the webhook route: each queues one hook task per
// project of that team, and the task re-reads the members, so that a
// member added to the group shows in the store, an access change is
// stored, and a removed member goes.
func TestMemberHookRereadsMembers(t *testing.T) {
	f := newFixtureOf(t, sim.CourseSpec{Path: "api/members", Teams: 2, StudentsPerTeam: 1, Weeks: 1})
	ctx := context.Background()
	course := strconv.FormatInt(f.sc.CourseID, 10)
	reg := f.do(t, f.admin, "POST", "/api/v1/courses/"+course+"/hooks", `{"url":"https://gitpulse.example.edu/api/v1/hooks/gitlab"}`)
	secret := decodeAs[struct {
		Secret string `json:"secret"`
	}](t, reg).Secret
	if reg.Code != 200 || secret == "" {
		t.Fatalf("register hooks: got %d %s, want 200 and a secret", reg.Code, reg.Body.String())
	}
	team := f.sc.Course.Teams[0]
	var wantPIDs []int64
	for _, pid := range team.ProjectIDs {
		wantPIDs = append(wantPIDs, int64(pid))
	}
	newbie := f.sc.Sim.AddUser("newbie", "New Bie", false)
	send := func(event, access string) {
		t.Helper()
		rec := f.do(t, "", "POST", "/api/v1/hooks/gitlab", memberHookBody(event, team, newbie, access),
			"X-Gitlab-Event", "Member Hook", "X-Gitlab-Token", secret, "Content-Type", "application/json",
			"X-Gitlab-Event-UUID", fmt.Sprintf("%s-%d", event, time.Now().UnixNano()))
		ans := decodeAs[api.HookAnswer](t, rec)
		got := slices.Clone(ans.ProjectID)
		slices.Sort(got)
		slices.Sort(wantPIDs)
		if rec.Code != 202 || ans.Status != "queued" || !slices.Equal(got, wantPIDs) {
			t.Fatalf("%s: got %d %s, want 202 queued for the team's projects %v", event, rec.Code, rec.Body.String(), wantPIDs)
		}
		f.sc.Drain(t)
	}
	member := func(pid int) (gitpulse.Member, error) {
		var m gitpulse.Member
		err := f.sc.Store.Get(ctx, store.ProjectPK(int64(pid)), "MEMBER#"+strconv.Itoa(newbie.ID), &m)
		return m, err
	}

	if err := f.sc.Sim.AddMember("group", team.GroupID, newbie.ID, 30); err != nil {
		t.Fatal(err)
	}
	send("user_add_to_group", "Developer")
	for _, pid := range team.ProjectIDs {
		if m, err := member(pid); err != nil || m.AccessLevel != 30 {
			t.Errorf("after user_add_to_group, project %d: got member %+v (%v), want newbie as Developer (30)", pid, m, err)
		}
	}
	if _, err := member(f.sc.Course.Teams[1].ProjectIDs[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the other team's project: got newbie (%v), want no member item", err)
	}

	if err := f.sc.Sim.AddMember("group", team.GroupID, newbie.ID, 40); err != nil {
		t.Fatal(err)
	}
	send("user_update_for_group", "Maintainer")
	for _, pid := range team.ProjectIDs {
		if m, err := member(pid); err != nil || m.AccessLevel != 40 {
			t.Errorf("after user_update_for_group, project %d: got member %+v (%v), want newbie as Maintainer (40)", pid, m, err)
		}
	}

	if err := f.sc.Sim.RemoveMember("group", team.GroupID, newbie.ID); err != nil {
		t.Fatal(err)
	}
	send("user_remove_from_group", "Maintainer")
	for _, pid := range team.ProjectIDs {
		if m, err := member(pid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after user_remove_from_group, project %d: got member %+v (%v), want none", pid, m, err)
		}
	}
}
