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
	// Rotation configures GitPulse's rotation of this secret; absent: the
	// token rotates itself every rotation with a 90-day lifetime.
	Rotation *RotationConfig `json:"rotation,omitempty"`
	// Scopes and ExpiresAt are written by the rotation into a new version:
	// what testSecret expects the new token to have.
	Scopes    []string `json:"scopes,omitempty"`
	ExpiresAt string   `json:"expiresAt,omitempty"`
	// RotatedAt is when the rotation wrote this version (RFC 3339): with
	// the version's creation time it tells which of two working tokens is
	// the newer.
	RotatedAt string `json:"rotatedAt,omitempty"`
}

// Rotation strategies.
const (
	StrategySelf  = "self"
	StrategyAdmin = "admin"
)

// RotationConfig is a token secret's rotation settings.
type RotationConfig struct {
	// Strategy is "self" (the token rotates itself) or "admin" (a token
	// in AdminSecretARN creates the new one and revokes the old).
	Strategy       string `json:"strategy,omitempty"`
	AdminSecretARN string `json:"adminSecretArn,omitempty"`
	// DaysToExpiry is the new token's lifetime, 1 to 365 (larger values
	// are capped at 365); default 90.
	DaysToExpiry int `json:"daysToExpiry,omitempty"`
}

// Kind is the token kind the secret's fields say: group, project or
// personal.
func (t TokenSecret) Kind() gitpulse.TokenKind {
	switch {
	case t.GroupID != 0:
		return gitpulse.KindGroup
	case t.ProjectID != 0:
		return gitpulse.KindProject
	default:
		return gitpulse.KindPersonal
	}
}

// Settings returns the rotation settings with defaults filled in.
func (t TokenSecret) Settings() RotationConfig {
	c := RotationConfig{Strategy: StrategySelf, DaysToExpiry: 90}
	if t.Rotation != nil {
		if t.Rotation.Strategy != "" {
			c.Strategy = t.Rotation.Strategy
		}
		c.AdminSecretARN = t.Rotation.AdminSecretARN
		if t.Rotation.DaysToExpiry > 0 {
			c.DaysToExpiry = min(t.Rotation.DaysToExpiry, 365)
		}
	}
	return c
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
	sv, err := s.ReadSecret(ctx, arn, "", stage)
	if err != nil {
		return Version{}, err
	}
	return Version{ID: sv.ID, Token: sv.Secret.TokenFor(arn)}, nil
}

// SecretVersion is one version of a token secret, whole.
type SecretVersion struct {
	ID     string
	Secret TokenSecret
}

// ReadSecret returns the version of arn that has versionID (when not
// empty) and holds stage. Errors are classified as Read's.
func (s Store) ReadSecret(ctx context.Context, arn, versionID, stage string) (SecretVersion, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)}
	what := fmt.Sprintf("read secret %s (%s)", arn, stage)
	if versionID != "" {
		in.VersionId = aws.String(versionID)
		what = fmt.Sprintf("read secret %s (version %s, %s)", arn, versionID, stage)
	}
	out, err := s.API.GetSecretValue(ctx, in)
	if err != nil {
		return SecretVersion{}, classify(err, what)
	}
	return parseVersion(out, arn, what)
}

// parseVersion parses a GetSecretValue answer. A version with no value,
// or the placeholder "{}" a rotation opened by local tools holds, is
// ENOTFOUND (empty), not EINVALID: nothing was written there yet.
func parseVersion(out *secretsmanager.GetSecretValueOutput, arn, what string) (SecretVersion, error) {
	if v := strings.TrimSpace(aws.ToString(out.SecretString)); v == "" || v == "{}" {
		return SecretVersion{}, gitpulse.Errorf(gitpulse.ENOTFOUND, "%s: the version holds no value yet", what)
	}
	ts, err := ParseSecret(aws.ToString(out.SecretString), arn)
	if err != nil {
		return SecretVersion{}, err
	}
	return SecretVersion{ID: aws.ToString(out.VersionId), Secret: ts}, nil
}

