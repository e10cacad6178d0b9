package testenv

import "testing"

// Chromium returns the path of the Chromium binary browser tests drive
// (GITPULSE_TEST_CHROMIUM; make test installs Debian's chromium when it
// is missing, infra/scripts/chromium.sh).
func Chromium(tb testing.TB) string {
	tb.Helper()
	return need(tb, "GITPULSE_TEST_CHROMIUM", "Chromium (the dashboard's browser test)")
}
