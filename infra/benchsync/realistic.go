package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// realistic puts the simulator behind what a real GitLab adds: a latency
// on every request, a self-managed instance's rate limit (RateLimit-*
// headers only on throttled answers) and a few 429 and 5xx answers spread
// over the run. The sync functions' client then runs at the configured
// rate GitPulse ships with (GITLAB_REQUESTS_PER_SECOND, 10 a second =
// 600/min), as in AWS.
type realistic struct {
	on        bool
	latency   time.Duration
	perMinute int
	faults    int // of each: 429, 500, 502
	gitlabCom bool
}

// flags registers the -realistic flags.
func (r *realistic) flags() {
	flag.BoolVar(&r.on, "realistic", false, "GitLab behind a latency, a rate limit and a few 429 and 5xx answers")
	flag.DurationVar(&r.latency, "latency", 80*time.Millisecond, "with -realistic: each GitLab request's latency")
	flag.IntVar(&r.perMinute, "rate-limit", 600, "with -realistic: GitLab's limit in requests a minute (the client runs at the same rate)")
	flag.BoolVar(&r.gitlabCom, "gitlab-com-headers", false, "with -realistic: RateLimit-* headers on every answer, as GitLab.com (default: on 429 answers only, as a self-managed instance)")
	flag.IntVar(&r.faults, "faults", 3, "with -realistic: at most how many 429, 500 and 502 answers (each) GitLab gives, at random requests (about 1 in 200)")
}

// apply configures the simulator.
func (r realistic) apply(s *sim.Sim) {
	s.SetRateLimit(r.perMinute)
	s.SetRateLimitHeadersOnEveryAnswer(r.gitlabCom)
	s.InjectFault(sim.Fault{PathPrefix: "/api/v4/", Latency: r.latency})
	if r.faults > 0 {
		for _, status := range []int{429, 500, 502} {
			// About one request in 200 until the count is used up: spread
			// over the full sync rather than bunched at its start.
			s.InjectFault(sim.Fault{PathPrefix: "/api/v4/", Status: status, Count: r.faults, Fraction: 0.005})
		}
	}
}

// clientRate is the sync client's request rate: the shipped default
// matched to the limit when realistic, else unlimited (the simulator and
// moto set the pace).
func (r realistic) clientRate() float64 {
	if !r.on {
		return 1e6
	}
	return float64(r.perMinute) / 60
}

// String describes the setting.
func (r realistic) String() string {
	return fmt.Sprintf("Realistic GitLab: %s latency a request, %d requests/min (self-managed: RateLimit headers on 429 only), up to %d each of 429, 500 and 502 at random requests; client at %.1f requests/s",
		r.latency, r.perMinute, r.faults, r.clientRate())
}
