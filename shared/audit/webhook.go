package audit

import (
	"net/http"
	"time"

	"github.com/gitpulse/gitpulse/shared/redact"
)

// RecordWebhook records one GitLab webhook call: the hash of the secret it
// presented (of the empty string when it presented none), its answer and
// what became of it (detail, client-safe; redacted here). The secret itself
// is never recorded.
func (r *Recorder) RecordWebhook(req *http.Request, secretHash string, status int, detail string, start time.Time) {
	e := Entry{
		TokenHash:      secretHash,
		Endpoint:       Endpoint(req.URL),
		Method:         req.Method,
		ResponseStatus: status,
		UserAgent:      redact.Cut(redact.String(req.UserAgent()), userAgentLimit),
		Direction:      DirectionWebhook,
		RequestID:      requestID(req),
		Instance:       redact.Echo(req.Header.Get("X-Gitlab-Instance")),
		Detail:         redact.Cut(redact.String(detail), 256),
	}
	e.DurationMS = r.Now().Sub(start).Milliseconds()
	r.stamp(&e, start)
	r.Sink.Record(e)
}
