// Command api is the GitPulse HTTP API behind API Gateway (HTTP API,
// payload format 2.0). It is wiring only: configuration, clients, the
// net/http handler from shared/api, and the Lambda adapter.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p := platform.Boot("api", config.EnvDataTable)
	handler, err := p.API()
	if err != nil {
		p.Exit(err)
	}
	lambda.Start(platform.Wrap(p, platform.HTTPAPI(handler)))
}
