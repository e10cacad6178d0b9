// The signed cookies of a GitLab sign-in: the session of a signed-in
// teacher, the short-lived state of a sign-in under way, and the CSRF
// token derived from the session.

package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Cookie names. The session is gitpulse_session; the sign-in state gets
// the __Host- prefix when it is Secure (the browser then refuses it from
// any other host or path). The CSRF cookie is readable by the page's
// script, which copies it into the X-CSRF-Token header.
const (
	SessionCookie = "gitpulse_session"
	CSRFCookie    = "gitpulse_csrf"
	loginCookie   = "gitpulse_login"
	// CSRFHeader is the header a state-changing request authenticated by
	// the session cookie must carry.
	CSRFHeader = "X-CSRF-Token"
)

// loginLifetime is how long a sign-in may take between the redirect to
// GitLab and the callback.
const loginLifetime = 10 * time.Minute

// Session is what the session cookie says of the signed-in user: GitLab's
// user id (the ID token's sub), username and name, when the sign-in
// happened and when the session ends. It ends with the GitLab access
// token's lifetime (expires_in, 7200 s on GitLab): a session GitLab
// revoked keeps working until then, since GitPulse does not ask GitLab
// again on every request.
type Session struct {
	Subject   string `json:"sub"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

// UserID is the session's GitLab user id, 0 when sub is not a number.
func (s Session) UserID() int64 {
	var id int64
	for _, c := range s.Subject {
		if c < '0' || c > '9' || id > (1<<62)/10 {
			return 0
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// loginState is the sign-in cookie: what the callback checks the answer
// from GitLab against (state, nonce), the PKCE verifier, and where to go
// after.
type loginState struct {
	State     string `json:"state"`
	Nonce     string `json:"nonce"`
	Verifier  string `json:"verifier"`
	Next      string `json:"next"`
	ExpiresAt int64  `json:"exp"`
}

// signer signs and checks cookie values with the session key. Each use
// has its own label, so that a value signed for one use (a sign-in state)
// is never accepted as another (a session).
type signer struct{ key gitpulse.Secret }

func (s signer) mac(label string, payload []byte) []byte {
	m := hmac.New(sha256.New, []byte(s.key.Reveal()))
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

// seal returns v as JSON in base64url, a dot, and its HMAC-SHA256.
func (s signer) seal(label string, v any) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(label, payload)), nil
}

// open checks value's signature and decodes its payload into v; it
// reports false for anything malformed or wrongly signed.
func (s signer) open(label, value string, v any) bool {
	p, sig, ok := strings.Cut(value, ".")
	if !ok || len(value) > 4096 {
		return false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(label, payload)) {
		return false
	}
	return json.Unmarshal(payload, v) == nil
}

// csrf is the CSRF token of a session cookie value: an HMAC of the
// session under its own label. A page of another site can neither read
// the cookie nor compute the token.
func (s signer) csrf(sessionValue string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", []byte(sessionValue)))
}

// secureRequest reports whether cookies set for r must be Secure: always,
// except over plain http on a loopback host (make run, tests), the rule
// the webhook URL follows too.
func secureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" {
		return !strings.EqualFold(proto, "http") || !loopbackHost(r.Host)
	}
	return !loopbackHost(r.Host)
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip := net.ParseIP(host)
	return (ip != nil && ip.IsLoopback()) || host == "localhost"
}

// loginCookieName is the sign-in cookie's name: __Host- prefixed when
// Secure.
func loginCookieName(secure bool) string {
	if secure {
		return "__Host-" + loginCookie
	}
	return loginCookie
}

// setCookie sets a cookie on Path / with SameSite=Lax; maxAge < 0 clears
// it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int, httpOnly bool) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: httpOnly, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// validNext is the local path to go to after signing in: a path starting
// with "/" but not "//" or "/\" (either would be another host), without
// control characters; anything else is the dashboard.
func validNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 512 || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/dashboard/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/dashboard/"
		}
	}
	return next
}
