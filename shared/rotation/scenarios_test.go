package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// The invariant these scenarios try to break: AWSCURRENT only ever moves
// onto a token GitLab accepts, and after any disturbance the next
// scheduled rotation (and readers, at once) end with AWSCURRENT on a
// working token and no rotation left open, with no stage moved by hand.

var errCrashed = errors.New("crashed: the function died after its last GitLab call")

// crash makes the rotation function die right after its n-th GitLab call
// of an invocation returns: every later call, to GitLab or to Secrets
// Manager, fails, as nothing runs after a crash. A hand-written fault,
// because no real part can kill a process at that precise moment.
type crash struct {
	mu    sync.Mutex
	after int // 0: off
	calls int
	dead  bool
}

func (c *crash) arm(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after, c.calls, c.dead = n, 0, false
}

// disarm ends the crashed invocation; it returns whether the crash fired.
func (c *crash) disarm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	fired := c.dead
	c.after, c.calls, c.dead = 0, 0, false
	return fired
}

func (c *crash) isDead() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *crash) intercept(next http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		if c.isDead() {
			return nil, errCrashed
		}
		resp, err := next.RoundTrip(r)
		c.mu.Lock()
		if c.after > 0 {
			c.calls++
			if c.calls >= c.after {
				c.dead = true
			}
		}
		c.mu.Unlock()
		return resp, err
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// lockedWriter lets parallel rotations share a log buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

const lambdaARN = "arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"

func (f *fixture) driver() rotation.Driver {
	return rotation.Driver{SM: f.sm.Client, LambdaARN: lambdaARN}
}

// currentVersion returns the version holding AWSCURRENT.
func (f *fixture) currentVersion() string {
	f.t.Helper()
	for id, st := range f.stages() {
		if slices.Contains(st, secrets.StageCurrent) {
			return id
		}
	}
	return ""
}

// versionToken returns the token value a version holds, or "".
func (f *fixture) versionToken(id string) string {
	v, err := secrets.Store{API: f.sm.Client}.ReadVersion(context.Background(), f.arn, id)
	if err != nil {
		return ""
	}
	return v.Secret.Token
}

// checked runs a step and fails the test if it moved AWSCURRENT onto a
// token GitLab does not accept: the invariant.
func (f *fixture) checked(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	before := f.currentVersion()
	err := f.rotator.Handle(ctx, ev)
	if after := f.currentVersion(); after != before {
		tok := f.versionToken(after)
		ok := tok != "" && f.status(tok) == 200
		// A self rotation revokes the token it rotates in the same step:
		// a createSecret that repaired AWSCURRENT and then rotated that
		// token is fine when the new token is in AWSPENDING and works.
		if !ok && f.strategy == secrets.StrategySelf && ev.Step == rotation.StepCreate {
			next := f.versionToken(ev.ClientRequestToken)
			ok = next != "" && next != tok && f.status(next) == 200
		}
		if !ok {
			f.t.Errorf("invariant broken: %s (after %v) moved AWSCURRENT from %s onto %s, whose token GitLab does not accept", ev.Step, err, before, after)
		}
	}
	return err
}

func (f *fixture) checkedStep(step, token string) error {
	return f.checked(context.Background(), events.SecretsManagerSecretRotationEvent{Step: step, SecretID: f.arn, ClientRequestToken: token})
}

// scheduled runs the next rotation as Secrets Manager would: the open
// rotation again, or a new one, all four steps in order.
func (f *fixture) scheduled() (continued bool, err error) {
	f.t.Helper()
	d := f.driver()
	token, continued, err := d.Begin(context.Background(), f.arn)
	if err != nil {
		f.t.Fatalf("begin rotation: %v", err)
	}
	return continued, d.Run(context.Background(), f.arn, token, f.checked, nil)
}

// open starts a rotation without running a step and returns its token.
func (f *fixture) open() string {
	f.t.Helper()
	token, continued, err := f.driver().Begin(context.Background(), f.arn)
	if err != nil || continued {
		f.t.Fatalf("open a rotation: got continued=%t, %v; want a new rotation", continued, err)
	}
	return token
}

// wantWorking asserts the end state: AWSCURRENT's token authenticates,
// no rotation is open, and a fresh reader reads at once.
func (f *fixture) wantWorking(when string) {
	f.t.Helper()
	cur := f.value(secrets.StageCurrent)
	f.values = append(f.values, cur.Token)
	if got := f.status(cur.Token); got != 200 {
		f.t.Errorf("%s: AWSCURRENT's token gets %d from GitLab, want 200", when, got)
	}
	if open := rotation.OpenRotation(f.stages()); open != "" {
		f.t.Errorf("%s: a rotation is still open (AWSPENDING on %s)", when, open)
	}
	f.wantRead(when)
}

// wantRead reads GitLab as a fresh reader (a new provider and client)
// would, once.
func (f *fixture) wantRead(when string) {
	f.t.Helper()
	if err := readOnce(f.reader(time.Minute)); err != nil {
		f.t.Errorf("%s: a fresh reader failed: %v", when, err)
	}
}

func (f *fixture) reader(ttl time.Duration) *gitlab.Client {
	f.t.Helper()
	prov := secrets.NewProvider(secrets.Store{API: f.sm.Client}, f.arn, ttl, time.Now)
	c, err := gitlab.New(gitlab.Options{Provider: prov, RequestsPerSecond: 1e6, Interceptors: []gl.Interceptor{traceAttempts}})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func readOnce(c *gitlab.Client) error {
	_, err := tracedRead(c)
	return err
}

// tracedRead reads once and returns, beside the error, the read's
// attempts (token hash, status, time since the read began), so that a
// failed read says what it tried.
func tracedRead(c *gitlab.Client) (*readTrace, error) {
	tr := &readTrace{start: time.Now()}
	ctx := context.WithValue(context.Background(), traceKey{}, tr)
	api, err := c.API(ctx)
	if err == nil {
		_, _, err = api.Users.CurrentUser(gl.WithContext(ctx))
	}
	return tr, err
}

type traceKey struct{}

type readTrace struct {
	start    time.Time
	mu       sync.Mutex
	attempts []string
}

func (tr *readTrace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.attempts, ", ")
}

// traceAttempts records each attempt of a traced read.
func traceAttempts(next http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if tr, ok := r.Context().Value(traceKey{}).(*readTrace); ok {
			status := "error"
			if err == nil {
				status = fmt.Sprint(resp.StatusCode)
			}
			tr.mu.Lock()
			tr.attempts = append(tr.attempts, fmt.Sprintf("%s %s at +%dms", gitpulse.NewSecret(gitlab.SentToken(r.Header)).Hash(), status, time.Since(tr.start).Milliseconds()))
			tr.mu.Unlock()
		}
		return resp, err
	})
}

