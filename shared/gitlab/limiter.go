package gitlab

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces requests to GitLab: a configured steady rate, and a pause
// for everyone when GitLab says the budget is spent (a 429 with Retry-After
// or RateLimit-Reset, or RateLimit-Remaining: 0). client-go's own limiter
// only reads RateLimit-Reset and only configures itself once; this one
// honours both headers on every response.
type Limiter struct {
	rate *rate.Limiter
	now  func() time.Time

	mu          sync.Mutex
	pausedUntil time.Time
}

// NewLimiter returns a Limiter allowing perSecond requests per second.
func NewLimiter(perSecond float64, now func() time.Time) *Limiter {
	burst := max(int(perSecond), 1)
	return &Limiter{rate: rate.NewLimiter(rate.Limit(perSecond), burst), now: now}
}

// Wait blocks until a request may be sent, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	until := l.pausedUntil
	l.mu.Unlock()
	if d := until.Sub(l.now()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return l.rate.Wait(ctx)
}

// PausedUntil reports until when GitLab asked for calls to stop.
func (l *Limiter) PausedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pausedUntil
}

func (l *Limiter) pause(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// Observe is an interceptor that reads GitLab's throttling headers on every
// response and pauses the limiter when the budget is spent.
func (l *Limiter) Observe(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		now := l.now()
		spent := resp.StatusCode == http.StatusTooManyRequests || resp.Header.Get("RateLimit-Remaining") == "0"
		if spent {
			if d, ok := retryDelay(resp.Header, now); ok {
				l.pause(now.Add(d))
			}
		}
		return resp, nil
	})
}

// retryDelay reads how long GitLab asks to wait: Retry-After (seconds or an
// HTTP date), else RateLimit-Reset (unix seconds).
func retryDelay(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if v := h.Get("RateLimit-Reset"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
			return max(time.Unix(s, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
