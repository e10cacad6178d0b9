// Command lambdatrace gives a bootstrap under the Runtime Interface
// Emulator the trace header Lambda gives every invocation. The emulator
// runs it as the function's bootstrap; it runs the real one
// ($LAMBDATRACE_BOOTSTRAP) as its child, with the Runtime API pointed at a
// proxy in this process that forwards every call to the emulator and adds
// Lambda-Runtime-Trace-Id to each next-invocation answer that lacks one.
//
// Why: the emulator's classic mode (its NoOpTracer,
// internal/lambda/telemetry/tracer.go at the pinned version) never sends
// that header, so aws-lambda-go sets _X_AMZN_TRACE_ID to "" and the AWS SDK
// (aws/middleware/recursion_detection.go) sends an empty X-Amzn-Trace-Id:
// SNS on LocalStack then drops the publish ("Message (user) attribute
// 'AWSTraceHeader' must contain a non-empty value"). Real Lambda always
// sends one. The invoke request's own X-Amzn-Trace-Id, when the caller
// gives one, is not passed on by the emulator either; the proxy makes a
// fresh Root=1-<epoch hex>-<96 bits>;Parent=<64 bits>;Sampled=0.
package main

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lambdatrace:", err)
		os.Exit(1)
	}
}

func run() error {
	bootstrap := os.Getenv("LAMBDATRACE_BOOTSTRAP")
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if bootstrap == "" || api == "" {
		return fmt.Errorf("LAMBDATRACE_BOOTSTRAP (%q) and AWS_LAMBDA_RUNTIME_API (%q) must be set: run me as the bootstrap under the emulator", bootstrap, api)
	}
	target, err := url.Parse("http://" + api)
	if err != nil {
		return fmt.Errorf("AWS_LAMBDA_RUNTIME_API: %w", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/runtime/invocation/next") && resp.Header.Get("Lambda-Runtime-Trace-Id") == "" {
			resp.Header.Set("Lambda-Runtime-Trace-Id", Header(time.Now()))
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // bound at once: no other program can take it first
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	go func() { _ = http.Serve(ln, proxy) }()

	cmd := exec.Command(bootstrap, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	// The emulator stops the runtime by killing this process: the
	// function goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bootstrap, err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		os.Exit(exit.ExitCode())
	}
	return err
}

// Header returns a new trace header in Lambda's form.
func Header(now time.Time) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Root=1-%08x-%x;Parent=%x;Sampled=0", now.Unix(), b[:12], b[12:])
}
