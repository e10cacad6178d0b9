package sync_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

type harness struct {
	t      *testing.T
	sim    *sim.Sim
	course sim.Course
	sqs    *sqs.Client
	queue  string
	store  store.Store
	sched  *gpsync.Scheduler
	worker *gpsync.Worker
	logs   *bytes.Buffer
	// failures counts the messages the worker reported failed.
	failures int
}

func newHarness(t *testing.T, spec sim.CourseSpec) *harness {
	return newHarnessAt(t, spec, time.Now)
}

// newHarnessAt is newHarness with the simulator, the scheduler and the
// worker on the clock now.
func newHarnessAt(t *testing.T, spec sim.CourseSpec, now func() time.Time) *harness {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t, sim.WithClock(now))
	// Activity ends three hours ago: the quiet course of the incremental
	// request-count goal.
	spec.Start = now().UTC().Add(-3*time.Hour).AddDate(0, 0, -7*max(spec.Weeks, 1))
	course := s.GenerateCourse(7, spec)
	// Finish the pipelines still running: a project with running
	// pipelines is polled until they finish.
	for _, pid := range course.ProjectIDs {
		for _, pl := range s.Pipelines(pid) {
			if pl.Status == "running" || pl.Status == "pending" || pl.Status == "created" {
				if _, err := s.SetPipelineStatus(pid, pl.ID, "success"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	res := testenv.Provision(t, cfg, nil)
	h := &harness{t: t, sim: s, course: course, sqs: sqs.NewFromConfig(cfg), queue: res.SyncQueueURL,
		store: store.Store{DB: dynamodb.NewFromConfig(cfg), Table: res.DataTable}, logs: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	client, err := gitlab.New(gitlab.Options{
		Provider:          gitlab.StaticToken(gitpulse.Token{Name: "teacher", Value: gitpulse.NewSecret(course.TeacherToken), URL: url}),
		RequestsPerSecond: 5000, MaxWait: 2 * time.Second, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The scheduler and the worker run with their own roles (IAM enforced
	// under make test); the test reads as the administrator.
	sCfg, wCfg := testenv.FunctionConfig(t, "SyncSchedulerFunction", res), testenv.FunctionConfig(t, "SyncWorkerFunction", res)
	h.sched = &gpsync.Scheduler{GitLab: client, Store: store.Store{DB: dynamodb.NewFromConfig(sCfg), Table: res.DataTable}, Queue: sqs.NewFromConfig(sCfg), QueueURL: h.queue, Logger: logger, Now: now}
	h.worker = &gpsync.Worker{GitLab: client, Store: store.Store{DB: dynamodb.NewFromConfig(wCfg), Table: res.DataTable}, Queue: sqs.NewFromConfig(wCfg), QueueURL: h.queue, Logger: logger, Now: now, Margin: time.Second}
	return h
}

type runOpts struct {
	twice    bool          // deliver every message twice
	deadline time.Duration // invocation deadline beyond the margin (0: plenty)
}

// sync runs the scheduler (again until it succeeds, as its schedule would)
// and then the worker over the queue until it is empty.
func (h *harness) sync(o runOpts) gpsync.Summary {
	h.t.Helper()
	ctx := context.Background()
	var sum gpsync.Summary
	var err error
	for attempt := 0; ; attempt++ {
		sum, err = h.sched.Run(ctx, []string{h.course.Path})
		if err == nil && sum.Courses[0].Error == "" {
			break
		}
		if attempt == 20 {
			h.t.Fatalf("scheduler: %v %+v", err, sum)
		}
	}
	for idle, rounds := 0, 0; idle < 2; rounds++ {
		if rounds%25 == 0 && rounds > 0 {
			h.t.Logf("round %d, %s", rounds, time.Now().Format(time.StampMilli))
		}
		if rounds == 400 {
			logs := h.logs.String()
			h.t.Fatalf("the queue did not drain in %d rounds; last log lines:\n%s", rounds, logs[max(0, len(logs)-4000):])
		}
		out, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(h.queue), MaxNumberOfMessages: 5, VisibilityTimeout: 30})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			idle++
			continue
		}
		idle = 0
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
		}
		deliveries := 1
		if o.twice {
			deliveries = 2
		}
		var failed []string
		for range deliveries {
			wctx, cancel := ctx, func() {}
			if o.deadline > 0 {
				wctx, cancel = context.WithTimeout(ctx, h.worker.Margin+o.deadline)
			}
			resp, err := h.worker.Handle(wctx, ev)
			cancel()
			if err != nil {
				h.t.Fatal(err)
			}
			failed = failed[:0]
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			h.failures += len(failed)
		}
		for _, m := range out.Messages {
			if slices.Contains(failed, aws.ToString(m.MessageId)) {
				// Redelivered at once, as SQS would after the visibility timeout.
				_, _ = h.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(h.queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
				continue
			}
			_, _ = h.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(h.queue),
				Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("m"), ReceiptHandle: m.ReceiptHandle}}})
		}
	}
	return sum
}

