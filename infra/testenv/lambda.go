package testenv

import (
	"bytes"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Output collects a process's output for assertions (thread-safe).
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// WaitFor waits up to 5 s until substr occurs n times in the output and
// returns the output then (or at the timeout, for the caller's assertion
// to report). A function's last log lines reach the emulator's output a
// moment after its invocation's answer.
func (o *Output) WaitFor(substr string, n int) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := o.String()
		if strings.Count(out, substr) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BuildBootstrap builds ./functions/<name> for the host (the same flags as
// `make build`, host architecture) into a temporary folder and returns the
// binary's path.
func BuildBootstrap(tb testing.TB, name string) string {
	tb.Helper()
	root := RepoRoot(tb)
	out := filepath.Join(tb.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "./functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", name, err, b)
	}
	return out
}

// RepoRoot returns the module root.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := repoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", dir)
		}
		dir = parent
	}
}

// Lambda is a bootstrap running under the Runtime Interface Emulator.
type Lambda struct {
	URL    string
	Output *Output // the emulator's and the function's stdout and stderr
}

// StartLambda runs bootstrap under the Runtime Interface Emulator with
// exactly env (plus PATH and HOME) and stops it when the test ends. The
// bootstrap runs behind infra/lambdatrace, which gives every invocation a
// trace header (_X_AMZN_TRACE_ID) as Lambda does; the emulator alone
// leaves it empty.
func StartLambda(tb testing.TB, bootstrap string, env []string) *Lambda {
	tb.Helper()
	rie := need(tb, "GITPULSE_TEST_RIE", "the Runtime Interface Emulator (make rie)")
	tracer := filepath.Join(tb.TempDir(), "lambdatrace")
	build := exec.Command("go", "build", "-trimpath", "-o", tracer, "./infra/lambdatrace")
	build.Dir = RepoRoot(tb)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build lambdatrace: %v\n%s", err, b)
	}
	// Both the invoke endpoint and the Runtime API the bootstrap polls get
	// free ports, so functions can run side by side (the Runtime API
	// defaults to 9001 for every emulator).
	addrs := FreeAddrs(tb, 2)
	addr, runtimeAddr := addrs[0], addrs[1]
	out := &Output{}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, tracer)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "LAMBDATRACE_BOOTSTRAP=" + bootstrap}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start emulator: %v", err)
	}
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("emulator output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("emulator did not listen on %s within 10s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Lambda{URL: "http://" + addr + "/2015-03-31/functions/function/invocations", Output: out}
}

// FreeAddrs returns n distinct free loopback addresses for servers a test
// starts. The ports are drawn at random from below the kernel's ephemeral
// range: a port from inside it (what listening on port 0 hands out) can be
// taken as the source port of any outgoing connection between the pick and
// the server's own bind. Each is checked by listening on it, and all are
// held until all are picked.
func FreeAddrs(tb testing.TB, n int) []string {
	tb.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 11000 {
				low = v
			}
		}
	}
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries == 10000 {
			tb.Fatalf("no free loopback port below %d", low)
		}
		port := 10000 + mrand.IntN(low-10000)
		if port == 5050 || port == 8000 || port == 8929 {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken (or picked already: it is still held)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// Invoke sends event and returns the function's response payload.
func (l *Lambda) Invoke(tb testing.TB, event []byte) []byte {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, l.URL, bytes.NewReader(event))
	if err != nil {
		tb.Fatalf("invoke: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("invoke: %v\n%s", err, l.Output.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read invoke response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("invoke: emulator answered %d: %s", resp.StatusCode, body)
	}
	return body
}

// ReadEvent reads a file under events/.
func ReadEvent(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(tb), "events", name))
	if err != nil {
		tb.Fatalf("read event: %v", err)
	}
	return b
}

// AssertNoSecret fails when text contains any of the secret values.
func AssertNoSecret(tb testing.TB, where, text string, secretValues ...string) {
	tb.Helper()
	for _, s := range secretValues {
		if s != "" && strings.Contains(text, s) {
			tb.Errorf("%s contains a secret value (%s…)", where, fmt.Sprint(s[:min(4, len(s))]))
		}
	}
}
