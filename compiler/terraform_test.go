package compiler_test

// Proves that terraform/ssm-backup.tf.json is a configuration the
// hashicorp/aws provider accepts, and that it deploys what the
// CloudFormation template and the reviewed standalone files say:
//
//  1. Structure: every resource carries each argument the provider requires,
//     with the JSON type the provider expects, and no argument the provider
//     does not know (tfArguments, transcribed from the provider's Argument
//     Reference, website/docs/r/*.html.markdown, for v5.100.0).
//  2. References: every ${...} interpolation and every depends_on entry
//     names a resource or data source declared in the same file and an
//     attribute its type exports; no %{ directive is left unescaped.
//  3. Escaping: each aws_ssm_document content, read as Terraform reads a
//     JSON string (tfEvalTemplate), is byte for byte the compact form of the
//     standalone document; each IAM policy, its data sources replaced by
//     sample values, is byte for byte the standalone iam/*.json file with the
//     ${AWS::...} placeholders replaced by the same values.
//  4. Parity: every template resource and output has its Terraform
//     counterpart, named in snake case after its logical id, holding the same
//     values once references and pseudo parameters are resolved, and the
//     configuration holds nothing else.
//  5. Negative controls: copies broken on purpose (a required argument
//     dropped, a dangling reference, an unescaped ${, a wrong type, an
//     unknown argument) fail the checks above.
//  6. TestTerraformValidate: where terraform is on PATH and a local provider
//     mirror holds hashicorp/aws, terraform validate accepts every generated
//     configuration and rejects the broken copies, terraform itself reads
//     every literal string back as tfEvalTemplate does, and tfArguments
//     agrees with the schema the provider reports. Where terraform is not
//     installed, checks 1-4 stand in for terraform validate.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

// tfKind is the JSON shape an argument takes in Terraform's JSON syntax.
type tfKind int

const (
	tfString     tfKind = iota // JSON string
	tfNumber                   // JSON number
	tfBool                     // JSON true or false
	tfStringMap                // JSON object of strings (map(string))
	tfStringList               // JSON array of strings (list(string))
	tfBlock                    // nested block: an object, or an array of objects
)

func (k tfKind) String() string {
	return [...]string{"string", "number", "bool", "map of strings", "list of strings", "block"}[k]
}

// tfArg is one argument of a resource type, or one nested block.
type tfArg struct {
	kind     tfKind
	required bool
	// For blocks: how many may occur (0: no bound) and what they hold.
	minItems, maxItems int
	nested             map[string]tfArg
}

// tfResourceSchema is what tfArguments knows of a resource type: the
// arguments it accepts, and the attributes it exports beyond them.
type tfResourceSchema struct {
	args     map[string]tfArg
	computed []string
}

func (s tfResourceSchema) exports(attr string) bool {
	_, isArg := s.args[attr]
	return isArg || slices.Contains(s.computed, attr)
}

var (
	req    = func(k tfKind) tfArg { return tfArg{kind: k, required: true} }
	opt    = func(k tfKind) tfArg { return tfArg{kind: k} }
	tfTags = opt(tfStringMap)
)

// tfArguments lists, for each resource type the configuration uses, the
// arguments of hashicorp/aws v5.100.0 (Argument Reference of each resource's
// documentation; "Required" there is required here) that ssm-backup writes
// or that the provider requires, and the attributes it exports.
// TestTerraformValidate compares the table with the schema the provider
// itself reports, where terraform is installed. A resource type missing here
// fails the structural check: it would go unchecked.
var tfArguments = map[string]tfResourceSchema{
	"aws_ssm_document": {
		args: map[string]tfArg{
			"name": req(tfString), "content": req(tfString), "document_type": req(tfString),
			"document_format": opt(tfString), "target_type": opt(tfString), "version_name": opt(tfString),
			"tags": tfTags,
		},
		computed: []string{"arn", "created_date", "default_version", "description", "document_version", "hash", "hash_type", "id", "latest_version", "owner", "schema_version", "status", "tags_all"},
	},
	"aws_iam_policy": {
		args: map[string]tfArg{
			"policy": req(tfString), "name": opt(tfString), "path": opt(tfString), "description": opt(tfString),
			"tags": tfTags,
		},
		computed: []string{"arn", "attachment_count", "id", "policy_id", "tags_all"},
	},
	"aws_iam_role": {
		args: map[string]tfArg{
			"assume_role_policy": req(tfString), "name": opt(tfString), "path": opt(tfString),
			"description": opt(tfString), "max_session_duration": opt(tfNumber),
			"permissions_boundary": opt(tfString), "tags": tfTags,
		},
		computed: []string{"arn", "create_date", "id", "tags_all", "unique_id"},
	},
	"aws_iam_role_policy": {
		args:     map[string]tfArg{"policy": req(tfString), "role": req(tfString), "name": opt(tfString)},
		computed: []string{"id"},
	},
	"aws_iam_role_policy_attachment": {
		args:     map[string]tfArg{"policy_arn": req(tfString), "role": req(tfString)},
		computed: []string{"id"},
	},
	"aws_iam_instance_profile": {
		args: map[string]tfArg{
			"name": opt(tfString), "path": opt(tfString), "role": opt(tfString), "tags": tfTags,
		},
		computed: []string{"arn", "create_date", "id", "tags_all", "unique_id"},
	},
	"aws_ssm_maintenance_window": {
		args: map[string]tfArg{
			"name": req(tfString), "schedule": req(tfString), "duration": req(tfNumber), "cutoff": req(tfNumber),
			"allow_unassociated_targets": opt(tfBool), "description": opt(tfString),
			"schedule_offset": opt(tfNumber), "schedule_timezone": opt(tfString), "enabled": opt(tfBool),
			"tags": tfTags,
		},
		computed: []string{"id", "tags_all"},
	},
	"aws_ssm_maintenance_window_target": {
		args: map[string]tfArg{
			"window_id": req(tfString), "resource_type": req(tfString),
			"targets": {kind: tfBlock, required: true, minItems: 1, maxItems: 5, nested: map[string]tfArg{
				"key": req(tfString), "values": req(tfStringList),
			}},
			"name": opt(tfString), "description": opt(tfString), "owner_information": opt(tfString),
		},
		computed: []string{"id"},
	},
	"aws_ssm_maintenance_window_task": {
		args: map[string]tfArg{
			"window_id": req(tfString), "task_type": req(tfString), "task_arn": req(tfString),
			"name": opt(tfString), "description": opt(tfString), "priority": opt(tfNumber),
			"max_concurrency": opt(tfString), "max_errors": opt(tfString), "cutoff_behavior": opt(tfString),
			"service_role_arn": opt(tfString),
			"targets": {kind: tfBlock, maxItems: 5, nested: map[string]tfArg{
				"key": req(tfString), "values": req(tfStringList),
			}},
			"task_invocation_parameters": {kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
				"automation_parameters": {kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
					"document_version": opt(tfString),
					"parameter": {kind: tfBlock, nested: map[string]tfArg{
						"name": req(tfString), "values": req(tfStringList),
					}},
				}},
			}},
		},
		computed: []string{"arn", "id", "window_task_id"},
	},
	"aws_rbin_rule": {
		args: map[string]tfArg{
			"resource_type": req(tfString), "description": opt(tfString), "tags": tfTags,
			"resource_tags": {kind: tfBlock, maxItems: 50, nested: map[string]tfArg{
				"resource_tag_key": req(tfString), "resource_tag_value": opt(tfString),
			}},
			"retention_period": {kind: tfBlock, required: true, minItems: 1, maxItems: 1, nested: map[string]tfArg{
				"retention_period_unit": req(tfString), "retention_period_value": req(tfNumber),
			}},
		},
		computed: []string{"arn", "id", "lock_end_time", "lock_state", "status", "tags_all"},
	},
}

