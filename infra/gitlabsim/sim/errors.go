package sim

import (
	"net/http"
	"strings"
)

// GitLab's API helpers (not_found!, bad_request!, unauthorized!, ...) write
// {"message":"<status> <text>"}; Grape's parameter validation writes
// {"error":"<problems>"}. These build the same answers.

var (
	// errForbidden is forbidden! (authenticated_as_admin! for non-admins).
	errForbidden = messageError(http.StatusForbidden, "403 Forbidden")
	// errNotFound404 is not_found! without a resource.
	errNotFound404 = messageError(http.StatusNotFound, "404 Not Found")
	// errRecordNotFound is GitLab's answer to ActiveRecord::RecordNotFound,
	// with its lower-case "found".
	errRecordNotFound = messageError(http.StatusNotFound, "404 Not found")
	// errNotAllowed is not_allowed!.
	errNotAllowed = messageError(http.StatusMethodNotAllowed, "405 Method Not Allowed")
)

func messageError(status int, message string) *apiError {
	return &apiError{status: status, body: messageBody{message}}
}

// notFound is not_found!(what): "404 <what> Not Found".
func notFound(what string) *apiError {
	return messageError(http.StatusNotFound, "404 "+what+" Not Found")
}

// badRequest is bad_request!(reason): "400 Bad request - <reason>", or
// "400 Bad request" without a reason.
func badRequest(reason string) *apiError {
	if reason == "" {
		return messageError(http.StatusBadRequest, "400 Bad request")
	}
	return messageError(http.StatusBadRequest, "400 Bad request - "+reason)
}

// invalidParams is Grape's validation failure: 400 with the problems joined
// by ", " ("name is missing, scopes does not have a valid value").
func invalidParams(problems []string) *apiError {
	return &apiError{status: http.StatusBadRequest, body: errorBody{strings.Join(problems, ", ")}}
}
