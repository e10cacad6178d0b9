package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// fresh sets the validators of an answer built from data sync last wrote
// at updated, and answers 304 Not Modified when the client's copy is
// current (If-None-Match, else If-Modified-Since). vary names whatever
// else the answer depends on (the day, for figures relative to today).
// It reports whether the answer is complete. A zero time (never synced)
// sets no validators. An error answer drops them again (see fail).
func fresh(w http.ResponseWriter, r *http.Request, updated time.Time, vary ...string) bool {
	if updated.IsZero() {
		return false
	}
	sum := sha256.Sum256([]byte(updated.UTC().Format(time.RFC3339Nano) + "\n" + r.URL.RequestURI() + "\n" + strings.Join(vary, "\n")))
	etag := `W/"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", updated.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", "private, no-cache") // revalidate every time: cheap with the validators
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			if t := strings.TrimSpace(tag); t == etag || t == "*" || "W/"+t == etag {
				w.WriteHeader(http.StatusNotModified)
				return true
			}
		}
		return false
	}
	if len(vary) > 0 {
		return false // If-Modified-Since cannot tell a new day
	}
	if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !updated.Truncate(time.Second).After(ims) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}
