package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// unknownToken is a token value the simulator never issued.
const unknownToken = "glpat-NeverIssuedByGitLab00"

func TestClassifyAgainstSimulator(t *testing.T) {
	type scenario struct {
		baseURL string // where the token points; the simulator when empty
		value   string // the token value sent
		kind    gitpulse.TokenKind
		opts    gitlab.Options
		call    func(context.Context, *gl.Client) error
	}
	tests := []struct {
		name        string
		setup       func(t *testing.T, s *sim.Sim) scenario
		wantKind    gitlab.FailureKind
		wantStatus  int
		wantCode    string
		wantMessage string // substring
	}{
		{
			name: "revoked",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				if err := s.RevokeToken(tok.ID); err != nil {
					t.Fatal(err)
				}
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailTokenRevoked, wantStatus: 401, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "401 token revoked",
		},
		{
			name: "expired",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				if err := s.ExpireToken(tok.ID); err != nil {
					t.Fatal(err)
				}
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailTokenExpired, wantStatus: 401, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "401 token expired",
		},
		{
			name: "expired by date",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				yesterday := time.Now().UTC().AddDate(0, 0, -1)
				tok := addToken(t, s, sim.TokenSpec{ExpiresAt: &yesterday})
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailTokenExpired, wantStatus: 401, wantCode: gitpulse.EUNAVAILABLE,
		},
		{
			name:     "unknown",
			setup:    func(t *testing.T, s *sim.Sim) scenario { return scenario{value: unknownToken} },
			wantKind: gitlab.FailUnauthorized, wantStatus: 401, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "401 token unknown",
		},
		{
			name: "insufficient scope",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{Scopes: []string{"read_repository"}})
				return scenario{value: tok.Value, call: func(ctx context.Context, a *gl.Client) error {
					_, err := currentUser(ctx, a)
					return err
				}}
			},
			wantKind: gitlab.FailInsufficientScope, wantStatus: 403, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "403 token lacks a required scope",
		},
		{
			name: "forbidden",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				s.InjectFault(sim.Fault{Status: http.StatusForbidden})
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailForbidden, wantStatus: 403, wantCode: gitpulse.EUNAVAILABLE,
		},
		{
			name: "not found",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				return scenario{value: tok.Value, call: func(ctx context.Context, a *gl.Client) error {
					_, _, err := a.Projects.GetProject(4242, nil, gl.WithContext(ctx))
					return err
				}}
			},
			wantKind: gitlab.FailNotFound, wantStatus: 404, wantCode: gitpulse.ENOTFOUND, wantMessage: "404 not found",
		},
		{
			name: "OAuth token on the self endpoint",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{Kind: sim.KindOAuth})
				return scenario{value: tok.Value, kind: gitpulse.KindOAuth}
			},
			wantKind: gitlab.FailBadRequest, wantStatus: 400, wantCode: gitpulse.EINVALID,
		},
		{
			name: "rate limited, retries off",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				s.InjectFault(sim.Fault{Status: http.StatusTooManyRequests})
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailRateLimited, wantStatus: 429, wantCode: gitpulse.ETHROTTLED, wantMessage: "429",
		},
		{
			name: "server error",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				s.InjectFault(sim.Fault{Status: http.StatusBadGateway})
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailServer, wantStatus: 502, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "502 GitLab server error",
		},
		{
			name: "connection dropped",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				s.InjectFault(sim.Fault{Drop: true})
				return scenario{value: tok.Value}
			},
			wantKind: gitlab.FailNetwork, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "GitLab unreachable",
		},
		{
			name: "nothing listening",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				return scenario{baseURL: closedURL(t), value: unknownToken}
			},
			wantKind: gitlab.FailNetwork, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "connection refused",
		},
		{
			name: "slower than Timeout",
			setup: func(t *testing.T, s *sim.Sim) scenario {
				tok := addToken(t, s, sim.TokenSpec{})
				s.InjectFault(sim.Fault{Latency: 5 * time.Second})
				return scenario{value: tok.Value, opts: gitlab.Options{Timeout: 50 * time.Millisecond}}
			},
			wantKind: gitlab.FailTimeout, wantCode: gitpulse.EUNAVAILABLE, wantMessage: "timed out",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := testenv.Sim(t)
			sc := tt.setup(t, s)
			if sc.baseURL == "" {
				sc.baseURL = url
			}
			if sc.call == nil {
				sc.call = selfToken
			}
			opts := sc.opts
			opts.Provider = static(sc.baseURL, sc.value, sc.kind)
			opts.MaxRetries = -1
			c := newClient(t, opts)

			err := sc.call(testContext(t), api(t, c))
			if err == nil {
				t.Fatalf("call: got no error, want %s", tt.wantKind)
			}
			f := gitlab.Classify(err)
			if f == nil {
				t.Fatalf("Classify(%v): got nil, want %s", err, tt.wantKind)
			}
			if f.Kind != tt.wantKind {
				t.Errorf("Classify(%v) kind: got %s, want %s", err, f.Kind, tt.wantKind)
			}
			if f.Status != tt.wantStatus {
				t.Errorf("Classify status: got %d, want %d", f.Status, tt.wantStatus)
			}
			if got := f.Code(); got != tt.wantCode {
				t.Errorf("Code: got %q, want %q", got, tt.wantCode)
			}
			if !strings.Contains(f.Message, tt.wantMessage) {
				t.Errorf("Message: got %q, want it to contain %q", f.Message, tt.wantMessage)
			}
			if f.Error() != f.Message {
				t.Errorf("Error(): got %q, want the message %q", f.Error(), f.Message)
			}
			if !errors.Is(f, err) {
				t.Errorf("Classify: got a Failure that does not wrap %v", err)
			}
			for _, msg := range []string{f.Message, err.Error()} {
				if strings.Contains(msg, sc.value) {
					t.Errorf("error text: got %q, want it without the token", msg)
				}
			}
		})
	}
}

