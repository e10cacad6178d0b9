package sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Fault makes matching requests slow, fail or vanish. Faults apply to /api/v4
// and /oauth requests before rate limiting and authentication, like a proxy
// in front of GitLab; they never apply to the control API.
type Fault struct {
	// PathPrefix selects requests by URL path; "" selects all.
	PathPrefix string
	// Latency is added before answering.
	Latency time.Duration
	// Status, when not 0, replaces the real answer: a GitLab-like JSON body
	// {"message":"<status> <text>"}, or for 429 the plain text "Retry later"
	// with "Retry-After: 1".
	Status int
	// Count limits the fault to the next Count matching requests it fires
	// on. 0 keeps it until the faults are cleared.
	Count int
	// Fraction, when above 0, is the probability that the fault fires on a
	// matching request.
	Fraction float64
	// Drop closes the connection without answering, so the client sees EOF
	// or a reset connection. It wins over Status.
	Drop bool
}

// InjectFault adds a fault. Several faults may match one request: their
// latencies add up, and any Drop or Status among them is applied.
func (s *Sim) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// faultEffect is what the faults firing on one request do.
type faultEffect struct {
	latency time.Duration
	status  int
	drop    bool
}

// fireFaultsLocked picks the faults that fire on a request for path, uses up
// one of their counts and returns their combined effect. The caller holds
// s.mu.
func (s *Sim) fireFaultsLocked(path string) faultEffect {
	var e faultEffect
	kept := s.faults[:0]
	for _, f := range s.faults {
		fires := strings.HasPrefix(path, f.PathPrefix) && (f.Fraction <= 0 || rand.Float64() < f.Fraction)
		if fires {
			e.latency += f.Latency
			e.drop = e.drop || f.Drop
			if f.Status != 0 && e.status == 0 {
				e.status = f.Status
			}
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	clear(s.faults[len(kept):])
	s.faults = kept
	return e
}

// apply carries out the effect and reports whether the request may go on.
func (e faultEffect) apply(w http.ResponseWriter, r *http.Request) bool {
	if e.latency > 0 {
		t := time.NewTimer(e.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	switch {
	case e.drop:
		dropConnection(w)
		return false
	case e.status == http.StatusTooManyRequests:
		writeRetryLater(w, 1)
		return false
	case e.status != 0:
		writeJSON(w, e.status, messageBody{fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))})
		return false
	}
	return true
}

// dropConnection closes the client connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 and recorders cannot hijack; aborting the handler is the
		// documented way to break the response off there.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