// tfDataSources are the data sources the configuration may declare, with
// the attributes they export (provider 5.100.0; aws_region's "region" comes
// only in provider 6, which is why the configuration reads "id").
var tfDataSources = map[string][]string{
	"aws_partition":       {"dns_suffix", "id", "partition", "reverse_dns_prefix"},
	"aws_region":          {"description", "endpoint", "id", "name"},
	"aws_caller_identity": {"account_id", "arn", "id", "user_id"},
}

// Sample values the IAM and parity checks put in place of the pseudo
// parameters, on both sides.
var tfSamples = map[string]string{
	"data.aws_partition.current.partition":        "aws-sample",
	"data.aws_region.current.id":                  "zz-sample-1",
	"data.aws_caller_identity.current.account_id": "210987654321",
}

var cfnSamples = map[string]string{
	"${AWS::Partition}": "aws-sample",
	"${AWS::Region}":    "zz-sample-1",
	"${AWS::AccountId}": "210987654321",
}

// tfSigilsPolicy exercises what the shipped sets do not: a name that
// starts with a digit (Terraform names may not) and a description full of
// Terraform template syntax, which must reach every resource as written.
const tfSigilsPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: 1st-floor
  description: "Keeps ${var.x}, %{ if true }y%{ endif }, $${z}, $$${w}, %%{v} and {{ RESOURCE_ID }} as written"
spec:
  platform: linux
  targets:
    tags: {Floor: "1"}
  consistency: crash
  schedule:
    expression: rate(12 hours)
