package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// batchSize is BatchWriteItem's largest batch.
const batchSize = 25

// mustWrite is the items a sync has to write to take the store from prev
// (empty for a full sync) to t, counted from the simulator's data, not
// from what the sync chose to write, by kind:
//   - what GitLab changed: new commits and those a merge brought to the
//     default branch, new or updated merge requests
//     (each with its merge_request_extra), notes, issues and pipelines,
//     and the difference in members;
//   - per day a changed commit was authored on, its commit day's record
//     and summary (commit_day, commit_summary);
//   - per project with any change its derived items: the project (its
//     last_activity_at moved), project_summary, project_info,
//     project_stats, sync_state, and one person_stats and one student row
//     per member;
//   - the course's course_state and course_version, once a sync, and on
//     a full sync its teams.
//
// It is a floor: a sync that rewrites what did not change writes more.
func mustWrite(prev, t truth) map[string]int {
	full := len(prev.projects) == 0
	n := map[string]int{"course_state": 1, "course_version": 1}
	if full {
		n["team"] = t.groups
	}
	for pid, p := range t.projects {
		if !p.active {
			continue
		}
		q := prev.projects[pid]
		if full {
			n["member"] += p.members
		} else {
			n["member"] += max(p.members-q.members, q.members-p.members)
		}
		commits, days := commitChanges(q, p)
		n["commit"] += commits
		n["commit_day"] += days
		n["commit_summary"] += days
		n["merge_request"] += p.mrsChanged
		n["merge_request_extra"] += p.mrsChanged
		n["note"] += p.notesChanged
		n["issue"] += p.issuesChanged
		n["pipeline"] += p.pipelinesChanged
		n["project"]++
		n["project_summary"]++
		n["project_info"]++
		n["student"] += p.members
		n["project_stats"]++
		n["sync_state"]++
		n["person_stats"] += p.members
	}
	for k, v := range n {
		if v <= 0 {
			delete(n, k)
		}
	}
	return n
}

// writeFloor is the fewest write requests for n items: 25 a batch.
func writeFloor(n int) int { return (n + batchSize - 1) / batchSize }

// kinds formats counts by kind, largest first.
func kinds(m map[string]int) string {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
