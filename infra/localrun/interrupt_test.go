package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/testenv"
)

// TestInterruptStopsEverything runs `make run`'s program (its own moto
// server, the simulator, the API), sends it Ctrl-C (SIGINT) in each phase,
// the first sync among them, and checks that within 5 s the program has
// exited and everything it started is gone: the moto server process, and
// nothing listens any more on the API's, the simulator's or moto's port.
func TestInterruptStopsEverything(t *testing.T) {
	if os.Getenv("GITPULSE_TEST_REQUIRE") == "" && os.Getenv("GITPULSE_TEST_AWS_ENDPOINT") == "" {
		t.Skip("needs moto server (run through make test)")
	}
	root := testenv.RepoRoot(t)
	for _, phase := range []struct{ name, after, before string }{
		{"provisioning", "GitLab: simulator at", "Provisioned:"},
		{"first sync", " tasks done, ", "Sync: done"}, // the progress line, printed per task
		{"serving", "GitPulse is ready", ""},
	} {
		t.Run(phase.name, func(t *testing.T) {
			interruptAfter(t, root, phase.after, phase.before)
		})
	}
}

// interruptAfter sends Ctrl-C once marker is in the output, and fails when
// before (the end of the phase) is there by then too.
func interruptAfter(t *testing.T, root, marker, before string) {
	// A gentle GitLab rate, so the first sync takes a few seconds and the
	// interrupt lands in its middle.
	lr := testenv.StartLocalRun(t, "GITLAB_REQUESTS_PER_SECOND=30")
	cmd, out, exited := lr.Cmd, lr.Out, lr.Exited
	api, simPort, motoPort := lr.APIPort, lr.SimPort, lr.Moto
	motoPidFile := filepath.Join(root, ".run", "moto-"+motoPort+".pid")
	lr.WaitFor(t, marker)
	b, err := os.ReadFile(motoPidFile)
	if err != nil {
		t.Fatalf("moto's pid file: %v\n%s", err, out.String())
	}
	motoPid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if motoPid <= 0 || !alive(motoPid) {
		t.Fatalf("moto server (pid %q) is not running before the interrupt:\n%s", b, out.String())
	}

	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if sofar := out.String(); before != "" && strings.Contains(sofar, before) {
		t.Fatalf("the phase was over (%q) when Ctrl-C was sent, so the test did not interrupt it:\n%s", before, sofar)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("localrun still running 5 s after Ctrl-C:\n%s", out.String())
	}
	for {
		var left []string
		if alive(motoPid) {
			left = append(left, fmt.Sprintf("moto server pid %d", motoPid))
		}
		for name, p := range map[string]string{"API": api, "simulator": simPort, "moto": motoPort} {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, 100*time.Millisecond); err == nil {
				c.Close()
				left = append(left, name+" port "+p+" still listening")
			}
		}
		if len(left) == 0 {
			t.Logf("everything gone %s after Ctrl-C", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("5 s after Ctrl-C, still there: %v\n%s", left, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive tells whether pid runs (a zombie, exited but not yet reaped by
// its new parent, counts as gone).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
