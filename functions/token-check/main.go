// Command token-check is the daily GitLab token check (TokenCheckFunction):
// it introspects every configured token, evaluates the policy, publishes
// alerts to SNS and returns a JSON summary. Wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p := platform.Boot("token-check", config.EnvDataTable, config.EnvAlertTopicARN)
	lambda.Start(platform.Wrap(p, p.TokenCheck().Handle))
}
