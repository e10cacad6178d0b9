package api

import (
	"net/http"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
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
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with err's status and its client-safe message; an
// error without a code becomes a 500 with a generic message.
func writeError(w http.ResponseWriter, err error) {
	code := gitpulse.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, ErrorBody{Code: code, Message: gitpulse.ErrorMessage(err)})
}
