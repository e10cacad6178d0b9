package rotation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// testSecret checks the pending token with GitLab (see verify). It
// changes nothing, so repeats are safe.
func (r *Rotator) testSecret(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	curToken, err := r.currentToken(ctx, ev.SecretID)
	if err != nil {
		return err
	}
	next, ok, err := r.pending(ctx, ev, curToken)
	if err != nil || !ok {
		return fail("testSecret: the pending version holds no new token (createSecret has not run)", "run the rotation again from createSecret", err)
	}
	return r.verify(ctx, ev, next)
}

// verify checks a new token with GitLab: it authenticates, is active, has
// every scope the old token had, and expires on the expected day.
// testSecret runs it, and finishSecret runs it again before it moves
// AWSCURRENT, so no order of steps can label an unproven token.
func (r *Rotator) verify(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, next secrets.TokenSecret) error {
	hash := hashOf(next.Token)
	api, err := r.api(ctx, next.TokenFor(ev.SecretID), true)
	if err != nil {
		return err
	}
	self, _, err := api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if f := gitlab.Classify(err); f != nil {
		return &stepError{severity: "critical", hash: hash, err: err, reason: ev.Step + ": the new token does not authenticate: " + describe(f),
			recovery: "AWSCURRENT is untouched; cancel this rotation (aws secretsmanager cancel-rotate-secret) and check the token in GitLab"}
	}
	var problems []string
	if !self.Active || self.Revoked {
		problems = append(problems, "it is not active")
	}
	if missing := scopesMissing(self.Scopes, next.Scopes); len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("it lacks scope %s (has %s, the old token had %s)", strings.Join(missing, ", "), joinOr(self.Scopes, "none"), strings.Join(next.Scopes, ", ")))
	}
	if next.ExpiresAt != "" {
		got := "never"
		if self.ExpiresAt != nil {
			got = time.Time(*self.ExpiresAt).Format(time.DateOnly)
		}
		if got != next.ExpiresAt {
			problems = append(problems, fmt.Sprintf("it expires on %s, not %s", got, next.ExpiresAt))
		}
	}
	if len(problems) > 0 {
		return &stepError{severity: "critical", hash: hash, reason: ev.Step + ": the new token is not fit for use: " + strings.Join(problems, "; "),
			recovery: "AWSCURRENT is untouched; fix the token's scopes or expiry in GitLab (or revoke it), cancel this rotation and start a new one"}
	}
	return nil
}
