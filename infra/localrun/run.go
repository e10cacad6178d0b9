package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/platform"
	"github.com/gitpulse/gitpulse/shared/secrets"
	"github.com/gitpulse/gitpulse/shared/store"
)

// The state folder (.run; GITPULSE_RUN_DIR moves it, for tests) holds the
// lock of the running stack and the environment `make invoke-*` reads.
var (
	stateDir = envOr("GITPULSE_RUN_DIR", ".run")
	pidFile  = filepath.Join(stateDir, "localrun.pid")
	envFile  = filepath.Join(stateDir, "local.env")
	// logFile holds the JSON logs of the stack and of the functions it
	// runs in-process (the AWS SDK's warnings among them): `make logs`.
	logFile = filepath.Join(stateDir, "localrun.log")
	// alertsFile keeps the alerts `make alerts` has read from the queue
	// subscribed to the alert topic; each run starts it afresh.
	alertsFile = filepath.Join(stateDir, "alerts.jsonl")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run starts the local stack and blocks until ctx ends, then stops what it
// started, in reverse order. out gets the progress a person reads; the
// JSON logs go to logFile (and to out as well with VERBOSE=1), at the
// level LOG_LEVEL names (debug, info, warn, error; default info).
func run(ctx context.Context, out io.Writer) (err error) {
	port := envOr("PORT", "8000")
	if err := acquireLock(port); err != nil {
		return err
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		os.Remove(pidFile)
		os.Remove(envFile)
	}()
	logs, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("open the log file: %w", err)
	}
	cleanups = append(cleanups, func() { logs.Close() })
	var logW io.Writer = logs
	if v := os.Getenv("VERBOSE"); v != "" && v != "0" {
		logW = io.MultiWriter(logs, out)
	}
	if lvl := os.Getenv("LOG_LEVEL"); lvl != "" {
		os.Setenv("AWS_LAMBDA_LOG_LEVEL", lvl)
	}
	os.Remove(alertsFile)
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return fmt.Errorf("cannot serve the API on port %s (%v): set PORT to a free port", port, err)
	}
	defer ln.Close()

	// AWS: moto server unless an endpoint is given.
	for name, def := range map[string]string{"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"} {
		os.Setenv(name, envOr(name, def))
	}
	if endpoint := os.Getenv("AWS_ENDPOINT_URL"); endpoint != "" {
		fmt.Fprintf(out, "AWS: using %s\n", endpoint)
	} else {
		motoPort := envOr("MOTO_PORT", "5050")
		// Stopping is safe before moto answers (or if it never does):
		// an interrupt during the start still stops what was started.
		cleanups = append(cleanups, func() { _, _ = script(context.Background(), "stop", motoPort) })
		endpoint, err := script(ctx, "start", motoPort)
		if err != nil {
			return fmt.Errorf("start moto server: %w", err)
		}
		os.Setenv("AWS_ENDPOINT_URL", endpoint)
		fmt.Fprintf(out, "AWS: moto server at %s\n", endpoint)
	}

	// GitLab: the simulator with a demo token unless a real one is given.
	token := secrets.TokenSecret{Name: "local"}
	gitlabURL, gitlabToken := os.Getenv(config.EnvURL), os.Getenv(config.EnvToken)
	simHint := ""
	if gitlabURL != "" && gitlabToken != "" {
		u, err := config.ParseGitLabURL(gitlabURL)
		if err != nil {
			return fmt.Errorf("%s: %w", config.EnvURL, err)
		}
		token.GitLabURL, token.Token = u, gitlabToken
		fmt.Fprintf(out, "GitLab: using %s\n", u)
	} else {
		simURL, tok, course, stopSim, err := startSim(envOr("SIM_PORT", "8929"), port)
		if err != nil {
			return err
		}
		os.Setenv(config.EnvCourses, envOr(config.EnvCourses, course))
		// The simulator is local: no need for a self-managed instance's
		// polite request rate.
		os.Setenv(config.EnvRequestsPerSecond, envOr(config.EnvRequestsPerSecond, "200"))
		cleanups = append(cleanups, stopSim)
		token.GitLabURL, token.Token, token.TokenID = simURL, tok.Value, tok.ID
		fmt.Fprintf(out, "GitLab: simulator at %s (demo token id %d)\n", simURL, tok.ID)
		simHint = "  make revoke-current   # revoke, in the simulator, the token AWSCURRENT holds (it changes with each rotation)\n"
	}
	for _, name := range []string{config.EnvToken, config.EnvURL, config.EnvTokens, config.EnvTokenFile} {
		os.Unsetenv(name)
	}

	// Resources.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(logging.NewStandardLogger(logW)))
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	prefix := envOr("GITPULSE_PREFIX", "gitpulse-local")
	clients := provision.NewClients(awsCfg)
	res, err := provision.Provision(ctx, clients, provision.NamesFor(prefix), &token)
	if err != nil {
		return err
	}
	// The same ARN after the local AWS restarts (see healer).
	res.TokenSecretARN = partialARN(res.TokenSecretARN, res.TokenSecret)
	alertsQueue, err := subscribeAlerts(ctx, clients, res)
	if err != nil {
		return err
	}
	os.Setenv(EnvAlertsQueueURL, alertsQueue)
	apiKey, keysARN, err := localKeys(ctx, clients.SecretsManager, prefix)
	if err != nil {
		return err
	}
	signedIn, err := localSignIn(ctx, clients.SecretsManager, prefix)
	if err != nil {
		return err
	}
	os.Setenv(config.EnvDataTable, res.DataTable)
	os.Setenv(config.EnvAuditTable, res.AuditTable)
	os.Setenv(config.EnvAlertTopicARN, res.AlertTopicARN)
	os.Setenv(config.EnvSyncQueueURL, res.SyncQueueURL)
	os.Setenv(config.EnvTokenSecretARN, res.TokenSecretARN)
	os.Setenv(config.EnvHealthCacheTTL, envOr(config.EnvHealthCacheTTL, "5s"))
	os.Setenv(config.EnvSelfRotation, envOr(config.EnvSelfRotation, "true"))
	fmt.Fprintf(out, "Provisioned: tables %s and %s, secret %s, API keys secret %s\n", res.DataTable, res.AuditTable, res.TokenSecretARN, keysARN)
	if err := writeEnvFile(nil); err != nil {
		return err
	}

	// The token check once at start, as the daily schedule runs it.
	checker, err := platform.NewTo(ctx, logW, "token-check", config.EnvDataTable, config.EnvAlertTopicARN)
	if err != nil {
		return err
	}
	printTokenCheck(ctx, out, checker)

	// A first sync, then one every SYNC_INTERVAL, as the schedule does.
	syncPlatform, err := platform.NewTo(ctx, logW, "sync", config.EnvDataTable, config.EnvSyncQueueURL)
	if err != nil {
		return err
	}
	every, err := time.ParseDuration(envOr("SYNC_INTERVAL", "15m"))
	if err != nil || every <= 0 {
		return fmt.Errorf("SYNC_INTERVAL: %q is not a duration such as 15m", os.Getenv("SYNC_INTERVAL"))
	}
	sy := newSyncer(syncPlatform, out)
	if len(syncPlatform.Config.Courses) == 0 {
		fmt.Fprintf(out, "Sync: no course configured; set %s to a GitLab group path to sync one\n", config.EnvCourses)
	} else if err := sy.once(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(out, "Sync failed: %v\n", err)
	}
	syncDone := make(chan struct{})
	go func() { defer close(syncDone); sy.keep(ctx, every) }()
	// Resources gone (moto restarted): provision them again and sync.
	h := &healer{clients: clients, names: res.Names, out: out, token: token, healed: func(ctx context.Context) {
		if _, err := sy.schedule(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "Sync failed: %v\n", err)
		}
	}}
	if os.Getenv(config.EnvAPIKeysSecretARN) == keysARN && strings.HasSuffix(keysARN, prefix+"/api-keys") {
		h.keysName = prefix + "/api-keys"
	}
	h.remember(ctx) // before moto can go: what to restore
	go h.watch(ctx, 2*time.Second)
	// On the way out, the syncer finishes its task (its audit stored)
	// before moto stops; the interrupt test allows 5 s in all.
	cleanups = append(cleanups, func() {
		select {
		case <-syncDone:
		case <-time.After(3 * time.Second):
		}
	})

	// The API, the same handler the api Lambda serves, reading its keys
	// from the local keys secret (localKeys) with a short cache.
	p, err := platform.NewTo(ctx, logW, "api", config.EnvDataTable)
	if err != nil {
		return err
	}
	p.APIKeysTTL = localKeysTTL
	handler, err := p.API()
	if err != nil {
		return err
	}
	courseID, projectID := firstCourse(ctx, p)
	extra := map[string]string{"API_URL": "http://127.0.0.1:" + port, "COURSE_ID": courseID, "PROJECT_ID": projectID}
	if apiKey != "" {
		// With API_KEYS given, no key is written: an API_KEY the user
		// exported stays in force when invoke.sh reads this file.
		extra["API_KEY"] = apiKey
	}
	if err := writeEnvFile(extra); err != nil {
		return err
	}
	// As the Lambda wrapper does per invocation, flush the audit after
	// each request.
	flushing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
		p.Flush(r.Context())
	})
	srv := &http.Server{Handler: flushing, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	base := "http://127.0.0.1:" + port
	auth := `-H "Authorization: Bearer $API_KEY"`
	keyLine := "  export API=" + base + " API_KEY=" + apiKey + "   # the local admin key, valid while this runs\n"
	if apiKey == "" {
		keyLine = "  export API=" + base + " API_KEY=<the key of one of your API_KEYS entries, or a new one: make api-key NAME=me ROLE=admin>\n"
	}
	dashHow := "sign in with the API key below"
	if signedIn {
		dashHow = "\"Sign in with GitLab\" as Demo Teacher (a course's staff) or a student (refused), or use the API key below"
	}
	fmt.Fprintf(out, "\nGitPulse is ready at %s (Ctrl-C to stop); dashboard: %s/dashboard/ (%s)\n  logs (JSON): %s   # make logs follows them; VERBOSE=1 make run shows them here too\n%s  curl -s $API/api/v1/health\n  curl -s %s $API/api/v1/courses/%s/teams\n  curl -s %s \"$API/api/v1/projects/%s/commits?limit=5\"\n  curl -s $API/api/v1/openapi.json   # every route\n%s  make invoke-api EVENT=events/api-teams.json\n  make audit-query HASH=%s   # the token's GitLab calls, newest first\n  make rotate-now   # rotate the token through the four Secrets Manager steps\n  make alerts   # the alerts published to the SNS topic, newest first\n  make api-key NAME=me   # a new key, accepted at once\n\n",
		base, base, dashHow, logFile, keyLine, auth, courseID, auth, projectID, simHint, gitpulse.NewSecret(token.Token).Hash())

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping…")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("API server: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// printTokenCheck runs the token check and prints its summary.
func printTokenCheck(ctx context.Context, out io.Writer, p *platform.Platform) {
	checkCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	sum, err := p.TokenCheck().Run(checkCtx)
	p.Flush(checkCtx)
	fmt.Fprintf(out, "Token check: %d checked, %d critical, %d warning, %d alerts published\n", sum.Checked, sum.Critical, sum.Warning, sum.Alerts)
	for _, t := range sum.Tokens {
		days := "no expiry"
		if t.DaysLeft != nil {
			days = fmt.Sprintf("%d days left", *t.DaysLeft)
		}
		worst := string(t.Worst)
		if worst == "" {
			worst = "ok"
		}
		fmt.Fprintf(out, "  %-24s %-9s %-14s %s\n", t.Name, t.Kind, days, worst)
		for _, f := range t.Findings {
			fmt.Fprintf(out, "    [%s] %s\n", f.Severity, f.Message)
		}
	}
	if err != nil {
		fmt.Fprintf(out, "  alerting failed: %v\n", err)
	}
}

// acquireLock refuses a second `make run` while one is running.
func acquireLock(port string) error {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		fields := strings.Fields(string(b))
		if len(fields) == 2 {
			if pid, _ := strconv.Atoi(fields[0]); pid > 0 && syscall.Kill(pid, 0) == nil {
				return fmt.Errorf("GitPulse is already running (pid %d, http://127.0.0.1:%s); stop it with Ctrl-C in its terminal or `kill %d`", pid, fields[1], pid)
			}
		}
	}
	return os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %s\n", os.Getpid(), port)), 0o644)
}

