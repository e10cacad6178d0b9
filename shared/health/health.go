// Package health checks what GitPulse depends on: its DynamoDB tables and
// each configured GitLab token. Results name the failing dependency and say
// what a person can do about it; they never hold a secret value.
package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Status values, of a check and of the whole report. A report is failing
// only when GitPulse cannot serve: a table is unreachable, or no
// configured token can serve reads. A throttled or unreachable GitLab, a
// rotation under way, or one broken token among working ones is degraded:
// reads go on (the data routes serve what sync stored), so a monitor on
// the health endpoint is not paged for them.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusFail     = "failing"
)

// Report is the outcome of one health check run.
type Report struct {
	Status string           `json:"status"`
	Checks map[string]Check `json:"checks"`
}

// PublicReport is what the health endpoint shows a caller without an
// admin key: the status and, per check, a neutral name, its status and a
// short reason. No table, secret or token name, ARN, expiry or error text.
type PublicReport struct {
	Status string                 `json:"status"`
	Checks map[string]PublicCheck `json:"checks"`
}

// PublicCheck is one check of a PublicReport.
type PublicCheck struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Public returns the report without anything that names a resource: the
// checks are "dynamodb" and "gitlab" (or "gitlab-1", "gitlab-2", … in the
// order of their names when several tokens are configured).
func (r Report) Public() PublicReport {
	out := PublicReport{Status: r.Status, Checks: map[string]PublicCheck{}}
	var tokens []string
	for name := range r.Checks {
		if strings.HasPrefix(name, "gitlab:") {
			tokens = append(tokens, name)
		}
	}
	sort.Strings(tokens)
	for name, c := range r.Checks {
		public := name
		if i := slices.Index(tokens, name); i >= 0 {
			public = "gitlab"
			if len(tokens) > 1 {
				public = fmt.Sprintf("gitlab-%d", i+1)
			}
		}
		out.Checks[public] = PublicCheck{Status: c.Status, Reason: c.Short}
	}
	return out
}

// Failing returns the names of the checks that are not ok, sorted.
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
	// Short is the reason in a few words, naming no resource: what the
	// open health endpoint shows.
	Short string `json:"-"`
	// ServedBy is, for a token read from Secrets Manager, where the token
	// readers send comes from: AWSCURRENT, or a fallback (AWSPENDING,
	// AWSPREVIOUS, an unlabelled version) while a rotation is under way.
	ServedBy string `json:"served_by,omitempty"`
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
	// Client sends the token as readers do, with their fallback to the
	// provider's other tokens on a 401.
	Client *gitlab.Client
	// Serving, when set, tells where the provider's token comes from
	// (secrets.Provider.Serving).
	Serving func() string
	// Rotating, when set, tells whether a rotation is open and since when
	// (secrets.Provider.Rotating).
	Rotating func() (time.Time, bool)
}

