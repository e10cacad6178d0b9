// Command api is the GitPulse HTTP API behind API Gateway (HTTP API,
// payload format 2.0). It is wiring only: configuration, clients, the
// net/http handler from shared/api, and the Lambda adapter.
package main

import (
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p := platform.Boot("api", config.EnvDataTable)
	handler := api.New(api.Deps{
		Health:     p.HealthChecker(),
		Logger:     p.Logger,
		Middleware: []func(http.Handler) http.Handler{p.Recorder.Middleware},
		Now:        p.Now,
	})
	lambda.Start(platform.Wrap(p, httpadapter.NewV2(handler).ProxyWithContext))
}
