// Command gitlabsim serves the GitLab simulator of package sim.
//
//	go run ./infra/gitlabsim -addr 127.0.0.1:0 [-rate-per-minute N [-gitlab-com-headers]] [-demo] [-course PATH [-course-seed N]]
//
// Once listening it prints one JSON line to stdout: {"url":"http://..."},
// plus "token" and "token_id" of the demo user's personal access token
// (scopes read_api and read_repository, expiring in 90 days) with -demo,
// and with -course the generated course: "course_group_id" and
// "course_token", its teacher's token (read_api and read_repository).
// -course generates four weeks of activity of three teams of three
// students, ending now (see sim.GenerateCourse).
// It serves until SIGINT or SIGTERM, then shuts down gracefully.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gitlabsim:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address; port 0 picks a free port")
	rate := flag.Int("rate-per-minute", 0, "authenticated API requests per minute and user; 0 turns throttling off")
	gitlabCom := flag.Bool("gitlab-com-headers", false, "send RateLimit-* headers on every answer, as GitLab.com does (default: on 429 answers only, as a self-managed instance)")
	demo := flag.Bool("demo", false, "seed user \"demo\" with a personal access token and print it")
	course := flag.String("course", "", "generate a course group with this full path (\"kpi/demo\") and print its teacher's token")
	courseSeed := flag.Int64("course-seed", 1, "seed of the generated course")
	flag.Parse()

	opts := []sim.Option{sim.WithRateLimit(*rate)}
	if *gitlabCom {
		opts = append(opts, sim.WithGitLabComRateLimitHeaders())
	}
	s := sim.New(opts...)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	out := struct {
		URL           string `json:"url"`
		Token         string `json:"token,omitempty"`
		TokenID       int    `json:"token_id,omitempty"`
		CourseGroupID int    `json:"course_group_id,omitempty"`
		CourseToken   string `json:"course_token,omitempty"`
	}{URL: "http://" + ln.Addr().String()}
	if *demo {
		u := s.AddUser("demo", "Demo User", false)
		expires := time.Now().AddDate(0, 0, 90)
		t, err := s.AddToken(sim.TokenSpec{
			UserID: u.ID, Name: "demo", Scopes: []string{"read_api", "read_repository"}, ExpiresAt: &expires,
		})
		if err != nil {
			return fmt.Errorf("seed demo token: %w", err)
		}
		out.Token, out.TokenID = t.Value, t.ID
	}
	if *course != "" {
		c := s.GenerateCourse(*courseSeed, sim.CourseSpec{Path: *course})
		out.CourseGroupID, out.CourseToken = c.GroupID, c.TeacherToken
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return fmt.Errorf("print address: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
