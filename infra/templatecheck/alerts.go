package templatecheck

import (
	"fmt"
	"slices"
	"strings"
)

// AlertWiring checks that the alarms' notifications can arrive on topic
// (a logical id): every alarm notifies it; the topic is encrypted with a
// customer managed key of the template (CloudWatch alarms cannot publish
// to a topic under the AWS managed alias/aws/sns key, whose policy cannot
// name cloudwatch.amazonaws.com); the key policy lets CloudWatch and every
// function that publishes to the topic use the key; the key rotates.
func (e *Expanded) AlertWiring(topic string) []string {
	var found []string
	add := func(format string, args ...any) { found = append(found, fmt.Sprintf(format, args...)) }
	t, ok := e.Resources[topic]
	if !ok || t.Type != "AWS::SNS::Topic" {
		return []string{topic + ": not an SNS topic of the template"}
	}
	keyRef := Render(t.Properties["KmsMasterKeyId"])
	keyID := strings.TrimSuffix(strings.TrimPrefix(keyRef, "${"), "}")
	key, ok := e.Resources[keyID]
	if t.Properties["KmsMasterKeyId"] == nil {
		add("%s: not encrypted (state why, or encrypt it with a customer managed key)", topic)
	} else if !ok || key.Type != "AWS::KMS::Key" || keyRef == keyID {
		add("%s: KmsMasterKeyId %s is not a customer managed key of the template; CloudWatch alarms cannot publish through an AWS managed key", topic, keyRef)
	}
	var policy []Statement
	if ok && key.Type == "AWS::KMS::Key" {
		policy = statements(keyID+"/KeyPolicy", key.Properties["KeyPolicy"])
		if r, _ := key.Properties["EnableKeyRotation"].(bool); !r {
			add("%s: EnableKeyRotation is not true", keyID)
		}
	}
	allows := func(principal string) bool {
		for _, s := range policy {
			if s.Effect == "Allow" && contains(s.Principals, principal) && contains(s.Actions, "kms:Decrypt") && contains(s.Actions, "kms:GenerateDataKey") {
				return true
			}
		}
		return false
	}
	if key.Type == "AWS::KMS::Key" && !allows("Service:cloudwatch.amazonaws.com") {
		add("%s: the key policy does not let cloudwatch.amazonaws.com use the key (kms:Decrypt, kms:GenerateDataKey): alarms would not arrive", keyID)
	}
	publishers := 0
	fnRoles := e.FunctionRoles()
	for _, fn := range sortedKeys(fnRoles) {
		for _, s := range e.Grants(fn) {
			if s.Effect == "Allow" && contains(s.Actions, "sns:Publish") && contains(s.Resources, "${"+topic+"}") {
				publishers++
				if key.Type == "AWS::KMS::Key" && !allows("AWS:${"+fnRoles[fn]+".Arn}") {
					add("%s: publishes to %s, but the key policy of %s does not let its role %s use the key", fn, topic, keyID, fnRoles[fn])
				}
			}
		}
	}
	if publishers == 0 {
		add("%s: no function publishes to it", topic)
	}
	alarms := 0
	for _, id := range sortedKeys(e.Resources) {
		r := e.Resources[id]
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		if !slices.Contains(renderList(r.Properties["AlarmActions"]), "${"+topic+"}") {
			add("%s: its AlarmActions do not notify %s", id, topic)
		}
	}
	if alarms == 0 {
		add("no AWS::CloudWatch::Alarm in the template")
	}
	return found
}
