package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

// oneCommit is what the sync of one new commit on the largest project
// cost in DynamoDB requests (on the wire, the scheduler's included).
type oneCommit struct {
	commits       int // the project's commits, the new one included
	reads, writes int64
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
	ph, err := b.sync(ctx, "Incremental sync of one new commit on the largest project", false)
	if err != nil {
		return oneCommit{}, err
	}
	printPhase(ph, nil, "")
	w := ph.db.Wire
	one := oneCommit{commits: len(b.sim.AllCommits(pid)),
		reads:  w["GetItem"] + w["Query"] + w["BatchGetItem"],
		writes: w["BatchWriteItem"] + w["PutItem"] + w["UpdateItem"] + w["DeleteItem"]}
	fmt.Printf("  one new commit on project %d (%d commits): %d DynamoDB read and %d write requests (GetItem %d, Query %d, BatchGetItem %d; BatchWriteItem %d, PutItem %d)\n",
		pid, one.commits, one.reads, one.writes, w["GetItem"], w["Query"], w["BatchGetItem"], w["BatchWriteItem"], w["PutItem"])
	return one, nil
}
