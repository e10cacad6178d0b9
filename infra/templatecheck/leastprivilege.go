package templatecheck

import (
	"fmt"
	"slices"
	"strings"
)

// LeastPrivilege checks every IAM role, Lambda permission and KMS key
// policy of the expanded template against uses (per function, the calls
// its code makes; see Uses) and returns what is wrong, sorted:
//
//   - a function's role grants an action on a resource its code never
//     calls, or does not grant one it calls;
//   - an action with a wildcard ("*", "sqs:SendMessage*"), NotAction,
//     NotResource, in any role or key policy;
//   - Resource "*", except in a KMS key policy, where AWS requires it (a
//     key policy's Resource "*" means the key itself);
//   - a grant that uses declare key-limited (Keys) without a
//     dynamodb:LeadingKeys condition, or with one wider than Keys;
//   - a managed policy whose document the check does not know;
//   - a Lambda permission for an AWS service without SourceArn.
func (e *Expanded) LeastPrivilege(uses map[string][]Use) []string {
	var found []string
	add := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }
	aliases := e.aliases()
	roles := e.Roles()
	for _, id := range sortedKeys(roles) {
		role := roles[id]
		for _, arn := range role.Unknown {
			add("%s: managed policy %s: its document is unknown to the check (add it to managedPolicies or grant inline)", id, arn)
		}
		for _, s := range role.Statements {
			shape(add, s, false)
		}
	}
	for _, id := range sortedKeys(e.Resources) {
		r := e.Resources[id]
		switch r.Type {
		case "AWS::KMS::Key":
			for _, s := range statements(id+"/KeyPolicy", r.Properties["KeyPolicy"]) {
				shape(add, s, true)
				if contains(s.Principals, "AWS:*") || contains(s.Principals, "*") {
					add("%s: statement %q allows any principal", id, s.Sid)
				}
			}
		case "AWS::Lambda::Permission":
			p := Render(r.Properties["Principal"])
			if strings.HasSuffix(p, ".amazonaws.com") && r.Properties["SourceArn"] == nil {
				add("%s: permission for %s has no SourceArn: any %s resource of any account could invoke the function", id, p, p)
			}
		}
	}
	fnRoles := e.FunctionRoles()
	for _, fn := range sortedKeys(fnRoles) {
		want, ok := uses[fn]
		if !ok {
			add("%s: no list of the calls its code makes (templatecheck.Uses)", fn)
			continue
		}
		role, ok := roles[fnRoles[fn]]
		if !ok {
			add("%s: role %s is not a role of the template", fn, fnRoles[fn])
			continue
		}
		for _, s := range role.Statements {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Actions {
				for _, res := range s.Resources {
					res = canonical(aliases, res)
					i := slices.IndexFunc(want, func(u Use) bool { return u.Action == a && u.Resource == res })
					if i < 0 {
						add("%s: %s grants %s on %s, which the function's code never calls", fn, where(s), a, res)
						continue
					}
					if keys := want[i].Keys; keys != nil {
						lk, ok := s.LeadingKeys()
						if !ok {
							add("%s: %s grants %s on %s for every key; the function touches only %s (add a ForAllValues dynamodb:LeadingKeys condition)", fn, where(s), a, res, strings.Join(keys, ", "))
						}
						for _, k := range lk {
							if !contains(keys, k) {
								add("%s: %s grants %s on %s for keys %q, wider than the keys the function touches (%s)", fn, where(s), a, res, k, strings.Join(keys, ", "))
							}
						}
					}
				}
			}
		}
		for _, u := range want {
			if !grants(role, aliases, u.Action, u.Resource) {
				add("%s: the code calls %s on %s (%s), but the role does not grant it", fn, u.Action, u.Resource, u.Why)
			}
		}
	}
	for _, fn := range sortedKeys(uses) {
		if _, ok := fnRoles[fn]; !ok {
			add("%s: listed in templatecheck.Uses but not a function of the template", fn)
		}
	}
	slices.Sort(found)
	return found
}

// shape reports the statement forms no policy may have.
func shape(add func(string, ...any), s Statement, keyPolicy bool) {
	for _, a := range s.Actions {
		if wildcardAction(a) {
			add("%s: action %q has a wildcard: list the actions", where(s), a)
		}
	}
	if len(s.NotActions) > 0 {
		add("%s: NotAction grants everything else", where(s))
	}
	if len(s.NotResources) > 0 {
		add("%s: NotResource grants everything else", where(s))
	}
	if len(s.Resources) == 0 && !keyPolicy && len(s.Principals) == 0 {
		add("%s: no Resource", where(s))
	}
	for _, r := range s.Resources {
		if strings.TrimSpace(r) == "*" && !keyPolicy {
			add("%s: Resource \"*\": name the resources", where(s))
		}
	}
}

func where(s Statement) string {
	if s.Sid != "" {
		return s.Policy + " statement " + s.Sid
	}
	return s.Policy + " statement " + strings.Join(s.Actions, ",")
}

// grants reports whether an Allow statement of role names action and res.
func grants(role *Role, aliases map[string]string, action, res string) bool {
	for _, s := range role.Statements {
		if s.Effect != "Allow" || !contains(s.Actions, action) {
			continue
		}
		for _, r := range s.Resources {
			if canonical(aliases, r) == res {
				return true
			}
		}
	}
	return false
}

// Grants returns a function's granted (action, resource) pairs, resources
// canonical, for reports and the IAM-enforced tests.
func (e *Expanded) Grants(function string) []Statement {
	roles := e.Roles()
	role, ok := roles[e.FunctionRoles()[function]]
	if !ok {
		return nil
	}
	aliases := e.aliases()
	var out []Statement
	for _, s := range role.Statements {
		c := s
		c.Resources = nil
		for _, r := range s.Resources {
			c.Resources = append(c.Resources, canonical(aliases, r))
		}
		out = append(out, c)
	}
	return out
}
