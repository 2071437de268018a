package conformance

import (
	"fmt"
	"regexp"
)

// IAM policy rules that cfn-lint's IAM schemas (cfn/iam-policy/*.json)
// state only with their non-standard keywords, which JSON Schema
// validators ignore (SOURCES.md caveat 2): "requiredXor" (exactly one of
// Action/NotAction, Resource/NotResource, Principal/NotPrincipal) and
// "uniqueKeys" (unique Sid). Plus the form of an action: service:Action,
// never the bare "*".

// PolicyKind says which pair of members a statement must choose from.
type PolicyKind int

const (
	// IdentityPolicy statements choose Resource or NotResource.
	IdentityPolicy PolicyKind = iota
	// TrustPolicy statements choose Principal or NotPrincipal.
	TrustPolicy
)

// actionPattern is the service:Action form IAM documents: a service prefix
// of lower-case letters, digits and hyphens, and an action name of letters
// and digits in which "*" and "?" may stand for parts.
var actionPattern = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*?]+$`)

// Statements returns the statements of a decoded policy document; a single
// statement object counts as a list of one.
func Statements(doc any) []map[string]any {
	top, _ := doc.(map[string]any)
	switch st := top["Statement"].(type) {
	case map[string]any:
		return []map[string]any{st}
	case []any:
		var out []map[string]any
		for _, s := range st {
			if m, ok := s.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// StringList reads an IAM string-or-list value.
func StringList(v any) []string { return stringsOf(v) }

// CheckPolicyRules applies the rules above to a decoded policy document.
func CheckPolicyRules(doc any, kind PolicyKind) []Problem {
	var out []Problem
	add := func(path, format string, args ...any) {
		out = append(out, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	sids := map[string]bool{}
	statements := Statements(doc)
	if len(statements) == 0 {
		add("Statement", "a policy needs at least one statement")
	}
	for i, st := range statements {
		path := fmt.Sprintf("Statement[%d]", i)
		pairs := [][2]string{{"Action", "NotAction"}}
		if kind == IdentityPolicy {
			pairs = append(pairs, [2]string{"Resource", "NotResource"})
		} else {
			pairs = append(pairs, [2]string{"Principal", "NotPrincipal"})
		}
		for _, pair := range pairs {
			_, a := st[pair[0]]
			_, b := st[pair[1]]
			if a == b {
				add(path, "exactly one of %s and %s is required", pair[0], pair[1])
			}
		}
		if sid, ok := st["Sid"].(string); ok {
			if sids[sid] {
				add(path+".Sid", "Sid %q is not unique", sid)
			}
			sids[sid] = true
		}
		for _, key := range []string{"Action", "NotAction"} {
			raw, ok := st[key]
			if !ok {
				continue
			}
			actions := StringList(raw)
			if len(actions) == 0 {
				add(path+"."+key, "must list at least one action")
			}
			for _, a := range actions {
				switch {
				case a == "*":
					add(path+"."+key, `the bare "*" grants every action of every service`)
				case !actionPattern.MatchString(a):
					add(path+"."+key, "%q is not of the form service:Action", a)
				}
			}
		}
	}
	return out
}
