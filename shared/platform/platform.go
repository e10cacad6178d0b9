// Package platform builds, once at cold start, what every GitPulse function
// shares: the validated configuration, the JSON logger, the AWS
// configuration and one GitLab client per configured token. It makes no
// network call: secrets are read on first use.
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// Platform is a function's shared wiring.
type Platform struct {
	Function string
	Config   config.Config
	Logger   *slog.Logger
	AWS      aws.Config
	Tokens   []Token
	Now      func() time.Time
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
	logger := NewLogger(function)
	cfg, err := config.FromEnv(required...)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if len(cfg.Tokens.Ignored) > 0 {
		logger.Warn("token variables ignored: an earlier source wins", "ignored", cfg.Tokens.Ignored)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	p := &Platform{Function: function, Config: cfg, Logger: logger, AWS: awsCfg, Now: time.Now}
	store := secrets.Store{API: secretsmanager.NewFromConfig(awsCfg)}
	for _, arn := range cfg.Tokens.SecretARNs {
		prov := secrets.NewProvider(store, arn, cfg.TokenCacheTTL, p.Now)
		if err := p.addToken(secrets.NameFromARN(arn), "secret:"+arn, gitpulse.KindUnknown, prov); err != nil {
			return nil, err
		}
	}
	for _, t := range cfg.Tokens.Static {
		if err := p.addToken(t.Name, t.Source, t.Kind, gitlab.StaticToken(t)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Platform) addToken(name, source string, kind gitpulse.TokenKind, prov gitlab.TokenProvider) error {
	client, err := gitlab.New(gitlab.Options{
		Provider:          prov,
		RequestsPerSecond: p.Config.RequestsPerSecond,
		Timeout:           p.Config.GitLabTimeout,
		UserAgent:         "gitpulse/" + p.Function,
		Now:               p.Now,
	})
	if err != nil {
		return err
	}
	p.Tokens = append(p.Tokens, Token{Name: name, Source: source, Kind: kind, Provider: prov, Client: client})
	return nil
}

// HealthChecker returns the dependency checker for the data table and
// every configured token.
func (p *Platform) HealthChecker() *health.Checker {
	checker := &health.Checker{
		DB:         dynamodb.NewFromConfig(p.AWS),
		CacheTTL:   p.Config.HealthCacheTTL,
		FailureTTL: 5 * time.Second,
		Now:        p.Now,
	}
	if p.Config.DataTable != "" {
		checker.Tables = []string{p.Config.DataTable}
	}
	for _, t := range p.Tokens {
		checker.Tokens = append(checker.Tokens, health.Token{Name: t.Name, Source: t.Source, Kind: t.Kind, Client: t.Client})
	}
	return checker
}
