package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// okMiss picks the word for a check.
func okMiss(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// passMiss is PASS or MISS.
func passMiss(ok bool) string { return okMiss(ok, "PASS", "MISS") }

// mib formats bytes in MiB.
func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// secs formats a duration in seconds.
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// ratio is a/b, or 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// The lower bounds, explained.
const (
	fullBoundNote = `  lower bound: every list read at 100 a page (descendant groups, group projects, group MRs and
  issues; per project members/all, branches, pipelines, and the commits of the default branch
  and of each branch not merged into it), ceil(n/100) and at least 1 for the counted lists;
  plus per MR its notes pages, 1 approvals call, and 1 closes_issues call if merged. The
  commits list is not counted (no X-Total) and a full last page advertises a next page, so n
  commits cost floor(n/100)+1 requests, as GitLab forces them. Resolving the course path
  (GET /groups/:id) is not part of the bound.`
	activityBoundNote = `  lower bound: the same reads for the changes only: the group lists of the changed MRs and
  issues; per project with any change its members, its branches, per branch whose head moved
  (the default one, or one not merged) floor(commits it gained/100)+1 commits pages, and its
  changed pipelines; per project without one 1 pipelines probe (no pipeline change moves
  last_activity_at, so nothing cheaper proves there is none); per changed MR its notes pages, approvals and (merged) closes_issues.`
)

// printPhase prints what a sync did. With lb, each endpoint's requests are
// shown against its lower bound, which note explains.
func printPhase(ph phase, lb map[string]int, note string) {
	fmt.Printf("\n== %s\n", ph.name)
	c := ph.course
	fmt.Printf("  wall time %s: scheduler %s, queue drained by the worker (%d s invocation deadline, %s) %s\n",
		secs(ph.wall), secs(ph.schedWall), int(handleTimeout().Seconds()),
		okMiss(chargeMoto, "moto's time charged", "DynamoDB calls charged 10 ms each"), secs(ph.wall-ph.schedWall))
	fmt.Printf("    in GitLab requests %s, in DynamoDB calls %s, the rest (SQS, the sync's own work) %s\n",
		secs(ph.gitlab), secs(ph.db.busy()), secs(ph.wall-ph.gitlab-ph.db.busy()))
	fmt.Printf("  scheduler: %d teams, %d projects, %d MRs and %d issues changed, %d tasks queued (%d repository polls)\n",
		c.Teams, c.Projects, c.MRs, c.Issues, c.Tasks, c.RepoPolls)
	fmt.Printf("  worker: %d messages handled, %d failed, %d tasks handed back before the deadline\n", ph.messages, ph.failures, ph.handBacks)

	keys := slices.Collect(maps.Keys(ph.requests))
	for k := range lb {
		if _, ok := ph.requests[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	width := 12
	for _, k := range keys {
		width = max(width, len(k))
	}
	fmt.Println("  GitLab requests by endpoint:")
	if lb == nil {
		for _, k := range keys {
			fmt.Printf("    %-*s %7d\n", width, k, ph.requests[k])
		}
		fmt.Printf("    %-*s %7d\n", width, "total", ph.total)
	} else {
		fmt.Printf("    %-*s %7s %7s %6s\n", width, "", "made", "bound", "ratio")
		lbTotal := 0
		for _, k := range keys {
			n, b := ph.requests[k], lb[k]
			lbTotal += b
			r := "-"
			if b > 0 {
				r = fmt.Sprintf("%.3f", ratio(int64(n), int64(b)))
			}
			fmt.Printf("    %-*s %7d %7s %6s\n", width, k, n, dash(b), r)
		}
		fmt.Printf("    %-*s %7d %7d %6.3f\n", width, "total", ph.total, lbTotal, ratio(int64(ph.total), int64(lbTotal)))
		fmt.Println(note)
	}

	d := ph.db
	fmt.Printf("  DynamoDB on the wire (HTTP attempts, retries included): %d requests: %s\n", d.wireTotal(), byKind(d.Wire))
	fmt.Printf("    %d write requests; %d items written (%d by BatchWriteItem, %d by PutItem)\n", d.writeRequests(), d.items(), d.BatchItems, d.Puts)
	if ph.mustWrite != nil {
		must := sum(ph.mustWrite)
		fmt.Printf("    items that had to change (from the simulator's data): %d, ceil(/25) = %d; write requests / that = %.3f\n",
			must, writeFloor(must), ratio(d.writeRequests(), int64(writeFloor(must))))
		fmt.Printf("      by kind: %s\n", kinds(ph.mustWrite))
	}
	fmt.Printf("    items sent by kind: %s\n", byKind(d.ByKind))
	fmt.Printf("            reads: %d GetItem, %d Query pages; time in writes %s, in reads %s\n", d.Gets, d.Queries, secs(d.WriteBusy), secs(d.ReadBusy))
	if ph.measured {
		fmt.Printf("  worker heap (%s, sampled every 10 ms, GC forced before):\n", heapMetric)
		fmt.Printf("    whole drain:     baseline %s, peak %s, peak - baseline %s; %s allocated, %d GC cycles\n",
			mib(ph.worker.base), mib(ph.worker.high), mib(ph.worker.Growth()), mib(ph.worker.allocs), ph.worker.cycles)
		fmt.Printf("    largest project %d (%d task(s), each in an invocation of its own):\n", ph.largest, ph.largeTasks)
		fmt.Printf("                     baseline %s, peak %s, peak - baseline %s; %s allocated, %d GC cycles\n",
			mib(ph.large.base), mib(ph.large.high), mib(ph.large.Growth()), mib(ph.large.allocs), ph.large.cycles)
		fmt.Println("    The baseline holds the in-process simulator's course (a Lambda worker has none); the")
		fmt.Println("    simulator's response garbage is counted in the peaks, and the GC paces itself on the")
		fmt.Println("    whole heap, the simulator's included, so peak - baseline is an upper bound.")
	}
}

// dash formats a bound, "-" for none.
func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// printActivity prints the changes AddActivity made and what they changed
// in the course's data.
func printActivity(a sim.Activity, prev, t truth) {
	fmt.Printf("\n== Activity added: %d changes: %d commits, %d MRs, %d notes, %d approvals, %d merges, %d issues, %d closed issues, %d pipelines, %d finished pipelines\n",
		a.Total(), a.Commits, a.MergeRequests, a.Notes, a.Approvals, a.Merges, a.Issues, a.ClosedIssues, a.Pipelines, a.FinishedPipelines)
	diff := func(f func(projectTruth) int) int { return t.total(f) - prev.total(f) }
	active := 0
	for _, p := range t.projects {
		if p.active {
			active++
		}
	}
	fmt.Printf("  data changed: %d projects with changes; new: %d commits on the default branch, %d MRs, %d notes, %d issues, %d pipelines;\n",
		active, diff(func(p projectTruth) int { return p.commits }), diff(func(p projectTruth) int { return p.mrs }),
		diff(func(p projectTruth) int { return p.notes }), diff(func(p projectTruth) int { return p.issues }), diff(func(p projectTruth) int { return p.pipelines }))
	fmt.Printf("  updated (new included): %d MRs, %d issues, %d pipelines\n",
		t.total(func(p projectTruth) int { return p.mrsChanged }), t.total(func(p projectTruth) int { return p.issuesChanged }),
		t.total(func(p projectTruth) int { return p.pipelinesChanged }))
}

// printChecks prints the stored items against the simulator's truth.
func printChecks(rs []countResult, took time.Duration) {
	fmt.Printf("\n== Correctness: items stored vs the simulator's truth after the last sync (one Query per project, %s)\n", secs(took))
	for _, r := range rs {
		fmt.Printf("  %-15s stored %7d  simulator %7d  %s\n", r.kind, r.stored, r.sim,
			okMiss(r.projectsOff == 0, "equal", fmt.Sprintf("DIFFERENT in %d project(s)", r.projectsOff)))
	}
}

// printNotes explains what the wall times measure.
func printNotes(full phase) {
	fmt.Println("\nNotes")
	fmt.Printf("  - Wall times are mostly moto server's: of the full sync's %s, %s went to DynamoDB calls and %s to\n",
		secs(full.wall), secs(full.db.busy()), secs(full.gitlab))
	fmt.Println("    GitLab requests (in-process simulator). moto's Query walks every item of the table on each call")
	fmt.Println("    (moto/dynamodb/models/table.py, Table.query), so reads slow down as the table fills; real")
	fmt.Println("    DynamoDB reads only the partition. Compare request counts, not seconds, with production.")
	fmt.Println("  - The memory goal is judged on peak - baseline for the largest project's task.")
}

// byKind formats counts by kind, largest first.
func byKind(m map[string]int64) string {
	kinds := slices.Collect(maps.Keys(m))
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
