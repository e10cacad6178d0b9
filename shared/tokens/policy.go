package tokens

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Severity says how urgently a finding needs a person. Severities are
// ordered: info < warning < critical (see Rank).
type Severity string

// Severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Rank orders severities: 1 info, 2 warning, 3 critical, 0 anything else.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Worst returns the highest severity among findings, "" for none.
func Worst(findings []Finding) Severity {
	var w Severity
	for _, f := range findings {
		if f.Severity.Rank() > w.Rank() {
			w = f.Severity
		}
	}
	return w
}

// Finding codes. A code names one kind of finding and keeps its meaning
// while the finding's severity changes: CodeExpiresSoon is a warning inside
// the warning window and becomes critical inside the critical window, so a
// de-duplicating sender sees the same finding rise in severity.
const (
	CodeExpiresSoon          = "expires_soon"           // warning, critical inside the critical window
	CodeExpired              = "token_expired"          // critical
	CodeRevoked              = "token_revoked"          // critical; also a token GitLab reports inactive
	CodeUnknown              = "token_unknown"          // critical: 401 without a reason
	CodeUnreadable           = "token_unreadable"       // critical: the source could not be read
	CodeInsufficientScope    = "insufficient_scope"     // critical: GitLab answered 403 insufficient_scope
	CodeMissingScope         = "missing_scope"          // warning
	CodeExcessScope          = "excess_scope"           // warning
	CodeAPIForSelfRotation   = "api_for_self_rotation"  // info
	CodeNoExpiry             = "no_expiry"              // warning
	CodeLifetimeTooLong      = "lifetime_too_long"      // warning
	CodePersonalInProduction = "personal_in_production" // warning
	CodeDuplicate            = "duplicate_token"        // warning
	CodeRotationDisabled     = "rotation_disabled"      // warning
	CodeRotationOverdue      = "rotation_overdue"       // warning
	CodeCheckFailed          = "check_failed"           // warning: 429, 5xx, network, timeout, ...
	CodeShortLived           = "oauth_short_lived"      // info: an OAuth2 token lives hours
)

// Finding is one thing a person should know about a token. Message is a
// sentence naming the token and saying what to do; it never holds the
// token's value.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// Policy is what the deployment expects of its tokens. Start from
// DefaultPolicy and change what differs.
type Policy struct {
	// WarningDays and CriticalDays are the expiry windows: a token with
	// that many whole days left or fewer gets a warning or a critical
	// finding (days counted as DaysLeft counts them).
	WarningDays  int
	CriticalDays int
	// MaxLifetimeDays is the longest allowed span from a token's creation
	// date to its expiry date; 0 turns the check off.
	MaxLifetimeDays int
	// Environment is the deployment's environment name; personal tokens
	// are flagged when it is one of ProductionEnvironments (compared
	// case-insensitively).
	Environment            string
	ProductionEnvironments []string
	// SelfRotation is on when tokens rotate themselves: they then need
	// self_rotate (GitLab 17.9+) or api.
	SelfRotation bool
	// RequiredScopes are the scopes GitPulse reads with. A scope counts as
	// held when the token has it or a scope that includes it: api includes
	// every read scope, write_repository includes read_repository,
	// write_registry includes read_registry.
	RequiredScopes []string
	// RotationGraceDays is how late a scheduled rotation may be before it
	// is reported.
	RotationGraceDays int
}

// DefaultPolicy returns the defaults: warning at 30 days left, critical at
// 7, lifetime at most 180 days, production environments "prod" and
// "production", no self-rotation, read_api and read_repository required,
// one day of grace for rotations.
func DefaultPolicy() Policy {
	return Policy{
		WarningDays:            30,
		CriticalDays:           7,
		MaxLifetimeDays:        180,
		ProductionEnvironments: []string{"prod", "production"},
		RequiredScopes:         []string{"read_api", "read_repository"},
		RotationGraceDays:      1,
	}
}

// DaysLeft returns the whole days a token expiring on the date of
// expiresAt has left after today (UTC): it stops working at 00:00 UTC on
// that date, so the day before is its last day (0), and from the expiry
// date on the result is negative. It counts calendar days, so every moment
// of a day gives the same answer.
func DaysLeft(now, expiresAt time.Time) int {
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return int(expiryInstant(expiresAt).Sub(today)/(24*time.Hour)) - 1
}

// Expired reports whether a token expiring on the date of expiresAt has
// stopped working at now: from 00:00 UTC on that date on.
func Expired(now, expiresAt time.Time) bool {
	return !now.Before(expiryInstant(expiresAt))
}

