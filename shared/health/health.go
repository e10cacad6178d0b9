// Package health checks what GitPulse depends on: its DynamoDB tables and
// each configured GitLab token. Results name the failing dependency and say
// what a person can do about it; they never hold a secret value.
package health

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/secrets"
	"github.com/gitpulse/gitpulse/shared/tokens"
)

// Status values.
const (
	StatusOK   = "ok"
	StatusFail = "fail"
)

// Report is the outcome of one health check run.
type Report struct {
	Status string           `json:"status"`
	Checks map[string]Check `json:"checks"`
}

// Failing returns the names of the failing checks, sorted.
func (r Report) Failing() []string {
	var names []string
	for name, c := range r.Checks {
		if c.Status != StatusOK {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Summary is one line naming each failing check and its reason.
func (r Report) Summary() string {
	var parts []string
	for _, name := range r.Failing() {
		parts = append(parts, name+": "+r.Checks[name].Reason)
	}
	return strings.Join(parts, "; ")
}

// Check is one dependency's result.
type Check struct {
	Status string `json:"status"`
	// Reason says what is wrong and what to do; empty when ok.
	Reason string `json:"reason,omitempty"`
	// DynamoDB checks.
	Tables []string `json:"tables,omitempty"`
	// GitLab token checks. The open health endpoint shows no token hash,
	// URL or secret ARN.
	ExpiresAt string     `json:"expires_at,omitempty"`
	DaysLeft  *int       `json:"days_left,omitempty"`
	CheckedAt *time.Time `json:"checked_at,omitempty"`
}

// TableDescriber is the DynamoDB call the table check needs.
type TableDescriber interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Token is one GitLab token to check: its name (the check is called
// "gitlab:<name>"), where it lives, and the client that sends it.
type Token struct {
	Name   string
	Source string
	Kind   gitpulse.TokenKind
	Client *gitlab.Client
}

// Checker runs the checks. GitLab results are cached for CacheTTL (failures
// for at most FailureTTL) so that a load of health calls does not become a
// load on GitLab; concurrent callers share one GitLab call.
type Checker struct {
	DB         TableDescriber
	Tables     []string
	Tokens     []Token
	CacheTTL   time.Duration
	FailureTTL time.Duration
	Timeout    time.Duration
	Now        func() time.Time

	once  sync.Once
	cache []*cachedCheck
}

type cachedCheck struct {
	mu    sync.Mutex
	check Check
	until time.Time
}

// Check runs every check concurrently and reports them all.
func (c *Checker) Check(ctx context.Context) Report {
	c.once.Do(func() {
		c.cache = make([]*cachedCheck, len(c.Tokens))
		for i := range c.cache {
			c.cache[i] = &cachedCheck{}
		}
	})
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	report := Report{Status: StatusOK, Checks: map[string]Check{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	set := func(name string, ch Check) {
		mu.Lock()
		defer mu.Unlock()
		report.Checks[name] = ch
		if ch.Status != StatusOK {
			report.Status = StatusFail
		}
	}
	wg.Go(func() { set("dynamodb", c.checkTables(ctx)) })
	for i, tok := range c.Tokens {
		wg.Go(func() { set("gitlab:"+tok.Name, c.cachedToken(ctx, i)) })
	}
	wg.Wait()
	return report
}

func (c *Checker) checkTables(ctx context.Context) Check {
	ch := Check{Status: StatusOK, Tables: c.Tables}
	for _, table := range c.Tables {
		out, err := c.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			var nf *ddbtypes.ResourceNotFoundException
			switch {
			case errors.As(err, &nf):
				ch.Reason = fmt.Sprintf("table %s does not exist: deploy the stack or run the local provisioning", table)
			case ctx.Err() != nil:
				ch.Reason = fmt.Sprintf("table %s: DynamoDB did not answer in time", table)
			default:
				ch.Reason = fmt.Sprintf("table %s: DynamoDB call failed (%s)", table, awsErrorCode(err))
			}
			ch.Status = StatusFail
			return ch
		}
		if st := out.Table.TableStatus; st != ddbtypes.TableStatusActive && st != ddbtypes.TableStatusUpdating {
			ch.Status, ch.Reason = StatusFail, fmt.Sprintf("table %s is %s", table, st)
			return ch
		}
	}
	return ch
}

func awsErrorCode(err error) string {
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return "unreachable"
}

func (c *Checker) cachedToken(ctx context.Context, i int) Check {
	cc := c.cache[i]
	cc.mu.Lock()
	defer cc.mu.Unlock()
	now := c.Now()
	if now.Before(cc.until) {
		return cc.check
	}
	ch := c.checkToken(ctx, c.Tokens[i])
	ttl := c.CacheTTL
	if ch.Status != StatusOK && c.FailureTTL > 0 && c.FailureTTL < ttl {
		ttl = c.FailureTTL
	}
	checkedAt := now.UTC()
	ch.CheckedAt = &checkedAt
	cc.check, cc.until = ch, now.Add(ttl)
	return ch
}

// checkToken reads the token from its source and asks GitLab about it:
// the self endpoint for access tokens (it answers for any scope and gives
// the expiry), the current user for OAuth2 tokens.
func (c *Checker) checkToken(ctx context.Context, tok Token) Check {
	ch := Check{Status: StatusOK}
	api, err := tok.Client.API(ctx)
	if err == nil {
		if tok.Kind == gitpulse.KindOAuth {
			_, _, err = api.Users.CurrentUser(gl.WithContext(ctx))
		} else {
			var pat *gl.PersonalAccessToken
			pat, _, err = api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
			if err == nil && pat.ExpiresAt != nil {
				exp := time.Time(*pat.ExpiresAt).UTC()
				days := tokens.DaysLeft(c.Now(), exp)
				ch.ExpiresAt, ch.DaysLeft = exp.Format(time.DateOnly), &days
			}
		}
	}
	if err != nil {
		ch.Status = StatusFail
		ch.Reason = "gitlab token: " + advice(gitlab.Classify(err), where(tok.Source))
	}
	return ch
}

// where names a token's source for a person without revealing the
// account: "secret gitpulse/gitlab-token" rather than the full ARN.
func where(source string) string {
	if arn, ok := strings.CutPrefix(source, "secret:"); ok {
		return "secret " + secrets.NameFromARN(arn)
	}
	return strings.TrimPrefix(source, "env:")
}

func advice(f *gitlab.Failure, source string) string {
	switch f.Kind {
	case gitlab.FailTokenExpired, gitlab.FailTokenRevoked, gitlab.FailUnauthorized:
		return f.Message + ": create a new token in GitLab and store it in " + source
	case gitlab.FailInsufficientScope:
		return f.Message + ": give the token the read_api scope (and read_repository for sync)"
	case gitlab.FailRateLimited:
		return f.Message + ": lower GITLAB_REQUESTS_PER_SECOND or wait"
	default:
		return f.Message
	}
}