`

// tfSet is one compiled policy set.
type tfSet struct {
	name  string
	files compiler.Files
	plan  *compiler.Plan
}

// tfCompiledSets compiles every set the conformance tests check (those that
// do not compile are reported by TestConformanceInputs) and the sigils set.
func tfCompiledSets(t *testing.T) []tfSet {
	t.Helper()
	inputs, err := conformanceInputs()
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, confInput{name: "terraform/sigils", files: []policies.File{{Name: "sigils.yaml", Data: []byte(tfSigilsPolicy)}}})
	var sets []tfSet
	for _, in := range inputs {
		res := compiler.Compile(in.files, compiler.Options{Now: conformanceNow})
		if res.Diagnostics.HasErrors() {
			if in.name == "examples" || in.name == "terraform/sigils" {
				var b strings.Builder
				res.Diagnostics.Errors().Print(&b)
				t.Fatalf("%s does not compile:\n%s", in.name, b.String())
			}
			continue
		}
		sets = append(sets, tfSet{name: in.name, files: res.Files, plan: res.Plan})
	}
	return sets
}

func tfDecode(t *testing.T, set tfSet) map[string]any {
	t.Helper()
	b, ok := set.files[compiler.TerraformPath]
	if !ok {
		t.Fatalf("%s: %s was not emitted", set.name, compiler.TerraformPath)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %s is not JSON: %v", set.name, compiler.TerraformPath, err)
	}
	return cfg
}

// TestTerraform runs the structural, reference, escaping and parity checks
// on every compiled set.
func TestTerraform(t *testing.T) {
	for _, set := range tfCompiledSets(t) {
		t.Run(set.name, func(t *testing.T) {
			cfg := tfDecode(t, set)
			var tmpl map[string]any
			if err := json.Unmarshal(set.files[compiler.TemplatePath], &tmpl); err != nil {
				t.Fatal(err)
			}
			for _, check := range []struct {
				name     string
				problems []string
			}{
				{"keys", tfCheckSortedKeys(set.files[compiler.TerraformPath])},
				{"structure", tfCheckStructure(cfg)},
				{"references", tfCheckReferences(cfg)},
				{"documents", tfCheckDocuments(cfg, set)},
				{"iam", tfCheckIAM(cfg, set)},
				{"parity", tfCheckParity(cfg, tmpl)},
			} {
				for _, p := range check.problems {
					t.Errorf("%s: %s", check.name, p)
				}
			}
		})
	}
}

// TestTerraformEscapingIsExercised keeps the escaping checks honest: the
// shared document holds both sigils, so its content must carry escapes.
func TestTerraformEscapingIsExercised(t *testing.T) {
	sets := tfCompiledSets(t)
	cfg := tfDecode(t, sets[0])
	content := tfResource(t, cfg, "aws_ssm_document", "linux_snapshot_document")["content"].(string)
	for _, s := range []string{"$${", "%%{"} {
		if !strings.Contains(content, s) {
			t.Errorf("the shared document's content holds no %q: the escaping checks would pass without escaping", s)
		}
	}
	doc := string(sets[0].files[compiler.LinuxSnapshotDir+"command-document.json"])
	if got, want := strings.Count(content, "$${"), strings.Count(doc, "${"); got != want {
		t.Errorf("content holds %d escaped ${, the document %d", got, want)
	}
}

func tfResource(t *testing.T, cfg map[string]any, typ, name string) map[string]any {
	t.Helper()
	body, ok := tfLookup(cfg, "resource", typ, name).(map[string]any)
	if !ok {
		t.Fatalf("resource %s.%s is not declared", typ, name)
	}
	return body
}

// tfLookup walks nested objects by key; nil when a key is missing.
func tfLookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// tfName is the Terraform name of a template logical id: snake case, and a
// leading underscore where the name would start with a digit.
func tfName(logicalID string) string {
	var b strings.Builder
	for i, r := range logicalID {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	s := b.String()
	if s != "" && '0' <= s[0] && s[0] <= '9' {
		s = "_" + s
	}
	return s
}

func TestTerraformNames(t *testing.T) {
	for id, want := range map[string]string{
		"WebFleetWindow":        "web_fleet_window",
		"LinuxSnapshotDocument": "linux_snapshot_document",
		"ABCRunbook":            "a_b_c_runbook",
		"MysqlFleet2WindowTask": "mysql_fleet2_window_task",
		"1stFloorWindow":        "_1st_floor_window",
	} {
		if got := tfName(id); got != want {
			t.Errorf("tfName(%q) = %q, want %q", id, got, want)
		}
	}
	// The sigils set proves the generator agrees.
	for _, set := range tfCompiledSets(t) {
		if set.name != "terraform/sigils" {
			continue
		}
		cfg := tfDecode(t, set)
		tfResource(t, cfg, "aws_ssm_maintenance_window", "_1st_floor_window")
	}
}

// tfEvalTemplate reads s as Terraform reads a string of its JSON syntax: a
// template in which "$${" and "%%{" stand for "${" and "%{", "${expr}" is an
// interpolation (resolve gives its value) and "%{" starts a directive,
// which the configuration never means to hold.
func tfEvalTemplate(s string, resolve func(expr string) (string, error)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "$${"), strings.HasPrefix(rest, "%%{"):
			b.WriteString(rest[1:3])
			i += 3
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated interpolation at %q", tfExcerpt(rest))
			}
			v, err := resolve(rest[2:end])
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += end + 1
		case strings.HasPrefix(rest, "%{"):
			return "", fmt.Errorf("template directive at %q", tfExcerpt(rest))
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func tfExcerpt(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestTerraformEvalTemplate(t *testing.T) {
	// The expectations are what terraform 1.11 outputs for these strings;
	// TestTerraformValidate compares the two on every string of the output.
	noInterp := func(expr string) (string, error) { return "", fmt.Errorf("interpolation ${%s}", expr) }
	for in, want := range map[string]string{
		"$${x}":        "${x}",
		"$$${x}":       "$${x}",
		"$$$${x}":      "$$${x}",
		"%%{x} %%%{y}": "%{x} %%{y}",
		"$$ $ $x %% %": "$$ $ $x %% %",
		"{{ a }}":      "{{ a }}",
		"a$${":         "a${",
	} {
		got, err := tfEvalTemplate(in, noInterp)
		if err != nil || got != want {
			t.Errorf("tfEvalTemplate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"${x}", "a %{ if x }", "${unterminated"} {
		if _, err := tfEvalTemplate(in, noInterp); err == nil {
			t.Errorf("tfEvalTemplate(%q) accepted a live interpolation or directive", in)
		}
	}
}

// tfCheckSortedKeys reports objects whose keys are not in sorted order.
func tfCheckSortedKeys(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object bool
		last   string
		n      int
	}
	var stack []frame
	var problems []string
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].n%2 == 0 }
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) > 0 {
					stack[len(stack)-1].n++
				}
				stack = append(stack, frame{object: d == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if expectKey() {
			f := &stack[len(stack)-1]
			k := tok.(string)
			if f.n > 0 && k <= f.last {
				problems = append(problems, fmt.Sprintf("key %q follows %q", k, f.last))
			}
			f.last = k
		}
		if len(stack) > 0 {
			stack[len(stack)-1].n++
		}
	}
	return problems
}

var tfIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// tfCheckStructure checks every block of the configuration against
// tfArguments.
func tfCheckStructure(cfg map[string]any) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for k := range cfg {
		if !slices.Contains([]string{"data", "output", "resource", "terraform"}, k) {
			add("unexpected top-level block %q", k)
		}
	}
	aws, _ := tfLookup(cfg, "terraform", "required_providers", "aws").(map[string]any)
	if aws["source"] != "hashicorp/aws" {
		add("terraform.required_providers.aws.source is %v, want hashicorp/aws", aws["source"])
	}
	if v, ok := aws["version"].(string); !ok || !strings.HasPrefix(v, ">= 5") {
		add("terraform.required_providers.aws.version is %v, want >= 5.x", aws["version"])
	}
	data, _ := cfg["data"].(map[string]any)
	for _, typ := range slices.Sorted(maps.Keys(data)) {
		if _, ok := tfDataSources[typ]; !ok {
			add("data source type %s is not known to this test", typ)
		}
		byName, _ := data[typ].(map[string]any)
		for name, body := range byName {
			if m, ok := body.(map[string]any); !ok || len(m) != 0 {
				add("data.%s.%s: want an empty body, got %v", typ, name, body)
			}
		}
	}
	resources, ok := cfg["resource"].(map[string]any)
	if !ok {
		add("no resource block")
	}
	for _, typ := range slices.Sorted(maps.Keys(resources)) {
		schema, known := tfArguments[typ]
		if !known {
			add("resource type %s has no entry in tfArguments: it would go unchecked", typ)
			continue
		}
		byName, ok := resources[typ].(map[string]any)
		if !ok || len(byName) == 0 {
			add("resource.%s: want an object of named resources", typ)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			where := typ + "." + name
			if !tfIdentifier.MatchString(name) {
				add("%s: %q is not a valid Terraform name", where, name)
			}
			body, ok := byName[name].(map[string]any)
			if !ok {
				add("%s: body is %T, want an object", where, byName[name])
				continue
			}
			if deps, ok := body["depends_on"]; ok {
				if !tfIsStringList(deps) {
					add("%s.depends_on: want a list of references", where)
				}
				body = maps.Clone(body)
				delete(body, "depends_on")
			}
			tfCheckArgs(where, body, schema.args, add)
		}
	}
	outputs, _ := cfg["output"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		o, ok := outputs[name].(map[string]any)
		if !ok {
			add("output.%s: want an object", name)
			continue
		}
		tfCheckArgs("output."+name, o, map[string]tfArg{"value": req(tfString), "description": opt(tfString)}, add)
	}
	return problems
}

func tfCheckArgs(where string, body map[string]any, args map[string]tfArg, add func(string, ...any)) {
	for _, name := range slices.Sorted(maps.Keys(args)) {
		if _, ok := body[name]; !ok && args[name].required {
			add("%s: required argument %s is missing", where, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(body)) {
		arg, ok := args[name]
		if !ok {
			add("%s: argument %s is not one the provider knows", where, name)
			continue
		}
		v := body[name]
		at := where + "." + name
		switch arg.kind {
		case tfString:
			if _, ok := v.(string); !ok {
				add("%s: %T, want a string", at, v)
			}
		case tfNumber:
			if _, ok := v.(float64); !ok {
				add("%s: %T, want a number", at, v)
			}
		case tfBool:
			if _, ok := v.(bool); !ok {
				add("%s: %T, want true or false", at, v)
			}
		case tfStringMap:
			m, ok := v.(map[string]any)
			if !ok {
				add("%s: %T, want an object of strings", at, v)
			}
			for k, x := range m {
				if _, ok := x.(string); !ok {
					add("%s[%q]: %T, want a string", at, k, x)
				}
			}
		case tfStringList:
			if !tfIsStringList(v) {
				add("%s: %T, want a list of strings", at, v)
			}
		case tfBlock:
			var items []any
			switch b := v.(type) {
			case map[string]any:
				items = []any{b}
			case []any:
				items = b
			default:
				add("%s: %T, want a block (an object or a list of objects)", at, v)
				continue
			}
			if len(items) < arg.minItems || arg.maxItems > 0 && len(items) > arg.maxItems {
				add("%s: %d blocks, want %d to %d", at, len(items), arg.minItems, arg.maxItems)
			}
			for i, it := range items {
				m, ok := it.(map[string]any)
				if !ok {
					add("%s[%d]: %T, want an object", at, i, it)
					continue
				}
				tfCheckArgs(fmt.Sprintf("%s[%d]", at, i), m, arg.nested, add)
			}
		}
	}
}

func tfIsStringList(v any) bool {
	l, ok := v.([]any)
	if !ok {
		return false
	}
	for _, x := range l {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

var tfReference = regexp.MustCompile(`^(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)\.([a-z_]+)$`)

// tfCheckReferences evaluates every string of the configuration, object keys
// included (Terraform reads those as templates too), and checks each
// interpolation against what the file declares.
func tfCheckReferences(cfg map[string]any) []string {
	var problems []string
	declared := map[string]string{} // "aws_x.name" or "data.aws_x.name" → type
	for typ, byName := range asMap(cfg["resource"]) {
		for name := range asMap(byName) {
			declared[typ+"."+name] = typ
		}
	}
	for typ, byName := range asMap(cfg["data"]) {
		for name := range asMap(byName) {
			declared["data."+typ+"."+name] = typ
		}
	}
	resolve := func(expr string) (string, error) {
		m := tfReference.FindStringSubmatch(expr)
		if m == nil {
			return "", fmt.Errorf("${%s} is not a reference to a resource or data source attribute", expr)
		}
		key := m[1] + m[2] + "." + m[3]
		typ, ok := declared[key]
		if !ok {
			return "", fmt.Errorf("${%s} refers to %s, which the file does not declare", expr, key)
		}
		if m[1] == "data." {
			if !slices.Contains(tfDataSources[typ], m[4]) {
				return "", fmt.Errorf("${%s}: data source %s exports no %s", expr, typ, m[4])
			}
		} else if !tfArguments[typ].exports(m[4]) {
			return "", fmt.Errorf("${%s}: %s exports no %s", expr, typ, m[4])
		}
		return "", nil
	}
	tfWalkStrings(cfg, "", func(path, s string) {
		if _, err := tfEvalTemplate(s, resolve); err != nil {
			problems = append(problems, path+": "+err.Error())
		}
	})
	for typ, byName := range asMap(cfg["resource"]) {
		for name, body := range asMap(byName) {
			deps, _ := asMap(body)["depends_on"].([]any)
			for _, d := range deps {
				if s, _ := d.(string); declared[s] == "" || strings.HasPrefix(s, "data.") {
					problems = append(problems, fmt.Sprintf("%s.%s.depends_on: %v is not a resource of the file", typ, name, d))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// tfWalkStrings calls f with every string value and object key of v.
func tfWalkStrings(v any, path string, f func(path, s string)) {
	switch t := v.(type) {
	case string:
		f(path, t)
	case []any:
		for i, x := range t {
			tfWalkStrings(x, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			f(path+" (key)", k)
			tfWalkStrings(t[k], path+"."+k, f)
		}
	}
}

// tfLiteralOnly resolves no interpolation: the string must be literal.
func tfLiteralOnly(expr string) (string, error) {
	return "", fmt.Errorf("unexpected interpolation ${%s}", expr)
}

// tfResolveSamples resolves the data sources to tfSamples and references
// to resources to "ref(type.name.attr)", as cfnEval writes Ref and GetAtt.
func tfResolveSamples(expr string) (string, error) {
	if v, ok := tfSamples[expr]; ok {
		return v, nil
	}
	if m := tfReference.FindStringSubmatch(expr); m != nil && m[1] == "" {
		return "ref(" + expr + ")", nil
	}
	return "", fmt.Errorf("cannot resolve ${%s}", expr)
}

// tfCheckDocuments reads each document's content back and compares it with
// the standalone file, compact, byte for byte.
func tfCheckDocuments(cfg map[string]any, set tfSet) []string {
	var problems []string
	want := map[string]string{tfName(compiler.LinuxSnapshotLogicalID): compiler.LinuxSnapshotDir + "command-document.json"}
	if _, ok := set.files[compiler.WindowsDiskshadowDir+"command-document.json"]; ok {
		want[tfName(compiler.WindowsDiskshadowLogicalID)] = compiler.WindowsDiskshadowDir + "command-document.json"
	}
	for _, p := range set.plan.Policies {
		dir := compiler.PolicyDir(p.Names.Policy)
		want[tfName(p.Names.Logical+"Runbook")] = dir + "automation-runbook.json"
		if _, ok := set.files[dir+compiler.DrillRunbookPath]; ok {
			want[tfName(p.Names.Logical+"DrillRunbook")] = dir + compiler.DrillRunbookPath
		}
		if _, ok := set.files[dir+compiler.DrillCheckPath]; ok {
			want[tfName(p.Names.Logical+"DrillCheckDocument")] = dir + compiler.DrillCheckPath
		}
	}
	docs := asMap(tfLookup(cfg, "resource", "aws_ssm_document"))
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		path, ok := want[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("aws_ssm_document.%s is no document of the tree", name))
			continue
		}
		delete(want, name)
		content, _ := asMap(docs[name])["content"].(string)
		got, err := tfEvalTemplate(content, tfLiteralOnly)
		if err != nil {
			problems = append(problems, fmt.Sprintf("aws_ssm_document.%s content: %v", name, err))
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, set.files[path]); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		if got != compact.String() {
			problems = append(problems, fmt.Sprintf("aws_ssm_document.%s content, as Terraform reads it, differs from %s:\n%s", name, path, cmp.Diff(compact.String(), got)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		problems = append(problems, fmt.Sprintf("%s has no aws_ssm_document.%s", want[name], name))
	}
	return problems
}

// tfCheckIAM compares each IAM document with its standalone file, both
// resolved with the same sample values.
func tfCheckIAM(cfg map[string]any, set tfSet) []string {
	var problems []string
	byIAMName := func(typ string) map[string]string { // IAM name → Terraform name
		out := map[string]string{}
		for name, body := range asMap(tfLookup(cfg, "resource", typ)) {
			if n, ok := asMap(body)["name"].(string); ok {
				out[n] = name
			}
		}
		return out
	}
	policiesByName, rolesByName := byIAMName("aws_iam_policy"), byIAMName("aws_iam_role")
	inlineByRole := map[string]map[string]any{} // role reference → aws_iam_role_policy body
	for _, body := range asMap(tfLookup(cfg, "resource", "aws_iam_role_policy")) {
		if role, ok := asMap(body)["role"].(string); ok {
			inlineByRole[role] = asMap(body)
		}
	}
	compare := func(file, what, tfPolicy string) {
		got, err := tfEvalTemplate(tfPolicy, func(expr string) (string, error) {
			if v, ok := tfSamples[expr]; ok {
				return v, nil
			}
			return "", fmt.Errorf("unexpected interpolation ${%s}", expr)
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", what, err))
			return
		}
		text := string(set.files[file])
		for placeholder, v := range cfnSamples {
			text = strings.ReplaceAll(text, placeholder, v)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(text)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			return
		}
		if got != want.String() {
			problems = append(problems, fmt.Sprintf("%s differs from %s:\n%s", what, file, cmp.Diff(want.String(), got)))
		}
	}
	for _, p := range set.plan.Policies {
		n := p.Names
		dir := compiler.PolicyDir(n.Policy) + "iam/"
		if name, ok := policiesByName[n.InstancePolicy]; ok {
			compare(dir+"instance-policy.json", "aws_iam_policy."+name+".policy",
				asMap(tfLookup(cfg, "resource", "aws_iam_policy", name))["policy"].(string))
		} else {
			problems = append(problems, fmt.Sprintf("no aws_iam_policy is named %s", n.InstancePolicy))
		}
		roles := []struct{ role, trust, inline string }{
			{n.InstanceRole, "instance-trust.json", ""},
			{n.AutomationRole, "automation-trust.json", "automation-policy.json"},
			{n.WindowRole, "window-trust.json", "window-policy.json"},
		}
		if _, ok := set.files[compiler.PolicyDir(n.Policy)+compiler.DrillTrustPath]; ok {
			// The drill role's name is not exported; its Terraform name is
			// its logical id's.
			drill := tfName(n.Logical + "DrillRole")
			role, _ := asMap(tfLookup(cfg, "resource", "aws_iam_role", drill))["name"].(string)
			if role == "" {
				problems = append(problems, fmt.Sprintf("%s has no aws_iam_role.%s", compiler.DrillTrustPath, drill))
			} else {
				roles = append(roles, struct{ role, trust, inline string }{role, "drill-trust.json", "drill-policy.json"})
			}
		}
		for _, r := range roles {
			name, ok := rolesByName[r.role]
			if !ok {
				problems = append(problems, fmt.Sprintf("no aws_iam_role is named %s", r.role))
				continue
			}
			role := asMap(tfLookup(cfg, "resource", "aws_iam_role", name))
			trust, _ := role["assume_role_policy"].(string)
			compare(dir+r.trust, "aws_iam_role."+name+".assume_role_policy", trust)
			if r.inline == "" {
				continue
			}
			inline, ok := inlineByRole["${aws_iam_role."+name+".name}"]
			if !ok {
				problems = append(problems, fmt.Sprintf("no aws_iam_role_policy belongs to aws_iam_role.%s", name))
				continue
			}
			pol, _ := inline["policy"].(string)
			compare(dir+r.inline, "the aws_iam_role_policy of aws_iam_role."+name, pol)
		}
	}
	return problems
}

// cfnTerraformTypes maps each template resource type to its Terraform type
// and the attribute that holds what Ref returns.
var cfnTerraformTypes = map[string]struct{ tfType, refAttr string }{
	"AWS::SSM::Document":                {"aws_ssm_document", "name"},
	"AWS::IAM::ManagedPolicy":           {"aws_iam_policy", "arn"},
	"AWS::IAM::Role":                    {"aws_iam_role", "name"},
	"AWS::IAM::InstanceProfile":         {"aws_iam_instance_profile", "name"},
	"AWS::SSM::MaintenanceWindow":       {"aws_ssm_maintenance_window", "id"},
	"AWS::SSM::MaintenanceWindowTarget": {"aws_ssm_maintenance_window_target", "id"},
	"AWS::SSM::MaintenanceWindowTask":   {"aws_ssm_maintenance_window_task", "id"},
	"AWS::Rbin::Rule":                   {"aws_rbin_rule", "arn"},
}

// tfJSONArgs hold JSON documents as strings; parity compares them decoded.
var tfJSONArgs = []string{"content", "policy", "assume_role_policy"}

// tfCheckParity derives, from each template resource and output, the
// Terraform resource that must stand for it, and compares.
func tfCheckParity(cfg map[string]any, tmpl map[string]any) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	resources := asMap(tmpl["Resources"])
	cfnEval := func(v any) any { return cfnEvalValue(v, resources, add) }

	expected := map[string]map[string]any{} // "type.name" → body
	extras := map[string][]any{}            // type → bodies, matched as a multiset
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		r := asMap(resources[id])
		typ, _ := r["Type"].(string)
		to, ok := cfnTerraformTypes[typ]
		if !ok {
			add("template resource %s: type %s has no Terraform counterpart known to this test", id, typ)
			continue
		}
		props := asMap(cfnEval(r["Properties"]))
		name := tfName(id)
		body := map[string]any{}
		set := func(tfArg, cfnProp string, conv func(any) any) {
			v, ok := props[cfnProp]
			if !ok {
				return
			}
			delete(props, cfnProp)
			if conv != nil {
				v = conv(v)
			}
			body[tfArg] = v
		}
		if deps, ok := r["DependsOn"].([]any); ok {
			var refs []any
			for _, d := range deps {
				dt, _ := asMap(resources[d.(string)])["Type"].(string)
				refs = append(refs, cfnTerraformTypes[dt].tfType+"."+tfName(d.(string)))
			}
			body["depends_on"] = refs
		}
		roleRef := "ref(aws_iam_role." + name + ".name)"
		switch typ {
		case "AWS::SSM::Document":
			set("name", "Name", nil)
			set("document_type", "DocumentType", nil)
			set("document_format", "DocumentFormat", nil)
			set("content", "Content", nil)
			set("tags", "Tags", cfnTagMap)
			// Terraform's aws_ssm_document always updates a document by
			// adding a version and making it the default, which is what
			// NewVersion asks of CloudFormation.
			if props["UpdateMethod"] == "NewVersion" {
				delete(props, "UpdateMethod")
			}
		case "AWS::IAM::ManagedPolicy":
			set("name", "ManagedPolicyName", nil)
			set("path", "Path", nil)
			set("description", "Description", nil)
			set("policy", "PolicyDocument", nil)
		case "AWS::IAM::Role":
			set("name", "RoleName", nil)
			set("path", "Path", nil)
			set("description", "Description", nil)
			set("assume_role_policy", "AssumeRolePolicyDocument", nil)
			set("tags", "Tags", cfnTagMap)
			pols, _ := props["Policies"].([]any)
			delete(props, "Policies")
			for _, p := range pols {
				pm := asMap(p)
				extras["aws_iam_role_policy"] = append(extras["aws_iam_role_policy"],
					map[string]any{"name": pm["PolicyName"], "policy": pm["PolicyDocument"], "role": roleRef})
			}
			arns, _ := props["ManagedPolicyArns"].([]any)
			delete(props, "ManagedPolicyArns")
			for _, a := range arns {
				extras["aws_iam_role_policy_attachment"] = append(extras["aws_iam_role_policy_attachment"],
					map[string]any{"policy_arn": a, "role": roleRef})
			}
		case "AWS::IAM::InstanceProfile":
			set("name", "InstanceProfileName", nil)
			set("path", "Path", nil)
			set("role", "Roles", func(v any) any {
				l, _ := v.([]any)
				if len(l) != 1 {
					add("%s: Roles has %d entries; aws_iam_instance_profile takes one role", id, len(l))
					return nil
				}
				return l[0]
			})
		case "AWS::SSM::MaintenanceWindow":
			for _, m := range [][2]string{
				{"name", "Name"}, {"description", "Description"}, {"schedule", "Schedule"},
				{"schedule_timezone", "ScheduleTimezone"}, {"schedule_offset", "ScheduleOffset"},
				{"duration", "Duration"}, {"cutoff", "Cutoff"}, {"allow_unassociated_targets", "AllowUnassociatedTargets"},
			} {
				set(m[0], m[1], nil)
			}
			set("tags", "Tags", cfnTagMap)
		case "AWS::SSM::MaintenanceWindowTarget":
			for _, m := range [][2]string{
				{"window_id", "WindowId"}, {"name", "Name"}, {"description", "Description"}, {"resource_type", "ResourceType"},
			} {
				set(m[0], m[1], nil)
			}
			set("targets", "Targets", cfnTargets)
		case "AWS::Rbin::Rule":
			set("description", "Description", nil)
			set("resource_type", "ResourceType", nil)
			set("tags", "Tags", cfnTagMap)
			set("resource_tags", "ResourceTags", func(v any) any {
				l, _ := v.([]any)
				var out []any
				for _, t := range l {
					out = append(out, map[string]any{"resource_tag_key": asMap(t)["ResourceTagKey"], "resource_tag_value": asMap(t)["ResourceTagValue"]})
				}
				return out
			})
			set("retention_period", "RetentionPeriod", func(v any) any {
				return map[string]any{"retention_period_unit": asMap(v)["RetentionPeriodUnit"], "retention_period_value": asMap(v)["RetentionPeriodValue"]}
			})
		case "AWS::SSM::MaintenanceWindowTask":
			for _, m := range [][2]string{
				{"window_id", "WindowId"}, {"name", "Name"}, {"description", "Description"}, {"task_arn", "TaskArn"},
				{"task_type", "TaskType"}, {"service_role_arn", "ServiceRoleArn"}, {"priority", "Priority"},
				{"max_concurrency", "MaxConcurrency"}, {"max_errors", "MaxErrors"}, {"cutoff_behavior", "CutoffBehavior"},
			} {
				set(m[0], m[1], nil)
			}
			set("targets", "Targets", cfnTargets)
			set("task_invocation_parameters", "TaskInvocationParameters", func(v any) any {
				auto := asMap(asMap(v)["MaintenanceWindowAutomationParameters"])
				params := asMap(auto["Parameters"])
				var blocks []any
				for _, k := range slices.Sorted(maps.Keys(params)) {
					blocks = append(blocks, map[string]any{"name": k, "values": params[k]})
				}
				if len(asMap(v)) != 1 || len(auto) != 2 {
					add("%s: TaskInvocationParameters holds more than this test maps: %v", id, v)
				}
				return map[string]any{"automation_parameters": map[string]any{
					"document_version": auto["DocumentVersion"], "parameter": blocks,
				}}
			})
		}
		for _, p := range slices.Sorted(maps.Keys(props)) {
			add("template resource %s: property %s has no Terraform counterpart known to this test", id, p)
		}
		expected[to.tfType+"."+name] = body
	}

	actual := map[string]map[string]any{}
	for typ, byName := range asMap(cfg["resource"]) {
		for name, body := range asMap(byName) {
			v, err := tfEvalValue(body)
			if err != nil {
				add("%s.%s: %v", typ, name, err)
				continue
			}
			actual[typ+"."+name] = tfDecodeJSONArgs(asMap(v), add, typ+"."+name)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(expected)) {
		got, ok := actual[key]
		if !ok {
			add("%s: the template declares it, the configuration does not", key)
			continue
		}
		delete(actual, key)
		if d := cmp.Diff(expected[key], got); d != "" {
			add("%s differs from its template resource (-template +terraform):\n%s", key, d)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(extras)) {
		var got []any
		for key, body := range actual {
			if strings.HasPrefix(key, typ+".") {
				got = append(got, body)
				delete(actual, key)
			}
		}
		want := extras[typ]
		canon := func(l []any) []string {
			var out []string
			for _, x := range l {
				b, _ := json.Marshal(x)
				out = append(out, string(b))
			}
			sort.Strings(out)
			return out
		}
		if d := cmp.Diff(canon(want), canon(got)); d != "" {
			add("%s resources differ from the template's role properties (-template +terraform):\n%s", typ, d)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(actual)) {
		add("%s has no counterpart in the template", key)
	}

	outputs := asMap(tmpl["Outputs"])
	tfOutputs := asMap(cfg["output"])
	for _, id := range slices.Sorted(maps.Keys(outputs)) {
		o := asMap(outputs[id])
		want := map[string]any{"description": o["Description"], "value": cfnEval(o["Value"])}
		got, err := tfEvalValue(tfOutputs[tfName(id)])
		if err != nil {
			add("output.%s: %v", tfName(id), err)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			add("output.%s differs from template output %s (-template +terraform):\n%s", tfName(id), id, d)
		}
	}
	if len(outputs) != len(tfOutputs) {
		add("the template has %d outputs, the configuration %d", len(outputs), len(tfOutputs))
	}
	return problems
}

// cfnEvalValue resolves intrinsic functions: Ref and Fn::GetAtt to the
// reference their Terraform counterpart writes, Fn::Sub with cfnSamples.
func cfnEvalValue(v any, resources map[string]any, add func(string, ...any)) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cfnEvalValue(x, resources, add)
		}
		return out
	case map[string]any:
		if len(t) == 1 {
			if id, ok := t["Ref"].(string); ok {
				to := cfnTerraformTypes[asMap(resources[id])["Type"].(string)]
				return "ref(" + to.tfType + "." + tfName(id) + "." + to.refAttr + ")"
			}
			if ga, ok := t["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				if ga[1] != "Arn" {
					add("Fn::GetAtt %v: only Arn is mapped", ga)
				}
				to := cfnTerraformTypes[asMap(resources[ga[0].(string)])["Type"].(string)]
				return "ref(" + to.tfType + "." + tfName(ga[0].(string)) + ".arn)"
			}
			if s, ok := t["Fn::Sub"].(string); ok {
				for placeholder, sample := range cfnSamples {
					s = strings.ReplaceAll(s, placeholder, sample)
				}
				if strings.Contains(s, "${") {
					add("Fn::Sub %q holds a substitution this test does not map", s)
				}
				return s
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = cfnEvalValue(x, resources, add)
		}
		return out
	}
	return v
}

// tfEvalValue evaluates every string and object key as Terraform would,
// with tfResolveSamples.
func tfEvalValue(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return tfEvalTemplate(t, tfResolveSamples)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			e, err := tfEvalValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			ek, err := tfEvalTemplate(k, tfResolveSamples)
			if err != nil {
				return nil, err
			}
			e, err := tfEvalValue(x)
			if err != nil {
				return nil, err
			}
			out[ek] = e
		}
		return out, nil
	}
	return v, nil
}

func tfDecodeJSONArgs(body map[string]any, add func(string, ...any), where string) map[string]any {
	for _, k := range tfJSONArgs {
		s, ok := body[k].(string)
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			add("%s.%s is not JSON: %v", where, k, err)
			continue
		}
		body[k] = v
	}
	return body
}

func cfnTagMap(v any) any {
	out := map[string]any{}
	l, _ := v.([]any)
	for _, t := range l {
		out[asMap(t)["Key"].(string)] = asMap(t)["Value"]
	}
	return out
}

func cfnTargets(v any) any {
	l, _ := v.([]any)
	var out []any
	for _, t := range l {
		out = append(out, map[string]any{"key": asMap(t)["Key"], "values": asMap(t)["Values"]})
	}
	return out
}

// TestTerraformNegativeControls breaks copies of a configuration on purpose
// and expects each check to say so.
func TestTerraformNegativeControls(t *testing.T) {
	sets := tfCompiledSets(t)
	set := sets[0]
	var tmpl map[string]any
	if err := json.Unmarshal(set.files[compiler.TemplatePath], &tmpl); err != nil {
		t.Fatal(err)
	}
	task := func(cfg map[string]any) map[string]any {
		for _, body := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window_task")) {
			return asMap(body)
		}
		t.Fatal("no window task")
		return nil
	}
	for _, c := range []struct {
		name   string
		check  func(map[string]any) []string
		want   string
		mutate func(cfg map[string]any)
	}{
		{"required argument dropped", tfCheckStructure, "required argument window_id is missing",
			func(cfg map[string]any) { delete(task(cfg), "window_id") }},
		{"nested required argument dropped", tfCheckStructure, "required argument values is missing",
			func(cfg map[string]any) { delete(asMap(task(cfg)["targets"].([]any)[0]), "values") }},
		{"number written as a string", tfCheckStructure, "priority: string, want a number",
			func(cfg map[string]any) { task(cfg)["priority"] = "1" }},
		{"unknown argument", tfCheckStructure, "argument shedule is not one the provider knows",
			func(cfg map[string]any) {
				for _, w := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window")) {
					asMap(w)["shedule"] = "rate(1 day)"
				}
			}},
		{"dangling reference", tfCheckReferences, "which the file does not declare",
			func(cfg map[string]any) { task(cfg)["service_role_arn"] = "${aws_iam_role.nope.arn}" }},
		{"attribute the type does not export", tfCheckReferences, "exports no nope",
			func(cfg map[string]any) { task(cfg)["service_role_arn"] = "${data.aws_partition.current.nope}" }},
		{"dangling depends_on", tfCheckReferences, "is not a resource of the file",
			func(cfg map[string]any) {
				for _, d := range asMap(tfLookup(cfg, "resource", "aws_ssm_document")) {
					if _, ok := asMap(d)["depends_on"]; ok {
						asMap(d)["depends_on"] = []any{"aws_ssm_document.nope"}
					}
				}
			}},
		{"unescaped ${ in content", tfCheckReferences, "is not a reference",
			func(cfg map[string]any) { tfUnescapeContent(cfg) }},
		{"unescaped ${ in content, read back", func(cfg map[string]any) []string { return tfCheckDocuments(cfg, set) }, "content: ",
			func(cfg map[string]any) { tfUnescapeContent(cfg) }},
		{"document content changed", func(cfg map[string]any) []string { return tfCheckDocuments(cfg, set) }, "differs from",
			func(cfg map[string]any) {
				d := asMap(tfLookup(cfg, "resource", "aws_ssm_document", "linux_snapshot_document"))
				d["content"] = strings.Replace(d["content"].(string), "$${", "$$${", 1)
			}},
		{"IAM policy changed", func(cfg map[string]any) []string { return tfCheckIAM(cfg, set) }, "differs from",
			func(cfg map[string]any) {
				for _, p := range asMap(tfLookup(cfg, "resource", "aws_iam_policy")) {
					asMap(p)["policy"] = strings.Replace(asMap(p)["policy"].(string), "data.aws_region.current.id", "data.aws_caller_identity.current.account_id", 1)
				}
			}},
		{"schedule changed", func(cfg map[string]any) []string { return tfCheckParity(cfg, tmpl) }, "differs from its template resource",
			func(cfg map[string]any) {
				for _, w := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window")) {
					asMap(w)["schedule"] = "rate(1 day)"
				}
			}},
		{"resource missing", func(cfg map[string]any) []string { return tfCheckParity(cfg, tmpl) }, "the template declares it, the configuration does not",
			func(cfg map[string]any) { delete(asMap(tfLookup(cfg, "resource")), "aws_iam_instance_profile") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tfDecode(t, set)
			if got := c.check(cfg); len(got) != 0 {
				t.Fatalf("the intact configuration already fails: %v", got)
			}
			c.mutate(cfg)
			got := c.check(cfg)
			for _, p := range got {
				if strings.Contains(p, c.want) {
					t.Logf("reported: %s", tfExcerptLines(p))
					return
				}
			}
			t.Errorf("the check did not report %q; it reported %v", c.want, got)
		})
	}
}

// tfUnescapeContent writes the shared document's content as it would read
// without escaping.
func tfUnescapeContent(cfg map[string]any) {
	d := asMap(tfLookup(cfg, "resource", "aws_ssm_document", "linux_snapshot_document"))
	s, _ := tfEvalTemplate(d["content"].(string), tfLiteralOnly)
	d["content"] = s
}

func tfExcerptLines(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// tfProviderMirror is a directory holding hashicorp/aws in Terraform's
// provider mirror layout: $SSM_BACKUP_TERRAFORM_PLUGIN_DIR, the copy the
// development machines keep in /opt/tf-plugins, or one of Terraform's own
// implied mirror directories. The test never downloads the provider: the
// registry is out of reach here.
func tfProviderMirror() string {
	candidates := []string{os.Getenv("SSM_BACKUP_TERRAFORM_PLUGIN_DIR"), "/opt/tf-plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".terraform.d", "plugins"))
	}
	candidates = append(candidates, "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, "registry.terraform.io", "hashicorp", "aws")); err == nil && st.IsDir() {
			return c
		}
	}
	return ""
}

// tfRunner runs terraform in a directory with a clean environment: no
// user configuration, no update check, no prompts.
type tfRunner struct {
	t   *testing.T
	bin string
	env []string
}

func newTFRunner(t *testing.T) *tfRunner {
	t.Helper()
	bin, err := exec.LookPath("terraform")
	if err != nil {
		// Not installed here: TestTerraform's structural, reference and
		// escaping checks stand in for terraform validate.
		if os.Getenv("CI") == "true" {
			t.Fatalf("terraform is required under CI (it is on this project's machine image): %v", err)
		}
		t.Skip("terraform is not on PATH; TestTerraform's structural checks stand in for terraform validate")
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_CLI_CONFIG_FILE=" + rc}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	return &tfRunner{t: t, bin: bin, env: env}
}

func (r *tfRunner) run(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = dir
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("terraform %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), err
}

func (r *tfRunner) mustRun(dir string, args ...string) []byte {
	r.t.Helper()
	out, err := r.run(dir, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tfValidation is the JSON that terraform validate -json prints.
type tfValidation struct {
	Valid       bool `json:"valid"`
	Diagnostics []struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Range    struct {
			Filename string `json:"filename"`
		} `json:"range"`
	} `json:"diagnostics"`
}

// TestTerraformValidate hands the generated configurations to terraform
// itself: see the file comment, point 6.
func TestTerraformValidate(t *testing.T) {
	r := newTFRunner(t)
	mirror := tfProviderMirror()
	if mirror == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("terraform is on PATH, but no local mirror holds hashicorp/aws (set SSM_BACKUP_TERRAFORM_PLUGIN_DIR); under CI terraform validate must run")
		}
		t.Skip("terraform is on PATH, but no local mirror holds hashicorp/aws (set SSM_BACKUP_TERRAFORM_PLUGIN_DIR); TestTerraform's structural checks stand in for terraform validate")
	}
	sets := tfCompiledSets(t)

	// Every set is a module of one root, so one init and one validate check
	// them all.
	modules := func(root string, configs map[string][]byte) {
		calls := map[string]any{}
		for name, b := range configs {
			if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, name, "ssm-backup.tf.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			calls[name] = map[string]any{"source": "./" + name}
		}
		writeJSONFile(t, filepath.Join(root, "main.tf.json"), map[string]any{"module": calls})
		r.mustRun(root, "init", "-backend=false", "-input=false", "-no-color", "-plugin-dir="+mirror)
	}
	validate := func(root string) tfValidation {
		out, _ := r.run(root, "validate", "-json", "-no-color") // exits 1 when invalid
		var v tfValidation
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("terraform validate -json: %v\n%s", err, out)
		}
		return v
	}

	good := t.TempDir()
	configs := map[string][]byte{}
	for i, set := range sets {
		configs[fmt.Sprintf("set-%02d", i)] = set.files[compiler.TerraformPath]
		t.Logf("set-%02d is %s", i, set.name)
	}
	modules(good, configs)
	if v := validate(good); !v.Valid || len(v.Diagnostics) > 0 {
		t.Errorf("terraform validate rejects generated configurations: %+v", v.Diagnostics)
	} else {
		t.Logf("terraform validate: %d generated configurations valid, no warning", len(sets))
	}

	// Negative controls: each broken copy must be rejected, in its module.
	broken := t.TempDir()
	breaks := map[string]struct {
		summary string
		mutate  func(cfg map[string]any)
	}{
		"missing-argument": {"Missing required argument", func(cfg map[string]any) {
			for _, b := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window_task")) {
				delete(asMap(b), "window_id")
			}
		}},
		"dangling-reference": {"Reference to undeclared resource", func(cfg map[string]any) {
			for _, b := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window_task")) {
				asMap(b)["service_role_arn"] = "${aws_iam_role.nope.arn}"
			}
		}},
		"unescaped-content": {"", tfUnescapeContent},
	}
	configs = map[string][]byte{}
	for name, b := range breaks {
		cfg := tfDecode(t, sets[0])
		b.mutate(cfg)
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		configs[name] = out
	}
	modules(broken, configs)
	v := validate(broken)
	if v.Valid {
		t.Fatal("terraform validate accepts the broken copies")
	}
	for name, b := range breaks {
		found := false
		for _, d := range v.Diagnostics {
			if d.Severity == "error" && strings.HasPrefix(d.Range.Filename, name+"/") && strings.Contains(d.Summary, b.summary) {
				t.Logf("negative control %s: terraform validate: %s", name, d.Summary)
				found = true
				break
			}
		}
		if !found {
			t.Errorf("negative control %s: terraform validate reported no error %q there: %+v", name, b.summary, v.Diagnostics)
		}
	}

	t.Run("strings read back", func(t *testing.T) { tfCompareStringsWithTerraform(t, r, sets) })
	t.Run("argument table", func(t *testing.T) { tfCompareSchema(t, r, good) })
}

// tfCompareStringsWithTerraform outputs every literal string of every
// configuration through terraform (no provider involved) and compares what
// terraform prints with what tfEvalTemplate reads.
func tfCompareStringsWithTerraform(t *testing.T, r *tfRunner, sets []tfSet) {
	seen := map[string]bool{}
	outputs := map[string]any{}
	want := map[string]string{}
	for _, set := range sets {
		tfWalkStrings(tfDecode(t, set), "", func(_ string, s string) {
			if seen[s] {
				return
			}
			seen[s] = true
			v, err := tfEvalTemplate(s, tfLiteralOnly)
			if err != nil {
				return // holds references; TestTerraform checks those
			}
			name := fmt.Sprintf("s%05d", len(outputs))
			outputs[name] = map[string]any{"value": s}
			want[name] = v
		})
	}
	dir := t.TempDir()
	writeJSONFile(t, filepath.Join(dir, "strings.tf.json"), map[string]any{"output": outputs})
	r.mustRun(dir, "apply", "-auto-approve", "-input=false", "-no-color")
	var got map[string]struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(r.mustRun(dir, "output", "-json", "-no-color"), &got); err != nil {
		t.Fatal(err)
	}
	escaped := 0
	for name, w := range want {
		if got[name].Value != w {
			t.Errorf("terraform reads %q as %q; tfEvalTemplate as %q", tfExcerpt(outputs[name].(map[string]any)["value"].(string)), tfExcerpt(got[name].Value), tfExcerpt(w))
		}
		if s := outputs[name].(map[string]any)["value"].(string); strings.Contains(s, "$${") || strings.Contains(s, "%%{") {
			escaped++
		}
	}
	if escaped == 0 {
		t.Error("no string carried an escape; the comparison proves nothing about escaping")
	}
	t.Logf("terraform read %d literal strings (%d with escapes) as tfEvalTemplate does", len(want), escaped)
}

// tfCompareSchema compares tfArguments with the schema the provider binary
// reports for the same resource types.
func tfCompareSchema(t *testing.T, r *tfRunner, dir string) {
	out := r.mustRun(dir, "providers", "schema", "-json")
	var doc struct {
		ProviderSchemas map[string]struct {
			Provider          json.RawMessage                          `json:"provider"`
			ResourceSchemas   map[string]struct{ Block tfSchemaBlock } `json:"resource_schemas"`
			DataSourceSchemas map[string]struct{ Block tfSchemaBlock } `json:"data_source_schemas"`
		} `json:"provider_schemas"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	aws, ok := doc.ProviderSchemas["registry.terraform.io/hashicorp/aws"]
	if !ok {
		t.Fatal("the provider schema holds no hashicorp/aws")
	}
	for _, typ := range slices.Sorted(maps.Keys(tfArguments)) {
		s, ok := aws.ResourceSchemas[typ]
		if !ok {
			t.Errorf("the provider has no resource %s", typ)
			continue
		}
		tfCompareBlock(t, typ, tfArguments[typ].args, s.Block)
		for _, c := range tfArguments[typ].computed {
			if _, ok := s.Block.Attributes[c]; !ok {
				t.Errorf("%s exports no attribute %s", typ, c)
			}
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(tfDataSources)) {
		s, ok := aws.DataSourceSchemas[typ]
		if !ok {
			t.Errorf("the provider has no data source %s", typ)
			continue
		}
		for _, a := range tfDataSources[typ] {
			if _, ok := s.Block.Attributes[a]; !ok {
				t.Errorf("data source %s exports no attribute %s", typ, a)
			}
		}
	}
}

