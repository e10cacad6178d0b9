// Command auditquery answers the operators' question "what was this token
// used for, and when?" against a local stack (or any AWS endpoint): all
// calls made with the token, newest first.
//
//	make audit-query HASH=sha256:...        (or TOKEN=<value>: hashed here, never printed)
//	go run ./infra/auditquery -hash sha256:... -limit 100 -since 2026-11-01T00:00:00Z
//
// It reads AUDIT_TABLE and the AWS endpoint from the environment (`make
// audit-query` loads the ones `make run` wrote to .run/local.env).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "audit-query:", err)
		os.Exit(1)
	}
}

func run() error {
	hash := flag.String("hash", os.Getenv("HASH"), "token hash (sha256:...)")
	limit := flag.Int("limit", 100, "items per page, 1-100")
	since := flag.String("since", "", "RFC 3339 lower bound (inclusive)")
	cursor := flag.String("cursor", "", "continuation cursor from a previous page")
	flag.Parse()
	if tok := os.Getenv("TOKEN"); tok != "" && *hash == "" {
		*hash = gitpulse.NewSecret(tok).Hash()
	}
	if *hash == "" {
		return fmt.Errorf("give HASH=sha256:... or TOKEN=<token value>")
	}
	table := os.Getenv("AUDIT_TABLE")
	if table == "" {
		return fmt.Errorf("AUDIT_TABLE is not set: start `make run`, or export it")
	}
	q := audit.Query{TokenHash: *hash, Limit: *limit, Cursor: *cursor}
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return fmt.Errorf("-since: %q is not an RFC 3339 time", *since)
		}
		q.Since = t
	}
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	page, err := audit.Find(ctx, dynamodb.NewFromConfig(cfg), table, q, time.Now())
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []audit.Entry{} // "items": [], as the API answers
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(page)
}