// nameTokens replaces the token hashes in s by the tokens' names in the
// order the fixture met them (token 0 first).
func (f *fixture) nameTokens(s string) string {
	for i, v := range f.values {
		s = strings.ReplaceAll(s, gitpulse.NewSecret(v).Hash(), fmt.Sprintf("token %d", i))
	}
	return s
}

// newToken makes another token of the fixture's identity in GitLab.
func (f *fixture) newToken() sim.Token {
	f.t.Helper()
	exp := time.Now().UTC().AddDate(0, 0, 20)
	spec := f.spec
	spec.ExpiresAt = &exp
	tok, err := f.sim.AddToken(spec)
	if err != nil {
		f.t.Fatal(err)
	}
	f.values = append(f.values, tok.Value)
	return tok
}

// put stores tok in the secret (the current settings kept) with stages.
func (f *fixture) put(tok sim.Token, stages ...string) string {
	f.t.Helper()
	v := f.value(secrets.StageCurrent)
	v.Token, v.TokenID, v.Scopes, v.ExpiresAt, v.RotatedAt = tok.Value, tok.ID, nil, "", ""
	return f.putRaw(mustJSON(v), stages...)
}

// putRaw stores value as a new version with stages. AWSCURRENT is moved
// onto it with UpdateSecretVersionStage, as a person would: moto 5.2.1's
// PutSecretValue with AWSCURRENT, after a stage move, leaves the label on
// two versions (AWS never does).
func (f *fixture) putRaw(value string, stages ...string) string {
	f.t.Helper()
	tmp := slices.DeleteFunc(slices.Clone(stages), func(s string) bool { return s == secrets.StageCurrent })
	if len(tmp) == 0 {
		tmp = []string{"GITPULSE_PUT"}
	}
	out, err := f.sm.Client.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(f.arn), SecretString: aws.String(value), VersionStages: tmp})
	if err != nil {
		f.t.Fatal(err)
	}
	id := aws.ToString(out.VersionId)
	if slices.Contains(stages, secrets.StageCurrent) {
		f.moveStage(secrets.StageCurrent, id, f.currentVersion())
	}
	if !slices.Equal(tmp, stages) && tmp[0] == "GITPULSE_PUT" {
		f.moveStage("GITPULSE_PUT", "", id)
	}
	return id
}

