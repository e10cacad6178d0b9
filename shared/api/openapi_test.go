package api_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gitpulse/gitpulse/shared/api"
)

// loadOpenAPI loads and validates the embedded OpenAPI document.
func loadOpenAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		tb.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// documented is one operation of the document.
type documented struct {
	op    *openapi3.Operation
	query []string // the query parameters, path-level ones included
}

func operations(doc *openapi3.T) map[string]documented {
	ops := map[string]documented{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			var query []string
			for _, p := range slices.Concat(item.Parameters, op.Parameters) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
					query = append(query, p.Value.Name)
				}
			}
			sort.Strings(query)
			ops[method+" "+path] = documented{op: op, query: query}
		}
	}
	return ops
}

// TestOpenAPI checks the document against the routes the handler serves:
// the same paths and methods, the same open routes, the same query
// parameters, and a valid OpenAPI 3 document.
func TestOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("got openapi %q, want 3.0.3", doc.OpenAPI)
	}
	ops := operations(doc)
	routes := api.New(api.Deps{}).Routes()
	seen := map[string]bool{}
	for _, rt := range routes {
		name := rt.Method + " " + rt.Pattern
		seen[name] = true
		d, ok := ops[name]
		if !ok {
			t.Errorf("route %s is served but not in openapi.json", name)
			continue
		}
		open := d.op.Security != nil && len(*d.op.Security) == 0
		if !open && len(doc.Security) == 0 && (d.op.Security == nil || len(*d.op.Security) == 0) {
			t.Errorf("%s: no security requirement in openapi.json", name)
		}
		if want := rt.Role == ""; open != want {
			t.Errorf("%s: got open %v in openapi.json, want %v (role %q)", name, open, want, rt.Role)
		}
		params := slices.Clone(rt.Params)
		sort.Strings(params)
		for _, p := range params {
			if !slices.Contains(d.query, p) {
				t.Errorf("%s: query parameter %s is accepted but not in openapi.json", name, p)
			}
		}
		for _, p := range d.query {
			if !slices.Contains(params, p) {
				t.Errorf("%s: query parameter %s is in openapi.json but not accepted", name, p)
			}
		}
		if rt.Role != "" && d.op.Responses.Value("401") == nil {
			t.Errorf("%s: needs a key but documents no 401", name)
		}
		if rt.Role == "admin" {
			if d.op.Responses.Value("403") == nil {
				t.Errorf("%s: admin route documents no 403", name)
			}
			if !strings.Contains(d.op.Description, "Admin") {
				t.Errorf("%s: admin route's description does not say so: %q", name, d.op.Description)
			}
		}
	}
	for name := range ops {
		if !seen[name] {
			t.Errorf("%s is in openapi.json but the handler does not serve it", name)
		}
	}
}
