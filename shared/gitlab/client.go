// Package gitlab is GitPulse's one way to GitLab. Every function builds its
// GitLab client here, on client-go, so that every call gets the same token
// handling (the token is fetched from its provider on every request), a
// per-attempt deadline, the configured request rate, GitLab's throttling
// headers honoured, and the interceptors later features add (audit,
// token fallback). No code path can reach GitLab around it.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// TokenProvider hands out the token to send. It is called on every request,
// so a provider can switch tokens (rotation, fallback) without the client
// being rebuilt.
type TokenProvider interface {
	Token(ctx context.Context) (gitpulse.Token, error)
}

// StaticToken is a TokenProvider for a token fixed in configuration.
type StaticToken gitpulse.Token

// Token returns the configured token.
func (s StaticToken) Token(context.Context) (gitpulse.Token, error) { return gitpulse.Token(s), nil }

// Options configure a Client. Zero values take the defaults noted.
type Options struct {
	Provider TokenProvider
	// RequestsPerSecond is the steady request rate across all callers of
	// this client (default 10); bursts up to the same number are allowed.
	RequestsPerSecond float64
	// Timeout bounds each attempt, connection to last body byte
	// (default 15s). Callers still pass their own context deadline.
	Timeout time.Duration
	// MaxRetries is how often a request is retried on 429, 5xx and
	// connection errors (default 3; -1 disables retries).
	MaxRetries int
	// MaxWait caps how long one retry waits for GitLab's Retry-After or
	// RateLimit-Reset (default 60s).
	MaxWait time.Duration
	// UserAgent identifies the function (default "gitpulse").
	UserAgent string
	// Interceptors wrap the transport, outermost first; they see every
	// attempt, retries included, with the auth header set.
	Interceptors []gl.Interceptor
	// Transport is the base transport (default a pooled http.Transport).
	Transport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NoFallback turns off the 401 fallback to other tokens of the
	// provider: for checks that must judge one token, and for writes.
	NoFallback bool
	// Logger receives token switches (names and hashes only).
	Logger *slog.Logger
}

// Client builds client-go clients for the provider's GitLab instance.
type Client struct {
	opts    Options
	limiter *Limiter

	mu      sync.Mutex
	api     *gl.Client
	baseURL string
}

// New returns a Client. It makes no network call; the token provider is
// first asked on the first request.
func New(opts Options) (*Client, error) {
	if opts.Provider == nil {
		return nil, errors.New("gitlab client: a token provider is required")
	}
	if opts.RequestsPerSecond <= 0 {
		opts.RequestsPerSecond = 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 3
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Minute
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "gitpulse"
	}
	if opts.Transport == nil {
		opts.Transport = cleanhttp.DefaultPooledTransport()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{opts: opts, limiter: NewLimiter(opts.RequestsPerSecond, opts.Now)}, nil
}

// API returns the client-go client for the provider's current GitLab
// instance. It asks the provider for the token (and so its URL), so it
// fails when no token can be read. Pass a context with a deadline to every
// call made with it (gl.WithContext).
func (c *Client) API(ctx context.Context) (*gl.Client, error) {
	tok, err := c.opts.Provider.Token(ctx)
	if err != nil {
		return nil, &TokenError{Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != nil && c.baseURL == tok.URL {
		return c.api, nil
	}
	api, err := c.build(tok.URL)
	if err != nil {
		return nil, err
	}
	c.api, c.baseURL = api, tok.URL
	return api, nil
}

// Limiter returns the client's rate limiter, shared by all its calls.
func (c *Client) Limiter() *Limiter { return c.limiter }

func (c *Client) build(baseURL string) (*gl.Client, error) {
	httpClient := &http.Client{Transport: c.opts.Transport, Timeout: c.opts.Timeout}
	retries := c.opts.MaxRetries
	if retries < 0 {
		retries = 0
	}
	options := []gl.ClientOptionFunc{
		gl.WithBaseURL(baseURL + "/api/v4"),
		gl.WithHTTPClient(httpClient),
		gl.WithUserAgent(c.opts.UserAgent),
		gl.WithCustomLimiter(c.limiter),
		gl.WithCustomRetryMax(retries),
		gl.WithCustomBackoff(c.backoff),
	}
	// Outermost: resend a refused read with a fallback token; inside it,
	// the given interceptors (audit) see every attempt and the token each
	// one sent; innermost, the limiter watches GitLab's throttling headers.
	options = append(options, gl.WithInterceptor(c.fallback))
	for _, i := range c.opts.Interceptors {
		options = append(options, gl.WithInterceptor(i))
	}
	options = append(options, gl.WithInterceptor(c.limiter.Observe))
	api, err := gl.NewAuthSourceClient(authSource{c.opts.Provider}, options...)
	if err != nil {
		return nil, fmt.Errorf("gitlab client for %s: %w", baseURL, err)
	}
	return api, nil
}

// backoff decides how long to wait before retry attemptNum: what GitLab
// asked for on a 429 or 503 (Retry-After, else RateLimit-Reset), capped at
// MaxWait; otherwise a short exponential backoff.
func (c *Client) backoff(minWait, maxWait time.Duration, attemptNum int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryDelay(resp.Header, c.opts.Now()); ok {
			return min(max(d, minWait), c.opts.MaxWait)
		}
	}
	d := minWait << attemptNum
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	return d
}

// authSource adapts a TokenProvider to client-go's AuthSource.
type authSource struct{ p TokenProvider }

func (authSource) Init(context.Context, *gl.Client) error { return nil }

func (a authSource) Header(ctx context.Context) (string, string, error) {
	tok, err := a.p.Token(ctx)
	if err != nil {
		return "", "", &TokenError{Err: err}
	}
	key, value := authHeader(tok)
	return key, value, nil
}
