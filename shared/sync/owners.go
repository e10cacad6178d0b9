package sync

import (
	"context"
	"errors"
	"strings"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// A project belongs to one course, and a sync never moves it to another.
// The API refuses a course whose group contains, or lies within, a
// recorded course (Overlapping); courses configured in GITPULSE_COURSES
// may still overlap, and for them the owner of a project is the course
// whose INFO item (PROJECT#<id> / INFO, written by the worker) names it,
// or, before any worker wrote one, the earliest added of the courses that
// hold it. The scheduler lists a project only in its owner and queues its
// tasks there only; the worker refuses a task whose course does not list
// the project (ErrNotInCourse), so it never re-homes one either. (The
// worker reads nothing more for this: each read before a task's first
// page is time a short invocation may not have.)

// owners knows, for one course being scheduled, the recorded courses
// that overlap it. With none (the usual case) it answers without reads.
type owners struct {
	s      *Scheduler
	course gitpulse.Course
	others []gitpulse.Course
}

// owners reads the recorded courses (one Query) and keeps those that
// overlap course.
func (s *Scheduler) owners(ctx context.Context, course gitpulse.Course) (owners, error) {
	o := owners{s: s, course: course}
	all, err := store.All[gitpulse.Course](ctx, s.Store, "COURSES", "COURSE#")
	if err != nil {
		return o, err
	}
	for _, c := range all {
		if c.ID == course.ID {
			continue
		}
		if _, _, ok := Overlapping(course.Path, []gitpulse.Course{c}); ok {
			o.others = append(o.others, c)
		}
	}
	return o, nil
}

// within reports whether the group at fullPath is (or lies within) the
// group of another course below this one: its teams are that course's.
func (o owners) within(fullPath string) bool {
	for _, c := range o.others {
		if under(fullPath, c.Path) && under(c.Path, o.course.Path) {
			return true
		}
	}
	return false
}

// elsewhere returns the course, other than the one being scheduled, that
// holds the project (0 when it is this course's): the course its INFO
// item names, if that course is one of the overlapping ones, else the
// earliest added (then lowest id) of the courses whose group holds it.
// It reads only for a project that another course's group holds too.
func (o owners) elsewhere(ctx context.Context, projectID int64, fullPath string) (int64, error) {
	var holders []gitpulse.Course
	for _, c := range o.others {
		if under(fullPath, c.Path) {
			holders = append(holders, c)
		}
	}
	if len(holders) == 0 {
		return 0, nil
	}
	var info ProjectInfo
	if err := o.s.Store.Get(ctx, store.ProjectPK(projectID), "INFO", &info); err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	if owner := info.Project.CourseID; owner != 0 {
		if owner == o.course.ID {
			return 0, nil
		}
		for _, c := range holders {
			if c.ID == owner {
				return owner, nil
			}
		}
	}
	first := o.course
	for _, c := range holders {
		if c.AddedAt.Before(first.AddedAt) || (c.AddedAt.Equal(first.AddedAt) && c.ID < first.ID) {
			first = c
		}
	}
	if first.ID == o.course.ID {
		return 0, nil
	}
	return first.ID, nil
}

// under reports whether path is group (or project) path within group
// (or equal to it), compared as GitLab does, without regard to case.
func under(path, group string) bool {
	p, g := strings.ToLower(strings.Trim(path, "/")), strings.ToLower(strings.Trim(group, "/"))
	return g != "" && (p == g || strings.HasPrefix(p, g+"/"))
}
