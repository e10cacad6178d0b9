package config_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/config"
)

// TestNamesListsEveryVariable keeps Names (the secrecy table's rows) in
// step with the constants config.go declares.
func TestNamesListsEveryVariable(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+Env\w+\s+= "(\w+)"`).FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(config.Names(), m[1]) {
			t.Errorf("Names() lacks %s", m[1])
		}
	}
}

// TestNoErrorQuotesAToken feeds every variable token-shaped values (a
// GitLab token, a GitPulse key, a token of a configured prefix, and a
// loaded token of no known shape), bare and inside the forms a variable
// takes (URL, path, ARN, JSON fields), and checks that no error holds one.
func TestNoErrorQuotesAToken(t *testing.T) {
	const loaded = "plainSecretValue0123456789" // loaded as GITLAB_TOKEN: no known prefix
	values := map[string]string{
		"GitLab token":     "glpat-Zq8XkLmN0pQrStUvWx12",
		"GitPulse key":     "gpk_Qw3rTy7uIoPaSdFgHjKlZxCvBnM0123456789abcdE",
		"configured token": "corp7-Aa0Bb1Cc2Dd3Ee4Ff5",
		"loaded token":     loaded,
	}
	forms := []func(v string) string{
		func(v string) string { return v },
		func(v string) string { return " " + v + " " },
		func(v string) string { return v + ",x" },
		func(v string) string { return "https://" + v + "@gitlab.example.edu" },
		func(v string) string { return "https://gitlab.example.edu/?t=" + v },
		func(v string) string { return "/run/secrets/" + v },
		func(v string) string { return "arn:aws:secretsmanager:eu-central-1:123456789012:secret:" + v },
		func(v string) string {
			return `[{"name":"` + v + `","token":"glpat-other0123456789ab","url":"https://gitlab.example.edu"}]`
		},
		func(v string) string {
			return `[{"name":"a","token":"glpat-other0123456789ab","url":"https://gitlab.example.edu","kind":"` + v + `"}]`
		},
		func(v string) string { return `[{"name":"a","token":"` + v + `","url":"` + v + `"}]` },
		func(v string) string {
			return `[{"name":"a","token":"` + v + `","url":"https://g.example.edu"},{"name":"a","token":"` + v + `"}]`
		},
		func(v string) string { return `{"keys":[{"name":"` + v + `","role":"` + v + `","hash":"` + v + `"}]}` },
	}
	base := env{config.EnvToken: loaded, config.EnvURL: "https://gitlab.example.edu", config.EnvTokenPrefixes: "corp7-", config.EnvDataTable: "gitpulse-data"}
	cases, echoes := 0, 0
	refused := map[string]int{}
	for _, name := range config.Names() {
		for what, v := range values {
			for i, form := range forms {
				e := base.with(name, form(v))
				if name == config.EnvTokenPrefixes {
					e[config.EnvTokens] = `[{"name":"a","token":"corp7-Aa0Bb1Cc2Dd3Ee4Ff5","url":"https://gitlab.example.edu"}]`
				}
				cases++
				_, err := config.Load(e.lookup, config.EnvDataTable)
				msg := ""
				if err != nil {
					msg = err.Error()
				}
				if name == config.EnvAPIKeys {
					if _, perr := apikeys.Parse(form(v)); perr != nil {
						msg += perr.Error()
					}
				}
				if msg == "" {
					continue
				}
				refused[name]++
				for _, s := range values {
					if strings.Contains(msg, s) {
						echoes++
						t.Errorf("%s = form %d of the %s: the error quotes a token: %s", name, i, what, msg)
					}
				}
			}
		}
	}
	for _, name := range config.Names() {
		if refused[name] == 0 && name != config.EnvToken {
			t.Errorf("%s: no form of a token was refused, want some (else nothing was checked)", name)
		}
	}
	t.Logf("%d variables x %d values x %d forms = %d loads, %d errors checked, %d echoes", len(config.Names()), len(values), len(forms), cases, sum(refused), echoes)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestTokenNamesRefused: a GITLAB_TOKENS name shows in logs, alerts and
// metric dimensions, so one that is, or looks like, a token is refused.
func TestTokenNamesRefused(t *testing.T) {
	for _, entries := range []string{
		`[{"name":"glpat-Zq8XkLmN0pQrStUvWx12","token":"t0123456789abcdef","url":"https://gitlab.example.edu"}]`,
		`[{"name":"a","token":"t0123456789abcdef","url":"https://gitlab.example.edu"},{"name":"t0123456789abcdef","token":"u0123456789abcdef","url":"https://gitlab.example.edu"}]`,
		`[{"name":"has space","token":"t0123456789abcdef","url":"https://gitlab.example.edu"}]`,
	} {
		msg := loadErr(t, env{config.EnvTokens: entries})
		if !strings.Contains(msg, ".name:") {
			t.Errorf("got %q, want an error naming the entry's name field", msg)
		}
		if strings.Contains(msg, "t0123456789abcdef") || strings.Contains(msg, "glpat-Zq8") {
			t.Errorf("got %q, want no token quoted", msg)
		}
	}
}

// TestRanges: every number and duration is bounded, and the message says
// the bounds.
func TestRanges(t *testing.T) {
	cases := []struct{ name, value, want string }{
		{config.EnvRequestsPerSecond, "1e-9", "from 0.0167 (one request a minute) to 10000"},
		{config.EnvRequestsPerSecond, "1e9", "to 10000 requests per second"},
		{config.EnvRequestsPerSecond, "NaN", "is not a rate"},
		{config.EnvGitLabTimeout, "0", "from 1s to 5m"},
		{config.EnvGitLabTimeout, "0s", "from 1s to 5m"},
		{config.EnvGitLabTimeout, "10m", "from 1s to 5m"},
		{config.EnvTokenCacheTTL, "2h", "from 0s to 1h"},
		{config.EnvHealthCacheTTL, "-1s", "from 0s to 1h"},
		{config.EnvAlertRepeat, "1s", "from 1m to 2160h (90 days)"},
		{config.EnvAlertRepeat, "1000000h", "from 1m to 2160h (90 days)"},
		{config.EnvInactiveDays, "0", "from 1 to 365"},
	}
	for _, tc := range cases {
		msg := loadErr(t, minimal.with(tc.name, tc.value))
		if !strings.Contains(msg, tc.name+":") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s=%s: got %q, want the variable and %q", tc.name, tc.value, msg, tc.want)
		}
	}
	cfg := mustLoad(t, minimal.with(config.EnvRequestsPerSecond, "0.0167", config.EnvGitLabTimeout, "5m"))
	if cfg.RequestsPerSecond != 0.0167 || cfg.GitLabTimeout.Minutes() != 5 {
		t.Errorf("got %v and %v, want the bounds themselves accepted", cfg.RequestsPerSecond, cfg.GitLabTimeout)
	}
}
