package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
)

// TestHealsAfterMotoRestart kills the moto server under a running `make
// run` and starts it again, empty, on the same port: within 30 s health
// answers 200 again (the stack provisioned everything again and said so),
// and a sync now afterwards completes (the course's plan runs).
func TestHealsAfterMotoRestart(t *testing.T) {
	if os.Getenv("GITPULSE_TEST_REQUIRE") == "" && os.Getenv("GITPULSE_TEST_AWS_ENDPOINT") == "" {
		t.Skip("needs moto server (run through make test)")
	}
	root := testenv.RepoRoot(t)
	lr := testenv.StartLocalRun(t)
	lr.WaitFor(t, "GitPulse is ready")
	env := readEnv(t, filepath.Join(lr.RunDir, "local.env"))
	base, key, course := env["API_URL"], env["API_KEY"], env["COURSE_ID"]
	call := func(method, path string) (int, http.Header, []byte) {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	if code, _, body := call("GET", "/api/v1/health"); code != 200 {
		t.Fatalf("health before the restart: got %d %s, want 200", code, body)
	}

	lr.StopMoto(t)
	if code, _, _ := call("GET", "/api/v1/health"); code == 200 {
		t.Fatalf("health with moto stopped: got 200, want a failure (is the test's moto the stack's?)")
	}
	moto := exec.Command(filepath.Join(root, "infra", "scripts", "moto.sh"), "start", lr.Moto)
	moto.Dir = root
	if out, err := moto.CombinedOutput(); err != nil {
		t.Fatalf("start moto again: %v\n%s", err, out)
	}
	restarted := time.Now()
	// Health caches its checks for a few seconds: wait for the stack to
	// say it provisioned again, then for health.
	lr.WaitFor(t, "AWS: the local resources were gone")
	for {
		code, _, body := call("GET", "/api/v1/health")
		if code == 200 {
			t.Logf("health 200 again %s after moto restarted", time.Since(restarted).Round(time.Millisecond))
			break
		}
		if time.Since(restarted) > 30*time.Second {
			t.Fatalf("30 s after moto restarted: health %d %s\n%s", code, body, lr.Out.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if time.Since(restarted) > 30*time.Second {
		t.Errorf("health 200 again only %s after moto restarted, want within 30 s", time.Since(restarted))
	}
	if got := strings.Count(lr.Out.String(), "AWS: the local resources were gone"); got != 1 {
		t.Errorf("got %d lines saying the resources were provisioned again, want 1", got)
	}

	// Sync now: 503 with Retry-After until the healed stack's first plan
	// recorded the course again, then 202; the plan then runs.
	var queued api.SyncQueued
	for {
		code, h, body := call("POST", "/api/v1/courses/"+course+"/sync")
		if code == 202 {
			if err := json.Unmarshal(body, &queued); err != nil {
				t.Fatal(err)
			}
			break
		}
		if code == 503 && h.Get("Retry-After") == "" {
			t.Errorf("sync now: got 503 without Retry-After")
		}
		if time.Since(restarted) > 60*time.Second {
			t.Fatalf("sync now after the restart: got %d %s, want 202", code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for {
		code, _, body := call("GET", "/api/v1/courses/"+course)
		var view api.CourseView
		_ = json.Unmarshal(body, &view)
		if code == 200 && view.Sync.LastRun != nil && !view.Sync.LastRun.Before(queued.QueuedAt) {
			return
		}
		if time.Since(restarted) > 90*time.Second {
			t.Fatalf("the sync now queued at %s did not run: course %d %s", queued.QueuedAt, code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