func TestClassifyResponse(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   gitlab.FailureKind // "" for nil
		code   string
	}{
		{200, `{}`, "", ""},
		{304, ``, "", ""},
		{401, `{"message":"401 Unauthorized"}`, gitlab.FailUnauthorized, gitpulse.EUNAVAILABLE},
		{401, `{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`, gitlab.FailTokenExpired, gitpulse.EUNAVAILABLE},
		{401, `{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}`, gitlab.FailTokenRevoked, gitpulse.EUNAVAILABLE},
		{401, `{"error":"invalid_token","error_description":"The access token is invalid"}`, gitlab.FailUnauthorized, gitpulse.EUNAVAILABLE},
		{401, `not json`, gitlab.FailUnauthorized, gitpulse.EUNAVAILABLE},
		{403, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}`, gitlab.FailInsufficientScope, gitpulse.EUNAVAILABLE},
		{403, `{"message":"403 Forbidden"}`, gitlab.FailForbidden, gitpulse.EUNAVAILABLE},
		{404, `{"message":"404 Project Not Found"}`, gitlab.FailNotFound, gitpulse.ENOTFOUND},
		{429, "Retry later\n", gitlab.FailRateLimited, gitpulse.ETHROTTLED},
		{429, `{"message":"429 Too Many Requests"}`, gitlab.FailRateLimited, gitpulse.ETHROTTLED},
		{500, `{"message":"500 Internal Server Error"}`, gitlab.FailServer, gitpulse.EUNAVAILABLE},
		{502, `<html>bad gateway</html>`, gitlab.FailServer, gitpulse.EUNAVAILABLE},
		{503, ``, gitlab.FailServer, gitpulse.EUNAVAILABLE},
		{400, `{"message":{"expires_at":["is invalid"]}}`, gitlab.FailBadRequest, gitpulse.EINVALID},
		{409, `{"message":"409 Conflict"}`, gitlab.FailBadRequest, gitpulse.EINVALID},
		{422, `{"error":"expires_at is invalid"}`, gitlab.FailBadRequest, gitpulse.EINVALID},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.body), func(t *testing.T) {
			f := gitlab.ClassifyResponse(tt.status, []byte(tt.body))
			if tt.want == "" {
				if f != nil {
					t.Errorf("ClassifyResponse: got %+v, want nil", f)
				}
				return
			}
			if f == nil {
				t.Fatalf("ClassifyResponse: got nil, want %s", tt.want)
			}
			if f.Kind != tt.want {
				t.Errorf("kind: got %s, want %s", f.Kind, tt.want)
			}
			if f.Status != tt.status {
				t.Errorf("status: got %d, want %d", f.Status, tt.status)
			}
			if got := f.Code(); got != tt.code {
				t.Errorf("Code: got %q, want %q", got, tt.code)
			}
			if !strings.HasPrefix(f.Message, fmt.Sprint(tt.status)) {
				t.Errorf("Message: got %q, want it to start with the status %d", f.Message, tt.status)
			}
		})
	}
}

func TestClassifyPassesFailuresThrough(t *testing.T) {
	if got := gitlab.Classify(nil); got != nil {
		t.Errorf("Classify(nil): got %+v, want nil", got)
	}
	f := gitlab.ClassifyResponse(http.StatusUnauthorized, []byte(`{"message":"401 Unauthorized"}`))
	wrapped := fmt.Errorf("check token primary: %w", f)
	if got := gitlab.Classify(wrapped); got != f {
		t.Errorf("Classify(wrapped failure): got %+v, want the same *Failure %+v", got, f)
	}
	if got := gitlab.Classify(context.DeadlineExceeded); got.Kind != gitlab.FailTimeout {
		t.Errorf("Classify(DeadlineExceeded): got %s, want %s", got.Kind, gitlab.FailTimeout)
	}
	if got := gitlab.Classify(gl.ErrNotFound); got.Kind != gitlab.FailNotFound {
		t.Errorf("Classify(gl.ErrNotFound): got %s, want %s", got.Kind, gitlab.FailNotFound)
	}
}
