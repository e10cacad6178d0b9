package metrics

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
)

// Line is one parsed EMF line: its directive and its top-level members.
type Line struct {
	Document
	Fields map[string]any
}

// Value returns the metric's value (the sum of a value array).
func (l Line) Value(name string) (float64, bool) {
	switch v := l.Fields[name].(type) {
	case float64:
		return v, true
	case []any:
		var sum float64
		for _, x := range v {
			f, ok := x.(float64)
			if !ok {
				return 0, false
			}
			sum += f
		}
		return sum, true
	}
	return 0, false
}

// Parse reads the EMF lines in out (other lines, such as log records
// without an _aws member, are skipped) and checks each against the format:
// a Timestamp, a Namespace, dimension sets whose members are top-level
// strings, and metrics whose members are top-level numbers or arrays of
// numbers (at most 100 values).
func Parse(out string) ([]Line, error) {
	var lines []Line
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "{") || !strings.Contains(text, `"_aws"`) {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(text), &l.Fields); err != nil {
			return nil, fmt.Errorf("line %d: not JSON: %w", n, err)
		}
		if err := json.Unmarshal([]byte(text), &l.Document); err != nil {
			return nil, fmt.Errorf("line %d: _aws: %w", n, err)
		}
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

func (l Line) check() error {
	if l.AWS.Timestamp <= 0 {
		return fmt.Errorf("_aws.Timestamp missing")
	}
	if len(l.AWS.CloudWatchMetrics) == 0 {
		return fmt.Errorf("_aws.CloudWatchMetrics empty")
	}
	for _, d := range l.AWS.CloudWatchMetrics {
		if !ValidNamespace(d.Namespace) {
			return fmt.Errorf("namespace %q invalid", d.Namespace)
		}
		for _, set := range d.Dimensions {
			if len(set) == 0 || len(set) > maxDimensions {
				return fmt.Errorf("dimension set of %d members", len(set))
			}
			for _, name := range set {
				if s, ok := l.Fields[name].(string); !ok || s == "" {
					return fmt.Errorf("dimension %s: got %v, want a non-empty string member", name, l.Fields[name])
				}
			}
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return fmt.Errorf("%d metrics, want 1 to 100", len(d.Metrics))
		}
		for _, m := range d.Metrics {
			switch v := l.Fields[m.Name].(type) {
			case float64:
			case []any:
				if len(v) == 0 || len(v) > 100 {
					return fmt.Errorf("metric %s: %d values, want 1 to 100", m.Name, len(v))
				}
				for _, x := range v {
					if _, ok := x.(float64); !ok {
						return fmt.Errorf("metric %s: value %v is not a number", m.Name, x)
					}
				}
			default:
				return fmt.Errorf("metric %s: got %v, want a number member", m.Name, l.Fields[m.Name])
			}
		}
	}
	return nil
}

// Find returns the lines that define metric name.
func Find(lines []Line, name string) []Line {
	var found []Line
	for _, l := range lines {
		for _, d := range l.AWS.CloudWatchMetrics {
			for _, m := range d.Metrics {
				if m.Name == name {
					found = append(found, l)
				}
			}
		}
	}
	return found
}
