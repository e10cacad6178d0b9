package rotation

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// working returns the token secret a rotation starts from, and what GitLab
// says of its token. Normally that is AWSCURRENT. When AWSCURRENT holds no
// value, a malformed value (the alert names the field), or a token GitLab refuses (revoked or
// expired), the stored state is broken: working looks for the newest
// version whose token GitLab accepts (AWSPENDING of an unfinished rotation
// cannot be one here, since this rotation's version holds AWSPENDING; so
// AWSPREVIOUS, or an unlabelled version an interrupted rotation wrote),
// moves AWSCURRENT onto it, alerts saying what it found and did, and the
// rotation carries on from that token. When no version works it fails with
// a critical alert and changes nothing. A GitLab failure that says nothing
// about the token (429, 5xx, network) fails the step without a repair, so
// that a slow GitLab never moves a label.
func (r *Rotator) working(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, currentVersion string) (secrets.TokenSecret, *gl.PersonalAccessToken, error) {
	cur, err := r.store().ReadSecret(ctx, ev.SecretID, "", secrets.StageCurrent)
	var found string
	switch {
	case err == nil:
		self, ref := r.authenticates(ctx, ev.SecretID, cur.Secret)
		if ref == nil {
			return cur.Secret, self, nil
		}
		if !ref.refused {
			return secrets.TokenSecret{}, nil, &stepError{severity: "critical", hash: hashOf(cur.Secret.Token), err: ref.err,
				reason: "check the current token before rotating: " + ref.what, recovery: "nothing was rotated; Secrets Manager retries the rotation"}
		}
		found = "AWSCURRENT's token is " + ref.what
	case gitpulse.ErrorCode(err) == gitpulse.ENOTFOUND:
		found = "AWSCURRENT holds no value"
	case gitpulse.ErrorCode(err) == gitpulse.EINVALID:
		// The alert names the field, so that whoever wrote the value can
		// store it again, fixed, if the repair dropped what they meant.
		found = "AWSCURRENT's value is malformed (" + err.Error() + ")"
	default:
		return secrets.TokenSecret{}, nil, fail("read AWSCURRENT", "check the function may call GetSecretValue; Secrets Manager retries the rotation", err)
	}

	scan := r.store().Candidates(ctx, ev.SecretID)
	cands, errs := scan.Candidates, scan.Errs
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Created.After(cands[j].Created) })
	tried := []string{found}
	for _, c := range cands {
		if c.Version.ID == currentVersion || c.Version.ID == ev.ClientRequestToken {
			continue
		}
		self, ref := r.authenticates(ctx, ev.SecretID, c.Version.Secret)
		if ref != nil && !ref.refused {
			return secrets.TokenSecret{}, nil, &stepError{severity: "warning", hash: hashOf(c.Version.Secret.Token), err: ref.err,
				reason:   fmt.Sprintf("%s; checking %s failed (%s), so nothing was repaired", found, c.Where(), ref.what),
				recovery: "nothing changed; Secrets Manager retries the rotation"}
		}
		if ref != nil {
			tried = append(tried, c.Where()+"'s token is "+ref.what)
			continue
		}
		if err := r.relabel(ctx, ev, currentVersion, c.Version.ID); err != nil {
			return secrets.TokenSecret{}, nil, err
		}
		reason := fmt.Sprintf("%s; %s (version %s) holds a token GitLab accepts: AWSCURRENT moved onto it, and the rotation goes on from it",
			strings.Join(tried, "; "), c.Where(), c.Version.ID)
		metrics.Add(ctx, MetricRepaired, metrics.Count, 1, metrics.Dim("Step", ev.Step))
		r.Logger.WarnContext(ctx, "rotation repaired the secret's labels", "step", ev.Step, "secret", ev.SecretID,
			"from_version", currentVersion, "to_version", c.Version.ID, "found", c.Where(), "token_hash", hashOf(c.Version.Secret.Token), "reason", reason)
		r.alert(ctx, Alert{Event: EventRepaired, Severity: "warning", SecretARN: ev.SecretID, TokenName: secrets.NameFromARN(ev.SecretID),
			TokenHash: hashOf(c.Version.Secret.Token), Step: ev.Step, Reason: reason,
			Recovery: "nothing to do: readers use the repaired AWSCURRENT. Look for what left the secret in that state (a rotation interrupted, or a label moved by hand)"})
		return c.Version.Secret, self, nil
	}
	for _, e := range errs {
		tried = append(tried, e.Error())
	}
	return secrets.TokenSecret{}, nil, &stepError{severity: "critical",
		reason:   "no version of the secret holds a token GitLab accepts (" + strings.Join(tried, "; ") + "); nothing changed, and not calling rotate (with a revoked token it would revoke the whole token family)",
		recovery: "create a new token in GitLab with the same scopes and store it: aws secretsmanager put-secret-value --secret-id " + ev.SecretID + " --secret-string '{...}'; then cancel this rotation (aws secretsmanager cancel-rotate-secret); the next rotation starts from the new token"}
}

// relabel moves AWSCURRENT from version from ("" when no version holds
// it) to version to.
func (r *Rotator) relabel(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, from, to string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String(secrets.StageCurrent), MoveToVersionId: aws.String(to)}
	if from != "" {
		in.RemoveFromVersionId = aws.String(from)
	}
	if err := r.moveStage(ctx, in); err != nil {
		return fail("repair: move AWSCURRENT onto version "+to+", whose token works", "nothing changed; Secrets Manager retries the rotation", err)
	}
	return nil
}

// refusal is why GitLab did not accept a token: refused when GitLab said
// so (revoked, expired, unknown, inactive), otherwise a failure that says
// nothing about the token (429, 5xx, network).
type refusal struct {
	refused bool
	what    string
	err     error
}

// authenticates asks GitLab about ts's token (the self endpoint, no
// retries: a transient failure fails the step and Secrets Manager retries).
func (r *Rotator) authenticates(ctx context.Context, arn string, ts secrets.TokenSecret) (*gl.PersonalAccessToken, *refusal) {
	api, err := r.api(ctx, ts.TokenFor(arn), false)
	if err != nil {
		return nil, &refusal{what: "no GitLab client (check gitlabUrl)", err: err}
	}
	self, _, err := api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if f := gitlab.Classify(err); f != nil {
		switch f.Kind {
		case gitlab.FailTokenRevoked:
			return nil, &refusal{refused: true, what: "revoked", err: err}
		case gitlab.FailTokenExpired:
			return nil, &refusal{refused: true, what: "expired", err: err}
		case gitlab.FailUnauthorized:
			return nil, &refusal{refused: true, what: "refused by GitLab (401)", err: err}
		}
		return nil, &refusal{what: describe(f), err: err}
	}
	if !self.Active || self.Revoked {
		return nil, &refusal{refused: true, what: "not active"}
	}
	return self, nil
}
