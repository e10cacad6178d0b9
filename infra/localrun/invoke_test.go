package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// TestInvokeDefaultsKeepProjects runs `make invoke-<function>` with each
// function's default event against a running `make run` (the api, the
// token check, the scheduler, the worker, then the rotation's
// createSecret, which leaves a rotation open) and checks after each that
// every project is still in its own course and team: one course, each
// project's course_id and team_id as before, listed under its team.
func TestInvokeDefaultsKeepProjects(t *testing.T) {
	if os.Getenv("GITPULSE_TEST_REQUIRE") == "" && os.Getenv("GITPULSE_TEST_RIE") == "" {
		t.Skip("needs moto server and the Runtime Interface Emulator (run through make test)")
	}
	root := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "bin", "aws-lambda-rie")); err != nil {
		t.Fatalf("make invoke-* needs bin/aws-lambda-rie (make rie): %v", err)
	}
	lr := testenv.StartLocalRun(t)
	lr.WaitFor(t, "GitPulse is ready")
	env := readEnv(t, filepath.Join(lr.RunDir, "local.env"))
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", env["API_URL"]+path, nil)
		req.Header.Set("Authorization", "Bearer "+env["API_KEY"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || json.Unmarshal(b, v) != nil {
			t.Fatalf("GET %s: got %d %s", path, resp.StatusCode, b)
		}
	}
	// where is each project's course and team, as the API shows them.
	where := func() string {
		t.Helper()
		var courses struct{ Items []gitpulse.Course }
		get("/api/v1/courses", &courses)
		var lines []string
		for _, c := range courses.Items {
			var teams struct{ Items []api.TeamView }
			get(fmt.Sprintf("/api/v1/courses/%d/teams?limit=100", c.ID), &teams)
			for _, tv := range teams.Items {
				for _, p := range tv.Projects {
					var info gpsync.ProjectInfo
					get(fmt.Sprintf("/api/v1/projects/%d", p.ID), &info)
					lines = append(lines, fmt.Sprintf("project %d: listed in course %d team %s; course_id %d, team_id %s", p.ID, c.ID, tv.ID, info.Project.CourseID, info.Project.TeamID))
				}
			}
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	before := where()
	if before == "" {
		t.Fatal("the first sync stored no project")
	}
	for _, fn := range []string{"api", "token-check", "sync-scheduler", "sync-worker", "token-rotate"} {
		cmd := exec.Command("make", "--no-print-directory", "invoke-"+fn)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GITPULSE_RUN_DIR="+lr.RunDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make invoke-%s: %v\n%s", fn, err, out)
		}
		if strings.Contains(string(out), "errorMessage") || strings.Contains(string(out), "sync task refused") {
			t.Errorf("make invoke-%s with its default event failed:\n%s", fn, out)
		}
		if got := where(); got != before {
			t.Errorf("after make invoke-%s: projects\n%s\nwant, as before,\n%s", fn, got, before)
		}
	}
	t.Logf("after make invoke-api, -token-check, -sync-scheduler, -sync-worker, -token-rotate:\n%s", before)
}
