package audit_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// BenchmarkGitLabCalls runs 1,000 GitLab calls (GET /user on the simulator)
// per op, with the audit off and on (buffered, batched to moto, flushed at
// the end of the op as an invocation would). `make bench-audit` reports
// the medians and their ratios. Two GitLab latencies: none (the simulator
// answers in-process in tens of microseconds, so this measures moto's
// write throughput more than GitPulse's overhead) and 2ms, still below
// any real network round trip to a GitLab server.
func BenchmarkGitLabCalls(b *testing.B) {
	cfg := testenv.AWSConfig(b)
	res := testenv.Provision(b, cfg, nil)
	s, url := testenv.Sim(b)
	exp := time.Now().AddDate(0, 1, 0)
	tok, err := s.AddToken(sim.TokenSpec{Scopes: []string{"read_api"}, ExpiresAt: &exp})
	if err != nil {
		b.Fatal(err)
	}
	provider := gitlab.StaticToken(gitpulse.Token{Name: "bench", Value: gitpulse.NewSecret(tok.Value), URL: url})
	writer := &audit.Writer{DB: dynamodb.NewFromConfig(cfg), Table: res.AuditTable, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	rec := &audit.Recorder{Sink: writer, Function: "bench", Now: time.Now}

	for _, latency := range []time.Duration{0, 2 * time.Millisecond} {
		s.ClearFaults()
		if latency > 0 {
			s.InjectFault(sim.Fault{Latency: latency})
		}
		benchCalls(b, "latency="+latency.String(), provider, writer, rec)
	}
}

func benchCalls(b *testing.B, prefix string, provider gitlab.TokenProvider, writer *audit.Writer, rec *audit.Recorder) {
	// audit=discard records every call (hashing, endpoint, entry) into a
	// sink that drops it: GitPulse's own per-call cost without DynamoDB.
	discard := &audit.Recorder{Sink: discardSink{}, Function: "bench", Now: time.Now}
	for _, mode := range []string{"off", "discard", "on"} {
		opts := gitlab.Options{Provider: provider, RequestsPerSecond: 1e9}
		name := prefix + "/audit=" + mode
		switch mode {
		case "discard":
			opts.Interceptors = []gl.Interceptor{discard.Interceptor}
		case "on":
			opts.Interceptors = []gl.Interceptor{rec.Interceptor}
		}
		client, err := gitlab.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		api, err := client.API(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			var flush time.Duration
			defer func() { b.ReportMetric(float64(flush.Milliseconds())/float64(b.N), "flush-ms/op") }()
			for b.Loop() {
				for range 1000 {
					if _, _, err := api.Users.CurrentUser(); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				if _, err := writer.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				flush += time.Since(start)
			}
		})
	}
}

type discardSink struct{}

func (discardSink) Record(audit.Entry) {}
