package sync

import (
	"context"
	"time"

	"github.com/gitpulse/gitpulse/shared/metrics"
)

// Metric names of the sync, each with dimension Course (the course's
// GitLab group id) and rolled up per function.
const (
	// MetricItemsWritten counts the items a worker stored.
	MetricItemsWritten = "SyncItemsWritten"
	// MetricLagSeconds is, per task, the time since the project's last
	// successful sync (not sent for a project never synced).
	MetricLagSeconds = "SyncLagSeconds"
	// MetricTasksQueued counts the per-project tasks the scheduler sent.
	MetricTasksQueued = "SyncTasksQueued"
)

func courseDim(id int64) metrics.Dimension { return metrics.Dim("Course", itoa(id)) }

// recordWritten counts the items a task queued for the course's store
// (a task of one batch shares the writer; its items are the ones it
// added); deferred, it sees every path of a task (done, failed, handed
// back).
func recordWritten(ctx context.Context, courseID int64, items int) {
	metrics.Add(ctx, MetricItemsWritten, metrics.Count, float64(items), courseDim(courseID))
}

// recordLag records how long ago the project last synced successfully.
func recordLag(ctx context.Context, courseID int64, now time.Time, lastSuccess *time.Time) {
	if lastSuccess == nil {
		return
	}
	metrics.Observe(ctx, MetricLagSeconds, metrics.Seconds, now.Sub(*lastSuccess).Seconds(), courseDim(courseID))
}

// recordQueued counts the tasks queued for the course.
func recordQueued(ctx context.Context, courseID int64, tasks int) {
	metrics.Add(ctx, MetricTasksQueued, metrics.Count, float64(tasks), courseDim(courseID))
}
