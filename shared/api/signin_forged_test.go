package api_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// fakeIssuer is an OpenID provider whose token endpoint answers with the
// ID token the test set: a forger's view of GitLab.
type fakeIssuer struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	mu      sync.Mutex
	idToken string
}

const fakeAccessToken = "fake-access-token-0123456789abcdef"

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fi := &fakeIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := fi.srv.URL
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": base, "authorization_endpoint": base + "/oauth/authorize",
			"token_endpoint": base + "/oauth/token", "jwks_uri": base + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		fi.mu.Lock()
		defer fi.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fakeAccessToken, "token_type": "Bearer", "expires_in": 7200, "id_token": fi.idToken})
	})
	fi.srv = httptest.NewServer(mux)
	t.Cleanup(fi.srv.Close)
	return fi
}

// sign returns claims as a JWT signed RS256 with key, kid k1.
func sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSignInRefusesForgedIDTokens(t *testing.T) {
	fi := newFakeIssuer(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	now := time.Now()
	clock := testenv.NewClock(now)
	sessionKey := randomKey(t)
	h := api.New(api.Deps{
		SignIn: &api.SignIn{Issuer: fi.srv.URL, ClientID: "gitpulse-app", ClientSecret: gitpulse.NewSecret("gloas-client-secret-xyz"), SessionKey: gitpulse.NewSecret(sessionKey)},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: clock.Now,
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	good := func(nonce string) map[string]any {
		return map[string]any{"iss": fi.srv.URL, "sub": "77", "aud": "gitpulse-app", "nonce": nonce, "nickname": "mallory",
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
	}
	cases := []struct {
		name   string
		token  func(nonce string) string
		status int
	}{
		{"valid", func(n string) string { return sign(t, fi.key, good(n)) }, http.StatusFound},
		{"expired", func(n string) string {
			c := good(n)
			c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-58*time.Minute).Unix()
			return sign(t, fi.key, c)
		}, http.StatusUnauthorized},
		{"wrongly signed", func(n string) string { return sign(t, other, good(n)) }, http.StatusUnauthorized},
		{"wrong issuer", func(n string) string {
			c := good(n)
			c["iss"] = "https://gitlab.evil.example"
			return sign(t, fi.key, c)
		}, http.StatusUnauthorized},
		{"wrong audience", func(n string) string {
			c := good(n)
			c["aud"] = "another-app"
			return sign(t, fi.key, c)
		}, http.StatusUnauthorized},
		{"wrong nonce", func(string) string { return sign(t, fi.key, good("not-this-sign-ins")) }, http.StatusUnauthorized},
		{"unsigned", func(n string) string {
			b, _ := json.Marshal(good(n))
			return "eyJhbGciOiJub25lIn0." + strings.TrimRight(jsonB64(b), "=") + "."
		}, http.StatusUnauthorized},
	}
	var tokens []string
	for _, tc := range cases {
		c := browser(t)
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(srv.URL + api.LoginPath + "?next=/dashboard/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("%s: GET login: got %d %q, want 302 to the issuer", tc.name, resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("scope") != "openid" || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Errorf("%s: authorize URL %s: want S256, scope openid, a nonce and a state", tc.name, loc)
		}
		tok := tc.token(q.Get("nonce"))
		tokens = append(tokens, tok)
		fi.mu.Lock()
		fi.idToken = tok
		fi.mu.Unlock()
		resp, err = c.Get(srv.URL + api.CallbackPath + "?code=c0de&state=" + url.QueryEscape(q.Get("state")))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: callback: got %d %s, want %d", tc.name, resp.StatusCode, clipped(body), tc.status)
		}
		gotSession := cookie(c, srv.URL, api.SessionCookie) != nil
		if want := tc.status == http.StatusFound; gotSession != want {
			t.Errorf("%s: session cookie set: got %v, want %v", tc.name, gotSession, want)
		}
		if tc.status == http.StatusFound && resp.Header.Get("Location") != "/dashboard/" {
			t.Errorf("%s: redirect: got %q, want /dashboard/", tc.name, resp.Header.Get("Location"))
		}
		testenv.AssertNoSecret(t, tc.name+": the callback's answer", body+resp.Header.Get("Location"), tok, fakeAccessToken)
	}

	// A state that is not the cookie's, or no sign-in cookie at all.
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if code, _ := get(t, c, srv.URL+api.CallbackPath+"?code=c0de&state=x"); code != http.StatusBadRequest {
		t.Errorf("callback without a sign-in: got %d, want 400", code)
	}
	resp, err := c.Get(srv.URL + api.LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _ := get(t, c, srv.URL+api.CallbackPath+"?code=c0de&state=not-the-state"); code != http.StatusBadRequest {
		t.Errorf("callback with another state: got %d, want 400", code)
	}
	testenv.AssertNoSecret(t, "the API's logs", logs.String(), append(tokens, fakeAccessToken, "gloas-client-secret-xyz", sessionKey)...)
}

func TestSignInNextIsLocal(t *testing.T) {
	fi := newFakeIssuer(t)
	h := api.New(api.Deps{SignIn: &api.SignIn{Issuer: fi.srv.URL, ClientID: "app", SessionKey: gitpulse.NewSecret(randomKey(t))}})
	for next, want := range map[string]string{
		"/dashboard/courses/1": "/dashboard/courses/1",
		"//evil.example/":      "/dashboard/",
		"/\\evil.example":      "/dashboard/",
		"https://evil.example": "/dashboard/",
		"dashboard":            "/dashboard/",
	} {
		req := httptest.NewRequest("GET", "http://127.0.0.1:8080"+api.LoginPath+"?next="+url.QueryEscape(next), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			t.Fatalf("login next=%q: got %d %s, want 302", next, rec.Code, rec.Body.String())
		}
		// The next path is inside the signed cookie: decode its payload.
		var got string
		for _, ck := range rec.Result().Cookies() {
			if strings.HasSuffix(ck.Name, "gitpulse_login") {
				payload, _, _ := strings.Cut(ck.Value, ".")
				var st struct {
					Next string `json:"next"`
				}
				b, _ := b64(payload)
				_ = json.Unmarshal(b, &st)
				got = st.Next
				if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
					t.Errorf("login cookie on loopback http: got HttpOnly %v SameSite %v Secure %v, want true, Lax, false", ck.HttpOnly, ck.SameSite, ck.Secure)
				}
			}
		}
		if got != want {
			t.Errorf("login next=%q: got next %q, want %q", next, got, want)
		}
	}
	// Over https the sign-in cookie is Secure and __Host- prefixed.
	req := httptest.NewRequest("GET", "https://gitpulse.example.edu"+api.LoginPath, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cks := rec.Result().Cookies()
	if len(cks) != 1 || cks[0].Name != "__Host-gitpulse_login" || !cks[0].Secure {
		t.Errorf("login over https: got cookies %v, want one Secure __Host-gitpulse_login", cks)
	}
}

func jsonB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
