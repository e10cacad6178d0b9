package api

import (
	"bytes"
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

// byContent gives the answers of h, a route whose data has no sync time
// of its own (the courses listing), validators made from the answer
// itself: the ETag is a hash of the body and the request URI, so a client
// that revalidates (If-None-Match) gets a 304 while nothing in the answer
// changed. The read still happens; the transfer does not. Errors and
// other statuses pass unchanged.
func byContent(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ans := &bufferedAnswer{header: http.Header{}, status: http.StatusOK}
		if err := h(ans, r); err != nil {
			return err
		}
		for k, v := range ans.header {
			w.Header()[k] = v
		}
		if ans.status == http.StatusOK && w.Header().Get("ETag") == "" {
			sum := sha256.New()
			sum.Write(ans.body.Bytes())
			sum.Write([]byte("\n" + r.URL.RequestURI()))
			etag := `W/"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`
			w.Header().Set("ETag", etag)
			w.Header().Set("Cache-Control", "private, no-cache")
			for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
				if t := strings.TrimSpace(tag); t == etag || t == "*" || "W/"+t == etag {
					w.Header().Del("Content-Type")
					w.WriteHeader(http.StatusNotModified)
					return nil
				}
			}
		}
		w.WriteHeader(ans.status)
		_, _ = w.Write(ans.body.Bytes())
		return nil
	}
}

// bufferedAnswer holds an answer until byContent has its validator.
type bufferedAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedAnswer) Header() http.Header         { return b.header }
func (b *bufferedAnswer) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedAnswer) WriteHeader(status int)      { b.status = status }
