package compiler_test

// Proves that the generated IAM documents (policies/<name>/iam/*-policy.json,
// identity policies, and iam/*-trust.json, trust policies) validate against
// cfn-lint's IAM policy schemas, testdata/reference/cfn/iam-policy/*.json
// (github.com/aws-cloudformation/cfn-lint v1.51.0,
// src/cfnlint/data/schemas/other/iam/), registered under the URIs their
// $refs use (policy, identity, trust, resource) and applied with Draft
// 2020-12 semantics, because they put keywords next to $ref (SOURCES.md
// caveat 3: under draft-07 an Effect of "Permit" passes). Their \uXXXX
// patterns are translated for Go (caveat 4).
//
// The schemas state some rules only with keywords validators ignore
// (caveat 2); conformance.CheckPolicyRules enforces them: exactly one of
// Action/NotAction (and Resource/NotResource or Principal/NotPrincipal),
// unique Sids, service:Action form, no bare "*". On top, this project's
// own guarantees: snapshots are write-once, so no generated role may share
// them or remove their tags, only the pruning role may delete them and only
// those tagged with its own policy, and the instance may tag only at
// creation.
//
// The files keep ${AWS::Partition}-style placeholders for reviewers; they
// are substituted with sample values first, as Fn::Sub does in the template.

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// writeOnceForbidden are the actions that would let a generated role undo a
// snapshot: share or unshare it, strip the tags pruning and protection rely
// on, or delete it. Deletion has one exception, the pruning role (DESIGN.md:
// "deny ec2:DeleteSnapshot except to the pruning role"): see
// pruneDeleteProblems. Sharing has one too, the same role adding the
// accounts of the policy's copies: see shareProblems.
var writeOnceForbidden = []string{"ec2:DeleteSnapshot", "ec2:ModifySnapshotAttribute", "ec2:DeleteTags"}

// pruningPolicyFile is the identity policy of the role that runs the
// runbook, whose prune step deletes expired snapshots of its own policy.
// dlmPolicyFile is its counterpart for Data Lifecycle Manager, whose
// retention rules delete them (engines.go); a backup policy's role is AWS
// Backup's managed policy, with no file.
const (
	pruningPolicyFile = "/iam/automation-policy.json"
	dlmPolicyFile     = "/iam/service-policy.json"
)

func isPruningPolicy(path string) bool {
	return strings.HasSuffix(path, pruningPolicyFile) || strings.HasSuffix(path, dlmPolicyFile)
}

// snapshotARN is the ARN of any snapshot, after placeholder substitution.
// The region may be "*": Data Lifecycle Manager deletes the expired copies
// of its cross-region copy rules in their regions.
var snapshotARN = regexp.MustCompile(`^arn:aws[a-z-]*:ec2:([a-z0-9-]+|\*)::snapshot/\*$`)

// pruneDeleteProblems checks a statement that grants ec2:DeleteSnapshot in
// the pruning role's policy: on snapshots only, and only on those carrying
// this policy's ssm-backup:policy tag, through a condition that cannot be
// satisfied by the tag's absence.
func pruneDeleteProblems(where, policy string, st map[string]any) []string {
	var out []string
	for _, r := range conformance.StringList(st["Resource"]) {
		if !snapshotARN.MatchString(r) {
			out = append(out, where+": grants ec2:DeleteSnapshot on "+r+"; only snapshot ARNs are allowed")
		}
	}
	if _, ok := st["NotResource"]; ok {
		out = append(out, where+": grants ec2:DeleteSnapshot with NotResource")
	}
	tagged := false
	cond, _ := st["Condition"].(map[string]any)
	for op, raw := range cond {
		if op != "StringEquals" {
			continue
		}
		keys, _ := raw.(map[string]any)
		for k, v := range keys {
			values := conformance.StringList(v)
			if strings.EqualFold(k, "ec2:ResourceTag/"+compiler.TagPolicy) && len(values) == 1 && values[0] == policy {
				tagged = true
			}
		}
	}
	if !tagged {
		out = append(out, where+": grants ec2:DeleteSnapshot without StringEquals ec2:ResourceTag/"+compiler.TagPolicy+" = "+policy+"; the pruning role may delete only its own policy's snapshots")
	}
	return out
}

