// Package config turns the process environment into one validated Config.
// Every function loads it once at cold start; a missing or malformed variable
// yields an error that names the variable and what is wrong with it, and the
// function exits before serving.
//
// No error quotes a value of a variable that can hold or be mistaken for a
// token (the token sources, GITLAB_URL, the API keys); other values are
// quoted only as package redact allows (credential shapes and loaded
// tokens replaced, cut short), and every message passes redact once more
// after the tokens are known. Every number and duration has a range, and
// the message states it.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// Environment variable names.
const (
	EnvEnvironment       = "ENVIRONMENT"
	EnvTokenSecretARN    = "GITLAB_TOKEN_SECRET_ARN"
	EnvTokens            = "GITLAB_TOKENS"
	EnvTokenFile         = "GITLAB_TOKEN_FILE"
	EnvToken             = "GITLAB_TOKEN"
	EnvURL               = "GITLAB_URL"
	EnvRequestsPerSecond = "GITLAB_REQUESTS_PER_SECOND"
	EnvGitLabTimeout     = "GITLAB_TIMEOUT"
	EnvTokenCacheTTL     = "TOKEN_CACHE_TTL"
	EnvDataTable         = "DATA_TABLE"
	EnvHealthCacheTTL    = "HEALTH_CACHE_TTL"
	EnvAuditTable        = "AUDIT_TABLE"
	EnvAuditRetention    = "AUDIT_RETENTION_DAYS"
	EnvAlertTopicARN     = "ALERT_TOPIC_ARN"
	EnvAlertRepeat       = "ALERT_REPEAT_INTERVAL"
	EnvWarningDays       = "TOKEN_WARNING_DAYS"
	EnvCriticalDays      = "TOKEN_CRITICAL_DAYS"
	EnvMaxLifetimeDays   = "TOKEN_MAX_LIFETIME_DAYS"
	EnvSelfRotation      = "TOKEN_SELF_ROTATION"
	EnvCourses           = "GITPULSE_COURSES"
	EnvSyncQueueURL      = "SYNC_QUEUE_URL"
	EnvAPIKeysSecretARN  = "API_KEYS_SECRET_ARN"
	EnvAPIKeys           = "API_KEYS"
	EnvInactiveDays      = "TEAM_INACTIVE_DAYS"
	EnvTokenPrefixes     = "GITLAB_TOKEN_PREFIXES"
	// Signing in with GitLab (the api function): the GitLab instance's
	// URL (the OpenID issuer), the OAuth application's client id, and the
	// secret holding {"client_secret":...,"session_key":...}.
	EnvSignInURL       = "SIGNIN_GITLAB_URL"
	EnvSignInClientID  = "SIGNIN_CLIENT_ID"
	EnvSignInSecretARN = "SIGNIN_SECRET_ARN"
)

// Names lists every variable Load reads.
func Names() []string {
	return []string{
		EnvEnvironment, EnvTokenSecretARN, EnvTokens, EnvTokenFile, EnvToken, EnvURL,
		EnvRequestsPerSecond, EnvGitLabTimeout, EnvTokenCacheTTL, EnvDataTable, EnvHealthCacheTTL,
		EnvAuditTable, EnvAuditRetention, EnvAlertTopicARN, EnvAlertRepeat, EnvWarningDays,
		EnvCriticalDays, EnvMaxLifetimeDays, EnvSelfRotation, EnvCourses, EnvSyncQueueURL,
		EnvAPIKeysSecretARN, EnvAPIKeys, EnvInactiveDays, EnvTokenPrefixes,
		EnvSignInURL, EnvSignInClientID, EnvSignInSecretARN,
	}
}

// Ranges of the numbers and durations. A rate under one request a minute
// or a timeout under a second cannot do a sync's work; a timeout over five
// minutes outlives most invocations, and a cache over an hour keeps a
// rotated token or a failed check far too long.
const (
	MinRequestsPerSecond = 1.0 / 60
	MaxRequestsPerSecond = 10000
	MinGitLabTimeout     = time.Second
	MaxGitLabTimeout     = 5 * time.Minute
	MaxCacheTTL          = time.Hour
	MinAlertRepeat       = time.Minute
	MaxAlertRepeat       = 90 * 24 * time.Hour
)

