// Command sync-scheduler (SyncSchedulerFunction) plans the sync of every
// course on a schedule and queues one task per project that has work.
// Wiring only.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

func main() {
	p := platform.Boot("sync-scheduler", config.EnvDataTable, config.EnvSyncQueueURL)
	scheduler := p.SyncScheduler()
	lambda.Start(platform.Wrap(p, func(ctx context.Context, raw json.RawMessage) (gpsync.Summary, error) {
		return scheduler.Handle(ctx, raw, p.Config.Courses)
	}))
}