// accountID is a 12-digit AWS account id.
var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// shareProblems checks a statement that grants ec2:ModifySnapshotAttribute
// in the pruning role's policy: on snapshots only, only on those carrying
// this policy's tag, only adding named accounts (StringEquals
// ec2:Add/userId, which a request without an added account cannot
// satisfy), and in a document that denies making any snapshot public.
func shareProblems(where, policy string, st map[string]any, doc any) []string {
	var out []string
	for _, r := range conformance.StringList(st["Resource"]) {
		if !snapshotARN.MatchString(r) {
			out = append(out, where+": grants ec2:ModifySnapshotAttribute on "+r+"; only snapshot ARNs are allowed")
		}
	}
	if _, ok := st["NotResource"]; ok {
		out = append(out, where+": grants ec2:ModifySnapshotAttribute with NotResource")
	}
	tagged, accounts := false, false
	cond, _ := st["Condition"].(map[string]any)
	for op, raw := range cond {
		if op != "StringEquals" {
			continue
		}
		keys, _ := raw.(map[string]any)
		for k, v := range keys {
			values := conformance.StringList(v)
			switch {
			case strings.EqualFold(k, "ec2:ResourceTag/"+compiler.TagPolicy) && len(values) == 1 && values[0] == policy:
				tagged = true
			case strings.EqualFold(k, "ec2:Add/userId") && len(values) > 0:
				accounts = true
				for _, a := range values {
					if !accountID.MatchString(a) {
						accounts = false
					}
				}
			}
		}
	}
	if !tagged {
		out = append(out, where+": grants ec2:ModifySnapshotAttribute without StringEquals ec2:ResourceTag/"+compiler.TagPolicy+" = "+policy+"; only the policy's own snapshots may be shared")
	}
	if !accounts {
		out = append(out, where+": grants ec2:ModifySnapshotAttribute without StringEquals ec2:Add/userId naming account ids; a share must name the policy's accounts")
	}
	public := false
	for _, d := range conformance.Statements(doc) {
		if d["Effect"] != "Deny" || !slicesContainsAction(conformance.StringList(d["Action"]), "ec2:ModifySnapshotAttribute") {
			continue
		}
		c, _ := d["Condition"].(map[string]any)
		if len(c) != 1 {
			continue
		}
		null, _ := c["Null"].(map[string]any)
		if v := conformance.StringList(null["ec2:Add/group"]); len(v) == 1 && v[0] == "false" && len(null) == 1 {
			public = true
		}
	}
	if !public {
		out = append(out, where+": grants ec2:ModifySnapshotAttribute, but the document does not deny adding a group (Null ec2:Add/group false): a snapshot could be made public")
	}
	return out
}

func slicesContainsAction(actions []string, action string) bool {
	for _, a := range actions {
		if actionCovers(a, action) {
			return true
		}
	}
	return false
}

func iamSchemas(t *testing.T, draft *jsonschema.Draft) (identity, trust *jsonschema.Schema) {
	t.Helper()
	dir := filepath.Join(confReferenceDir, "cfn", "iam-policy")
	files := []conformance.SchemaFile{
		{URI: "policy", Path: filepath.Join(dir, "policy.json")},
		{URI: "identity", Path: filepath.Join(dir, "policy_identity.json")},
		{URI: "trust", Path: filepath.Join(dir, "policy_trust.json")},
		{URI: "resource", Path: filepath.Join(dir, "policy_resource.json")},
	}
	var err error
	if identity, err = conformance.CompileSchemas(draft, true, "identity", files...); err != nil {
		t.Fatalf("compile identity schema: %v", err)
	}
	if trust, err = conformance.CompileSchemas(draft, true, "trust", files...); err != nil {
		t.Fatalf("compile trust schema: %v", err)
	}
	return identity, trust
}

// iamProblems returns every problem of one IAM document: schema findings,
// the rules the schema cannot express, and this project's guarantees.
func iamProblems(t *testing.T, identity, trust *jsonschema.Schema, path string, doc any) []string {
	t.Helper()
	resolved, err := confSubstitutePseudo(doc)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	kind, sch := conformance.IdentityPolicy, identity
	if strings.HasSuffix(path, "-trust.json") {
		kind, sch = conformance.TrustPolicy, trust
	}
	findings, err := conformance.Validate(sch, resolved)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		out = append(out, "schema: "+f.String())
	}
	for _, p := range conformance.CheckPolicyRules(resolved, kind) {
		out = append(out, "rule: "+p.String())
	}
	out = append(out, projectIAMProblems(path, kind, resolved)...)
	return out
}

