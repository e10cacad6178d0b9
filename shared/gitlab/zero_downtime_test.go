package gitlab_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// The phases of a zero-downtime run. Every read is tagged with the phase it
// started in, and so is every attempt it makes.
const (
	phaseBefore  = iota // token A works
	phaseRevoked        // A revoked, B waiting in AWSPENDING (or configured as backup)
	phasePinned         // as phaseRevoked, at least two cache TTLs later and after a switch to B
	phaseMoved          // AWSCURRENT moved to B, less than two TTLs ago
	phaseSettled        // AWSCURRENT is B since two TTLs or more
	phaseCount
)

var phaseNames = [phaseCount]string{"before", "revoked", "pinned", "moved", "settled"}

const (
	// readers is how many goroutines read at once.
	readers = 16
	// minReads is how many complete reads each phase waits for.
	minReads = 100
	// phaseDeadline bounds the wait for one phase; only a stuck client
	// reaches it.
	phaseDeadline = time.Minute
	// switchLine is the message the client logs when it moves to a
	// fallback token.
	switchLine = "gitlab token refused (401); switched to a fallback token"
)

// phaseKey is the context key of a read's phase.
type phaseKey struct{}

// attempt is one request the client sent: the phase its read started in,
// the hash of the token it carried, and GitLab's status (0 for a transport
// error).
type attempt struct {
	phase  int
	hash   string
	status int
}

// attemptLog is an interceptor that counts every attempt. It sits inside
// the client's fallback, so it sees the refused attempt and the resent one.
type attemptLog struct {
	mu sync.Mutex
	n  map[attempt]int
}

func (l *attemptLog) intercept(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		a := attempt{hash: gitpulse.NewSecret(gitlab.SentToken(r.Header)).Hash()}
		a.phase, _ = r.Context().Value(phaseKey{}).(int)
		if err == nil {
			a.status = resp.StatusCode
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.n == nil {
			l.n = map[attempt]int{}
		}
		l.n[a]++
		return resp, err
	})
}

// count returns how many attempts match.
func (l *attemptLog) count(match func(attempt) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	for a, n := range l.n {
		if match(a) {
			total += n
		}
	}
	return total
}

// String lists the attempts by phase, token hash prefix and status.
func (l *attemptLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for a, n := range l.n {
		lines = append(lines, fmt.Sprintf("%d %s %.15s… %d ×%d", a.phase, phaseName(a.phase), a.hash, a.status, n))
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

func phaseName(p int) string {
	if p >= 0 && p < phaseCount {
		return phaseNames[p]
	}
	return fmt.Sprintf("step %d", p)
}

func anyAttempt(attempt) bool { return true }

func sent(hash string, status int) func(attempt) bool {
	return func(a attempt) bool { return a.hash == hash && a.status == status }
}

// readOnce makes one GET /user through c, tagged with phase, and checks
// that it answers for user.
func readOnce(c *gitlab.Client, phase, user int) error {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), phaseKey{}, phase), 10*time.Second)
	defer cancel()
	a, err := c.API(ctx)
	if err != nil {
		return err
	}
	u, _, err := a.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return err
	}
	if u.ID != int64(user) {
		return fmt.Errorf("GET /user answered for user %d, want %d", u.ID, user)
	}
	return nil
}

// readerPool keeps goroutines reading GET /user until halted, each read
// tagged with the phase current when it started.
type readerPool struct {
	client *gitlab.Client
	user   int
	phase  atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	halted sync.Once

	mu       sync.Mutex
	within   [phaseCount]int // reads that started and ended in the phase
	reads    int             // every successful read
	failures []string        // the first failures
	failed   int
}

func startReaders(t *testing.T, c *gitlab.Client, user int) *readerPool {
	t.Helper()
	p := &readerPool{client: c, user: user, stop: make(chan struct{})}
	for range readers {
		p.wg.Go(p.loop)
	}
	t.Cleanup(p.halt)
	return p
}

func (p *readerPool) loop() {
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		start := int(p.phase.Load())
		err := readOnce(p.client, start, p.user)
		end := int(p.phase.Load())
		p.mu.Lock()
		if err != nil {
			p.failed++
			if len(p.failures) < 5 {
				p.failures = append(p.failures, fmt.Sprintf("read in phase %s: %v", phaseName(start), err))
			}
		} else {
			p.reads++
			if start == end {
				p.within[start]++
			}
		}
		p.mu.Unlock()
	}
}

