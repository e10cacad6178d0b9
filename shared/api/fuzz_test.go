package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/health"
	gpsync "github.com/gitpulse/gitpulse/shared/sync"
)

// okHealth is a health checker whose checks all pass.
type okHealth struct{}

func (okHealth) Check(context.Context) health.Report {
	return health.Report{Status: health.StatusOK, Checks: map[string]health.Check{"dynamodb": {Status: health.StatusOK, Tables: []string{"data", "audit"}}}}
}

// apiEnv is the handler on a synced course (moto server, the GitLab
// simulator) with the OpenAPI document its answers are checked against.
type apiEnv struct {
	h             http.Handler
	sc            *testenv.SyncedCourse
	routes        []api.Route
	doc           *openapi3.T
	router        routers.Router
	reader, admin string // the raw API keys: no answer may hold them
	// free are groups outside the course (courses never overlap): added
	// through the API (201), then a conflict.
	free []sim.Group
}

// newAPIEnv syncs a small generated course into fresh tables and serves
// it. The course is configured (GITPULSE_COURSES), so deleting it is a
// conflict and it stays for the whole run; courses added through the API
// can be deleted.
func newAPIEnv(tb testing.TB) *apiEnv {
	tb.Helper()
	doc := loadOpenAPI(tb)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("OpenAPI router: %v", err)
	}
	sc := testenv.SyncCourse(tb, sim.CourseSpec{Path: "fuzz/course", Teams: 2, StudentsPerTeam: 2, SoloProjects: 1, Weeks: 2})
	// A commit identity no member matches, for the identity routes.
	pid := sc.Course.Teams[0].ProjectIDs[0]
	if _, err := sc.Sim.AddCommit(pid, sim.CommitSpec{AuthorName: "Fuzz Laptop", AuthorEmail: fuzzIdentity, Title: "From the laptop", Additions: 3}); err != nil {
		tb.Fatal(err)
	}
	if err := sc.Worker.Process(context.Background(), gpsync.Task{CourseID: sc.CourseID, ProjectID: int64(pid), Repo: true, ScheduledAt: time.Now().Add(time.Second)}); err != nil {
		tb.Fatal(err)
	}
	rk, reader, err := apikeys.Generate("reader", apikeys.RoleReader, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	ak, admin, err := apikeys.Generate("admin", apikeys.RoleAdmin, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(sc.AWS)
	srv := api.New(api.Deps{
		Health: okHealth{},
		Keys:   &apikeys.Authenticator{Source: apikeys.Static{reader, admin}},
		Store:  sc.Store,
		Audit: func(ctx context.Context, q audit.Query) (audit.Page, error) {
			return audit.Find(ctx, ddb, sc.Resources.AuditTable, q, time.Now())
		},
		Courses:           sc.Scheduler,
		Queue:             sqs.NewFromConfig(sc.AWS),
		QueueURL:          sc.Resources.SyncQueueURL,
		ConfiguredCourses: []string{sc.Course.Path},
	})
	top := sc.Sim.AddGroup("fuzz-free", 0)
	if err := sc.Sim.AddMember("group", top.ID, sc.Course.TeacherID, 30); err != nil {
		tb.Fatal(err)
	}
	var free []sim.Group
	for i := range 3 {
		g := sc.Sim.AddGroup(fmt.Sprintf("free-%d", i+1), top.ID)
		g.Path = top.Path + "/" + g.Path
		free = append(free, g)
	}
	return &apiEnv{h: srv, sc: sc, routes: srv.Routes(), doc: doc, router: router, reader: rk.Reveal(), admin: ak.Reveal(), free: free}
}

// serve runs req through the handler.
func (e *apiEnv) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// check returns what is wrong with the handler's answer rec to req, or
// nil. It holds for every request, however malformed:
//   - no 5xx, except 503 from GET /api/v1/health;
//   - a JSON body with Content-Type application/json, except the empty
//     body of 204 and 304;
//   - an error body has a code and a message;
//   - neither raw API key appears in the body or a header;
//   - the answer is one the OpenAPI document describes for the request
//     (an unknown path or method: an Error body with 400, 404 or 405).
func (e *apiEnv) check(req *http.Request, rec *httptest.ResponseRecorder) []string {
	var bad []string
	status, body := rec.Code, rec.Body.Bytes()
	if status >= 500 && !(status == 503 && (req.Method == "GET" || req.Method == "HEAD") && req.URL.Path == "/api/v1/health") {
		bad = append(bad, fmt.Sprintf("got status %d, want < 500", status))
	}
	for _, key := range []string{e.reader, e.admin} {
		if bytes.Contains(body, []byte(key)) {
			bad = append(bad, "the body holds a raw API key")
		}
		for name, values := range rec.Header() {
			for _, v := range values {
				if strings.Contains(v, key) {
					bad = append(bad, fmt.Sprintf("header %s holds a raw API key", name))
				}
			}
		}
	}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		if len(body) > 0 {
			bad = append(bad, fmt.Sprintf("got a %d with a %d-byte body, want none", status, len(body)))
		}
	} else {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			bad = append(bad, fmt.Sprintf("got Content-Type %q, want application/json", ct))
		}
		if !json.Valid(body) {
			bad = append(bad, "the body is not JSON")
			return bad
		}
	}
	if status >= 400 {
		var eb api.ErrorBody
		if err := json.Unmarshal(body, &eb); err != nil || eb.Code == "" || eb.Message == "" {
			bad = append(bad, "the error body has no code or no message")
		}
	}
	return append(bad, e.conforms(req, rec)...)
}

