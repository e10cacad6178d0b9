// The GitLab token sources: GITLAB_TOKEN, GITLAB_TOKEN_FILE,
// GITLAB_TOKEN_SECRET_ARN(S), GITLAB_TOKENS, and the API keys secret.

package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

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
			// The path is not quoted: a token pasted here instead of a
			// path would end up in the log.
			l.fail(EnvTokenFile, "cannot read the file it names (a path of %d characters): %s", len(path), describeFileError(err))
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
		switch {
		case !secretARNPattern.MatchString(arn):
			l.fail(EnvTokenSecretARN, "entry %d (%d characters) is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", i, len(arn))
			continue
		case redact.Contains(arn):
			l.fail(EnvTokenSecretARN, "entry %d: the secret's name looks like a token; name the secret after its use (gitpulse/gitlab-token)", i)
			continue
		}
		arns = append(arns, arn)
	}
	return arns
}

var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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
	seen := map[string]int{}
	values := map[string]bool{}
	for _, e := range entries {
		values[strings.TrimSpace(e.Token)] = true
	}
	var out []gitpulse.Token
	for i, e := range entries {
		at := fmt.Sprintf("%s[%d]", EnvTokens, i)
		first, dup := seen[e.Name]
		// A name shows in logs, alerts and metric dimensions: it is never
		// quoted here, and one that could be a token is refused.
		switch {
		case strings.TrimSpace(e.Name) == "":
			l.fail(at+".name", "is required")
			continue
		case values[strings.TrimSpace(e.Name)] || redact.Contains(e.Name):
			l.fail(at+".name", "looks like a token; use a label such as \"primary\" or \"backup\"")
			continue
		case !tokenNamePattern.MatchString(e.Name):
			l.fail(at+".name", "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
			continue
		case dup:
			l.fail(at+".name", "is also the name of %s[%d]; names must be unique", EnvTokens, first)
			continue
		case strings.TrimSpace(e.Token) == "":
			l.fail(at+".token", "is required")
			continue
		}
		seen[e.Name] = i
		u, err := ParseGitLabURL(e.URL)
		if err != nil {
			l.fail(at+".url", "%s", err)
			continue
		}
		kind := gitpulse.TokenKind(e.Kind)
		if kind != gitpulse.KindUnknown && kind != gitpulse.KindOAuth {
			l.fail(at+".kind", "is not supported; leave it out (GitLab is asked) or use \"oauth\" for an OAuth2 access token")
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

// signIn reads the sign-in settings: all three or none, the URL https
// (or http on loopback, for local runs), the secret an ARN.
func (l *loader) signIn() (url, clientID, arn string) {
	url, hasURL := l.get(EnvSignInURL)
	clientID, hasID := l.get(EnvSignInClientID)
	arn, hasARN := l.get(EnvSignInSecretARN)
	if !hasURL && !hasID && !hasARN {
		return "", "", ""
	}
	if !hasURL || !hasID || !hasARN {
		l.fail(EnvSignInSecretARN, "signing in with GitLab needs %s, %s and %s together", EnvSignInURL, EnvSignInClientID, EnvSignInSecretARN)
		return "", "", ""
	}
	if !secretARNPattern.MatchString(arn) {
		l.fail(EnvSignInSecretARN, "is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)")
	}
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://127.0.0.1") && !strings.HasPrefix(url, "http://localhost") {
		l.fail(EnvSignInURL, "must be the GitLab instance's https URL")
	}
	return strings.TrimRight(url, "/"), clientID, arn
}
