// Package sim simulates the parts of GitLab's REST API that GitPulse uses.
//
// A *Sim is an http.Handler. It answers GitLab routes under /api/v4 and
// /oauth the way GitLab 17.9 does (status codes, JSON bodies, offset
// pagination and rate limit headers), and offers a control API under /-/sim/
// to create users and tokens, revoke tokens (now or at a given moment) or
// expire them, change the rate limit, inject faults and read request
// counts. Every time-dependent rule (expiry, scheduled revocation, rate
// limit windows, last use) reads the clock given to New; only fault latency
// takes real time.
//
// It models users (some of them instance administrators), groups (nested),
// projects and memberships with GitLab's roles, because the token routes
// check roles: a group's access tokens are managed by its Owners, a
// project's by its Maintainers and Owners, personal tokens of other users
// by administrators. Every group and project is private: only members (of
// it, an ancestor or, for groups, a descendant) and administrators see it.
//
// It also holds course data, one file per GitLab resource: the model in
// course.go, commits.go, mergerequests.go, issues.go and pipelines.go; the
// read routes in courseapi.go (routing and shared helpers) and
// groupsapi.go, projectsapi.go, membersapi.go, commitsapi.go,
// mergerequestsapi.go, notesapi.go, approvalsapi.go, issuesapi.go and
// pipelinesapi.go; the generator in generate.go, generateteam.go and
// activity.go. Each project's repository (commits with stats on branches, merge commits),
// merge requests with notes and approvals, issues and pipelines, kept
// sorted per project so the time filters are binary searches. Add* and
// the state changes (MergeMR, CloseIssue, SetPipelineStatus, ...) move
// updated_at and last_activity_at as GitLab does; Commits, MergeRequests,
// Issues, Pipelines, Members, GroupProjects and Groups read the truth;
// GenerateCourse builds a seeded, realistic course and AddActivity adds
// changes between syncs.
//
// Routes: GET /api/v4/user, /api/v4/users, /api/v4/users/:id, /api/v4/version and
// /oauth/token/info; personal access tokens: GET, DELETE
// /api/v4/personal_access_tokens/self, POST .../self/rotate, GET
// /api/v4/personal_access_tokens, GET, DELETE .../:id, POST .../:id/rotate,
// POST /api/v4/users/:user_id/personal_access_tokens; group and project
// access tokens: GET, POST /api/v4/groups/:id/access_tokens, GET, DELETE
// .../:token_id, POST .../:token_id/rotate, POST .../self/rotate, and the
// same under /api/v4/projects/:id; course data, read-only: GET
// /api/v4/groups/:id, .../subgroups, .../descendant_groups, .../projects,
// .../members, .../members/all, .../merge_requests, .../issues; GET
// /api/v4/projects/:id, .../members, .../members/all,
// .../repository/commits, .../repository/commits/:sha, .../merge_requests,
// .../merge_requests/:merge_request_iid and its /notes, /approvals,
// /closes_issues and /commits, .../issues, .../issues/:issue_iid,
// .../pipelines, .../pipelines/:pipeline_id; project webhooks: GET, POST
// /api/v4/projects/:id/hooks and GET, PUT, DELETE .../hooks/:hook_id, whose
// events the sender in hooks.go POSTs when activity is added. Any other /api/v4 path
// answers 404 {"error":"404 Not Found"}.
//
// It is also GitLab's OAuth 2.0 and OpenID Connect provider (oauth.go,
// oauthapi.go, oidc.go) for applications registered with AddOAuthApp (or
// POST /-/sim/oauth/applications): GET /.well-known/openid-configuration,
// GET /oauth/discovery/keys, GET and POST /oauth/authorize (a sign-in page
// listing the users instead of GitLab's login), POST /oauth/token
// (authorization_code with PKCE, refresh_token), POST /oauth/revoke and GET,
// POST /oauth/userinfo. The access tokens it issues are OAuth tokens of the
// API, with the scopes granted.
package sim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// TokenKind is the kind of an access token.
type TokenKind string

// The token kinds the simulator knows. Group and project tokens belong to bot
// users, as in GitLab.
const (
	KindPersonal TokenKind = "personal"
	KindGroup    TokenKind = "group"
	KindProject  TokenKind = "project"
	KindOAuth    TokenKind = "oauth"
)

// oauthLifetime is how long GitLab's OAuth access tokens live.
const oauthLifetime = 2 * time.Hour

// errNotFound marks a lookup of an unknown user or token.
var errNotFound = errors.New("not found")

