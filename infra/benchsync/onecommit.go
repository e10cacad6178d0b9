package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

// oneCommit is what the task of one new commit on the largest project
// cost in DynamoDB requests (the scheduler's and other tasks' are not
// counted).
type oneCommit struct {
	commits       int // the project's commits, the new one included
	reads, writes int
}

// oneCommit pushes one commit to the largest project's default branch and
// syncs: the figure of issue 14's "a project of 20,000 commits with one
// new commit" (make bench-sync-big, and the same with -commits 24 for
// about 1,000).
func (b *bench) oneCommit(ctx context.Context, course sim.Course, clk *testenv.Shifted) (oneCommit, error) {
	pid := b.largest
	author := 0
	for _, t := range course.Teams {
		for _, p := range t.ProjectIDs {
			if p == pid && len(t.StudentIDs) > 0 {
				author = t.StudentIDs[0]
			}
		}
	}
	if author == 0 && len(course.StudentIDs) > 0 {
		author = course.StudentIDs[0]
	}
	clk.Skip(time.Hour)
	if _, err := b.sim.AddCommit(pid, sim.CommitSpec{AuthorID: author, Title: "one more commit", Additions: 7, Deletions: 2}); err != nil {
		return oneCommit{}, fmt.Errorf("one new commit: %w", err)
	}
	clk.Skip(6 * time.Minute)
	// The project's task alone, in an invocation of its own (other
	// recently active projects are polled too), its calls counted above
	// the SDK (a Query page is a call); the scheduler's are not.
	calls := testenv.CountCalls(nil)
	b.largeCalls = calls
	ph, err := b.sync(ctx, "Incremental sync of one new commit on the largest project", false)
	b.largeCalls = nil
	if err != nil {
		return oneCommit{}, err
	}
	printPhase(ph, nil, "")
	n := calls.Of()
	one := oneCommit{commits: len(b.sim.AllCommits(pid)), reads: calls.Reads(), writes: calls.Writes()}
	fmt.Printf("  one new commit on project %d (%d commits), its task alone (%d message(s)): %d DynamoDB read and %d write requests (GetItem %d, Query pages %d, BatchGetItem %d; BatchWriteItem %d, PutItem %d, DeleteItem %d)\n",
		pid, one.commits, ph.largeTasks, one.reads, one.writes, n["GetItem"], n["Query"], n["BatchGetItem"], n["BatchWriteItem"], n["PutItem"], n["DeleteItem"])
	return one, nil
}
