package audit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// TestFindFiltersExpiredAndRange stores entries an hour apart, some past
// their TTL, and checks what Find returns for several ranges.
func TestFindFiltersExpiredAndRange(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	db := dynamodb.NewFromConfig(cfg)
	w := &audit.Writer{DB: db, Table: res.AuditTable}
	hash := gitpulse.NewSecret("some token").Hash()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now := base.Add(10 * time.Hour)
	for i := range 10 {
		e := audit.Entry{TokenHash: hash, Endpoint: "/api/v4/user", Method: "GET", ResponseStatus: 200 + i, Direction: audit.DirectionGitLab}
		retention := 24 * time.Hour
		if i < 3 {
			retention = time.Hour // items 0..2 expired before now
		}
		e.Stamp(base.Add(time.Duration(i)*time.Hour), retention)
		w.Record(e)
	}
	if _, err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		since, until time.Time
		want         []int
	}{
		{"all live, newest first", time.Time{}, time.Time{}, []int{209, 208, 207, 206, 205, 204, 203}},
		{"since inclusive", base.Add(7 * time.Hour), time.Time{}, []int{209, 208, 207}},
		{"until exclusive", time.Time{}, base.Add(5 * time.Hour), []int{204, 203}},
		{"window", base.Add(4 * time.Hour), base.Add(6 * time.Hour), []int{205, 204}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			cursor := ""
			for {
				page, err := audit.Find(context.Background(), db, res.AuditTable, audit.Query{TokenHash: hash, Limit: 2, Cursor: cursor, Since: tc.since, Until: tc.until}, now)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page.Items {
					got = append(got, e.ResponseStatus)
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}

	// A cursor of the whole listing replayed with a range it lies outside
	// (a dashboard's rolling since) is the client's mistake: EINVALID.
	first, err := audit.Find(context.Background(), db, res.AuditTable, audit.Query{TokenHash: hash, Limit: 5}, now)
	if err != nil || first.NextCursor == "" {
		t.Fatalf("got %+v, %v, want a first page with a cursor", first, err)
	}
	_, err = audit.Find(context.Background(), db, res.AuditTable, audit.Query{TokenHash: hash, Limit: 5, Cursor: first.NextCursor, Since: base.Add(8 * time.Hour)}, now)
	if gitpulse.ErrorCode(err) != gitpulse.EINVALID {
		t.Errorf("cursor outside the range: got %v, want an EINVALID error", err)
	}
}

type memSink struct{ entries []audit.Entry }

func (m *memSink) Record(e audit.Entry) { m.entries = append(m.entries, e) }

// TestMiddlewareAuditsAPIKeys checks the inbound hook: a request with an
// API key is recorded under the key's hash, one without is not.
func TestMiddlewareAuditsAPIKeys(t *testing.T) {
	sink := &memSink{}
	rec := &audit.Recorder{Sink: sink, Function: "api", Now: time.Now}
	h := rec.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))

	req := httptest.NewRequest("GET", "/api/v1/health?api_key=zzz&limit=5", nil)
	req.Header.Set("Authorization", "Bearer k3y-value")
	req.Header.Set("User-Agent", "dashboard/1.0")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/health", nil))

	if len(sink.entries) != 1 {
		t.Fatalf("got %d entries, want 1", len(sink.entries))
	}
	e := sink.entries[0]
	if e.TokenHash != gitpulse.NewSecret("k3y-value").Hash() || e.ResponseStatus != http.StatusTeapot || e.Direction != audit.DirectionAPI ||
		e.Endpoint != "/api/v1/health?limit=5" || e.UserAgent != "dashboard/1.0" {
		t.Errorf("got %+v, want the key's hash, 418, direction api, the path without the api_key parameter", e)
	}
}

func TestEndpointDropsSecretParameters(t *testing.T) {
	cases := map[string]string{
		"/api/v4/user":                                               "/api/v4/user",
		"/api/v4/projects?page=2&per_page=100":                       "/api/v4/projects?page=2&per_page=100",
		"/api/v4/user?private_token=abc":                             "/api/v4/user",
		"/api/v4/x?access_token=abc&page=1":                          "/api/v4/x?page=1",
		"/api/v4/x?client_secret=s&Password=p&q=1":                   "/api/v4/x?q=1",
		"/api/v1/projects/1/commits?author=ada":                      "/api/v1/projects/1/commits?author=ada",
		"/api/v1/x?keyset=1&api_key=k&x-auth=a":                      "/api/v1/x?keyset=1",
		"/api/v1/courses/gpk_abcdefgh?glpat-abcdefgh=glpat-ijklmnop": "/api/v1/courses/[redacted]?[redacted]=[redacted]",
	}
	for in, want := range cases {
		u, _ := url.Parse(in)
		if got := audit.Endpoint(u); got != want {
			t.Errorf("Endpoint(%s): got %s, want %s", in, got, want)
		}
	}
}