// conforms validates the answer against the OpenAPI document. A HEAD
// request is checked as the GET the mux serves it with.
func (e *apiEnv) conforms(req *http.Request, rec *httptest.ResponseRecorder) []string {
	vreq := req.Clone(context.Background())
	if vreq.Method == http.MethodHead {
		vreq.Method = http.MethodGet
	}
	vreq.Body = http.NoBody
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		// Not an operation of the document: it must be refused with an
		// error body.
		switch rec.Code {
		case http.StatusBadRequest, http.StatusNotFound:
		case http.StatusMethodNotAllowed:
			if rec.Header().Get("Allow") == "" {
				return []string{"got 405 without an Allow header"}
			}
		default:
			return []string{fmt.Sprintf("got %d for a request the document has no operation for (%v), want 400, 404 or 405", rec.Code, err)}
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			return nil // reported already
		}
		if err := e.doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
			return []string{fmt.Sprintf("the %d body is not an Error: %v", rec.Code, err)}
		}
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  rec.Code,
		Header:  rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return []string{fmt.Sprintf("the %d answer does not match openapi.json: %s", rec.Code, clipText(err.Error(), 600))}
	}
	return nil
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// authHeader is one of the Authorization headers the tests send, by
// kind; kinds past the list send none.
func (e *apiEnv) authHeader(kind int, junk string) string {
	switch kind % 10 {
	case 0:
		return ""
	case 1, 2:
		return "Bearer " + e.reader
	case 3, 4:
		return "Bearer " + e.admin
	case 5:
		return "Bearer gpk_" + junk // a well-formed key nobody has
	case 6:
		return "Basic " + e.reader // the wrong scheme
	case 7:
		return "  bearer \t" + e.admin + " " // odd spacing, lower-case scheme: valid
	case 8:
		return "Bearer " + e.reader + " " + e.admin // two credentials
	default:
		return "Bearer"
	}
}

