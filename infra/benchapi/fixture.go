package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gitpulse/gitpulse/infra/gitlabsim/sim"
	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/gitpulse"
	"github.com/gitpulse/gitpulse/shared/health"
	"github.com/gitpulse/gitpulse/shared/store"
)

// fixture is a synced course and the API handler reading it through a
// counted DynamoDB client.
type fixture struct {
	spec      sim.CourseSpec
	course    *testenv.SyncedCourse
	projectID int64 // a team project of the course
	handler   http.Handler
	db        *dbCounter
	key       apikeys.Key     // the reader key's stored entry (name, role, hash)
	raw       gitpulse.Secret // the key itself: only ever sent in Authorization
	synced    time.Duration
	stop      func()
}

// okChecker is a health checker that checks nothing: GET /api/v1/health
// is measured without its dependency checks (the real checker's DynamoDB
// and GitLab calls, cached for a TTL, are not the handler's cost).
type okChecker struct{}

func (okChecker) Check(context.Context) health.Report { return health.Report{Status: health.StatusOK} }

// newFixture generates a course of spec on a simulator of its own, syncs
// it into fresh resources and builds the handler. stop stops the
// simulator; the moto resources stay until moto server stops.
func newFixture(ctx context.Context, cfg aws.Config, spec sim.CourseSpec) (*fixture, error) {
	s := sim.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	f := &fixture{spec: spec, stop: func() { _ = srv.Close() }}

	t0 := time.Now()
	f.course, err = testenv.SyncCourseWith(ctx, cfg, s, "http://"+ln.Addr().String(), "bench-api-"+randomHex(4), spec)
	if err != nil {
		f.stop()
		return nil, fmt.Errorf("sync the course: %w", err)
	}
	f.synced = time.Since(t0)
	if len(f.course.Course.Teams) == 0 || len(f.course.Course.Teams[0].ProjectIDs) == 0 {
		f.stop()
		return nil, fmt.Errorf("the generated course has no team project")
	}
	f.projectID = int64(f.course.Course.Teams[0].ProjectIDs[0])

	f.raw, f.key, err = apikeys.Generate("bench", apikeys.RoleReader, time.Now())
	if err != nil {
		f.stop()
		return nil, fmt.Errorf("API key: %w", err)
	}
	f.db = &dbCounter{}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, f.db.middleware) })
	f.handler = api.New(api.Deps{
		Health: okChecker{},
		Keys:   &apikeys.Authenticator{Source: apikeys.Static{f.key}},
		Store:  store.Store{DB: client, Table: f.course.Resources.DataTable},
		Now:    time.Now,
	})
	return f, nil
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
