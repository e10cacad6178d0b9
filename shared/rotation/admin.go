package rotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// rotationMark is the description GitPulse gives a token it creates, so a
// token left by a crashed attempt of the same rotation can be found.
func rotationMark(clientRequestToken string) string {
	return "gitpulse rotation " + clientRequestToken
}

// adminAPI returns a client over the admin secret's token.
func (r *Rotator) adminAPI(ctx context.Context, settings secrets.RotationConfig, retries bool) (*gl.Client, error) {
	admin, err := r.store().ReadSecret(ctx, settings.AdminSecretARN, "", secrets.StageCurrent)
	if err != nil {
		return nil, fail("read the admin secret "+settings.AdminSecretARN, "check that it exists and the function may read it", err)
	}
	return r.api(ctx, admin.Secret.TokenFor(settings.AdminSecretARN), retries)
}

// oldToken is what GitLab says about the token being replaced.
type oldToken struct {
	name        string
	scopes      []string
	accessLevel gl.AccessLevelValue
	userID      int64
}

// createAdmin creates a new token with the old one's name, scopes and role
// using the admin token. The old token keeps working until finishSecret.
// A repeated createSecret never leaves two new tokens: a token carrying
// this rotation's mark (from a crashed attempt, value unknown) is revoked
// before a new one is created, and the create call is never retried.
func (r *Rotator) createAdmin(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, cur secrets.TokenSecret, settings secrets.RotationConfig, expires string) error {
	hash := hashOf(cur.Token)
	api, err := r.adminAPI(ctx, settings, true)
	if err != nil {
		return err
	}
	old, err := describeOld(ctx, api, cur)
	if err != nil {
		f := gitlab.Classify(err)
		return &stepError{severity: "critical", hash: hash, err: err, reason: fmt.Sprintf("read token id %d with the admin token: %s", cur.TokenID, describe(f)),
			recovery: "check that the admin token may manage the group's or project's tokens (Owner / Maintainer, or an instance admin for personal tokens) and that tokenId is right"}
	}
	mark := rotationMark(ev.ClientRequestToken)
	if err := revokeMarked(ctx, api, cur, old, mark); err != nil {
		return &stepError{severity: "critical", hash: hash, err: err, reason: "revoke a token left by an earlier attempt of this rotation",
			recovery: "revoke tokens described '" + mark + "' in GitLab, then retry"}
	}
	noRetry, err := r.adminAPI(ctx, settings, false)
	if err != nil {
		return err
	}
	exp, _ := time.Parse(time.DateOnly, expires)
	iso := gl.ISOTime(exp)
	var value string
	var id int64
	switch cur.Kind() {
	case gitpulse.KindGroup:
		var t *gl.GroupAccessToken
		t, _, err = noRetry.GroupAccessTokens.CreateGroupAccessToken(cur.GroupID, &gl.CreateGroupAccessTokenOptions{
			Name: &old.name, Description: &mark, Scopes: &old.scopes, AccessLevel: &old.accessLevel, ExpiresAt: &iso}, gl.WithContext(ctx))
		if t != nil {
			value, id = t.Token, t.ID
		}
	case gitpulse.KindProject:
		var t *gl.ProjectAccessToken
		t, _, err = noRetry.ProjectAccessTokens.CreateProjectAccessToken(cur.ProjectID, &gl.CreateProjectAccessTokenOptions{
			Name: &old.name, Description: &mark, Scopes: &old.scopes, AccessLevel: &old.accessLevel, ExpiresAt: &iso}, gl.WithContext(ctx))
		if t != nil {
			value, id = t.Token, t.ID
		}
	default:
		var t *gl.PersonalAccessToken
		t, _, err = noRetry.Users.CreatePersonalAccessToken(old.userID, &gl.CreatePersonalAccessTokenOptions{
			Name: &old.name, Description: &mark, Scopes: &old.scopes, ExpiresAt: &iso}, gl.WithContext(ctx))
		if t != nil {
			value, id = t.Token, t.ID
		}
	}
	if err != nil || value == "" {
		return &stepError{severity: "warning", hash: hash, err: err, reason: "create the new token: " + describe(gitlab.Classify(err)),
			recovery: "the old token still works; Secrets Manager retries the rotation (a token created by this attempt is found by its description and revoked first)"}
	}
	next := cur
	next.Token, next.TokenID = value, int(id)
	next.Scopes, next.ExpiresAt = old.scopes, expires
	if err := r.putPending(ctx, ev, next); err != nil {
		// The old token still works: revoke the orphan so no unknown token
		// lingers, and let the rotation be retried.
		_ = revoke(ctx, api, cur, id)
		return &stepError{severity: "warning", hash: hash, err: err, reason: "store the new token as AWSPENDING (the new token was revoked again)",
			recovery: "the old token still works; Secrets Manager retries the rotation"}
	}
	return nil
}

