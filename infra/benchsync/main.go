// Command benchsync benchmarks the GitLab sync on a generated course: a
// full sync, an incremental sync of a quiet course and one after new
// activity, each a scheduler run and the queue drained through the worker,
// as the Lambda functions run them. It prints GitLab requests by endpoint
// against the lower bound for the data, DynamoDB write requests and items,
// wall times and the worker's peak heap, then a summary against the goals
// of the sync issues, each with its verdict. A missed goal is a
// measurement, reported, not an error: the exit status is non-zero only
// when the benchmark cannot run or the stored data differs from the
// simulator's (then no figure can be trusted); -strict also fails on any
// MISS, for a run that gates.
//
//	make bench-sync                           (starts and stops moto server)
//	make bench-sync ARGS='-teams 4 -weeks 6'  (a smaller course)
//	make bench-sync-realistic                 (GitLab at 600/min, latency, 429s and 5xx)
//	go run ./infra/benchsync -h               (with AWS_ENDPOINT_URL set to a moto server)
//
// The GitLab simulator runs in-process; AWS (moto) is found through the
// usual AWS_* environment.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/hashicorp/go-cleanhttp"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-sync:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	seed     int64
	spec     sim.CourseSpec
	quiet    time.Duration
	activity int
	verbose  bool
	strict   bool
	real     realistic
}

// parseFlags reads the command line. The defaults make a course just above
// the issue's minimum size.
func parseFlags() options {
	var o options
	flag.Int64Var(&o.seed, "seed", 42, "generator seed (course and added activity)")
	flag.StringVar(&o.spec.Path, "path", "kpi/tp-bench", "course group path")
	flag.IntVar(&o.spec.Teams, "teams", 10, "teams (subgroups)")
	flag.IntVar(&o.spec.StudentsPerTeam, "students-per-team", 4, "students per team")
	flag.IntVar(&o.spec.ProjectsPerTeam, "projects-per-team", 4, "projects per team")
	flag.IntVar(&o.spec.Weeks, "weeks", 14, "weeks of activity")
	flag.Float64Var(&o.spec.CommitsPerStudentWeek, "commits", 42, "commits per student and week")
	flag.Float64Var(&o.spec.MRsPerStudentWeek, "mrs", 7, "merge requests per student and week")
	flag.Float64Var(&o.spec.IssuesPerStudentWeek, "issues", 11, "issues per student and week")
	flag.Float64Var(&o.spec.PipelinesPerProjectWeek, "pipelines", 9.5, "pipelines per project and week")
	flag.DurationVar(&o.quiet, "quiet", 3*time.Hour, "the generated activity ends at least this long before now (at a midnight UTC)")
	flag.IntVar(&o.activity, "activity", 200, "changes added before the last incremental sync")
	flag.DurationVar(&deadline, "deadline", deadline, "each worker invocation's deadline (the worker keeps 15 s of it in hand)")
	flag.BoolVar(&chargeMoto, "charge-moto", chargeMoto, "charge moto's whole time to the worker's deadline (by default a DynamoDB call costs 10 ms of it, whatever moto takes)")
	flag.BoolVar(&o.verbose, "v", false, "the sync functions' logs on stderr")
	flag.BoolVar(&o.strict, "strict", false, "exit non-zero on any missed goal, not only on a store that differs from the simulator")
	o.real.flags()
	flag.Parse()
	return o
}

