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
// subgroup or project only. ChangedAt is when the set last changed.
type Staff struct {
	UserIDs   []int64   `json:"user_ids" dynamodbav:"user_ids"`
	ChangedAt time.Time `json:"changed_at" dynamodbav:"changed_at"`
}

// IdentityMapping is COURSE#<id> / IDENTITY#<lowercased e-mail>: commits
// of that author e-mail count as the member's, in every project of the
// course, stored and future.
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

// IdentitiesVersion is COURSE#<id> / IDENTITIES: when a mapping last
// changed.
type IdentitiesVersion struct {
	ChangedAt time.Time `json:"changed_at" dynamodbav:"changed_at"`
}

// Key helpers of the people items.
const (
	StaffSK      = "STAFF"
	IdentitiesSK = "IDENTITIES"
)

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
	maps, err := store.All[IdentityMapping](ctx, w.Store, cpk, "IDENTITY#")
	if err != nil {
		return pc, fmt.Errorf("read the course's identity mappings: %w", err)
	}
	for _, m := range maps {
		pc.Mapped[strings.ToLower(m.Email)] = m
	}
	return pc, nil
}

// staff lists the course group's members (GET /groups/:id/members/all)
// and stores them when the set changed. It returns when the people of
// the course last changed (staff or identity mappings): every project
// aggregated before that is aggregated again.
func (s *Scheduler) staff(ctx context.Context, api *gl.Client, courseID int64, now time.Time) (time.Time, error) {
	var ids []int64
	err := pages(ctx, func(page int64) (*gl.Response, error) {
		ms, resp, err := api.Groups.ListAllGroupMembers(courseID, &gl.ListGroupMembersOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: page}}, gl.WithContext(ctx))
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return resp, err
	}, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("list the course group's members: %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	cpk := store.CoursePK(courseID)
	var prev Staff
	if err := s.Store.Get(ctx, cpk, StaffSK, &prev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	changed := prev.ChangedAt
	if !slices.Equal(prev.UserIDs, ids) || prev.ChangedAt.IsZero() {
		changed = now
		if err := s.Store.Put(ctx, store.Item{PK: cpk, SK: StaffSK, Kind: "staff", Value: Staff{UserIDs: ids, ChangedAt: now}}); err != nil {
			return time.Time{}, err
		}
	}
	var iv IdentitiesVersion
	if err := s.Store.Get(ctx, cpk, IdentitiesSK, &iv); err != nil && !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	if iv.ChangedAt.After(changed) {
		changed = iv.ChangedAt
	}
	return changed, nil
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
