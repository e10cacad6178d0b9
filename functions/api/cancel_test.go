package main_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitpulse/gitpulse/infra/testenv"
	"github.com/gitpulse/gitpulse/shared/api"
	"github.com/gitpulse/gitpulse/shared/apikeys"
	"github.com/gitpulse/gitpulse/shared/config"
	"github.com/gitpulse/gitpulse/shared/platform"
)

// TestClientGoneIsNotAnError: a client that closed its connection before
// the answer is logged as gone (not a 500), and its audit item is stored
// although the request's context is cancelled.
func TestClientGoneIsNotAnError(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	res := testenv.Provision(t, cfg, nil)
	raw, key, err := apikeys.Generate("dash", apikeys.RoleReader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := json.Marshal([]apikeys.Key{key})
	for _, kv := range append(testenv.AWSEnv(t), "DATA_TABLE="+res.DataTable, "AUDIT_TABLE="+res.AuditTable,
		"GITLAB_TOKEN=glpat-notused0123456789", "GITLAB_URL=http://127.0.0.1:9", "API_KEYS="+string(keys)) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var out testenv.Output
	p, err := platform.NewTo(context.Background(), &out, "api", config.EnvDataTable)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.API()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is gone before the handler reads the table
	req := httptest.NewRequest("GET", "/api/v1/courses", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+raw.Reveal())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	p.Flush(req.Context())

	if rec.Code != api.StatusClientClosed {
		t.Errorf("got status %d, want %d (client closed)", rec.Code, api.StatusClientClosed)
	}
	logs := out.String()
	if !strings.Contains(logs, "client gone before the answer") || strings.Contains(logs, "request failed") || strings.Contains(logs, `"status":500`) {
		t.Errorf("got logs\n%s\nwant the client logged as gone and no 500", logs)
	}
	if strings.Contains(logs, "audit item not stored") {
		t.Errorf("the audit flush fell back to the log:\n%s", logs)
	}
	items := scanAudit(t, cfg, res.AuditTable)
	if len(items) != 1 || !strings.Contains(items[0], `"response_status":{"Value":"499"}`) {
		t.Errorf("got audit items %v, want one with response_status 499", items)
	}
}