// Getter is the one Secrets Manager call a plain read needs.
type Getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ReadString returns the SecretString of the version of arn that holds
// stage, unparsed, for secrets that are not token secrets. Errors are
// classified as Read's; a version without a SecretString is EINVALID.
func ReadString(ctx context.Context, api Getter, arn, stage string) (string, error) {
	what := fmt.Sprintf("read secret %s (%s)", arn, stage)
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		return "", classify(err, what)
	}
	if out.SecretString == nil {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "%s: the version has no SecretString", what)
	}
	return *out.SecretString, nil
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

// notFoundOrInvalid reports a version that is missing, empty or not a
// token secret: a broken value, not a Secrets Manager outage.
func notFoundOrInvalid(err error) bool {
	code := gitpulse.ErrorCode(err)
	return code == gitpulse.ENOTFOUND || code == gitpulse.EINVALID
}

// ParseToken validates a token secret's JSON and returns the token it
// holds. Errors name the bad field and the secret, never the token value.
func ParseToken(value, arn string) (gitpulse.Token, error) {
	ts, err := ParseSecret(value, arn)
	if err != nil {
		return gitpulse.Token{}, err
	}
	return ts.TokenFor(arn), nil
}

// TokenFor returns the token the secret holds, as read from arn.
func (t TokenSecret) TokenFor(arn string) gitpulse.Token {
	name := t.Name
	if name == "" {
		name = NameFromARN(arn)
	}
	return gitpulse.Token{
		Name: name, Value: gitpulse.NewSecret(t.Token), URL: t.GitLabURL,
		Source: "secret:" + arn, TokenID: t.TokenID, GroupID: t.GroupID, ProjectID: t.ProjectID,
	}
}

// ParseSecret validates a token secret's JSON, including its rotation
// settings, and returns it with the URL normalised and the token trimmed.
// Errors name the bad field and the secret, never the token value.
func ParseSecret(value, arn string) (TokenSecret, error) {
	invalid := func(format string, args ...any) error {
		return gitpulse.Errorf(gitpulse.EINVALID, "secret %s: %s", arn, fmt.Sprintf(format, args...))
	}
	var ts TokenSecret
	if err := json.Unmarshal([]byte(value), &ts); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return ts, invalid("invalid JSON at offset %d", syn.Offset)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return ts, invalid("field %q must be a %s", typ.Field, typ.Type)
		}
		return ts, invalid("must be a JSON object with token, tokenId, gitlabUrl")
	}
	ts.Token = strings.TrimSpace(ts.Token)
	if ts.Token == "" {
		return ts, invalid("field \"token\" is required")
	}
	u, err := config.ParseGitLabURL(ts.GitLabURL)
	if err != nil {
		return ts, invalid("field \"gitlabUrl\" %s", err)
	}
	ts.GitLabURL = u
	if ts.GroupID != 0 && ts.ProjectID != 0 {
		return ts, invalid("fields \"groupId\" and \"projectId\" are exclusive (a token belongs to a group or to a project)")
	}
	if r := ts.Rotation; r != nil {
		switch r.Strategy {
		case "", StrategySelf:
		case StrategyAdmin:
			if !strings.HasPrefix(r.AdminSecretARN, "arn:") || !strings.Contains(r.AdminSecretARN, ":secretsmanager:") {
				return ts, invalid("field \"rotation.adminSecretArn\" must be the ARN of the secret holding the admin token (strategy \"admin\")")
			}
			if ts.TokenID == 0 {
				return ts, invalid("field \"tokenId\" is required with strategy \"admin\" (the old token is revoked by id)")
			}
		default:
			return ts, invalid("field \"rotation.strategy\" is %q; use \"self\" or \"admin\"", r.Strategy)
		}
		if r.DaysToExpiry < 0 {
			return ts, invalid("field \"rotation.daysToExpiry\" must be 1 to 365")
		}
	}
	return ts, nil
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
