// Package platform builds, once at cold start, what every GitPulse function
// shares: the validated configuration, the JSON logger, the AWS
// configuration and one GitLab client per configured token. It makes no
// network call: secrets are read on first use.
package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/alerts"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/redact"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/secrets"
	"github.com/gitpulse/gitpulse/shared/store"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
	"github.com/gitpulse/gitpulse/shared/tokencheck"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

// Platform is a function's shared wiring.
type Platform struct {
	Function string
	Config   config.Config
	Logger   *slog.Logger
	AWS      aws.Config
	// Tokens are the configured tokens one by one, each with a client
	// that sends only it (health and token checks judge each).
	Tokens []Token
	// GitLab is the working client: it falls back from a refused token to
	// the provider's others (AWSPENDING/AWSPREVIOUS, or backups).
	GitLab *gitlab.Client
	// Audit buffers the audit items of this invocation; Flush (or Wrap)
	// writes them before the invocation returns.
	Audit    *audit.Writer
	Recorder *audit.Recorder
	// Metrics writes the function's CloudWatch metrics (EMF lines on
	// stdout); Wrap gives each invocation a batch and flushes it.
	Metrics *metrics.Emitter
	Now     func() time.Time
	// APIKeysTTL is how long the API serves the keys secret's keys before
	// reading it again (0: apikeys.DefaultTTL). The local run sets it
	// short, so that a key `make api-key` adds works at once.
	APIKeysTTL time.Duration

	// One client per AWS service, built at cold start (no network call)
	// and shared, so a function keeps one connection pool per service.
	DynamoDB       *dynamodb.Client
	SQS            *sqs.Client
	SNS            *sns.Client
	SecretsManager *secretsmanager.Client
}

// Token is one configured GitLab token and the client that uses it.
type Token struct {
	Name     string
	Source   string
	Kind     gitpulse.TokenKind
	Provider gitlab.TokenProvider
	Client   *gitlab.Client
}

// New loads the configuration from the environment and builds the
// platform for the named function. required lists environment variables
// the function cannot run without. Errors name the bad variable.
func New(ctx context.Context, function string, required ...string) (*Platform, error) {
	return NewTo(ctx, os.Stdout, function, required...)
}

// NewTo is New with the function's log and metrics lines written to out
// (stdout in Lambda; a buffer in tests that read them). Every line passes
// package redact on its way to out.
func NewTo(ctx context.Context, out io.Writer, function string, required ...string) (*Platform, error) {
	logger := NewLoggerTo(out, os.Getenv("AWS_LAMBDA_LOG_LEVEL"), function)
	cfg, err := config.FromEnv(append([]string{config.EnvAuditTable}, required...)...)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if len(cfg.Tokens.Ignored) > 0 {
		logger.Warn("token variables ignored: an earlier source wins", "ignored", cfg.Tokens.Ignored)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(sdkLogger{logger}))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	namespace := os.Getenv(metrics.EnvNamespace)
	if namespace == "" {
		namespace = metrics.DefaultNamespace
	}
	if !metrics.ValidNamespace(namespace) {
		return nil, fmt.Errorf("configuration: %s: %q is not a CloudWatch namespace (1-255 letters, digits, . - _ / # : or space; not AWS/...)", metrics.EnvNamespace, redact.Echo(namespace))
	}
	p := &Platform{Function: function, Config: cfg, Logger: logger, AWS: awsCfg, Now: time.Now,
		DynamoDB: dynamodb.NewFromConfig(awsCfg), SQS: sqs.NewFromConfig(awsCfg),
		SNS: sns.NewFromConfig(awsCfg), SecretsManager: secretsmanager.NewFromConfig(awsCfg)}
	p.Metrics = &metrics.Emitter{Namespace: namespace, Function: function, W: redact.Writer(out), Now: p.Now}
	p.Audit = &audit.Writer{DB: p.DynamoDB, Table: cfg.AuditTable, Logger: logger}
	p.Recorder = &audit.Recorder{Sink: p.Audit, Function: function, Retention: cfg.AuditRetention, Now: p.Now}

	store := secrets.Store{API: p.SecretsManager}
	var working gitlab.TokenProvider
	for _, arn := range cfg.Tokens.SecretARNs {
		prov := secrets.NewProvider(store, arn, cfg.TokenCacheTTL, p.Now)
		prov.Logger = logger
		if err := p.addToken(secrets.NameFromARN(arn), "secret:"+arn, gitpulse.KindUnknown, prov); err != nil {
			return nil, err
		}
		if working == nil {
			working = prov
		}
	}
	for _, t := range cfg.Tokens.Static {
		if err := p.addToken(t.Name, t.Source, t.Kind, gitlab.StaticToken(t)); err != nil {
			return nil, err
		}
	}
	if len(cfg.Tokens.Static) > 0 {
		// After a fallback, the primary is tried again every 5 minutes.
		working = gitlab.NewTokenList(cfg.Tokens.Static, 5*time.Minute, p.Now)
	}
	if p.GitLab, err = p.NewGitLabClient(working, false); err != nil {
		return nil, err
	}
	return p, nil
}

