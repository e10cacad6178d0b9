package gitlab

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Fallbacker is implemented by token providers that know more than one
// token for the same GitLab identity: the staged versions of a rotated
// secret, or a primary token and its backups.
type Fallbacker interface {
	// Fallbacks returns the tokens to try, in order, after GitLab refused
	// (401) the tokens whose hashes are refused (the one the request was
	// sent with first, then every fallback refused since). It never
	// returns one of them: a label may move onto a refused token while a
	// read waits, and offering it again would hide the token that works.
	Fallbacks(ctx context.Context, refused []string) ([]gitpulse.Token, error)
	// Use makes tok the token to send until the provider's source moves on.
	Use(ctx context.Context, tok gitpulse.Token)
}

// fallback is an interceptor that keeps reads working through a rotation
// or a dead primary token: on a 401 to a GET or HEAD it asks the provider
// for other tokens, resends the request with each until one is accepted,
// and tells the provider to keep using that one. It never touches writes
// (a rotate call refused with 401 must not be repeated with another token).
// It sits outside the audit interceptor, so every attempt is audited under
// the hash of the token it actually sent.
func (c *Client) fallback(next http.RoundTripper) http.RoundTripper {
	fb, ok := c.opts.Provider.(Fallbacker)
	if !ok || c.opts.NoFallback {
		return next
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
			return resp, err
		}
		sent := SentToken(req.Header)
		if sent == "" {
			return resp, nil
		}
		refused := []string{gitpulse.NewSecret(sent).Hash()}
		// A self rotation revokes the old token a moment before the new
		// one reaches AWSPENDING: when no fallback works yet, look again a
		// few times before failing the read.
		// Waiting is worth it only while a rotation is open; a provider
		// that cannot tell is waited for as well.
		waiter, canTell := fb.(interface {
			RotationOpen(context.Context, []string) bool
		})
		for attempt := 0; attempt < fallbackRounds; attempt++ {
			if attempt > 0 {
				if canTell && !waiter.RotationOpen(req.Context(), refused) {
					return resp, nil
				}
				select {
				case <-req.Context().Done():
					return resp, nil
				case <-time.After(fallbackPause):
				}
			}
			var r2 *http.Response
			var ok bool
			if r2, refused, ok = c.tryFallbacks(req, next, fb, sent, refused); ok {
				drain(resp)
				return r2, nil
			}
		}
		return resp, nil
	})
}

// fallbackRounds and fallbackPause bound the wait for a rotation's new
// token to appear: about five seconds, and only while a rotation is open
// (the provider's RotationOpen). A self rotation's rotate call revokes the
// old token before its answer is written to AWSPENDING; on a loaded
// machine (make test: six rotations and the whole suite against one moto
// server) that write took over a second, and readers waiting one second,
// as they did at first, failed in between.
const (
	fallbackRounds = 20
	fallbackPause  = 250 * time.Millisecond
)

// tryFallbacks resends req with each fallback token until GitLab accepts
// one, and makes the provider keep it. It returns refused with the hashes
// of the candidates GitLab refused added.
func (c *Client) tryFallbacks(req *http.Request, next http.RoundTripper, fb Fallbacker, sent string, refused []string) (*http.Response, []string, bool) {
	failed := refused[0]
	candidates, ferr := fb.Fallbacks(req.Context(), refused)
	if ferr != nil {
		// Try what could be read: a readable AWSPENDING must not be
		// dropped because AWSPREVIOUS could not be read.
		c.opts.Logger.WarnContext(req.Context(), "gitlab token refused and some fallbacks could not be read",
			"token_hash", failed, "candidates", len(candidates), "error", ferr.Error())
	}
	for _, cand := range candidates {
		if cand.Value.Reveal() == sent {
			continue
		}
		retry := req.Clone(req.Context())
		setAuth(retry.Header, cand)
		r2, err := next.RoundTrip(retry)
		if err != nil {
			continue
		}
		if r2.StatusCode == http.StatusUnauthorized {
			drain(r2)
			if !slices.Contains(refused, cand.Hash()) {
				refused = append(refused, cand.Hash())
			}
			continue
		}
		fb.Use(req.Context(), cand)
		c.opts.Logger.WarnContext(req.Context(), "gitlab token refused (401); switched to a fallback token",
			"from_hash", failed, "to_token", cand.Name, "to_hash", cand.Hash(), "to_source", cand.Source)
		return r2, refused, true
	}
	return nil, refused, false
}

func drain(r *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	r.Body.Close()
}

// SentToken returns the token value carried by a request's auth header
// (PRIVATE-TOKEN or Authorization: Bearer), or "".
func SentToken(h http.Header) string {
	if v := h.Get("Private-Token"); v != "" {
		return v
	}
	if v, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		return v
	}
	return ""
}

func setAuth(h http.Header, tok gitpulse.Token) {
	h.Del("Private-Token")
	h.Del("Authorization")
	key, value := authHeader(tok)
	h.Set(key, value)
}

func authHeader(tok gitpulse.Token) (string, string) {
	if tok.Kind == gitpulse.KindOAuth {
		return "Authorization", "Bearer " + tok.Value.Reveal()
	}
	return "PRIVATE-TOKEN", tok.Value.Reveal()
}

// TokenList is a TokenProvider over configured tokens, primary first, then
// backups (GITLAB_TOKENS). After a fallback it keeps the backup for Retry,
// then tries the primary again.
type TokenList struct {
	tokens []gitpulse.Token
	retry  time.Duration
	now    func() time.Time

	mu     sync.Mutex
	active int
	since  time.Time
}

// NewTokenList returns a provider over tokens (at least one).
func NewTokenList(tokens []gitpulse.Token, retry time.Duration, now func() time.Time) *TokenList {
	return &TokenList{tokens: tokens, retry: retry, now: now}
}

// Token returns the token in use.
func (l *TokenList) Token(context.Context) (gitpulse.Token, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active != 0 && l.now().Sub(l.since) >= l.retry {
		l.active = 0
	}
	return l.tokens[l.active], nil
}

// Fallbacks returns every other configured token, in configured order.
func (l *TokenList) Fallbacks(_ context.Context, refused []string) ([]gitpulse.Token, error) {
	var out []gitpulse.Token
	for _, t := range l.tokens {
		if !slices.Contains(refused, t.Hash()) {
			out = append(out, t)
		}
	}
	return out, nil
}

// RotationOpen is false: configured tokens do not rotate, so a refused
// read is not worth retrying.
func (l *TokenList) RotationOpen(context.Context, []string) bool { return false }

// Use switches to tok.
func (l *TokenList) Use(_ context.Context, tok gitpulse.Token) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, t := range l.tokens {
		if t.Value.Equal(tok.Value) {
			l.active, l.since = i, l.now()
			return
		}
	}
}