// User is a GitLab user. Bot is true for the users behind group and project
// access tokens; Admin for instance administrators (see SetAdmin).
type User struct {
	ID       int    `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Bot      bool   `json:"bot"`
	Admin    bool   `json:"admin"`
	// PublicEmail is the e-mail the user chose to show on their profile
	// (GET /users/:id shows it; "" for none).
	PublicEmail string `json:"public_email,omitempty"`
}

// TokenSpec describes a token to create with AddToken.
type TokenSpec struct {
	// Kind defaults to KindPersonal.
	Kind TokenKind
	// UserID is the owner of a personal or OAuth token; 0 creates a new human
	// user. It is ignored for group and project tokens.
	UserID int
	// GroupID and ProjectID name the resource of a group or project token.
	// Such a token gets a new bot user named group_<id>_bot_<8 hex> or
	// project_<id>_bot_<8 hex>, made a member of the group or project with
	// AccessLevel. A group or project that does not exist yet is created
	// with the path group-<id> or project-<id> (a project outside any
	// group).
	GroupID, ProjectID int
	// AccessLevel is the bot user's role for a group or project token: 10,
	// 15, 20, 30, 40 or 50; 0 means 40 (Maintainer), GitLab's default. It is
	// ignored for personal and OAuth tokens.
	AccessLevel int
	Name        string
	Description string
	// Scopes must not be empty.
	Scopes []string
	// ExpiresAt is the expiry. For personal, group and project tokens only
	// its date (in its own location) counts: the token dies at 00:00 UTC on
	// that date. nil means no expiry. For OAuth tokens it is the exact
	// instant, and nil means two hours from now.
	ExpiresAt *time.Time
	// Value is the secret; empty generates "glpat-" and 20 letters or digits
	// (64 hex digits for OAuth tokens). Values must be unique.
	Value string
}

// Token is a token as the simulator stores it. ExpiresAt is the instant the
// token stops working (00:00 UTC of the expiry date for non-OAuth tokens).
// Revoked tells whether the token was revoked when the copy was made;
// RevokeAt is a revocation scheduled with RevokeTokenAt, which takes effect
// once the simulator's clock reaches it.
//
// GroupID or ProjectID name the group or project of a group or project
// token, and AccessLevel is its bot user's role there when the copy was
// made (0 for personal and OAuth tokens). Rotation links tokens:
// PreviousID is the token this one replaced (0 if none) and FamilyID the
// first token of the chain (the token's own ID if it replaced none).
type Token struct {
	ID                 int
	Value              string
	Kind               TokenKind
	UserID             int
	GroupID, ProjectID int
	AccessLevel        int
	Name               string
	Description        string
	Scopes             []string
	ExpiresAt          *time.Time
	Revoked            bool
	RevokeAt           *time.Time
	CreatedAt          time.Time
	LastUsedAt         *time.Time
	FamilyID           int
	PreviousID         int
}

// expired reports whether the token is past its expiry at now.
func (t *Token) expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// revoked reports whether the token is revoked at now: revoked already, or
// its scheduled revocation is due.
func (t *Token) revoked(now time.Time) bool {
	return t.Revoked || (t.RevokeAt != nil && !now.Before(*t.RevokeAt))
}

// clone returns a copy that shares no memory with t.
func (t *Token) clone() Token {
	c := *t
	c.Scopes = slices.Clone(t.Scopes)
	if t.ExpiresAt != nil {
		e := *t.ExpiresAt
		c.ExpiresAt = &e
	}
	if t.RevokeAt != nil {
		r := *t.RevokeAt
		c.RevokeAt = &r
	}
	if t.LastUsedAt != nil {
		u := *t.LastUsedAt
		c.LastUsedAt = &u
	}
	return c
}

// userRecord is a stored user.
type userRecord struct {
	User
	createdAt time.Time
}

// tokenRecord is a stored token. appUID is the OAuth application's uid;
// refresh is an OAuth token's refresh token and previous the ID of the
// OAuth token it was refreshed from, until its first use revokes that one
// (oauth.go).
type tokenRecord struct {
	Token
	appUID   string
	refresh  string
	previous int
}

// Option configures a Sim.
type Option func(*Sim)

// WithClock makes the simulator read time from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Sim) { s.now = now }
}

// WithRateLimit sets the /api/v4 limit in requests per minute, counted per
// token owner (per remote IP for requests without a usable token) in
// clock-aligned one-minute windows. 0, the default, turns throttling off and
// leaves out the RateLimit headers, as on a self-managed instance with
// default settings.
func WithRateLimit(perMinute int) Option {
	return func(s *Sim) { s.initialRate = perMinute }
}

// WithGitLabComRateLimitHeaders makes the simulator send the RateLimit
// headers on every answer, as GitLab.com does; by default it answers as a
// self-managed instance, with the headers on 429 answers only
// (SetRateLimitHeadersOnEveryAnswer says where this was checked).
func WithGitLabComRateLimitHeaders() Option {
	return func(s *Sim) { s.rateEveryAnswer = true }
}

// Sim is a simulated GitLab instance. Its methods are safe for concurrent use.
type Sim struct {
	now         func() time.Time
	initialRate int
	mux         *http.ServeMux

	mu          sync.Mutex
	users       map[int]*userRecord
	tokens      map[int]*tokenRecord
	byValue     map[string]*tokenRecord
	groups      map[int]*Group
	projects    map[int]*Project
	members     map[memberKey]int // access level by membership
	nextUser    int
	nextToken   int
	nextGroup   int
	nextProject int
	ratePerMin  int
	windows     map[string]*window
	faults      []Fault
	counts      map[string]int

	// rateEveryAnswer: RateLimit headers on every answer, as GitLab.com
	// sends them; false (self-managed) sends them on 429 only (ratelimit.go).
	rateEveryAnswer bool

	// hookAutoDisable: GitLab's auto-disabling of failing project hooks
	// (hookdisable.go), off as on a self-managed instance by default.
	hookAutoDisable bool

	// Course data (course.go): each project's repository, merge requests,
	// issues and pipelines, each group's creation time, the instance-wide
	// IDs handed out next, and the courses GenerateCourse made.
	data         map[int]*projectData
	groupCreated map[int]time.Time
	nextMR       int
	nextIssue    int
	nextNote     int
	nextPipeline int
	courses      map[int]Course

	// hooks are the project webhooks and their sender (hooks.go).
	hooks *hookState

	// oauth is the OAuth provider's applications, codes and refresh
	// tokens (oauth.go); key signs its ID tokens (oidc.go) and, made on
	// first use, survives Reset.
	oauth *oauthState
	key   signingKey
}

// New returns an empty simulator: no users, no tokens, no faults.
func New(opts ...Option) *Sim {
	s := &Sim{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.mux = s.routes()
	s.Reset()
	return s
}

// ServeHTTP answers GitLab API, OAuth and control requests.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Reset forgets every user, token, group, project, membership, commit,
// merge request, issue, pipeline, fault, rate limit window and request
// count, restarts IDs at 1 and restores the rate limit given to New.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = map[int]*userRecord{}
	s.tokens = map[int]*tokenRecord{}
	s.byValue = map[string]*tokenRecord{}
	s.groups = map[int]*Group{}
	s.projects = map[int]*Project{}
	s.members = map[memberKey]int{}
	s.nextUser, s.nextToken, s.nextGroup, s.nextProject = 1, 1, 1, 1
	s.ratePerMin = s.initialRate
	s.windows = map[string]*window{}
	s.faults = nil
	s.counts = map[string]int{}
	s.data = map[int]*projectData{}
	s.groupCreated = map[int]time.Time{}
	s.nextMR, s.nextIssue, s.nextNote, s.nextPipeline = 1, 1, 1, 1
	s.courses = map[int]Course{}
	s.hooks = newHookState()
	s.oauth = newOAuthState()
}

// AddUser creates a user and returns it.
func (s *Sim) AddUser(username, name string, bot bool) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(username, name, bot).User
}

// User returns the user with the given id; the zero User for an unknown
// one.
func (s *Sim) User(id int) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[id]; u != nil {
		return u.User
	}
	return User{}
}

func (s *Sim) addUserLocked(username, name string, bot bool) *userRecord {
	u := &userRecord{
		User:      User{ID: s.nextUser, Username: username, Name: name, Bot: bot},
		createdAt: s.now().UTC(),
	}
	s.nextUser++
	s.users[u.ID] = u
	return u
}

// AddToken creates a token as described by spec and returns it with its
// value. It fails for an unknown kind or owner, a missing group or project
// ID, an invalid access level, empty scopes, or a value already in use;
// nothing is stored then.
func (s *Sim) AddToken(spec TokenSpec) (Token, error) {
	if spec.Kind == "" {
		spec.Kind = KindPersonal
	}
	if len(spec.Scopes) == 0 {
		return Token{}, errors.New("add token: scopes must not be empty")
	}
	value := spec.Value
	if value == "" {
		value = newValue(spec.Kind)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	if _, dup := s.byValue[value]; dup {
		return Token{}, errors.New("add token: value already in use")
	}

	t := Token{
		Value:       value,
		Kind:        spec.Kind,
		Name:        spec.Name,
		Description: spec.Description,
		Scopes:      slices.Clone(spec.Scopes),
	}
	switch {
	case spec.Kind == KindOAuth && spec.ExpiresAt == nil:
		e := now.Add(oauthLifetime)
		t.ExpiresAt = &e
	case spec.Kind == KindOAuth:
		e := spec.ExpiresAt.UTC()
		t.ExpiresAt = &e
	case spec.ExpiresAt != nil:
		e := dateOf(*spec.ExpiresAt)
		t.ExpiresAt = &e
	}

	switch spec.Kind {
	case KindPersonal, KindOAuth:
		switch {
		case spec.UserID == 0:
			t.UserID = s.addUserLocked(fmt.Sprintf("user%d", s.nextUser), fmt.Sprintf("User %d", s.nextUser), false).ID
		case s.users[spec.UserID] == nil:
			return Token{}, fmt.Errorf("add token: user %d: %w", spec.UserID, errNotFound)
		default:
			t.UserID = spec.UserID
		}
		rec := s.storeTokenLocked(t, now)
		if spec.Kind == KindOAuth {
			rec.appUID = randomHex(32)
		}
		return s.copyLocked(rec, now), nil
	case KindGroup, KindProject:
		id := spec.GroupID
		if spec.Kind == KindProject {
			id = spec.ProjectID
		}
		if id <= 0 {
			return Token{}, fmt.Errorf("add token: a %s token needs a positive %s_id", spec.Kind, spec.Kind)
		}
		level := spec.AccessLevel
		if level == 0 {
			level = levelMaintainer
		}
		if !validRole(level) {
			return Token{}, fmt.Errorf("add token: access level %d: want one of %v", level, roles)
		}
		if spec.Kind == KindGroup {
			s.ensureGroupLocked(id)
		} else {
			s.ensureProjectLocked(id)
		}
		botName := spec.Name
		if botName == "" {
			botName = fmt.Sprintf("%s %d bot", spec.Kind, id)
		}
		return s.copyLocked(s.addBotTokenLocked(spec.Kind, id, botName, level, t, now), now), nil
	}
	return Token{}, fmt.Errorf("add token: unknown kind %q", spec.Kind)
}

// RevokeToken revokes a token. Revoking twice is harmless. It fails only
// for an unknown ID.
func (s *Sim) RevokeToken(id int) error {
	_, err := s.updateToken(id, revokeAt(time.Time{}))
	return err
}

// RevokeTokenAt revokes a token at the instant at, read on the simulator's
// clock: the token works as before until the clock reaches at, and answers
// every request as revoked from then on (GitLab's 401 "Token was revoked").
// An at that is not after the clock's now revokes at once, like
// RevokeToken. A revocation is never postponed: when the token is already
// revoked, or due to be revoked before at, the call changes nothing. It
// fails only for an unknown ID.
func (s *Sim) RevokeTokenAt(id int, at time.Time) error {
	_, err := s.updateToken(id, revokeAt(at))
	return err
}

// revokeAt returns the change that revokes a token at the instant at (at
// once when at is not after the time of the change), keeping an earlier
// revocation.
func revokeAt(at time.Time) func(*Token, time.Time) {
	return func(t *Token, now time.Time) {
		switch {
		case t.revoked(now):
		case !at.After(now):
			t.Revoked = true
		case t.RevokeAt == nil || at.Before(*t.RevokeAt):
			a := at.UTC()
			t.RevokeAt = &a
		}
	}
}

// ExpireToken moves a token's expiry to yesterday (UTC date), so it is
// expired from now on. It fails only for an unknown ID.
func (s *Sim) ExpireToken(id int) error {
	_, err := s.updateToken(id, expireYesterday)
	return err
}

func expireYesterday(t *Token, now time.Time) {
	e := dateOf(now.UTC()).AddDate(0, 0, -1)
	t.ExpiresAt = &e
}

// updateToken applies change to the token with the given ID and returns a
// copy of the result as it stands at the clock's now.
func (s *Sim) updateToken(id int, change func(*Token, time.Time)) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[id]
	if t == nil {
		return Token{}, fmt.Errorf("token %d: %w", id, errNotFound)
	}
	now := s.now()
	change(&t.Token, now)
	return s.copyLocked(t, now), nil
}

// SetRateLimit changes the limit in requests per minute; 0 turns throttling
// off. Counts already made in the current window are kept.
func (s *Sim) SetRateLimit(perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ratePerMin = perMinute
}

// RequestCounts returns how many requests reached each GitLab route, keyed
// "METHOD /route/pattern" with path parameters in GitLab's :name notation
// (for example "GET /api/v4/user" or
// "POST /api/v4/groups/:id/access_tokens/:token_id/rotate"). Faulted,
// throttled and rejected requests count too. Paths under /api/v4 that match
// no route count under "METHOD /api/v4/*".
func (s *Sim) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newValue generates a token value of the given kind.
func newValue(kind TokenKind) string {
	if kind == KindOAuth {
		return randomHex(32)
	}
	b := make([]byte, 20)
	rand.Read(b) // Never fails since Go 1.24.
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return "glpat-" + string(b)
}

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // Never fails since Go 1.24.
	return hex.EncodeToString(b)
}
