package api

import (
	"net/http"
	"strings"

	"github.com/gitpulse/gitpulse/shared/dashboard"
)

// withDashboard serves the teacher's dashboard (package dashboard) beside
// the data API: its files under /dashboard/, /dashboard itself redirected
// there, and a browser that asks for HTML at / (Accept: text/html)
// redirected to it too. Everything else, / for any other client included,
// goes to next, the data API.
func withDashboard(next http.Handler, signIn bool) http.Handler {
	pages := dashboard.NewWith(dashboard.Options{SignIn: signIn})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, dashboard.Prefix):
			pages.ServeHTTP(w, r)
		case p+"/" == dashboard.Prefix:
			http.Redirect(w, r, dashboard.Prefix, http.StatusMovedPermanently)
		case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsHTML(r):
			http.Redirect(w, r, dashboard.Prefix, http.StatusSeeOther)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// wantsHTML reports whether the client asks for an HTML page (a browser
// does; curl and scripts send */* or application/json).
func wantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}
