// Package rotation rotates GitLab tokens kept in Secrets Manager through
// the four steps of the Secrets Manager rotation protocol, with two
// strategies:
//
//   - self: the token rotates itself (POST .../self/rotate). GitLab revokes
//     the old token in the same transaction that creates the new one, and a
//     rotate call made with an already-revoked token revokes the whole token
//     family. So createSecret makes exactly one rotate call per rotation,
//     never retried, after checking that the old token is still active, and
//     writes the new token to AWSPENDING at once. There is one window that
//     cannot be closed: GitLab answered with the new token and the write to
//     Secrets Manager then failed (after the SDK's retries). The new token
//     exists only in that lost answer and the old one is revoked; the step
//     fails with a critical alert that says so and how to recover.
//   - admin: a second secret holds a token allowed to create tokens.
//     createSecret creates a new token while the old one keeps working, and
//     finishSecret revokes the old one only after AWSCURRENT has moved. No
//     moment exists without a working token, so there is no such window.
//
// Readers never fail during a rotation: the token provider falls back to
// AWSPENDING when AWSCURRENT is refused (see package secrets).
package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// Steps of the rotation protocol.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// SecretsAPI is the Secrets Manager calls rotation needs.
type SecretsAPI interface {
	secrets.API
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// ClientFactory returns a GitLab client that sends exactly tok: audited,
// without the 401 fallback, and with retries off when retries is false.
type ClientFactory func(tok gitpulse.Token, retries bool) (*gitlab.Client, error)

// Alerter publishes a rotation alert.
type Alerter interface {
	RotationAlert(ctx context.Context, a Alert) error
}

// Alert events.
const (
	EventFailed   = "rotation_failed"   // a step failed or was refused
	EventRepaired = "rotation_repaired" // a step repaired the stored state and went on
)

// Alert describes a failed step, or a repair, for the people who run
// GitPulse.
type Alert struct {
	Event     string // EventFailed or EventRepaired
	Severity  string // "critical" or "warning"
	SecretARN string
	TokenName string
	TokenHash string
	Step      string
	Reason    string
	Recovery  string
}

// Rotator runs rotation steps. It holds no per-invocation state.
type Rotator struct {
	SM      SecretsAPI
	GitLab  ClientFactory
	Alerter Alerter
	Logger  *slog.Logger
	Now     func() time.Time
}

// stepError is a failed step with what to tell people.
type stepError struct {
	severity string
	reason   string
	recovery string
	hash     string
	err      error
}

func (e *stepError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}
func (e *stepError) Unwrap() error { return e.err }

func fail(reason, recovery string, err error) *stepError {
	return &stepError{severity: "critical", reason: reason, recovery: recovery, err: err}
}

// Metric names: one count per step run, by outcome, with dimension Step
// (and rolled up per function, which the failed-rotation alarm watches).
const (
	MetricSucceeded = "RotationSucceeded"
	MetricFailed    = "RotationFailed"
	MetricRepaired  = "RotationRepaired"
)

// Handle runs one step of the rotation event. Every step first checks, as
// the protocol requires, that rotation is enabled, that the token is a
// version of the secret, and that it holds AWSPENDING; a version already
// AWSCURRENT means the rotation is done. A failed step logs one structured
// line and publishes an alert, then returns the error so that Secrets
// Manager retries the rotation.
func (r *Rotator) Handle(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	if err := validateEvent(ev); err != nil {
		metrics.Add(ctx, MetricFailed, metrics.Count, 1, metrics.Dim("Step", "invalid")) // not a step name: keep the dimension's values few
		return err
	}
	err := r.step(ctx, ev)
	if err == nil {
		r.Logger.InfoContext(ctx, "rotation step done", "step", ev.Step, "secret", ev.SecretID)
		metrics.Add(ctx, MetricSucceeded, metrics.Count, 1, metrics.Dim("Step", ev.Step))
		return nil
	}
	metrics.Add(ctx, MetricFailed, metrics.Count, 1, metrics.Dim("Step", ev.Step))
	var se *stepError
	if !errors.As(err, &se) {
		se = fail("unexpected error", "see the function's log; Secrets Manager retries the rotation", err)
	}
	name := secrets.NameFromARN(ev.SecretID)
	r.Logger.ErrorContext(ctx, "rotation step failed", "step", ev.Step, "secret", ev.SecretID, "token_hash", se.hash,
		"reason", se.Error(), "severity", se.severity)
	r.alert(ctx, Alert{Event: EventFailed, Severity: se.severity, SecretARN: ev.SecretID, TokenName: name,
		TokenHash: se.hash, Step: ev.Step, Reason: se.Error(), Recovery: se.recovery})
	return fmt.Errorf("%s of %s: %w", ev.Step, ev.SecretID, err)
}

func (r *Rotator) alert(ctx context.Context, a Alert) {
	if r.Alerter == nil {
		return
	}
	if err := r.Alerter.RotationAlert(ctx, a); err != nil {
		r.Logger.ErrorContext(ctx, "rotation alert not published", "event", a.Event, "error", err.Error())
	}
}

func validateEvent(ev events.SecretsManagerSecretRotationEvent) error {
	switch {
	case !slices.Contains([]string{StepCreate, StepSet, StepTest, StepFinish}, ev.Step):
		return gitpulse.Errorf(gitpulse.EINVALID, "event: Step %q is not createSecret, setSecret, testSecret or finishSecret", ev.Step)
	case ev.SecretID == "":
		return gitpulse.Errorf(gitpulse.EINVALID, "event: SecretId is required")
	case ev.ClientRequestToken == "":
		return gitpulse.Errorf(gitpulse.EINVALID, "event: ClientRequestToken is required")
	}
	return nil
}

// The invariant every step keeps: AWSCURRENT only ever moves onto a
// version whose value is present and whose token GitLab accepted in that
// same step (finishSecret verifies it, whatever testSecret said before).
// A step sent out of order, twice, with a foreign ClientRequestToken or
// for a version already finished is refused (an error naming the state
// found) or is a no-op; it never moves a label onto something unproven.
func (r *Rotator) step(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	desc, err := r.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
	if err != nil {
		return fail("describe the secret", "check that the secret exists and the function may call DescribeSecret", err)
	}
	if !aws.ToBool(desc.RotationEnabled) {
		return fail("rotation is not enabled on the secret", "enable rotation on the secret (its RotationSchedule)", nil)
	}
	stages, ok := desc.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return fail(fmt.Sprintf("version %s is not a version of the secret (%s); nothing changed", ev.ClientRequestToken, stagesText(desc.VersionIdsToStages)),
			"none: a step for another secret's rotation, or a mistyped ClientRequestToken, is refused", nil)
	}
	if slices.Contains(stages, secrets.StageCurrent) {
		// Already done: a repeated step after a finished rotation.
		return nil
	}
	if !slices.Contains(stages, secrets.StagePending) {
		return fail(fmt.Sprintf("version %s is not AWSPENDING (%s); nothing changed", ev.ClientRequestToken, stagesText(desc.VersionIdsToStages)),
			"none for this version (its rotation is over or was replaced); the rotation in progress, if any, continues with its own version", nil)
	}
	current := ""
	for id, st := range desc.VersionIdsToStages {
		if slices.Contains(st, secrets.StageCurrent) {
			current = id
		}
	}
	switch ev.Step {
	case StepCreate:
		return r.createSecret(ctx, ev, current)
	case StepSet:
		return r.setSecret(ctx, ev)
	case StepTest:
		return r.testSecret(ctx, ev)
	default:
		return r.finishSecret(ctx, ev, current, desc.VersionIdsToStages)
	}
}

