// Command smoke is `make smoke`: it checks a running GitPulse end to end
// through its public HTTP API only, and prints one PASS, FAIL or SKIP line
// per check. It exits 1 when a check fails.
//
// By default it checks the stack `make run` started, reading API_URL and
// API_KEY from .run/local.env. With API_URL=https://… and API_KEY=… (an
// admin key) in the environment it checks that stack instead, a deployed
// one or a `make run` against LocalStack alike.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	envFile := flag.String("env", ".run/local.env", "the environment file `make run` writes; ignored when API_URL and API_KEY are set")
	timeout := flag.Duration("sync-timeout", 60*time.Second, "how long sync now may take to show its effect")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := configFrom(os.Getenv("API_URL"), os.Getenv("API_KEY"), *envFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(2)
	}
	cfg.SyncTimeout = *timeout
	if !Run(ctx, cfg, os.Stdout) {
		os.Exit(1)
	}
}