// NewGitLabClient returns a client over prov with the function's rate,
// timeout and audit; noFallback keeps it on one token.
func (p *Platform) NewGitLabClient(prov gitlab.TokenProvider, noFallback bool) (*gitlab.Client, error) {
	return gitlab.New(gitlab.Options{
		Provider:          prov,
		RequestsPerSecond: p.Config.RequestsPerSecond,
		Timeout:           p.Config.GitLabTimeout,
		UserAgent:         "gitpulse/" + p.Function,
		Interceptors:      []gl.Interceptor{p.Recorder.Interceptor, metrics.Interceptor},
		NoFallback:        noFallback,
		Logger:            p.Logger,
		Now:               p.Now,
	})
}

func (p *Platform) addToken(name, source string, kind gitpulse.TokenKind, prov gitlab.TokenProvider) error {
	client, err := p.NewGitLabClient(prov, true)
	if err != nil {
		return err
	}
	p.Tokens = append(p.Tokens, Token{Name: name, Source: source, Kind: kind, Provider: prov, Client: client})
	return nil
}

// flushTimeout bounds the audit flush once it no longer follows the
// caller's context.
const flushTimeout = 10 * time.Second

// Flush writes the invocation's audit items. It survives ctx's
// cancellation (a client that went away, an invocation near its end): the
// items describe what happened and are written anyway, within
// flushTimeout. Failures are logged by the writer (the items with them);
// the invocation does not fail for them.
func (p *Platform) Flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if _, err := p.Audit.Flush(ctx); err != nil {
		p.Logger.ErrorContext(ctx, "audit flush incomplete", "error", err.Error())
	}
}

// Wrap returns handler with a fresh metrics batch in its context, and the
// audit and then the metrics flushed before each invocation returns.
// A metrics write failure is logged; the invocation does not fail for it.
func Wrap[E, R any](p *Platform, handler func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, event E) (R, error) {
		batch := p.Metrics.Begin()
		ctx = metrics.NewContext(ctx, batch)
		defer func() {
			p.Flush(ctx) // may count AuditFallbacks in the batch
			if err := batch.Flush(); err != nil {
				p.Logger.ErrorContext(ctx, "metrics not written", "error", err.Error())
			}
		}()
		return handler(ctx, event)
	}
}

// HealthChecker returns the dependency checker for the data table and
// every configured token.
func (p *Platform) HealthChecker() *health.Checker {
	checker := &health.Checker{
		DB:         p.DynamoDB,
		CacheTTL:   p.Config.HealthCacheTTL,
		FailureTTL: 5 * time.Second,
		Now:        p.Now,
	}
	for _, t := range []string{p.Config.DataTable, p.Config.AuditTable} {
		if t != "" {
			checker.Tables = append(checker.Tables, t)
		}
	}
	for _, t := range p.Tokens {
		// Health judges what readers would use: the same provider, with
		// the fallback readers have (a rotation never reads as an outage).
		client := t.Client
		if c, err := p.NewGitLabClient(t.Provider, false); err == nil {
			client = c
		}
		ht := health.Token{Name: t.Name, Source: t.Source, Kind: t.Kind, Client: client}
		if s, ok := t.Provider.(interface{ Serving() string }); ok {
			ht.Serving = s.Serving
		}
		if s, ok := t.Provider.(interface{ Rotating() (time.Time, bool) }); ok {
			ht.Rotating = s.Rotating
		}
		checker.Tokens = append(checker.Tokens, ht)
	}
	return checker
}

