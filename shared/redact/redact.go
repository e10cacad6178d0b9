// Package redact is the one place that decides what of a request, a
// configuration value or any other outside text may be echoed back,
// logged, audited or put in a metric. It replaces every value shaped like
// a credential, and every value equal to a secret the process loaded, by
// Marker, and it cuts echoed input short.
//
// Shapes: a GitPulse API key (gpk_...), and a GitLab token under any of
// GitLab's default prefixes (glpat-, gloas-, gldt-, glrt-, ..., the list in
// GitLab's "Token prefixes" documentation, doc/security/tokens/index.md) or
// a prefix the operator configured (AddPrefix; an instance may change
// glpat-). A token GitLab issued under a prefix nobody configured is still
// caught once the process loaded it (Register).
//
// The package keeps its prefixes and secrets process-wide: every part of a
// function (logger, API, audit, configuration) consults the same list, so
// no path can forget one.
package redact

import (
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Marker replaces what may not be shown.
const Marker = "[redacted]"

// EchoLimit is how many bytes of client input an error message quotes.
const EchoLimit = 64

// defaultPrefixes are GitLab's token prefixes (GitLab docs, "Token
// prefixes") and GitPulse's API key prefix.
var defaultPrefixes = []string{
	"gpk_",
	"glpat-", "gloas-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-",
	"glimt-", "glagent-", "glsoat-", "glffct-", "glwt-", "gltst-", "glsess-",
}

// minSecret is the shortest registered secret: shorter values would
// redact ordinary words.
const minSecret = 8

// maxSecrets bounds the registry (a warm function loads a few tokens and
// their rotated successors, never thousands).
const maxSecrets = 256

var (
	mu      sync.RWMutex
	pattern = compile(defaultPrefixes)
	extra   []string
	secrets []string
)

func compile(prefixes []string) *regexp.Regexp {
	quoted := make([]string, len(prefixes))
	for i, p := range prefixes {
		quoted[i] = regexp.QuoteMeta(p)
	}
	// A token's body: base64url and the "." of GitLab's routable tokens;
	// at least 4 characters, so that "glpat-" in a sentence stays.
	return regexp.MustCompile(`(?:` + strings.Join(quoted, "|") + `)[A-Za-z0-9_.\-]{4,}`)
}

// AddPrefix makes values starting with prefix (a configured GitLab token
// prefix such as "mycorp-pat-") credential-shaped. Prefixes shorter than 3
// characters are ignored.
func AddPrefix(prefixes ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, p := range prefixes {
		if len(p) < 3 || slices.Contains(extra, p) || slices.Contains(defaultPrefixes, p) {
			continue
		}
		extra = append(extra, p)
	}
	pattern = compile(append(slices.Clone(defaultPrefixes), extra...))
}

// Register adds a secret the process loaded (a token, a webhook secret):
// from now on any text holding it is redacted. Values shorter than 8
// bytes are ignored; it is safe to register a value twice.
func Register(values ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, v := range values {
		if len(v) < minSecret || slices.Contains(secrets, v) {
			continue
		}
		if len(secrets) >= maxSecrets {
			secrets = secrets[1:]
		}
		secrets = append(secrets, v)
	}
}

// String returns s with every credential-shaped value and every
// registered secret replaced by Marker. It does not shorten s.
func String(s string) string {
	if s == "" {
		return s
	}
	mu.RLock()
	defer mu.RUnlock()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Marker)
		}
	}
	return pattern.ReplaceAllString(s, Marker)
}

// Contains reports whether s holds anything String would replace.
func Contains(s string) bool { return String(s) != s }

// Echo is s as an error message may quote it: redacted, and cut to
// EchoLimit bytes (on a rune boundary) with "…" marking the cut.
func Echo(s string) string { return Cut(String(s), EchoLimit) }

// Cut shortens s to at most n bytes on a rune boundary, adding "…" when it
// cut anything.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// PathLimit is how many bytes of a request path the audit and the request
// log keep.
const PathLimit = 256

// URL returns u's path and query as they may be stored: every path
// segment, query name and query value redacted (after unescaping, so an
// escaped credential is caught too), re-escaped, and cut to PathLimit.
// Parameters whose name says they hold a credential (SecretName) are left
// out.
func URL(u *url.URL) string {
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(String(s))
	}
	out := strings.Join(segs, "/")
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			out += "?" + Marker // an unparseable query is not stored
		} else {
			safe := url.Values{}
			for name, values := range q {
				for _, v := range values {
					if SecretName(name) {
						continue // its value is a credential whatever its shape
					}
					safe.Add(String(name), String(v))
				}
			}
			if len(safe) > 0 {
				out += "?" + safe.Encode()
			}
		}
	}
	// The marker stays readable: the result is a record, not a link.
	return Cut(strings.ReplaceAll(out, url.PathEscape(Marker), Marker), PathLimit)
}

// secretName matches parameter names that carry a credential whatever its
// shape (private_token, access_token, client_secret, api_key, auth, sig),
// as whole words: "author" and "keyset" are ordinary filters.
var secretName = regexp.MustCompile(`(?i)(^|[_.\-])(token|secret|password|passwd|key|auth|signature|sig|credential|credentials)($|[_.\-])`)

// SecretName reports whether a query parameter or header name says its
// value is a credential; such values are never stored. A name ending in
// "_hash" (token_hash, the audit filter) holds a hash, not a credential.
func SecretName(name string) bool {
	return secretName.MatchString(name) && !strings.HasSuffix(strings.ToLower(name), "_hash")
}

// Path is u's path, redacted and cut to PathLimit, for a log line.
func Path(u *url.URL) string { return Cut(String(u.Path), PathLimit) }

// Writer returns w with every write redacted. Each Write must carry whole
// records (a log line, a metrics line), as slog's handlers and the metrics
// emitter write them, so that no value is split between two writes.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (w writer) Write(p []byte) (int, error) {
	s := String(string(p))
	if _, err := io.WriteString(w.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
