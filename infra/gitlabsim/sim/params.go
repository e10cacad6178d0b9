package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// params are a request's parameters as Grape sees them: the query string
// merged with a JSON, form or multipart body (body values win). Array
// parameters may come as JSON arrays or as repeated name[] (or name) form
// fields. A JSON null counts as absent.
type params map[string][]string

// readParams reads the parameters of r. A body that is not what its
// Content-Type says gets 400.
func readParams(r *http.Request) (params, *apiError) {
	p := params{}
	for k, vs := range r.URL.Query() {
		p[strings.TrimSuffix(k, "[]")] = vs
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, badRequest("")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if !p.addJSON(body) {
			return nil, invalidParams([]string{"message body does not match declared format"})
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
			return nil, invalidParams([]string{"message body does not match declared format"})
		}
		for k, vs := range r.PostForm {
			p[strings.TrimSuffix(k, "[]")] = vs
		}
	}
	return p, nil
}

// addJSON merges a JSON object's members into p; it reports false when the
// body is not a JSON object of scalars and arrays of scalars.
func (p params) addJSON(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || dec.More() {
		return false
	}
	for k, v := range obj {
		switch v := v.(type) {
		case nil:
			delete(p, k)
		case []any:
			vs := make([]string, 0, len(v))
			for _, e := range v {
				s, ok := scalar(e)
				if !ok {
					return false
				}
				vs = append(vs, s)
			}
			p[k] = vs
		default:
			s, ok := scalar(v)
			if !ok {
				return false
			}
			p[k] = []string{s}
		}
	}
	return true
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// validation collects Grape's parameter problems, in the order the
// parameters are checked.
type validation struct{ problems []string }

func (v *validation) add(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// err is the 400 answer for the problems found, or nil.
func (v *validation) err() *apiError {
	if len(v.problems) == 0 {
		return nil
	}
	return invalidParams(v.problems)
}

// str returns a string parameter; a required one that is absent is a
// problem.
func (p params) str(chk *validation, name string, required bool) (string, bool) {
	vs, ok := p[name]
	if !ok || len(vs) == 0 {
		if required {
			chk.add("%s is missing", name)
		}
		return "", false
	}
	return vs[len(vs)-1], true
}

// list returns an array parameter whose elements must be in allowed (when
// not nil). With commaSeparated, "a,b" counts as two elements, as Grape's
// CommaSeparatedToArray coercion does.
func (p params) list(chk *validation, name string, required, commaSeparated bool, allowed []string) ([]string, bool) {
	vs, ok := p[name]
	if !ok {
		if required {
			chk.add("%s is missing", name)
		}
		return nil, false
	}
	var out []string
	for _, v := range vs {
		if commaSeparated {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
			continue
		}
		out = append(out, v)
	}
	if allowed != nil {
		for _, v := range out {
			if !slices.Contains(allowed, v) {
				chk.add("%s does not have a valid value", name)
				return nil, false
			}
		}
	}
	return out, true
}

// integer returns an integer parameter that must be in allowed (when not
// nil).
func (p params) integer(chk *validation, name string, allowed []int) (int, bool) {
	s, ok := p.str(chk, name, false)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		chk.add("%s is invalid", name)
		return 0, false
	}
	if allowed != nil && !slices.Contains(allowed, n) {
		chk.add("%s does not have a valid value", name)
		return 0, false
	}
	return n, true
}

// boolean returns a Boolean parameter (true/false, 1/0, as Grape accepts).
func (p params) boolean(chk *validation, name string) (bool, bool) {
	s, ok := p.str(chk, name, false)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "1", "t", "yes":
		return true, true
	case "false", "0", "f", "no":
		return false, true
	}
	chk.add("%s is invalid", name)
	return false, false
}

// date returns a Date parameter as 00:00 UTC of that date. It takes
// "YYYY-MM-DD" (what client-go's ISOTime sends) or an RFC 3339 time, whose
// date in its own offset counts.
func (p params) date(chk *validation, name string) (*time.Time, bool) {
	s, ok := p.str(chk, name, false)
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			chk.add("%s is invalid", name)
			return nil, false
		}
	}
	d := dateOf(t)
	return &d, true
}

// oneOf returns a string parameter that must be one of allowed.
func (p params) oneOf(chk *validation, name string, allowed []string) (string, bool) {
	s, ok := p.str(chk, name, false)
	if ok && !slices.Contains(allowed, s) {
		chk.add("%s does not have a valid value", name)
		return "", false
	}
	return s, ok
}
