// Command benchapi benchmarks the data API on a generated course synced
// into moto server: for the health, teams, students, contributors and
// commits routes, and the teams route revalidated with If-None-Match, it
// measures p50 and p99 latency, requests per second and the DynamoDB calls
// each request makes, by operation. It then checks the API's goals (one
// Query per list page, at most 5 reads for teams and contributors, no
// Scan, every answer 200 or 304) and checks them again on a course twice
// the size, where the reads per request must not grow. It exits non-zero
// when a goal fails or the benchmark cannot run.
//
//	make bench-api                        (starts and stops moto server)
//	make bench-api ARGS='-n 100 -json'    (fewer requests, JSON output)
//	go run ./infra/benchapi -h            (with AWS_ENDPOINT_URL set to a moto server)
//
// The GitLab simulator runs in-process and the handler is called
// in-process; AWS (moto) is found through the usual AWS_* environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

func main() {
	err := run()
	if errors.Is(err, errGoals) {
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-api:", err)
		os.Exit(2)
	}
}

// errGoals is a run that measured everything and missed a goal.
var errGoals = errors.New("a goal failed")

// options are the command line.
type options struct {
	spec        sim.CourseSpec
	n, warmup   int
	concurrency int
	scaleCheck  bool
	scaleN      int
	json        bool
}

func parseFlags() options {
	var o options
	flag.IntVar(&o.spec.Teams, "teams", 10, "teams (subgroups) of the course")
	flag.IntVar(&o.spec.StudentsPerTeam, "students", 4, "students per team (and per solo project)")
	flag.IntVar(&o.spec.SoloProjects, "solo", 2, "solo projects")
	flag.IntVar(&o.spec.Weeks, "weeks", 6, "weeks of activity")
	flag.IntVar(&o.n, "n", 500, "measured requests per route")
	flag.IntVar(&o.warmup, "warmup", 20, "warm-up requests per route, not measured")
	flag.IntVar(&o.concurrency, "c", 4, "goroutines for the concurrent runs (teams, contributors, commits)")
	flag.BoolVar(&o.scaleCheck, "scale-check", true, "check the reads per request again on a course twice the size")
	flag.IntVar(&o.scaleN, "scale-n", 50, "measured requests per route on the larger course")
	flag.BoolVar(&o.json, "json", false, "print the report as JSON (progress on stderr)")
	flag.Parse()
	o.spec.Path = "kpi/api-bench"
	return o
}

// run syncs the course, measures the routes, judges the goals and prints
// the report.
func run() error {
	o := parseFlags()
	if o.n < 1 || o.concurrency < 1 || o.warmup < 0 || o.scaleN < 1 {
		return errors.New("-n, -c and -scale-n must be at least 1, -warmup at least 0")
	}
	ctx := context.Background()
	out, progress := io.Writer(os.Stdout), io.Writer(os.Stdout)
	if o.json {
		progress = os.Stderr
	}
	cfg, err := testenv.LocalAWSConfig(ctx, "bench-api")
	if err != nil {
		return err
	}

	f, err := newFixture(ctx, cfg, o.spec)
	if err != nil {
		return err
	}
	defer f.stop()
	rep := report{Course: courseOf(f), Key: keyReport{f.key.Name, string(f.key.Role), f.key.Hash},
		N: o.n, Warmup: o.warmup, Concurrency: o.concurrency}
	printCourse(progress, "Synced", rep.Course)
	fmt.Fprintf(progress, "API key %s (%s) %s; contributors and commits of project %d\n", f.key.Name, f.key.Role, f.key.Hash, f.projectID)

	r := runs{fixtures: []*fixture{f}}
	c := &client{f: f}
	for _, rt := range routes(f) {
		res, err := c.sequential(ctx, rt, o.warmup, o.n)
		if err != nil {
			return err
		}
		r.base = append(r.base, res)
	}
	for _, rt := range routes(f) {
		if !rt.concurrent {
			continue
		}
		res, err := c.concurrent(ctx, rt, o.concurrency, o.n)
		if err != nil {
			return err
		}
		r.concurrent = append(r.concurrent, res)
	}
	rep.Sequential, rep.Concurrent = routeReports(r.base), routeReports(r.concurrent)
	if !o.json {
		printTable(out, fmt.Sprintf("Sequential: %d requests per route after %d warm-up", o.n, o.warmup), rep.Sequential)
		printTable(out, fmt.Sprintf("Concurrent: %d requests per route from %d goroutines", o.n, o.concurrency), rep.Concurrent)
	}

	if o.scaleCheck {
		spec := o.spec
		spec.Teams, spec.SoloProjects = 2*spec.Teams, 2*spec.SoloProjects
		spec.Path = "kpi/api-bench-2x"
		big, err := newFixture(ctx, cfg, spec)
		if err != nil {
			return fmt.Errorf("the larger course: %w", err)
		}
		defer big.stop()
		r.fixtures = append(r.fixtures, big)
		rep.Scale = &scaleReport{Course: courseOf(big)}
		printCourse(progress, "\nScale check", rep.Scale.Course)
		bc := &client{f: big}
		for _, rt := range routes(big) {
			if !rt.dynamo {
				continue
			}
			res, err := bc.sequential(ctx, rt, o.warmup, o.scaleN)
			if err != nil {
				return err
			}
			res.label = " (2×)"
			r.scaled = append(r.scaled, res)
		}
		rep.Scale.Results = routeReports(r.scaled)
		if !o.json {
			printTable(out, fmt.Sprintf("Course twice the size: %d requests per route after %d warm-up", o.scaleN, o.warmup), rep.Scale.Results)
		}
	}

	rep.Totals = map[string]int{}
	for _, f := range r.fixtures {
		for op, n := range f.db.all.snapshot() {
			rep.Totals[op] += n
		}
	}
	rep.Goals = judge(r)
	rep.Pass = passed(rep.Goals)
	if o.json {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		printGoals(out, rep.Goals)
		printNotes(out)
	}
	if !rep.Pass {
		return errGoals
	}
	return nil
}
