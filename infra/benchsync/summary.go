package main

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// The goals the summary judges (issues 14 and 19).
const (
	goalRequestRatio = 1.1
	// goalActivityRatio: issue 14's after-activity goal, and issue 19's
	// "commits read once" on a big project.
	goalActivityRatio = 1.05
	// goalWriteRatio: DynamoDB write requests against ceil(items that had
	// to change / 25), on a full sync; goalActivityWriteRatio after
	// activity (issue 14: "<= 1.10 x ceil(changed items/25)").
	goalWriteRatio         = 1.05
	goalActivityWriteRatio = 1.10
	goalWorkerMemory       = 128 << 20
	// memoryProjectCommits is the project size the memory goal is judged
	// on (make bench-sync-big): smaller projects prove nothing about it.
	memoryProjectCommits = 20000
	// goalRealisticWall: the realistic run's full sync within this factor
	// of the time the rate limit alone forces (its lower bound of requests
	// at the limit).
	goalRealisticWall = 1.5
)

// Verdicts. INFO marks a figure with no goal of its own (wall times on
// moto, which measure moto), N/A a goal this run cannot judge.
const (
	pass = "PASS"
	miss = "MISS"
	info = "INFO"
	na   = "N/A"
)

// summaryRow is one line of the summary.
type summaryRow struct {
	figure, value, goal, verdict string
}

// results are the figures the summary judges.
type results struct {
	full, quiet, active, busy phase
	bound, activeBound        int // lower bounds of the full and the after-activity sync
	commitBound               int // the full sync's commits pages
	quietGoal, busyGoal       int
	recent                    int // projects active within the hour before the busy-hour sync
	projects                  int
	largestCommits            int // commits of the largest project
	same                      bool
	// realistic: GitLab behind latency, a rate limit and faults; perMinute
	// is the limit.
	realistic bool
	perMinute int
	// one is the sync of one new commit on the largest project.
	one oneCommit
}

// judged makes a row with a goal: PASS when ok, else MISS.
func judged(figure, value, goal string, ok bool) summaryRow {
	return summaryRow{figure, value, goal, okMiss(ok, pass, miss)}
}

// ratioRow judges made/bound against an upper goal on the ratio. A bound
// of 0 cannot be judged.
func ratioRow(figure string, made, bound int64, goal float64) summaryRow {
	if bound == 0 {
		return summaryRow{figure, fmt.Sprintf("%d / 0", made), fmt.Sprintf("<= %.2f", goal), na}
	}
	r := ratio(made, bound)
	return judged(figure, fmt.Sprintf("%.3f (%d / %d)", r, made, bound), fmt.Sprintf("<= %.2f", goal), r <= goal)
}

// writeRow judges a phase's DynamoDB write requests on the wire against
// the fewest batches for the items that had to change.
func writeRow(figure string, ph phase, goal float64) summaryRow {
	return ratioRow(figure, ph.db.writeRequests(), int64(writeFloor(sum(ph.mustWrite))), goal)
}

// zeroRow judges a count that must be 0.
func zeroRow(figure string, n int) summaryRow {
	return judged(figure, fmt.Sprint(n), "0", n == 0)
}

// atMostRow judges a count against an upper goal.
func atMostRow(figure string, n, goal int, how string) summaryRow {
	return judged(figure, fmt.Sprint(n), fmt.Sprintf("<= %d (%s)", goal, how), n <= goal)
}

// rateFloor is the time a rate limit of perMinute forces on n requests.
func rateFloor(n, perMinute int) time.Duration {
	if perMinute <= 0 {
		return 0
	}
	return time.Duration(float64(n) / float64(perMinute) * float64(time.Minute))
}

// memoryRow judges the largest project's heap growth, only on a project
// big enough to matter.
func memoryRow(ph phase, commits int) summaryRow {
	goal := fmt.Sprintf("< %s on >= %d commits", mib(goalWorkerMemory), memoryProjectCommits)
	value := fmt.Sprintf("%s (project of %d commits)", mib(ph.large.Growth()), commits)
	if commits < memoryProjectCommits {
		return summaryRow{"worker peak heap - baseline, largest project", value, goal + " (make bench-sync-big)", na}
	}
	return judged("worker peak heap - baseline, largest project", value, goal, ph.large.Growth() < goalWorkerMemory)
}

