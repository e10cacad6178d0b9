// Package config turns the process environment into one validated Config.
// Every function loads it once at cold start; a missing or malformed variable
// yields an error that names the variable and what is wrong with it, and the
// function exits before serving. Token values never appear in those errors.
package config

import (
	"bytes"
	"encoding/json"
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
	// InactiveDays is the teams listing's default window for members with
	// no activity.
	InactiveDays int
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
	cfg := Config{
		Environment:       l.environment(),
		RequestsPerSecond: l.positiveFloat(EnvRequestsPerSecond, 10),
		GitLabTimeout:     l.duration(EnvGitLabTimeout, 15*time.Second),
		TokenCacheTTL:     l.duration(EnvTokenCacheTTL, time.Minute),
		HealthCacheTTL:    l.duration(EnvHealthCacheTTL, 30*time.Second),
		DataTable:         l.tableName(EnvDataTable),
		AuditTable:        l.tableName(EnvAuditTable),
		AuditRetention:    time.Duration(l.intRange(EnvAuditRetention, 90, 1, 3650)) * 24 * time.Hour,
	}
	cfg.AlertTopicARN = l.topicARN(EnvAlertTopicARN)
	cfg.AlertRepeat = l.duration(EnvAlertRepeat, 24*time.Hour)
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
	for _, name := range required {
		if v, _ := l.get(name); v == "" {
			l.fail(name, "is required")
		}
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

var envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

func (l *loader) environment() string {
	v, ok := l.get(EnvEnvironment)
	if !ok {
		return "dev"
	}
	if !envNamePattern.MatchString(v) {
		l.fail(EnvEnvironment, "%q is not a valid name (lowercase letters, digits and '-', starting with a letter)", v)
	}
	return v
}

func (l *loader) positiveFloat(name string, def float64) float64 {
	v, ok := l.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		l.fail(name, "%q is not a positive number", v)
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
		l.fail(name, "%q is not a whole number from %d to %d", v, lo, hi)
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
		l.fail(name, "%q is not true or false", v)
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
		l.fail(name, "%q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", v)
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
				l.fail(EnvCourses, "entry %d (%q) is not a group URL such as https://gitlab.example.edu/kpi/tp-2024", i, ref)
				continue
			}
			ref = strings.Trim(strings.Split(u.Path, "/-/")[0], "/")
		case strings.ContainsAny(ref, " \t?#"):
			l.fail(EnvCourses, "entry %d (%q) is not a group path, id or URL", i, ref)
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
		l.fail(name, "%q is not an SQS queue URL", v)
	}
	return v
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v, ok := l.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.fail(name, "%q is not a duration such as 30s or 5m", v)
		return def
	}
	return d
}

var tableNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

func (l *loader) tableName(name string) string {
	v, ok := l.get(name)
	if !ok {
		return ""
	}
	if !tableNamePattern.MatchString(v) {
		l.fail(name, "%q is not a valid DynamoDB table name", v)
	}
	return v
}

func (l *loader) tokens() TokenSources {
	var src TokenSources
	order := []string{EnvTokenSecretARN, EnvTokens, EnvTokenFile, EnvToken}
	chosen := ""
	for _, name := range order {
		if _, ok := l.get(name); !ok {
			continue
		}
		if chosen == "" {
			chosen = name
		} else {
			src.Ignored = append(src.Ignored, name)
		}
	}
	switch chosen {
	case EnvTokenSecretARN:
		src.SecretARNs = l.secretARNs()
	case EnvTokens:
		src.Static = l.tokenList()
	case EnvTokenFile:
		path, _ := l.get(EnvTokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			l.fail(EnvTokenFile, "cannot read %s: %s", path, describeFileError(err))
			return src
		}
		if t := l.singleToken(EnvTokenFile, string(b), "file:"+path); t != nil {
			src.Static = []gitpulse.Token{*t}
		}
	case EnvToken:
		v, _ := l.get(EnvToken)
		if t := l.singleToken(EnvToken, v, "env:"+EnvToken); t != nil {
			src.Static = []gitpulse.Token{*t}
		}
	default:
		l.errs = append(l.errs, fmt.Errorf("no GitLab token configured: set one of %s", strings.Join(order, ", ")))
	}
	return src
}

func describeFileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (l *loader) singleToken(name, value, source string) *gitpulse.Token {
	value = strings.TrimSpace(value)
	if value == "" {
		l.fail(name, "the token is empty")
		return nil
	}
	if strings.ContainsAny(value, " \t\r\n") {
		l.fail(name, "the token contains whitespace; it must be one line holding only the token")
		return nil
	}
	raw, ok := l.get(EnvURL)
	if !ok {
		l.fail(EnvURL, "is required with %s", name)
		return nil
	}
	u, err := ParseGitLabURL(raw)
	if err != nil {
		l.fail(EnvURL, "%s", err)
		return nil
	}
	return &gitpulse.Token{Name: "primary", Value: gitpulse.NewSecret(value), URL: u, Source: source}
}

var secretARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`)

// apiKeys reads the data API's key source; package apikeys checks the
// list itself (platform.New reports its errors under API_KEYS).
func (l *loader) apiKeys() (string, string) {
	arn, hasARN := l.get(EnvAPIKeysSecretARN)
	raw, _ := l.get(EnvAPIKeys)
	if hasARN {
		if !secretARNPattern.MatchString(arn) {
			l.fail(EnvAPIKeysSecretARN, "is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)")
		}
		return arn, ""
	}
	return "", raw
}

func (l *loader) secretARNs() []string {
	v, _ := l.get(EnvTokenSecretARN)
	var arns []string
	for i, part := range strings.Split(v, ",") {
		arn := strings.TrimSpace(part)
		if !secretARNPattern.MatchString(arn) {
			l.fail(EnvTokenSecretARN, "entry %d (%q) is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", i, arn)
			continue
		}
		arns = append(arns, arn)
	}
	return arns
}

// tokenEntry is one element of GITLAB_TOKENS.
type tokenEntry struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	URL   string `json:"url"`
	Kind  string `json:"kind"`
}

func (l *loader) tokenList() []gitpulse.Token {
	v, _ := l.get(EnvTokens)
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	var entries []tokenEntry
	if err := dec.Decode(&entries); err != nil {
		l.fail(EnvTokens, "%s", describeJSONError(err, dec.InputOffset()))
		return nil
	}
	if dec.More() {
		l.fail(EnvTokens, "unexpected data after the JSON array at offset %d", dec.InputOffset())
		return nil
	}
	if len(entries) == 0 {
		l.fail(EnvTokens, "the array is empty; give at least one {name, token, url}")
		return nil
	}
	seen := map[string]bool{}
	var out []gitpulse.Token
	for i, e := range entries {
		at := fmt.Sprintf("%s[%d]", EnvTokens, i)
		switch {
		case strings.TrimSpace(e.Name) == "":
			l.fail(at+".name", "is required")
			continue
		case seen[e.Name]:
			l.fail(at+".name", "%q is used twice; names must be unique", e.Name)
			continue
		case strings.TrimSpace(e.Token) == "":
			l.fail(at+".token", "is required")
			continue
		}
		seen[e.Name] = true
		u, err := ParseGitLabURL(e.URL)
		if err != nil {
			l.fail(at+".url", "%s", err)
			continue
		}
		kind := gitpulse.TokenKind(e.Kind)
		if kind != gitpulse.KindUnknown && kind != gitpulse.KindOAuth {
			l.fail(at+".kind", "%q is not supported; leave it out (GitLab is asked) or use \"oauth\" for an OAuth2 access token", e.Kind)
			continue
		}
		out = append(out, gitpulse.Token{
			Name: e.Name, Value: gitpulse.NewSecret(strings.TrimSpace(e.Token)), URL: u,
			Source: at, Kind: kind,
		})
	}
	return out
}

// describeJSONError turns a decoding error into a message with an offset
// and without echoing the input (which holds tokens).
func describeJSONError(err error, offset int64) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a %s (offset %d)", typ.Field, typ.Type, typ.Offset)
		}
		return fmt.Sprintf("must be a JSON array of {name, token, url} objects (offset %d)", typ.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + "; allowed: name, token, url, kind"
	default:
		return fmt.Sprintf("invalid JSON at offset %d", offset)
	}
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
