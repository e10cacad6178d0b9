package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/shared/metrics"
)

type buffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

var at = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func newEmitter(w *buffer) *metrics.Emitter {
	return &metrics.Emitter{Namespace: "GitPulse", Function: "sync-worker", W: w, Now: func() time.Time { return at }}
}

func TestFlushWritesValidEMF(t *testing.T) {
	var out buffer
	b := newEmitter(&out).Begin()
	b.Add("SyncItemsWritten", metrics.Count, 3, metrics.Dim("Course", "42"))
	b.Add("SyncItemsWritten", metrics.Count, 4, metrics.Dim("Course", "42"))
	b.Observe("SyncLagSeconds", metrics.Seconds, 60, metrics.Dim("Course", "42"))
	b.Observe("SyncLagSeconds", metrics.Seconds, 90, metrics.Dim("Course", "42"))
	b.Add("GitLabRequests", metrics.Count, 2)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	lines, err := metrics.Parse(out.String())
	if err != nil {
		t.Fatalf("parse %s: %v", out.String(), err)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (one per dimension set):\n%s", len(lines), out.String())
	}
	course := lines[0]
	if got, want := course.AWS.Timestamp, at.UnixMilli(); got != want {
		t.Errorf("Timestamp: got %d, want %d", got, want)
	}
	d := course.AWS.CloudWatchMetrics[0]
	if d.Namespace != "GitPulse" {
		t.Errorf("Namespace: got %q, want GitPulse", d.Namespace)
	}
	if got, want := fmtSets(d.Dimensions), "Function,Course|Function"; got != want {
		t.Errorf("Dimensions: got %s, want %s", got, want)
	}
	if v, _ := course.Value("SyncItemsWritten"); v != 7 {
		t.Errorf("SyncItemsWritten: got %v, want 7 (summed)", v)
	}
	if lag, ok := course.Fields["SyncLagSeconds"].([]any); !ok || len(lag) != 2 {
		t.Errorf("SyncLagSeconds: got %v, want both values", course.Fields["SyncLagSeconds"])
	}
	if got := course.Fields["Course"]; got != "42" {
		t.Errorf("Course: got %v, want 42", got)
	}
	if got, want := fmtSets(lines[1].AWS.CloudWatchMetrics[0].Dimensions), "Function"; got != want {
		t.Errorf("Dimensions of the function-only line: got %s, want %s", got, want)
	}

	// The batch is empty after a flush.
	before := out.String()
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != before {
		t.Errorf("second flush wrote %q, want nothing", strings.TrimPrefix(out.String(), before))
	}
}

func fmtSets(sets [][]string) string {
	var parts []string
	for _, s := range sets {
		parts = append(parts, strings.Join(s, ","))
	}
	return strings.Join(parts, "|")
}

func TestNilBatchAndContextWithoutBatch(t *testing.T) {
	var b *metrics.Batch
	b.Add("X", metrics.Count, 1)
	b.Observe("X", metrics.Count, 1)
	if err := b.Flush(); err != nil {
		t.Errorf("nil flush: got %v, want nil", err)
	}
	metrics.Add(context.Background(), "X", metrics.Count, 1) // must not panic
}

func TestManyValuesSplitOverLines(t *testing.T) {
	var out buffer
	b := newEmitter(&out).Begin()
	for i := range 250 {
		b.Observe("TokenDaysToExpiry", metrics.None, float64(i))
	}
	b.Add("Other", metrics.Count, 1)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	lines, err := metrics.Parse(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3 (100 values each at most)", len(lines))
	}
	var n int
	for _, l := range lines {
		if v, ok := l.Fields["TokenDaysToExpiry"].([]any); ok {
			n += len(v)
		} else if _, ok := l.Fields["TokenDaysToExpiry"].(float64); ok {
			n++
		}
	}
	if n != 250 {
		t.Errorf("got %d values, want 250", n)
	}
	if len(metrics.Find(lines, "Other")) != 1 {
		t.Errorf("Other: got %d lines, want 1", len(metrics.Find(lines, "Other")))
	}
}

func TestNonFiniteValuesIgnored(t *testing.T) {
	var out buffer
	b := newEmitter(&out).Begin()
	var zero float64
	b.Add("X", metrics.Count, zero/zero)
	b.Observe("Y", metrics.Count, 1/zero)
	if err := b.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if out.String() != "" {
		t.Errorf("got %q, want nothing", out.String())
	}
}

func TestConcurrentUse(t *testing.T) {
	var out buffer
	e := newEmitter(&out)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			b := e.Begin()
			for range 100 {
				b.Add("GitLabRequests", metrics.Count, 1)
			}
			if err := b.Flush(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines, err := metrics.Parse(out.String())
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, l := range lines {
		v, _ := l.Value("GitLabRequests")
		sum += v
	}
	if len(lines) != 8 || sum != 800 {
		t.Errorf("got %d lines summing to %v, want 8 lines summing to 800", len(lines), sum)
	}
}

func TestInterceptorCountsAttemptsAndThrottles(t *testing.T) {
	statuses := []int{429, 200, 500}
	var i int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(statuses[i%len(statuses)])
		i++
	}))
	defer srv.Close()
	var out buffer
	b := newEmitter(&out).Begin()
	ctx := metrics.NewContext(context.Background(), b)
	client := &http.Client{Transport: metrics.Interceptor(http.DefaultTransport)}
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		req.Header.Set("PRIVATE-TOKEN", "glpat-secret-value")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A transport error counts as a request too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/", nil)
	if _, err := client.Do(req); err == nil {
		t.Fatal("got no error from a closed port")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	lines, err := metrics.Parse(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	if v, _ := lines[0].Value(metrics.GitLabRequests); v != 4 {
		t.Errorf("GitLabRequests: got %v, want 4", v)
	}
	if v, _ := lines[0].Value(metrics.GitLabThrottled); v != 1 {
		t.Errorf("GitLabThrottled: got %v, want 1", v)
	}
	if strings.Contains(out.String(), "glpat-") {
		t.Errorf("metrics contain a token value: %s", out.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestFlushReportsWriteError(t *testing.T) {
	e := &metrics.Emitter{Namespace: "GitPulse", Function: "f", W: failWriter{}}
	b := e.Begin()
	b.Add("X", metrics.Count, 1)
	if err := b.Flush(); err == nil {
		t.Error("got nil, want the write error")
	}
}

func TestParseRejectsInvalidEMF(t *testing.T) {
	for name, line := range map[string]string{
		"metric missing":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"GitPulse","Dimensions":[["Function"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f"}`,
		"metric a string":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"GitPulse","Dimensions":[["Function"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f","X":"1"}`,
		"dimension missing": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"GitPulse","Dimensions":[["Function","Token"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f","X":1}`,
		"no timestamp":      `{"_aws":{"CloudWatchMetrics":[{"Namespace":"GitPulse","Dimensions":[["Function"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f","X":1}`,
		"reserved ns":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"AWS/Lambda","Dimensions":[["Function"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"Function":"f","X":1}`,
	} {
		if _, err := metrics.Parse(line); err == nil {
			t.Errorf("%s: got nil, want an error", name)
		}
	}
}
