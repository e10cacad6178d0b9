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
		Name: name, Value: gitpulse.Secret(strings.TrimSpace(ts.Token)), URL: u,
		Source: "secret:" + arn, TokenID: ts.TokenID, GroupID: ts.GroupID, ProjectID: ts.ProjectID,
	}, nil
}

// NameFromARN returns the secret's friendly name from its ARN, without the
// six-character suffix Secrets Manager appends.
func NameFromARN(arn string) string {
	name := arn[strings.LastIndex(arn, ":secret:")+len(":secret:"):]
	if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i == 7 {
		name = name[:i]
	}
	return name
}

// Provider hands out the AWSCURRENT token of one secret, cached for TTL so
// that a burst of GitLab calls costs one Secrets Manager read. It is safe
// for concurrent use.
type Provider struct {
	Store Store
	ARN   string
	TTL   time.Duration
	Now   func() time.Time

	mu      sync.Mutex
	cached  Version
	fetched time.Time
}

// NewProvider returns a Provider for arn.
func NewProvider(store Store, arn string, ttl time.Duration, now func() time.Time) *Provider {
	return &Provider{Store: store, ARN: arn, TTL: ttl, Now: now}
}

// Token returns the current token, reading Secrets Manager when the cached
// value is older than TTL.
func (p *Provider) Token(ctx context.Context) (gitpulse.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached.ID != "" && p.Now().Sub(p.fetched) < p.TTL {
		return p.cached.Token, nil
	}
	v, err := p.Store.Read(ctx, p.ARN, StageCurrent)
	if err != nil {
		return gitpulse.Token{}, err
	}
	p.cached, p.fetched = v, p.Now()
	return v.Token, nil
}

// Describe names the provider's source for logs and health output.
func (p *Provider) Describe() string { return "secret:" + p.ARN }