// RotationWindow is how long after a rotation opened a refused token is
// read as the rotation's window (the self strategy revokes the old token
// a moment before the new one reaches AWSPENDING): degraded, not failing.
// A rotation open longer with no working token is an outage.
const RotationWindow = 2 * time.Minute

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

	report := Report{Checks: map[string]Check{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	set := func(name string, ch Check) {
		mu.Lock()
		defer mu.Unlock()
		report.Checks[name] = ch
	}
	wg.Go(func() { set("dynamodb", c.checkTables(ctx)) })
	for i, tok := range c.Tokens {
		wg.Go(func() { set("gitlab:"+tok.Name, c.cachedToken(ctx, i)) })
	}
	wg.Wait()
	report.Status = overall(report.Checks)
	return report
}

// overall is the report's status: failing when the tables fail or every
// token fails (nothing can serve reads), degraded when any check is not
// ok, else ok.
func overall(checks map[string]Check) string {
	status, tokens, tokensFailing := StatusOK, 0, 0
	for name, ch := range checks {
		if strings.HasPrefix(name, "gitlab:") {
			tokens++
			if ch.Status == StatusFail {
				tokensFailing++
			}
		} else if ch.Status == StatusFail {
			return StatusFail
		}
		if ch.Status != StatusOK {
			status = StatusDegraded
		}
	}
	if tokens > 0 && tokensFailing == tokens {
		return StatusFail
	}
	return status
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
			ch.Status, ch.Short = StatusFail, "a table is unreachable"
			return ch
		}
		if st := out.Table.TableStatus; st != ddbtypes.TableStatusActive && st != ddbtypes.TableStatusUpdating {
			ch.Status, ch.Reason, ch.Short = StatusFail, fmt.Sprintf("table %s is %s", table, st), "a table is not active"
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

// checkToken reads the token from its source and asks GitLab about it,
// the way readers do (a 401 makes the client re-read the secret and try
// AWSPENDING, AWSPREVIOUS and newer versions): the self endpoint for
// access tokens (it answers for any scope and gives the expiry), the
// current user for OAuth2 tokens. A token readers can use is ok, or
// degraded when it is not AWSCURRENT's (a rotation under way); a throttled
// or unreachable GitLab is degraded; only a token GitLab refuses, or one
// that cannot be read, fails.
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
	if tok.Serving != nil {
		ch.ServedBy = tok.Serving()
	}
	if err == nil {
		if ch.ServedBy != "" && ch.ServedBy != secrets.StageCurrent {
			ch.Status, ch.Short = StatusDegraded, "rotation in progress: reads use the new token"
			ch.Reason = "AWSCURRENT's token is refused or unreadable and reads use " + ch.ServedBy + " of " + where(tok.Source) +
				": a rotation is under way or was interrupted. Nothing is down; the rotation's next run finishes it or repairs the labels (aws secretsmanager rotate-secret; make rotate-now locally)"
		}
		return ch
	}
	f := gitlab.Classify(err)
	switch f.Kind {
	case gitlab.FailRateLimited:
		ch.Status, ch.Short = StatusDegraded, "GitLab is throttling requests"
		ch.Reason = "gitlab token: " + f.Message + ": GitLab rate-limits GitPulse; calls wait for Retry-After and resume. Lower GITLAB_REQUESTS_PER_SECOND if it lasts"
	case gitlab.FailServer, gitlab.FailTimeout, gitlab.FailNetwork:
		ch.Status, ch.Short = StatusDegraded, "GitLab did not answer"
		ch.Reason = "gitlab token: " + f.Message + ": the data routes serve what sync stored; sync resumes when GitLab answers"
	default:
		if since, open := rotating(tok); open && refused(f) && c.Now().Sub(since) < RotationWindow {
			ch.Status, ch.Short = StatusDegraded, "rotation in progress: waiting for the new token"
			ch.Reason = "gitlab token: " + f.Message + " while a rotation of " + where(tok.Source) + " is open (since " + since.UTC().Format(time.RFC3339) +
				"): its new token is on the way to AWSPENDING. It fails if no token works " + RotationWindow.String() + " after the rotation opened"
			return ch
		}
		ch.Status, ch.Short = StatusFail, short(f)
		ch.Reason = "gitlab token: " + advice(f, tok.Source)
	}
	return ch
}

func rotating(tok Token) (time.Time, bool) {
	if tok.Rotating == nil {
		return time.Time{}, false
	}
	return tok.Rotating()
}

func refused(f *gitlab.Failure) bool {
	switch f.Kind {
	case gitlab.FailTokenExpired, gitlab.FailTokenRevoked, gitlab.FailUnauthorized:
		return true
	}
	return false
}

// short says a failing token's problem without naming anything.
func short(f *gitlab.Failure) string {
	switch f.Kind {
	case gitlab.FailTokenExpired, gitlab.FailTokenRevoked, gitlab.FailUnauthorized:
		return "GitLab refuses the token"
	case gitlab.FailInsufficientScope, gitlab.FailForbidden:
		return "the token lacks a scope or role"
	case gitlab.FailToken:
		return "the token cannot be read"
	default:
		return "the token check failed"
	}
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
		if strings.HasPrefix(source, "secret:") {
			return f.Message + ", and no other version of the secret holds a token GitLab accepts: create a new token in GitLab and store it in " + where(source) + " (aws secretsmanager put-secret-value); the next rotation starts from it"
		}
		return f.Message + ": create a new token in GitLab and store it in " + where(source)
	case gitlab.FailInsufficientScope:
		return f.Message + ": give the token the read_api scope (and read_repository for sync)"
	default:
		return f.Message
	}
}
