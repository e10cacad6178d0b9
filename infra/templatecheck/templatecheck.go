// Package templatecheck checks rules about template.yaml that cfn-lint does
// not: no IAM statement grants every action ("*" or "service:*"), and every
// function has a log group with a retention. It reads the template as YAML
// nodes, so CloudFormation's short tags (!Ref, !GetAtt, !Sub, !If, ...)
// need no special handling: a tagged node is walked like any other.
package templatecheck

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed CloudFormation (SAM) template.
type Template struct {
	root *yaml.Node // the document's top-level mapping
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(b)
}

// Parse parses a template's text.
func Parse(b []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse template: not a YAML mapping")
	}
	return &Template{root: doc.Content[0]}, nil
}

// get returns the value of key in mapping node m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Path returns the scalar value at the keys under mapping node n ("" if
// any is missing).
func Path(n *yaml.Node, keys ...string) string {
	for _, k := range keys {
		n = get(n, k)
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// Resource is one entry of Resources.
type Resource struct {
	ID   string
	Type string
	Node *yaml.Node
}

// Resources returns the template's resources in order.
func (t *Template) Resources() []Resource {
	res := get(t.root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return nil
	}
	var out []Resource
	for i := 0; i+1 < len(res.Content); i += 2 {
		typ := ""
		if n := get(res.Content[i+1], "Type"); n != nil {
			typ = n.Value
		}
		out = append(out, Resource{ID: res.Content[i].Value, Type: typ, Node: res.Content[i+1]})
	}
	return out
}

// Finding is a broken rule, with where it is.
type Finding struct {
	Resource string
	Line     int
	Message  string
}

func (f Finding) String() string {
	return fmt.Sprintf("template line %d (%s): %s", f.Line, f.Resource, f.Message)
}

// WildcardActions returns every IAM statement that allows all actions, or
// all of a service's: Action or NotAction "*" or "service:*", alone or in a
// list, under any condition (!If branches included). A statement is any
// mapping with Effect and Action or NotAction, wherever it is: inline
// policies of functions, SAM policy templates' Statement lists, roles,
// managed policies, bucket or queue policies.
func (t *Template) WildcardActions() []Finding {
	var found []Finding
	for _, r := range t.Resources() {
		walk(r.Node, func(m *yaml.Node) {
			if m.Kind != yaml.MappingNode || get(m, "Effect") == nil {
				return
			}
			for _, key := range []string{"Action", "NotAction"} {
				v := get(m, key)
				if v == nil {
					continue
				}
				walk(v, func(s *yaml.Node) {
					if s.Kind == yaml.ScalarNode && wildcard(s.Value) {
						found = append(found, Finding{Resource: r.ID, Line: s.Line, Message: fmt.Sprintf("%s %q allows every action", key, s.Value)})
					}
				})
			}
		})
	}
	return found
}

// wildcard reports whether an action is "*" or "service:*".
func wildcard(action string) bool {
	a := strings.TrimSpace(action)
	if a == "*" {
		return true
	}
	service, rest, ok := strings.Cut(a, ":")
	return ok && service != "" && rest == "*"
}

// walk calls fn on n and every node below it.
func walk(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// FunctionsWithoutRetention returns a finding for each
// AWS::Serverless::Function without a log group that sets RetentionInDays.
// A function's log group is the one its LoggingConfig.LogGroup names, or
// else the AWS::Logs::LogGroup named /aws/lambda/<its name>: ${LogicalId}
// when it has no FunctionName, else its FunctionName.
func (t *Template) FunctionsWithoutRetention() []Finding {
	groups := map[string]Resource{} // by name as written, and by logical id
	for _, r := range t.Resources() {
		if r.Type != "AWS::Logs::LogGroup" {
			continue
		}
		groups["id:"+r.ID] = r
		if name := get(get(r.Node, "Properties"), "LogGroupName"); name != nil && name.Kind == yaml.ScalarNode {
			groups["name:"+name.Value] = r
		}
	}
	globalGroup := get(get(get(get(t.root, "Globals"), "Function"), "LoggingConfig"), "LogGroup")
	var found []Finding
	for _, r := range t.Resources() {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		props := get(r.Node, "Properties")
		var group Resource
		var ok bool
		want := ""
		explicit := get(get(props, "LoggingConfig"), "LogGroup")
		if explicit == nil {
			explicit = globalGroup
		}
		switch {
		case explicit != nil && explicit.Tag == "!Ref":
			want = "log group " + explicit.Value
			group, ok = groups["id:"+explicit.Value]
		case explicit != nil:
			want = "log group " + explicit.Value
			group, ok = groups["name:"+explicit.Value]
		default:
			name := "${" + r.ID + "}"
			if fn := get(props, "FunctionName"); fn != nil && fn.Kind == yaml.ScalarNode && slices.Contains([]string{"", "!!str", "!Sub"}, fn.Tag) {
				name = fn.Value
			}
			want = "/aws/lambda/" + name
			group, ok = groups["name:"+want]
		}
		if !ok {
			found = append(found, Finding{Resource: r.ID, Line: r.Node.Line, Message: fmt.Sprintf("no AWS::Logs::LogGroup for %s: its logs would be kept forever", want)})
			continue
		}
		if get(get(group.Node, "Properties"), "RetentionInDays") == nil {
			found = append(found, Finding{Resource: r.ID, Line: group.Node.Line, Message: fmt.Sprintf("log group %s has no RetentionInDays", group.ID)})
		}
	}
	return found
}