type tfSchemaBlock struct {
	Attributes map[string]struct {
		Type     json.RawMessage `json:"type"`
		Required bool            `json:"required"`
	} `json:"attributes"`
	BlockTypes map[string]struct {
		NestingMode string        `json:"nesting_mode"`
		MinItems    int           `json:"min_items"`
		MaxItems    int           `json:"max_items"`
		Block       tfSchemaBlock `json:"block"`
	} `json:"block_types"`
}

func tfCompareBlock(t *testing.T, where string, args map[string]tfArg, b tfSchemaBlock) {
	wantType := map[tfKind][]string{
		tfString: {`"string"`}, tfNumber: {`"number"`}, tfBool: {`"bool"`},
		tfStringMap: {`["map","string"]`}, tfStringList: {`["list","string"]`, `["set","string"]`},
	}
	for _, name := range slices.Sorted(maps.Keys(args)) {
		a := args[name]
		at := where + "." + name
		if a.kind == tfBlock {
			bt, ok := b.BlockTypes[name]
			if !ok {
				t.Errorf("%s: the provider has no block %s", at, name)
				continue
			}
			if (bt.MinItems > 0) != a.required || bt.MinItems != a.minItems || bt.MaxItems != a.maxItems {
				t.Errorf("%s: the provider says %d to %d blocks; tfArguments %d to %d, required %v", at, bt.MinItems, bt.MaxItems, a.minItems, a.maxItems, a.required)
			}
			tfCompareBlock(t, at, a.nested, bt.Block)
			continue
		}
		attr, ok := b.Attributes[name]
		if !ok {
			t.Errorf("%s: the provider has no argument %s", at, name)
			continue
		}
		if attr.Required != a.required {
			t.Errorf("%s: the provider says required=%v; tfArguments %v", at, attr.Required, a.required)
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, attr.Type)
		if !slices.Contains(wantType[a.kind], compact.String()) {
			t.Errorf("%s: the provider's type is %s; tfArguments says %s", at, compact.String(), a.kind)
		}
	}
	for name, attr := range b.Attributes {
		if _, ok := args[name]; attr.Required && !ok {
			t.Errorf("%s: the provider requires %s; tfArguments does not list it", where, name)
		}
	}
	for name, bt := range b.BlockTypes {
		if _, ok := args[name]; bt.MinItems > 0 && !ok {
			t.Errorf("%s: the provider requires block %s; tfArguments does not list it", where, name)
		}
	}
}
