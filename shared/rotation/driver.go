package rotation

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/gitpulse/gitpulse/shared/secrets"
)

// DriverAPI is what a Driver needs of Secrets Manager.
type DriverAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	RotateSecret(ctx context.Context, in *secretsmanager.RotateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Driver plays Secrets Manager's part in a rotation where nothing else
// does (make rotate-now, tests; local emulators do not invoke rotation
// functions): it starts a rotation, or continues the one in progress, and
// sends the four steps in order with the rotation's ClientRequestToken.
//
// As Secrets Manager does, it never starts a second rotation while one is
// open (AWSPENDING on a version that is not AWSCURRENT): RotateSecret then
// answers "A previous rotation isn't complete. That rotation will be
// reattempted.", and the open rotation is what runs again.
type Driver struct {
	SM DriverAPI
	// LambdaARN is the rotation function RotateSecret names. Local
	// emulators that check it exists refuse RotateSecret; the Driver then
	// opens the rotation itself (see Begin).
	LambdaARN string
	// Days is the rotation schedule set on a secret whose rotation is
	// off; default 30.
	Days int64
}

// Begin returns the ClientRequestToken of the rotation to run: the open
// one (continued=true), or a new one it starts. A new rotation is started
// with RotateSecret, which turns rotation on and labels a new version
// AWSPENDING; where the emulator refuses RotateSecret or makes no such
// version, Begin labels one itself, holding a placeholder that no step
// takes for a token.
func (d Driver) Begin(ctx context.Context, arn string) (token string, continued bool, err error) {
	desc, err := d.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", false, fmt.Errorf("describe %s: %w", arn, err)
	}
	if id := OpenRotation(desc.VersionIdsToStages); id != "" {
		return id, true, nil
	}
	token = newClientRequestToken()
	days := d.Days
	if days <= 0 {
		days = 30
	}
	_, rerr := d.SM.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
		RotationLambdaARN: aws.String(d.LambdaARN),
		RotationRules:     &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(days)},
	})
	desc, err = d.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", false, fmt.Errorf("describe %s: %w", arn, err)
	}
	if slices.Contains(desc.VersionIdsToStages[token], secrets.StagePending) {
		// moto answers that the function does not exist, but has made
		// the version (and turned rotation on) all the same.
		return token, false, nil
	}
	if rerr != nil && !aws.ToBool(desc.RotationEnabled) {
		return "", false, fmt.Errorf("start a rotation of %s: %w", arn, rerr)
	}
	if _, err := d.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
		SecretString: aws.String("{}"), VersionStages: []string{secrets.StagePending},
	}); err != nil {
		return "", false, fmt.Errorf("open a rotation of %s: %w", arn, err)
	}
	return token, false, nil
}

// OpenRotation returns the version of an unfinished rotation (AWSPENDING
// on a version that is not AWSCURRENT), or "".
func OpenRotation(stages map[string][]string) string {
	for id, st := range stages {
		if slices.Contains(st, secrets.StagePending) && !slices.Contains(st, secrets.StageCurrent) {
			return id
		}
	}
	return ""
}

// Steps are the four steps in the order Secrets Manager sends them.
var Steps = []string{StepCreate, StepSet, StepTest, StepFinish}

// Run sends the four steps for token to handle, in order, stopping at the
// first failure; progress, when set, is told each step's outcome.
func (d Driver) Run(ctx context.Context, arn, token string, handle func(context.Context, events.SecretsManagerSecretRotationEvent) error, progress func(step string, err error)) error {
	for _, step := range Steps {
		err := handle(ctx, events.SecretsManagerSecretRotationEvent{Step: step, SecretID: arn, ClientRequestToken: token})
		if progress != nil {
			progress(step, err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func newClientRequestToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToLower(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
}
