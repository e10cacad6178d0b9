// Command rotatenow is `make rotate-now`: it rotates the local stack's
// GitLab token secret the way Secrets Manager does, by starting a rotation
// (a new version labelled AWSPENDING) and calling the rotation function's
// four steps in order with that version's token. It reads the stack's
// environment (GITLAB_TOKEN_SECRET_ARN, ALERT_TOPIC_ARN, AUDIT_TABLE and
// the AWS endpoint) from .run/local.env via the Makefile.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "rotate-now:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	startOnly := flag.Bool("start", false, "only start a rotation (a new AWSPENDING version) and print its version id, for make invoke-token-rotate")
	flag.Parse()
	if os.Getenv("AWS_LAMBDA_LOG_LEVEL") == "" {
		os.Setenv("AWS_LAMBDA_LOG_LEVEL", "WARN") // progress below; failures still log
	}
	p, err := platform.New(ctx, "token-rotate", config.EnvAlertTopicARN)
	if err != nil {
		return err
	}
	defer p.Flush(ctx)
	arn := os.Getenv(config.EnvTokenSecretARN)
	if arn == "" {
		return fmt.Errorf("%s is not set: start `make run` first", config.EnvTokenSecretARN)
	}
	sm := secretsmanager.NewFromConfig(p.AWS)
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])

	// Start the rotation: Secrets Manager enables rotation and labels a new
	// version AWSPENDING. The local emulator cannot invoke a function and
	// says so; the version is created all the same.
	_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
		RotationLambdaARN: aws.String("arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"),
		RotationRules:     &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
	if err != nil && !strings.Contains(err.Error(), "Resource not found") {
		return fmt.Errorf("start rotation: %w", err)
	}
	if *startOnly {
		fmt.Println(token)
		return nil
	}
	before, err := secrets.Store{API: sm}.Read(ctx, arn, secrets.StageCurrent)
	if err != nil {
		return err
	}
	fmt.Printf("rotating %s (current token %s)\n", arn, before.Token.Hash())
	r := p.Rotator()
	for _, step := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		fmt.Printf("  %-13s ", step)
		if err := r.Handle(ctx, events.SecretsManagerSecretRotationEvent{Step: step, SecretID: arn, ClientRequestToken: token}); err != nil {
			fmt.Println("failed")
			return err
		}
		fmt.Println("ok")
	}
	after, err := secrets.Store{API: sm}.Read(ctx, arn, secrets.StageCurrent)
	if err != nil {
		return err
	}
	fmt.Printf("done: AWSCURRENT now holds token %s (id %d); the old one is AWSPREVIOUS and revoked in GitLab\n", after.Token.Hash(), after.Token.TokenID)
	return nil
}
