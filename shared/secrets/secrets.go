// Package secrets reads GitLab tokens from AWS Secrets Manager. Every read
// names its VersionStage (or VersionId) explicitly: without one, a stage
// move can leave a reader with the old value.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Version stages used by Secrets Manager rotation.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// API is the part of the Secrets Manager client this package uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// Store reads token secrets.
type Store struct {
	API API
}

// TokenSecret is the JSON shape of a token secret: the fields of AWS's
// managed GitLabAccessToken secret, plus GitPulse's optional name.
type TokenSecret struct {
	Token     string `json:"token"`
	TokenID   int    `json:"tokenId"`
	GitLabURL string `json:"gitlabUrl"`
	GroupID   int    `json:"groupId,omitempty"`
	ProjectID int    `json:"projectId,omitempty"`
	Name      string `json:"name,omitempty"`
}

// Version is one version of a token secret.
type Version struct {
	ID    string
	Token gitpulse.Token
}

// Read returns the version of the secret arn that holds stage. It returns a
// *gitpulse.Error with ENOTFOUND when the secret or the stage does not
// exist, EFORBIDDEN when access is denied, and EINVALID when the value is
// not a well-formed token secret (the message names the field).
func (s Store) Read(ctx context.Context, arn, stage string) (Version, error) {
	out, err := s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(arn),
		VersionStage: aws.String(stage),
	})
	if err != nil {
		return Version{}, classify(err, fmt.Sprintf("read secret %s (%s)", arn, stage))
	}
	tok, err := ParseToken(aws.ToString(out.SecretString), arn)
	if err != nil {
		return Version{}, err
	}
	return Version{ID: aws.ToString(out.VersionId), Token: tok}, nil
}

// RotationInfo is a secret's rotation configuration.
type RotationInfo struct {
	Enabled     bool
	LastRotated *time.Time // nil: never rotated
	EveryDays   int        // 0: unknown (a cron schedule, or none)
}

// Rotation describes arn's rotation settings (DescribeSecret). Errors are
// classified as Read's are.
func (s Store) Rotation(ctx context.Context, arn string) (RotationInfo, error) {
	out, err := s.API.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return RotationInfo{}, classify(err, "describe secret "+arn)
	}
	info := RotationInfo{Enabled: aws.ToBool(out.RotationEnabled), LastRotated: out.LastRotatedDate}
	if r := out.RotationRules; r != nil {
		if r.AutomaticallyAfterDays != nil {
			info.EveryDays = int(*r.AutomaticallyAfterDays)
		} else if n, ok := rateDays(aws.ToString(r.ScheduleExpression)); ok {
			info.EveryDays = n
		}
	}
	return info, nil
}

// rateDays reads "rate(N days)" (or hours, rounded up to days).
func rateDays(expr string) (int, bool) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(expr, "rate(%d %s", &n, &unit); err != nil || n <= 0 {
		return 0, false
	}
	switch strings.TrimSuffix(unit, ")") {
	case "day", "days":
		return n, true
	case "hour", "hours":
		return (n + 23) / 24, true
	}
	return 0, false
}

func classify(err error, what string) error {
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return &gitpulse.Error{Code: gitpulse.ENOTFOUND, Message: what + ": not found", Err: err}
	}
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied") {
		return &gitpulse.Error{Code: gitpulse.EFORBIDDEN, Message: what + ": access denied", Err: err}
	}
	return &gitpulse.Error{Code: gitpulse.EUNAVAILABLE, Message: what + ": Secrets Manager call failed", Err: err}
}

// ParseToken validates a token secret's JSON. Errors name the bad field and
// the secret, never the token value.
func ParseToken(value, arn string) (gitpulse.Token, error) {
	invalid := func(format string, args ...any) error {
		return gitpulse.Errorf(gitpulse.EINVALID, "secret %s: %s", arn, fmt.Sprintf(format, args...))
	}
	var ts TokenSecret
	if err := json.Unmarshal([]byte(value), &ts); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return gitpulse.Token{}, invalid("invalid JSON at offset %d", syn.Offset)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return gitpulse.Token{}, invalid("field %q must be a %s", typ.Field, typ.Type)
		}
		return gitpulse.Token{}, invalid("must be a JSON object with token, tokenId, gitlabUrl")
	}
	if strings.TrimSpace(ts.Token) == "" {
		return gitpulse.Token{}, invalid("field \"token\" is required")
	}
	u, err := config.ParseGitLabURL(ts.GitLabURL)
	if err != nil {
		return gitpulse.Token{}, invalid("field \"gitlabUrl\" %s", err)
	}
	if ts.GroupID != 0 && ts.ProjectID != 0 {
		return gitpulse.Token{}, invalid("fields \"groupId\" and \"projectId\" are exclusive (a token belongs to a group or to a project)")
	}
	name := ts.Name
	if name == "" {
		name = NameFromARN(arn)
	}
	return gitpulse.Token{
		Name: name, Value: gitpulse.NewSecret(strings.TrimSpace(ts.Token)), URL: u,
		Source: "secret:" + arn, TokenID: ts.TokenID, GroupID: ts.GroupID, ProjectID: ts.ProjectID,
	}, nil
}

