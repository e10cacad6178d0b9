package sim

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// window counts the requests of one user or IP in one clock-aligned minute,
// like GitLab's Rack::Attack throttles.
type window struct {
	start time.Time
	count int
}

// rateVerdict is the rate limit state of one request. The zero value means
// throttling is off.
type rateVerdict struct {
	name            string
	limit, observed int
	reset, now      time.Time
	// every sets the headers on answers that are not throttled too.
	every bool
}

// SetRateLimitHeadersOnEveryAnswer chooses which GitLab the simulator's
// RateLimit-* headers imitate. false, the default, is a self-managed
// instance: the headers only on a throttled (429) answer, none while the
// budget lasts. true is GitLab.com, which sends them on every answer. Where
// this was checked: GitLab's lib/gitlab/rack_attack.rb (throttled_responder
// sets the headers; the all-response headers of GitLab MR 209485 sit behind
// a feature flag and a .com setting), and /work/shared/gitlab-facts.md,
// "Rate limits".
func (s *Sim) SetRateLimitHeadersOnEveryAnswer(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateEveryAnswer = on
}

// throttleLocked counts a request against the window of key and returns the
// verdict. Authenticated requests count per token owner
// (throttle_authenticated_api), others per remote IP
// (throttle_unauthenticated_api). The caller holds s.mu.
func (s *Sim) throttleLocked(r *http.Request, t *tokenRecord, now time.Time) rateVerdict {
	if s.ratePerMin <= 0 {
		return rateVerdict{}
	}
	name, key := "throttle_unauthenticated_api", "ip:"+remoteIP(r)
	if usable(t, now) {
		name, key = "throttle_authenticated_api", "user:"+strconv.Itoa(t.UserID)
	}
	observed := s.countLocked(key, now)
	return rateVerdict{name: name, limit: s.ratePerMin, observed: observed, reset: now.Truncate(time.Minute).Add(time.Minute), now: now, every: s.rateEveryAnswer}
}

// countLocked counts a request in key's window of the minute of now and
// returns the window's count. The caller holds s.mu.
func (s *Sim) countLocked(key string, now time.Time) int {
	start := now.Truncate(time.Minute)
	w := s.windows[key]
	if w == nil || !w.start.Equal(start) {
		w = &window{start: start}
		s.windows[key] = w
	}
	w.count++
	return w.count
}

// write sets the RateLimit headers and, when the budget is spent, answers
// 429 the way GitLab does. It reports whether the request may go on.
func (v rateVerdict) write(w http.ResponseWriter) bool {
	if v.limit == 0 || !v.every && v.observed <= v.limit {
		return true
	}
	h := w.Header()
	h.Set("RateLimit-Name", v.name)
	h.Set("RateLimit-Limit", strconv.Itoa(v.limit))
	h.Set("RateLimit-Observed", strconv.Itoa(v.observed))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, v.limit-v.observed)))
	h.Set("RateLimit-Reset", strconv.FormatInt(v.reset.Unix(), 10))
	if v.observed <= v.limit {
		return true
	}
	wait := int(math.Ceil(v.reset.Sub(v.now).Seconds()))
	h.Set("RateLimit-ResetTime", v.reset.UTC().Format(http.TimeFormat))
	writeRetryLater(w, max(1, wait))
	return false
}

// writeRetryLater writes GitLab's throttled answer.
func writeRetryLater(w http.ResponseWriter, retryAfter int) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("Retry later\n"))
}
