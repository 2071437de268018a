package review

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// permissionEntry is a permission and the key that identifies it.
type permissionEntry struct {
	key string
	p   Permission
}

// stringOrList is IAM's "one value or a list of values".
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = stringOrList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

type iamStatement struct {
	Effect      string                             `json:"Effect"`
	Action      stringOrList                       `json:"Action"`
	NotAction   stringOrList                       `json:"NotAction"`
	Resource    stringOrList                       `json:"Resource"`
	NotResource stringOrList                       `json:"NotResource"`
	Condition   map[string]map[string]stringOrList `json:"Condition"`
}

// permissions normalises an IAM policy document into one permission per
// action and resource of each statement, each carrying its statement's
// conditions; Sids and the grouping into statements do not matter. The
// result is sorted and free of duplicates.
func permissions(doc []byte) ([]permissionEntry, error) {
	var raw struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	var sts []iamStatement
	if err := json.Unmarshal(raw.Statement, &sts); err != nil {
		var one iamStatement
		if err1 := json.Unmarshal(raw.Statement, &one); err1 != nil {
			return nil, err
		}
		sts = []iamStatement{one}
	}
	seen := map[string]bool{}
	var out []permissionEntry
	for _, st := range sts {
		conds := conditions(st.Condition)
		actions := prefixed(st.Action, st.NotAction)
		resources := prefixed(st.Resource, st.NotResource)
		if len(resources) == 0 {
			resources = []string{""}
		}
		for _, a := range actions {
			for _, r := range resources {
				p := Permission{Effect: st.Effect, Action: a, Resource: r, Conditions: conds}
				k := permissionKey(p)
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, permissionEntry{k, p})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// prefixed returns the values, or the negated ones written "NOT value".
func prefixed(values, negated stringOrList) []string {
	out := append([]string(nil), values...)
	for _, v := range negated {
		out = append(out, "NOT "+v)
	}
	return out
}

func conditions(m map[string]map[string]stringOrList) []Condition {
	var out []Condition
	for _, op := range sortedKeys(m) {
		for _, key := range sortedKeys(m[op]) {
			values := append([]string(nil), m[op][key]...)
			sort.Strings(values)
			out = append(out, Condition{Operator: op, Key: key, Values: values})
		}
	}
	return out
}

// permissionKey identifies a permission; it sorts by action first, so that
// a role's changes read grouped by what they allow.
func permissionKey(p Permission) string {
	var b strings.Builder
	b.WriteString(p.Action)
	b.WriteByte(0)
	b.WriteString(p.Resource)
	b.WriteByte(0)
	b.WriteString(p.Effect)
	for _, c := range p.Conditions {
		b.WriteByte(0)
		b.WriteString(c.Operator)
		b.WriteByte(1)
		b.WriteString(c.Key)
		for _, v := range c.Values {
			b.WriteByte(1)
			b.WriteString(v)
		}
	}
	return b.String()
}

// diffRoles compares the permissions of each role kind.
func diffRoles(old, new map[string][]permissionEntry) []RoleChange {
	kinds := map[string]bool{}
	for k := range old {
		kinds[k] = true
	}
	for k := range new {
		kinds[k] = true
	}
	var out []RoleChange
	for _, kind := range roleOrder(kinds) {
		added := minus(new[kind], old[kind])
		removed := minus(old[kind], new[kind])
		if len(added) == 0 && len(removed) == 0 {
			continue
		}
		out = append(out, RoleChange{Role: kind, Added: added, Removed: removed})
	}
	return out
}

// roleOrder lists role kinds as the summary does: instance, automation,
// window, then any other by name.
func roleOrder(kinds map[string]bool) []string {
	rank := map[string]int{"instance": 0, "automation": 1, "window": 2}
	out := sortedKeys(kinds)
	sort.SliceStable(out, func(i, j int) bool {
		ri, oki := rank[out[i]]
		rj, okj := rank[out[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return false
	})
	return out
}

// minus returns the permissions of a that are not in b; both sorted by key.
func minus(a, b []permissionEntry) []Permission {
	out := []Permission{}
	j := 0
	for _, e := range a {
		for j < len(b) && b[j].key < e.key {
			j++
		}
		if j < len(b) && b[j].key == e.key {
			continue
		}
		out = append(out, e.p)
	}
	return out
}
