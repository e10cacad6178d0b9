package main_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
)

// TestSignInUnderEmulator signs a teacher in through the api bootstrap
// under the emulator with its own role: the sign-in secret read from
// Secrets Manager, the cookies through API Gateway's payload (cookies in,
// Set-Cookie out as the response's cookies), the simulator as GitLab.
func TestSignInUnderEmulator(t *testing.T) {
	ctx := context.Background()
	sc := testenv.SyncCourse(t, sim.CourseSpec{Path: "signin/course", Teams: 1, StudentsPerTeam: 1, Weeks: 1})
	const domain = "gitpulse.example.edu"
	app, err := sc.Sim.AddOAuthApp(sim.OAuthApp{Name: "GitPulse", RedirectURIs: []string{"https://" + domain + "/api/v1/auth/callback"}, Scopes: []string{"openid"}, Confidential: true})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	sessionKey := base64.RawURLEncoding.EncodeToString(b)
	value, _ := json.Marshal(map[string]string{"client_secret": app.Secret, "session_key": sessionKey})
	secret, err := secretsmanager.NewFromConfig(sc.AWS).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(testenv.Prefix(t) + "/signin"), SecretString: aws.String(string(value))})
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.FunctionEnv(t, "ApiFunction", sc.Resources, testenv.RoleOptions{Secrets: map[string]string{"SignInSecretArn": aws.ToString(secret.ARN)}})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "api"), append(env,
		"DATA_TABLE="+sc.Resources.DataTable,
		"AUDIT_TABLE="+sc.Resources.AuditTable,
		"SYNC_QUEUE_URL="+sc.Resources.SyncQueueURL,
		"GITLAB_URL="+sc.SimURL,
		"GITLAB_TOKEN="+sc.Course.TeacherToken,
		"SIGNIN_GITLAB_URL="+sc.SimURL,
		"SIGNIN_CLIENT_ID="+app.UID,
		"SIGNIN_SECRET_ARN="+aws.ToString(secret.ARN),
	))
	call := func(path, query string, cookies []string, want int) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "GET " + path, RawPath: path, RawQueryString: query, Cookies: cookies,
			Headers: map[string]string{"host": domain},
			RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default", RequestID: "signin", DomainName: domain,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: path, SourceIP: "203.0.113.7"}},
		})
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(fn.Invoke(t, ev), &resp); err != nil || resp.StatusCode != want {
			t.Fatalf("GET %s: got %d %s (%v), want %d", path, resp.StatusCode, resp.Body, err, want)
		}
		return resp
	}
	// cookie is the name=value of the response's cookie named name, and
	// whether it is Secure and HttpOnly.
	cookie := func(resp events.APIGatewayV2HTTPResponse, name string) (pair string, secure, httpOnly bool) {
		for _, c := range resp.Cookies {
			if strings.HasPrefix(c, name+"=") {
				pair, _, _ = strings.Cut(c, ";")
				return pair, strings.Contains(c, "; Secure"), strings.Contains(c, "; HttpOnly")
			}
		}
		t.Fatalf("got cookies %q, want %s", resp.Cookies, name)
		return "", false, false
	}

	resp := call("/api/v1/auth/login", "next=%2Fdashboard%2F", nil, http.StatusFound)
	login, secure, httpOnly := cookie(resp, "__Host-gitpulse_login")
	if !secure || !httpOnly {
		t.Errorf("sign-in cookie: got Secure %v HttpOnly %v, want both", secure, httpOnly)
	}
	loc, err := url.Parse(resp.Headers["Location"])
	if err != nil || !strings.HasPrefix(loc.String(), sc.SimURL+"/oauth/authorize?") {
		t.Fatalf("login: got Location %q, want the simulator's authorize page", resp.Headers["Location"])
	}

	// The teacher picks themself on the simulator's sign-in page.
	form := loc.Query()
	form.Set("user_id", strconv.Itoa(sc.Course.TeacherID))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sres, err := noFollow.PostForm(sc.SimURL+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	sres.Body.Close()
	back, err := url.Parse(sres.Header.Get("Location"))
	if err != nil || sres.StatusCode != http.StatusFound || back.Path != "/api/v1/auth/callback" {
		t.Fatalf("sign-in page: got %d %q, want a redirect to the callback", sres.StatusCode, sres.Header.Get("Location"))
	}

	resp = call("/api/v1/auth/callback", back.RawQuery, []string{login}, http.StatusFound)
	if resp.Headers["Location"] != "/dashboard/" {
		t.Errorf("callback: got Location %q, want /dashboard/", resp.Headers["Location"])
	}
	session, secure, httpOnly := cookie(resp, "gitpulse_session")
	if !secure || !httpOnly {
		t.Errorf("session cookie: got Secure %v HttpOnly %v, want both", secure, httpOnly)
	}
	resp = call("/api/v1/courses/"+strconv.FormatInt(sc.CourseID, 10), "", []string{session}, http.StatusOK)
	call("/api/v1/courses/1", "", []string{session}, http.StatusForbidden)
	call("/api/v1/courses/1", "", nil, http.StatusUnauthorized)

	_, sig, _ := strings.Cut(session, ".")
	testenv.AssertNoSecret(t, "function output", fn.Output.String(), app.Secret, sessionKey, sig, back.Query().Get("code"))
}
