package main

import (
	"fmt"
	"strings"
)

// maxReads is the most DynamoDB calls the teams and contributors routes
// may make per request.
const maxReads = 5

// goal is one goal and whether the run met it.
type goal struct {
	Name   string `json:"goal"`
	Detail string `json:"detail"`
	Pass   bool   `json:"pass"`
}

// runs are the measurements the goals judge.
type runs struct {
	base, concurrent, scaled []result
	fixtures                 []*fixture // every fixture measured (for the totals)
}

// judge checks the goals. Without a scale check (scaled empty) the
// scale goal is left out.
func judge(r runs) []goal {
	all := append(append(append([]result(nil), r.base...), r.concurrent...), r.scaled...)
	var goals []goal

	ok, parts := true, []string(nil)
	for _, res := range all {
		if !res.route.list {
			continue
		}
		q := res.perRequest()["Query"]
		ok = ok && q.Min == 1 && q.Max == 1
		parts = append(parts, fmt.Sprintf("%s%s %s", res.route.name, res.label, minMax(q)))
	}
	goals = append(goals, goal{"list routes (teams, students, commits): exactly 1 Query per page", strings.Join(parts, "; "), ok})

	ok, parts = true, nil
	for _, res := range all {
		if !res.route.bounded {
			continue
		}
		t := res.perRequest()["total"]
		ok = ok && t.Max <= maxReads
		parts = append(parts, fmt.Sprintf("%s%s max %d", res.route.name, res.label, t.Max))
	}
	goals = append(goals, goal{fmt.Sprintf("teams and contributors: at most %d DynamoDB reads per request", maxReads), strings.Join(parts, "; "), ok})

	scans, total, unattributed := 0, 0, 0
	for _, f := range r.fixtures {
		c := f.db.all.snapshot()
		scans += c["Scan"]
		total += c.total()
		unattributed += f.db.unattributed.snapshot().total()
	}
	goals = append(goals, goal{"no Scan, ever", fmt.Sprintf("%d Scan of %d DynamoDB calls", scans, total), scans == 0})

	bad, answers := 0, 0
	parts = nil
	for _, res := range all {
		answers += len(res.samples)
		if u := res.unexpected(); u > 0 {
			bad += u
			parts = append(parts, fmt.Sprintf("%s%s: %d not %d (%s)", res.route.name, res.label, u, res.route.want, statusList(res.statuses())))
		}
	}
	detail := fmt.Sprintf("%d answers measured (and warm-ups), all as expected", answers)
	if bad > 0 {
		detail = strings.Join(parts, "; ")
	}
	goals = append(goals, goal{"every answer 200 (304 for revalidation)", detail, bad == 0})

	goals = append(goals, goal{"(measurement) every DynamoDB call made with its request's context",
		fmt.Sprintf("%d calls outside a request", unattributed), unattributed == 0})

	if len(r.scaled) > 0 {
		ok, parts = true, nil
		for _, big := range r.scaled {
			small, found := find(r.base, big.route.name)
			if !found {
				continue
			}
			s, b := small.perRequest(), big.perRequest()
			grew := b["total"].Max > s["total"].Max
			for _, op := range opNames(b) {
				grew = grew || b[op].Max > s[op].Max
			}
			ok = ok && !grew
			parts = append(parts, fmt.Sprintf("%s %d → %d", big.route.name, s["total"].Max, b["total"].Max))
		}
		goals = append(goals, goal{"reads per request do not grow on a course twice the size (max, by operation)", strings.Join(parts, "; "), ok})
	}
	return goals
}

// minMax formats a per-request range: "1" when fixed, "0-2" otherwise.
func minMax(s opStat) string {
	if s.Min == s.Max {
		return fmt.Sprint(s.Max)
	}
	return fmt.Sprintf("%d-%d", s.Min, s.Max)
}

// find is the result of the route named name.
func find(rs []result, name string) (result, bool) {
	for _, r := range rs {
		if r.route.name == name {
			return r, true
		}
	}
	return result{}, false
}

// passed reports whether every goal passed.
func passed(goals []goal) bool {
	for _, g := range goals {
		if !g.Pass {
			return false
		}
	}
	return true
}