func pk(id int) string { return store.ProjectPK(int64(id)) }

func all[T any](h *harness, pk, prefix string) []T {
	h.t.Helper()
	v, err := store.All[T](context.Background(), h.store, pk, prefix)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

func keys[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedEqual[T ~int | ~string | ~int64](a, b []T) bool {
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// compare checks every project's items and aggregates against the
// simulator's truth.
func (h *harness) compare() {
	h.t.Helper()
	for _, pid := range h.course.ProjectIDs {
		p := pk(pid)
		// Commits of every branch.
		truth := map[string]sim.Commit{}
		byAuthor := map[int]int{}
		adds := 0
		nonMerge, onDefault := 0, 0
		for _, c := range h.sim.AllCommits(pid) {
			truth[c.SHA] = c
			if c.IsMerge() {
				continue
			}
			nonMerge++
			if c.OnDefaultBranch {
				onDefault++
			}
			if c.AuthorID != 0 {
				byAuthor[c.AuthorID]++
			}
			adds += c.Additions
		}
		got := all[gitpulse.Commit](h, p, "COMMIT#")
		if len(got) != len(truth) {
			h.t.Errorf("project %d: got %d commits, want %d", pid, len(got), len(truth))
		}
		for _, c := range got {
			w, ok := truth[c.SHA]
			// The instant the author wrote, in UTC whatever offset GitLab
			// wrote it with.
			if !ok || w.Additions != c.Additions || w.Deletions != c.Deletions || w.AuthorName != c.AuthorName ||
				!w.AuthoredDate.Equal(c.AuthoredAt) || c.AuthoredAt.Location() != time.UTC {
				h.t.Errorf("project %d commit %s: got %+v, want %+v", pid, c.SHA, c, w)
			}
			// Merged: the default branch is among its branches; not merged:
			// the branch it was pushed to is.
			if want := map[bool]string{true: "main", false: w.Branch}[w.OnDefaultBranch]; c.OnDefaultBranch != w.OnDefaultBranch || !slices.Contains(c.Branches, want) {
				h.t.Errorf("project %d commit %s: got branches %v, on the default branch %t; want %s among them, %t", pid, c.SHA, c.Branches, c.OnDefaultBranch, want, w.OnDefaultBranch)
			}
		}
		// Merge requests, their notes and approvals.
		mrs := h.sim.MergeRequests(pid)
		gotMRs := map[int64]gitpulse.MergeRequest{}
		for _, m := range all[gitpulse.MergeRequest](h, p, "MR#") {
			gotMRs[m.IID] = m
		}
		notes := all[gitpulse.Note](h, p, "NOTE#")
		notesByMR := map[int64]int{}
		for _, n := range notes {
			notesByMR[n.MRIID]++
		}
		merged := 0
		for _, m := range mrs {
			g, ok := gotMRs[int64(m.IID)]
			if !ok || g.State != m.State || g.Author.UserID != int64(m.AuthorID) {
				h.t.Errorf("project %d MR !%d: got %+v, want state %s author %d", pid, m.IID, g, m.State, m.AuthorID)
			}
			if notesByMR[int64(m.IID)] != len(m.Notes) {
				h.t.Errorf("project %d MR !%d: got %d notes, want %d", pid, m.IID, notesByMR[int64(m.IID)], len(m.Notes))
			}
			if m.State == "merged" {
				merged++
			}
		}
		if len(gotMRs) != len(mrs) {
			h.t.Errorf("project %d: got %d MRs, want %d", pid, len(gotMRs), len(mrs))
		}
		// Issues.
		issues := h.sim.Issues(pid)
		gotIssues := map[int64]gitpulse.Issue{}
		for _, is := range all[gitpulse.Issue](h, p, "ISSUE#") {
			gotIssues[is.IID] = is
		}
		closed := 0
		for _, is := range issues {
			if g := gotIssues[int64(is.IID)]; g.State != is.State {
				h.t.Errorf("project %d issue #%d: got state %q, want %q", pid, is.IID, g.State, is.State)
			}
			if is.State == "closed" {
				closed++
			}
		}
		if len(gotIssues) != len(issues) {
			h.t.Errorf("project %d: got %d issues, want %d", pid, len(gotIssues), len(issues))
		}
		// Pipelines.
		gotPipes := map[int64]string{}
		for _, pl := range all[gitpulse.Pipeline](h, p, "PIPELINE#") {
			gotPipes[pl.ID] = pl.Status
		}
		pipes := h.sim.Pipelines(pid)
		for _, pl := range pipes {
			if gotPipes[int64(pl.ID)] != pl.Status {
				h.t.Errorf("project %d pipeline %d: got status %q, want %q", pid, pl.ID, gotPipes[int64(pl.ID)], pl.Status)
			}
		}
		if len(gotPipes) != len(pipes) {
			h.t.Errorf("project %d: got %d pipelines, want %d", pid, len(gotPipes), len(pipes))
		}
		// Members.
		var wantMembers, gotMembers []string
		for _, m := range h.sim.Members(pid) {
			wantMembers = append(wantMembers, fmt.Sprintf("%d/%d/%t", m.UserID, m.AccessLevel, m.Bot))
		}
		for _, m := range all[gitpulse.Member](h, p, "MEMBER#") {
			gotMembers = append(gotMembers, fmt.Sprintf("%d/%d/%t", m.UserID, m.AccessLevel, m.Bot))
		}
		if !sortedEqual(wantMembers, gotMembers) {
			h.t.Errorf("project %d: got members %v, want %v", pid, gotMembers, wantMembers)
		}
		// Aggregates.
		var stats gpsync.ProjectStats
		if err := h.store.Get(context.Background(), p, "STATS", &stats); err != nil {
			h.t.Fatalf("project %d stats: %v", pid, err)
		}
		if stats.Commits != nonMerge || stats.DefaultBranchCommits != onDefault || stats.Additions != adds || stats.MRsMerged != merged || stats.IssuesClosed != closed ||
			stats.IssuesOpen != len(issues)-closed || stats.MRsOpen+stats.MRsMerged+stats.MRsClosed != len(mrs) {
			h.t.Errorf("project %d stats: got %+v, want %d commits (%d on the default branch), %d additions, %d merged, %d closed issues", pid, stats, nonMerge, onDefault, adds, merged, closed)
		}
		for author, n := range byAuthor {
			var ps gpsync.PersonStats
			if err := h.store.Get(context.Background(), p, "STATS#u"+strconv.Itoa(author), &ps); err != nil || ps.Commits != n {
				h.t.Errorf("project %d user %d: got %d commits (%v), want %d", pid, author, ps.Commits, err, n)
			}
		}
	}
}

func requests(before, after map[string]int) (int, map[string]int) {
	d := map[string]int{}
	total := 0
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
			total += n
		}
	}
	return total, d
}

var small = sim.CourseSpec{Path: "kpi/tp-2024", Teams: 3, StudentsPerTeam: 3, ProjectsPerTeam: 1, SoloProjects: 1, Weeks: 2}

// TestSyncMatchesTruth syncs a generated course, compares, checks that a
// quiet course costs ceil(projects/100)+3 requests, adds activity and
// compares again.
func TestSyncMatchesTruth(t *testing.T) {
	h := newHarness(t, small)
	h.sync(runOpts{})
	h.compare()

	before := h.sim.RequestCounts()
	sum := h.sync(runOpts{})
	total, byRoute := requests(before, h.sim.RequestCounts())
	// The course's lists, and one pipelines probe per project (no
	// pipeline change moves last_activity_at).
	want := (len(h.course.ProjectIDs)+99)/100 + 3 + len(h.course.ProjectIDs)
	if total > want || sum.Courses[0].Tasks != 0 || byRoute["GET /api/v4/projects/:id/pipelines"] != len(h.course.ProjectIDs) {
		t.Errorf("quiet incremental sync: got %d requests %v and %d tasks, want at most %d requests (one pipelines probe a project) and no task", total, byRoute, sum.Courses[0].Tasks, want)
	}

	if _, err := h.sim.AddActivity(11, h.course, 40); err != nil {
		t.Fatal(err)
	}
	h.sync(runOpts{})
	h.compare()
	testenv.AssertNoSecret(t, "sync logs", h.logs.String(), h.course.TeacherToken)
}

// TestSyncUnderFaults syncs with 10% of GitLab calls failing with 500,
// bursts of 429, a worker deadline that cuts projects short, and every
// message delivered twice: the data and the aggregates still equal the
// truth.
func TestSyncUnderFaults(t *testing.T) {
	h := newHarness(t, small)
	h.sim.InjectFault(sim.Fault{Status: 500, Fraction: 0.1})
	h.sim.InjectFault(sim.Fault{Status: 429, Count: 3})
	h.sync(runOpts{twice: true, deadline: 500 * time.Millisecond})
	h.sim.InjectFault(sim.Fault{Status: 429, Count: 3})
	if _, err := h.sim.AddActivity(12, h.course, 40); err != nil {
		t.Fatal(err)
	}
	h.sync(runOpts{twice: true, deadline: 500 * time.Millisecond})
	h.sim.ClearFaults()
	h.compare()
	_ = keys[string, int]
	_ = sort.Strings
}
