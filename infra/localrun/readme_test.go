package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/testenv"
)

// An example is one fenced shell block of README.md. The HTML comment on
// the line before its fence (invisible when the README is rendered) says
// how the README test treats it:
//
//	<!-- example: not run (needs an AWS account) -->   counted apart, never run
//	<!-- example: last (it revokes the demo token) -->  run after the others
//
// and no comment: run in README order against the test's `make run`.
type example struct {
	line   int // of the opening fence
	mark   string
	reason string
	text   string
}

var (
	fenceOpen   = regexp.MustCompile("^```(sh|bash|shell|console)\\s*$")
	exampleMark = regexp.MustCompile(`^<!-- example: (not run|last) \((.+)\) -->$`)
	// A command's trailing comment may state the HTTP status it answers.
	wantStatus = regexp.MustCompile(`\s#\s*(\d{3})\b`)
)

// examples reads the fenced shell blocks of a Markdown file.
func examples(t *testing.T, file string) []example {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	var cur *example
	prev := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(l, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		case fenceOpen.MatchString(l):
			cur = &example{line: n}
			if m := exampleMark.FindStringSubmatch(prev); m != nil {
				cur.mark, cur.reason = m[1], m[2]
			} else if strings.HasPrefix(prev, "<!-- example") {
				t.Fatalf("README.md:%d: %q is not an example mark (<!-- example: not run (why) --> or <!-- example: last (why) -->)", n-1, prev)
			}
		}
		if strings.TrimSpace(l) != "" {
			prev = l
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: the fence is never closed", cur.line)
	}
	return out
}

// commands splits an example into its commands (a trailing backslash
// continues one), leaving out blank and comment-only lines.
func commands(text string) []string {
	var out []string
	cmd := ""
	for _, l := range strings.Split(text, "\n") {
		if cmd == "" && (strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#")) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cmd += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		out = append(out, cmd+l)
		cmd = ""
	}
	return out
}

// TestReadmeExamples runs every fenced shell example of README.md that
// talks to a local stack against a `make run` stack it starts (its own
// moto server, simulator and API, on free ports; the README's default
// ports and key placeholder replaced with the real ones), in README
// order, those marked "last" at the end. Each command must exit 0, and a
// curl must answer the status its comment states (any 2xx when it states
// none; a GET is retried for up to 15 s, for states that take a moment,
// such as health's 5 s cache). Examples marked "not run" (AWS, Docker, a
// real GitLab) are counted apart.
func TestReadmeExamples(t *testing.T) {
	if os.Getenv("GITPULSE_TEST_REQUIRE") == "" && os.Getenv("GITPULSE_TEST_AWS_ENDPOINT") == "" {
		t.Skip("needs moto server (run through make test)")
	}
	root := testenv.RepoRoot(t)
	all := examples(t, filepath.Join(root, "README.md"))
	var first, last []example
	skipped := map[string]int{}
	for _, ex := range all {
		switch ex.mark {
		case "not run":
			skipped[ex.reason]++
		case "last":
			last = append(last, ex)
		default:
			first = append(first, ex)
		}
	}
	if len(first)+len(last) == 0 {
		t.Fatal("README.md has no example to run")
	}

	lr := testenv.StartLocalRun(t)
	lr.WaitFor(t, "GitPulse is ready")
	env := readEnv(t, filepath.Join(lr.RunDir, "local.env"))
	key := env["API_KEY"]
	if !strings.HasPrefix(key, "gpk_") {
		t.Fatalf("no API_KEY in %s/local.env: %v", lr.RunDir, env)
	}
	replacer := strings.NewReplacer(
		"localhost:8000", "127.0.0.1:"+lr.APIPort, "127.0.0.1:8000", "127.0.0.1:"+lr.APIPort,
		"localhost:5050", "127.0.0.1:"+lr.Moto, "127.0.0.1:5050", "127.0.0.1:"+lr.Moto, " 5050", " "+lr.Moto,
		"localhost:8929", "127.0.0.1:"+lr.SimPort, "127.0.0.1:8929", "127.0.0.1:"+lr.SimPort,
		"gpk_…", key)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "GITLAB_") && !strings.HasPrefix(kv, "API") {
			base = append(base, kv)
		}
	}
	base = append(base, "GITPULSE_RUN_DIR="+lr.RunDir, "API=http://127.0.0.1:"+lr.APIPort, "API_KEY="+key)

	// Examples write files where a reader runs them (curl -o
	// students.csv): the ones they leave at the top of the checkout go
	// when the test ends.
	before := map[string]bool{}
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			before[e.Name()] = true
		}
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if !before[e.Name()] && e.Type().IsRegular() {
				_ = os.Remove(filepath.Join(root, e.Name()))
			}
		}
	})

	ran := 0
	for _, ex := range append(first, last...) {
		var exports []string
		for _, cmd := range commands(replacer.Replace(ex.text)) {
			ran++
			runCommand(t, root, base, ex.line, exports, cmd, key)
			if strings.HasPrefix(strings.TrimSpace(cmd), "export ") {
				exports = append(exports, cmd)
			}
		}
	}
	reasons := 0
	for _, n := range skipped {
		reasons += n
	}
	t.Logf("README.md: %d fenced shell examples; %d run against the local stack (%d commands, %d of them last), %d not run %v",
		len(all), len(first)+len(last), ran, len(last), reasons, skipped)
}

// runCommand runs one command of the example at line, after the exports
// the example made before it, and checks its exit status and, for a curl,
// the HTTP status.
func runCommand(t *testing.T, root string, env []string, line int, exports []string, cmd, key string) {
	t.Helper()
	want := 0
	if m := wantStatus.FindStringSubmatch(cmd); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	isCurl := strings.HasPrefix(strings.TrimSpace(cmd), "curl ")
	get := isCurl && !strings.Contains(cmd, "-XPOST") && !strings.Contains(cmd, "-X ") && !strings.Contains(cmd, " -d ")
	// curl reports each answer's status after its body.
	script := "curl() { command curl --write-out '\\n@@status %{http_code}\\n' \"$@\"; }\n" + strings.Join(exports, "\n") + "\n" + cmd + "\n"
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := exec.Command("bash", "-c", script)
		c.Dir, c.Env = root, env
		b, err := c.CombinedOutput()
		out := strings.ReplaceAll(string(b), key, "$API_KEY")
		status := 0
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "@@status "); ok {
				status, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		var problem string
		switch {
		case err != nil:
			problem = fmt.Sprintf("exited %v", err)
		case isCurl && want != 0 && status != want:
			problem = fmt.Sprintf("answered %d, the README says %d", status, want)
		case isCurl && want == 0 && (status < 200 || status > 299):
			problem = fmt.Sprintf("answered %d, want a 2xx", status)
		}
		if problem == "" {
			return
		}
		if !get || time.Now().After(deadline) {
			t.Errorf("README.md:%d: %s\n%s\noutput:\n%s", line, problem, strings.ReplaceAll(cmd, key, "$API_KEY"), clipOutput(out))
			return
		}
		time.Sleep(time.Second)
	}
}

func clipOutput(s string) string {
	if len(s) > 3000 {
		return s[:1500] + "\n…\n" + s[len(s)-1500:]
	}
	return s
}

// readEnv reads the export lines `make run` writes to local.env.
func readEnv(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		env[name] = v
	}
	return env
}
