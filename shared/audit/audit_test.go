package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/audit"
	"github.com/gitpulse/gitpulse/shared/gitlab"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/metrics"
)

// countingDB counts BatchWriteItem requests made to the real client.
type countingDB struct {
	*dynamodb.Client
	batches atomic.Int64
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batches.Add(1)
	return c.Client.BatchWriteItem(ctx, in, opts...)
}

type fixture struct {
	sim               *sim.Sim
	primary, backup   sim.Token
	client            *gitlab.Client
	writer            *audit.Writer
	db                *countingDB
	table             string
	logs              *bytes.Buffer
	primaryT, backupT gitpulse.Token
}

func newFixture(t *testing.T, db audit.BatchWriter) *fixture {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	s, url := testenv.Sim(t)
	f := &fixture{sim: s, table: res.AuditTable, logs: &bytes.Buffer{}}
	f.db = &countingDB{Client: dynamodb.NewFromConfig(cfg)}
	if db == nil {
		db = f.db
	}
	exp := time.Now().AddDate(0, 1, 0)
	var err error
	if f.primary, err = s.AddToken(sim.TokenSpec{Name: "primary", Scopes: []string{"read_api"}, ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	if f.backup, err = s.AddToken(sim.TokenSpec{Name: "backup", Scopes: []string{"read_api"}, ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	f.primaryT = gitpulse.Token{Name: "primary", Value: gitpulse.NewSecret(f.primary.Value), URL: url}
	f.backupT = gitpulse.Token{Name: "backup", Value: gitpulse.NewSecret(f.backup.Value), URL: url}
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.writer = &audit.Writer{DB: db, Table: res.AuditTable, Logger: logger, Backoff: time.Millisecond}
	rec := &audit.Recorder{Sink: f.writer, Function: "test", Now: time.Now}
	f.client, err = gitlab.New(gitlab.Options{
		Provider:          gitlab.NewTokenList([]gitpulse.Token{f.primaryT, f.backupT}, time.Hour, time.Now),
		RequestsPerSecond: 10000,
		Interceptors:      []gl.Interceptor{rec.Interceptor},
		Logger:            logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) currentUser(t *testing.T) {
	t.Helper()
	api, err := f.client.API(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.Users.CurrentUser(gl.WithContext(context.Background())); err != nil {
		t.Fatalf("GET /user: %v", err)
	}
}

type want struct {
	hash   string
	status int
}

// TestOutboundCallsAreAudited makes N calls through the chokepoint (one
// refused with 401 and answered with the backup token, one retried after a
// 502) and reads the audit back newest first.
func TestOutboundCallsAreAudited(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.sim.RevokeToken(f.primary.ID); err != nil {
		t.Fatal(err)
	}
	const calls = 60
	var expected []want // oldest first
	f.currentUser(t)    // primary refused, backup accepted
	expected = append(expected, want{f.primaryT.Hash(), 401}, want{f.backupT.Hash(), 200})
	f.sim.InjectFault(sim.Fault{Status: 502, Count: 1})
	f.currentUser(t) // 502, retried, 200
	expected = append(expected, want{f.backupT.Hash(), 502}, want{f.backupT.Hash(), 200})
	for i := 2; i < calls; i++ {
		f.currentUser(t)
		expected = append(expected, want{f.backupT.Hash(), 200})
	}
	stats, err := f.writer.Flush(context.Background())
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
	if stats.Written != len(expected) || stats.Logged != 0 {
		t.Fatalf("got %+v, want %d written and none logged", stats, len(expected))
	}
	items := len(expected)
	if got, max := f.db.batches.Load(), int64((items+24)/25); got > max {
		t.Errorf("got %d BatchWriteItem requests for %d items, want at most %d", got, items, max)
	}

	// Each hash's items, newest first, paged.
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	for _, tok := range []gitpulse.Token{f.primaryT, f.backupT} {
		var wantStatuses []int
		for i := len(expected) - 1; i >= 0; i-- {
			if expected[i].hash == tok.Hash() {
				wantStatuses = append(wantStatuses, expected[i].status)
			}
		}
		var got []audit.Entry
		cursor := ""
		for {
			page, err := audit.Find(context.Background(), db, f.table, audit.Query{TokenHash: tok.Hash(), Limit: 25, Cursor: cursor}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Items...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if len(got) != len(wantStatuses) {
			t.Fatalf("%s: got %d items, want %d", tok.Name, len(got), len(wantStatuses))
		}
		for i, e := range got {
			if e.ResponseStatus != wantStatuses[i] {
				t.Errorf("%s item %d: got status %d, want %d", tok.Name, i, e.ResponseStatus, wantStatuses[i])
			}
			if i > 0 && e.SortKey >= got[i-1].SortKey {
				t.Errorf("%s item %d: not newest first (%s after %s)", tok.Name, i, e.SortKey, got[i-1].SortKey)
			}
			if e.Endpoint != "/api/v4/user" || e.Method != "GET" || e.Direction != "gitlab" || e.Function != "test" ||
				!strings.HasPrefix(e.UserAgent, "gitpulse") || e.ExpiresAt < time.Now().Add(89*24*time.Hour).Unix() {
				t.Errorf("%s item %d: got %+v, want GET /api/v4/user outbound from test with a gitpulse user agent and a 90-day TTL", tok.Name, i, e)
			}
		}
		raw, _ := json.Marshal(got)
		testenv.AssertNoSecret(t, "audit items", string(raw), f.primary.Value, f.backup.Value)
	}
	testenv.AssertNoSecret(t, "logs", f.logs.String(), f.primary.Value, f.backup.Value)
	if !strings.Contains(f.logs.String(), "switched to a fallback token") {
		t.Errorf("the token switch was not logged:\n%s", f.logs.String())
	}
}

// unreachableDB is a DynamoDB client whose endpoint refuses connections.
func unreachableDB(t *testing.T) *dynamodb.Client {
	t.Helper()
	cfg := testenv.AWSConfig(t)
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:1")
		o.RetryMaxAttempts = 2
	})
}

// TestUnreachableTableLogsEveryItem checks that nothing is dropped when the
// audit table cannot be written: every item appears in the log.
func TestUnreachableTableLogsEveryItem(t *testing.T) {
	f := newFixture(t, unreachableDB(t))
	const calls = 30
	for range calls {
		f.currentUser(t)
	}
	var emf strings.Builder
	batch := (&metrics.Emitter{Namespace: "GitPulse", Function: "test", W: &emf}).Begin()
	stats, err := f.writer.Flush(metrics.NewContext(context.Background(), batch))
	if err == nil || stats.Logged != calls || stats.Written != 0 {
		t.Fatalf("got %+v, %v; want all %d logged and an error", stats, err, calls)
	}
	logged := 0
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var rec struct {
			Msg   string      `json:"msg"`
			Audit audit.Entry `json:"audit"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "audit item not stored" {
			if rec.Audit.TokenHash != f.primaryT.Hash() || rec.Audit.ResponseStatus != 200 || rec.Audit.Endpoint != "/api/v4/user" {
				t.Errorf("got logged item %+v, want the primary's 200 on /api/v4/user", rec.Audit)
			}
			logged++
		}
	}
	if logged != calls {
		t.Errorf("got %d items in the log, want %d", logged, calls)
	}
	if err := batch.Flush(); err != nil {
		t.Fatal(err)
	}
	lines, err := metrics.Parse(emf.String())
	if err != nil {
		t.Fatalf("metrics: %v\n%s", err, emf.String())
	}
	if found := metrics.Find(lines, audit.MetricFallbacks); len(found) != 1 {
		t.Errorf("got %d AuditFallbacks lines, want 1:\n%s", len(found), emf.String())
	} else if v, _ := found[0].Value(audit.MetricFallbacks); v != calls {
		t.Errorf("AuditFallbacks: got %v, want %d", v, calls)
	}
	testenv.AssertNoSecret(t, "logs", f.logs.String(), f.primary.Value, f.backup.Value)
}

func TestFindRejectsMalformedInput(t *testing.T) {
	good := gitpulse.NewSecret("x").Hash()
	cases := []struct {
		name string
		q    audit.Query
		want string
	}{
		{"no prefix", audit.Query{TokenHash: strings.TrimPrefix(good, "sha256:")}, "token_hash"},
		{"upper hex", audit.Query{TokenHash: strings.ToUpper(good)}, "token_hash"},
		{"short", audit.Query{TokenHash: good[:20]}, "token_hash"},
		{"limit too big", audit.Query{TokenHash: good, Limit: 101}, "limit"},
		{"negative limit", audit.Query{TokenHash: good, Limit: -1}, "limit"},
		{"bad cursor", audit.Query{TokenHash: good, Cursor: "!!"}, "cursor"},
		{"cursor in an empty range", audit.Query{TokenHash: good, Since: time.Now(), Until: time.Now().Add(-time.Hour), Cursor: "eyJoIjoiIiwicyI6IiJ9"}, "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.Find(context.Background(), nil, "t", tc.q, time.Now())
			if gitpulse.ErrorCode(err) != gitpulse.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an invalid error naming %s", err, tc.want)
			}
		})
	}
}

// TestFindEmptyRange: until before (or at) since is an empty page, read
// without a Query (the nil Querier would panic if one were sent).
func TestFindEmptyRange(t *testing.T) {
	good := "sha256:" + strings.Repeat("ab", 32)
	now := time.Now()
	for _, until := range []time.Time{now.Add(-time.Hour), now} {
		page, err := audit.Find(context.Background(), nil, "t", audit.Query{TokenHash: good, Since: now, Until: until}, now)
		if err != nil || page.Items == nil || len(page.Items) != 0 || page.NextCursor != "" {
			t.Errorf("until %v: got %+v, %v; want an empty page ([] items, no cursor) and no error", until.Sub(now), page, err)
		}
	}
}