// TokenTargets returns the configured tokens for the token check, each
// with its own single-token client and, for Secrets Manager sources, a
// reader of the secret's rotation settings.
func (p *Platform) TokenTargets() []tokens.Target {
	store := secrets.Store{API: p.SecretsManager}
	var targets []tokens.Target
	for _, t := range p.Tokens {
		target := tokens.Target{Name: t.Name, Source: t.Source, Provider: t.Provider, Client: t.Client}
		if arn, ok := strings.CutPrefix(t.Source, "secret:"); ok {
			target.Rotation = func(ctx context.Context) (tokens.Rotation, error) {
				info, err := store.Rotation(ctx, arn)
				return tokens.Rotation{Enabled: info.Enabled, LastRotated: info.LastRotated, EveryDays: info.EveryDays}, err
			}
		}
		targets = append(targets, target)
	}
	return targets
}

// Policy returns the token policy from the configuration.
func (p *Platform) Policy() tokens.Policy {
	policy := tokens.DefaultPolicy()
	policy.WarningDays = p.Config.WarningDays
	policy.CriticalDays = p.Config.CriticalDays
	policy.MaxLifetimeDays = p.Config.MaxLifetimeDays
	policy.Environment = p.Config.Environment
	policy.SelfRotation = p.Config.SelfRotation
	return policy
}

// TokenCheck returns the daily token check, alerting to the configured
// topic with its state in the data table.
func (p *Platform) TokenCheck() *tokencheck.Runner {
	return &tokencheck.Runner{
		Targets: p.TokenTargets(),
		Policy:  p.Policy(),
		Notifier: &alerts.Notifier{
			SNS: p.SNS, TopicARN: p.Config.AlertTopicARN,
			DB: p.DynamoDB, Table: p.Config.DataTable,
			Repeat: p.Config.AlertRepeat, Environment: p.Config.Environment, Now: p.Now,
		},
		Store:  &store.Store{DB: p.DynamoDB, Table: p.Config.DataTable},
		Logger: p.Logger,
		Now:    p.Now,
	}
}

// Rotator returns the token rotation, with audited GitLab clients that
// send exactly one token and alerts to the configured topic.
func (p *Platform) Rotator() *rotation.Rotator {
	return &rotation.Rotator{
		SM: p.SecretsManager,
		GitLab: func(tok gitpulse.Token, retries bool) (*gitlab.Client, error) {
			maxRetries := 0
			if !retries {
				maxRetries = -1
			}
			return gitlab.New(gitlab.Options{
				Provider:          gitlab.StaticToken(tok),
				RequestsPerSecond: p.Config.RequestsPerSecond,
				Timeout:           p.Config.GitLabTimeout,
				MaxRetries:        maxRetries,
				UserAgent:         "gitpulse/" + p.Function,
				Interceptors:      []gl.Interceptor{p.Recorder.Interceptor, metrics.Interceptor},
				NoFallback:        true,
				Logger:            p.Logger,
				Now:               p.Now,
			})
		},
		Alerter: &alerts.RotationAlerter{SNS: p.SNS, TopicARN: p.Config.AlertTopicARN,
			DB: p.DynamoDB, Table: p.Config.DataTable, Repeat: p.Config.AlertRepeat, Now: p.Now},
		Logger: p.Logger,
		Now:    p.Now,
	}
}

// SyncScheduler returns the course sync planner.
func (p *Platform) SyncScheduler() *gpsync.Scheduler {
	return &gpsync.Scheduler{
		GitLab: p.GitLab, Store: store.Store{DB: p.DynamoDB, Table: p.Config.DataTable},
		Queue: p.SQS, QueueURL: p.Config.SyncQueueURL, Logger: p.Logger, Now: p.Now,
	}
}

// SyncWorker returns the per-project sync; it plans a course itself when
// the API asks for a sync now.
func (p *Platform) SyncWorker() *gpsync.Worker {
	return &gpsync.Worker{
		GitLab: p.GitLab, Store: store.Store{DB: p.DynamoDB, Table: p.Config.DataTable},
		Queue: p.SQS, QueueURL: p.Config.SyncQueueURL, Logger: p.Logger, Now: p.Now,
		Planner: p.SyncScheduler(),
	}
}