// startSim serves the GitLab simulator with a demo user and token, and
// registers GitPulse's OAuth application there for the API on apiPort
// (see signInFromSim).
func startSim(port, apiPort string) (string, sim.Token, string, func(), error) {
	s := sim.New()
	expires := time.Now().UTC().AddDate(0, 0, 90)
	demo := s.AddUser("demo", "Demo Teacher", false)
	// A demo course (three teams and a solo project, four weeks of work,
	// an assistant, a reviewer ring and commit identities to map) that the
	// demo teacher owns.
	course := s.GenerateCourse(1, sim.CourseSpec{Path: "kpi/tp-2024", Teams: 3, StudentsPerTeam: 3, SoloProjects: 1, Weeks: 4, PeopleCases: true})
	// A second course, not synced until added (POST /api/v1/courses
	// {"group":"kpi/tp-2025"}: the README's example).
	next := s.GenerateCourse(2, sim.CourseSpec{Path: "kpi/tp-2025", Teams: 2, StudentsPerTeam: 2, Weeks: 2})
	for _, id := range []int{course.GroupID, next.GroupID} {
		if err := s.AddMember("group", id, demo.ID, 50); err != nil {
			return "", sim.Token{}, "", nil, err
		}
	}
	// self_rotate lets `make rotate-now` rotate it (TOKEN_SELF_ROTATION is on).
	tok, err := s.AddToken(sim.TokenSpec{UserID: demo.ID, Name: "gitpulse-demo", Scopes: []string{"read_api", "read_repository", "self_rotate"}, ExpiresAt: &expires})
	if err != nil {
		return "", tok, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return "", tok, "", nil, fmt.Errorf("cannot start the GitLab simulator on port %s (%v): set SIM_PORT to a free port", port, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	if err := signInFromSim(s, base, apiPort); err != nil {
		_ = srv.Close()
		return "", tok, "", nil, err
	}
	return base, tok, course.Path, func() { _ = srv.Close() }, nil
}

// script runs infra/scripts/moto.sh and returns what it printed; ctx's
// end stops the script (an interrupted start leaves its pid file, so the
// stop that follows still finds the server).
func script(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join("infra", "scripts", "moto.sh"), args...)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = time.Second
	b, err := cmd.Output()
	return strings.TrimSpace(string(b)), err
}

// writeEnvFile records the local stack's environment for `make invoke-*`,
// with extra values. It holds no GitLab token (functions read it from the
// local secret), only the local API key, in a file only its owner reads
// that is removed when the stack stops.
func writeEnvFile(extra map[string]string) error {
	var b strings.Builder
	for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", config.EnvDataTable, config.EnvAuditTable, config.EnvAlertTopicARN, config.EnvTokenSecretARN, config.EnvSelfRotation, config.EnvSyncQueueURL, config.EnvCourses, config.EnvAPIKeysSecretARN, EnvAlertsQueueURL} {
		fmt.Fprintf(&b, "export %s=%q\n", name, os.Getenv(name))
	}
	for name, v := range extra {
		fmt.Fprintf(&b, "export %s=%q\n", name, v)
	}
	return os.WriteFile(envFile, []byte(b.String()), 0o600)
}

// firstCourse returns the ids of the first course and its first project,
// for the ready line's examples.
func firstCourse(ctx context.Context, p *platform.Platform) (string, string) {
	st := store.Store{DB: p.DynamoDB, Table: p.Config.DataTable}
	courses, err := store.All[gitpulse.Course](ctx, st, "COURSES", "COURSE#")
	if err != nil || len(courses) == 0 {
		return "<course id>", "<project id>"
	}
	cid := strconv.FormatInt(courses[0].ID, 10)
	projects, err := store.All[gitpulse.Project](ctx, st, store.CoursePK(courses[0].ID), "PROJECT#")
	if err != nil || len(projects) == 0 {
		return cid, "<project id>"
	}
	return cid, strconv.FormatInt(projects[0].ID, 10)
}
