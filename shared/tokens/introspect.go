package tokens

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// Introspect asks GitLab what tok is and returns its Status, checked at now.
// It never fails: every way GitLab (or the token's source) can let it down
// ends up classified in Status.Failure, with whatever was learnt before.
//
// client must send exactly tok: build it with
// gitlab.New(gitlab.Options{Provider: gitlab.StaticToken(tok), NoFallback: true, ...})
// so that a 401 is not papered over by a fallback token. Pass a context with
// a deadline.
//
// Calls, all through the client and so rate limited and audited:
//   - personal, group and project tokens: GET /personal_access_tokens/self
//     (any scope) for scopes, expiry, active/revoked, creation and last use,
//     then GET /user (read_user, read_api or api) for the owner: a bot with
//     the username group_<id>_bot_... or project_<id>_bot_... holds a group
//     or project token; anyone else a personal one.
//   - OAuth2 tokens (tok.Kind is KindOAuth, or the self endpoint answered
//     400): GET /oauth/token/info for owner, scopes, creation and expiry
//     (now + expires_in), then GET /user.
//
// The kind is never guessed from the token's prefix.
func Introspect(ctx context.Context, client *gitlab.Client, tok gitpulse.Token, now time.Time) Status {
	s := Status{
		Name:      tok.Name,
		Source:    tok.Source,
		URL:       tok.URL,
		Hash:      tok.Hash(),
		CheckedAt: now.UTC(),
	}
	api, err := client.API(ctx)
	if err != nil {
		s.Failure = gitlab.Classify(err)
		return s
	}

	oauth := tok.Kind == gitpulse.KindOAuth
	if !oauth {
		pat, _, err := api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
		if f := gitlab.Classify(err); f != nil {
			// GitLab answers 400 to an OAuth2 token here: it authenticated,
			// so the client sends it as a Bearer token already.
			if f.Status != http.StatusBadRequest {
				s.Failure = f
				return s
			}
			oauth = true
		} else {
			s.fromPAT(pat)
		}
	}
	if oauth {
		s.Kind = gitpulse.KindOAuth
		if f := s.fromTokenInfo(ctx, api, now); f != nil {
			s.Failure = f
			return s
		}
	}

	user, _, err := api.Users.CurrentUser(gl.WithContext(ctx))
	if f := gitlab.Classify(err); f != nil {
		s.Failure = f
		return s
	}
	s.fromUser(user)
	return s
}

// fromPAT fills in what the self endpoint tells.
func (s *Status) fromPAT(pat *gl.PersonalAccessToken) {
	s.Known = true
	s.TokenID = pat.ID
	s.TokenName = pat.Name
	s.UserID = pat.UserID
	s.Scopes = append([]string(nil), pat.Scopes...)
	s.Active = pat.Active
	s.Revoked = pat.Revoked
	if pat.ExpiresAt != nil {
		y, m, d := time.Time(*pat.ExpiresAt).Date()
		e := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		s.ExpiresAt = &e
	}
	s.CreatedAt = utc(pat.CreatedAt)
	s.LastUsedAt = utc(pat.LastUsedAt)
}

// tokenInfo is Doorkeeper's answer to GET /oauth/token/info. scope is an
// array on GitLab, a space-separated string on some Doorkeeper versions;
// expires_in is null for the non-expiring tokens of old instances.
type tokenInfo struct {
	ResourceOwnerID int64           `json:"resource_owner_id"`
	Scope           json.RawMessage `json:"scope"`
	ExpiresIn       *int64          `json:"expires_in"`
	CreatedAt       int64           `json:"created_at"`
}

// fromTokenInfo asks GET /oauth/token/info (outside /api/v4, with no
// client-go wrapper) through the same client, so the request carries the
// Bearer header and passes the limiter and the interceptors.
func (s *Status) fromTokenInfo(ctx context.Context, api *gl.Client, now time.Time) *gitlab.Failure {
	u := api.BaseURL()
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v4") + "/oauth/token/info"
	u.RawPath = ""
	req, err := api.NewRequestToURL(http.MethodGet, u, nil, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return &gitlab.Failure{Kind: gitlab.FailBadRequest, Message: "could not build the OAuth token info request", Err: err}
	}
	var info tokenInfo
	if _, err := api.Do(req, &info); err != nil {
		return gitlab.Classify(err)
	}
	s.Known = true
	s.Active = true
	s.UserID = info.ResourceOwnerID
	s.Scopes = scopeList(info.Scope)
	if info.ExpiresIn != nil {
		e := now.UTC().Add(time.Duration(*info.ExpiresIn) * time.Second)
		s.ExpiresAt = &e
	}
	if info.CreatedAt > 0 {
		c := time.Unix(info.CreatedAt, 0).UTC()
		s.CreatedAt = &c
	}
	return nil
}

func scopeList(raw json.RawMessage) []string {
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list
	}
	var joined string
	if err := json.Unmarshal(raw, &joined); err == nil {
		return strings.Fields(joined)
	}
	return nil
}

// botUsername matches the usernames GitLab gives group and project token
// bots: group_<id>_bot_<random> and project_<id>_bot_<random>.
var botUsername = regexp.MustCompile(`^(group|project)_(\d+)_bot_`)

// fromUser fills in the owner and, for access tokens, the kind.
func (s *Status) fromUser(u *gl.User) {
	s.UserID = u.ID
	s.Username = u.Username
	s.Bot = u.Bot
	if s.Kind == gitpulse.KindOAuth {
		return
	}
	s.Kind = gitpulse.KindPersonal // a human's, or a service account's
	if !u.Bot {
		return
	}
	m := botUsername.FindStringSubmatch(u.Username)
	if m == nil {
		return
	}
	id, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return
	}
	switch m[1] {
	case "group":
		s.Kind, s.GroupID = gitpulse.KindGroup, id
	case "project":
		s.Kind, s.ProjectID = gitpulse.KindProject, id
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
