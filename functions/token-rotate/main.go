// Command token-rotate is the Secrets Manager rotation function for GitLab
// tokens (TokenRotateFunction): createSecret, setSecret, testSecret and
// finishSecret, with the self or admin strategy. Wiring only.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p := platform.Boot("token-rotate", config.EnvAlertTopicARN)
	rotator := p.Rotator()
	lambda.Start(platform.Wrap(p, func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) (struct{}, error) {
		return struct{}{}, rotator.Handle(ctx, ev)
	}))
}