func (f *fixture) moveStage(stage, to, from string) {
	f.t.Helper()
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(f.arn), VersionStage: aws.String(stage)}
	if to != "" {
		in.MoveToVersionId = aws.String(to)
	}
	if from != "" {
		in.RemoveFromVersionId = aws.String(from)
	}
	if _, err := f.sm.Client.UpdateSecretVersionStage(context.Background(), in); err != nil {
		f.t.Fatal(err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// scenario disturbs the stored state as the world can; window marks the
// one state no code can recover from (the self strategy's lost rotate
// answer: the only working token existed in that answer).
type scenario struct {
	name    string
	disturb func(f *fixture)
	window  bool
}

func permutations(steps []string) [][]string {
	if len(steps) <= 1 {
		return [][]string{slices.Clone(steps)}
	}
	var out [][]string
	for i, s := range steps {
		rest := slices.Concat(steps[:i:i], steps[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s}, p...))
		}
	}
	return out
}

// scenarios lists every disturbance for one fixture.
func scenarios(f *fixture, crashes int) []scenario {
	var out []scenario
	for n := 1; n <= 3; n++ {
		out = append(out, scenario{name: fmt.Sprintf("prefix %d (%s)", n, strings.Join(rotation.Steps[:n], ",")), disturb: func(f *fixture) {
			token := f.open()
			for _, st := range rotation.Steps[:n] {
				if err := f.checkedStep(st, token); err != nil {
					f.t.Errorf("%s: %v", st, err)
				}
			}
		}})
	}
	for _, order := range permutations(rotation.Steps) {
		out = append(out, scenario{name: "order " + strings.Join(order, ","), disturb: func(f *fixture) {
			token := f.open()
			for _, st := range order {
				_ = f.checkedStep(st, token) // out of order: refused or done
			}
		}})
	}
	out = append(out, scenario{name: "each step twice", disturb: func(f *fixture) {
		token := f.open()
		for _, st := range rotation.Steps {
			for i := range 2 {
				if err := f.checkedStep(st, token); err != nil {
					f.t.Errorf("%s (run %d): %v", st, i+1, err)
				}
			}
		}
	}})
	out = append(out, scenario{name: "foreign ClientRequestToken", disturb: func(f *fixture) {
		before := f.stages()
		for _, st := range rotation.Steps {
			if err := f.checkedStep(st, uuid()); err == nil {
				f.t.Errorf("%s with a foreign token: got success, want a refusal", st)
			}
		}
		if after := f.stages(); fmt.Sprint(sortedStages(after)) != fmt.Sprint(sortedStages(before)) {
			f.t.Errorf("foreign token changed the stages: %v -> %v", before, after)
		}
	}})
	out = append(out, scenario{name: "steps for finished versions", disturb: func(f *fixture) {
		cur, prev := f.currentVersion(), ""
		for id, st := range f.stages() {
			if slices.Contains(st, secrets.StagePrevious) {
				prev = id
			}
		}
		before := f.stages()
		for _, st := range rotation.Steps {
			if err := f.checkedStep(st, cur); err != nil {
				f.t.Errorf("%s for the finished (AWSCURRENT) version: got %v, want a no-op", st, err)
			}
			if prev != "" {
				if err := f.checkedStep(st, prev); err == nil {
					f.t.Errorf("%s for the replaced (AWSPREVIOUS) version: got success, want a refusal", st)
				}
			}
		}
		if after := f.stages(); fmt.Sprint(sortedStages(after)) != fmt.Sprint(sortedStages(before)) {
			f.t.Errorf("steps for finished versions changed the stages: %v -> %v", before, after)
		}
	}})
	out = append(out, scenario{name: "second rotation started while one is open", disturb: func(f *fixture) {
		first := f.open()
		if err := f.checkedStep(rotation.StepCreate, first); err != nil {
			f.t.Errorf("createSecret: %v", err)
		}
		// Something other than Secrets Manager starts a second rotation:
		// the emulator moves AWSPENDING away from the first one's version.
		second := uuid()
		_, _ = f.sm.Client.RotateSecret(context.Background(), &secretsmanager.RotateSecretInput{
			SecretId: aws.String(f.arn), ClientRequestToken: aws.String(second), RotationLambdaARN: aws.String(lambdaARN), RotationRules: &smRules})
		if err := f.driver().Run(context.Background(), f.arn, second, f.checked, nil); err != nil {
			f.t.Errorf("the second rotation: %v", err)
		}
	}})
	out = append(out, scenario{name: "AWSCURRENT holds no value (an early finishSecret of old)", disturb: func(f *fixture) {
		token := f.open()
		cur := f.currentVersion()
		f.moveStage(secrets.StageCurrent, token, cur)
		f.moveStage(secrets.StagePending, "", token)
	}})
	out = append(out, scenario{name: "AWSCURRENT malformed", disturb: func(f *fixture) {
		f.putRaw(`{"token":"x","gitlabUrl":"ftp://nowhere"}`, secrets.StageCurrent)
	}})
	out = append(out, scenario{name: "AWSCURRENT revoked, the working token only in AWSPREVIOUS", disturb: func(f *fixture) {
		w := f.newToken()
		f.put(w, secrets.StageCurrent)
		if err := f.sim.RevokeToken(w.ID); err != nil {
			f.t.Fatal(err)
		}
	}})
	out = append(out, scenario{name: "AWSCURRENT revoked, the working token only in an unlabelled version", disturb: func(f *fixture) {
		cur := f.value(secrets.StageCurrent)
		w := f.newToken()
		id := f.put(w, "GITPULSE_TEST")
		f.moveStage("GITPULSE_TEST", "", id)
		if err := f.sim.RevokeToken(cur.TokenID); err != nil {
			f.t.Fatal(err)
		}
	}})
	for n := 1; n <= crashes; n++ {
		out = append(out, scenario{name: fmt.Sprintf("crash after GitLab call %d", n), disturb: func(f *fixture) {
			token := f.open()
			f.crash.arm(n)
			for _, st := range rotation.Steps {
				if err := f.checkedStep(st, token); err != nil {
					break
				}
			}
			f.crash.disarm()
		}, window: f.strategy == secrets.StrategySelf && n == 2})
	}
	return out
}

