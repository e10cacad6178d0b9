package main

import (
	"testing"
	"time"

	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// The staff's pages count toward a quiet goal only when the scheduler's
// hourly refresh was due: a refresh before it is the sync's waste and
// must show as a MISS.
func TestStaffPagesCountOnlyWhenDue(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	b := &bench{}
	steps := []struct {
		at      time.Duration
		pages   int
		allowed int
	}{
		{0, 1, 1},                                   // the first read: nothing stored yet
		{10 * time.Minute, 0, 0},                    // none read
		{30 * time.Minute, 1, 0},                    // read again within the hour: not allowed
		{30*time.Minute + gpsync.StaffMaxAge, 2, 2}, // the hour since the last read has passed
		{40*time.Minute + gpsync.StaffMaxAge, 1, 0},
	}
	for _, s := range steps {
		if got := b.staffRead(t0.Add(s.at), s.pages); got != s.allowed {
			t.Errorf("at +%s, %d page(s) read: %d allowed, want %d", s.at, s.pages, got, s.allowed)
		}
	}
	p := phase{staffDue: 2}
	if got, want := quietRequests(80, p), 1+3+80+2; got != want {
		t.Errorf("quiet goal for 80 projects with 2 staff pages due: %d, want %d", got, want)
	}
}
