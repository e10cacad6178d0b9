package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Values that must never appear in an error.
const (
	token    = "glpat-TopSecretValue123456"
	token2   = "glpat-SecondSecretValue789"
	password = "hunter2pass"
)

const (
	arn1 = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-token-AbC123"
	arn2 = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/backup-XyZ789"
)

// env is a map-backed lookup for Load.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// with returns a copy of e with the given name/value pairs set.
func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// minimal is the smallest valid environment.
var minimal = env{config.EnvToken: token, config.EnvURL: "https://gitlab.example.edu"}

// mustLoad loads e and fails the test on an error.
func mustLoad(t *testing.T, e env, required ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(e.lookup, required...)
	if err != nil {
		t.Fatalf("Load: got error %q, want none", err)
	}
	return cfg
}

// loadErr loads e, fails the test unless it fails, and checks that the error
// holds no secret value.
func loadErr(t *testing.T, e env, required ...string) string {
	t.Helper()
	_, err := config.Load(e.lookup, required...)
	if err == nil {
		t.Fatalf("Load: got no error, want one")
	}
	msg := err.Error()
	for _, secret := range []string{token, token2, password} {
		if strings.Contains(msg, secret) {
			t.Errorf("Load error: got %q, want it without the secret %q", msg, secret)
		}
	}
	return msg
}

func tokensJSON(entries ...string) string { return "[" + strings.Join(entries, ",") + "]" }

func TestLoadDefaults(t *testing.T) {
	cfg := mustLoad(t, minimal)
	if cfg.Environment != "dev" {
		t.Errorf("Environment: got %q, want %q", cfg.Environment, "dev")
	}
	if cfg.RequestsPerSecond != 10 {
		t.Errorf("RequestsPerSecond: got %v, want 10", cfg.RequestsPerSecond)
	}
	if cfg.GitLabTimeout != 15*time.Second {
		t.Errorf("GitLabTimeout: got %v, want 15s", cfg.GitLabTimeout)
	}
	if cfg.TokenCacheTTL != time.Minute {
		t.Errorf("TokenCacheTTL: got %v, want 1m", cfg.TokenCacheTTL)
	}
	if cfg.HealthCacheTTL != 30*time.Second {
		t.Errorf("HealthCacheTTL: got %v, want 30s", cfg.HealthCacheTTL)
	}
	if cfg.DataTable != "" {
		t.Errorf("DataTable: got %q, want empty", cfg.DataTable)
	}
	if cfg.AuditRetention != 90*24*time.Hour {
		t.Errorf("AuditRetention: got %v, want 90 days", cfg.AuditRetention)
	}
}

func TestLoadValues(t *testing.T) {
	cfg := mustLoad(t, minimal.with(
		config.EnvEnvironment, " prod-2 ",
		config.EnvRequestsPerSecond, "2.5",
		config.EnvGitLabTimeout, "3s",
		config.EnvTokenCacheTTL, "5m",
		config.EnvHealthCacheTTL, "0s",
		config.EnvDataTable, "gitpulse-prod-data",
	), config.EnvDataTable)
	if cfg.Environment != "prod-2" {
		t.Errorf("Environment: got %q, want %q", cfg.Environment, "prod-2")
	}
	if cfg.RequestsPerSecond != 2.5 {
		t.Errorf("RequestsPerSecond: got %v, want 2.5", cfg.RequestsPerSecond)
	}
	if cfg.GitLabTimeout != 3*time.Second {
		t.Errorf("GitLabTimeout: got %v, want 3s", cfg.GitLabTimeout)
	}
	if cfg.TokenCacheTTL != 5*time.Minute {
		t.Errorf("TokenCacheTTL: got %v, want 5m", cfg.TokenCacheTTL)
	}
	if cfg.HealthCacheTTL != 0 {
		t.Errorf("HealthCacheTTL: got %v, want 0s", cfg.HealthCacheTTL)
	}
	if cfg.DataTable != "gitpulse-prod-data" {
		t.Errorf("DataTable: got %q, want %q", cfg.DataTable, "gitpulse-prod-data")
	}
}

// wantToken is the part of a static token a test checks.
type wantToken struct {
	name, value, url, source string
	kind                     gitpulse.TokenKind
}

func TestLoadTokenSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := tokensJSON(
		`{"name":"primary","token":"`+token+`","url":"https://gitlab.example.edu/"}`,
		`{"name":"oauth","token":"`+token2+`","url":"http://127.0.0.1:8080","kind":"oauth"}`,
	)
	tests := []struct {
		name        string
		env         env
		wantARNs    []string
		wantStatic  []wantToken
		wantIgnored []string
	}{
		{
			name:     "secret ARN",
			env:      env{config.EnvTokenSecretARN: arn1},
			wantARNs: []string{arn1},
		},
		{
			name:     "several secret ARNs",
			env:      env{config.EnvTokenSecretARN: " " + arn1 + " , " + arn2},
			wantARNs: []string{arn1, arn2},
		},
		{
			name: "secret ARN wins over every other source",
			env: env{
				config.EnvTokenSecretARN: arn1, config.EnvTokens: list, config.EnvTokenFile: file,
				config.EnvToken: token, config.EnvURL: "https://gitlab.example.edu",
			},
			wantARNs:    []string{arn1},
			wantIgnored: []string{config.EnvTokens, config.EnvTokenFile, config.EnvToken},
		},
		{
			name: "GITLAB_TOKENS",
			env:  env{config.EnvTokens: list},
			wantStatic: []wantToken{
				{"primary", token, "https://gitlab.example.edu", "GITLAB_TOKENS[0]", gitpulse.KindUnknown},
				{"oauth", token2, "http://127.0.0.1:8080", "GITLAB_TOKENS[1]", gitpulse.KindOAuth},
			},
		},
		{
			name: "GITLAB_TOKENS wins over the file and the single token",
			env: env{
				config.EnvTokens: list, config.EnvTokenFile: file,
				config.EnvToken: token, config.EnvURL: "https://gitlab.example.edu",
			},
			wantStatic: []wantToken{
				{"primary", token, "https://gitlab.example.edu", "GITLAB_TOKENS[0]", gitpulse.KindUnknown},
				{"oauth", token2, "http://127.0.0.1:8080", "GITLAB_TOKENS[1]", gitpulse.KindOAuth},
			},
			wantIgnored: []string{config.EnvTokenFile, config.EnvToken},
		},
		{
			name: "GITLAB_TOKEN_FILE with a trailing newline",
			env:  env{config.EnvTokenFile: file, config.EnvURL: "https://gitlab.example.edu"},
			wantStatic: []wantToken{
				{"primary", token2, "https://gitlab.example.edu", "file:" + file, gitpulse.KindUnknown},
			},
		},
		{
			name: "GITLAB_TOKEN_FILE wins over GITLAB_TOKEN",
			env:  env{config.EnvTokenFile: file, config.EnvToken: token, config.EnvURL: "https://gitlab.example.edu"},
			wantStatic: []wantToken{
				{"primary", token2, "https://gitlab.example.edu", "file:" + file, gitpulse.KindUnknown},
			},
			wantIgnored: []string{config.EnvToken},
		},
		{
			name: "GITLAB_TOKEN",
			env:  env{config.EnvToken: " " + token + "\n", config.EnvURL: "http://localhost:3000/"},
			wantStatic: []wantToken{
				{"primary", token, "http://localhost:3000", "env:GITLAB_TOKEN", gitpulse.KindUnknown},
			},
		},
		{
			name: "blank variables count as unset",
			env: env{
				config.EnvTokenSecretARN: "  ", config.EnvTokens: "", config.EnvTokenFile: "\t",
				config.EnvToken: token, config.EnvURL: "https://gitlab.example.edu",
			},
			wantStatic: []wantToken{
				{"primary", token, "https://gitlab.example.edu", "env:GITLAB_TOKEN", gitpulse.KindUnknown},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := mustLoad(t, tt.env).Tokens
			if !slices.Equal(src.SecretARNs, tt.wantARNs) {
				t.Errorf("SecretARNs: got %q, want %q", src.SecretARNs, tt.wantARNs)
			}
			if !slices.Equal(src.Ignored, tt.wantIgnored) {
				t.Errorf("Ignored: got %q, want %q", src.Ignored, tt.wantIgnored)
			}
			var got []wantToken
			for _, tok := range src.Static {
				got = append(got, wantToken{tok.Name, tok.Value.Reveal(), tok.URL, tok.Source, tok.Kind})
			}
			if !slices.Equal(got, tt.wantStatic) {
				t.Errorf("Static: got %+v, want %+v", got, tt.wantStatic)
			}
			if len(src.SecretARNs) > 0 && len(src.Static) > 0 {
				t.Errorf("got both SecretARNs and Static, want exactly one source")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-token")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := `{"name":"primary","token":"` + token + `","url":"https://gitlab.example.edu"}`
	tests := []struct {
		name     string
		env      env
		required []string
		want     []string // substrings of the error
	}{
		{
			name: "no token source",
			env:  env{config.EnvURL: "https://gitlab.example.edu"},
			want: []string{"no GitLab token configured", config.EnvTokenSecretARN, config.EnvToken},
		},
		{
			name: "GITLAB_TOKENS not JSON",
			env:  env{config.EnvTokens: "not json " + token},
			want: []string{"GITLAB_TOKENS: invalid JSON at offset"},
		},
		{
			name: "GITLAB_TOKENS truncated",
			env:  env{config.EnvTokens: `[{"name":"primary","token":"` + token},
			want: []string{"GITLAB_TOKENS: invalid JSON at offset"},
		},
		{
			name: "GITLAB_TOKENS an object, not an array",
			env:  env{config.EnvTokens: good},
			want: []string{"GITLAB_TOKENS: must be a JSON array of {name, token, url} objects"},
		},
		{
			name: "GITLAB_TOKENS token of the wrong type",
			env:  env{config.EnvTokens: `[{"name":"primary","token":12345,"url":"https://gitlab.example.edu"}]`},
			want: []string{`GITLAB_TOKENS: field "token" must be a string`},
		},
		{
			name: "GITLAB_TOKENS name of the wrong type",
			env:  env{config.EnvTokens: `[{"name":["` + token + `"],"token":"` + token2 + `","url":"https://gitlab.example.edu"}]`},
			want: []string{`GITLAB_TOKENS: field "name" must be a string`},
		},
		{
			name: "GITLAB_TOKENS unknown field",
			env:  env{config.EnvTokens: `[{"name":"primary","tokn":"` + token + `","url":"https://gitlab.example.edu"}]`},
			want: []string{`GITLAB_TOKENS: unknown field "tokn"`, "allowed: name, token, url, kind"},
		},
		{
			name: "GITLAB_TOKENS empty array",
			env:  env{config.EnvTokens: "[]", config.EnvToken: token},
			want: []string{"GITLAB_TOKENS: the array is empty"},
		},
		{
			name: "GITLAB_TOKENS data after the array",
			env:  env{config.EnvTokens: tokensJSON(good) + ` {"token":"` + token2 + `"}`},
			want: []string{"GITLAB_TOKENS: unexpected data after the JSON array"},
		},
		{
			name: "GITLAB_TOKENS duplicate names",
			env: env{config.EnvTokens: tokensJSON(good,
				`{"name":"primary","token":"`+token2+`","url":"https://gitlab.example.edu"}`)},
			want: []string{`GITLAB_TOKENS[1].name: is also the name of GITLAB_TOKENS[0]`},
		},
		{
			name: "GITLAB_TOKENS missing name",
			env:  env{config.EnvTokens: tokensJSON(`{"token":"` + token + `","url":"https://gitlab.example.edu"}`)},
			want: []string{"GITLAB_TOKENS[0].name: is required"},
		},
		{
			name: "GITLAB_TOKENS missing token",
			env:  env{config.EnvTokens: tokensJSON(good, `{"name":"backup","token":"  ","url":"https://gitlab.example.edu"}`)},
			want: []string{"GITLAB_TOKENS[1].token: is required"},
		},
		{
			name: "GITLAB_TOKENS missing url",
			env:  env{config.EnvTokens: tokensJSON(good, `{"name":"backup","token":"`+token2+`"}`)},
			want: []string{"GITLAB_TOKENS[1].url: is required"},
		},
		{
			name: "GITLAB_TOKENS http url",
			env:  env{config.EnvTokens: tokensJSON(good, `{"name":"backup","token":"`+token2+`","url":"http://gitlab.example.edu"}`)},
			want: []string{"GITLAB_TOKENS[1].url:", "must use https"},
		},
		{
			name: "GITLAB_TOKENS url with credentials",
			env: env{config.EnvTokens: tokensJSON(
				`{"name":"primary","token":"` + token + `","url":"https://oauth2:` + password + `@gitlab.example.edu"}`)},
			want: []string{"GITLAB_TOKENS[0].url: must not contain credentials"},
		},
		{
			name: "GITLAB_TOKENS url holding the token as credentials",
			env: env{config.EnvTokens: tokensJSON(
				`{"name":"primary","token":"` + token + `","url":"https://oauth2:` + token + `@gitlab.example.edu"}`)},
			want: []string{"GITLAB_TOKENS[0].url: must not contain credentials"},
		},
		{
			name: "GITLAB_TOKENS unsupported kind",
			env:  env{config.EnvTokens: tokensJSON(`{"name":"primary","token":"` + token + `","url":"https://gitlab.example.edu","kind":"personal"}`)},
			want: []string{`GITLAB_TOKENS[0].kind: is not supported`},
		},
		{
			name: "GITLAB_TOKENS reports every bad entry",
			env: env{config.EnvTokens: tokensJSON(
				`{"name":"a","token":"`+token+`","url":"ftp://gitlab.example.edu"}`,
				`{"name":"b","url":"https://gitlab.example.edu"}`,
				`{"name":"c","token":"`+token2+`","url":"https://gitlab.example.edu?private_token=`+token2+`"}`,
			)},
			want: []string{"GITLAB_TOKENS[0].url:", "GITLAB_TOKENS[1].token: is required", "GITLAB_TOKENS[2].url:", "must not have a query"},
		},
		{
			name: "GITLAB_TOKEN without GITLAB_URL",
			env:  env{config.EnvToken: token},
			want: []string{"GITLAB_URL: is required with GITLAB_TOKEN"},
		},
		{
			name: "GITLAB_TOKEN with whitespace inside",
			env:  env{config.EnvToken: token + " " + token2, config.EnvURL: "https://gitlab.example.edu"},
			want: []string{"GITLAB_TOKEN: the token contains whitespace"},
		},
		{
			name: "GITLAB_URL plain http to a remote host",
			env:  env{config.EnvToken: token, config.EnvURL: "http://gitlab.example.edu"},
			want: []string{"GITLAB_URL:", "http://gitlab.example.edu", "must use https"},
		},
		{
			name: "GITLAB_URL with credentials",
			env:  env{config.EnvToken: token, config.EnvURL: "https://root:" + password + "@gitlab.example.edu"},
			want: []string{"GITLAB_URL: must not contain credentials"},
		},
		{
			name: "GITLAB_URL with credentials that does not parse",
			env:  env{config.EnvToken: token, config.EnvURL: "https://root:" + password + "@gitlab.example.edu:port"},
			want: []string{"GITLAB_URL:", "is not an http(s) URL"},
		},
		{
			name: "GITLAB_URL not a URL",
			env:  env{config.EnvToken: token, config.EnvURL: "gitlab.example.edu"},
			want: []string{"GITLAB_URL:", "is not an http(s) URL such as https:"},
		},
		{
			name: "GITLAB_TOKEN_FILE missing",
			env:  env{config.EnvTokenFile: missing, config.EnvToken: token, config.EnvURL: "https://gitlab.example.edu"},
			want: []string{"GITLAB_TOKEN_FILE: cannot read the file it names", "no such file"},
		},
		{
			name: "GITLAB_TOKEN_FILE empty",
			env:  env{config.EnvTokenFile: empty, config.EnvURL: "https://gitlab.example.edu"},
			want: []string{"GITLAB_TOKEN_FILE: the token is empty"},
		},
		{
			name: "GITLAB_TOKEN_FILE without GITLAB_URL",
			env:  env{config.EnvTokenFile: empty + "-x"},
			want: []string{"GITLAB_TOKEN_FILE: cannot read"},
		},
		{
			name: "secret ARN malformed",
			env:  env{config.EnvTokenSecretARN: arn1 + ",gitpulse/gitlab-token", config.EnvToken: token},
			want: []string{`GITLAB_TOKEN_SECRET_ARN: entry 1 (21 characters) is not a Secrets Manager secret ARN`},
		},
		{
			name: "secret ARN of another service",
			env:  env{config.EnvTokenSecretARN: "arn:aws:ssm:eu-central-1:123456789012:parameter/gitlab"},
			want: []string{"GITLAB_TOKEN_SECRET_ARN: entry 0"},
		},
		{
			name: "GITLAB_TIMEOUT without a unit",
			env:  minimal.with(config.EnvGitLabTimeout, "15"),
			want: []string{`GITLAB_TIMEOUT: "15" is not a duration`},
		},
		{
			name: "TOKEN_CACHE_TTL negative",
			env:  minimal.with(config.EnvTokenCacheTTL, "-1m"),
			want: []string{`TOKEN_CACHE_TTL: "-1m" is not a duration`},
		},
		{
			name: "HEALTH_CACHE_TTL words",
			env:  minimal.with(config.EnvHealthCacheTTL, "thirty seconds"),
			want: []string{`HEALTH_CACHE_TTL: "thirty seconds" is not a duration`},
		},
		{
			name: "GITLAB_REQUESTS_PER_SECOND zero",
			env:  minimal.with(config.EnvRequestsPerSecond, "0"),
			want: []string{`GITLAB_REQUESTS_PER_SECOND: "0" is not a rate from 0.0167 (one request a minute) to 10000`},
		},
		{
			name: "GITLAB_REQUESTS_PER_SECOND negative",
			env:  minimal.with(config.EnvRequestsPerSecond, "-5"),
			want: []string{`GITLAB_REQUESTS_PER_SECOND: "-5" is not a rate from 0.0167 (one request a minute) to 10000`},
		},
		{
			name: "GITLAB_REQUESTS_PER_SECOND not a number",
			env:  minimal.with(config.EnvRequestsPerSecond, "ten"),
			want: []string{`GITLAB_REQUESTS_PER_SECOND: "ten" is not a rate from 0.0167 (one request a minute) to 10000`},
		},
		{
			name: "ENVIRONMENT upper case",
			env:  minimal.with(config.EnvEnvironment, "Prod"),
			want: []string{`ENVIRONMENT: "Prod" is not a valid name`},
		},
		{
			name: "ENVIRONMENT starting with a digit",
			env:  minimal.with(config.EnvEnvironment, "1dev"),
			want: []string{`ENVIRONMENT: "1dev" is not a valid name`},
		},
		{
			name: "DATA_TABLE invalid",
			env:  minimal.with(config.EnvDataTable, "my table"),
			want: []string{`DATA_TABLE: "my table" is not a valid DynamoDB table name`},
		},
		{
			name: "AUDIT_RETENTION_DAYS zero",
			env:  minimal.with(config.EnvAuditRetention, "0"),
			want: []string{`AUDIT_RETENTION_DAYS: "0" is not a whole number from 1 to 3650`},
		},
		{
			name: "AUDIT_RETENTION_DAYS a duration",
			env:  minimal.with(config.EnvAuditRetention, "90d"),
			want: []string{`AUDIT_RETENTION_DAYS: "90d" is not a whole number from 1 to 3650`},
		},
		{
			name:     "AUDIT_TABLE required and missing",
			env:      minimal,
			required: []string{config.EnvAuditTable},
			want:     []string{"AUDIT_TABLE: is required"},
		},
		{
			name:     "DATA_TABLE required and missing",
			env:      minimal,
			required: []string{config.EnvDataTable},
			want:     []string{"DATA_TABLE: is required"},
		},
		{
			name:     "DATA_TABLE required and blank",
			env:      minimal.with(config.EnvDataTable, "  "),
			required: []string{config.EnvDataTable},
			want:     []string{"DATA_TABLE: is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := loadErr(t, tt.env, tt.required...)
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("Load error: got %q, want it to contain %q", msg, want)
				}
			}
		})
	}
}

// TestLoadErrorsNeverEchoMisplacedSecrets covers a secret put into the
// wrong variable or field: the error must still not repeat it.
func TestLoadErrorsNeverEchoMisplacedSecrets(t *testing.T) {
	tests := []struct {
		name string
		env  env
	}{
		{
			name: "GITLAB_URL holding the token",
			env:  env{config.EnvToken: token, config.EnvURL: token},
		},
		{
			name: "GITLAB_TOKENS token and url swapped",
			env: env{config.EnvTokens: tokensJSON(
				`{"name":"primary","token":"https://gitlab.example.edu","url":"` + token + `"}`)},
		},
		{
			name: "GITLAB_URL with an @ in the password and a bad port",
			env:  env{config.EnvToken: token, config.EnvURL: "https://root:abc@" + password + "@gitlab.example.edu:port"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loadErr(t, tt.env)
		})
	}
}

func TestLoadReportsAllErrorsTogether(t *testing.T) {
	e := env{
		config.EnvEnvironment:       "PROD",
		config.EnvGitLabTimeout:     "soon",
		config.EnvRequestsPerSecond: "0",
		config.EnvTokens:            tokensJSON(`{"name":"primary","token":"` + token + `"}`),
	}
	msg := loadErr(t, e, config.EnvDataTable)
	want := []string{
		"ENVIRONMENT:", "GITLAB_TIMEOUT:", "GITLAB_REQUESTS_PER_SECOND:",
		"GITLAB_TOKENS[0].url: is required", "DATA_TABLE: is required",
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("Load error: got %q, want it to contain %q", msg, w)
		}
	}
	if got := len(strings.Split(msg, "\n")); got != len(want) {
		t.Errorf("Load error: got %d lines, want %d (one per problem): %q", got, len(want), msg)
	}
}