// Config is everything a GitPulse function reads from its environment.
type Config struct {
	// Environment is the deployment's name ("dev", "prod", ...).
	Environment string
	// Tokens says where the GitLab tokens come from.
	Tokens TokenSources
	// GitLab client behaviour.
	RequestsPerSecond float64
	GitLabTimeout     time.Duration
	TokenCacheTTL     time.Duration
	// DataTable is the DynamoDB table of synced data and course records.
	DataTable string
	// HealthCacheTTL is how long the health endpoint reuses a GitLab check.
	HealthCacheTTL time.Duration
	// AuditTable receives an item per GitLab and API call; every function
	// needs it.
	AuditTable string
	// AuditRetention is how long audit items live (DynamoDB TTL).
	AuditRetention time.Duration
	// AlertTopicARN is the SNS topic token alerts go to.
	AlertTopicARN string
	// AlertRepeat is how long an unchanged finding stays quiet.
	AlertRepeat time.Duration
	// Token policy: expiry windows, longest lifetime, self-rotation.
	WarningDays     int
	CriticalDays    int
	MaxLifetimeDays int
	SelfRotation    bool
	// Courses are the GitLab groups to sync (paths, ids or URLs) besides
	// those recorded in the data table.
	Courses []string
	// SyncQueueURL is the SQS queue of per-project sync tasks.
	SyncQueueURL string
	// APIKeysSecretARN is the Secrets Manager secret of the data API's key
	// hashes; APIKeys the same list as JSON from API_KEYS, for local runs
	// (package apikeys parses it). The secret wins when both are set.
	APIKeysSecretARN string
	APIKeys          string
	// SignInURL, SignInClientID and SignInSecretARN configure signing in
	// with GitLab; all three or none.
	SignInURL       string
	SignInClientID  string
	SignInSecretARN string
	// InactiveDays is the teams listing's default window for members with
	// no activity.
	InactiveDays int
	// TokenPrefixes are the instance's own GitLab token prefixes
	// (GITLAB_TOKEN_PREFIXES), redacted like GitLab's default ones.
	TokenPrefixes []string
}

// TokenSources holds the first configured token source, in the order
// design.md gives: Secrets Manager secrets, then GITLAB_TOKENS, then
// GITLAB_TOKEN_FILE, then GITLAB_TOKEN. Exactly one of SecretARNs and Static
// is set.
type TokenSources struct {
	// SecretARNs are Secrets Manager secrets, one per GitLab instance, read
	// later (with an explicit VersionStage) by the token provider.
	SecretARNs []string
	// Static tokens, primary first, then backups.
	Static []gitpulse.Token
	// Ignored names lower-priority variables that were also set and are
	// not used; worth a warning at start.
	Ignored []string
}

// Load reads the configuration through lookup (os.LookupEnv in production)
// and validates it. required names variables this function cannot run
// without (e.g. EnvDataTable). All problems are reported at once, one per
// variable, joined.
func Load(lookup func(string) (string, bool), required ...string) (Config, error) {
	l := loader{lookup: lookup}
	prefixes := l.tokenPrefixes()
	redact.AddPrefix(prefixes...)
	cfg := Config{
		Environment:       l.environment(),
		RequestsPerSecond: l.rate(EnvRequestsPerSecond, 10),
		GitLabTimeout:     l.duration(EnvGitLabTimeout, 15*time.Second, MinGitLabTimeout, MaxGitLabTimeout),
		TokenCacheTTL:     l.duration(EnvTokenCacheTTL, time.Minute, 0, MaxCacheTTL),
		HealthCacheTTL:    l.duration(EnvHealthCacheTTL, 30*time.Second, 0, MaxCacheTTL),
		DataTable:         l.tableName(EnvDataTable),
		AuditTable:        l.tableName(EnvAuditTable),
		AuditRetention:    time.Duration(l.intRange(EnvAuditRetention, 90, 1, 3650)) * 24 * time.Hour,
		TokenPrefixes:     prefixes,
	}
	cfg.AlertTopicARN = l.topicARN(EnvAlertTopicARN)
	cfg.AlertRepeat = l.duration(EnvAlertRepeat, 24*time.Hour, MinAlertRepeat, MaxAlertRepeat)
	cfg.WarningDays = l.intRange(EnvWarningDays, 30, 1, 365)
	cfg.CriticalDays = l.intRange(EnvCriticalDays, 7, 0, 365)
	cfg.MaxLifetimeDays = l.intRange(EnvMaxLifetimeDays, 180, 0, 3650)
	cfg.SelfRotation = l.boolean(EnvSelfRotation)
	if cfg.CriticalDays > cfg.WarningDays {
		l.fail(EnvCriticalDays, "%d is more than %s (%d); the critical window must lie inside the warning window", cfg.CriticalDays, EnvWarningDays, cfg.WarningDays)
	}
	cfg.Courses = l.courses()
	cfg.SyncQueueURL = l.queueURL(EnvSyncQueueURL)
	cfg.Tokens = l.tokens()
	for _, t := range cfg.Tokens.Static {
		redact.Register(t.Value.Reveal()) // loaded: never echoed from now on
	}
	cfg.APIKeysSecretARN, cfg.APIKeys = l.apiKeys()
	cfg.InactiveDays = l.intRange(EnvInactiveDays, 14, 1, 365)
	cfg.SignInURL, cfg.SignInClientID, cfg.SignInSecretARN = l.signIn()
	for _, name := range required {
		if v, _ := l.get(name); v == "" {
			l.fail(name, "is required")
		}
	}
	// Last guard: now that the tokens are known, no message may hold one.
	for i, err := range l.errs {
		l.errs[i] = errors.New(redact.String(err.Error()))
	}
	return cfg, errors.Join(l.errs...)
}

// FromEnv is Load over the process environment.
func FromEnv(required ...string) (Config, error) { return Load(os.LookupEnv, required...) }

