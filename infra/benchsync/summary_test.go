package main

import (
	"fmt"
	"testing"
	"time"
)

// verdictOf finds a row by figure.
func verdictOf(t *testing.T, rows []summaryRow, figure string) summaryRow {
	t.Helper()
	for _, r := range rows {
		if r.figure == figure {
			return r
		}
	}
	t.Fatalf("no summary row %q", figure)
	return summaryRow{}
}

// writes is a phase that sent n write requests for must items.
func writes(n int64, must int) phase {
	return phase{db: dbCounts{Wire: map[string]int64{"BatchWriteItem": n, "Query": 99}}, mustWrite: map[string]int{"commit": must}}
}

// baseResults is a run that meets every goal.
func baseResults() results {
	return results{
		full:  phase{total: 1000, requests: map[string]int{epCommits: 200}, db: writes(400, 10000).db, mustWrite: map[string]int{"commit": 10000}},
		quiet: phase{total: 44}, active: phase{total: 100, db: writes(8, 200).db, mustWrite: map[string]int{"commit": 200}},
		busy: phase{total: 44}, bound: 1000, activeBound: 100, commitBound: 200, quietGoal: 44, busyGoal: 44,
		recent: 40, projects: 40, largestCommits: 20000, same: true,
	}
}

func TestSummaryVerdicts(t *testing.T) {
	tests := []struct {
		name, figure, want string
		change             func(*results)
	}{
		{"requests at the goal", "full sync: GitLab requests / lower bound", pass, func(r *results) { r.full.total = 1100 }},
		{"requests above the goal", "full sync: GitLab requests / lower bound", miss, func(r *results) { r.full.total = 1101 }},
		{"commits read twice", "full sync: commit requests / bound (each page read once)", miss, func(r *results) { r.full.requests[epCommits] = 400 }},
		{"writes at the floor", "full sync: DynamoDB write requests / ceil(must-change items/25)", pass, func(*results) {}},
		// 20,456 commits rewritten for 128 new ones: 819 batches for a
		// floor of ceil(128/25) = 6.
		{"rewrites judged against what changed", "after activity: DynamoDB write requests / ceil(must-change items/25)", miss,
			func(r *results) {
				r.active.db = writes(819, 128).db
				r.active.mustWrite = map[string]int{"commit": 128}
			}},
		{"reads are no writes", "after activity: DynamoDB write requests / ceil(must-change items/25)", pass,
			func(r *results) { r.active.db.Wire["Query"] = 5000 }},
		{"a failed message", "full sync: failed messages (none can dead-letter)", miss, func(r *results) { r.full.failures = 1 }},
		{"memory on a small project", "worker peak heap - baseline, largest project", na, func(r *results) { r.largestCommits = 666 }},
		{"memory within the goal", "worker peak heap - baseline, largest project", pass, func(r *results) { r.full.large = peak{base: 10 << 20, high: 40 << 20} }},
		{"memory above the goal", "worker peak heap - baseline, largest project", miss, func(r *results) { r.full.large = peak{base: 10 << 20, high: 200 << 20} }},
		{"busy hour above one a project", "quiet, right after activity: GitLab requests", miss, func(r *results) { r.busy.total = 124 }},
		{"quiet sync queues a task", "quiet, hours after activity: tasks queued", miss, func(r *results) { r.quiet.course.Tasks = 1 }},
		{"store differs", "stored items = simulator truth", miss, func(r *results) { r.same = false }},
		{"wall time on moto", "full sync: wall time", info, func(*results) {}},
		{"after-activity bound of 0", "after activity: GitLab requests / lower bound", na, func(r *results) { r.activeBound = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseResults()
			tt.change(&r)
			if got := verdictOf(t, summarize(r), tt.figure); got.verdict != tt.want {
				t.Errorf("%s: got %s (%s, goal %s), want %s", tt.figure, got.verdict, got.value, got.goal, tt.want)
			}
		})
	}
}

