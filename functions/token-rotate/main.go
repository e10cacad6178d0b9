// Command token-rotate is the Secrets Manager rotation function for GitLab
// tokens (TokenRotateFunction): createSecret, setSecret, testSecret and
// finishSecret, with the self or admin strategy. Wiring only.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p, err := platform.New(context.Background(), "token-rotate", config.EnvAlertTopicARN)
	if err != nil {
		platform.NewLogger("token-rotate").Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	rotator := p.Rotator()
	lambda.Start(platform.Wrap(p, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) (struct{}, error) {
		return struct{}{}, rotator.Handle(ctx, ev)
	}))
}
