// Command api is the GitPulse HTTP API behind API Gateway (HTTP API,
// payload format 2.0). It is wiring only: configuration, clients, the
// net/http handler from shared/api, and the Lambda adapter.
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p, err := platform.New(context.Background(), "api", config.EnvDataTable)
	if err != nil {
		platform.NewLogger("api").Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	handler := api.New(api.Deps{
		Health:     p.HealthChecker(),
		Logger:     p.Logger,
		Middleware: []func(http.Handler) http.Handler{p.Recorder.Middleware},
		Now:        p.Now,
	})
	lambda.Start(platform.Wrap(p, httpadapter.NewV2(handler).ProxyWithContext))
}