func TestLoadRejectsNonFiniteRate(t *testing.T) {
	for _, v := range []string{"NaN", "Inf", "+Inf"} {
		t.Run(v, func(t *testing.T) {
			msg := loadErr(t, minimal.with(config.EnvRequestsPerSecond, v))
			if !strings.Contains(msg, "GITLAB_REQUESTS_PER_SECOND") {
				t.Errorf("Load error: got %q, want it to name GITLAB_REQUESTS_PER_SECOND", msg)
			}
		})
	}
}

func TestLoadAuditRetention(t *testing.T) {
	tests := []struct {
		days string
		want time.Duration // 0: any positive retention
	}{
		{days: "1", want: 24 * time.Hour},
		{days: " 30 ", want: 30 * 24 * time.Hour},
		{days: "365", want: 365 * 24 * time.Hour},
		{
			days: "200000", // want: an error naming the variable, or a positive retention
		},
	}
	for _, tt := range tests {
		t.Run(tt.days, func(t *testing.T) {
			cfg, err := config.Load(minimal.with(config.EnvAuditRetention, tt.days).lookup)
			if err != nil {
				// A clear error is an acceptable answer to an absurd value.
				if !strings.Contains(err.Error(), config.EnvAuditRetention) {
					t.Errorf("Load error: got %q, want it to name %s", err, config.EnvAuditRetention)
				}
				return
			}
			switch {
			case cfg.AuditRetention <= 0:
				t.Errorf("AuditRetention: got %v, want a positive retention", cfg.AuditRetention)
			case tt.want != 0 && cfg.AuditRetention != tt.want:
				t.Errorf("AuditRetention: got %v, want %v", cfg.AuditRetention, tt.want)
			}
		})
	}
}

func TestParseGitLabURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    string
		wantErr string // substring; empty for success
	}{
		{raw: "https://gitlab.example.edu", want: "https://gitlab.example.edu"},
		{raw: " https://gitlab.example.edu/ ", want: "https://gitlab.example.edu"},
		{raw: "https://example.edu/gitlab/", want: "https://example.edu/gitlab"},
		{raw: "https://gitlab.example.edu:8443", want: "https://gitlab.example.edu:8443"},
		{raw: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{raw: "http://localhost:3000/", want: "http://localhost:3000"},
		{raw: "http://[::1]:8080", want: "http://[::1]:8080"},
		{raw: "http://gitlab.example.edu", wantErr: "must use https"},
		{raw: "http://localhost.example.edu", wantErr: "must use https"},
		{raw: "http://10.0.0.1", wantErr: "must use https"},
		{raw: "ftp://gitlab.example.edu", wantErr: "is not an http(s) URL"},
		{raw: "gitlab.example.edu", wantErr: "is not an http(s) URL"},
		{raw: "https://", wantErr: "is not an http(s) URL"},
		{raw: "", wantErr: "is required"},
		{raw: "https://user:" + password + "@gitlab.example.edu", wantErr: "must not contain credentials"},
		{raw: "http://user:" + password + "@127.0.0.1", wantErr: "must not contain credentials"},
		{raw: "https://user@gitlab.example.edu", wantErr: "must not contain credentials"},
		{raw: "https://user:" + password + "@gitlab.example.edu:x", wantErr: "is not an http(s) URL"},
		{raw: "https://gitlab.example.edu/?private_token=" + token, wantErr: "must not have a query or fragment"},
		{raw: "https://gitlab.example.edu/#" + token, wantErr: "must not have a query or fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := config.ParseGitLabURL(tt.raw)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseGitLabURL(%q): got error %q, want %q", tt.raw, err, tt.want)
				}
				if got != tt.want {
					t.Errorf("ParseGitLabURL(%q): got %q, want %q", tt.raw, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseGitLabURL(%q): got %q, want an error containing %q", tt.raw, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseGitLabURL(%q): got error %q, want it to contain %q", tt.raw, err, tt.wantErr)
			}
			for _, secret := range []string{password, token} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("ParseGitLabURL(%q): got error %q, want it without %q", tt.raw, err, secret)
				}
			}
		})
	}
}