// run generates the course, provisions AWS, runs the three syncs and
// prints the report.
func run() error {
	o := parseFlags()
	ctx := context.Background()

	// One clock for GitLab and the sync functions: real time, skipped ahead
	// between the syncs as a 15-minute schedule would be.
	clk := &testenv.Shifted{}
	s, url, stopSim, err := startSim(clk.Now)
	if err != nil {
		return err
	}
	defer stopSim()
	if o.real.on {
		o.real.apply(s)
		fmt.Println(o.real)
	}
	t0 := time.Now()
	course, finished, err := generate(s, clk.Now(), o.seed, o.spec, o.quiet)
	if err != nil {
		return err
	}
	before := readTruth(s, course, time.Time{})
	fmt.Printf("Generated in %s (seed %d)\n", secs(time.Since(t0)), o.seed)
	printCourse(course, before, finished)

	cfg, err := testenv.LocalAWSConfig(ctx, "bench-sync")
	if err != nil {
		return err
	}
	t1 := time.Now()
	res, err := provisionFresh(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("AWS: %s, table %s, queue %s (provisioned in %s)\n", os.Getenv("AWS_ENDPOINT_URL"), res.DataTable, res.SyncQueueURL, secs(time.Since(t1)))
	b, err := newBench(s, course, url, cfg, res, o.verbose, o.real.clientRate(), clk.Now)
	if err != nil {
		return err
	}
	b.largest = before.largest()
	defer b.mem.Close()

	full, err := b.sync(ctx, "Full sync", true)
	if err != nil {
		return err
	}
	lb := lowerBound(truth{}, before)
	full.mustWrite = mustWrite(truth{}, before)
	printPhase(full, lb, fullBoundNote)

	quiet, err := b.sync(ctx, "Incremental sync, no activity", false)
	if err != nil {
		return err
	}
	printPhase(quiet, nil, "")
	// The course's lists, and one pipelines probe per project: no
	// pipeline change moves last_activity_at.
	quietGoal := quietRequests(len(course.ProjectIDs), quiet)
	fmt.Printf("  goal: at most ceil(projects/100)+3+projects (one pipelines probe each)%s = %d requests: %s; tasks queued: %d\n", staffNote(quiet), quietGoal, passMiss(quiet.total <= quietGoal), quiet.course.Tasks)

	mark := clk.Now().UTC().Truncate(time.Millisecond) // the simulator's resolution
	act, err := s.AddActivity(o.seed, course, o.activity)
	if err != nil {
		return err
	}
	after := readTruth(s, course, mark)
	printActivity(act, before, after)
	// The next scheduled sync comes some minutes after the pushes: six,
	// past the five in which GitLab's updated_at shows no further push.
	clk.Skip(6 * time.Minute)
	active, err := b.sync(ctx, "Incremental sync after the activity", false)
	if err != nil {
		return err
	}
	actLB := lowerBound(before, after)
	active.mustWrite = mustWrite(before, after)
	printPhase(active, actLB, activityBoundNote)

	// The next schedule, 15 minutes on: nothing new, but GitLab's hourly
	// last_activity_at cannot show it, as during a teaching day.
	clk.Skip(15 * time.Minute)
	recent := recentlyActive(s, course, clk.Now())
	busy, err := b.sync(ctx, "Incremental sync, no change, right after the activity", false)
	if err != nil {
		return err
	}
	printPhase(busy, nil, "")
	busyGoal := quietRequests(len(course.ProjectIDs), busy)
	fmt.Printf("  goal: at most ceil(projects/100)+3 + 1 a project (%d active within the hour, %d quiet with their pipelines probe)%s = %d requests: %s\n",
		recent, len(course.ProjectIDs)-recent, staffNote(busy), busyGoal, passMiss(busy.total <= busyGoal))

	// Issue 14: one new commit on the largest project costs DynamoDB
	// requests that do not grow with its history.
	one, err := b.oneCommit(ctx, course, clk)
	if err != nil {
		return err
	}
	after = readTruth(s, course, mark)

	t2 := time.Now()
	checks, same, err := checkCounts(ctx, dynamodb.NewFromConfig(cfg), res.DataTable, after)
	if err != nil {
		return err
	}
	printChecks(checks, time.Since(t2))

	rows := summarize(results{full: full, quiet: quiet, active: active, busy: busy, bound: sum(lb), activeBound: sum(actLB),
		commitBound: lb[epCommits], quietGoal: quietGoal, busyGoal: busyGoal, recent: recent, projects: len(course.ProjectIDs),
		largestCommits: before.projects[b.largest].commits, same: same, realistic: o.real.on, perMinute: o.real.perMinute, one: one})
	printSummary(rows)
	printNotes(full)
	if !same {
		return errors.New("the stored data differs from the simulator's: the figures above are not trustworthy")
	}
	if n := missed(rows); o.strict && n > 0 {
		return fmt.Errorf("%d goal(s) missed (-strict)", n)
	}
	return nil
}

// newBench wires the sync functions to the simulator and the provisioned
// resources, the store's DynamoDB client and the worker's queue counted.
func newBench(s *sim.Sim, course sim.Course, url string, cfg aws.Config, res provision.Resources, verbose bool, rate float64, now func() time.Time) (*bench, error) {
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	gitlabTime := &timedTransport{next: cleanhttp.DefaultPooledTransport()}
	client, err := gitlab.New(gitlab.Options{
		Provider:          gitlab.StaticToken(gitpulse.Token{Name: "teacher", Value: gitpulse.NewSecret(course.TeacherToken), URL: url}),
		RequestsPerSecond: rate, Logger: logger, Transport: gitlabTime,
	})
	if err != nil {
		return nil, err
	}
	q := sqs.NewFromConfig(cfg)
	b := &bench{sim: s, course: course, sqs: q, queue: res.SyncQueueURL, gitlabTime: gitlabTime,
		db: wiredDB(cfg), handOff: &countingQueue{Client: q}, mem: watchMemory(10 * time.Millisecond), now: now}
	st := store.Store{DB: b.db, Table: res.DataTable}
	b.sched = &gpsync.Scheduler{GitLab: client, Store: st, Queue: q, QueueURL: res.SyncQueueURL, Logger: logger, Now: now}
	b.worker = &gpsync.Worker{GitLab: client, Store: st, Queue: b.handOff, QueueURL: res.SyncQueueURL, Logger: logger, Now: now}
	return b, nil
}

// wiredDB is the store's DynamoDB client, counted above the SDK (items by
// kind, time) and on the wire (every attempt).
func wiredDB(cfg aws.Config) *countingDB {
	wire := &wireCounter{next: cleanhttp.DefaultPooledTransport()}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: wire} })
	return &countingDB{DB: client, wire: wire}
}

