package platform

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// HTTPAPI returns h as an API Gateway HTTP API (payload format 2.0) Lambda
// handler that refuses, before h sees it, any event that is not such a
// request (null, {}, an SQS or a scheduled event): an EINVALID error naming
// the event, with nothing audited or written. The adapter alone turned
// those into a "GET /" request.
func HTTPAPI(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	adapter := httpadapter.NewV2(h)
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" || !strings.HasPrefix(ev.RawPath, "/") {
			return events.APIGatewayV2HTTPResponse{}, gitpulse.Errorf(gitpulse.EINVALID,
				"event: must be an API Gateway HTTP API request (payload format 2.0: version, rawPath, requestContext.http.method)")
		}
		return adapter.ProxyWithContext(ctx, ev)
	}
}
