// Package dashboard is the teacher's dashboard: a few static pages (HTML,
// JavaScript, CSS and an icon, embedded in the binary) that the api
// function serves beside the data API. The pages read nothing but the
// data API of the same origin, with the teacher's GitLab sign-in (the
// API's HttpOnly session cookie, when the API has sign-in configured) or
// the API key the teacher types in once (kept in the tab's
// sessionStorage, never in a URL or a cookie); nothing is fetched from
// anywhere else.
//
// Every answer carries a Content-Security-Policy that allows scripts,
// styles, images and fetches from the page's own origin only (no inline
// script or style), and refuses framing. Files are revalidated on every
// load (Cache-Control: no-cache with a strong ETag), so a reload costs a
// 304 per file and a new deployment is seen at once.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/dashboard/"

// ContentSecurityPolicy is the policy of every dashboard answer: the
// page's own origin for everything, no inline code, no framing, no
// plugins, no <base> and no form posts.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets
var assets embed.FS

// types are the content types of the embedded files, by extension (not
// the system's MIME table, which differs between machines).
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// file is one embedded file, ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the dashboard's files under Prefix. The zero value is
// not usable; call New.
type Handler struct {
	files map[string]file
}

// New returns the handler of the embedded files.
func New() *Handler { return NewWith(Options{}) }

// Options change what the pages are told about the API.
type Options struct {
	// SignIn says the API has signing in with GitLab configured: the page
	// (body data-signin) offers it and asks who is signed in. Without it
	// the page asks for an API key only, and never calls the sign-in
	// routes (whose 404 a browser would log as an error).
	SignIn bool
}

// NewWith returns the handler of the embedded files, index.html marked
// per opts.
func NewWith(opts Options) *Handler {
	h := &Handler{files: map[string]file{}}
	// The embedded tree is fixed at build time; a read error here would be
	// a broken build, which the package's tests catch.
	_ = fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		if name == "assets/index.html" && opts.SignIn {
			body = bytes.Replace(body, []byte("<body>"), []byte(`<body data-signin="gitlab">`), 1)
		}
		sum := sha256.Sum256(body)
		ctype, ok := types[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream"
		}
		h.files[strings.TrimPrefix(name, "assets/")] = file{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return h
}

// Sizes gives each served file's size in bytes, by name.
func (h *Handler) Sizes() map[string]int {
	out := map[string]int{}
	for name, f := range h.files {
		out[name] = len(f.body)
	}
	return out
}

// ServeHTTP answers GET and HEAD for the files under Prefix ("" is
// index.html); anything else is a 404 or a 405, in plain text.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", "no-cache")
	// ServeContent answers If-None-Match with a 304 (and ranges, HEAD).
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
