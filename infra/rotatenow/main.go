// Command rotatenow is `make rotate-now`: it rotates the local stack's
// GitLab token secret the way Secrets Manager does: it continues the
// rotation in progress when one is open (AWSPENDING on a version that is
// not AWSCURRENT), else starts one (a new version labelled AWSPENDING),
// and calls the rotation function's four steps in order with that
// version's token. It reads the stack's
// environment (GITLAB_TOKEN_SECRET_ARN, ALERT_TOPIC_ARN, AUDIT_TABLE and
// the AWS endpoint) from .run/local.env via the Makefile.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/platform"
	"github.com/gitpulse/gitpulse/shared/rotation"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "rotate-now:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	startOnly := flag.Bool("start", false, "only start a rotation (a new AWSPENDING version), or find the open one, and print its version id, for make invoke-token-rotate")
	revokeURL := flag.Bool("revoke-url", false, "only print the simulator's control URL that revokes the token AWSCURRENT holds (make revoke-current)")
	flag.Parse()
	if os.Getenv("AWS_LAMBDA_LOG_LEVEL") == "" {
		os.Setenv("AWS_LAMBDA_LOG_LEVEL", "WARN") // progress below; failures still log
	}
	p, err := platform.New(ctx, "token-rotate", config.EnvAlertTopicARN)
	if err != nil {
		return err
	}
	defer p.Flush(ctx)
	arn := os.Getenv(config.EnvTokenSecretARN)
	if arn == "" {
		return fmt.Errorf("%s is not set: start `make run` first", config.EnvTokenSecretARN)
	}
	sm := secretsmanager.NewFromConfig(p.AWS)
	if *revokeURL {
		cur, err := secrets.Store{API: sm}.Read(ctx, arn, secrets.StageCurrent)
		if err != nil {
			return err
		}
		if u, err := url.Parse(cur.Token.URL); err != nil || !slices.Contains([]string{"127.0.0.1", "localhost", "::1"}, u.Hostname()) {
			return fmt.Errorf("the token belongs to %s, not the local simulator: revoke it in GitLab itself", cur.Token.URL)
		}
		fmt.Printf("%s/-/sim/tokens/%d/revoke\n", cur.Token.URL, cur.Token.TokenID)
		return nil
	}
	// Start the rotation as Secrets Manager does, or continue the one
	// that is open: Secrets Manager never starts a second rotation while
	// AWSPENDING sits on a version that is not AWSCURRENT.
	driver := rotation.Driver{SM: sm, LambdaARN: "arn:aws:lambda:eu-central-1:123456789012:function:gitpulse-token-rotate"}
	token, continued, err := driver.Begin(ctx, arn)
	if err != nil {
		return err
	}
	if *startOnly {
		if continued {
			fmt.Fprintf(os.Stderr, "a rotation is already open (AWSPENDING on version %s): its steps continue it\n", token)
		}
		fmt.Println(token)
		return nil
	}
	if continued {
		fmt.Printf("continuing the rotation in progress (AWSPENDING on version %s), as Secrets Manager retries an unfinished rotation\n", token)
	}
	before, err := secrets.Store{API: sm}.Read(ctx, arn, secrets.StageCurrent)
	if err == nil {
		fmt.Printf("rotating %s (current token %s)\n", arn, before.Token.Hash())
	} else {
		fmt.Printf("rotating %s (AWSCURRENT is unreadable: %s; the rotation repairs it if another version holds a working token)\n", arn, gitpulse.ErrorCode(err))
	}
	r := p.Rotator()
	err = driver.Run(ctx, arn, token, r.Handle, func(step string, err error) {
		status := "ok"
		if err != nil {
			status = "failed"
		}
		fmt.Printf("  %-13s %s\n", step, status)
	})
	if err != nil {
		return err
	}
	after, err := secrets.Store{API: sm}.Read(ctx, arn, secrets.StageCurrent)
	if err != nil {
		return err
	}
	fmt.Printf("done: AWSCURRENT now holds token %s (id %d); the old one is AWSPREVIOUS and revoked in GitLab\n", after.Token.Hash(), after.Token.TokenID)
	return nil
}
