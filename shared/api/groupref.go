package api

import (
	"encoding/json"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gitpulse/gitpulse/shared/gitpulse"
)

// The group of a course body, as the OpenAPI document states it
// (AddCourseRequest.group): a positive id (a JSON number, or digits), a
// full path (course/2026) or a group URL
// (https://gitlab.example.edu/course/2026, a /groups/ prefix and a
// /-/... suffix allowed). The document carries groupPattern and
// groupMaxLength verbatim (TestGroupSchemaIsTheHandlers), so what the
// document calls valid is exactly what the handler accepts.
const (
	groupSegment   = `[A-Za-z0-9_][A-Za-z0-9_.-]*` // a GitLab path segment
	groupPath      = groupSegment + `(/` + groupSegment + `)*`
	groupURL       = `https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/` + groupPath + `/?(/-/[A-Za-z0-9_./-]*)?`
	groupPattern   = `^(` + groupPath + `|` + groupURL + `)$`
	groupZeros     = `^0+$` // the document's "not": digits that are no id
	groupMaxLength = 255
)

var (
	groupRE      = regexp.MustCompile(groupPattern)
	groupZerosRE = regexp.MustCompile(groupZeros)
	digitsRE     = regexp.MustCompile(`^[0-9]+$`)
)

// groupRef reads the group of a course body and returns the id (digits) or
// the full path to look up in GitLab.
func groupRef(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "group: required (a GitLab group id, full path or URL)")
	}
	var ref string
	if err := json.Unmarshal(raw, &ref); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", gitpulse.Errorf(gitpulse.EINVALID, "group: must be a string or a number")
		}
		return groupID(n)
	}
	if len(ref) > groupMaxLength || !groupRE.MatchString(ref) {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "group: must be a GitLab group id (digits), full path (course/2026) or group URL, at most %d characters, got %q", groupMaxLength, clip(ref))
	}
	if groupZerosRE.MatchString(ref) {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "group: an id must be positive")
	}
	if digitsRE.MatchString(ref) {
		if _, err := strconv.ParseInt(ref, 10, 64); err == nil {
			return strings.TrimLeft(ref, "0"), nil
		}
		return ref, nil // beyond any id: a path of digits, for GitLab to find or not
	}
	if !strings.HasPrefix(ref, "http://") && !strings.HasPrefix(ref, "https://") {
		return ref, nil
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "group: not a valid URL")
	}
	path := u.Path
	if i := strings.Index(path, "/-/"); i >= 0 {
		path = path[:i]
	}
	return strings.Trim(strings.TrimPrefix(strings.Trim(path, "/"), "groups/"), "/"), nil
}

// groupID is a JSON number as a group id: a whole number from 1 to the
// largest int64 (5, 5.0 and 5e0 alike, as JSON Schema's integer).
func groupID(n json.Number) (string, error) {
	r, ok := new(big.Rat).SetString(n.String())
	if !ok || !r.IsInt() || !r.Num().IsInt64() || r.Num().Int64() < 1 {
		return "", gitpulse.Errorf(gitpulse.EINVALID, "group: an id must be a whole number from 1 to 9223372036854775807")
	}
	return strconv.FormatInt(r.Num().Int64(), 10), nil
}