// Boot is New for a function's main: on a configuration error it logs the
// error (it names the variable) and exits before the function serves.
func Boot(function string, required ...string) *Platform {
	p, err := New(context.Background(), function, required...)
	if err != nil {
		NewLogger(function).Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	return p
}

// APIKeys returns the data API's key check: keys from the
// API_KEYS_SECRET_ARN secret (read on first use, cached), else from
// API_KEYS. With neither, every authenticated route answers 401.
func (p *Platform) APIKeys() (*apikeys.Authenticator, error) {
	onStale := func(ctx context.Context, err error) {
		p.Logger.WarnContext(ctx, "API keys secret unreadable: serving the cached keys", "error", err.Error())
	}
	if arn := p.Config.APIKeysSecretARN; arn != "" {
		return &apikeys.Authenticator{Source: &apikeys.SecretSource{API: p.SecretsManager, SecretID: arn, TTL: p.APIKeysTTL, Now: p.Now}, OnStale: onStale}, nil
	}
	if p.Config.APIKeys == "" {
		p.Logger.Warn("no API keys configured: every data route answers 401", "set", config.EnvAPIKeysSecretARN+" or "+config.EnvAPIKeys)
		return &apikeys.Authenticator{Source: apikeys.Static(nil)}, nil
	}
	keys, err := apikeys.Parse(p.Config.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("configuration: %s: %s", config.EnvAPIKeys, redact.String(gitpulse.ErrorMessage(err)))
	}
	return &apikeys.Authenticator{Source: apikeys.Static(keys)}, nil
}

// API returns the HTTP API handler with every request audited.
func (p *Platform) API() (*api.Server, error) {
	keys, err := p.APIKeys()
	if err != nil {
		return nil, err
	}
	signIn, err := p.SignIn()
	if err != nil {
		return nil, err
	}
	db := p.DynamoDB
	return api.New(api.Deps{
		SignIn: signIn,
		Health: p.HealthChecker(),
		Keys:   keys,
		Store:  store.Store{DB: db, Table: p.Config.DataTable},
		Audit: func(ctx context.Context, q audit.Query) (audit.Page, error) {
			return audit.Find(ctx, db, p.Config.AuditTable, q, p.Now())
		},
		Courses:           p.SyncScheduler(),
		Hooks:             p.SyncScheduler(),
		HookAudit:         p.Recorder,
		Queue:             p.SQS,
		QueueURL:          p.Config.SyncQueueURL,
		ConfiguredCourses: p.Config.Courses,
		InactiveDays:      p.Config.InactiveDays,
		Logger:            p.Logger,
		Middleware:        []func(http.Handler) http.Handler{p.Recorder.Middleware},
		Now:               p.Now,
	}), nil
}

// SignIn reads the sign-in secret ({"client_secret":...,"session_key":...})
// once, at start, and returns the sign-in configuration; nil when
// signing in with GitLab is not configured.
func (p *Platform) SignIn() (*api.SignIn, error) {
	if p.Config.SignInSecretARN == "" {
		return nil, nil
	}
	raw, err := secrets.ReadString(context.Background(), p.SecretsManager, p.Config.SignInSecretARN, "AWSCURRENT")
	if err != nil {
		return nil, fmt.Errorf("sign-in secret: %w", err)
	}
	var v struct {
		ClientSecret string `json:"client_secret"`
		SessionKey   string `json:"session_key"`
	}
	if json.Unmarshal([]byte(raw), &v) != nil || v.ClientSecret == "" || len(v.SessionKey) < 32 {
		return nil, fmt.Errorf("sign-in secret %s: want {\"client_secret\":...,\"session_key\":<at least 32 characters>}", p.Config.SignInSecretARN)
	}
	redact.Register(v.ClientSecret)
	redact.Register(v.SessionKey)
	return &api.SignIn{Issuer: p.Config.SignInURL, ClientID: p.Config.SignInClientID,
		ClientSecret: gitpulse.NewSecret(v.ClientSecret), SessionKey: gitpulse.NewSecret(v.SessionKey), Audit: p.Recorder.Sink}, nil
}

// Exit logs why the function cannot start and exits; for main only.
func (p *Platform) Exit(err error) {
	p.Logger.Error("cannot start", "error", err.Error())
	os.Exit(1)
}