type loader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (l *loader) get(name string) (string, bool) {
	v, ok := l.lookup(name)
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// quote is v as an error may quote it: redacted and cut short.
func quote(v string) string { return strconv.Quote(redact.Echo(v)) }

var envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

func (l *loader) environment() string {
	v, ok := l.get(EnvEnvironment)
	if !ok {
		return "dev"
	}
	if !envNamePattern.MatchString(v) {
		l.fail(EnvEnvironment, "%s is not a valid name (lowercase letters, digits and '-', starting with a letter)", quote(v))
	}
	return v
}

// rate is a request rate from MinRequestsPerSecond (one a minute) to
// MaxRequestsPerSecond.
func (l *loader) rate(name string, def float64) float64 {
	v, ok := l.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < MinRequestsPerSecond || f > MaxRequestsPerSecond {
		l.fail(name, "%s is not a rate from 0.0167 (one request a minute) to %d requests per second", quote(v), MaxRequestsPerSecond)
		return def
	}
	return f
}

func (l *loader) intRange(name string, def, lo, hi int) int {
	v, ok := l.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, "%s is not a whole number from %d to %d", quote(v), lo, hi)
		return def
	}
	return n
}

func (l *loader) boolean(name string) bool {
	v, ok := l.get(name)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, "%s is not true or false", quote(v))
	}
	return b
}

var topicARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$`)

func (l *loader) topicARN(name string) string {
	v, ok := l.get(name)
	if !ok {
		return ""
	}
	if !topicARNPattern.MatchString(v) {
		l.fail(name, "%s is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", quote(v))
	}
	return v
}

func (l *loader) courses() []string {
	v, ok := l.get(EnvCourses)
	if !ok {
		return nil
	}
	var out []string
	for i, part := range strings.Split(v, ",") {
		ref := strings.TrimSpace(part)
		switch {
		case ref == "":
			continue
		case strings.Contains(ref, "://"):
			u, err := url.Parse(ref)
			if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
				l.fail(EnvCourses, "entry %d (%s) is not a group URL such as https://gitlab.example.edu/kpi/tp-2024", i, quote(ref))
				continue
			}
			ref = strings.Trim(strings.Split(u.Path, "/-/")[0], "/")
		case strings.ContainsAny(ref, " \t?#"):
			l.fail(EnvCourses, "entry %d (%s) is not a group path, id or URL", i, quote(ref))
			continue
		}
		out = append(out, ref)
	}
	return out
}

func (l *loader) queueURL(name string) string {
	v, ok := l.get(name)
	if !ok {
		return ""
	}
	if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		l.fail(name, "%s is not an SQS queue URL", quote(v))
	}
	return v
}

// duration is a Go duration from lo to hi, both inclusive.
func (l *loader) duration(name string, def, lo, hi time.Duration) time.Duration {
	v, ok := l.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		l.fail(name, "%s is not a duration from %s to %s (such as 30s or 5m)", quote(v), fmtDuration(lo), fmtDuration(hi))
		return def
	}
	return d
}

// fmtDuration writes a bound as an operator would type it: 0s, 1s, 5m, 1h,
// 2160h (90 days).
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h (" + strconv.Itoa(int(d/(24*time.Hour))) + " days)"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	default:
		return d.String()
	}
}

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$`)

// tokenPrefixes reads GITLAB_TOKEN_PREFIXES: the instance's own token
// prefixes (an admin may change glpat-), 3 to 32 letters, digits, '-' or
// '_' each, comma separated. The values are not quoted back.
func (l *loader) tokenPrefixes() []string {
	v, ok := l.get(EnvTokenPrefixes)
	if !ok {
		return nil
	}
	var out []string
	for i, part := range strings.Split(v, ",") {
		p := strings.TrimSpace(part)
		if !prefixPattern.MatchString(p) {
			l.fail(EnvTokenPrefixes, "entry %d is not a token prefix (3 to 32 letters, digits, '-' or '_', such as mycorp-pat-)", i)
			continue
		}
		out = append(out, p)
	}
	return out
}

var tableNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

func (l *loader) tableName(name string) string {
	v, ok := l.get(name)
	if !ok {
		return ""
	}
	if !tableNamePattern.MatchString(v) {
		l.fail(name, "%s is not a valid DynamoDB table name (3 to 255 letters, digits, '_', '-' or '.')", quote(v))
	}
	return v
}

// ParseGitLabURL validates a GitLab base URL and returns it without a
// trailing slash. It must be https, except on loopback addresses (local runs
// and tests), and must not carry credentials, a query or a fragment.
func ParseGitLabURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		// The input is not echoed: a token pasted into the wrong
		// variable would otherwise end up in the log.
		return "", errors.New("is not an http(s) URL such as https://gitlab.example.edu")
	}
	if u.User != nil {
		return "", errors.New("must not contain credentials (user:password@); put the token in its own variable")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not have a query or fragment", u.Scheme+"://"+u.Host+u.Path)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("%q must use https (plain http is allowed only for loopback addresses)", u.String())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
