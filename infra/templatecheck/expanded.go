package templatecheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Expanded is a template as CloudFormation sees it after the SAM transform:
// the policy templates turned into statements, the roles, policies and
// permissions SAM adds written out (see expand.py, which runs the SAM
// translator cfn-lint bundles).
type Expanded struct {
	Resources map[string]Node
}

// Node is a resource of the expanded template.
type Node struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// Expand runs the SAM transform on the template at path (python3 with
// cfn-lint installed, as `make lint` needs) and parses the result.
func Expand(path string) (*Expanded, error) {
	script, err := expandScript()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command("python3", script, path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("expand %s with the SAM translator: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return ParseExpanded(out)
}

// ExpandText expands a template given as text (tests widen a copy).
func ExpandText(dir string, text []byte) (*Expanded, error) {
	path := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		return nil, fmt.Errorf("write template copy: %w", err)
	}
	return Expand(path)
}

// ParseExpanded parses the JSON expand.py prints.
func ParseExpanded(b []byte) (*Expanded, error) {
	var e Expanded
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("parse expanded template: %w", err)
	}
	return &e, nil
}

func expandScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find expand.py: %w", err)
	}
	for {
		p := filepath.Join(dir, "infra", "templatecheck", "expand.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("infra/templatecheck/expand.py not found above %s", dir)
		}
		dir = parent
	}
}

// Statement is one IAM policy statement with its intrinsic functions
// rendered as ${Name} / ${Name.Attr} placeholders (see Render).
type Statement struct {
	Policy       string // where it is: role and policy name, or the managed policy
	Sid          string
	Effect       string
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	// Condition is operator → key → values.
	Condition map[string]map[string][]string
	// Principals are rendered principal values (resource policies only).
	Principals []string
}

// LeadingKeys returns the dynamodb:LeadingKeys values the statement's
// ForAllValues condition allows, and whether it has one.
func (s Statement) LeadingKeys() ([]string, bool) {
	for op, keys := range s.Condition {
		if op != "ForAllValues:StringEquals" && op != "ForAllValues:StringLike" {
			continue
		}
		if v, ok := keys["dynamodb:LeadingKeys"]; ok {
			return v, true
		}
	}
	return nil, false
}

// Render turns a CloudFormation value into a string: Ref X is ${X},
// GetAtt X.A is ${X.A}, Fn::Sub is its text with its variables substituted.
// Anything else renders as <unresolved ...>, which matches no rule.
func Render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if r, ok := x["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return "${" + Render(ga[0]) + "." + Render(ga[1]) + "}"
		}
		if sub, ok := x["Fn::Sub"]; ok {
			switch s := sub.(type) {
			case string:
				return s
			case []any:
				if len(s) == 2 {
					text, _ := s[0].(string)
					vars, _ := s[1].(map[string]any)
					return subVar.ReplaceAllStringFunc(text, func(m string) string {
						if val, ok := vars[m[2:len(m)-1]]; ok {
							return Render(val)
						}
						return m
					})
				}
			}
		}
	}
	b, _ := json.Marshal(v)
	return "<unresolved " + string(b) + ">"
}

var subVar = regexp.MustCompile(`\$\{[^}]+\}`)

// strings renders a string or a list of values (Fn::If branches: both).
func renderList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, renderList(e)...)
		}
		return out
	case map[string]any:
		if branches, ok := x["Fn::If"].([]any); ok && len(branches) == 3 {
			return append(renderList(branches[1]), renderList(branches[2])...)
		}
		if r, _ := x["Ref"].(string); r == "AWS::NoValue" {
			return nil
		}
	}
	return []string{Render(v)}
}

// statements returns the statements of a policy document (or of a list of
// statements), with both branches of every Fn::If.
func statements(where string, doc any) []Statement {
	var out []Statement
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if branches, ok := x["Fn::If"].([]any); ok && len(branches) == 3 {
				walk(branches[1])
				walk(branches[2])
				return
			}
			if _, ok := x["Effect"]; !ok {
				return
			}
			s := Statement{Policy: where, Effect: Render(x["Effect"]),
				Actions: renderList(x["Action"]), NotActions: renderList(x["NotAction"]),
				Resources: renderList(x["Resource"]), NotResources: renderList(x["NotResource"])}
			if sid, ok := x["Sid"].(string); ok {
				s.Sid = sid
			}
			if p, ok := x["Principal"]; ok {
				if m, ok := p.(map[string]any); ok {
					for _, k := range sortedKeys(m) {
						for _, v := range renderList(m[k]) {
							s.Principals = append(s.Principals, k+":"+v)
						}
					}
				} else {
					s.Principals = renderList(p)
				}
			}
			if c, ok := x["Condition"].(map[string]any); ok {
				s.Condition = map[string]map[string][]string{}
				for op, keys := range c {
					km, _ := keys.(map[string]any)
					s.Condition[op] = map[string][]string{}
					for k, vals := range km {
						s.Condition[op][k] = renderList(vals)
					}
				}
			}
			out = append(out, s)
		}
	}
	if m, ok := doc.(map[string]any); ok {
		if st, ok := m["Statement"]; ok {
			walk(st)
			return out
		}
	}
	walk(doc)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Role is an IAM role of the expanded template with every statement that
