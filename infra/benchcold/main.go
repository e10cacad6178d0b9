// Command benchcold measures every function's cold start: the size of the
// stripped bootstrap `make build` makes, and, under the Lambda Runtime
// Interface Emulator, the time of the first invocation of a fresh emulator
// (process start, init, handler) against the second (warm), as the median
// of -runs runs. It also checks that init makes no network call: each
// bootstrap is started with its AWS endpoint on a listener that counts
// connections and a stand-in Runtime API that notes when init is over
// (the first "next invocation" request).
//
//	make bench-cold                  (starts and stops moto server)
//	make bench-cold ARGS='-runs 9'
//	go run ./infra/benchcold -h      (with AWS_ENDPOINT_URL set to a moto server)
//
// The GitLab simulator runs in-process with a small generated course.
// Functions run the host build (same flags as `make build`, host
// architecture); sizes are of the linux/arm64 build that is deployed.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// limitBytes is the goal for every deployed bootstrap.
const limitBytes = 15 << 20

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-cold:", err)
		os.Exit(1)
	}
}

// function is one function under test: its events and how to prepare a
// run.
type function struct {
	name        string
	cold, warm  string // event files under events/
	needsCourse bool
}

var functions = []function{
	{name: "api", cold: "api-health.json", warm: "api-health.json"},
	{name: "token-check", cold: "token-check-schedule.json", warm: "token-check-schedule.json"},
	// Rotation: createSecret cold, setSecret warm (a second createSecret
	// would find AWSPENDING filled); testSecret and finishSecret then
	// complete the rotation, untimed, so that the next run starts clean.
	{name: "token-rotate", cold: "token-rotate-createSecret.json", warm: "token-rotate-setSecret.json"},
	{name: "sync-scheduler", cold: "sync-scheduler-schedule.json", warm: "sync-scheduler-schedule.json", needsCourse: true},
	{name: "sync-worker", cold: "sync-worker-sqs.json", warm: "sync-worker-sqs.json", needsCourse: true},
}

type result struct {
	name       string
	bytes      int64
	cold, warm []time.Duration
	initConns  int64
	initTime   time.Duration
}

func run() error {
	runs := flag.Int("runs", 5, "runs per function, each with a fresh emulator")
	rie := flag.String("rie", "bin/aws-lambda-rie", "the Runtime Interface Emulator (make rie)")
	only := flag.String("functions", "", "comma separated subset of functions")
	flag.Parse()
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		return errors.New("AWS_ENDPOINT_URL is not set: run through `make bench-cold`, which starts moto server")
	}
	ctx := context.Background()

	fmt.Println("== make build (linux/arm64, stripped)")
	if out, err := exec.Command("make", "--no-print-directory", "build").CombinedOutput(); err != nil {
		return fmt.Errorf("make build: %w\n%s", err, out)
	}
	env, err := setup(ctx)
	if err != nil {
		return err
	}
	defer env.close()

	var results []result
	for _, fn := range functions {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), fn.name) {
			continue
		}
		r := result{name: fn.name}
		st, err := os.Stat(filepath.Join("bin", fn.name, "bootstrap"))
		if err != nil {
			return err
		}
		r.bytes = st.Size()
		host := filepath.Join("bin", "host", fn.name, "bootstrap")
		build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", host, "./functions/"+fn.name)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s for this host: %w\n%s", fn.name, err, out)
		}
		if r.initConns, r.initTime, err = initCheck(host, env.vars()); err != nil {
			return fmt.Errorf("%s: init check: %w", fn.name, err)
		}
		for i := range *runs {
			cold, warm, err := env.measure(ctx, *rie, host, fn)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", fn.name, i+1, err)
			}
			r.cold, r.warm = append(r.cold, cold), append(r.warm, warm)
		}
		fmt.Fprintf(os.Stderr, "%s: cold %v, warm %v\n", fn.name, r.cold, r.warm)
		results = append(results, r)
	}
	report(os.Stdout, results, *runs)
	for _, r := range results {
		if r.initConns > 0 {
			return fmt.Errorf("%s connected %d times during init", r.name, r.initConns)
		}
	}
	return nil
}