func TestSummaryEveryRowJudged(t *testing.T) {
	for _, realistic := range []bool{false, true} {
		r := baseResults()
		r.realistic, r.perMinute = realistic, 600
		r.full.wall = time.Minute
		rows := summarize(r)
		if n := missed(rows); n != 0 {
			t.Errorf("realistic=%v: got %d missed goals on a run that meets them all, want 0: %+v", realistic, n, rows)
		}
		for _, row := range rows {
			if row.goal == "" || row.verdict == "" {
				t.Errorf("realistic=%v: row %q has goal %q, verdict %q: want both", realistic, row.figure, row.goal, row.verdict)
			}
		}
	}
}

func TestRealisticWallTime(t *testing.T) {
	// 1000 requests at 600/min take at least 100 s; the goal is 1.5 x.
	// Time in DynamoDB calls (moto's) is left out.
	const figure = "full sync: wall time outside DynamoDB calls, GitLab at 600/min with latency and faults"
	for _, tt := range []struct {
		wall time.Duration
		want string
	}{{150 * time.Second, pass}, {151 * time.Second, miss}, {400 * time.Second, pass}} {
		r := baseResults()
		r.realistic, r.perMinute, r.full.wall = true, 600, tt.wall
		if tt.wall > 300*time.Second {
			r.full.db.ReadBusy = 250 * time.Second
		}
		if got := verdictOf(t, summarize(r), figure); got.verdict != tt.want {
			t.Errorf("wall %s: got %s (goal %s), want %s", tt.wall, got.verdict, got.goal, tt.want)
		}
	}
}

// commitsOn is n commits by SHA ("c<i>" from i = from), each on the
// default branch or not.
func commitsOn(from, n int, onDefault bool, into map[string]bool) map[string]bool {
	if into == nil {
		into = map[string]bool{}
	}
	for i := from; i < from+n; i++ {
		into[fmt.Sprintf("c%d", i)] = onDefault
	}
	return into
}

func TestMustWrite(t *testing.T) {
	// Project 1 gains 123 commits, and 5 branch commits reach the default
	// branch (a merge): 128 commit items to write, on 3 days (a commit
	// day and its summary each).
	days := map[string]string{}
	for i := range 20451 {
		days[fmt.Sprintf("c%d", i)] = map[bool]string{true: "2026-11-30", false: fmt.Sprintf("2026-12-0%d", 1+i%2)}[i < 20328]
	}
	prev := truth{projects: map[int]projectTruth{
		1: {members: 4, commits: 20328, mrs: 10, onDefault: commitsOn(5, 20323, true, commitsOn(0, 5, false, nil))},
		2: {members: 3, commits: 50, onDefault: commitsOn(0, 50, true, nil)},
	}}
	now := truth{projects: map[int]projectTruth{
		1: {members: 4, commits: 20451, mrs: 11, active: true, mrsChanged: 1, notesChanged: 2, issuesChanged: 1, pipelinesChanged: 3,
			onDefault: commitsOn(0, 20451, true, nil), day: days},
		2: {members: 3, commits: 50, onDefault: commitsOn(0, 50, true, nil)},
	}}
	got := mustWrite(prev, now)
	want := map[string]int{"commit": 128, "merge_request": 1, "merge_request_extra": 1, "note": 2, "issue": 1, "pipeline": 3,
		"project": 1, "project_summary": 1, "project_info": 1, "project_stats": 1, "sync_state": 1, "person_stats": 4, "student": 4,
		"course_state": 1, "course_version": 1, "commit_day": 3, "commit_summary": 3}
	if len(got) != len(want) {
		t.Errorf("kinds: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d, want %d", k, got[k], v)
		}
	}
	if n := writeFloor(sum(got)); n != 7 {
		t.Errorf("floor: got %d batches, want ceil(157/25) = 7", n)
	}
	full := mustWrite(truth{}, truth{groups: 1, projects: map[int]projectTruth{1: {members: 4, commits: 100, mrs: 2, mrsChanged: 2, active: true,
		onDefault: commitsOn(0, 90, true, commitsOn(90, 10, false, nil))}}})
	if full["member"] != 4 || full["commit"] != 100 || full["merge_request"] != 2 || full["team"] != 1 {
		t.Errorf("full sync: got %v, want every member, commit, merge request and team", full)
	}
}