// stagesText names each labelled version's stages, for messages:
// "AWSCURRENT on 4b389ee5…, AWSPENDING on f01ae8a6…".
func stagesText(m map[string][]string) string {
	var parts []string
	for id, st := range m {
		for _, stage := range st {
			parts = append(parts, stage+" on "+short(id))
		}
	}
	slices.Sort(parts)
	return joinOr(parts, "no labelled version")
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

func (r *Rotator) store() secrets.Store { return secrets.Store{API: r.SM} }

// pending returns the version ClientRequestToken's value, or ok=false when
// it has none yet. A "value" equal to AWSCURRENT's token (curToken, "" when
// AWSCURRENT is unreadable) is not a new token, and neither is a value that
// is not a token secret: local tools start a rotation by copying the
// current value, or a placeholder, into the new version.
func (r *Rotator) pending(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, curToken string) (secrets.TokenSecret, bool, error) {
	v, err := r.store().ReadSecret(ctx, ev.SecretID, ev.ClientRequestToken, secrets.StagePending)
	switch {
	case brokenValue(err):
		return secrets.TokenSecret{}, false, nil
	case err != nil:
		return secrets.TokenSecret{}, false, err
	case v.Secret.Token == curToken:
		return secrets.TokenSecret{}, false, nil
	}
	return v.Secret, true, nil
}

// currentToken returns AWSCURRENT's token value, or "" when AWSCURRENT is
// missing or malformed; other read failures are errors.
func (r *Rotator) currentToken(ctx context.Context, arn string) (string, error) {
	v, err := r.store().ReadSecret(ctx, arn, "", secrets.StageCurrent)
	switch {
	case err == nil:
		return v.Secret.Token, nil
	case brokenValue(err):
		return "", nil
	default:
		return "", fail("read AWSCURRENT", "check the function may call GetSecretValue; Secrets Manager retries the rotation", err)
	}
}

// brokenValue reports a version that is missing, empty or malformed.
func brokenValue(err error) bool {
	code := gitpulse.ErrorCode(err)
	return err != nil && (code == gitpulse.ENOTFOUND || code == gitpulse.EINVALID)
}

// createSecret makes the new token and stores it as AWSPENDING. Repeats
// are safe: when the version already holds a new token, it returns at once
// and calls GitLab not at all. Before it makes a token it makes sure it
// starts from one that works: when AWSCURRENT's token is missing, broken
// or refused, it repairs the labels first (see working).
func (r *Rotator) createSecret(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, currentVersion string) error {
	curToken, err := r.currentToken(ctx, ev.SecretID)
	if err != nil {
		return err
	}
	if _, ok, err := r.pending(ctx, ev, curToken); err != nil {
		return fail("read AWSPENDING", "check the function may call GetSecretValue", err)
	} else if ok {
		return nil
	}
	cur, self, err := r.working(ctx, ev, currentVersion)
	if err != nil {
		return err
	}
	settings := cur.Settings()
	expires := r.Now().UTC().AddDate(0, 0, settings.DaysToExpiry).Format(time.DateOnly)
	if settings.Strategy == secrets.StrategyAdmin {
		return r.createAdmin(ctx, ev, cur, settings, expires)
	}
	return r.createSelf(ctx, ev, cur, self, expires)
}

// putPending writes next as the AWSPENDING value of the rotation's version,
// with the SDK's retries.
func (r *Rotator) putPending(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, next secrets.TokenSecret) error {
	next.RotatedAt = r.Now().UTC().Format(time.RFC3339Nano)
	value, err := jsonString(next)
	if err != nil {
		return err
	}
	_, err = r.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(ev.SecretID),
		ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString:       aws.String(value),
		VersionStages:      []string{secrets.StagePending},
	})
	return err
}

