package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config says which GitPulse to check.
type Config struct {
	APIURL      string // base URL, no trailing slash
	APIKey      string // an admin key: the token report and the audit need one
	SyncTimeout time.Duration
	HTTP        *http.Client
}

// configFrom takes API_URL and API_KEY when both are set, else the
// environment file `make run` writes.
func configFrom(apiURL, apiKey, envFile string) (Config, error) {
	if apiURL != "" && apiKey != "" {
		return Config{APIURL: strings.TrimRight(apiURL, "/"), APIKey: apiKey}, nil
	}
	f, err := os.Open(envFile)
	if err != nil {
		return Config{}, fmt.Errorf("no API_URL and API_KEY set, and %s is missing (%w): start `make run`, or set both for a deployed stack", envFile, err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("read %s: %w", envFile, err)
	}
	cfg := Config{APIURL: strings.TrimRight(vals["API_URL"], "/"), APIKey: vals["API_KEY"]}
	if cfg.APIURL == "" || cfg.APIKey == "" {
		return Config{}, fmt.Errorf("%s has no API_URL or API_KEY (make run with API_KEYS of your own prints none: set API_URL and API_KEY)", envFile)
	}
	return cfg, nil
}

// check is one line of the report: a name and what it found (an error
// fails it; errSkip skips it).
type check struct {
	name string
	run  func(ctx context.Context) (string, error)
}

type skipError struct{ why string }

func (e skipError) Error() string { return e.why }

// Run runs every check in order against cfg, writes one line per check,
// and reports whether none failed. A check whose input an earlier one
// failed to find fails, naming what it needed.
func Run(ctx context.Context, cfg Config, out io.Writer) bool {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 60 * time.Second
	}
	c := &client{cfg: cfg}
	var courseID, projectID int64
	var lastRun string
	checks := []check{
		{"health", func(ctx context.Context) (string, error) {
			var h struct {
				Status string         `json:"status"`
				Checks map[string]any `json:"checks"`
			}
			if err := c.get(ctx, "/api/v1/health", false, http.StatusOK, &h); err != nil {
				return "", err
			}
			if h.Status != "ok" {
				return "", fmt.Errorf("status %q, want ok", h.Status)
			}
			return fmt.Sprintf("status ok, %d checks", len(h.Checks)), nil
		}},
		{"courses", func(ctx context.Context) (string, error) {
			var l struct {
				Items []struct {
					ID   int64  `json:"id"`
					Path string `json:"path"`
				} `json:"items"`
			}
			if err := c.get(ctx, "/api/v1/courses", true, http.StatusOK, &l); err != nil {
				return "", err
			}
			if len(l.Items) == 0 {
				return "", errors.New("no course: add one (POST /api/v1/courses) or set GITPULSE_COURSES")
			}
			courseID = l.Items[0].ID
			return fmt.Sprintf("%d, first %s (id %d)", len(l.Items), l.Items[0].Path, courseID), nil
		}},
		{"teams", func(ctx context.Context) (string, error) {
			if courseID == 0 {
				return "", errors.New("needs a course (see courses)")
			}
			var l struct {
				Items []struct {
					Name     string `json:"name"`
					Projects []struct {
						ID int64 `json:"id"`
					} `json:"projects"`
				} `json:"items"`
			}
			if err := c.get(ctx, fmt.Sprintf("/api/v1/courses/%d/teams", courseID), true, http.StatusOK, &l); err != nil {
				return "", err
			}
			projects := 0
			for _, team := range l.Items {
				for _, p := range team.Projects {
					if projectID == 0 {
						projectID = p.ID
					}
					projects++
				}
			}
			if projects == 0 {
				return "", fmt.Errorf("%d teams and no project: has the course synced yet?", len(l.Items))
			}
			return fmt.Sprintf("%d teams, %d projects", len(l.Items), projects), nil
		}},
		{"commits", func(ctx context.Context) (string, error) {
			if projectID == 0 {
				return "", errors.New("needs a project (see teams)")
			}
			var l struct {
				Items []struct {
					SHA string `json:"sha"`
				} `json:"items"`
			}
			if err := c.get(ctx, fmt.Sprintf("/api/v1/projects/%d/commits?limit=5", projectID), true, http.StatusOK, &l); err != nil {
				return "", err
			}
			if len(l.Items) == 0 || l.Items[0].SHA == "" {
				return "", fmt.Errorf("project %d has no commit", projectID)
			}
			return fmt.Sprintf("project %d, newest %.8s", projectID, l.Items[0].SHA), nil
		}},
		{"sync now", func(ctx context.Context) (string, error) {
			if courseID == 0 {
				return "", errors.New("needs a course (see courses)")
			}
			before, err := c.courseLastRun(ctx, courseID)
			if err != nil {
				return "", err
			}
			if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/courses/%d/sync", courseID), true, http.StatusAccepted, nil); err != nil {
				return "", err
			}
			lastRun = before
			return "202 accepted", nil
		}},
		{"sync effect", func(ctx context.Context) (string, error) {
			if courseID == 0 {
				return "", errors.New("needs a course (see courses)")
			}
			start := time.Now()
			for {
				now, err := c.courseLastRun(ctx, courseID)
				if err != nil {
					return "", err
				}
				if now != "" && now != lastRun {
					return fmt.Sprintf("course %d planned again after %s (last run %s)", courseID, time.Since(start).Round(100*time.Millisecond), now), nil
				}
				if time.Since(start) > cfg.SyncTimeout {
					return "", fmt.Errorf("course %d's last run still %q %s after sync now", courseID, lastRun, cfg.SyncTimeout)
				}
				select {
				case <-ctx.Done():
					return "", ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
		}},
		{"token report", func(ctx context.Context) (string, error) {
			var l struct {
				Items []struct {
					Name  string `json:"name"`
					Worst string `json:"worst"`
				} `json:"items"`
			}
			if err := c.get(ctx, "/api/v1/tokens", true, http.StatusOK, &l); err != nil {
				return "", err
			}
			if len(l.Items) == 0 {
				return "", errors.New("no token report: has the token check run?")
			}
			worst := l.Items[0].Worst
			if worst == "" {
				worst = "ok"
			}
			return fmt.Sprintf("%d tokens, %s: %s", len(l.Items), l.Items[0].Name, worst), nil
		}},
		{"rotation", func(context.Context) (string, error) {
			return "", skipError{"rotation is being reworked; `make rotate-now` rotates the local stack's token"}
		}},
		{"audit of this key", func(ctx context.Context) (string, error) {
			sum := sha256.Sum256([]byte(cfg.APIKey))
			hash := "sha256:" + hex.EncodeToString(sum[:])
			var l struct {
				Items []struct {
					Endpoint string `json:"endpoint"`
					Status   int    `json:"response_status"`
				} `json:"items"`
			}
			if err := c.get(ctx, "/api/v1/audit?limit=100&token_hash="+hash, true, http.StatusOK, &l); err != nil {
				return "", err
			}
			for _, it := range l.Items {
				if strings.HasPrefix(it.Endpoint, "/api/v1/courses") {
					return fmt.Sprintf("%d items under the key's hash, the smoke's own calls among them", len(l.Items)), nil
				}
			}
			return "", fmt.Errorf("%d audit items under the key's hash, none of this run's /api/v1/courses calls", len(l.Items))
		}},
	}
	ok := true
	for _, ch := range checks {
		start := time.Now()
		what, err := ch.run(ctx)
		took := time.Since(start).Round(time.Millisecond)
		var skip skipError
		switch {
		case errors.As(err, &skip):
			fmt.Fprintf(out, "SKIP %-18s %s\n", ch.name, skip.why)
		case err != nil:
			ok = false
			fmt.Fprintf(out, "FAIL %-18s %v (%s)\n", ch.name, err, took)
		default:
			fmt.Fprintf(out, "PASS %-18s %s (%s)\n", ch.name, what, took)
		}
	}
	return ok
}

type client struct{ cfg Config }

func (c *client) get(ctx context.Context, path string, auth bool, want int, into any) error {
	return c.do(ctx, http.MethodGet, path, auth, want, into)
}

// do sends one request and decodes the answer into into; another status
// than want is an error naming it, with the API's error code. The key is
// never part of an error.
func (c *client) do(ctx context.Context, method, path string, auth bool, want int, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIURL+path, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		}
		_ = json.Unmarshal(body, &e)
		detail := strings.TrimSpace(e.Code + " " + e.Message)
		if detail == "" && e.Status != "" {
			detail = "status " + e.Status + ": " + strings.TrimSpace(string(body))
		}
		return fmt.Errorf("%s %s: got %d, want %d: %.300s", method, path, resp.StatusCode, want, detail)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			return fmt.Errorf("%s %s: not the JSON expected: %w", method, path, err)
		}
	}
	return nil
}

// courseLastRun returns when the scheduler last planned the course.
func (c *client) courseLastRun(ctx context.Context, id int64) (string, error) {
	var v struct {
		Sync struct {
			LastRun string `json:"last_run"`
		} `json:"sync"`
	}
	if err := c.get(ctx, fmt.Sprintf("/api/v1/courses/%d", id), true, http.StatusOK, &v); err != nil {
		return "", err
	}
	return v.Sync.LastRun, nil
}
