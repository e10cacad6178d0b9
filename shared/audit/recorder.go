package audit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// Sink receives entries; *Writer is the production one.
type Sink interface {
	Record(Entry)
}

// Recorder turns calls into entries: outbound GitLab calls through
// Interceptor, inbound API calls through Middleware.
type Recorder struct {
	Sink      Sink
	Function  string
	Retention time.Duration // default DefaultRetention
	Now       func() time.Time
}

func (r *Recorder) stamp(e *Entry, at time.Time) {
	retention := r.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	e.Stamp(at, retention)
	e.Function = r.Function
}

func requestID(req *http.Request) string {
	if lc, ok := lambdacontext.FromContext(req.Context()); ok {
		return lc.AwsRequestID
	}
	return ""
}

// Interceptor records every attempt of a GitLab call, retries and token
// fallbacks included, keyed by the hash of the token that attempt sent.
// It never records header values.
func (r *Recorder) Interceptor(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		start := r.Now()
		resp, err := next.RoundTrip(req)
		sent := gitlab.SentToken(req.Header)
		if sent == "" {
			return resp, err // unauthenticated calls have no key to file them under
		}
		// Every token GitPulse sends passes here: from now on no log line,
		// error or audit item of this process may hold it.
		redact.Register(sent)
		e := Entry{
			TokenHash: gitpulse.NewSecret(sent).Hash(),
			Endpoint:  Endpoint(req.URL),
			Method:    req.Method,
			UserAgent: req.UserAgent(),
			Direction: DirectionGitLab,
			RequestID: requestID(req),
			Instance:  req.URL.Host,
		}
		end := r.Now()
		e.DurationMS = end.Sub(start).Milliseconds()
		if err != nil {
			e.ErrorClass = errorClass(err)
		} else {
			e.ResponseStatus = resp.StatusCode
			if v := resp.Header.Get("RateLimit-Remaining"); v != "" {
				if n, convErr := strconv.Atoi(v); convErr == nil {
					e.RateLimitRemaining = &n
				}
			}
		}
		r.stamp(&e, start)
		r.Sink.Record(e)
		return resp, err
	})
}

// Middleware records every API request that presents an API key
// (Authorization: Bearer <key>), keyed by the hash of the key, after the
// handler answered.
func (r *Recorder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		key, ok := apikeys.Bearer(req.Header.Get("Authorization"))
		if !ok {
			next.ServeHTTP(w, req)
			return
		}
		start := r.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, req)
		e := Entry{
			TokenHash:      gitpulse.NewSecret(key).Hash(),
			Endpoint:       Endpoint(req.URL),
			Method:         req.Method,
			ResponseStatus: rec.status,
			UserAgent:      redact.Cut(redact.String(req.UserAgent()), userAgentLimit),
			Direction:      DirectionAPI,
			RequestID:      requestID(req),
			Instance:       redact.Echo(req.Host),
		}
		e.DurationMS = r.Now().Sub(start).Milliseconds()
		r.stamp(&e, start)
		r.Sink.Record(e)
	})
}

// userAgentLimit bounds the client's User-Agent kept in an item.
const userAgentLimit = 256

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
