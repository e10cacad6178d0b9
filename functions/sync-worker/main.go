// Command sync-worker (SyncWorkerFunction) syncs one project per SQS
// message and reports failed messages one by one. Wiring only.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p, err := platform.New(context.Background(), "sync-worker", config.EnvDataTable, config.EnvSyncQueueURL)
	if err != nil {
		platform.NewLogger("sync-worker").Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(platform.Wrap(p, p.SyncWorker().Handle))
}
