package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// createSelf rotates the token with itself: one rotate call, no retries.
// self is what GitLab said of cur's token a moment ago (working checked
// that it is active: a rotate call with a revoked token makes GitLab revoke
// the whole token family).
func (r *Rotator) createSelf(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, cur secrets.TokenSecret, self *gl.PersonalAccessToken, expires string) error {
	hash := hashOf(cur.Token)
	api, err := r.api(ctx, cur.TokenFor(ev.SecretID), false)
	if err != nil {
		return err
	}
	opt := &gl.RotatePersonalAccessTokenOptions{}
	expiresAt, _ := time.Parse(time.DateOnly, expires)
	iso := gl.ISOTime(expiresAt)
	var value string
	var id int64
	switch cur.Kind() {
	case gitpulse.KindGroup:
		var t *gl.GroupAccessToken
		t, _, err = api.GroupAccessTokens.RotateGroupAccessTokenSelf(cur.GroupID, &gl.RotateGroupAccessTokenOptions{ExpiresAt: &iso}, gl.WithContext(ctx))
		if t != nil {
			value, id = t.Token, t.ID
		}
	case gitpulse.KindProject:
		var t *gl.ProjectAccessToken
		t, _, err = api.ProjectAccessTokens.RotateProjectAccessTokenSelf(cur.ProjectID, &gl.RotateProjectAccessTokenOptions{ExpiresAt: &iso}, gl.WithContext(ctx))
		if t != nil {
			value, id = t.Token, t.ID
		}
	default:
		opt.ExpiresAt = &iso
		var t *gl.PersonalAccessToken
		t, _, err = api.PersonalAccessTokens.RotatePersonalAccessTokenSelf(opt, gl.WithContext(ctx))
		if t != nil {
			value, id = t.Token, t.ID
		}
	}
	if err != nil || value == "" {
		f := gitlab.Classify(err)
		reason := "the rotate call failed: " + describe(f)
		if err == nil {
			reason = "GitLab's rotate answer held no token"
		}
		return &stepError{severity: "critical", hash: hash, err: err, reason: reason,
			recovery: "GitLab may or may not have rotated the token. The next attempt checks the old token first and calls rotate again only if it is still active; if it reports the token revoked, create a new token in GitLab and store it in the secret"}
	}
	next := cur
	next.Token, next.TokenID = value, int(id)
	next.Scopes, next.ExpiresAt = self.Scopes, expires
	if err := r.putPending(ctx, ev, next); err != nil {
		// The window the self strategy cannot close: the new token exists
		// only in GitLab's answer, and the old one is already revoked.
		return &stepError{severity: "critical", hash: hash, err: err,
			reason:   fmt.Sprintf("GitLab rotated the token (new token id %d, old token %s revoked) but writing the new token to AWSPENDING failed: the new token's value is lost and GitPulse has no working token for %s", id, hash, cur.GitLabURL),
			recovery: fmt.Sprintf("in GitLab, revoke token id %d and create a new token with scopes %s; store it with aws secretsmanager put-secret-value --secret-id %s; then cancel this rotation (aws secretsmanager cancel-rotate-secret) and start a new one. The admin strategy has no such window", id, joinOr(self.Scopes, "read_api, read_repository"), ev.SecretID)}
	}
	return nil
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode secret: %w", err)
	}
	return string(b), nil
}