// summarize lists the figures with their goals and verdicts.
func summarize(r results) []summaryRow {
	full, quiet, active, busy := r.full, r.quiet, r.active, r.busy
	rows := []summaryRow{
		ratioRow("full sync: GitLab requests / lower bound", int64(full.total), int64(r.bound), goalRequestRatio),
		ratioRow("full sync: commit requests / bound (each page read once)", int64(full.requests[epCommits]), int64(r.commitBound), goalActivityRatio),
		writeRow("full sync: DynamoDB write requests / ceil(must-change items/25)", full, goalWriteRatio),
		zeroRow("full sync: failed messages (none can dead-letter)", full.failures),
	}
	if r.realistic {
		floor := rateFloor(r.bound, r.perMinute)
		// moto's calls are judged out: its Query walks the whole table
		// (see the notes), where DynamoDB takes milliseconds.
		outside := full.wall - full.db.busy()
		rows = append(rows, judged("full sync: wall time outside DynamoDB calls, GitLab at "+fmt.Sprint(r.perMinute)+"/min with latency and faults",
			fmt.Sprintf("%s (wall %s)", secs(outside), secs(full.wall)),
			fmt.Sprintf("<= %.1f x %s (lower bound at the limit)", goalRealisticWall, secs(floor)), outside <= time.Duration(goalRealisticWall*float64(floor))),
			summaryRow{"full sync: GitLab 429 / 5xx answers seen (retried)", fmt.Sprintf("%d / %d", full.throttled, full.serverErrors), "retried, none lost", okMiss(full.failures == 0 && r.same, pass, miss)})
	} else {
		rows = append(rows, summaryRow{"full sync: wall time", secs(full.wall), "none: moto-bound (see -realistic)", info})
	}
	rows = append(rows,
		memoryRow(full, r.largestCommits),
		atMostRow("quiet, hours after activity: GitLab requests", quiet.total, r.quietGoal, "lists + 1 pipelines probe a project"+staffNote(quiet)),
		zeroRow("quiet, hours after activity: tasks queued", quiet.course.Tasks),
		ratioRow("after activity: GitLab requests / lower bound", int64(active.total), int64(r.activeBound), goalActivityRatio),
		writeRow("after activity: DynamoDB write requests / ceil(must-change items/25)", active, goalActivityWriteRatio),
		zeroRow("after activity: failed messages", active.failures),
		summaryRow{"after activity: wall time", secs(active.wall), "none: moto-bound", info},
		atMostRow("quiet, right after activity: GitLab requests", busy.total, r.busyGoal,
			fmt.Sprintf("lists + 1 a project: %d recently active, %d probes", r.recent, r.projects-r.recent)+staffNote(busy)),
		zeroRow("quiet, right after activity: failed messages", busy.failures),
		summaryRow{fmt.Sprintf("one new commit (project of %d): the task's DynamoDB reads / writes", r.one.commits),
			fmt.Sprintf("%d / %d", r.one.reads, r.one.writes), "the same for 1,000 and 20,000 commits (compare runs)", info},
		judged("stored items = simulator truth", okMiss(r.same, "yes", "no"), "yes", r.same),
	)
	return rows
}

// missed counts the rows that missed their goal.
func missed(rows []summaryRow) int {
	n := 0
	for _, r := range rows {
		if r.verdict == miss {
			n++
		}
	}
	return n
}

// printSummary prints the figures with their goals.
func printSummary(rows []summaryRow) {
	fmt.Println("\n== Summary")
	w := [3]int{6, 5, 4}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len(r.figure)), max(w[1], len(r.value)), max(w[2], len(r.goal))
	}
	line := func(a, b, c, d string) {
		fmt.Printf("  %-*s  %-*s  %-*s  %s\n", w[0], a, w[1], b, w[2], c, d)
	}
	line("figure", "value", "goal", "verdict")
	line(strings.Repeat("-", w[0]), strings.Repeat("-", w[1]), strings.Repeat("-", w[2]), "-------")
	for _, r := range rows {
		line(r.figure, r.value, r.goal, cmp.Or(r.verdict, "-"))
	}
	fmt.Printf("  %d of %d goals missed\n", missed(rows), len(rows))
}
