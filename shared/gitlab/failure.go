package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// FailureKind names one way a GitLab call can fail. Each is distinct so
// that callers (health, token checks, sync) can act on it without parsing
// messages.
type FailureKind string

// Failure kinds.
const (
	FailTokenExpired      FailureKind = "token_expired"      // 401, invalid_token "Token is expired"
	FailTokenRevoked      FailureKind = "token_revoked"      // 401, invalid_token "Token was revoked"
	FailUnauthorized      FailureKind = "token_unknown"      // 401 otherwise: missing or unknown token
	FailInsufficientScope FailureKind = "insufficient_scope" // 403 insufficient_scope
	FailForbidden         FailureKind = "forbidden"          // 403: role too low
	FailNotFound          FailureKind = "not_found"          // 404
	FailRateLimited       FailureKind = "rate_limited"       // 429
	FailServer            FailureKind = "server_error"       // 5xx
	FailBadRequest        FailureKind = "bad_request"        // other 4xx
	FailTimeout           FailureKind = "timeout"            // deadline exceeded
	FailNetwork           FailureKind = "network"            // connection refused, reset, DNS
	FailToken             FailureKind = "token_unreadable"   // the token could not be read from its source
)

// Failure is a classified GitLab error. Message is safe to show: it never
// holds a token.
type Failure struct {
	Kind    FailureKind
	Status  int // HTTP status; 0 when GitLab did not answer
	Message string
	Err     error
}

func (f *Failure) Error() string { return f.Message }
func (f *Failure) Unwrap() error { return f.Err }

// Code maps the failure to a GitPulse error code.
func (f *Failure) Code() string {
	switch f.Kind {
	case FailTokenExpired, FailTokenRevoked, FailUnauthorized, FailInsufficientScope, FailForbidden:
		return gitpulse.EUNAVAILABLE // GitPulse's own credential is bad: a dependency failure, not the caller's
	case FailNotFound:
		return gitpulse.ENOTFOUND
	case FailRateLimited:
		return gitpulse.ETHROTTLED
	case FailBadRequest:
		return gitpulse.EINVALID
	default:
		return gitpulse.EUNAVAILABLE
	}
}

// Classify returns the Failure behind err, or nil when err is nil. Any error
// from a client-go call (or from API) can be passed.
func Classify(err error) *Failure {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, gl.ErrNotFound) {
		return &Failure{Kind: FailNotFound, Status: http.StatusNotFound, Message: "404 not found", Err: err}
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return classifyResponse(er.Response.StatusCode, er.Body, err)
	}
	var te *TokenError
	if errors.As(err, &te) {
		return &Failure{Kind: FailToken, Message: "token unreadable: " + gitpulse.ErrorMessage(te.Err), Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &Failure{Kind: FailTimeout, Message: "timed out waiting for GitLab", Err: err}
	}
	// retryablehttp reports exhausted retries on a status as an error
	// naming "giving up after N attempt(s)" without a response.
	return &Failure{Kind: FailNetwork, Message: "GitLab unreachable: " + networkReason(err), Err: err}
}

// TokenError reports that the token could not be read from its source
// (Secrets Manager unreachable, secret missing or malformed).
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "gitlab token: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// ClassifyResponse classifies a raw GitLab response status and body.
func ClassifyResponse(status int, body []byte) *Failure {
	if status < 400 {
		return nil
	}
	return classifyResponse(status, body, nil)
}

func classifyResponse(status int, body []byte, err error) *Failure {
	var b struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Message     any    `json:"message"`
	}
	_ = json.Unmarshal(body, &b)
	f := &Failure{Status: status, Err: err}
	switch {
	case status == http.StatusUnauthorized && b.Error == "invalid_token" && strings.Contains(b.Description, "expired"):
		f.Kind, f.Message = FailTokenExpired, "401 token expired"
	case status == http.StatusUnauthorized && b.Error == "invalid_token" && strings.Contains(b.Description, "revoked"):
		f.Kind, f.Message = FailTokenRevoked, "401 token revoked"
	case status == http.StatusUnauthorized:
		f.Kind, f.Message = FailUnauthorized, "401 token unknown to GitLab (wrong instance, deleted, or mistyped)"
	case status == http.StatusForbidden && b.Error == "insufficient_scope":
		f.Kind, f.Message = FailInsufficientScope, "403 token lacks a required scope"
	case status == http.StatusForbidden:
		f.Kind, f.Message = FailForbidden, "403 forbidden (the token's role is too low)"
	case status == http.StatusNotFound:
		f.Kind, f.Message = FailNotFound, "404 not found"
	case status == http.StatusTooManyRequests:
		f.Kind, f.Message = FailRateLimited, "429 rate limited by GitLab"
	case status >= 500:
		f.Kind, f.Message = FailServer, fmt.Sprintf("%d GitLab server error", status)
	default:
		f.Kind, f.Message = FailBadRequest, fmt.Sprintf("%d GitLab rejected the request", status)
	}
	return f
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func networkReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
