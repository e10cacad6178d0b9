package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/store"
)

// Page sizes.
const (
	defaultLimit = 50
	maxLimit     = 100
)

// pathID is the positive integer path parameter name.
func pathID(r *http.Request, name string) (int64, error) {
	raw := r.PathValue(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, gitpulse.Errorf(gitpulse.EINVALID, "%s: must be a positive integer (a GitLab id), got %q", name, clip(raw))
	}
	return id, nil
}

// limitParam is the page size: 1 to 100, default 50.
func limitParam(q url.Values) (int, error) {
	raw := q.Get("limit")
	if raw == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxLimit {
		return 0, gitpulse.Errorf(gitpulse.EINVALID, "limit: must be an integer from 1 to %d, got %q", maxLimit, clip(raw))
	}
	return n, nil
}

// timeParam is an RFC 3339 time or a date. A date means the start of that
// day (UTC) for since, and its end for until; both bounds are inclusive.
func timeParam(q url.Values, name string) (*time.Time, error) {
	raw := q.Get(name)
	if raw == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		t = t.UTC()
		return &t, nil
	}
	if d, err := time.Parse(time.DateOnly, raw); err == nil {
		if name == "until" {
			d = d.Add(24*time.Hour - time.Millisecond)
		}
		return &d, nil
	}
	return nil, gitpulse.Errorf(gitpulse.EINVALID, "%s: must be an RFC 3339 time (2026-11-25T10:00:00Z) or a date (2026-11-25), got %q", name, clip(raw))
}

// timeRangeParams reads since and until. An until before since is an
// empty range, not an error (GitLab's list filters answer [] for it too):
// the order of two parameters is a rule of the request as a whole, which
// the OpenAPI document cannot state, so refusing it would refuse requests
// the document calls valid. The store answers an empty page for it.
func timeRangeParams(q url.Values) (since, until *time.Time, err error) {
	if since, err = timeParam(q, "since"); err != nil {
		return nil, nil, err
	}
	if until, err = timeParam(q, "until"); err != nil {
		return nil, nil, err
	}
	return since, until, nil
}

// enumParam is one of allowed, or "" when absent.
func enumParam(q url.Values, name string, allowed ...string) (string, error) {
	raw := q.Get(name)
	if raw == "" || slices.Contains(allowed, raw) {
		return raw, nil
	}
	return "", gitpulse.Errorf(gitpulse.EINVALID, "%s: must be one of %s, got %q", name, strings.Join(allowed, ", "), clip(raw))
}

// textParam is a free-text filter of at most 255 characters.
func textParam(q url.Values, name string) (string, error) {
	raw := q.Get(name)
	if len(raw) > 255 {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "%s: longer than 255 characters", name)
	}
	return raw, nil
}

// checkCursor refuses a cursor of another listing before any validator
// could answer 304 for it.
func checkCursor(r *http.Request, pk string) error {
	if c := r.URL.Query().Get("cursor"); c != "" {
		if _, err := store.DecodeCursor(listing(r), pk, c); err != nil {
			return err
		}
	}
	return nil
}

// listing names a listing for its cursors: the path and the filters (not
// the page size or the cursor itself), so a cursor replayed on another
// listing, or with other filters, is refused.
func listing(r *http.Request) string {
	q := r.URL.Query()
	q.Del("cursor")
	q.Del("limit")
	return r.URL.Path + "?" + q.Encode()
}
