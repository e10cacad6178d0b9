// Command localrun is `make run`: GitPulse on one machine. It starts moto
// server (unless AWS_ENDPOINT_URL points elsewhere, e.g. LocalStack) and the
// GitLab simulator with a demo token (unless GITLAB_URL and GITLAB_TOKEN
// name a real GitLab), provisions the local resources, and serves the API
// on http://127.0.0.1:$PORT. Ctrl-C stops everything it started.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C stops everything in order (a few seconds at most);
	// a second one ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	if err := run(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gitpulse:", err)
		os.Exit(1)
	}
}