func projectIAMProblems(path string, kind conformance.PolicyKind, doc any) []string {
	var out []string
	policy := confPathPolicy(path)
	for i, st := range conformance.Statements(doc) {
		where := path + " Statement[" + strconv.Itoa(i) + "]"
		allow := st["Effect"] == "Allow"
		if _, ok := st["NotAction"]; ok && allow {
			out = append(out, where+": Allow with NotAction grants every action not listed")
		}
		actions := conformance.StringList(st["Action"])
		if allow {
			for _, forbidden := range writeOnceForbidden {
				for _, a := range actions {
					if !actionCovers(a, forbidden) {
						continue
					}
					if forbidden == "ec2:DeleteSnapshot" && a == forbidden && isPruningPolicy(path) {
						out = append(out, pruneDeleteProblems(where, policy, st)...)
						continue
					}
					if forbidden == "ec2:ModifySnapshotAttribute" && a == forbidden && isPruningPolicy(path) {
						out = append(out, shareProblems(where, policy, st, doc)...)
						continue
					}
					out = append(out, where+": grants "+forbidden+" (through "+a+"); snapshots are write-once")
				}
			}
		}
		if kind == conformance.TrustPolicy {
			principal, _ := st["Principal"].(map[string]any)
			for k := range principal {
				if k != "Service" {
					out = append(out, where+": trusts principal type "+k+"; generated roles trust AWS services only")
				}
			}
			for _, s := range conformance.StringList(principal["Service"]) {
				if !strings.HasSuffix(s, ".amazonaws.com") {
					out = append(out, where+": trusts "+s+", not an AWS service principal")
				}
			}
		}
		if strings.HasSuffix(path, "/instance-policy.json") && allow {
			for _, a := range actions {
				if actionCovers(a, "ec2:CreateTags") && !hasCreateActionCondition(st) && !isVSSTagging(path, st) { // conformance_vss_test.go
					out = append(out, where+": grants "+a+" without an ec2:CreateAction condition; the instance may tag only while creating")
				}
			}
		}
	}
	return out
}

