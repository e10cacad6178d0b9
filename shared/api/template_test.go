package api_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/gitpulse/gitpulse/shared/api"
)

// TestTemplateRoutesMatchHandler checks that template.yaml gives API
// Gateway exactly the routes the handler serves (plus the catch-all that
// lets the handler answer unknown routes with its JSON 404).
func TestTemplateRoutesMatchHandler(t *testing.T) {
	b, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s+Path: (/api/\S+)\n\s+Method: (\S+)$`)
	var inTemplate []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		inTemplate = append(inTemplate, m[2]+" "+m[1])
	}
	var inHandler []string
	for _, r := range api.New(api.Deps{}).Routes() {
		inHandler = append(inHandler, r.Method+" "+r.Pattern)
	}
	inHandler = append(inHandler, "ANY /api/{proxy+}")
	slices.Sort(inTemplate)
	slices.Sort(inHandler)
	for _, r := range inHandler {
		if !slices.Contains(inTemplate, r) {
			t.Errorf("route %s is served but not in template.yaml", r)
		}
	}
	for _, r := range inTemplate {
		if !slices.Contains(inHandler, r) {
			t.Errorf("route %s is in template.yaml but not served", r)
		}
	}
}
