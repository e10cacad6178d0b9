package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LocalRun is `make run`'s program (infra/localrun) started by a test on
// ports of its own, with its own moto server and simulator.
type LocalRun struct {
	Cmd                    *exec.Cmd
	Out                    *Output
	APIPort, SimPort, Moto string
	RunDir                 string // its state folder (local.env)
	Exited                 chan error
}

// StartLocalRun builds and starts infra/localrun with env on top of this
// process's environment (less AWS_ENDPOINT_URL and GITLAB_*, so it starts
// its own moto server and simulator), and stops it and its moto server
// when the test ends.
func StartLocalRun(tb testing.TB, env ...string) *LocalRun {
	tb.Helper()
	root := RepoRoot(tb)
	bin := filepath.Join(tb.TempDir(), "localrun")
	build := exec.Command("go", "build", "-o", bin, "./infra/localrun")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build localrun: %v\n%s", err, out)
	}
	addrs := FreeAddrs(tb, 3)
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	lr := &LocalRun{Out: &Output{}, APIPort: port(addrs[0]), SimPort: port(addrs[1]), Moto: port(addrs[2]), RunDir: tb.TempDir(), Exited: make(chan error, 1)}
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_ENDPOINT_URL") && !strings.HasPrefix(kv, "GITLAB_") {
			base = append(base, kv)
		}
	}
	lr.Cmd = exec.Command(bin)
	lr.Cmd.Dir = root
	lr.Cmd.Env = append(append(base, "PORT="+lr.APIPort, "SIM_PORT="+lr.SimPort, "MOTO_PORT="+lr.Moto,
		"GITPULSE_RUN_DIR="+lr.RunDir, "GITPULSE_PREFIX=t-localrun-"+lr.Moto), env...)
	lr.Cmd.Stdout, lr.Cmd.Stderr = lr.Out, lr.Out
	if err := lr.Cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { lr.Exited <- lr.Cmd.Wait() }()
	tb.Cleanup(func() { // whatever the test found, leave nothing behind
		_ = lr.Cmd.Process.Kill()
		lr.StopMoto(tb)
		if tb.Failed() {
			tb.Logf("localrun output:\n%s", lr.Out.String())
		}
	})
	return lr
}

// WaitFor waits until marker is in the output; it fails the test when the
// program exits first or after 90 s.
func (lr *LocalRun) WaitFor(tb testing.TB, marker string) {
	tb.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(lr.Out.String(), marker) {
		select {
		case err := <-lr.Exited:
			lr.Exited <- err
			tb.Fatalf("localrun exited (%v) before %q:\n%s", err, marker, lr.Out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no %q within 90 s:\n%s", marker, lr.Out.String())
		}
	}
}

// StopMoto stops the program's moto server (a dependency gone).
func (lr *LocalRun) StopMoto(tb testing.TB) {
	tb.Helper()
	_, _ = exec.Command(filepath.Join(RepoRoot(tb), "infra", "scripts", "moto.sh"), "stop", lr.Moto).CombinedOutput()
}