func expiryInstant(expiresAt time.Time) time.Time {
	y, m, d := expiresAt.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// impliedBy lists, for a scope, the broader scopes that include it
// (GitLab's Gitlab::Auth abilities_for_scopes: api grants every ability,
// write_repository download and push).
var impliedBy = map[string][]string{
	"read_api":        {"api"},
	"read_user":       {"api"},
	"read_repository": {"api", "write_repository"},
	"read_registry":   {"api", "write_registry"},
	"self_rotate":     {"api"},
}

// powerfulScopes can write, administer or act for others: more than a
// read-only deployment needs. Listed in the order findings name them.
var powerfulScopes = []string{
	"api", "write_repository", "write_registry", "write_virtual_registry",
	"sudo", "admin_mode", "create_runner", "manage_runner", "k8s_proxy",
	"ai_features", "ai_workflows", "self_rotate",
}

func holds(scopes []string, want string) bool {
	if slices.Contains(scopes, want) {
		return true
	}
	return slices.ContainsFunc(impliedBy[want], func(s string) bool { return slices.Contains(scopes, s) })
}

// Evaluate returns the findings for one token's status at now, most severe
// first. It is pure: the same arguments give the same findings.
//
// A Failure from GitLab gives its own finding (401 expired, revoked or
// unknown, 403 insufficient scope, unreadable token: critical; 429, 5xx,
// network and timeouts: a "could not check" warning, since the token may
// be fine). Findings about scopes, expiry and owner are added whenever
// GitLab described the token (Known), even next to a failure.
// Duplicates across tokens need all statuses: see EvaluateAll.
func Evaluate(p Policy, s Status, now time.Time) []Finding {
	e := evaluation{p: p, s: s, now: now.UTC()}
	e.failure()
	if s.Known {
		e.state()
		e.expiry()
		e.scopes()
		e.owner()
	}
	e.rotation()
	slices.SortStableFunc(e.out, func(a, b Finding) int { return cmp.Compare(b.Severity.Rank(), a.Severity.Rank()) })
	return e.out
}

// EvaluateAll evaluates every status and adds a CodeDuplicate warning to
// each token configured in more than one place. The result is parallel to
// statuses.
func EvaluateAll(p Policy, statuses []Status, now time.Time) [][]Finding {
	out := make([][]Finding, len(statuses))
	for i, s := range statuses {
		out[i] = Evaluate(p, s, now)
	}
	for _, idx := range Duplicates(statuses) {
		for _, i := range idx {
			var others []string
			for _, j := range idx {
				if j != i {
					others = append(others, fmt.Sprintf("'%s' (%s)", statuses[j].Name, place(statuses[j].Source)))
				}
			}
			out[i] = append(out[i], Finding{
				Code:     CodeDuplicate,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("token '%s' (%s) is the same token as %s: rotating or revoking it in one place breaks the other; give each place its own token or remove the duplicate",
					statuses[i].Name, place(statuses[i].Source), strings.Join(others, " and ")),
			})
			slices.SortStableFunc(out[i], func(a, b Finding) int { return cmp.Compare(b.Severity.Rank(), a.Severity.Rank()) })
		}
	}
	return out
}

// Duplicates returns, for every token hash configured more than once, the
// indexes into statuses that hold it, in order. Statuses without a hash are
// left out.
func Duplicates(statuses []Status) map[string][]int {
	byHash := map[string][]int{}
	for i, s := range statuses {
		if s.Hash != "" {
			byHash[s.Hash] = append(byHash[s.Hash], i)
		}
	}
	for h, idx := range byHash {
		if len(idx) < 2 {
			delete(byHash, h)
		}
	}
	return byHash
}

type evaluation struct {
	p   Policy
	s   Status
	now time.Time
	out []Finding
}

// add appends a finding unless one with its code is there already.
func (e *evaluation) add(code string, sev Severity, format string, args ...any) {
	if slices.ContainsFunc(e.out, func(f Finding) bool { return f.Code == code }) {
		return
	}
	e.out = append(e.out, Finding{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (e *evaluation) name() string { return "'" + e.s.Name + "'" }

// replace says how to get a working token, by kind.
func (e *evaluation) replace() string {
	if e.s.Kind == gitpulse.KindOAuth {
		return "get a new OAuth2 access token, or better use a group access token, and store it in " + place(e.s.Source)
	}
	return "create a new token in GitLab and store it in " + place(e.s.Source)
}

func (e *evaluation) failure() {
	f := e.s.Failure
	if f == nil {
		return
	}
	switch f.Kind {
	case gitlab.FailTokenExpired:
		e.add(CodeExpired, SeverityCritical, "token %s has expired (GitLab answers 401): %s", e.name(), e.replace())
	case gitlab.FailTokenRevoked:
		e.add(CodeRevoked, SeverityCritical, "token %s was revoked in GitLab (GitLab answers 401): %s", e.name(), e.replace())
	case gitlab.FailUnauthorized:
		e.add(CodeUnknown, SeverityCritical,
			"GitLab at %s does not know token %s (401): it may belong to another instance, have been deleted, or be mistyped (or be an OAuth2 token not configured as one); %s",
			e.s.URL, e.name(), e.replace())
	case gitlab.FailInsufficientScope:
		e.add(CodeInsufficientScope, SeverityCritical,
			"GitLab refused token %s for lack of scope (403 insufficient_scope; it has %s): create a token with %s and store it in %s",
			e.name(), scopeText(e.s.Scopes), andList(e.wantScopes()), place(e.s.Source))
	case gitlab.FailToken:
		e.add(CodeUnreadable, SeverityCritical,
			"token %s could not be read from %s (%s): check that the secret or variable exists and that the function may read it",
			e.name(), place(e.s.Source), f.Message)
	default:
		e.add(CodeCheckFailed, SeverityWarning,
			"could not check token %s: %s; the token may be fine, the check runs again on its next schedule; if this repeats, check that GitLab at %s is reachable and not throttling GitPulse",
			e.name(), f.Message, e.s.URL)
	}
}

// state reports a token GitLab describes as no longer usable.
func (e *evaluation) state() {
	s := e.s
	switch {
	case s.ExpiresAt != nil && s.Kind == gitpulse.KindOAuth && !e.now.Before(*s.ExpiresAt):
		e.add(CodeExpired, SeverityCritical, "token %s expired at %s: %s",
			e.name(), s.ExpiresAt.UTC().Format(time.RFC3339), e.replace())
	case s.ExpiresAt != nil && s.Kind != gitpulse.KindOAuth && Expired(e.now, *s.ExpiresAt):
		e.add(CodeExpired, SeverityCritical, "token %s expired on %s: %s",
			e.name(), s.ExpiresAt.Format(time.DateOnly), e.replace())
	case s.Revoked:
		e.add(CodeRevoked, SeverityCritical, "token %s was revoked in GitLab: %s", e.name(), e.replace())
	case !s.Active:
		e.add(CodeRevoked, SeverityCritical, "GitLab reports token %s as inactive: %s", e.name(), e.replace())
	}
}

func (e *evaluation) expiry() {
	s := e.s
	if s.ExpiresAt == nil {
		ahead := ""
		if e.p.MaxLifetimeDays > 0 {
			ahead = fmt.Sprintf(" (at most %d days ahead)", e.p.MaxLifetimeDays)
		}
		e.add(CodeNoExpiry, SeverityWarning,
			"token %s never expires: replace it with a token that has an expiry date%s and rotate it on a schedule",
			e.name(), ahead)
		return
	}
	if s.Kind == gitpulse.KindOAuth {
		if e.now.Before(*s.ExpiresAt) {
			e.add(CodeShortLived, SeverityInfo,
				"token %s is an OAuth2 access token that expires at %s: make sure whatever stores it refreshes it in time, or use a group access token",
				e.name(), s.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return
	}
	exp := expiryInstant(*s.ExpiresAt)
	if Expired(e.now, exp) {
		return // reported by state
	}
	days := DaysLeft(e.now, exp)
	date := exp.Format(time.DateOnly)
	switch {
	case days <= e.p.CriticalDays:
		e.add(CodeExpiresSoon, SeverityCritical, "token %s expires %s (%s): rotate it or create a new one now",
			e.name(), inDays(days), date)
	case days <= e.p.WarningDays:
		e.add(CodeExpiresSoon, SeverityWarning, "token %s expires %s (%s): rotate it or create a new one before then",
			e.name(), inDays(days), date)
	}
	if e.p.MaxLifetimeDays > 0 && s.CreatedAt != nil {
		created := expiryInstant(*s.CreatedAt) // its UTC date
		if life := int(exp.Sub(created) / (24 * time.Hour)); life > e.p.MaxLifetimeDays {
			e.add(CodeLifetimeTooLong, SeverityWarning,
				"token %s lives %d days (%s to %s), more than the policy maximum of %d: replace it with a token that expires within %d days of its creation",
				e.name(), life, created.Format(time.DateOnly), date, e.p.MaxLifetimeDays, e.p.MaxLifetimeDays)
		}
	}
}

// inDays phrases whole days left: "in 12 days", "in 1 day", "in less than
// a day".
func inDays(days int) string {
	switch days {
	case 0:
		return "in less than a day, at 00:00 UTC"
	case 1:
		return "in 1 day"
	}
	return fmt.Sprintf("in %d days", days)
}

// wantScopes is the scope set a well-made token has under the policy.
func (e *evaluation) wantScopes() []string {
	want := slices.Clone(e.p.RequiredScopes)
	if e.p.SelfRotation && !slices.Contains(want, "self_rotate") {
		want = append(want, "self_rotate")
	}
	return want
}

func (e *evaluation) scopes() {
	s := e.s
	var missing []string
	for _, want := range e.p.RequiredScopes {
		if !holds(s.Scopes, want) {
			missing = append(missing, want)
		}
	}
	if e.p.SelfRotation && !holds(s.Scopes, "self_rotate") && !slices.Contains(missing, "self_rotate") {
		missing = append(missing, "self_rotate")
	}
	if len(missing) > 0 {
		e.add(CodeMissingScope, SeverityWarning,
			"token %s lacks %s (it has %s): GitLab cannot add scopes to a token, so create a new one with %s and store it in %s",
			e.name(), strings.Join(missing, " and "), scopeText(s.Scopes), andList(e.wantScopes()), place(s.Source))
	}

	// api as the only way to self-rotate is needed, not excess.
	apiForRotation := e.p.SelfRotation && slices.Contains(s.Scopes, "api") && !slices.Contains(s.Scopes, "self_rotate")
	var excess []string
	for _, sc := range powerfulScopes {
		switch {
		case !slices.Contains(s.Scopes, sc), slices.Contains(e.p.RequiredScopes, sc):
		case sc == "self_rotate" && e.p.SelfRotation:
		case sc == "api" && apiForRotation:
		default:
			excess = append(excess, sc)
		}
	}
	if len(excess) > 0 {
		e.add(CodeExcessScope, SeverityWarning,
			"token %s has more scope than GitPulse needs (%s): a leak would let it write to GitLab; replace it with a token that has only %s",
			e.name(), strings.Join(excess, ", "), andList(e.wantScopes()))
	}
	if apiForRotation {
		e.add(CodeAPIForSelfRotation, SeverityInfo,
			"token %s holds api only to rotate itself: on GitLab 17.9 or later, give its replacement self_rotate instead of api, which can rotate the token and nothing else",
			e.name())
	}
}

func (e *evaluation) owner() {
	s := e.s
	if s.Kind != gitpulse.KindPersonal || s.Bot || !e.production() {
		return
	}
	who := "a person"
	if s.Username != "" {
		who = "user '" + s.Username + "'"
	}
	e.add(CodePersonalInProduction, SeverityWarning,
		"token %s is a personal access token of %s in the production environment '%s': GitPulse stops working when that person leaves or loses access; use a group access token instead",
		e.name(), who, e.p.Environment)
}

func (e *evaluation) production() bool {
	env := strings.TrimSpace(e.p.Environment)
	return env != "" && slices.ContainsFunc(e.p.ProductionEnvironments, func(p string) bool {
		return strings.EqualFold(strings.TrimSpace(p), env)
	})
}

func (e *evaluation) rotation() {
	r := e.s.Rotation
	if r == nil {
		return
	}
	switch {
	case !r.Enabled:
		e.add(CodeRotationDisabled, SeverityWarning,
			"rotation is not enabled on %s, which holds token %s: turn on its rotation schedule with the token-rotate function",
			place(e.s.Source), e.name())
	case r.LastRotated == nil:
		e.add(CodeRotationOverdue, SeverityWarning,
			"%s, which holds token %s, has rotation enabled but was never rotated: check the token-rotate function's logs and the secret's rotation status",
			place(e.s.Source), e.name())
	case r.EveryDays > 0:
		due := r.LastRotated.Add(time.Duration(r.EveryDays+e.p.RotationGraceDays) * 24 * time.Hour)
		if e.now.After(due) {
			ago := int(e.now.Sub(*r.LastRotated) / (24 * time.Hour))
			e.add(CodeRotationOverdue, SeverityWarning,
				"token %s was last rotated on %s, %d days ago, but %s rotates every %d days: check the token-rotate function's logs and the secret's rotation status",
				e.name(), r.LastRotated.UTC().Format(time.DateOnly), ago, place(e.s.Source), r.EveryDays)
		}
	}
}

// place names a token source for a person: "Secrets Manager secret <arn>",
// "environment variable GITLAB_TOKENS[1]", "file /run/secrets/gitlab".
func place(source string) string {
	kind, rest, ok := strings.Cut(source, ":")
	if !ok {
		return source
	}
	switch kind {
	case "secret":
		return "Secrets Manager secret " + rest
	case "env":
		return "environment variable " + rest
	case "file":
		return "file " + rest
	}
	return source
}

// andList joins words as "a", "a and b", "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func scopeText(scopes []string) string {
	if len(scopes) == 0 {
		return "no scopes GitLab showed"
	}
	return strings.Join(scopes, ", ")
}