// NameFromARN returns the secret's friendly name from its ARN, without the
// six-character suffix Secrets Manager appends.
// A string that is not a secret ARN comes back unchanged.
func NameFromARN(arn string) string {
	i := strings.LastIndex(arn, ":secret:")
	if i < 0 {
		return arn
	}
	name := arn[i+len(":secret:"):]
	if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i == 7 {
		name = name[:i]
	}
	return name
}

// Provider hands out the AWSCURRENT token of one secret, cached for TTL so
// that a burst of GitLab calls costs one Secrets Manager read. During a
// rotation it falls back to AWSPENDING or AWSPREVIOUS (see Fallbacks) and
// keeps the token that worked until AWSCURRENT moves on. It is safe for
// concurrent use.
type Provider struct {
	store Store
	arn   string
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	current Version
	fetched time.Time
	// pinned is a fallback token GitLab accepted after it refused
	// AWSCURRENT; it is used until AWSCURRENT no longer holds pinnedOver.
	pinned     *gitpulse.Token
	pinnedOver string
}

// NewProvider returns a Provider for arn.
func NewProvider(store Store, arn string, ttl time.Duration, now func() time.Time) *Provider {
	return &Provider{store: store, arn: arn, ttl: ttl, now: now}
}

// Token returns the token to send: a pinned fallback, else AWSCURRENT,
// read again when the cached value is older than TTL.
func (p *Provider) Token(ctx context.Context) (gitpulse.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current.ID == "" || p.now().Sub(p.fetched) >= p.ttl {
		if err := p.refresh(ctx); err != nil {
			return gitpulse.Token{}, err
		}
	}
	if p.pinned != nil {
		return *p.pinned, nil
	}
	return p.current.Token, nil
}

// refresh re-reads AWSCURRENT and drops the pin once it has moved on.
func (p *Provider) refresh(ctx context.Context) error {
	v, err := p.store.Read(ctx, p.arn, StageCurrent)
	if err != nil {
		return err
	}
	p.current, p.fetched = v, p.now()
	if p.pinned != nil && v.Token.Hash() != p.pinnedOver {
		p.pinned, p.pinnedOver = nil, ""
	}
	return nil
}

// Fallbacks answers a 401 for the token with hash failed. It re-reads
// AWSCURRENT: if that changed, the rotation has finished and the new value
// is the one to try. Otherwise a rotation is under way (or just failed):
// AWSPENDING, then AWSPREVIOUS (still valid under the admin strategy). A
// stage that does not exist is skipped; it never calls GitLab.
func (p *Provider) Fallbacks(ctx context.Context, failed string) ([]gitpulse.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.refresh(ctx); err != nil {
		return nil, err
	}
	if h := p.current.Token.Hash(); h != failed {
		return []gitpulse.Token{p.current.Token}, nil
	}
	var out []gitpulse.Token
	for _, stage := range []string{StagePending, StagePrevious} {
		v, err := p.store.Read(ctx, p.arn, stage)
		if err != nil {
			if gitpulse.ErrorCode(err) == gitpulse.ENOTFOUND {
				continue
			}
			return out, err
		}
		if v.Token.Hash() != failed {
			out = append(out, v.Token)
		}
	}
	return out, nil
}

// Use pins tok when it is not AWSCURRENT's value.
func (p *Provider) Use(tok gitpulse.Token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tok.Value.Equal(p.current.Token.Value) {
		p.pinned, p.pinnedOver = nil, ""
		return
	}
	p.pinned, p.pinnedOver = &tok, p.current.Token.Hash()
}

// Describe names the provider's source for logs and health output.
func (p *Provider) Describe() string { return "secret:" + p.arn }
