package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// TestGroupSchemaIsTheHandlers: the document's AddCourseRequest.group is
// the handler's rule, verbatim, so a generator working from the document
// (schemathesis) cannot find a valid group the handler refuses, nor an
// invalid one it accepts.
func TestGroupSchemaIsTheHandlers(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					OneOf []struct {
						Type      string  `json:"type"`
						Pattern   string  `json:"pattern"`
						MaxLength int     `json:"maxLength"`
						Minimum   float64 `json:"minimum"`
						Not       struct {
							Pattern string `json:"pattern"`
						} `json:"not"`
					} `json:"oneOf"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	alts := doc.Components.Schemas["AddCourseRequest"].Properties["group"].OneOf
	if len(alts) != 2 || alts[0].Type != "string" || alts[1].Type != "integer" {
		t.Fatalf("got group alternatives %+v, want a string and an integer", alts)
	}
	if alts[0].Pattern != groupPattern || alts[0].MaxLength != groupMaxLength || alts[0].Not.Pattern != groupZeros {
		t.Errorf("document: pattern %q, maxLength %d, not %q; handler: %q, %d, %q", alts[0].Pattern, alts[0].MaxLength, alts[0].Not.Pattern, groupPattern, groupMaxLength, groupZeros)
	}
	if alts[1].Minimum != 1 {
		t.Errorf("document: integer minimum %v, want 1", alts[1].Minimum)
	}
}

func TestGroupRef(t *testing.T) {
	long := strings.Repeat("a", 256)
	for _, tc := range []struct {
		raw, want, err string
	}{
		{`42`, "42", ""},
		{`42.0`, "42", ""},
		{`4.2e1`, "42", ""},
		{`"42"`, "42", ""},
		{`"0042"`, "42", ""},
		{`"kpi/tp-2024"`, "kpi/tp-2024", ""},
		{`"https://gitlab.example.edu/kpi/tp-2024"`, "kpi/tp-2024", ""},
		{`"https://gitlab.example.edu:8443/groups/kpi/tp-2024/-/settings/ci_cd"`, "kpi/tp-2024", ""},
		{`"http://127.0.0.1:8929/kpi/"`, "kpi", ""},
		{`"99999999999999999999"`, "99999999999999999999", ""}, // past int64: a path for GitLab to find or not
		{`0`, "", "whole number"},
		{`-3`, "", "whole number"},
		{`4.5`, "", "whole number"},
		{`9223372036854775808`, "", "whole number"},
		{`"0"`, "", "positive"},
		{`"000"`, "", "positive"},
		{`" kpi"`, "", "group URL"},
		{`"kpi/"`, "", "group URL"},
		{`"/kpi"`, "", "group URL"},
		{`"kpi//tp"`, "", "group URL"},
		{`"-kpi"`, "", "group URL"},
		{`"+5"`, "", "group URL"},
		{`"https://gitlab.example.edu/kpi?x=1"`, "", "group URL"},
		{`"ftp://gitlab.example.edu/kpi"`, "", "group URL"},
		{`"Ï·"`, "", "group URL"},
		{`"` + long + `"`, "", "at most 255"},
		{`true`, "", "string or a number"},
		{`null`, "", "required"},
	} {
		got, err := groupRef(json.RawMessage(tc.raw))
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: got %q, %v; want %q", tc.raw, got, err, tc.want)
			}
			continue
		}
		if gitpulse.ErrorCode(err) != gitpulse.EINVALID || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "group") {
			t.Errorf("%s: got %q, %v; want an invalid error naming group and saying %q", tc.raw, got, err, tc.err)
		}
	}
}
