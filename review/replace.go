package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// createOnly lists, for each resource type the compiler emits, the
// properties CloudFormation cannot change in place: a new value makes it
// create a new resource and delete the old one. They are the
// createOnlyProperties of each type's provider schema, written as paths
// below /properties; TestCreateOnlyTable checks them against the schemas in
// testdata/reference/cfn.
var createOnly = map[string][]string{
	"AWS::Backup::BackupPlan":           nil,
	"AWS::Backup::BackupSelection":      {"BackupPlanId", "BackupSelection"},
	"AWS::Backup::BackupVault":          {"BackupVaultName", "EncryptionKeyArn"},
	"AWS::DLM::LifecyclePolicy":         nil,
	"AWS::IAM::InstanceProfile":         {"InstanceProfileName", "Path"},
	"AWS::IAM::ManagedPolicy":           {"Description", "ManagedPolicyName", "Path"},
	"AWS::IAM::Policy":                  nil,
	"AWS::IAM::Role":                    {"Path", "RoleName"},
	"AWS::Rbin::Rule":                   {"ResourceType"},
	"AWS::SSM::Document":                {"DocumentType", "Name"},
	"AWS::SSM::MaintenanceWindow":       nil,
	"AWS::SSM::MaintenanceWindowTarget": {"WindowId"},
	"AWS::SSM::MaintenanceWindowTask":   {"TaskType", "WindowId"},
}

// conditionalCreateOnly lists the properties that force a replacement only
// in some cases (conditionalCreateOnlyProperties), and replacedWhen says in
// which: an SSM document whose UpdateMethod is NewVersion gets a new version
// instead of being replaced; Replace is the default.
var conditionalCreateOnly = map[string][]string{
	"AWS::SSM::Document": {"Attachments", "Content", "DocumentFormat", "Requires", "TargetType", "VersionName"},
}

var replacedWhen = map[string]func(props map[string]json.RawMessage) bool{
	"AWS::SSM::Document": func(props map[string]json.RawMessage) bool {
		method, _ := scalar(props["UpdateMethod"])
		return method != "NewVersion"
	},
}

// replacements compares the resources of two templates by logical id and
// lists those CloudFormation would replace. A resource whose create-only
// property refers (Ref, Fn::GetAtt, Fn::Sub) to a replaced resource is
// replaced too, because the physical id it refers to changes.
func replacements(old, new *templateFile) ([]Replacement, []string) {
	if old == nil || new == nil {
		return nil, nil
	}
	var notes []string
	replaced := map[string]*Replacement{}
	props := map[string]map[string]json.RawMessage{}
	propsOf := func(id string, r templateResource) map[string]json.RawMessage {
		if m, ok := props[id]; ok {
			return m
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(r.Properties, &m)
		props[id] = m
		return m
	}
	ids := sortedKeys(new.Resources)
	unknown := map[string]bool{}
	for _, id := range ids {
		n := new.Resources[id]
		o, ok := old.Resources[id]
		if !ok {
			continue
		}
		if o.Type != n.Type {
			replaced[id] = &Replacement{LogicalID: id, Type: n.Type, Properties: []string{},
				Reason: fmt.Sprintf("its type changes from %s to %s", o.Type, n.Type)}
			continue
		}
		if bytes.Equal(o.Properties, n.Properties) {
			continue
		}
		always, known := createOnly[n.Type]
		if !known {
			unknown[n.Type] = true
			continue
		}
		op, np := propsOf(id+"\x00old", o), propsOf(id, n)
		var changed []string
		for _, p := range always {
			if !equalJSON(lookup(op, p), lookup(np, p)) {
				changed = append(changed, p)
			}
		}
		if when := replacedWhen[n.Type]; when != nil && when(np) {
			for _, p := range conditionalCreateOnly[n.Type] {
				if !equalJSON(lookup(op, p), lookup(np, p)) {
					changed = append(changed, p)
				}
			}
		}
		if len(changed) > 0 {
			sort.Strings(changed)
			replaced[id] = &Replacement{LogicalID: id, Type: n.Type, Properties: changed,
				Reason: fmt.Sprintf("%s cannot be changed in place", joinAnd(changed))}
		}
	}
	// Follow references until nothing more is replaced.
	for grew := len(replaced) > 0; grew; {
		grew = false
		for _, id := range ids {
			n := new.Resources[id]
			if _, ok := old.Resources[id]; !ok || replaced[id] != nil || len(createOnly[n.Type]) == 0 || !mentionsAny(n.Properties, replaced) {
				continue
			}
			np := propsOf(id, n)
			var via []string
			var props []string
			for _, p := range createOnly[n.Type] {
				for _, ref := range references(lookup(np, p)) {
					if replaced[ref] != nil {
						props = append(props, p)
						via = append(via, ref)
					}
				}
			}
			if len(props) > 0 {
				replaced[id] = &Replacement{LogicalID: id, Type: n.Type, Properties: dedupe(props),
					Reason: fmt.Sprintf("it refers to %s, which is replaced", joinAnd(dedupe(via)))}
				grew = true
			}
		}
	}
	for _, t := range sortedKeys(unknown) {
		notes = append(notes, fmt.Sprintf("resources of type %s change, and this version of ssm-backup does not know which of their properties force a replacement", t))
	}
	out := []Replacement{}
	for _, id := range sortedKeys(replaced) {
		out = append(out, *replaced[id])
	}
	return out, notes
}

// mentionsAny reports whether raw may refer to one of the ids: a reference
// holds the id in quotes (Ref, Fn::GetAtt) or after "${" (Fn::Sub). It
// spares decoding the properties of resources that cannot.
func mentionsAny(raw json.RawMessage, ids map[string]*Replacement) bool {
	if len(ids) > 64 {
		return true // checking would cost more than decoding
	}
	for id := range ids {
		if bytes.Contains(raw, []byte(`"`+id+`"`)) || bytes.Contains(raw, []byte("${"+id)) {
			return true
		}
	}
	return false
}

// lookup follows a property path such as "Name" or "Target/Key".
func lookup(m map[string]json.RawMessage, path string) json.RawMessage {
	first, rest, nested := strings.Cut(path, "/")
	v := m[first]
	if !nested || v == nil {
		return v
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(v, &inner) != nil {
		return nil
	}
	return lookup(inner, rest)
}

// equalJSON compares two JSON values, ignoring formatting; a missing value
// equals only a missing value.
func equalJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

var subRefRE = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}`)

// references lists the logical ids a property value refers to.
func references(raw json.RawMessage) []string {
	if raw == nil {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if r, ok := t["Ref"].(string); ok && len(t) == 1 {
				out = append(out, r)
				return
			}
			if ga, ok := t["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
				if id, ok := ga[0].(string); ok {
					out = append(out, id)
				}
				return
			}
			if s, ok := t["Fn::Sub"].(string); ok {
				for _, m := range subRefRE.FindAllStringSubmatch(s, -1) {
					out = append(out, m[1])
				}
				return
			}
			for _, k := range sortedKeys(t) {
				walk(t[k])
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

func dedupe(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// joinAnd joins names: "A", "A and B", "A, B and C".
func joinAnd(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}