func report(w io.Writer, results []result, runs int) {
	fmt.Fprintf(w, "\n== cold start, median of %d runs (first invocation of a fresh emulator vs the second)\n\n", runs)
	fmt.Fprintf(w, "| function | bootstrap bytes (arm64) | cold ms | warm ms | cold/warm | init: connections, time to ready |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---|\n")
	over := 0
	for _, r := range results {
		c, wm := median(r.cold), median(r.warm)
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f | %d, %.1f ms |\n", r.name, r.bytes, ms(c), ms(wm), float64(c)/float64(wm), r.initConns, ms(r.initTime))
		if r.bytes >= limitBytes {
			over++
		}
	}
	fmt.Fprintln(w)
	if over == 0 {
		fmt.Fprintf(w, "goal met: every bootstrap is under 15 MB (%d bytes)\n", limitBytes)
	} else {
		fmt.Fprintf(w, "goal missed: %d bootstraps are 15 MB or more\n", over)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// stack is what the functions run against.
type stack struct {
	res       provision.Resources
	rotateARN string
	course    sim.Course
	sim       *sim.Sim
	stopSim   func()
	sm        *secretsmanager.Client
	projectID int
	simURL    string
	endpoint  string
}

func setup(ctx context.Context) (*stack, error) {
	st := &stack{endpoint: os.Getenv("AWS_ENDPOINT_URL")}
	st.sim = sim.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: st.sim}
	go func() { _ = srv.Serve(ln) }()
	st.stopSim = func() { _ = srv.Close() }
	st.simURL = "http://" + ln.Addr().String()
	st.course = st.sim.GenerateCourse(7, sim.CourseSpec{Path: "kpi/cold", Teams: 2, StudentsPerTeam: 2, Weeks: 2})
	st.projectID = st.course.ProjectIDs[0]

	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "bench-cold-" + hex.EncodeToString(b)
	st.res, err = provision.Provision(ctx, provision.NewClients(cfg), provision.NamesFor(prefix),
		&secrets.TokenSecret{Token: st.course.TeacherToken, TokenID: st.course.TeacherTokenID, GitLabURL: st.simURL, Name: "teacher"})
	if err != nil {
		return nil, err
	}
	// The rotation gets its own secret and a token that may rotate itself.
	exp := time.Now().UTC().AddDate(0, 0, 20)
	tok, err := st.sim.AddToken(sim.TokenSpec{Name: "rotating", Scopes: []string{"read_api", "read_repository", "self_rotate"}, ExpiresAt: &exp})
	if err != nil {
		return nil, err
	}
	rot, err := provision.Provision(ctx, provision.NewClients(cfg), provision.NamesFor(prefix+"-rot"),
		&secrets.TokenSecret{Token: tok.Value, TokenID: tok.ID, GitLabURL: st.simURL, Name: "rotating"})
	if err != nil {
		return nil, err
	}
	st.rotateARN = rot.TokenSecretARN
	st.sm = secretsmanager.NewFromConfig(cfg)
	return st, nil
}

func (st *stack) close() { st.stopSim() }

// vars is the functions' environment.
func (st *stack) vars() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + st.endpoint,
		"AWS_REGION=" + envOr("AWS_REGION", "eu-central-1"),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"DATA_TABLE=" + st.res.DataTable, "AUDIT_TABLE=" + st.res.AuditTable,
		"ALERT_TOPIC_ARN=" + st.res.AlertTopicARN, "SYNC_QUEUE_URL=" + st.res.SyncQueueURL,
		"GITLAB_TOKEN_SECRET_ARN=" + st.res.TokenSecretARN, "GITPULSE_COURSES=" + st.course.Path,
		"GITLAB_REQUESTS_PER_SECOND=500", "TOKEN_SELF_ROTATION=true",
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// event reads an event file and fits it to the stack: the rotation
// secret and this run's version; the worker's task for a real project.
func (st *stack) event(file, version string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join("events", file))
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(file, "token-rotate-"):
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		ev["SecretId"], ev["ClientRequestToken"] = st.rotateARN, version
		return json.Marshal(ev)
	case strings.HasPrefix(file, "sync-worker-"):
		var ev struct {
			Records []map[string]any `json:"Records"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) == 0 {
			return nil, fmt.Errorf("%s: want an SQS event with records (%v)", file, err)
		}
		body, _ := json.Marshal(map[string]any{"course_id": st.course.GroupID, "project_id": st.projectID, "repo": true, "scheduled_at": time.Now().UTC()})
		ev.Records = ev.Records[:1]
		ev.Records[0]["body"] = string(body)
		return json.Marshal(ev)
	}
	return raw, nil
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// startRotation begins a rotation as Secrets Manager would: a new version
// labelled AWSPENDING (moto cannot invoke the function and says so).
func (st *stack) startRotation(ctx context.Context) (string, error) {
	version := uuid()
	_, err := st.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String(st.rotateARN), ClientRequestToken: aws.String(version),
		RotationLambdaARN: aws.String("arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"),
		RotationRules:     &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil && !strings.Contains(err.Error(), "function") && !strings.Contains(err.Error(), "Resource not found") {
		return "", fmt.Errorf("start rotation: %w", err)
	}
	return version, nil
}

// measure starts a fresh emulator and times two invocations.
func (st *stack) measure(ctx context.Context, rie, bootstrap string, fn function) (cold, warm time.Duration, err error) {
	version := ""
	if fn.name == "token-rotate" {
		if version, err = st.startRotation(ctx); err != nil {
			return 0, 0, err
		}
	}
	coldEv, err := st.event(fn.cold, version)
	if err != nil {
		return 0, 0, err
	}
	warmEv, err := st.event(fn.warm, version)
	if err != nil {
		return 0, 0, err
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return 0, 0, err
	}
	var out bytes.Buffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_NAME=" + fn.name}, st.vars()...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start emulator: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	if err := waitListen(addr, 10*time.Second); err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, out.String())
	}
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	if cold, err = invoke(url, coldEv); err != nil {
		return 0, 0, fmt.Errorf("cold: %w\n%s", err, out.String())
	}
	if warm, err = invoke(url, warmEv); err != nil {
		return 0, 0, fmt.Errorf("warm: %w\n%s", err, out.String())
	}
	if fn.name == "token-rotate" {
		for _, step := range []string{"token-rotate-testSecret.json", "token-rotate-finishSecret.json"} {
			ev, err := st.event(step, version)
			if err != nil {
				return 0, 0, err
			}
			if _, err := invoke(url, ev); err != nil {
				return 0, 0, fmt.Errorf("%s: %w", step, err)
			}
		}
	}
	return cold, warm, nil
}

// invoke posts an event and returns the wall time; a function error
// (errorMessage) is an error.
func invoke(url string, event []byte) (time.Duration, error) {
	start := time.Now()
	resp, err := http.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errorMessage"`)) {
		return 0, fmt.Errorf("emulator answered %d: %.300s", resp.StatusCode, body)
	}
	return d, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitListen(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emulator did not listen on %s within %v", addr, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// initCheck runs bootstrap on its own with AWS_ENDPOINT_URL on a listener
// that counts connections and AWS_LAMBDA_RUNTIME_API on a stand-in that
// notes the first "next invocation" request: init is over then. It
// returns the connections made before that, and the time to get there.
func initCheck(bootstrap string, vars []string) (int64, time.Duration, error) {
	var conns atomic.Int64
	awsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer awsLn.Close()
	go func() {
		for {
			c, err := awsLn.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	ready := make(chan int64, 1)
	api := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			select {
			case ready <- conns.Load():
			default:
			}
			<-r.Context().Done() // hold it: no invocation comes
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	go func() { _ = api.Serve(apiLn) }()
	defer api.Close()

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_LAMBDA_RUNTIME_API=" + apiLn.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=init-check"}
	for _, v := range vars {
		if strings.HasPrefix(v, "AWS_ENDPOINT_URL=") {
			v = "AWS_ENDPOINT_URL=http://" + awsLn.Addr().String()
		}
		env = append(env, v)
	}
	var out bytes.Buffer
	cmd := exec.Command(bootstrap)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case n := <-ready:
		return n, time.Since(start), nil
	case <-time.After(10 * time.Second):
		return 0, 0, fmt.Errorf("no request for the next invocation within 10s:\n%s", out.String())
	}
}
