// Command token-check is the daily GitLab token check (TokenCheckFunction):
// it introspects every configured token, evaluates the policy, publishes
// alerts to SNS and returns a JSON summary. Wiring only.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p, err := platform.New(context.Background(), "token-check", config.EnvDataTable, config.EnvAlertTopicARN)
	if err != nil {
		platform.NewLogger("token-check").Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(platform.Wrap(p, p.TokenCheck().Handle))
}