// setSecret has nothing to push: the new token already exists in GitLab
// (GitLab made it). It checks that the pending value is there, so that a
// broken createSecret cannot pass unnoticed. Repeats are safe.
func (r *Rotator) setSecret(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
	curToken, err := r.currentToken(ctx, ev.SecretID)
	if err != nil {
		return err
	}
	if _, ok, err := r.pending(ctx, ev, curToken); err != nil || !ok {
		return fail("setSecret: the pending version holds no new token (createSecret has not run)", "run the rotation again from createSecret", err)
	}
	return nil
}

// finishSecret moves AWSCURRENT to the rotation's version (AWSPREVIOUS
// follows by itself), removes AWSPENDING, and under the admin strategy then
// revokes the old token. It moves nothing unless the version holds a new
// token that it verifies with GitLab itself (as testSecret does), so a
// finishSecret sent before createSecret, or after a failed testSecret, is
// refused and changes nothing. Repeats are safe: once the version is
// AWSCURRENT the entry check returns before this runs.
func (r *Rotator) finishSecret(ctx context.Context, ev events.SecretsManagerSecretRotationEvent, currentVersion string, stages map[string][]string) error {
	old, oldErr := r.store().ReadSecret(ctx, ev.SecretID, currentVersion, secrets.StageCurrent)
	if oldErr != nil && !brokenValue(oldErr) {
		return fail("read AWSCURRENT", "check the function may call GetSecretValue; Secrets Manager retries the rotation", oldErr)
	}
	next, ok, err := r.pending(ctx, ev, old.Secret.Token)
	if err != nil {
		return fail("read AWSPENDING", "check the function may call GetSecretValue", err)
	}
	if !ok {
		return fail(fmt.Sprintf("finishSecret refused: version %s holds no new token yet (%s); AWSCURRENT stays where it is", ev.ClientRequestToken, stagesText(stages)),
			"none: Secrets Manager runs createSecret, setSecret and testSecret before finishSecret; `make rotate-now` (or aws secretsmanager rotate-secret) continues this rotation", nil)
	}
	if err := r.verify(ctx, ev, next); err != nil {
		return err
	}
	move := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(ev.SecretID), VersionStage: aws.String(secrets.StageCurrent), MoveToVersionId: aws.String(ev.ClientRequestToken),
	}
	if currentVersion != "" {
		move.RemoveFromVersionId = aws.String(currentVersion)
	}
	if err := r.moveStage(ctx, move); err != nil {
		return fail("move AWSCURRENT to the new version", "run finishSecret again (the rotation retries it)", err)
	}
	if err := r.moveStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(ev.SecretID), VersionStage: aws.String(secrets.StagePending),
		RemoveFromVersionId: aws.String(ev.ClientRequestToken),
	}); err != nil {
		// AWSCURRENT has moved; a leftover AWSPENDING would block the
		// next rotation.
		return &stepError{severity: "warning", reason: "remove AWSPENDING from the new version", err: err,
			recovery: fmt.Sprintf("aws secretsmanager update-secret-version-stage --secret-id %s --version-stage AWSPENDING --remove-from-version-id %s", ev.SecretID, ev.ClientRequestToken)}
	}
	if oldErr == nil && old.Secret.Settings().Strategy == secrets.StrategyAdmin && old.Secret.Token != next.Token {
		return r.revokeOld(ctx, old.Secret)
	}
	return nil
}

