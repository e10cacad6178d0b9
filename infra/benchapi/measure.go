package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// route is one measured request.
type route struct {
	name string // label in the report
	path string
	want int // the expected status
	// revalidate sends If-None-Match with the ETag of a first, plain
	// answer of the same path (the dashboard's poll).
	revalidate bool
	list       bool // a list route: exactly one Query per page
	bounded    bool // at most maxReads DynamoDB calls per request
	concurrent bool // also measured with -c goroutines
	dynamo     bool // reads DynamoDB (measured again on the larger course)
}

// routes are the measured requests on f's course.
func routes(f *fixture) []route {
	course, project := f.course.CourseID, f.projectID
	teams := fmt.Sprintf("/api/v1/courses/%d/teams", course)
	return []route{
		{name: "health/live", path: "/api/v1/health/live", want: 200},
		{name: "health (trivial checker)", path: "/api/v1/health", want: 200},
		{name: "course teams", path: teams, want: 200, list: true, bounded: true, concurrent: true, dynamo: true},
		{name: "project contributors", path: fmt.Sprintf("/api/v1/projects/%d/contributors", project), want: 200, bounded: true, concurrent: true, dynamo: true},
		{name: "project commits limit=50", path: fmt.Sprintf("/api/v1/projects/%d/commits?limit=50", project), want: 200, list: true, concurrent: true, dynamo: true},
		{name: "course students", path: fmt.Sprintf("/api/v1/courses/%d/students", course), want: 200, list: true, dynamo: true},
		{name: "course teams, If-None-Match", path: teams, want: 304, revalidate: true, dynamo: true},
	}
}

// sample is one request's outcome.
type sample struct {
	took   time.Duration
	status int
	calls  calls
}

// result is one route's measurement.
type result struct {
	route       route
	label       string // "" for the base run, " (c=4)", " (2×)" for the others
	concurrency int
	samples     []sample
	wall        time.Duration
	warmupBad   int // warm-up answers with another status than route.want
	items       int // items of the first answer's list (-1: not a list answer)
}

// client sends requests to the handler in-process, with the reader key.
type client struct {
	f    *fixture
	etag map[string]string // by path, for revalidation
}

// do sends one request and counts its DynamoDB calls.
func (c *client) do(ctx context.Context, rt route) (sample, *httptest.ResponseRecorder) {
	var counter callCounter
	req := httptest.NewRequestWithContext(withCounter(ctx, &counter), http.MethodGet, rt.path, nil)
	req.Header.Set("Authorization", "Bearer "+c.f.raw.Reveal())
	if rt.revalidate {
		req.Header.Set("If-None-Match", c.etag[rt.path])
	}
	rec := httptest.NewRecorder()
	t0 := time.Now()
	c.f.handler.ServeHTTP(rec, req)
	took := time.Since(t0)
	return sample{took: took, status: rec.Code, calls: counter.snapshot()}, rec
}

// prepare fetches the ETag a revalidating route sends. It fails when the
// plain answer is not a 200 with an ETag.
func (c *client) prepare(ctx context.Context, rt route) error {
	if !rt.revalidate {
		return nil
	}
	plain := rt
	plain.revalidate = false
	s, rec := c.do(ctx, plain)
	etag := rec.Header().Get("ETag")
	if s.status != http.StatusOK || etag == "" {
		return fmt.Errorf("%s: a plain GET answered %d with ETag %q, want 200 with an ETag: %s", rt.path, s.status, etag, rec.Body.String())
	}
	if c.etag == nil {
		c.etag = map[string]string{}
	}
	c.etag[rt.path] = etag
	return nil
}

// sequential sends warmup requests, then n more one after the other, and
// measures those.
func (c *client) sequential(ctx context.Context, rt route, warmup, n int) (result, error) {
	if err := c.prepare(ctx, rt); err != nil {
		return result{}, err
	}
	r := result{route: rt, concurrency: 1, items: -1}
	for i := range warmup {
		s, rec := c.do(ctx, rt)
		if s.status != rt.want {
			r.warmupBad++
		}
		if i == 0 {
			r.items = listLen(rec)
		}
	}
	r.samples = make([]sample, 0, n)
	t0 := time.Now()
	for range n {
		s, _ := c.do(ctx, rt)
		r.samples = append(r.samples, s)
	}
	r.wall = time.Since(t0)
	return r, nil
}

// concurrent sends n requests from workers goroutines at once (the
// handler is warm by then).
func (c *client) concurrent(ctx context.Context, rt route, workers, n int) (result, error) {
	if err := c.prepare(ctx, rt); err != nil {
		return result{}, err
	}
	r := result{route: rt, label: fmt.Sprintf(" (c=%d)", workers), concurrency: workers, items: -1}
	var (
		left = atomic.Int64{}
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	left.Store(int64(n))
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			var mine []sample
			for left.Add(-1) >= 0 {
				s, _ := c.do(ctx, rt)
				mine = append(mine, s)
			}
			mu.Lock()
			r.samples = append(r.samples, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.wall = time.Since(t0)
	return r, nil
}

// listLen is the length of a list answer's items, -1 for other answers.
func listLen(rec *httptest.ResponseRecorder) int {
	var body struct {
		Items []json.RawMessage `json:"items"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Items == nil {
		return -1
	}
	return len(body.Items)
}

// percentile is the nearest-rank p-th percentile of the latencies.
func (r result) percentile(p float64) time.Duration {
	if len(r.samples) == 0 {
		return 0
	}
	d := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		d[i] = s.took
	}
	slices.Sort(d)
	i := int(float64(len(d))*p/100+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// rps is requests per second over the measured run's wall time.
func (r result) rps() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(len(r.samples)) / r.wall.Seconds()
}

// opStat is one operation's calls per request.
type opStat struct {
	Avg float64 `json:"avg"`
	Max int     `json:"max"`
	Min int     `json:"min"`
}

// perRequest is the DynamoDB calls per request by operation, and of all
// operations under "total".
func (r result) perRequest() map[string]opStat {
	ops := map[string]bool{}
	for _, s := range r.samples {
		for op := range s.calls {
			ops[op] = true
		}
	}
	out := map[string]opStat{}
	stat := func(f func(calls) int) opStat {
		st := opStat{Min: -1}
		sum := 0
		for _, s := range r.samples {
			v := f(s.calls)
			sum += v
			st.Max = max(st.Max, v)
			if st.Min < 0 || v < st.Min {
				st.Min = v
			}
		}
		if len(r.samples) > 0 {
			st.Avg = float64(sum) / float64(len(r.samples))
		}
		st.Min = max(st.Min, 0)
		return st
	}
	for op := range ops {
		out[op] = stat(func(c calls) int { return c[op] })
	}
	out["total"] = stat(calls.total)
	return out
}

// statuses counts the measured answers by status.
func (r result) statuses() map[int]int {
	out := map[int]int{}
	for _, s := range r.samples {
		out[s.status]++
	}
	return out
}

// unexpected is the answers, warm-up included, whose status is not the
// route's.
func (r result) unexpected() int {
	n := r.warmupBad
	for _, s := range r.samples {
		if s.status != r.route.want {
			n++
		}
	}
	return n
}

// opNames is the operations of a per-request map, "total" left out, sorted.
func opNames(m map[string]opStat) []string {
	var names []string
	for op := range m {
		if op != "total" {
			names = append(names, op)
		}
	}
	sort.Strings(names)
	return names
}