// FuzzAPI sends arbitrary requests; every answer must pass check. The
// seed corpus (one request per route and a few malformed ones) runs with
// the normal tests; `make fuzz-api` explores further.
func FuzzAPI(f *testing.F) {
	e := newAPIEnv(f)
	course := fmt.Sprint(e.sc.CourseID)
	project := fmt.Sprint(e.sc.Course.ProjectIDs[0])
	for _, rt := range e.routes {
		path := rt.Pattern
		if strings.HasPrefix(path, "/api/v1/courses/{id}") {
			path = strings.Replace(path, "{id}", course, 1)
		} else {
			path = strings.Replace(path, "{id}", project, 1)
		}
		path = strings.Replace(path, "{team}", "g"+fmt.Sprint(e.sc.Course.TeamGroupIDs[0]), 1)
		var q string
		if len(rt.Params) > 0 {
			q = "limit=2"
		}
		var body []byte
		if rt.Method == "POST" {
			body = []byte(`{"group":"` + e.sc.Course.Path + `"}`)
		}
		f.Add(rt.Method, path, q, uint8(3), body)
	}
	f.Add("GET", "/api/v1/projects/"+project+"/commits", "since=2026-01-01&until=2025-01-01", uint8(1), []byte(nil))
	f.Add("GET", "/api/v1/projects/"+project+"/pipelines", "status=bogus&cursor=abc", uint8(2), []byte(nil))
	f.Add("GET", "/api/v1/courses/-1", "", uint8(1), []byte(nil))
	f.Add("GET", "/api/v1/courses/99999999999999999999/teams", "inactive_days=0", uint8(1), []byte(nil))
	f.Add("GET", "/api/v1/audit", "token_hash=sha256:"+strings.Repeat("ab", 32), uint8(1), []byte(nil))
	f.Add("POST", "/api/v1/courses", "", uint8(4), []byte(`{"group":-1,"x":1}`))
	f.Add("POST", "/api/v1/courses", "", uint8(3), bytes.Repeat([]byte("["), 20000))
	f.Add("PATCH", "/api/v1/tokens", "api_key=x", uint8(6), []byte(nil))
	f.Add("GET", "/api/v1//courses", "", uint8(0), []byte(nil))
	f.Add("GET", "/api/v1/courses/%C3%BC", "", uint8(5), []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, query string, auth uint8, body []byte) {
		target := "http://gitpulse.test" + path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequestWithContext(context.Background(), method, target, bytes.NewReader(body))
		if err != nil || req.URL.Path == "" || req.URL.Path[0] != '/' || req.URL.Host != "gitpulse.test" {
			t.Skip("not an HTTP request")
		}
		if h := e.authHeader(int(auth), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); h != "" {
			req.Header.Set("Authorization", h)
		}
		if len(body) > 0 && auth%2 == 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := e.serve(req)
		if bad := e.check(req, rec); len(bad) > 0 {
			t.Errorf("%s %s (auth kind %d): %s\nbody: %s", method, clipText(req.URL.RequestURI(), 200), auth%10, strings.Join(bad, "; "), clipText(rec.Body.String(), 300))
		}
	})
}

var (
	genN       = flag.Int("gen.n", 10000, "how many requests TestGeneratedRequests sends")
	genSeed    = flag.Uint64("gen.seed", 1, "the seed of TestGeneratedRequests' generator")
	genWorkers = flag.Int("gen.workers", 4, "how many goroutines send TestGeneratedRequests' requests")
)

