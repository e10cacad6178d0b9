package main

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapMetric is the bytes of heap objects, live and not yet swept: what
// the process holds for its Go values.
const heapMetric = "/memory/classes/heap/objects:bytes"

// Counters read at the start and end of a peak.
const (
	allocsMetric = "/gc/heap/allocs:bytes"
	cyclesMetric = "/gc/cycles/total:gc-cycles"
)

// peak is the highest heap seen since a baseline, with the bytes allocated
// and the GC cycles run in between.
type peak struct {
	on             bool
	base, high     uint64
	allocs, cycles uint64
}

// counters reads the allocation and GC cycle counters.
func counters() (allocs, cycles uint64) {
	s := []metrics.Sample{{Name: allocsMetric}, {Name: cyclesMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// memWatch samples the heap every interval and keeps two peaks: one over
// a whole phase and one over a window inside it (the largest project's
// task).
type memWatch struct {
	mu            sync.Mutex
	phase, window peak
	stop          chan struct{}
	done          chan struct{}
}

// watchMemory starts sampling.
func watchMemory(interval time.Duration) *memWatch {
	m := &memWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

// Close stops sampling.
func (m *memWatch) Close() {
	close(m.stop)
	<-m.done
}

// heapBytes reads the heap metric.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sample records the current heap in the running peaks.
func (m *memWatch) sample() {
	v := heapBytes()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range []*peak{&m.phase, &m.window} {
		if p.on && v > p.high {
			p.high = v
		}
	}
}

// begin collects garbage, so that the baseline is what stays live, and
// starts p from it.
func (m *memWatch) begin(p *peak) {
	runtime.GC()
	v := heapBytes()
	a, c := counters()
	m.mu.Lock()
	defer m.mu.Unlock()
	*p = peak{on: true, base: v, high: v, allocs: a, cycles: c}
}

// end takes a last sample and stops p, returning it.
func (m *memWatch) end(p *peak) peak {
	m.sample()
	a, c := counters()
	m.mu.Lock()
	defer m.mu.Unlock()
	p.on = false
	p.allocs, p.cycles = a-p.allocs, c-p.cycles
	return *p
}

// BeginPhase starts the phase peak; BeginWindow the window peak.
func (m *memWatch) BeginPhase()  { m.begin(&m.phase) }
func (m *memWatch) BeginWindow() { m.begin(&m.window) }

// EndPhase and EndWindow stop them and return what they saw.
func (m *memWatch) EndPhase() peak  { return m.end(&m.phase) }
func (m *memWatch) EndWindow() peak { return m.end(&m.window) }

// Merge keeps the higher of two window peaks (a project handled in more
// than one task), each against its own baseline, and adds up what they
// allocated.
func (p peak) Merge(q peak) peak {
	hi := p
	if q.Growth() > p.Growth() {
		hi = q
	}
	hi.allocs, hi.cycles = p.allocs+q.allocs, p.cycles+q.cycles
	return hi
}

// Growth is the peak above the baseline.
func (p peak) Growth() uint64 { return p.high - p.base }
