package secrets_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

const (
	token1 = "glpat-FirstSecretValue0001"
	token2 = "glpat-SecondSecretValue002"
	arn    = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/gitlab-token-AbC123"
)

func TestParseToken(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  gitpulse.Token
	}{
		{
			name:  "group token, name from the ARN",
			value: `{"token":" ` + token1 + ` ","tokenId":7,"gitlabUrl":"https://gitlab.example.edu/","groupId":42}`,
			want: gitpulse.Token{Name: "gitpulse/gitlab-token", Value: gitpulse.NewSecret(token1), URL: "https://gitlab.example.edu",
				Source: "secret:" + arn, TokenID: 7, GroupID: 42},
		},
		{
			name:  "project token with a name",
			value: `{"token":"` + token1 + `","tokenId":8,"gitlabUrl":"http://127.0.0.1:8080","projectId":9,"name":"ci"}`,
			want: gitpulse.Token{Name: "ci", Value: gitpulse.NewSecret(token1), URL: "http://127.0.0.1:8080",
				Source: "secret:" + arn, TokenID: 8, ProjectID: 9},
		},
		{
			name:  "AWS fields GitPulse does not read",
			value: `{"token":"` + token1 + `","gitlabUrl":"https://gitlab.example.edu","tokenType":"GroupAccessToken"}`,
			want:  gitpulse.Token{Name: "gitpulse/gitlab-token", Value: gitpulse.NewSecret(token1), URL: "https://gitlab.example.edu", Source: "secret:" + arn},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secrets.ParseToken(tt.value, arn)
			if err != nil {
				t.Fatalf("ParseToken: got error %q, want none", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseToken: got %+v, want %+v", got, tt.want)
			}
			if got.Value.Reveal() != tt.want.Value.Reveal() {
				t.Errorf("ParseToken value: got a different token, want %s", tt.want.Value.Hash())
			}
		})
	}
}

func TestParseTokenErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"not JSON", `token=` + token1, "invalid JSON at offset 2"},
		{"truncated JSON", `{"token":"` + token1, "invalid JSON at offset"},
		{"array", `["` + token1 + `"]`, "must be a JSON object with token, tokenId, gitlabUrl"},
		{"missing token", `{"tokenId":7,"gitlabUrl":"https://gitlab.example.edu"}`, `field "token" is required`},
		{"blank token", `{"token":"  ","gitlabUrl":"https://gitlab.example.edu"}`, `field "token" is required`},
		{"missing gitlabUrl", `{"token":"` + token1 + `"}`, `field "gitlabUrl" is required`},
		{"http gitlabUrl", `{"token":"` + token1 + `","gitlabUrl":"http://gitlab.example.edu"}`, `field "gitlabUrl"`},
		{"gitlabUrl with the token as credentials", `{"token":"` + token1 + `","gitlabUrl":"https://x:` + token1 + `@gitlab.example.edu"}`,
			`field "gitlabUrl" must not contain credentials`},
		{"groupId and projectId", `{"token":"` + token1 + `","gitlabUrl":"https://gitlab.example.edu","groupId":1,"projectId":2}`,
			`fields "groupId" and "projectId" are exclusive`},
		{"tokenId a string", `{"token":"` + token1 + `","tokenId":"7","gitlabUrl":"https://gitlab.example.edu"}`,
			`field "tokenId" must be a int`},
		{"groupId a float", `{"token":"` + token1 + `","gitlabUrl":"https://gitlab.example.edu","groupId":1.5}`,
			`field "groupId" must be a int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secrets.ParseToken(tt.value, arn)
			if err == nil {
				t.Fatalf("ParseToken: got no error, want one containing %q", tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("ParseToken error: got %q, want it to contain %q", msg, tt.want)
			}
			if !strings.Contains(msg, arn) {
				t.Errorf("ParseToken error: got %q, want it to name the secret %s", msg, arn)
			}
			if strings.Contains(msg, token1) {
				t.Errorf("ParseToken error: got %q, want it without the token", msg)
			}
			if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID {
				t.Errorf("ErrorCode: got %q, want %q", got, gitpulse.EINVALID)
			}
		})
	}
}

func TestNameFromARN(t *testing.T) {
	tests := []struct {
		arn, want string
	}{
		{"arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitlab-AbC123", "gitlab"},
		{"arn:aws:secretsmanager:eu-central-1:123456789012:secret:gitpulse/prod/gitlab-token-AbC123", "gitpulse/prod/gitlab-token"},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a-b-c-x1y2z3", "a-b-c"},
		{"arn:aws:secretsmanager:eu-central-1:123456789012:secret:token", "token"},
		{"arn:aws:secretsmanager:eu-central-1:123456789012:secret:-AbC123", "-AbC123"},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			if got := secrets.NameFromARN(tt.arn); got != tt.want {
				t.Errorf("NameFromARN(%q): got %q, want %q", tt.arn, got, tt.want)
			}
		})
	}
}

func TestNameFromARNNeverPanics(t *testing.T) {
	for _, in := range []string{"", "abc", "gitlab"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("NameFromARN(%q): got panic %v, want a name", in, r)
				}
			}()
			secrets.NameFromARN(in)
		}()
	}
}

// fixture is a token secret on moto.
type fixture struct {
	sm    *secretsmanager.Client
	store secrets.Store
	arn   string
	name  string
}

func newFixture(t *testing.T, value secrets.TokenSecret) fixture {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, &value)
	sm := secretsmanager.NewFromConfig(cfg)
	return fixture{sm: sm, store: secrets.Store{API: sm}, arn: res.TokenSecretARN, name: res.TokenSecret}
}

// put stores value as a new version of the secret in the given stages
// (AWSCURRENT when none) and returns the version ID.
func (f fixture) put(t *testing.T, value any, stages ...string) string {
	t.Helper()
	s, ok := value.(string)
	if !ok {
		b, err := json.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		s = string(b)
	}
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(f.arn), SecretString: aws.String(s)}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	out, err := f.sm.PutSecretValue(context.Background(), in)
	if err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	return aws.ToString(out.VersionId)
}

func TestStoreReadByStage(t *testing.T) {
	f := newFixture(t, secrets.TokenSecret{Token: token1, TokenID: 7, GitLabURL: "https://gitlab.example.edu", GroupID: 42})
	ctx := context.Background()

	cur, err := f.store.Read(ctx, f.arn, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("Read(AWSCURRENT): %v", err)
	}
	want := gitpulse.Token{Name: f.name, Value: gitpulse.NewSecret(token1), URL: "https://gitlab.example.edu", Source: "secret:" + f.arn, TokenID: 7, GroupID: 42}
	if !cur.Token.Equal(want) {
		t.Errorf("Read(AWSCURRENT): got %+v, want %+v", cur.Token, want)
	}
	if cur.ID == "" {
		t.Errorf("Read(AWSCURRENT) version ID: got empty, want one")
	}

	pendingID := f.put(t, secrets.TokenSecret{Token: token2, TokenID: 8, GitLabURL: "https://gitlab.example.edu", GroupID: 42}, secrets.StagePending)

	pending, err := f.store.Read(ctx, f.arn, secrets.StagePending)
	if err != nil {
		t.Fatalf("Read(AWSPENDING): %v", err)
	}
	if got := pending.Token.Value.Reveal(); got != token2 {
		t.Errorf("Read(AWSPENDING) token: got %s, want %s", gitpulse.NewSecret(got).Hash(), gitpulse.NewSecret(token2).Hash())
	}
	if pending.Token.TokenID != 8 {
		t.Errorf("Read(AWSPENDING) TokenID: got %d, want 8", pending.Token.TokenID)
	}
	if pending.ID != pendingID {
		t.Errorf("Read(AWSPENDING) version ID: got %q, want %q", pending.ID, pendingID)
	}

	again, err := f.store.Read(ctx, f.arn, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("Read(AWSCURRENT) after AWSPENDING: %v", err)
	}
	if got := again.Token.Value.Reveal(); got != token1 {
		t.Errorf("Read(AWSCURRENT) after AWSPENDING token: got %s, want %s", gitpulse.NewSecret(got).Hash(), gitpulse.NewSecret(token1).Hash())
	}
	if again.ID != cur.ID {
		t.Errorf("Read(AWSCURRENT) after AWSPENDING version ID: got %q, want %q", again.ID, cur.ID)
	}
}

func TestStoreReadErrors(t *testing.T) {
	f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: "https://gitlab.example.edu"})
	ctx := context.Background()

	t.Run("missing secret", func(t *testing.T) {
		missing := f.arn[:strings.LastIndex(f.arn, ":secret:")] + ":secret:gitpulse-missing-AbC123"
		_, err := f.store.Read(ctx, missing, secrets.StageCurrent)
		if got := gitpulse.ErrorCode(err); got != gitpulse.ENOTFOUND {
			t.Errorf("ErrorCode(%v): got %q, want %q", err, got, gitpulse.ENOTFOUND)
		}
		if err != nil && !strings.Contains(gitpulse.ErrorMessage(err), missing) {
			t.Errorf("ErrorMessage: got %q, want it to name %s", gitpulse.ErrorMessage(err), missing)
		}
	})
	t.Run("missing stage", func(t *testing.T) {
		_, err := f.store.Read(ctx, f.arn, secrets.StagePending)
		if got := gitpulse.ErrorCode(err); got != gitpulse.ENOTFOUND {
			t.Errorf("ErrorCode(%v): got %q, want %q", err, got, gitpulse.ENOTFOUND)
		}
	})
	t.Run("malformed value", func(t *testing.T) {
		f.put(t, `{"token":"`+token2+`","gitlabUrl":"http://gitlab.example.edu"}`)
		_, err := f.store.Read(ctx, f.arn, secrets.StageCurrent)
		if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID {
			t.Fatalf("ErrorCode(%v): got %q, want %q", err, got, gitpulse.EINVALID)
		}
		if msg := err.Error(); !strings.Contains(msg, `field "gitlabUrl"`) || strings.Contains(msg, token2) {
			t.Errorf("Read error: got %q, want it to name gitlabUrl and not hold the token", msg)
		}
	})
}

func TestReadString(t *testing.T) {
	f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: "https://gitlab.example.edu"})
	ctx := context.Background()
	f.put(t, `not a token secret`)
	f.put(t, `pending value`, secrets.StagePending)

	got, err := secrets.ReadString(ctx, f.sm, f.arn, secrets.StageCurrent)
	if err != nil {
		t.Fatalf("ReadString(AWSCURRENT): %v", err)
	}
	if got != "not a token secret" {
		t.Errorf("ReadString(AWSCURRENT): got %q, want %q", got, "not a token secret")
	}
	missing := f.arn[:strings.LastIndex(f.arn, ":secret:")] + ":secret:gitpulse-missing-AbC123"
	_, err = secrets.ReadString(ctx, f.sm, missing, secrets.StageCurrent)
	if got := gitpulse.ErrorCode(err); got != gitpulse.ENOTFOUND {
		t.Errorf("ReadString(missing) ErrorCode(%v): got %q, want %q", err, got, gitpulse.ENOTFOUND)
	}
}

// clock is a settable clock.
// mustToken asks p for its token and checks its value.
func mustToken(t *testing.T, p *secrets.Provider, want string) {
	t.Helper()
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if got := tok.Value.Reveal(); got != want {
		t.Errorf("Token: got %s, want %s", tok.Value.Hash(), gitpulse.NewSecret(want).Hash())
	}
}

func TestProviderCachesWithinTTL(t *testing.T) {
	f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: "https://gitlab.example.edu"})
	clk := testenv.NewClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	p := secrets.NewProvider(f.store, f.arn, time.Minute, clk.Now)

	mustToken(t, p, token1)
	f.put(t, secrets.TokenSecret{Token: token2, GitLabURL: "https://gitlab.example.edu"})

	clk.Add(59 * time.Second)
	mustToken(t, p, token1) // still cached: the new AWSCURRENT is not read yet

	clk.Add(time.Second)
	mustToken(t, p, token2) // TTL passed: read again

	if got, want := p.Describe(), "secret:"+f.arn; got != want {
		t.Errorf("Describe: got %q, want %q", got, want)
	}
}

func TestProviderDoesNotCacheErrors(t *testing.T) {
	// No version can be read: every one is malformed.
	f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: "ftp://gitlab.example.edu"})
	clk := testenv.NewClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	f.put(t, `{"token":"`+token2+`"}`) // AWSCURRENT is now malformed
	p := secrets.NewProvider(f.store, f.arn, time.Hour, clk.Now)

	_, err := p.Token(context.Background())
	if got := gitpulse.ErrorCode(err); got != gitpulse.EINVALID {
		t.Fatalf("Token on a malformed secret: got error %v (code %q), want code %q", err, got, gitpulse.EINVALID)
	}
	f.put(t, secrets.TokenSecret{Token: token2, GitLabURL: "https://gitlab.example.edu"})
	mustToken(t, p, token2) // same instant: the failure was not cached
}

// TestProviderServesAnotherVersionWhenCurrentIsBroken: readers fall back
// when AWSCURRENT cannot be used at all (no value, malformed), not only on
// a 401, and return to AWSCURRENT once it is readable again.
func TestProviderServesAnotherVersionWhenCurrentIsBroken(t *testing.T) {
	for _, broken := range []string{"{}", `{"token":"x"}`} {
		t.Run(broken, func(t *testing.T) {
			f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: "https://gitlab.example.edu"})
			clk := testenv.NewClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
			f.put(t, broken) // AWSCURRENT broken; token1 is AWSPREVIOUS
			p := secrets.NewProvider(f.store, f.arn, time.Minute, clk.Now)
			mustToken(t, p, token1)
			if got := p.Serving(); got != secrets.StagePrevious {
				t.Errorf("Serving: got %q, want %q", got, secrets.StagePrevious)
			}
			f.put(t, secrets.TokenSecret{Token: token2, GitLabURL: "https://gitlab.example.edu"})
			clk.Add(time.Minute)
			mustToken(t, p, token2)
			if got := p.Serving(); got != secrets.StageCurrent {
				t.Errorf("Serving after the repair: got %q, want %q", got, secrets.StageCurrent)
			}
		})
	}
}

func TestProviderConcurrentCallers(t *testing.T) {
	f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: "https://gitlab.example.edu"})
	clk := testenv.NewClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	p := secrets.NewProvider(f.store, f.arn, time.Minute, clk.Now)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			tok, err := p.Token(context.Background())
			if err == nil && tok.Value.Reveal() != token1 {
				err = gitpulse.Errorf(gitpulse.EINTERNAL, "got token %s", tok.Value.Hash())
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Token: %v", err)
	}
}

// TestRotationOpenUntilEveryKnownTokenWasTried: readers share one
// provider, so one reader's look at the versions can find a token another
// reader, waiting, has not tried. RotationOpen (should the read look
// again?) answers yes while the provider knows such a token, and no, at
// once, when the read has tried every token the provider knows and
// nothing moved: a secret with no working token fails fast. (Before,
// another reader's scan that saw no rotation open ended the wait of a
// read that had never tried what the scan found: one read in 6,007 of the
// rotation scenarios failed so.)
func TestRotationOpenUntilEveryKnownTokenWasTried(t *testing.T) {
	url := "https://gitlab.example.edu"
	f := newFixture(t, secrets.TokenSecret{Token: token1, GitLabURL: url})
	f.put(t, secrets.TokenSecret{Token: token2, GitLabURL: url})
	f.put(t, secrets.TokenSecret{Token: token1, GitLabURL: url}) // AWSCURRENT token1 again, AWSPREVIOUS token2
	clk := testenv.NewClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	p := secrets.NewProvider(f.store, f.arn, time.Minute, clk.Now)
	ctx := context.Background()
	mustToken(t, p, token1)
	h1, h2 := gitpulse.NewSecret(token1).Hash(), gitpulse.NewSecret(token2).Hash()

	// Reader B: GitLab refused token1; its look at the versions finds
	// token2 in AWSPREVIOUS, and no rotation open.
	got, err := p.Fallbacks(ctx, []string{h1})
	if err != nil || len(got) != 1 || got[0].Hash() != h2 {
		t.Fatalf("reader B's fallbacks: got %d tokens (%v), want token2 alone", len(got), err)
	}
	// Reader A, refused token1 as well, asks whether to look again: it has
	// not tried token2.
	if !p.RotationOpen(ctx, []string{h1}) {
		t.Errorf("RotationOpen for a read that has not tried the token another reader found: false, want true")
	}
	// Once A has tried token2 too, and nothing moved: fail fast.
	if p.RotationOpen(ctx, []string{h1, h2}) {
		t.Errorf("RotationOpen for a read that tried every token the provider knows, nothing moved: true, want false")
	}
}
