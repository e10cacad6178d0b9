package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
)

// usersEnv returns an env with 45 users and a token of user 1.
func usersEnv(t *testing.T) (*env, sim.Token) {
	t.Helper()
	e := newEnv(t)
	tok := e.token(t, sim.TokenSpec{Scopes: []string{"read_api"}})
	for i := 2; i <= 45; i++ {
		e.sim.AddUser(fmt.Sprintf("student%d", i), fmt.Sprintf("Student %d", i), false)
	}
	return e, tok
}

func TestPaginationHeaders(t *testing.T) {
	e, tok := usersEnv(t)
	base := e.srv.URL + "/api/v4/users"
	link := func(page, perPage int, rel string) string {
		return fmt.Sprintf(`<%s?order_by=id&page=%d&per_page=%d>; rel="%s"`, base, page, perPage, rel)
	}
	tests := []struct {
		name    string
		query   string
		want    map[string]string
		wantLen int
		firstID int // users come newest first
	}{
		{
			name:  "first page",
			query: "order_by=id&per_page=20",
			want: map[string]string{
				"X-Page": "1", "X-Per-Page": "20", "X-Next-Page": "2", "X-Prev-Page": "", "X-Total": "45", "X-Total-Pages": "3",
				"Link": strings.Join([]string{link(2, 20, "next"), link(1, 20, "first"), link(3, 20, "last")}, ", "),
			},
			wantLen: 20, firstID: 45,
		},
		{
			name:  "middle page",
			query: "order_by=id&page=2&per_page=20",
			want: map[string]string{
				"X-Page": "2", "X-Next-Page": "3", "X-Prev-Page": "1",
				"Link": strings.Join([]string{link(1, 20, "prev"), link(3, 20, "next"), link(1, 20, "first"), link(3, 20, "last")}, ", "),
			},
			wantLen: 20, firstID: 25,
		},
		{
			name:  "last page",
			query: "order_by=id&page=3&per_page=20",
			want: map[string]string{
				"X-Page": "3", "X-Next-Page": "", "X-Prev-Page": "2",
				"Link": strings.Join([]string{link(2, 20, "prev"), link(1, 20, "first"), link(3, 20, "last")}, ", "),
			},
			wantLen: 5, firstID: 5,
		},
		{
			name:  "per_page capped at 100",
			query: "order_by=id&per_page=500",
			want: map[string]string{
				"X-Per-Page": "100", "X-Total-Pages": "1", "X-Next-Page": "",
				"Link": strings.Join([]string{link(1, 100, "first"), link(1, 100, "last")}, ", "),
			},
			wantLen: 45, firstID: 45,
		},
		{
			name:    "defaults",
			query:   "order_by=id",
			want:    map[string]string{"X-Page": "1", "X-Per-Page": "20"},
			wantLen: 20, firstID: 45,
		},
		{
			name:    "page past the end",
			query:   "order_by=id&page=9",
			want:    map[string]string{"X-Page": "9", "X-Next-Page": "", "X-Prev-Page": ""},
			wantLen: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(t, "/api/v4/users?"+tt.query, "PRIVATE-TOKEN", tok.Value)
			if resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200 (body %s)", resp.StatusCode, body)
			}
			for k, want := range tt.want {
				if _, ok := resp.Header[http.CanonicalHeaderKey(k)]; !ok {
					t.Errorf("%s: missing, want %q", k, want)
				} else if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			var users []struct{ ID int }
			if err := json.Unmarshal([]byte(body), &users); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if len(users) != tt.wantLen {
				t.Fatalf("items: got %d, want %d", len(users), tt.wantLen)
			}
			if len(users) > 0 && users[0].ID != tt.firstID {
				t.Errorf("first ID: got %d, want %d", users[0].ID, tt.firstID)
			}
		})
	}
}

func TestPaginationWithClientGo(t *testing.T) {
	e, tok := usersEnv(t)
	c := e.client(t, tok.Value)
	opts := &gitlab.ListUsersOptions{ListOptions: gitlab.ListOptions{PerPage: 20}}
	_, resp, err := c.Users.ListUsers(opts)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if resp.TotalItems != 45 || resp.TotalPages != 3 || resp.NextPage != 2 || resp.CurrentPage != 1 {
		t.Errorf("total, pages, next, current: got %d %d %d %d, want 45 3 2 1",
			resp.TotalItems, resp.TotalPages, resp.NextPage, resp.CurrentPage)
	}

	users, err := gitlab.ScanAndCollect(func(p gitlab.PaginationOptionFunc) ([]*gitlab.User, *gitlab.Response, error) {
		return c.Users.ListUsers(opts, p)
	})
	if err != nil {
		t.Fatalf("ScanAndCollect: %v", err)
	}
	if len(users) != 45 {
		t.Errorf("users: got %d, want 45", len(users))
	}
	if got := e.sim.RequestCounts()["GET /api/v4/users"]; got != 4 {
		t.Errorf("requests: got %d, want 4 (one plus three pages)", got)
	}
}

func TestPaginationBadPage(t *testing.T) {
	e, tok := usersEnv(t)
	resp, body := e.get(t, "/api/v4/users?page=abc", "PRIVATE-TOKEN", tok.Value)
	if resp.StatusCode != 400 || strings.TrimSpace(body) != `{"error":"page is invalid"}` {
		t.Errorf("got %d %s, want 400 {\"error\":\"page is invalid\"}", resp.StatusCode, body)
	}
}

func TestPaginateCountLimit(t *testing.T) {
	tests := []struct {
		total       int
		wantCounted bool
	}{
		{10000, true},
		{10001, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.total), func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "http://gitlab.test/api/v4/projects?page=2&per_page=100", nil)
			lo, hi, err := sim.Paginate(w, r, tt.total)
			if err != nil || lo != 100 || hi != 200 {
				t.Fatalf("Paginate: got %d, %d, %v, want 100, 200, nil", lo, hi, err)
			}
			h := w.Header()
			_, hasTotal := h["X-Total"]
			_, hasPages := h["X-Total-Pages"]
			hasLast := strings.Contains(h.Get("Link"), `rel="last"`)
			if hasTotal != tt.wantCounted || hasPages != tt.wantCounted || hasLast != tt.wantCounted {
				t.Errorf("X-Total, X-Total-Pages, rel=last present: got %t %t %t, want %t", hasTotal, hasPages, hasLast, tt.wantCounted)
			}
			if got := h.Get("X-Next-Page"); got != "3" {
				t.Errorf("X-Next-Page: got %q, want 3", got)
			}
			wantLink := `<http://gitlab.test/api/v4/projects?page=1&per_page=100>; rel="prev", ` +
				`<http://gitlab.test/api/v4/projects?page=3&per_page=100>; rel="next", ` +
				`<http://gitlab.test/api/v4/projects?page=1&per_page=100>; rel="first"`
			if got := h.Get("Link"); !strings.HasPrefix(got, wantLink) {
				t.Errorf("Link: got %s, want it to start with %s", got, wantLink)
			}
		})
	}
}