// actionCovers reports whether an IAM action pattern (with * and ?
// wildcards, case-insensitive) matches the action name.
func actionCovers(pattern, action string) bool {
	var b strings.Builder
	b.WriteString("(?i)^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(action)
}

// hasCreateActionCondition reports whether a statement requires
// ec2:CreateAction with an operator that cannot be satisfied by its
// absence (no IfExists, no negation).
func hasCreateActionCondition(st map[string]any) bool {
	cond, _ := st["Condition"].(map[string]any)
	for op, raw := range cond {
		if strings.HasSuffix(op, "IfExists") || strings.Contains(op, "Not") {
			continue
		}
		keys, _ := raw.(map[string]any)
		for k, v := range keys {
			if strings.EqualFold(k, "ec2:CreateAction") && len(conformance.StringList(v)) > 0 {
				return true
			}
		}
	}
	return false
}

// TestConformanceIAMDocuments checks every emitted IAM document.
func TestConformanceIAMDocuments(t *testing.T) {
	identity, trust := iamSchemas(t, jsonschema.Draft2020)
	checked := 0
	for _, set := range conformanceSets(t) {
		for _, path := range set.Files.Paths() {
			if !strings.Contains(path, "/iam/") || !strings.HasSuffix(path, ".json") {
				continue
			}
			if !strings.HasSuffix(path, "-policy.json") && !strings.HasSuffix(path, "-trust.json") {
				t.Errorf("%s: %s is neither an identity (-policy.json) nor a trust (-trust.json) document; it is not checked", set.Name, path)
				continue
			}
			t.Run(set.Name+"/"+path, func(t *testing.T) {
				for _, p := range iamProblems(t, identity, trust, path, confDecode(t, set, path)) {
					t.Error(p)
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no IAM document was emitted; nothing was checked")
	}
	t.Logf("checked %d IAM documents against cfn-lint's IAM schemas (draft 2020-12) and the write-once rules", checked)
}

// TestConformanceIAMNegativeControl proves each IAM check can fail.
func TestConformanceIAMNegativeControl(t *testing.T) {
	identity, trust := iamSchemas(t, jsonschema.Draft2020)
	set := conformanceSets(t)[0]
	policies := set.PathsWithSuffix("/iam/instance-policy.json")
	automation := set.PathsWithSuffix(pruningPolicyFile)
	trusts := set.PathsWithSuffix("/iam/window-trust.json")
	if len(policies) == 0 || len(automation) == 0 || len(trusts) == 0 {
		t.Fatal("no IAM documents to mutate")
	}
	first := func(doc any) map[string]any {
		return conformance.Statements(doc)[0]
	}
	cases := []struct {
		name   string
		path   string
		mutate func(doc map[string]any)
		want   string
	}{
		{"Effect Permit", policies[0], func(doc map[string]any) { first(doc)["Effect"] = "Permit" }, "schema: /Statement/0/Effect"},
		{"Version 2020", trusts[0], func(doc map[string]any) { doc["Version"] = "2020-01-01" }, "schema: /Version"},
		{"unknown statement member", policies[0], func(doc map[string]any) { first(doc)["Actions"] = "ec2:CreateSnapshots" }, "schema: /Statement/0"},
		{"Action and NotAction", policies[0], func(doc map[string]any) { first(doc)["NotAction"] = "ec2:RebootInstances" }, "exactly one of Action and NotAction"},
		{"duplicate Sid", policies[0], func(doc map[string]any) {
			sts := doc["Statement"].([]any)
			sts[1].(map[string]any)["Sid"] = sts[0].(map[string]any)["Sid"]
		}, "is not unique"},
		{"bare star", policies[0], func(doc map[string]any) { first(doc)["Action"] = "*" }, `bare "*"`},
		{"no service prefix", policies[0], func(doc map[string]any) { first(doc)["Action"] = "CreateSnapshots" }, "not of the form service:Action"},
		{"DeleteSnapshot", policies[0], func(doc map[string]any) {
			first(doc)["Action"] = []any{"ec2:CreateSnapshots", "ec2:DeleteSnapshot"}
		}, "grants ec2:DeleteSnapshot"},
		{"wildcard covers DeleteTags", policies[0], func(doc map[string]any) { first(doc)["Action"] = "ec2:Delete*" }, "grants ec2:DeleteTags (through ec2:Delete*)"},
		{"ModifySnapshotAttribute to the pruning role", automation[0], func(doc map[string]any) {
			confAppendStatement(doc, map[string]any{"Effect": "Allow", "Action": "ec2:ModifySnapshotAttribute", "Resource": "*"})
		}, "grants ec2:ModifySnapshotAttribute"},
		{"pruning without the tag condition", automation[0], func(doc map[string]any) {
			confAppendStatement(doc, map[string]any{"Effect": "Allow", "Action": "ec2:DeleteSnapshot",
				"Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*"})
		}, "the pruning role may delete only its own policy's snapshots"},
		{"pruning another policy's snapshots", automation[0], func(doc map[string]any) {
			confAppendStatement(doc, map[string]any{"Effect": "Allow", "Action": "ec2:DeleteSnapshot",
				"Resource":  "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
				"Condition": map[string]any{"StringEquals": map[string]any{"ec2:ResourceTag/" + compiler.TagPolicy: "someone-else"}}})
		}, "the pruning role may delete only its own policy's snapshots"},
		{"pruning volumes", automation[0], func(doc map[string]any) {
			confAppendStatement(doc, map[string]any{"Effect": "Allow", "Action": "ec2:DeleteSnapshot", "Resource": "*",
				"Condition": map[string]any{"StringEquals": map[string]any{"ec2:ResourceTag/" + compiler.TagPolicy: confPathPolicy(automation[0])}}})
		}, "only snapshot ARNs are allowed"},
		{"CreateTags without CreateAction", policies[0], func(doc map[string]any) {
			for _, st := range conformance.Statements(doc) {
				if actionCovers(conformance.StringList(st["Action"])[0], "ec2:CreateTags") {
					cond := st["Condition"].(map[string]any)
					for _, keys := range cond {
						delete(keys.(map[string]any), "ec2:CreateAction")
					}
				}
			}
		}, "without an ec2:CreateAction condition"},
		{"trust any AWS account", trusts[0], func(doc map[string]any) {
			first(doc)["Principal"] = map[string]any{"AWS": "*"}
		}, "trusts principal type AWS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := confDecode(t, set, c.path).(map[string]any)
			if before := iamProblems(t, identity, trust, c.path, doc); len(before) > 0 {
				t.Fatalf("the unmutated document already fails: %v", before)
			}
			c.mutate(doc)
			after := iamProblems(t, identity, trust, c.path, doc)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}

	// The share exception: correctly scoped, and each way it can be broken.
	share := map[string]any{"Sid": "ShareOwn", "Effect": "Allow", "Action": "ec2:ModifySnapshotAttribute",
		"Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
		"Condition": map[string]any{"StringEquals": map[string]any{
			"ec2:ResourceTag/" + compiler.TagPolicy: confPathPolicy(automation[0]),
			"ec2:Add/userId":                        []any{"111122223333"},
		}}}
	doc := confDecode(t, set, automation[0]).(map[string]any)
	confAppendStatement(doc, share)
	if problems := iamProblems(t, identity, trust, automation[0], doc); len(problems) > 0 {
		t.Errorf("a correctly scoped share statement is rejected: %v", problems)
	}
	for _, c := range []struct {
		name   string
		mutate func(st map[string]any, doc map[string]any)
		want   string
	}{
		{"share without account", func(st, _ map[string]any) {
			delete(st["Condition"].(map[string]any)["StringEquals"].(map[string]any), "ec2:Add/userId")
		}, "without StringEquals ec2:Add/userId"},
		{"share with any account", func(st, _ map[string]any) {
			st["Condition"].(map[string]any)["StringEquals"].(map[string]any)["ec2:Add/userId"] = "*"
		}, "without StringEquals ec2:Add/userId"},
		{"share of any snapshot", func(st, _ map[string]any) {
			delete(st["Condition"].(map[string]any)["StringEquals"].(map[string]any), "ec2:ResourceTag/"+compiler.TagPolicy)
		}, "only the policy's own snapshots may be shared"},
		{"share without the public deny", func(_, doc map[string]any) {
			var kept []any
			for _, s := range doc["Statement"].([]any) {
				if s.(map[string]any)["Sid"] != "NeverMakeSnapshotsPublic" {
					kept = append(kept, s)
				}
			}
			doc["Statement"] = kept
		}, "a snapshot could be made public"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := confDecode(t, set, automation[0]).(map[string]any)
			st := confDeepCopy(t, share).(map[string]any)
			confAppendStatement(doc, st)
			c.mutate(st, doc)
			after := iamProblems(t, identity, trust, automation[0], doc)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}

	// The exception itself: the pruning role may delete its own policy's
	// snapshots, as the generated pruning statement does.
	doc = confDecode(t, set, automation[0]).(map[string]any)
	confAppendStatement(doc, map[string]any{"Sid": "PruneOwn", "Effect": "Allow", "Action": "ec2:DeleteSnapshot",
		"Resource":  "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
		"Condition": map[string]any{"StringEquals": map[string]any{"ec2:ResourceTag/" + compiler.TagPolicy: confPathPolicy(automation[0])}}})
	if problems := iamProblems(t, identity, trust, automation[0], doc); len(problems) > 0 {
		t.Errorf("a correctly scoped pruning statement is rejected: %v", problems)
	}

	// Why 2020-12: under draft-07 rules the siblings of $ref are ignored
	// and the same broken statement passes (SOURCES.md caveat 3).
	identity7, _ := iamSchemas(t, jsonschema.Draft7)
	doc = confDecode(t, set, policies[0]).(map[string]any)
	first(doc)["Effect"] = "Permit"
	resolved, err := confSubstitutePseudo(doc)
	if err != nil {
		t.Fatal(err)
	}
	if findings, _ := conformance.Validate(identity7, resolved); len(findings) == 0 {
		t.Log(`draft-07 semantics accept Effect "Permit"; draft 2020-12 is required to catch it`)
	}
}

func confAppendStatement(doc map[string]any, st map[string]any) {
	doc["Statement"] = append(doc["Statement"].([]any), st)
}

// confPathPolicy is the policy name in an emitted path, policies/<name>/...
func confPathPolicy(path string) string {
	return strings.Split(strings.TrimPrefix(path, "policies/"), "/")[0]
}
