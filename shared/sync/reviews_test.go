package sync_test

import (
	"testing"
	"time"

	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestWeekOf: a moment's ISO week is named by its Monday, in UTC.
func TestWeekOf(t *testing.T) {
	for _, c := range []struct{ at, want string }{
		{"2026-12-02T12:00:00Z", "2026-11-30"},      // a Wednesday
		{"2026-11-30T00:00:00Z", "2026-11-30"},      // the Monday itself
		{"2026-12-06T23:59:59Z", "2026-11-30"},      // the Sunday after
		{"2026-11-30T01:00:00+02:00", "2026-11-23"}, // Sunday 23:00 UTC
		{"2027-01-01T10:00:00Z", "2026-12-28"},      // across the year
	} {
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := gpsync.WeekOf(at); got != c.want {
			t.Errorf("WeekOf(%s): got %s, want %s", c.at, got, c.want)
		}
	}
}