func describeOld(ctx context.Context, api *gl.Client, cur secrets.TokenSecret) (oldToken, error) {
	id := int64(cur.TokenID)
	switch cur.Kind() {
	case gitpulse.KindGroup:
		t, _, err := api.GroupAccessTokens.GetGroupAccessToken(cur.GroupID, id, gl.WithContext(ctx))
		if err != nil {
			return oldToken{}, err
		}
		return oldToken{name: t.Name, scopes: t.Scopes, accessLevel: t.AccessLevel, userID: t.UserID}, nil
	case gitpulse.KindProject:
		t, _, err := api.ProjectAccessTokens.GetProjectAccessToken(cur.ProjectID, id, gl.WithContext(ctx))
		if err != nil {
			return oldToken{}, err
		}
		return oldToken{name: t.Name, scopes: t.Scopes, accessLevel: t.AccessLevel, userID: t.UserID}, nil
	default:
		t, _, err := api.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(id, gl.WithContext(ctx))
		if err != nil {
			return oldToken{}, err
		}
		return oldToken{name: t.Name, scopes: t.Scopes, userID: t.UserID}, nil
	}
}

// revokeMarked revokes active tokens carrying mark.
func revokeMarked(ctx context.Context, api *gl.Client, cur secrets.TokenSecret, old oldToken, mark string) error {
	active := "active"
	var ids []int64
	switch cur.Kind() {
	case gitpulse.KindGroup:
		ts, _, err := api.GroupAccessTokens.ListGroupAccessTokens(cur.GroupID, &gl.ListGroupAccessTokensOptions{ListOptions: gl.ListOptions{PerPage: 100}}, gl.WithContext(ctx))
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Description == mark && t.Active {
				ids = append(ids, t.ID)
			}
		}
	case gitpulse.KindProject:
		ts, _, err := api.ProjectAccessTokens.ListProjectAccessTokens(cur.ProjectID, &gl.ListProjectAccessTokensOptions{ListOptions: gl.ListOptions{PerPage: 100}}, gl.WithContext(ctx))
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Description == mark && t.Active {
				ids = append(ids, t.ID)
			}
		}
	default:
		ts, _, err := api.PersonalAccessTokens.ListPersonalAccessTokens(&gl.ListPersonalAccessTokensOptions{
			ListOptions: gl.ListOptions{PerPage: 100}, UserID: &old.userID, State: &active}, gl.WithContext(ctx))
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Description == mark && t.Active {
				ids = append(ids, t.ID)
			}
		}
	}
	for _, id := range ids {
		if err := revoke(ctx, api, cur, id); err != nil {
			return err
		}
	}
	return nil
}

// revoke revokes a token of cur's kind by id; a 404 counts as done.
func revoke(ctx context.Context, api *gl.Client, cur secrets.TokenSecret, id int64) error {
	var err error
	switch cur.Kind() {
	case gitpulse.KindGroup:
		_, err = api.GroupAccessTokens.RevokeGroupAccessToken(cur.GroupID, id, gl.WithContext(ctx))
	case gitpulse.KindProject:
		_, err = api.ProjectAccessTokens.RevokeProjectAccessToken(cur.ProjectID, id, gl.WithContext(ctx))
	default:
		_, err = api.PersonalAccessTokens.RevokePersonalAccessTokenByID(id, gl.WithContext(ctx))
	}
	if errors.Is(err, gl.ErrNotFound) {
		return nil
	}
	return err
}

// revokeOld revokes the replaced token after AWSCURRENT moved (admin
// strategy). Failing leaves an extra valid token, not an outage.
func (r *Rotator) revokeOld(ctx context.Context, old secrets.TokenSecret) error {
	settings := old.Settings()
	api, err := r.adminAPI(ctx, settings, true)
	if err == nil {
		err = revoke(ctx, api, old, int64(old.TokenID))
	}
	if err != nil {
		return &stepError{severity: "warning", hash: hashOf(old.Token), err: err,
			reason:   fmt.Sprintf("AWSCURRENT moved to the new token, but revoking the old token (id %d) failed", old.TokenID),
			recovery: fmt.Sprintf("revoke token id %d in GitLab by hand; the new token is in use", old.TokenID)}
	}
	return nil
}
