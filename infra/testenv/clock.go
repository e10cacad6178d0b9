package testenv

import (
	"sync"
	"time"
)

// Clock is a settable clock for tests, safe for concurrent use. Pass its
// Now method wherever code takes a clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Shifted is real time moved by a settable offset, safe for concurrent
// use: a test skips ahead (an hour of a teaching day) while deadlines and
// timeouts keep running on the real clock.
type Shifted struct {
	mu sync.Mutex
	by time.Duration
}

// Now returns the real time plus the offset.
func (s *Shifted) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.by)
}

// Skip moves the clock d ahead.
func (s *Shifted) Skip(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.by += d
}
