package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gitpulse/gitpulse/shared/api"
)

// The generator's webhook requests: registrations with the bodies that
// route takes, and webhooks with a secret a registration gave (or junk),
// GitLab's event names (or others) and payloads (or junk).

func isHookRoute(rt api.Route) bool { return rt.Pattern == "/api/v1/hooks/gitlab" }

func isRegisterRoute(rt api.Route) bool { return rt.Pattern == "/api/v1/courses/{id}/hooks" }

// hookBody replaces the course body for the two webhook routes.
func (g *generator) hookBody(rt api.Route, body []byte, ct string) ([]byte, string) {
	sc := g.e.sc
	switch {
	case isRegisterRoute(rt) && g.chance(0.7):
		return []byte(g.one(``, `{}`, `{"url":"https://gitpulse.example.edu/api/v1/hooks/gitlab"}`, `{"url":"ftp://x/api/v1/hooks/gitlab"}`,
			`{"url":"https://x/elsewhere"}`, `{"url":1}`, `{"hooks":true}`)), "application/json"
	case isHookRoute(rt) && g.chance(0.8):
		pid := sc.Course.ProjectIDs[g.rng.IntN(len(sc.Course.ProjectIDs))]
		return []byte(g.one(
			fmt.Sprintf(`{"object_kind":"push","project_id":%d,"ref":"refs/heads/main","commits":[]}`, pid),
			fmt.Sprintf(`{"object_kind":"issue","project":{"id":%d},"object_attributes":{"iid":1}}`, pid),
			fmt.Sprintf(`{"object_kind":"pipeline","project":{"id":%d},"object_attributes":{"id":1}}`, pid),
			`{"object_kind":"push","project_id":987654321}`, `{"object_kind":"push"`, `[]`, `null`, g.junk(20))), "application/json"
	}
	return body, ct
}

// hookHeaders sets the webhook headers on requests to the webhook route.
func (g *generator) hookHeaders(rt api.Route, req *http.Request) {
	if !isHookRoute(rt) {
		return
	}
	if g.hookSecret != "" && g.chance(0.8) {
		req.Header.Set("X-Gitlab-Token", g.hookSecret)
	} else if g.chance(0.5) {
		req.Header.Set("X-Gitlab-Token", "gph_"+g.hex(64))
	}
	req.Header.Set("X-Gitlab-Event", g.one("Push Hook", "Push Hook", "Issue Hook", "Pipeline Hook", "Job Hook", "Tea Hook", "", g.junk(8)))
	if g.chance(0.5) {
		req.Header.Set("X-Gitlab-Event-UUID", g.hex(32))
	}
}

// learnHook keeps the secret of a registration's answer.
func (g *generator) learnHook(rec *httptest.ResponseRecorder) {
	var reg struct {
		Secret string `json:"secret"`
	}
	if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &reg) == nil && reg.Secret != "" {
		g.hookSecret = reg.Secret
	}
}
