// Package metrics writes CloudWatch metrics as embedded metric format (EMF)
// log lines: JSON objects on the function's stdout that CloudWatch Logs
// turns into metrics. It makes no network call.
//
// A function holds one Emitter, built at cold start. Each invocation gets
// its own Batch (Emitter.Begin), carried in the context; code anywhere
// below the handler adds to it with Add and Observe, which do nothing when
// the context carries no batch (tests, local tools). The batch is written
// once, at the end of the invocation, with Flush: one line per set of
// dimensions, every metric of that set in it.
//
// Dimension values are names (function, token name, course id, rotation
// step), never token values or hashes.
package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// EnvNamespace names the environment variable that overrides the
// namespace; DefaultNamespace is used when it is empty.
const (
	EnvNamespace     = "METRICS_NAMESPACE"
	DefaultNamespace = "GitPulse"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units GitPulse uses.
const (
	Count   Unit = "Count"
	Seconds Unit = "Seconds"
	None    Unit = "None"
)

// Dimension is one dimension of a metric besides Function. An empty value
// is written as "unknown".
type Dimension struct {
	Name, Value string
}

// Dim returns a dimension.
func Dim(name, value string) Dimension { return Dimension{Name: name, Value: value} }

// FunctionDimension is the dimension every metric carries.
const FunctionDimension = "Function"

// maxDimensions is EMF's limit of dimensions per dimension set.
const maxDimensions = 30

var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9.\-_/#: ]{1,255}$`)

// ValidNamespace reports whether ns is a CloudWatch namespace
// (1-255 characters: letters, digits, and . - _ / # : space) that does not
// start with "AWS/" (reserved).
func ValidNamespace(ns string) bool {
	return namespacePattern.MatchString(ns) && !strings.HasPrefix(ns, "AWS/")
}

// Emitter writes EMF lines for one function. It is safe for concurrent
// use; lines are written whole, one Write each.
type Emitter struct {
	Namespace string
	Function  string
	W         io.Writer
	Now       func() time.Time

	mu sync.Mutex // serializes writes to W
}

// Begin returns an empty batch for one invocation; a nil Emitter returns
// a nil batch, which ignores everything.
func (e *Emitter) Begin() *Batch {
	if e == nil {
		return nil
	}
	return &Batch{e: e, sets: map[string]*set{}}
}

// Batch collects one invocation's metrics. It is safe for concurrent use.
// A nil *Batch ignores everything.
type Batch struct {
	e *Emitter

	mu    sync.Mutex
	sets  map[string]*set
	order []string
}

// set is the metrics of one dimension set.
type set struct {
	dims    []Dimension
	metrics map[string]*metric
	order   []string
}

type metric struct {
	unit   Unit
	values []float64 // Add: one summed value; Observe: every value
}

func key(dims []Dimension) string {
	var b strings.Builder
	for _, d := range dims {
		b.WriteString(d.Name)
		b.WriteByte(0)
		b.WriteString(d.Value)
		b.WriteByte(0)
	}
	return b.String()
}

func (b *Batch) metric(name string, unit Unit, dims []Dimension) *metric {
	dims = slices.Clone(dims)
	for i := range dims {
		if dims[i].Value == "" {
			dims[i].Value = "unknown" // EMF needs a non-empty string
		}
	}
	slices.SortStableFunc(dims, func(a, c Dimension) int { return strings.Compare(a.Name, c.Name) })
	k := key(dims)
	s, ok := b.sets[k]
	if !ok {
		s = &set{dims: dims, metrics: map[string]*metric{}}
		b.sets[k] = s
		b.order = append(b.order, k)
	}
	m, ok := s.metrics[name]
	if !ok {
		m = &metric{unit: unit}
		s.metrics[name] = m
		s.order = append(s.order, name)
	}
	return m
}

// Add adds v to the counter name (summed over the invocation) under
// Function and dims. Values that are not finite are ignored.
func (b *Batch) Add(name string, unit Unit, v float64, dims ...Dimension) {
	if b == nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.metric(name, unit, dims)
	if len(m.values) == 0 {
		m.values = []float64{0}
	}
	m.values[0] += v
}

// Observe records one more value of name (every value is kept, so
// CloudWatch computes minimum, maximum and averages over them) under
// Function and dims.
func (b *Batch) Observe(name string, unit Unit, v float64, dims ...Dimension) {
	if b == nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.metric(name, unit, dims)
	m.values = append(m.values, v)
}

// Flush writes the batch's metrics, one EMF line per dimension set, and
// empties it. A dimension set that is not Function alone is also published
// rolled up to Function alone, so alarms can watch the function's total.
// It returns the first write error.
func (b *Batch) Flush() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	sets, order := b.sets, b.order
	b.sets, b.order = map[string]*set{}, nil
	b.mu.Unlock()
	if len(order) == 0 {
		return nil
	}
	now := time.Now
	if b.e.Now != nil {
		now = b.e.Now
	}
	ts := now().UnixMilli()
	var buf bytes.Buffer
	for _, k := range order {
		for part := 0; ; part++ {
			line, more, err := b.e.line(sets[k], ts, part)
			if err != nil {
				return err
			}
			buf.Write(line)
			buf.WriteByte('\n')
			if !more {
				break
			}
		}
	}
	b.e.mu.Lock()
	defer b.e.mu.Unlock()
	if _, err := b.e.W.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

// Document is one EMF line.
type Document struct {
	AWS struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []Directive `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// Directive says which top-level members are metrics and dimensions.
type Directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []Definition `json:"Metrics"`
}

// Definition names one metric and its unit.
type Definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

// maxValues is EMF's limit of values per metric in one line; a set with
// more is written over several lines.
const maxValues = 100

// line encodes part (0, 1, ...) of set s; more reports whether values are
// left for another part.
func (e *Emitter) line(s *set, ts int64, part int) (line []byte, more bool, err error) {
	doc := map[string]any{}
	names := []string{FunctionDimension}
	doc[FunctionDimension] = e.Function
	for _, d := range s.dims {
		if d.Name == FunctionDimension || len(names) == maxDimensions {
			continue
		}
		names = append(names, d.Name)
		doc[d.Name] = d.Value
	}
	dimSets := [][]string{names}
	if len(names) > 1 {
		dimSets = append(dimSets, []string{FunctionDimension})
	}
	dir := Directive{Namespace: e.Namespace, Dimensions: dimSets}
	lo, hi := part*maxValues, (part+1)*maxValues
	for _, name := range s.order {
		m := s.metrics[name]
		if lo >= len(m.values) {
			continue
		}
		values := m.values[lo:min(hi, len(m.values))]
		more = more || len(m.values) > hi
		dir.Metrics = append(dir.Metrics, Definition{Name: name, Unit: m.unit})
		if len(values) == 1 {
			doc[name] = values[0]
		} else {
			doc[name] = values
		}
	}
	var d Document
	d.AWS.Timestamp = ts
	d.AWS.CloudWatchMetrics = []Directive{dir}
	doc["_aws"] = d.AWS
	line, err = json.Marshal(doc)
	if err != nil {
		return nil, false, fmt.Errorf("encode metrics: %w", err)
	}
	return line, more, nil
}

type ctxKey struct{}

// NewContext returns ctx carrying b.
func NewContext(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, ctxKey{}, b)
}

// FromContext returns the batch ctx carries, or nil.
func FromContext(ctx context.Context) *Batch {
	b, _ := ctx.Value(ctxKey{}).(*Batch)
	return b
}

// Add adds v to the counter name of the invocation's batch in ctx (no
// batch: nothing happens).
func Add(ctx context.Context, name string, unit Unit, v float64, dims ...Dimension) {
	FromContext(ctx).Add(name, unit, v, dims...)
}

// Observe records a value of name in the invocation's batch in ctx (no
// batch: nothing happens).
func Observe(ctx context.Context, name string, unit Unit, v float64, dims ...Dimension) {
	FromContext(ctx).Observe(name, unit, v, dims...)
}

// GitLab metric names, counted by Interceptor.
const (
	GitLabRequests  = "GitLabRequests"
	GitLabThrottled = "GitLabThrottled"
)

// Interceptor counts every attempt of a GitLab call (GitLabRequests) and
// every 429 answer (GitLabThrottled) in the batch of the request's
// context. Its type matches client-go's Interceptor.
func Interceptor(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		b := FromContext(req.Context())
		b.Add(GitLabRequests, Count, 1)
		throttled := 0.0
		if err == nil && resp.StatusCode == http.StatusTooManyRequests {
			throttled = 1
		}
		b.Add(GitLabThrottled, Count, throttled) // 0 too: the alarm sees data

		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