// TestGeneratedRequests sends -gen.n requests (default 10,000) made by a
// seeded generator: every route, valid and invalid ids and query values,
// unknown parameters, cursors replayed from other listings, each kind of
// Authorization header, other methods, and JSON, non-JSON and oversized
// bodies. Every answer must pass check. Each worker has its own
// generator (seed, worker) and its own cursor and ETag pools; only the
// courses added and deleted through the API are shared, so a run is
// repeatable up to the order in which workers interleave.
func TestGeneratedRequests(t *testing.T) {
	e := newAPIEnv(t)
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		took     []time.Duration
		failures int
		answered = map[string]int{} // 2xx answers by operation
	)
	courses := &coursePool{}
	n, workers := *genN, max(*genWorkers, 1)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		count := n / workers
		if w < n%workers {
			count++
		}
		wg.Go(func() {
			g := &generator{e: e, rng: rand.New(rand.NewPCG(*genSeed, uint64(w))), courses: courses}
			local := map[int]int{}
			var durations []time.Duration
			for range count {
				req, desc := g.request()
				t0 := time.Now()
				rec := e.serve(req)
				durations = append(durations, time.Since(t0))
				local[rec.Code]++
				g.learn(req, rec)
				if rec.Code < 300 && req.Method != http.MethodHead {
					if route, _, err := e.router.FindRoute(req); err == nil {
						mu.Lock()
						answered[route.Method+" "+route.Path]++
						mu.Unlock()
					}
				}
				if bad := e.check(req, rec); len(bad) > 0 {
					mu.Lock()
					failures++
					if failures <= 25 {
						t.Errorf("%s: %s\n  body: %s", desc, strings.Join(bad, "; "), clipText(rec.Body.String(), 300))
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range local {
				statuses[k] += v
			}
			took = append(took, durations...)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failures > 25 {
		t.Errorf("%d failing requests in all (the first 25 shown)", failures)
	}
	codes := slices.Sorted(maps.Keys(statuses))
	var hist []string
	for _, c := range codes {
		hist = append(hist, fmt.Sprintf("%d:%d", c, statuses[c]))
	}
	slices.Sort(took)
	var median time.Duration
	if len(took) > 0 {
		median = took[len(took)/2]
	}
	t.Logf("%d requests in %s (%d workers, seed %d); statuses %s; median latency %s",
		len(took), elapsed.Round(time.Millisecond), workers, *genSeed, strings.Join(hist, " "), median.Round(time.Microsecond))
	if n >= 5000 { // each route is drawn some 500 times: each must have succeeded
		for _, rt := range e.routes {
			// The sign-in routes need a GitLab to sign in with (this API has
			// no sign-in configured: they answer 404); signin_test.go and
			// signin_forged_test.go cover them.
			if strings.HasPrefix(rt.Pattern, "/api/v1/auth/") && rt.Pattern != api.LogoutPath {
				continue
			}
			if answered[rt.Method+" "+rt.Pattern] == 0 {
				t.Errorf("%s %s never answered 2xx in %d requests", rt.Method, rt.Pattern, n)
			}
		}
	}
	if len(took) != n {
		t.Errorf("got %d requests sent, want %d", len(took), n)
	}
}

// coursePool holds the ids of courses added through the API (POST
// /api/v1/courses answered 201) and not deleted since.
type coursePool struct {
	mu  sync.Mutex
	ids []int64
}

func (p *coursePool) add(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = append(p.ids, id)
}

func (p *coursePool) remove(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = slices.DeleteFunc(p.ids, func(x int64) bool { return x == id })
}

func (p *coursePool) pick(rng *rand.Rand) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return 0, false
	}
	return p.ids[rng.IntN(len(p.ids))], true
}

// generator makes requests; learn feeds it the cursors, ETags and course
// ids of the answers.
type generator struct {
	e       *apiEnv
	rng     *rand.Rand
	courses *coursePool
	cursors []string
	etags   []string
	seen    []revalidation
	// hookSecret is a webhook secret a registration answered with.
	hookSecret string
}

// revalidation is an answer's URI and ETag.
type revalidation struct{ uri, etag string }

func (g *generator) one(xs ...string) string { return xs[g.rng.IntN(len(xs))] }
func (g *generator) chance(p float64) bool   { return g.rng.Float64() < p }

// junk is a random string of n characters, unicode and URL-special ones
// included.
func (g *generator) junk(n int) string {
	const alphabet = "abcXYZ019-_.~/%?&=#+ üé漢🙂\"'<>\\\x00\t"
	rs := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(rs[g.rng.IntN(len(rs))])
	}
	return b.String()
}

func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

// id is a path id: mostly real ids (the course, its projects, its team
// groups, courses added since), else unknown, malformed, huge, negative
// or unicode.
func (g *generator) id(courseRoute bool) string {
	sc := g.e.sc
	switch r := g.rng.IntN(20); {
	case r < 7:
		if courseRoute {
			if id, ok := g.courses.pick(g.rng); ok && g.chance(0.4) {
				return strconv.FormatInt(id, 10)
			}
			return strconv.FormatInt(sc.CourseID, 10)
		}
		return strconv.Itoa(sc.Course.ProjectIDs[g.rng.IntN(len(sc.Course.ProjectIDs))])
	case r < 9: // the other kind of id
		if courseRoute {
			return strconv.Itoa(sc.Course.ProjectIDs[0])
		}
		return strconv.FormatInt(sc.CourseID, 10)
	case r < 10:
		return strconv.Itoa(sc.Course.TeamGroupIDs[g.rng.IntN(len(sc.Course.TeamGroupIDs))])
	case r < 12:
		return strconv.FormatInt(g.rng.Int64N(1<<62)+1, 10)
	default:
		return url.PathEscape(g.one("0", "-1", "-9223372036854775808", "9223372036854775807", "99999999999999999999",
			"abc", "1e3", "1.0", "0x10", "+5", " 7", "007", "ü", "１２", "🙂", "%", "..", "1;2", g.junk(1+g.rng.IntN(12))))
	}
}

// path fills the route's pattern, now and then mangled.
func (g *generator) path(rt api.Route) string {
	p := rt.Pattern
	if strings.Contains(p, "{id}") {
		p = strings.Replace(p, "{id}", g.id(strings.HasPrefix(p, "/api/v1/courses/")), 1)
	}
	if strings.Contains(p, "{team}") {
		team := "g" + strconv.Itoa(g.e.sc.Course.TeamGroupIDs[g.rng.IntN(len(g.e.sc.Course.TeamGroupIDs))])
		if !g.chance(0.7) {
			team = g.one("g0", "p1", "x", url.PathEscape(g.junk(8)), strings.Repeat("g", 70))
		}
		p = strings.Replace(p, "{team}", team, 1)
	}
	if g.chance(0.06) {
		switch g.rng.IntN(7) {
		case 0:
			p += "/"
		case 1:
			p = strings.Replace(p, "/v1/", "/v1//", 1)
		case 2:
			p = strings.Replace(p, "/v1/", "/v2/", 1)
		case 3:
			p = strings.ToUpper(p)
		case 4:
			p += "/" + url.PathEscape(g.junk(4))
		case 5:
			p = strings.Replace(p, "/api/v1/", "/api/v1/x/../", 1)
		default:
			p = "/" + url.PathEscape(g.junk(6))
		}
	}
	return p
}

// value is a value for the query parameter name: valid or not.
func (g *generator) value(name string) string {
	valid := g.chance(0.8)
	now := time.Now().UTC()
	day := func() time.Time { return now.AddDate(0, 0, -g.rng.IntN(30)+2) }
	switch name {
	case "limit":
		if valid {
			return strconv.Itoa(1 + g.rng.IntN(100))
		}
		return g.one("0", "101", "-1", "abc", "", "1.5", "99999999999999999999", " 5", "1e1")
	case "cursor":
		if len(g.cursors) > 0 && g.chance(0.6) {
			c := g.cursors[g.rng.IntN(len(g.cursors))]
			if g.chance(0.2) && len(c) > 2 { // damaged
				i := g.rng.IntN(len(c))
				c = c[:i] + g.one("A", "_", "=", "") + c[i+1:]
			}
			return c
		}
		return g.one("", "abc", "eyJ4IjoxfQ", strings.Repeat("A", 200), g.junk(20))
	case "since", "until":
		if valid {
			switch g.rng.IntN(3) {
			case 0:
				return day().Format(time.DateOnly)
			case 1:
				return day().Format(time.RFC3339)
			default:
				return day().In(time.FixedZone("", 7200)).Format(time.RFC3339Nano)
			}
		}
		return g.one("yesterday", "2026-13-01", "2026-02-30", "1700000000", "2026-01-01T25:00:00Z", "", g.junk(10))
	case "author":
		if valid {
			return g.one("alice", "student1", "someone@example.edu", "Ada Lovelace", "ü")
		}
		return g.one(strings.Repeat("x", 256), g.junk(300), "")
	case "state":
		if valid {
			return g.one("opened", "merged", "closed", "locked")
		}
		return g.one("all", "OPENED", "open", g.junk(5))
	case "status":
		if valid {
			return g.one("created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed", "canceled", "skipped", "manual", "scheduled")
		}
		return g.one("ok", "SUCCESS", g.junk(5))
	case "ref":
		if valid {
			return g.one("main", "feature/x", "v1.0")
		}
		return strings.Repeat("r", 256)
	case "inactive_days":
		if valid {
			return strconv.Itoa(1 + g.rng.IntN(365))
		}
		return g.one("0", "366", "-3", "7.5", "x", "")
	case "course":
		if valid {
			if id, ok := g.courses.pick(g.rng); ok && g.chance(0.3) {
				return strconv.FormatInt(id, 10)
			}
			return strconv.FormatInt(g.e.sc.CourseID, 10)
		}
		return g.one("0", "-1", "abc", "99999999999999999999", strconv.FormatInt(g.rng.Int64N(1<<40)+1, 10))
	case "token_hash":
		if valid {
			return "sha256:" + g.hex(64)
		}
		return g.one("", "sha256:", "sha256:"+strings.ToUpper(g.hex(64)), "md5:"+g.hex(32), g.hex(64))
	}
	return g.junk(5)
}

// query draws the route's query: accepted parameters now and then, an
// unknown one or a repeated one rarely.
func (g *generator) query(rt api.Route) url.Values {
	q := url.Values{}
	for _, name := range rt.Params {
		if g.chance(0.35) || (name == "token_hash" && g.chance(0.8)) {
			q.Add(name, g.value(name))
		}
	}
	if len(rt.Params) > 0 && g.chance(0.03) {
		name := rt.Params[g.rng.IntN(len(rt.Params))]
		q.Add(name, g.value(name))
	}
	if g.chance(0.06) {
		switch g.rng.IntN(4) {
		case 0: // an API key where it does not belong: never echoed
			q.Set(g.one("api_key", "access_token", "private_token"), g.e.reader)
		case 1:
			q.Set(g.one("LIMIT", "page", "per_page", "sort"), "1")
		default:
			q.Set(g.junk(3), g.junk(3))
		}
	}
	return q
}

// body is a request body: for POST mostly a course body, valid or not.
// fuzzIdentity is a commit identity newAPIEnv adds, unknown to GitLab.
const fuzzIdentity = "fuzz@laptop.local"

// identityBody is a body of POST .../identities: valid (a mapping of
// fuzzIdentity to a member of its project) or not.
func (g *generator) identityBody() []byte {
	sc := g.e.sc
	student := sc.Course.Teams[0].StudentIDs[0]
	switch g.rng.IntN(6) {
	case 0, 1, 2:
		return fmt.Appendf(nil, `{"email":%q,"user_id":%d}`, g.one(fuzzIdentity, "FUZZ@laptop.local"), student)
	case 3: // a user who is no member there
		return fmt.Appendf(nil, `{"email":%q,"user_id":%s}`, fuzzIdentity, g.one(strconv.Itoa(sc.Course.Teams[1].StudentIDs[0]), "999999"))
	case 4: // an identity no commit shows
		return fmt.Appendf(nil, `{"email":%q,"user_id":%d}`, g.one("nobody@example.edu", g.junk(8), ""), student)
	}
	return []byte(g.one(`{"email":"x"}`, `{"user_id":1}`, `{"email":1,"user_id":"x"}`, `{"email":"a#b","user_id":1}`, `{}`))
}

func (g *generator) body(method string) (body []byte, contentType string) {
	if method != "POST" && !g.chance(0.05) {
		return nil, ""
	}
	sc := g.e.sc
	team := sc.Course.Teams[g.rng.IntN(len(sc.Course.Teams))]
	free := g.e.free[g.rng.IntN(len(g.e.free))]
	switch g.rng.IntN(20) {
	case 0, 1: // a group apart from the course: added (201), then a conflict
		body = fmt.Appendf(nil, `{"group":%d}`, free.ID)
	case 2:
		body = fmt.Appendf(nil, `{"group":%q}`, free.Path)
	case 3: // within the course: a conflict (courses never overlap)
		body = fmt.Appendf(nil, `{"group":%q}`, team.Path)
	case 4:
		body = fmt.Appendf(nil, `{"group":"https://gitlab.example.edu/groups/%s/-/issues"}`, free.Path)
	case 5: // configured already: a conflict
		body = fmt.Appendf(nil, `{"group":%q}`, sc.Course.Path)
	case 6:
		body = fmt.Appendf(nil, `{"group":%q}`, g.one("no/such/group", "987654321", "a b", "../x", "", "   ", "http://", "https://h/", strings.Repeat("a/", 200)))
	case 7:
		body = []byte(g.one(`{"group":-1}`, `{"group":0}`, `{"group":null}`, `{}`, `{"group":true}`, `{"group":[1]}`,
			`{"group":1.5}`, `{"group":1e400}`, `{"group":"x","extra":1}`, `{"GROUP":"x"}`, `{"group":"x"}{"group":"y"}`, `{"group":"x"} 1`))
	case 8:
		body = []byte(g.one(`[]`, `"fuzz/course"`, `123`, `null`, `{`, `{"group":`, "group=fuzz/course", "\xff\xfe", ""))
	case 9: // larger than the 16 KiB limit
		body = fmt.Appendf(nil, `{"group":"%s"}`, strings.Repeat("a", 17<<10))
	case 10:
		body = []byte(g.junk(g.rng.IntN(64)))
	default:
		body = fmt.Appendf(nil, `{"group":%q}`, g.junk(1+g.rng.IntN(10)))
	}
	switch r := g.rng.IntN(10); {
	case r < 7:
		contentType = "application/json"
	case r < 8:
		contentType = "application/json; charset=utf-8"
	case r < 9:
		contentType = "text/plain"
	}
	return body, contentType
}

var otherMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW"}

// request makes the next request and a description of it that holds no
// key.
func (g *generator) request() (*http.Request, string) {
	if len(g.seen) > 0 && g.chance(0.04) { // a dashboard revalidating
		s := g.seen[g.rng.IntN(len(g.seen))]
		req, err := http.NewRequestWithContext(context.Background(), "GET", "http://gitpulse.test"+s.uri, nil)
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+g.e.reader)
		req.Header.Set("If-None-Match", s.etag)
		return req, fmt.Sprintf("GET %s (revalidating)", clipText(s.uri, 200))
	}
	rt := g.e.routes[g.rng.IntN(len(g.e.routes))]
	method := rt.Method
	if g.chance(0.08) {
		method = g.one(otherMethods...)
	}
	target := g.path(rt)
	if q := g.query(rt); len(q) > 0 {
		target += "?" + q.Encode()
	}
	body, ct := g.body(method)
	if method == "POST" {
		body, ct = g.hookBody(rt, body, ct)
	}
	if strings.HasSuffix(rt.Pattern, "/identities") && method == "POST" && g.chance(0.8) {
		body = g.identityBody()
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://gitpulse.test"+target, bytes.NewReader(body))
	if err != nil {
		panic(fmt.Sprintf("generated an unusable request %s %s: %v", method, target, err))
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	// Mostly valid keys, so that most requests reach the handlers.
	kind := g.one("1", "2", "3", "4", "7", "1", "3", "2", "4", "0", "5", "6", "8", "9")
	k, _ := strconv.Atoi(kind)
	if h := g.e.authHeader(k, g.hex(43)); h != "" {
		req.Header.Set("Authorization", h)
	}
	g.hookHeaders(rt, req)
	if g.chance(0.1) {
		if len(g.etags) > 0 && g.chance(0.7) {
			req.Header.Set("If-None-Match", g.etags[g.rng.IntN(len(g.etags))])
		} else {
			req.Header.Set("If-None-Match", g.one("*", `W/"nope"`, "garbage"))
		}
	} else if g.chance(0.05) {
		req.Header.Set("If-Modified-Since", time.Now().Add(time.Duration(g.rng.IntN(7200)-3600)*time.Second).UTC().Format(http.TimeFormat))
	}
	return req, fmt.Sprintf("%s %s (auth kind %d, %d-byte body)", method, clipText(target, 200), k, len(body))
}

// learn keeps the answer's cursor and ETag for later requests, and the
// courses added and deleted.
func (g *generator) learn(req *http.Request, rec *httptest.ResponseRecorder) {
	if etag := rec.Header().Get("ETag"); etag != "" && len(g.etags) < 200 {
		g.etags = append(g.etags, etag)
		if rec.Code == http.StatusOK {
			g.seen = append(g.seen, revalidation{req.URL.RequestURI(), etag})
		}
	}
	var body struct {
		NextCursor string `json:"next_cursor"`
		Course     struct {
			ID int64 `json:"id"`
		} `json:"course"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		return
	}
	g.learnHook(rec)
	if body.NextCursor != "" && len(g.cursors) < 200 {
		g.cursors = append(g.cursors, body.NextCursor)
	}
	switch {
	case rec.Code == http.StatusCreated && body.Course.ID != 0:
		g.courses.add(body.Course.ID)
	case rec.Code == http.StatusNoContent && req.Method == http.MethodDelete:
		if id, err := strconv.ParseInt(strings.TrimPrefix(req.URL.Path, "/api/v1/courses/"), 10, 64); err == nil {
			g.courses.remove(id)
		}
	}
}