// grants it something: inline policies, managed policies (by their
// documents, see managedPolicies) and AWS::IAM::Policy resources attached
// to it.
type Role struct {
	ID         string
	Statements []Statement
	// Unknown lists managed policy ARNs whose documents the check does not
	// know: it cannot see what they grant.
	Unknown []string
}

// Roles returns every AWS::IAM::Role.
func (e *Expanded) Roles() map[string]*Role {
	roles := map[string]*Role{}
	for _, id := range sortedKeys(e.Resources) {
		r := e.Resources[id]
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		role := &Role{ID: id}
		for _, p := range asList(r.Properties["Policies"]) {
			pm, _ := p.(map[string]any)
			name := Render(pm["PolicyName"])
			role.Statements = append(role.Statements, statements(id+"/"+name, pm["PolicyDocument"])...)
		}
		for _, arn := range renderList(r.Properties["ManagedPolicyArns"]) {
			doc, ok := managedPolicies[managedName(arn)]
			if !ok {
				role.Unknown = append(role.Unknown, arn)
				continue
			}
			var d any
			_ = json.Unmarshal([]byte(doc), &d)
			role.Statements = append(role.Statements, statements(id+"/"+managedName(arn)+" (AWS managed)", d)...)
		}
		roles[id] = role
	}
	for _, id := range sortedKeys(e.Resources) {
		r := e.Resources[id]
		if r.Type != "AWS::IAM::Policy" && r.Type != "AWS::IAM::ManagedPolicy" && r.Type != "AWS::IAM::RolePolicy" {
			continue
		}
		targets := renderList(r.Properties["Roles"])
		if rn, ok := r.Properties["RoleName"]; ok {
			targets = append(targets, Render(rn))
		}
		for _, t := range targets {
			for rid, role := range roles {
				if t == "${"+rid+"}" {
					role.Statements = append(role.Statements, statements(id, r.Properties["PolicyDocument"])...)
				}
			}
		}
	}
	return roles
}

// asList flattens a list with Fn::If entries (both branches).
func asList(v any) []any {
	var out []any
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				if branches, ok := m["Fn::If"].([]any); ok && len(branches) == 3 {
					out = append(out, asList([]any{branches[1], branches[2]})...)
					continue
				}
				if r, _ := m["Ref"].(string); r == "AWS::NoValue" {
					continue
				}
			}
			out = append(out, e)
		}
	}
	return out
}

func managedName(arn string) string {
	i := strings.LastIndex(arn, "/")
	return arn[i+1:]
}

// managedPolicies are the documents of the AWS managed policies SAM
// attaches to the roles it generates (AWS Managed Policy Reference,
// docs.aws.amazon.com/aws-managed-policy/latest/reference/), so that a role
// SAM writes is checked for what it really grants.
var managedPolicies = map[string]string{
	"AWSLambdaBasicExecutionRole":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`,
	"AWSLambdaSQSQueueExecutionRole": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`,
	"AWSLambdaDynamoDBExecutionRole": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:DescribeStream","dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:ListStreams","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`,
	"AWSXrayWriteOnlyAccess":         `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["xray:PutTraceSegments","xray:PutTelemetryRecords","xray:GetSamplingRules","xray:GetSamplingTargets","xray:GetSamplingStatisticSummaries"],"Resource":["*"]}]}`,
}

// FunctionRoles maps each AWS::Lambda::Function to its role's logical id.
func (e *Expanded) FunctionRoles() map[string]string {
	out := map[string]string{}
	for id, r := range e.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		role := Render(r.Properties["Role"])
		if name, ok := strings.CutSuffix(strings.TrimPrefix(role, "${"), ".Arn}"); ok {
			out[id] = name
		} else {
			out[id] = role
		}
	}
	return out
}

// aliases maps the ways an ARN of a template resource can be written to
// the one the rules use: an SNS topic's ARN built from its TopicName is
// ${Topic}, as its Ref.
func (e *Expanded) aliases() map[string]string {
	out := map[string]string{}
	for id, r := range e.Resources {
		if r.Type == "AWS::SNS::Topic" {
			if n, ok := r.Properties["TopicName"]; ok {
				out["arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"+Render(n)] = "${" + id + "}"
			}
		}
	}
	return out
}

// canonical rewrites a rendered resource through the aliases.
func canonical(aliases map[string]string, r string) string {
	if a, ok := aliases[r]; ok {
		return a
	}
	return r
}

// wildcardAction reports whether an action has a wildcard anywhere
// ("*", "s3:*", "sqs:SendMessage*", "dynamodb:?etItem").
func wildcardAction(a string) bool { return strings.ContainsAny(a, "*?") }

func contains(list []string, s string) bool { return slices.Contains(list, s) }
