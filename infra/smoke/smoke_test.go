package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/testenv"
)

// TestSmoke starts `make run`'s program (its own moto server and the
// simulator), runs the smoke checks against it as `make smoke` does
// (reading the local.env it wrote): every line PASS but the rotation's
// SKIP. Then it stops moto server, a dependency, and runs them again: the
// health check fails, named on its FAIL line, and the run reports failure.
func TestSmoke(t *testing.T) {
	if os.Getenv("GITPULSE_TEST_REQUIRE") == "" && os.Getenv("GITPULSE_TEST_AWS_ENDPOINT") == "" {
		t.Skip("needs moto server (run through make test)")
	}
	lr := testenv.StartLocalRun(t, "SYNC_INTERVAL=1h")
	lr.WaitFor(t, "GitPulse is ready")
	cfg, err := configFrom("", "", filepath.Join(lr.RunDir, "local.env"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SyncTimeout = 30 * time.Second

	var out bytes.Buffer
	if !Run(context.Background(), cfg, &out) {
		t.Fatalf("smoke against make run failed:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 9 {
		t.Errorf("got %d lines, want 9 (one per check):\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "PASS ") && !strings.HasPrefix(l, "SKIP rotation ") {
			t.Errorf("got line %q, want PASS (or SKIP for rotation)", l)
		}
	}
	testenv.AssertNoSecret(t, "smoke output", out.String(), cfg.APIKey)
	t.Logf("against make run:\n%s", out.String())

	lr.StopMoto(t)
	out.Reset()
	if Run(context.Background(), cfg, &out) {
		t.Fatalf("smoke passed with moto server stopped:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "FAIL health ") {
		t.Errorf("with moto server stopped, got\n%s\nwant a FAIL line naming health", out.String())
	}
	testenv.AssertNoSecret(t, "smoke output", out.String(), cfg.APIKey)
	t.Logf("moto server stopped:\n%s", out.String())
}
