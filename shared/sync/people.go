// Who is who in a course: the staff (members of the course group itself),
// the commit identities an administrator mapped to members, and when
// either last changed (the scheduler then re-aggregates every project).

package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/store"
)

// Staff is COURSE#<id> / STAFF: the members of the course group itself,
// inherited included (teachers, assistants: whoever GitLab lists at any
// role on the course group). Students are members of their team's
// subgroup or project only. ChangedAt is when the set last changed,
// CheckedAt when GitLab was last asked. Access holds each member's access
// level on the course group (the highest GitLab lists, inherited included):
// the API lets a signed-in user see the course at Reporter or higher and
// administer it at Maintainer or higher.
type Staff struct {
	UserIDs   []int64       `json:"user_ids" dynamodbav:"user_ids"`
	Access    []StaffAccess `json:"access,omitempty" dynamodbav:"access,omitempty"`
	ChangedAt time.Time     `json:"changed_at" dynamodbav:"changed_at"`
	CheckedAt time.Time     `json:"checked_at" dynamodbav:"checked_at"`
}

// StaffAccess is one member's access level on the course group (GitLab's
// access_level: 10 Guest, 15 Planner, 20 Reporter, 30 Developer,
// 40 Maintainer, 50 Owner).
type StaffAccess struct {
	UserID int64 `json:"user_id" dynamodbav:"user_id"`
	Level  int   `json:"level" dynamodbav:"level"`
}

// GitLab access levels the API's authorization uses.
const (
	AccessReporter   = 20
	AccessMaintainer = 40
)

// Level returns userID's access level on the course group, 0 when the
// user is not a member.
func (st Staff) Level(userID int64) int {
	for _, a := range st.Access {
		if a.UserID == userID {
			return a.Level
		}
	}
	return 0
}

// StaffMaxAge is how often the scheduler asks GitLab for the course
// group's members: staff change rarely, and a quiet run costs no request
// for them.
const StaffMaxAge = time.Hour

// IdentityMapping is IDMAP#<course id> / IDENTITY#<lowercased e-mail>:
// commits of that author e-mail count as the member's, in every project
// of the course, stored and future. The mappings have a partition of their
// own: the API writes them (and only them, beside the course records).
type IdentityMapping struct {
	Email    string    `json:"email" dynamodbav:"email"`
	UserID   int64     `json:"user_id" dynamodbav:"user_id"`
	Username string    `json:"username" dynamodbav:"username"`
	Name     string    `json:"name" dynamodbav:"name"`
	MappedAt time.Time `json:"mapped_at" dynamodbav:"mapped_at"`
	MappedBy string    `json:"mapped_by" dynamodbav:"mapped_by"` // the API key's name
	// ProjectIDs are the projects whose commits showed the identity.
	ProjectIDs []int64 `json:"project_ids" dynamodbav:"project_ids"`
}

// IdentitiesVersion is IDMAP#<course id> / VERSION: when a mapping last
// changed.
type IdentitiesVersion struct {
	ChangedAt time.Time `json:"changed_at" dynamodbav:"changed_at"`
}

// Key helpers of the people items.
const (
	StaffSK      = "STAFF"
	IdentitiesSK = "VERSION"
)

// IdentityPK is the partition of a course's identity mappings.
func IdentityPK(courseID int64) string { return "IDMAP#" + strconv.FormatInt(courseID, 10) }

// IdentitySK is the sort key of an identity mapping.
func IdentitySK(email string) string { return "IDENTITY#" + strings.ToLower(email) }

// People is what an aggregate needs to know of the course's people.
type People struct {
	Staff  map[int64]bool
	Mapped map[string]IdentityMapping // by lowercased e-mail
}

// people reads the course's staff and identity mappings (one GetItem,
// one Query).
func (w *Worker) people(ctx context.Context, courseID int64) (People, error) {
	pc := People{Staff: map[int64]bool{}, Mapped: map[string]IdentityMapping{}}
	cpk := store.CoursePK(courseID)
	var st Staff
	if err := w.Store.Get(ctx, cpk, StaffSK, &st); err != nil && !errors.Is(err, store.ErrNotFound) {
		return pc, fmt.Errorf("read the course's staff: %w", err)
	}
	for _, id := range st.UserIDs {
		pc.Staff[id] = true
	}
	maps, err := store.All[IdentityMapping](ctx, w.Store, IdentityPK(courseID), "IDENTITY#")
	if err != nil {
		return pc, fmt.Errorf("read the course's identity mappings: %w", err)
	}
	for _, m := range maps {
		pc.Mapped[strings.ToLower(m.Email)] = m
	}
	return pc, nil
}

