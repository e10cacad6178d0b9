package testenv

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/gitpulse/gitpulse/infra/templatecheck"
)

// policy is a role's statements with the resources resolved to the test's
// ARNs: what the proxy checks where moto does not (the resources of
// DynamoDB, Secrets Manager and SNS calls, and DynamoDB's key
// conditions).
type policy []resolvedStatement

type resolvedStatement struct {
	actions   []string
	resources []string
	// keys, when set, are the dynamodb:LeadingKeys patterns allowed.
	keys    []string
	hasKeys bool
}

func resolvePolicy(stmts []templatecheck.Statement, res map[string]string, drop []string) policy {
	var p policy
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		rs := resolvedStatement{}
		for _, a := range s.Actions {
			if !slices.Contains(drop, a) {
				rs.actions = append(rs.actions, a)
			}
		}
		for _, r := range s.Resources {
			if v, ok := res[r]; ok && v != "" {
				rs.resources = append(rs.resources, v)
			}
		}
		rs.keys, rs.hasKeys = s.LeadingKeys()
		p = append(p, rs)
	}
	return p
}

// request is what an AWS call asks for, as IAM sees it.
type request struct {
	action    string
	resources []string // every resource the call touches
	keys      []string // DynamoDB partition keys the call touches
}

// allows reports whether some statement allows the whole request: the
// action, each resource, and (with a LeadingKeys condition) each key.
func (p policy) allows(r request) bool {
	for _, res := range r.resources {
		ok := slices.ContainsFunc(p, func(s resolvedStatement) bool {
			if !slices.Contains(s.actions, r.action) || !slices.ContainsFunc(s.resources, func(pat string) bool { return glob(pat, res) }) {
				return false
			}
			if !s.hasKeys {
				return true
			}
			for _, k := range r.keys {
				if !slices.ContainsFunc(s.keys, func(pat string) bool { return glob(pat, k) }) {
					return false
				}
			}
			return true
		})
		if !ok {
			return false
		}
	}
	return true
}

// glob matches IAM's * and ? (StringLike, and resource ARNs).
func glob(pattern, s string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

var hashKeyCondition = regexp.MustCompile(`^\s*#?(\w+)\s*=\s*(:\w+)`)

// parseRequest reads the resources and keys of the calls the proxy checks
// itself (DynamoDB, Secrets Manager, SNS); ok is false for the others.
func parseRequest(action string, body []byte, arn func(service, rest string) string) (request, bool) {
	r := request{action: action}
	service, op, _ := strings.Cut(action, ":")
	switch service {
	case "dynamodb":
		var in struct {
			TableName                 string
			IndexName                 string
			Item                      map[string]map[string]any
			Key                       map[string]map[string]any
			KeyConditionExpression    string
			ExpressionAttributeValues map[string]map[string]any
			// BatchWriteItem: a list of writes per table; BatchGetItem:
			// an object of keys per table.
			RequestItems map[string]json.RawMessage
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return r, false
		}
		if in.TableName != "" {
			res := arn("dynamodb", "table/"+in.TableName)
			if in.IndexName != "" {
				res += "/index/" + in.IndexName
			}
			r.resources = append(r.resources, res)
		}
		key := func(m map[string]map[string]any) {
			// The data table's partition key is pk, the audit table's
			// token_hash: a call names exactly one of them.
			for _, name := range []string{"pk", "token_hash"} {
				if v, ok := m[name]["S"].(string); ok {
					r.keys = append(r.keys, v)
				}
			}
		}
		key(in.Item)
		key(in.Key)
		if m := hashKeyCondition.FindStringSubmatch(in.KeyConditionExpression); m != nil {
			if v, ok := in.ExpressionAttributeValues[m[2]]["S"].(string); ok {
				r.keys = append(r.keys, v)
			}
		}
		for table, raw := range in.RequestItems {
			r.resources = append(r.resources, arn("dynamodb", "table/"+table))
			var writes []struct {
				PutRequest    *struct{ Item map[string]map[string]any }
				DeleteRequest *struct{ Key map[string]map[string]any }
			}
			var gets struct{ Keys []map[string]map[string]any }
			switch {
			case json.Unmarshal(raw, &writes) == nil:
				for _, w := range writes {
					if w.PutRequest != nil {
						key(w.PutRequest.Item)
					}
					if w.DeleteRequest != nil {
						key(w.DeleteRequest.Key)
					}
				}
			case json.Unmarshal(raw, &gets) == nil:
				for _, k := range gets.Keys {
					key(k)
				}
			default:
				return r, false
			}
		}
		return r, len(r.resources) > 0
	case "secretsmanager":
		var in struct{ SecretId string }
		if err := json.Unmarshal(body, &in); err != nil || !strings.HasPrefix(in.SecretId, "arn:") {
			return r, false
		}
		r.resources = []string{in.SecretId}
		return r, true
	case "sqs":
		var in struct{ QueueUrl string }
		if err := json.Unmarshal(body, &in); err != nil || in.QueueUrl == "" {
			return r, false
		}
		r.resources = []string{arn("sqs", in.QueueUrl[strings.LastIndex(in.QueueUrl, "/")+1:])}
		return r, true
	case "sns":
		v, err := url.ParseQuery(string(body))
		if err != nil || op != "Publish" || v.Get("TopicArn") == "" {
			return r, false
		}
		r.resources = []string{v.Get("TopicArn")}
		return r, true
	}
	return r, false
}

// denial is the AccessDeniedException AWS answers, in the JSON protocol's
// shape (DynamoDB, Secrets Manager) or the query protocol's (SNS).
func denial(r request, principal string) (contentType string, body []byte) {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows it (keys %q; checked by the test proxy, moto checks no resources or conditions)",
		principal, r.action, strings.Join(r.resources, ", "), r.keys)
	if strings.HasPrefix(r.action, "sns:") {
		return "text/xml", fmt.Appendf(nil, `<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>%s</Message></Error></ErrorResponse>`, msg)
	}
	b, _ := json.Marshal(map[string]string{"__type": "AccessDeniedException", "message": msg, "Message": msg})
	return "application/x-amz-json-1.0", b
}