// moveStage moves or removes a stage label. A label move is not
// idempotent on the wire: when the SDK retries a call whose answer was
// lost, the retry finds the label gone from RemoveFromVersionId and fails
// (InvalidParameterException), although the move was made. So after a
// failure moveStage reads the stages again and reports success when they
// are what the call asked for; otherwise it returns the call's error.
func (r *Rotator) moveStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput) error {
	_, err := r.SM.UpdateSecretVersionStage(ctx, in)
	if err == nil {
		return nil
	}
	desc, derr := r.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: in.SecretId})
	if derr != nil {
		return err
	}
	stage, to, from := aws.ToString(in.VersionStage), aws.ToString(in.MoveToVersionId), aws.ToString(in.RemoveFromVersionId)
	onTo := to == "" || slices.Contains(desc.VersionIdsToStages[to], stage)
	offFrom := from == "" || from == to || !slices.Contains(desc.VersionIdsToStages[from], stage)
	if !onTo || !offFrom {
		return err
	}
	r.Logger.InfoContext(ctx, "stage move found made after its call failed (a retried call whose answer was lost)",
		"secret", aws.ToString(in.SecretId), "stage", stage, "to_version", to, "from_version", from, "error", err.Error())
	return nil
}

// api returns a client-go client that sends exactly tok (see ClientFactory).
func (r *Rotator) api(ctx context.Context, tok gitpulse.Token, retries bool) (*gl.Client, error) {
	client, err := r.GitLab(tok, retries)
	if err == nil {
		var api *gl.Client
		if api, err = client.API(ctx); err == nil {
			return api, nil
		}
	}
	return nil, fail("build a GitLab client for token '"+tok.Name+"'", "check the secret's gitlabUrl", err)
}

// hashOf is a token's public identity.
func hashOf(token string) string { return gitpulse.NewSecret(token).Hash() }

func describe(f *gitlab.Failure) string {
	if f == nil {
		return "unknown failure"
	}
	return f.Message
}

func scopesMissing(have, want []string) []string {
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

func joinOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}
