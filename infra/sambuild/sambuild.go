// Package sambuild checks what `sam build` produced against the source
// template: one bootstrap per function, built for the template's
// architecture, and a built template whose resources are the source's.
// SAM rewrites each function's CodeUri to its build folder, adds a
// SamResourceId to its Metadata and writes CloudFormation's short tags
// (!Ref, !GetAtt, !Sub) in their long form; everything else must come
// through unchanged.
package sambuild

import (
	"debug/elf"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a template's resources, normalised: scalars as strings,
// short tags in long form.
type Template struct {
	Globals   map[string]any
	Resources map[string]map[string]any
}

// Load reads and normalises the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("parse %s: not one YAML document", path)
	}
	root, ok := normalise(doc.Content[0]).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse %s: the document is not a mapping", path)
	}
	t := &Template{Resources: map[string]map[string]any{}}
	t.Globals, _ = root["Globals"].(map[string]any)
	res, _ := root["Resources"].(map[string]any)
	for id, r := range res {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: resource %s is not a mapping", path, id)
		}
		t.Resources[id] = m
	}
	return t, nil
}

// normalise turns a YAML node into maps, lists and strings, with
// CloudFormation's short tags in their long form (!GetAtt a.b becomes
// {"Fn::GetAtt": ["a", "b"]}, as SAM writes it).
func normalise(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return normalise(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = normalise(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, normalise(c))
		}
		v = l
	default:
		v = n.Value
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := strings.TrimPrefix(n.Tag, "!")
		if name != "Ref" && name != "Condition" {
			name = "Fn::" + name
		}
		v = map[string]any{name: v}
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if s, ok := m["Fn::GetAtt"].(string); ok {
			id, attr, _ := strings.Cut(s, ".")
			m["Fn::GetAtt"] = []any{id, attr}
		}
	}
	return v
}

// Functions returns the logical ids of the template's
// AWS::Serverless::Function resources, sorted.
func (t *Template) Functions() []string {
	var ids []string
	for id, r := range t.Resources {
		if r["Type"] == "AWS::Serverless::Function" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Architecture returns the architecture function id is built for: its own
// Architectures, else the Globals', else x86_64 (Lambda's default).
func (t *Template) Architecture(id string) string {
	for _, props := range []any{t.Resources[id]["Properties"], t.Globals["Function"]} {
		if m, ok := props.(map[string]any); ok {
			if a, ok := m["Architectures"].([]any); ok && len(a) == 1 {
				return fmt.Sprint(a[0])
			}
		}
	}
	return "x86_64"
}

// Differences lists how built's resources differ from src's, apart from
// what SAM's build changes on purpose (a function's CodeUri and its
// Metadata.SamResourceId). None: the same resources.
func Differences(src, built *Template) []string {
	var diffs []string
	for id, r := range src.Resources {
		b, ok := built.Resources[id]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing from the built template", id))
			continue
		}
		diffs = diff(id, withoutBuildFields(r), withoutBuildFields(b), diffs)
	}
	for id := range built.Resources {
		if _, ok := src.Resources[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: in the built template only", id))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// diff appends where got differs from want, naming the innermost path
// (Fn.Properties.Timeout: got 60, want 120).
func diff(path string, want, got any, diffs []string) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		for _, k := range keys(wm, gm) {
			diffs = diff(path+"."+k, wm[k], gm[k], diffs)
		}
		return diffs
	}
	if !reflect.DeepEqual(want, got) {
		diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, got, want))
	}
	return diffs
}

// withoutBuildFields copies a resource without CodeUri and
// Metadata.SamResourceId.
func withoutBuildFields(r map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range r {
		out[k] = v
	}
	if p, ok := r["Properties"].(map[string]any); ok {
		c := map[string]any{}
		for k, v := range p {
			if k != "CodeUri" {
				c[k] = v
			}
		}
		out["Properties"] = c
	}
	if m, ok := r["Metadata"].(map[string]any); ok {
		c := map[string]any{}
		for k, v := range m {
			if k != "SamResourceId" {
				c[k] = v
			}
		}
		out["Metadata"] = c
	}
	return out
}

func keys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var ks []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}

// ELFArchitecture returns the Lambda architecture (arm64 or x86_64) of
// the Linux executable at path.
func ELFArchitecture(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s as an ELF executable: %w", path, err)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return "", fmt.Errorf("%s: OS ABI %s, want Linux", path, f.OSABI)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("%s: ELF type %s, want an executable", path, f.Type)
	}
	switch f.Machine {
	case elf.EM_AARCH64:
		return "arm64", nil
	case elf.EM_X86_64:
		return "x86_64", nil
	}
	return "", fmt.Errorf("%s: machine %s, neither arm64 nor x86_64", path, f.Machine)
}
