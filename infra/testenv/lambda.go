package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
// exactly env (plus PATH and HOME) and stops it when the test ends.
func StartLambda(tb testing.TB, bootstrap string, env []string) *Lambda {
	tb.Helper()
	rie := need(tb, "GITPULSE_TEST_RIE", "the Runtime Interface Emulator (make rie)")
	// Both the invoke endpoint and the Runtime API the bootstrap polls get
	// free ports, so functions can run side by side (the Runtime API
	// defaults to 9001 for every emulator).
	addr, runtimeAddr := freeAddr(tb), freeAddr(tb)
	out := &Output{}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_LAMBDA_FUNCTION_TIMEOUT=30"}, env...)
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

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Invoke sends event and returns the function's response payload.
func (l *Lambda) Invoke(tb testing.TB, event []byte) []byte {
	tb.Helper()
	resp, err := http.Post(l.URL, "application/json", bytes.NewReader(event))
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