func sortedStages(m map[string][]string) []string {
	var out []string
	for id, st := range m {
		for _, s := range st {
			out = append(out, s+"="+id)
		}
	}
	sort.Strings(out)
	return out
}

// gitlabCalls counts the GitLab calls of one undisturbed rotation.
func gitlabCalls(f *fixture) int {
	f.t.Helper()
	f.crash.arm(1 << 20)
	token := f.open()
	if err := f.driver().Run(context.Background(), f.arn, token, f.checked, nil); err != nil {
		f.t.Fatalf("rotation: %v", err)
	}
	f.crash.mu.Lock()
	n := f.crash.calls
	f.crash.mu.Unlock()
	f.crash.disarm()
	return n
}

// readers read GitLab continuously through one long-lived provider and
// client, as the sync functions do, and count the reads that failed while
// some version held a working token.
type readers struct {
	reads, failures atomic.Int64
	paused          atomic.Bool
	first           atomic.Value
	scenario        atomic.Value // the scenario running, for failure messages
	stop            chan struct{}
	wg              sync.WaitGroup
}

func startReaders(f *fixture, n int) *readers {
	r := &readers{stop: make(chan struct{})}
	client := f.reader(100 * time.Millisecond)
	for range n {
		r.wg.Go(func() {
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				paused := r.paused.Load()
				tr, err := tracedRead(client)
				if paused || r.paused.Load() {
					continue
				}
				r.reads.Add(1)
				if err != nil {
					r.failures.Add(1)
					r.first.CompareAndSwap(nil, fmt.Sprintf("%v: %v; attempts: %s", r.scenario.Load(), err, tr))
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return r
}

func (r *readers) close() {
	close(r.stop)
	r.wg.Wait()
}

// outcome is one scenario's row in the report.
type outcome struct {
	kind, strategy, scenario string
	next                     string // what the next scheduled rotation did
}

// runScenarios runs every scenario on f, one after the other: each ends
// in the state the next one starts from (AWSCURRENT working, nothing
// open). It returns the outcome rows.
func runScenarios(t *testing.T, f *fixture, k kind, list []scenario, rd *readers) []outcome {
	var rows []outcome
	for _, sc := range list {
		ok := t.Run(sc.name, func(t *testing.T) {
			f.t = t
			if rd != nil {
				rd.scenario.Store(sc.name)
			}
			repairsBefore := strings.Count(f.logs.String(), `"msg":"rotation repaired the secret's labels"`)
			if sc.window && rd != nil {
				rd.paused.Store(true)
			}
			sc.disturb(f)
			if !sc.window {
				f.wantRead("after the disturbance")
			}
			continued, err := f.scheduled()
			next := "new rotation"
			if continued {
				next = "continued the open rotation"
			}
			if sc.window {
				// The new token existed only in GitLab's lost answer: no
				// version holds a working token. The rotation must say so
				// and change nothing; a person stores a new token.
				if err == nil || !strings.Contains(err.Error(), "no version of the secret holds a token GitLab accepts") {
					t.Fatalf("next rotation after the lost rotate answer: got %v, want the critical no-working-token failure", err)
				}
				next += ": refused, no working token anywhere (the self strategy's one window); after a person stored a new token: "
				f.put(f.newToken(), secrets.StageCurrent)
				if rd != nil {
					rd.paused.Store(false)
				}
				continued, err = f.scheduled()
				if continued {
					next += "continued the open rotation"
				} else {
					next += "new rotation"
				}
			}
			if err != nil {
				t.Fatalf("next scheduled rotation: %v", err)
			}
			if n := strings.Count(f.logs.String(), `"msg":"rotation repaired the secret's labels"`) - repairsBefore; n > 0 {
				next += ", repaired the labels"
			}
			f.wantWorking("after the next rotation")
			rows = append(rows, outcome{string(k), f.strategy, sc.name, next})
		})
		if !ok {
			break
		}
	}
	return rows
}

// TestRotationScenarios drives token-rotate as Secrets Manager and the
// world can, for both strategies and the three token kinds, with readers
// reading throughout.
func TestRotationScenarios(t *testing.T) {
	var mu sync.Mutex
	var all []outcome
	for _, k := range []kind{"personal", "group", "project"} {
		for _, strategy := range []string{secrets.StrategySelf, secrets.StrategyAdmin} {
			t.Run(string(k)+"/"+strategy, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, k, strategy)
				calls := gitlabCalls(f)
				rd := startReaders(f, 3)
				rows := runScenarios(t, f, k, scenarios(f, calls), rd)
				f.t = t
				rd.close()
				if rd.failures.Load() != 0 {
					t.Errorf("readers: %d of %d reads failed while a working token existed, want 0 (first: %v)", rd.failures.Load(), rd.reads.Load(), f.nameTokens(fmt.Sprint(rd.first.Load())))
				}
				t.Logf("readers: %d reads, %d failed; %d scenarios, %d GitLab calls in a rotation", rd.reads.Load(), rd.failures.Load(), len(rows), calls)
				got := f.inbox.Drain(t)
				repaired := 0
				for _, n := range got {
					if n.MessageAttributes["event"].Value == rotation.EventRepaired {
						repaired++
					}
					testenv.AssertNoSecret(t, "alert", n.Subject+n.Message, f.values...)
				}
				if repaired == 0 {
					t.Errorf("got %d alerts, none of them a repair; want one per repair", len(got))
				}
				testenv.AssertNoSecret(t, "rotation logs", f.logs.String(), f.values...)
				mu.Lock()
				all = append(all, rows...)
				mu.Unlock()
			})
		}
	}
	t.Cleanup(func() {
		sort.SliceStable(all, func(i, j int) bool { return all[i].kind+all[i].strategy < all[j].kind+all[j].strategy })
		var b strings.Builder
		for _, r := range all {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.kind, r.strategy, r.scenario, r.next)
		}
		t.Logf("%d scenarios:\n%s", len(all), b.String())
	})
}
