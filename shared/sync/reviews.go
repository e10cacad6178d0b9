// Who reviewed whom, and activity per ISO week: the parts of a project's
// aggregate the team routes (reviews, share, weekly) read.

package sync

import (
	"sort"
	"strings"
	"time"
)

// mrAcc is a merge request's author, who merged it, and when its
// approvals and merge count in the weekly figures: the merge, else the
// last update (GitLab's approvals list gives no time).
type mrAcc struct {
	Author, MergedBy int64
	At               time.Time
}

// week is the user's count of at's ISO week.
func (u *userAcc) week(at time.Time) *WeekCount {
	if u.Weeks == nil {
		u.Weeks = map[string]*WeekCount{}
	}
	return weekIn(u.Weeks, WeekOf(at))
}

// weekIn is the count of week in m, made when missing.
func weekIn(m map[string]*WeekCount, week string) *WeekCount {
	w := m[week]
	if w == nil {
		w = &WeekCount{Week: week}
		m[week] = w
	}
	return w
}

// WeekOf is the Monday (UTC, YYYY-MM-DD) of at's ISO week. Weeks and days
// are UTC throughout the sync: an instant counts in the UTC day and the
// UTC week (Monday 00:00 to Sunday 24:00, UTC) it falls in, whatever
// offset GitLab wrote it with. A commit made on Monday 2026-11-30 at
// 00:30+02:00 is Sunday 22:30 UTC and counts in the week of 2026-11-23.
func WeekOf(at time.Time) string {
	d := at.UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)).Format(time.DateOnly)
}

// pairs counts who reviewed whom: review notes, approvals and merges of
// another's merge request. Between students (neither side a bot or
// staff), each also counts in the reviewer's reviews given (and weekly
// reviews) and the author's reviews received: a teacher's comment is not
// a peer review.
func (a *aggAcc) pairs(byUser map[int64]*PersonStats, get func(int64, string, string) *PersonStats) []ReviewPair {
	person := func(id int64) *PersonStats {
		if ps := byUser[id]; ps != nil {
			return ps
		}
		return get(id, "", "")
	}
	byPair := map[[2]int64]*ReviewPair{}
	count := func(reviewer, author int64, week string, n int) *ReviewPair {
		k := [2]int64{reviewer, author}
		if byPair[k] == nil {
			byPair[k] = &ReviewPair{Reviewer: "u" + itoa(reviewer), Author: "u" + itoa(author)}
		}
		r, au := person(reviewer), person(author)
		if student(r) && student(au) {
			r.Reviews += n
			au.ReviewsReceived += n
			weekIn(r.Weeks, week).Reviews += n
		}
		return byPair[k]
	}
	for k, n := range a.NotePairs {
		parts := strings.Split(k, "/")
		if len(parts) != 3 {
			continue
		}
		rid, aid := atoi(parts[0]), atoi(parts[1])
		if rid == 0 || aid == 0 {
			continue
		}
		count(rid, aid, parts[2], n).Notes += n
	}
	for iid, m := range a.MRs {
		if m.Author == 0 {
			continue
		}
		week := WeekOf(m.At)
		for _, id := range a.Approved[iid] {
			if id != m.Author {
				count(id, m.Author, week, 1).Approvals++
			}
		}
		if m.MergedBy != 0 && m.MergedBy != m.Author {
			count(m.MergedBy, m.Author, week, 1).Merges++
		}
	}
	out := make([]ReviewPair, 0, len(byPair))
	for _, p := range byPair {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Reviewer != out[j].Reviewer {
			return out[i].Reviewer < out[j].Reviewer
		}
		return out[i].Author < out[j].Author
	})
	return out
}
