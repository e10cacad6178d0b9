// Command sync-worker (SyncWorkerFunction) syncs one project per SQS
// message and reports failed messages one by one. Wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

func main() {
	p := platform.Boot("sync-worker", config.EnvDataTable, config.EnvSyncQueueURL)
	lambda.Start(platform.Wrap(p, p.SyncWorker().Handle))
}