// enter starts phase: reads from now on carry it.
func (p *readerPool) enter(phase int) { p.phase.Store(int64(phase)) }

// wait lets the current phase run for at least d and until at least n
// reads completed within it.
func (p *readerPool) wait(t *testing.T, n int, d time.Duration) {
	t.Helper()
	phase := int(p.phase.Load())
	start := time.Now()
	for time.Since(start) < d || p.completed(phase) < n {
		if time.Since(start) > phaseDeadline {
			t.Fatalf("phase %s: got %d reads in %v, want %d", phaseName(phase), p.completed(phase), phaseDeadline, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *readerPool) completed(phase int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.within[phase]
}

// halt stops the readers and waits for them.
func (p *readerPool) halt() {
	p.halted.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// checkNoFailures reports failed reads.
func (p *readerPool) checkNoFailures(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed > 0 {
		t.Errorf("failed reads: got %d (of %d), want 0; first: %s", p.failed, p.failed+p.reads, strings.Join(p.failures, "; "))
	}
}

// waitUntil polls cond until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(phaseDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", phaseDeadline, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkSwitchLogged finds the client's switch line from one hash to
// another in JSON logs, and checks that no token value was logged.
func checkSwitchLogged(t *testing.T, logs string, from, to sim.Token) {
	t.Helper()
	testenv.AssertNoSecret(t, "client log", logs, from.Value, to.Value)
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Msg      string `json:"msg"`
			FromHash string `json:"from_hash"`
			ToHash   string `json:"to_hash"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == switchLine &&
			line.FromHash == gitpulse.NewSecret(from.Value).Hash() && line.ToHash == gitpulse.NewSecret(to.Value).Hash() {
			return
		}
	}
	t.Errorf("client log: got %q, want a line %q with from_hash of token %d and to_hash of token %d", logs, switchLine, from.ID, to.ID)
}

// newRequestToken returns a fresh ClientRequestToken (a UUID), as Secrets
// Manager passes to a rotation.
func newRequestToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// TestZeroDowntimeReadsThroughRotation swaps a secret's token under load
// the way a rotation does, with the old token revoked the moment the new
// one exists (the self strategy), and checks that no read fails.
func TestZeroDowntimeReadsThroughRotation(t *testing.T) {
	// The provider's cache TTL. Phases that must see a refresh last two.
	const ttl = 200 * time.Millisecond
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	tokA := addToken(t, s, sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api"}})
	res := testenv.Provision(t, cfg, &secrets.TokenSecret{Token: tokA.Value, TokenID: tokA.ID, GitLabURL: url})
	sm := secretsmanager.NewFromConfig(cfg)
	store := secrets.Store{API: sm}
	arn := res.TokenSecretARN
	ctx := testContext(t)
	versionA, err := store.Read(ctx, arn, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("read AWSCURRENT: %v", err)
	}
	hashA := gitpulse.NewSecret(tokA.Value).Hash()

	logs := &testenv.Output{}
	rec := &attemptLog{}
	prov := secrets.NewProvider(store, arn, ttl, time.Now)
	c := newClient(t, gitlab.Options{
		Provider:          prov,
		RequestsPerSecond: 1e6,
		Interceptors:      []gl.Interceptor{rec.intercept},
		Logger:            slog.New(slog.NewJSONHandler(logs, nil)),
	})
	pool := startReaders(t, c, tokA.UserID)
	pool.wait(t, minReads, 2*ttl)

	// createSecret: a new token for the same user, stored in AWSPENDING;
	// GitLab's self-rotation revokes A in the same moment.
	tokB := addToken(t, s, sim.TokenSpec{UserID: tokA.UserID, Name: "gitpulse", Scopes: []string{"read_api"}})
	hashB := gitpulse.NewSecret(tokB.Value).Hash()
	valueB, err := json.Marshal(secrets.TokenSecret{Token: tokB.Value, TokenID: tokB.ID, GitLabURL: url})
	if err != nil {
		t.Fatal(err)
	}
	versionB := newRequestToken()
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), ClientRequestToken: aws.String(versionB),
		SecretString: aws.String(string(valueB)), VersionStages: []string{secrets.StagePending},
	}); err != nil {
		t.Fatalf("PutSecretValue(AWSPENDING): %v", err)
	}
	if err := s.RevokeTokenAt(tokA.ID, time.Now()); err != nil {
		t.Fatalf("RevokeTokenAt: %v", err)
	}
	pool.enter(phaseRevoked)
	waitUntil(t, "a read sent with B", func() bool { return rec.count(sent(hashB, http.StatusOK)) > 0 })
	pool.wait(t, minReads, 2*ttl)
	pool.enter(phasePinned)
	pool.wait(t, minReads, 2*ttl)

	// finishSecret: AWSCURRENT moves to B (AWSPREVIOUS follows to A), then
	// AWSPENDING leaves B.
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(arn), VersionStage: aws.String(secrets.StageCurrent),
		MoveToVersionId: aws.String(versionB), RemoveFromVersionId: aws.String(versionA.ID),
	}); err != nil {
		t.Fatalf("move AWSCURRENT: %v", err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(arn), VersionStage: aws.String(secrets.StagePending),
		RemoveFromVersionId: aws.String(versionB),
	}); err != nil {
		t.Fatalf("remove AWSPENDING: %v", err)
	}
	pool.enter(phaseMoved)
	pool.wait(t, minReads, 2*ttl)
	pool.enter(phaseSettled)
	pool.wait(t, minReads, 2*ttl)
	pool.halt()

	pool.checkNoFailures(t)
	t.Logf("reads per phase: %s; attempts: %s", pool.summary(), rec)
	pool.mu.Lock()
	within, reads := pool.within, pool.reads
	pool.mu.Unlock()
	if n := within[phaseRevoked] + within[phasePinned]; n <= 50 {
		t.Errorf("reads between the revocation and the stage move: got %d, want > 50", n)
	}
	if n := within[phaseMoved] + within[phaseSettled]; n <= 50 {
		t.Errorf("reads after the stage move: got %d, want > 50", n)
	}

	// The fallback happened: GitLab refused A, and every extra request it
	// saw was such a refusal.
	refusedA := rec.count(sent(hashA, http.StatusUnauthorized))
	if refusedA == 0 {
		t.Errorf("attempts with A refused (401): got 0, want some (the fallback never ran)")
	}
	total := rec.count(anyAttempt)
	if got := s.RequestCounts()[routeUser]; got != total {
		t.Errorf("requests the simulator saw: got %d, want %d (every attempt the client made)", got, total)
	}
	if got := rec.count(sent(hashA, http.StatusOK)) + rec.count(sent(hashB, http.StatusOK)); got != reads {
		t.Errorf("attempts answered 200: got %d, want %d (one per read)", got, reads)
	}
	if other := total - reads - refusedA; other != 0 {
		t.Errorf("attempts neither a read's 200 nor A refused: got %d, want 0; attempts: %s", other, rec)
	}
	// Once the client has switched, it stays on B: through AWSCURRENT
	// re-reads while A is still current, through the stage move, and after it.
	if got := rec.count(func(a attempt) bool { return a.phase >= phasePinned && a.hash != hashB }); got != 0 {
		t.Errorf("attempts without B from phase %s on: got %d, want 0; attempts: %s", phaseName(phasePinned), got, rec)
	}
	if got := rec.count(func(a attempt) bool { return a.phase == phaseSettled && a.hash == hashB && a.status == http.StatusOK }); got < within[phaseSettled] {
		t.Errorf("reads with B after the stage move and two TTLs: got %d, want at least %d", got, within[phaseSettled])
	}
	tok, err := prov.Token(ctx)
	if err != nil || !tok.Value.Equal(gitpulse.NewSecret(tokB.Value)) {
		t.Errorf("provider token after the rotation: got %s, %v, want B (%s)", tok.Value.Hash(), err, hashB)
	}
	checkSwitchLogged(t, logs.String(), tokA, tokB)
}

func (p *readerPool) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for i, n := range p.within {
		parts = append(parts, fmt.Sprintf("%s %d", phaseNames[i], n))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (%d reads in all, %d failed)", p.reads, p.failed)
}

// Steps of the token list's retry check, made one read at a time.
const (
	stepBeforeRetry = phaseCount + iota
	stepRetry
	stepAfterRetry
)

// TestZeroDowntimeReadsWithBackupToken revokes the primary of a token list
// (GITLAB_TOKENS) under load, and checks that no read fails, that the
// backup takes over, and that the primary is tried again after the list's
// retry interval.
func TestZeroDowntimeReadsWithBackupToken(t *testing.T) {
	const retry = 10 * time.Minute
	s, url := testenv.Sim(t)
	tokA := addToken(t, s, sim.TokenSpec{Name: "primary", Scopes: []string{"read_api"}})
	tokB := addToken(t, s, sim.TokenSpec{UserID: tokA.UserID, Name: "backup", Scopes: []string{"read_api"}})
	hashA, hashB := gitpulse.NewSecret(tokA.Value).Hash(), gitpulse.NewSecret(tokB.Value).Hash()
	clk := newClock() // the list's clock; it stands still until the retry check
	list := gitlab.NewTokenList([]gitpulse.Token{
		{Name: "primary", Value: gitpulse.NewSecret(tokA.Value), URL: url, Source: "env:GITLAB_TOKENS[0]"},
		{Name: "backup", Value: gitpulse.NewSecret(tokB.Value), URL: url, Source: "env:GITLAB_TOKENS[1]"},
	}, retry, clk.Now)
	logs := &testenv.Output{}
	rec := &attemptLog{}
	c := newClient(t, gitlab.Options{
		Provider:          list,
		RequestsPerSecond: 1e6,
		Interceptors:      []gl.Interceptor{rec.intercept},
		Logger:            slog.New(slog.NewJSONHandler(logs, nil)),
	})

	pool := startReaders(t, c, tokA.UserID)
	pool.wait(t, minReads, 0)
	if err := s.RevokeTokenAt(tokA.ID, time.Now()); err != nil {
		t.Fatalf("RevokeTokenAt: %v", err)
	}
	pool.enter(phaseRevoked)
	waitUntil(t, "a read sent with the backup", func() bool { return rec.count(sent(hashB, http.StatusOK)) > 0 })
	pool.wait(t, minReads, 0)
	pool.enter(phasePinned)
	pool.wait(t, minReads, 0)
	pool.halt()

	pool.checkNoFailures(t)
	t.Logf("reads per phase: %s; attempts: %s", pool.summary(), rec)
	if got := rec.count(sent(hashA, http.StatusUnauthorized)); got == 0 {
		t.Errorf("attempts with the primary refused (401): got 0, want some (the fallback never ran)")
	}
	if got := rec.count(func(a attempt) bool { return a.phase == phasePinned && a.hash != hashB }); got != 0 {
		t.Errorf("attempts without the backup after the switch: got %d, want 0; attempts: %s", got, rec)
	}
	if got, want := s.RequestCounts()[routeUser], rec.count(anyAttempt); got != want {
		t.Errorf("requests the simulator saw: got %d, want %d (every attempt the client made)", got, want)
	}

	// The list keeps the backup for the retry interval, then sends the
	// primary again; GitLab still refuses it and the read falls back.
	steps := []struct {
		step    int
		advance time.Duration
		want    []attempt
	}{
		{stepBeforeRetry, retry - time.Nanosecond, []attempt{{stepBeforeRetry, hashB, 200}}},
		{stepRetry, time.Nanosecond, []attempt{{stepRetry, hashA, 401}, {stepRetry, hashB, 200}}},
		{stepAfterRetry, 0, []attempt{{stepAfterRetry, hashB, 200}}}, // a new interval began at the fallback
	}
	for _, st := range steps {
		clk.Add(st.advance)
		if err := readOnce(c, st.step, tokA.UserID); err != nil {
			t.Errorf("read at step %s: got %v, want success", phaseName(st.step), err)
		}
		for _, w := range st.want {
			if got := rec.count(func(a attempt) bool { return a == w }); got != 1 {
				t.Errorf("step %s: attempts with %.15s… answered %d: got %d, want 1", phaseName(st.step), w.hash, w.status, got)
			}
		}
		if got := rec.count(func(a attempt) bool { return a.phase == st.step }); got != len(st.want) {
			t.Errorf("step %s: attempts: got %d, want %d", phaseName(st.step), got, len(st.want))
		}
	}
	checkSwitchLogged(t, logs.String(), tokA, tokB)
}

// TestFallbackNeverResendsWrites checks that a write refused with 401 goes
// out once, with the token the provider gave, and is never resent with a
// fallback token (a rotate call resent with another token could revoke a
// whole token family).
func TestFallbackNeverResendsWrites(t *testing.T) {
	s, url := testenv.Sim(t)
	tokA := addToken(t, s, sim.TokenSpec{Name: "primary"})
	tokB := addToken(t, s, sim.TokenSpec{UserID: tokA.UserID, Name: "backup"})
	hashA := gitpulse.NewSecret(tokA.Value).Hash()
	list := gitlab.NewTokenList([]gitpulse.Token{
		{Name: "primary", Value: gitpulse.NewSecret(tokA.Value), URL: url},
		{Name: "backup", Value: gitpulse.NewSecret(tokB.Value), URL: url},
	}, time.Hour, newClock().Now)
	rec := &attemptLog{}
	c := newClient(t, gitlab.Options{Provider: list, MaxRetries: -1, Interceptors: []gl.Interceptor{rec.intercept}})
	a := api(t, c)
	ctx := testContext(t)
	if err := s.RevokeToken(tokA.ID); err != nil {
		t.Fatal(err)
	}
	// The simulator has no write route: GitLab answers writes to unknown
	// routes 404 before it looks at the token. A proxy-level 401 on the
	// path stands in for a write route refusing the revoked token.
	s.InjectFault(sim.Fault{PathPrefix: "/api/v4/user", Status: http.StatusUnauthorized})

	for i, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			route := method + " /api/v4/*"
			before := s.RequestCounts()[route]
			req, err := a.NewRequest(method, "user", nil, []gl.RequestOptionFunc{gl.WithContext(context.WithValue(ctx, phaseKey{}, i))})
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			_, err = a.Do(req, nil)
			if f := gitlab.Classify(err); f == nil || f.Status != http.StatusUnauthorized {
				t.Errorf("%s /user: got %v, want a 401 failure", method, err)
			}
			if got := s.RequestCounts()[route] - before; got != 1 {
				t.Errorf("requests to %s: got %d more, want exactly 1 (no resend with the backup)", route, got)
			}
			if got := rec.count(func(a attempt) bool { return a.phase == i }); got != 1 || rec.count(sent(hashA, 401)) != i+1 {
				t.Errorf("attempts: got %s, want one per write, each with the primary", rec)
			}
		})
	}

	// The same refusal on a read is resent with the backup (which the
	// proxy refuses too): the count above is the fallback holding back.
	before := s.RequestCounts()[routeUser]
	if _, err := currentUser(ctx, a); gitlab.Classify(err) == nil {
		t.Errorf("GET /user behind the 401 proxy: got success, want a 401 failure")
	}
	// The primary once, then the backup once: configured tokens do not
	// rotate, so the fallback does not wait for a new one.
	if got := s.RequestCounts()[routeUser] - before; got != 1+1 {
		t.Errorf("requests to %s: got %d more, want 2 (the primary, then the backup)", routeUser, got)
	}
}

// stagedSecrets is an in-memory Secrets Manager holding one version per
// stage; reads of the stage denied fail with AccessDeniedException, as an
// IAM policy with a secretsmanager:VersionStage condition makes them. Only
// GetSecretValue is implemented.
type stagedSecrets struct {
	secrets.API
	values map[string]string // stage → secret string
	denied string
}

type accessDenied struct{}

func (accessDenied) Error() string     { return "AccessDeniedException: not allowed to read this stage" }
func (accessDenied) ErrorCode() string { return "AccessDeniedException" }

func (f stagedSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	stage := aws.ToString(in.VersionStage)
	if stage == f.denied {
		return nil, accessDenied{}
	}
	v, ok := f.values[stage]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no version in stage " + stage)}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v), VersionId: aws.String("v-" + stage)}, nil
}

// TestFallbackTriesCandidatesReadBeforeAnError: during a rotation the
// provider returns the AWSPENDING token together with the error of the
// AWSPREVIOUS read (access denied); the pending token works and should be
// used.
func TestFallbackTriesCandidatesReadBeforeAnError(t *testing.T) {
	s, url := testenv.Sim(t)
	tokA := addToken(t, s, sim.TokenSpec{Scopes: []string{"read_api"}})
	tokB := addToken(t, s, sim.TokenSpec{UserID: tokA.UserID, Scopes: []string{"read_api"}})
	secret := func(tok sim.Token) string {
		b, _ := json.Marshal(secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: url})
		return string(b)
	}
	sm := stagedSecrets{
		values: map[string]string{secrets.StageCurrent: secret(tokA), secrets.StagePending: secret(tokB)},
		denied: secrets.StagePrevious,
	}
	const arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-token-AbC123"
	prov := secrets.NewProvider(secrets.Store{API: sm}, arn, time.Minute, time.Now)
	c := newClient(t, gitlab.Options{Provider: prov, MaxRetries: -1})
	if err := readOnce(c, 0, tokA.UserID); err != nil {
		t.Fatalf("read before the revocation: %v", err)
	}
	if err := s.RevokeToken(tokA.ID); err != nil {
		t.Fatal(err)
	}
	if err := readOnce(c, 0, tokA.UserID); err != nil {
		t.Errorf("read with A revoked, B in AWSPENDING, AWSPREVIOUS unreadable: got %v, want success with B", err)
	}
}

// threeTokens is a secret on moto whose AWSCURRENT holds the first of
// three tokens of one simulator user, for the fallback order tests.
type threeTokens struct {
	t       *testing.T
	s       *sim.Sim
	url     string
	sm      *secretsmanager.Client
	arn     string
	first   sim.Token
	a, b    sim.Token
	initial string // the first token's version
}

func newThreeTokens(t *testing.T) *threeTokens {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	s, url := testenv.Sim(t)
	spec := sim.TokenSpec{Name: "gitpulse", Scopes: []string{"read_api"}}
	first := addToken(t, s, spec)
	spec.UserID = first.UserID
	tt := &threeTokens{t: t, s: s, url: url, sm: secretsmanager.NewFromConfig(cfg), first: first, a: addToken(t, s, spec), b: addToken(t, s, spec)}
	tt.arn = testenv.Provision(t, cfg, &secrets.TokenSecret{Token: first.Value, TokenID: first.ID, GitLabURL: url}).TokenSecretARN
	v, err := secrets.Store{API: tt.sm}.Read(testContext(t), tt.arn, secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	tt.initial = v.ID
	return tt
}

// value is tok as a token secret's JSON.
func (tt *threeTokens) value(tok sim.Token) *string {
	b, err := json.Marshal(secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: tt.url})
	if err != nil {
		tt.t.Fatal(err)
	}
	return aws.String(string(b))
}

// put stores v as a new version labelled stage and returns its id.
func (tt *threeTokens) put(ctx context.Context, v *string, stage string) string {
	tt.t.Helper()
	id := newRequestToken()
	if _, err := tt.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(tt.arn), ClientRequestToken: aws.String(id), SecretString: v, VersionStages: []string{stage},
	}); err != nil {
		tt.t.Errorf("PutSecretValue(%s): %v", stage, err)
	}
	return id
}

// TestFallbackMovesPastALabelMovedOntoARefusedToken is the order the
// scenario tests met about once in 6,000 reads on a loaded machine: a
// reader holds token W; W is revoked and, while the read waits, a repair
// moves AWSCURRENT onto A, which GitLab has revoked too (a self rotation
// rotates it the moment it is repaired); the rotation's new token B reaches
// AWSPENDING a second later. Every round of the read must look past both
// refused tokens and find B. Before the fix the provider offered A round
// after round, because A differed from W, the only token the read knew as
// refused, and the read failed after its five-second wait.
func TestFallbackMovesPastALabelMovedOntoARefusedToken(t *testing.T) {
	tt := newThreeTokens(t)
	s, sm, arn, tokW, tokA, tokB, value := tt.s, tt.sm, tt.arn, tt.first, tt.a, tt.b, tt.value
	ctx := testContext(t)
	put := func(v *string, stage string) { tt.put(ctx, v, stage) }
	rec := &attemptLog{}
	prov := secrets.NewProvider(secrets.Store{API: sm}, arn, time.Minute, time.Now)
	c := newClient(t, gitlab.Options{Provider: prov, MaxRetries: -1, RequestsPerSecond: 1e6, Interceptors: []gl.Interceptor{rec.intercept}})
	if err := readOnce(c, 0, tokW.UserID); err != nil {
		t.Fatalf("read with W: %v", err)
	}

	// The provider keeps W for its minute. W and A are revoked, AWSCURRENT
	// is A, and a rotation is open with no value yet.
	put(value(tokA), secrets.StageCurrent)
	put(aws.String("{}"), secrets.StagePending)
	for _, tok := range []sim.Token{tokW, tokA} {
		if err := s.RevokeToken(tok.ID); err != nil {
			t.Fatal(err)
		}
	}
	arrived := make(chan struct{})
	go func() {
		defer close(arrived)
		time.Sleep(time.Second)
		put(value(tokB), secrets.StagePending)
	}()
	err := readOnce(c, 1, tokW.UserID)
	<-arrived
	if err != nil {
		t.Fatalf("read with W and A revoked and B on its way to AWSPENDING: got %v, want success with B; attempts: %s", err, rec)
	}
	hashA := gitpulse.NewSecret(tokA.Value).Hash()
	if n := rec.count(sent(hashA, http.StatusUnauthorized)); n != 1 {
		t.Errorf("attempts with A refused: got %d, want 1 (a refused token is not offered again within the read); attempts: %s", n, rec)
	}
	if n := rec.count(sent(gitpulse.NewSecret(tokB.Value).Hash(), http.StatusOK)); n != 1 {
		t.Errorf("attempts with B accepted: got %d, want 1; attempts: %s", n, rec)
	}
}

// TestFallbackSeesARotationThatOpenedDuringItsScan is the order the
// health poller met under load: a read's scan of the versions finds no
// rotation open and one candidate, P in AWSPREVIOUS; by the time the
// client sends P, a repair has moved AWSCURRENT onto P and a self rotation
// has opened and rotated P, revoking it; the new token B reaches
// AWSPENDING a second later. The scan was a snapshot: the read must notice
// that the labels moved, wait for the rotation, and read with B. Before
// the fix it trusted the snapshot's "nothing open" and failed at once.
func TestFallbackSeesARotationThatOpenedDuringItsScan(t *testing.T) {
	tt := newThreeTokens(t)
	s, sm, arn, tokP, tokA, tokB, value := tt.s, tt.sm, tt.arn, tt.first, tt.a, tt.b, tt.value
	ctx := testContext(t)
	put := func(v *string, stage string) string { return tt.put(ctx, v, stage) }
	// AWSCURRENT is A, which the provider reads and GitLab then revokes;
	// P, in AWSPREVIOUS, still works.
	versionA := put(value(tokA), secrets.StageCurrent)

	// The moment P is first sent as a fallback, the world moves on: the
	// repair labels P current, a rotation opens and GitLab rotates P.
	hashP := gitpulse.NewSecret(tokP.Value).Hash()
	var moved atomic.Bool
	arrived := make(chan struct{})
	rotateP := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if gitpulse.NewSecret(gitlab.SentToken(r.Header)).Hash() == hashP && moved.CompareAndSwap(false, true) {
				if _, err := sm.UpdateSecretVersionStage(r.Context(), &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String(arn), VersionStage: aws.String(secrets.StageCurrent),
					MoveToVersionId: aws.String(tt.initial), RemoveFromVersionId: aws.String(versionA),
				}); err != nil {
					t.Errorf("repair: %v", err)
				}
				put(aws.String("{}"), secrets.StagePending)
				if err := s.RevokeToken(tokP.ID); err != nil {
					t.Error(err)
				}
				go func() {
					defer close(arrived)
					time.Sleep(time.Second)
					put(value(tokB), secrets.StagePending)
				}()
			}
			return next.RoundTrip(r)
		})
	}
	rec := &attemptLog{}
	prov := secrets.NewProvider(secrets.Store{API: sm}, arn, time.Minute, time.Now)
	c := newClient(t, gitlab.Options{Provider: prov, MaxRetries: -1, RequestsPerSecond: 1e6, Interceptors: []gl.Interceptor{rec.intercept, rotateP}})
	if err := readOnce(c, 0, tokA.UserID); err != nil {
		t.Fatalf("read with A: %v", err)
	}
	if err := s.RevokeToken(tokA.ID); err != nil {
		t.Fatal(err)
	}
	err := readOnce(c, 1, tokA.UserID)
	if !moved.Load() {
		t.Fatalf("the read never sent P (attempts: %s); the test did not set up its order", rec)
	}
	<-arrived
	if err != nil {
		t.Fatalf("read with A and P revoked and a rotation opened during the scan: got %v, want success with B; attempts: %s", err, rec)
	}
	if n := rec.count(sent(gitpulse.NewSecret(tokB.Value).Hash(), http.StatusOK)); n != 1 {
		t.Errorf("attempts with B accepted: got %d, want 1; attempts: %s", n, rec)
	}
	if since, open := prov.Rotating(); !open || since.IsZero() {
		t.Errorf("provider after the read: rotating %t since %v, want the rotation it waited for", open, since)
	}
}
