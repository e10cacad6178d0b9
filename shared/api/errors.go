package api

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/aws/smithy-go"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/redact"
)

// statusOf maps GitPulse error codes to HTTP statuses. It is the only place
// that does.
var statusOf = map[string]int{
	gitpulse.ECONFLICT:     http.StatusConflict,
	gitpulse.EINTERNAL:     http.StatusInternalServerError,
	gitpulse.EINVALID:      http.StatusBadRequest,
	gitpulse.ENOTFOUND:     http.StatusNotFound,
	gitpulse.EUNAUTHORIZED: http.StatusUnauthorized,
	gitpulse.EFORBIDDEN:    http.StatusForbidden,
	gitpulse.ETHROTTLED:    http.StatusTooManyRequests,
	gitpulse.EUNAVAILABLE:  http.StatusServiceUnavailable,
	gitpulse.EMETHOD:       http.StatusMethodNotAllowed,
	gitpulse.ETOOLARGE:     http.StatusRequestEntityTooLarge,
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// messageLimit bounds an error message: what it quotes was cut already,
// this is the last guard.
const messageLimit = 512

// writeError answers with err's status and its client-safe message; an
// error without a code becomes a 500 with a generic message. Every error
// body passes here, so every one is redacted here.
func writeError(w http.ResponseWriter, err error) {
	code := gitpulse.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="gitpulse"`)
	case http.StatusServiceUnavailable:
		// Every 503 says when to try again (a queue or table that is
		// missing for a moment, a dependency that did not answer).
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "5")
		}
	}
	writeJSON(w, status, ErrorBody{Code: code, Message: redact.Cut(redact.String(gitpulse.ErrorMessage(err)), messageLimit)})
}

// dependencyFailure reports whether err is an AWS service error, a
// network failure or a timeout: the request was fine, a dependency was
// not.
func dependencyFailure(err error) bool {
	var api smithy.APIError
	var netErr net.Error
	return errors.As(err, &api) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded)
}