// quietRequests is the most GitLab requests a sync with nothing new may
// make: the course's lists (projects by the page, subgroups, MRs and
// issues updated since), one request a project, and the staff's pages if
// their hourly refresh was due.
func quietRequests(projects int, p phase) int {
	return (projects+99)/100 + 3 + projects + p.staffDue
}

// staffNote names the staff refresh in a goal that allows it.
func staffNote(p phase) string {
	if p.staffDue == 0 {
		return ""
	}
	return fmt.Sprintf(" + %d staff page(s), their hourly refresh due", p.staffDue)
}

// recentlyActive is the projects whose last_activity_at is within the hour
// before now: those the scheduler cannot skip on it.
func recentlyActive(s *sim.Sim, c sim.Course, now time.Time) int {
	n := 0
	for _, pid := range c.ProjectIDs {
		if p, ok := s.GetProject(pid); ok && now.Sub(p.LastActivityAt) < time.Hour {
			n++
		}
	}
	return n
}

// sum adds up a bound's endpoints.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// provisionFresh creates the data table, audit table, topic and sync queue
// under a new prefix, so that runs sharing a moto server never mix.
func provisionFresh(ctx context.Context, cfg aws.Config) (provision.Resources, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	res, err := provision.Provision(ctx, provision.NewClients(cfg), provision.NamesFor("bench-sync-"+hex.EncodeToString(b)), nil)
	if err != nil {
		return res, fmt.Errorf("provision: %w", err)
	}
	return res, nil
}
