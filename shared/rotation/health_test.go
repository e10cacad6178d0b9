package rotation_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// poller asks the real api bootstrap for /api/v1/health every 100 ms and
// keeps every answer's status and body.
type poller struct {
	mu      sync.Mutex
	polls   int
	non200  map[string]int // scenario -> non-200 answers
	last    string
	stage   string
	bodies  map[string][]string // stage -> bodies, for the 429 burst
	stop    chan struct{}
	done    chan struct{}
	url     string
	event   []byte
	invokes int
}

func startPoller(t *testing.T, fn *testenv.Lambda) *poller {
	p := &poller{non200: map[string]int{}, bodies: map[string][]string{}, stop: make(chan struct{}), done: make(chan struct{}), url: fn.URL, event: testenv.ReadEvent(t, "api-health.json")}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			status, body := p.once()
			p.mu.Lock()
			p.polls++
			p.last = body
			if p.stage == "429 burst" {
				p.bodies[p.stage] = append(p.bodies[p.stage], body)
			}
			if status != http.StatusOK {
				p.non200[fmt.Sprintf("%s: %d %s", p.stage, status, body)]++
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *poller) once() (int, string) {
	resp, err := http.Post(p.url, "application/json", bytes.NewReader(p.event))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ev events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &ev); err != nil || ev.StatusCode == 0 {
		return 0, string(raw)
	}
	return ev.StatusCode, ev.Body
}

func (p *poller) at(stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage = stage
}

func (p *poller) close() {
	close(p.stop)
	<-p.done
}

// TestHealthThroughRotationsUnderEmulator polls /health every 100 ms
// through the real api bootstrap (token cache as deployed: 1 minute)
// while the scenarios run, and then through a burst of 429s: every answer
// must be 200, since some version of the secret always holds a working
// token (the self strategy's one window is left out: no token works there).
func TestHealthThroughRotationsUnderEmulator(t *testing.T) {
	for _, strategy := range []string{secrets.StrategySelf, secrets.StrategyAdmin} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "group", strategy)
			fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(testenv.AWSEnv(t),
				"DATA_TABLE="+f.res.DataTable,
				"AUDIT_TABLE="+f.res.AuditTable,
				"GITLAB_TOKEN_SECRET_ARN="+f.arn,
				"HEALTH_CACHE_TTL=1s",
			))
			calls := gitlabCalls(f)
			var list []scenario
			for _, sc := range scenarios(f, calls) {
				if !sc.window {
					list = append(list, sc)
				}
			}
			p := startPoller(t, fn)
			var rows []outcome
			for _, sc := range list {
				p.at(sc.name)
				rows = append(rows, runScenarios(t, f, "group", []scenario{sc}, nil)...)
			}
			f.t = t
			p.at("after the scenarios")
			time.Sleep(500 * time.Millisecond)

			// A burst of 429s: a throttle is not a broken token.
			p.at("429 burst")
			f.sim.InjectFault(sim.Fault{PathPrefix: "/api/v4/personal_access_tokens/self", Status: 429, Count: 40})
			degraded := `"gitlab":{"status":"degraded","reason":"GitLab is throttling requests"}`
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				p.mu.Lock()
				seen := strings.Contains(strings.Join(p.bodies["429 burst"], "\n"), degraded)
				p.mu.Unlock()
				if seen {
					break
				}
			}
			p.close()
			f.sim.ClearFaults()

			p.mu.Lock()
			defer p.mu.Unlock()
			var bad []string
			n := 0
			for k, c := range p.non200 {
				bad = append(bad, k)
				n += c
			}
			sort.Strings(bad)
			if n != 0 {
				t.Errorf("health: %d of %d polls were not 200:\n%s", n, p.polls, strings.Join(bad, "\n"))
			}
			if burst := strings.Join(p.bodies["429 burst"], "\n"); !strings.Contains(burst, degraded) {
				t.Errorf("health during the 429 burst: got %s, want the gitlab check degraded (throttled)", burst)
			}
			t.Logf("health: %d polls through the api bootstrap over %d scenarios, %d not 200", p.polls, len(rows), n)
			testenv.AssertNoSecret(t, "api output", fn.Output.String(), f.values...)
		})
	}
}