// staff lists the course group's members (GET /groups/:id/members/all)
// at most once per StaffMaxAge and stores them. It returns when the
// people of the course last changed (staff or identity mappings): every
// project aggregated before that is aggregated again.
func (s *Scheduler) staff(ctx context.Context, api *gl.Client, courseID int64, now time.Time) (time.Time, error) {
	cpk := store.CoursePK(courseID)
	var prev Staff
	if err := s.Store.Get(ctx, cpk, StaffSK, &prev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	changed := prev.ChangedAt
	// An item stored before access levels were kept is listed again at
	// once: without them no teacher could sign in for up to an hour.
	noLevels := len(prev.UserIDs) > 0 && len(prev.Access) == 0
	if prev.CheckedAt.IsZero() || now.Sub(prev.CheckedAt) >= StaffMaxAge || noLevels {
		var err error
		if changed, err = s.listStaff(ctx, api, courseID, prev, now); err != nil {
			return time.Time{}, err
		}
	}
	var iv IdentitiesVersion
	if err := s.Store.Get(ctx, IdentityPK(courseID), IdentitiesSK, &iv); err != nil && !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	if iv.ChangedAt.After(changed) {
		changed = iv.ChangedAt
	}
	return changed, nil
}

// listStaff asks GitLab for the course group's members and stores them
// with when they were checked (and changed, when the set differs from
// prev). It returns when the set last changed.
func (s *Scheduler) listStaff(ctx context.Context, api *gl.Client, courseID int64, prev Staff, now time.Time) (time.Time, error) {
	var ids []int64
	levels := map[int64]int{}
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		ms, resp, err := api.Groups.ListAllGroupMembers(courseID, &gl.ListGroupMembersOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
		for _, m := range ms {
			ids = append(ids, m.ID)
			levels[m.ID] = max(levels[m.ID], int(m.AccessLevel))
		}
		return resp, err
	}, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("list the course group's members: %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	st := Staff{UserIDs: ids, ChangedAt: prev.ChangedAt, CheckedAt: now}
	for _, id := range ids {
		st.Access = append(st.Access, StaffAccess{UserID: id, Level: levels[id]})
	}
	if !slices.Equal(prev.UserIDs, ids) || prev.ChangedAt.IsZero() {
		st.ChangedAt = now
	}
	if err := s.Store.Put(ctx, store.Item{PK: store.CoursePK(courseID), SK: StaffSK, Kind: "staff", Value: st}); err != nil {
		return time.Time{}, err
	}
	return st.ChangedAt, nil
}

// profile is COURSE#<id> / USER#<user id>: a member's public e-mail as
// GET /users/:id last gave it (GitLab's members API does not carry it).
type profile struct {
	PublicEmail string    `dynamodbav:"public_email"`
	FetchedAt   time.Time `dynamodbav:"fetched_at"`
}

// profileMaxAge is how long a public e-mail is used before it is asked
// for again: one GitLab call per member and week at most.
const profileMaxAge = 7 * 24 * time.Hour

// publicEmail is the public e-mail of user id ("" for none), from the
// course's cache or GET /users/:id. A failed lookup is logged and gives
// "" (or the cached value): it only loses one signal of commit
// attribution, never the sync. A fetched profile is cached through the
// run's writer, in the batches of the task's items.
func (w *Worker) publicEmail(ctx context.Context, api *gl.Client, r *run, id int64) string {
	cpk, sk := store.CoursePK(r.t.CourseID), "USER#"+itoa(id)
	var p profile
	held, err := r.w.Held(cpk, sk, &p) // fetched by another task of the batch
	if !held {
		err = w.Store.Get(ctx, cpk, sk, &p)
	}
	if err == nil && w.Now().Sub(p.FetchedAt) < profileMaxAge {
		return p.PublicEmail
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		w.Logger.WarnContext(ctx, "member profile not read", "user_id", id, "error", err.Error())
		return ""
	}
	u, _, err := api.Users.GetUser(id, gl.GetUsersOptions{}, gl.WithContext(ctx))
	if err != nil {
		w.Logger.WarnContext(ctx, "member profile not fetched from GitLab", "user_id", id, "error", err.Error())
		return p.PublicEmail
	}
	p = profile{PublicEmail: strings.ToLower(strings.TrimSpace(u.PublicEmail)), FetchedAt: w.Now().UTC()}
	if err := r.w.Put(ctx, store.Item{PK: cpk, SK: sk, Kind: "member_profile", Value: p}); err != nil {
		w.Logger.WarnContext(ctx, "member profile not stored", "user_id", id, "error", err.Error())
	}
	return p.PublicEmail
}

// SortName is how the students listing orders people: by name, case
// folded, then by key (the sort key holds it, so one Query reads people
// in name order).
func SortName(name, key string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.ReplaceAll(n, "#", " ")
	if n == "" {
		n = "~" // nameless last
	}
	return n + "#" + key
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
