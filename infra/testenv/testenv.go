// Package testenv gives tests the real parts they run against: moto server
// (started by `make test`, found through GITPULSE_TEST_AWS_ENDPOINT), the
// GitLab simulator in-process, and built Lambda bootstraps under the
// Runtime Interface Emulator (GITPULSE_TEST_RIE). Outside `make test` the
// tests that need a missing service skip, naming it; under `make test`
// (GITPULSE_TEST_REQUIRE=1) they fail instead.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/provision"
	"github.com/gitpulse/gitpulse/shared/secrets"
)

// Region is the region tests use on moto.
const Region = "eu-central-1"

// need skips, or under `make test` fails, when a service is missing.
func need(tb testing.TB, env, what string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("GITPULSE_TEST_REQUIRE") != "" {
			tb.Fatalf("%s is not set: %s is required under make test", env, what)
		}
		tb.Skipf("%s is not set: run through `make test` to test against %s", env, what)
	}
	return v
}

// AWSEndpoint returns moto server's URL.
func AWSEndpoint(tb testing.TB) string {
	tb.Helper()
	return need(tb, "GITPULSE_TEST_AWS_ENDPOINT", "moto server")
}

// AWSConfig returns an AWS configuration pointed at moto server with
// static test credentials.
func AWSConfig(tb testing.TB) aws.Config {
	tb.Helper()
	endpoint := AWSEndpoint(tb)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion(Region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(adminKey())),
		awsconfig.WithBaseEndpoint(endpoint),
	)
	if err != nil {
		tb.Fatalf("AWS config: %v", err)
	}
	return cfg
}

// AWSEnv returns the environment a Lambda process needs to reach moto.
func AWSEnv(tb testing.TB) []string {
	tb.Helper()
	id, secret, _ := adminKey()
	return []string{
		"AWS_ENDPOINT_URL=" + AWSEndpoint(tb),
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + id,
		"AWS_SECRET_ACCESS_KEY=" + secret,
	}
}

// adminKey returns the credentials tests set up and inspect moto with:
// GITPULSE_TEST_AWS_ACCESS_KEY_ID and GITPULSE_TEST_AWS_SECRET_ACCESS_KEY
// when moto enforces IAM (make test creates an administrator user for
// them, see infra/scripts/moto.sh), else moto's usual "test".
func adminKey() (id, secret, session string) {
	id, secret = os.Getenv("GITPULSE_TEST_AWS_ACCESS_KEY_ID"), os.Getenv("GITPULSE_TEST_AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return "test", "test", ""
	}
	return id, secret, ""
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Prefix returns a resource-name prefix unique to this test run, so tests
// sharing one moto server never see each other's tables or secrets.
func Prefix(tb testing.TB) string {
	tb.Helper()
	name := unsafeChars.ReplaceAllString(strings.ToLower(tb.Name()), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t-" + strings.Trim(name, "-") + "-" + hex.EncodeToString(b)
}

// Provision creates the local resources under a fresh prefix; token, when
// non-nil, becomes the token secret's AWSCURRENT value.
func Provision(tb testing.TB, cfg aws.Config, token *secrets.TokenSecret) provision.Resources {
	tb.Helper()
	res, err := provision.Provision(context.Background(), provision.NewClients(cfg), provision.NamesFor(Prefix(tb)), token)
	if err != nil {
		tb.Fatalf("provision: %v", err)
	}
	return res
}

// Sim starts the GitLab simulator on a loopback port for the test's
// lifetime and returns it with its base URL.
func Sim(tb testing.TB, opts ...sim.Option) (*sim.Sim, string) {
	tb.Helper()
	s := sim.New(opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return s, "http://" + ln.Addr().String()
}

// LocalAWSConfig loads the AWS configuration for a program that creates
// resources on the local stack (the benchmarks). It refuses to run without
// AWS_ENDPOINT_URL, so that it never creates them in a real account by
// accident; target names the make target that starts moto server for it.
func LocalAWSConfig(ctx context.Context, target string) (aws.Config, error) {
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		return aws.Config{}, fmt.Errorf("AWS_ENDPOINT_URL is not set: run `make %s`, which starts moto server, or point it at one", target)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = Region
	}
	return cfg, nil
}
