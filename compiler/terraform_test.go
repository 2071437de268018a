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
//     attribute its type exports (of a stack's outputs, one its
//     template_body declares); no %{ directive is left unescaped.
//  3. Escaping: each aws_ssm_document content, read as Terraform reads a
//     JSON string (tfEvalTemplate), is byte for byte the compact form of the
//     standalone document; each IAM policy, its data sources replaced by
//     sample values, is byte for byte the standalone iam/*.json file with the
//     ${AWS::...} placeholders replaced by the same values.
//  4. Parity: every template resource and output has its Terraform
//     counterpart, named in snake case after its logical id, holding the same
//     values once references and pseudo parameters are resolved, and the
//     configuration holds nothing else. A Data Lifecycle Manager policy the
//     provider cannot express stands as an aws_cloudformation_stack whose
//     template_body holds the same AWS::DLM::LifecyclePolicy.
//  5. Negative controls: copies broken on purpose (a required argument
//     dropped, a dangling reference, an unescaped ${, a wrong type, an
//     unknown argument, a value of the backup and dlm engines changed) fail
//     the checks above.
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
	"aws_backup_vault": {
		args: map[string]tfArg{
			"name": req(tfString), "kms_key_arn": opt(tfString), "tags": tfTags,
		},
		computed: []string{"arn", "id", "recovery_points", "tags_all"},
	},
	"aws_backup_vault_lock_configuration": {
		args: map[string]tfArg{
			"backup_vault_name": req(tfString), "min_retention_days": opt(tfNumber),
			"max_retention_days": opt(tfNumber), "changeable_for_days": opt(tfNumber),
		},
		computed: []string{"backup_vault_arn", "id"},
	},
	"aws_backup_plan": {
		args: map[string]tfArg{
			"name": req(tfString), "tags": tfTags,
			"rule": {kind: tfBlock, required: true, minItems: 1, nested: map[string]tfArg{
				"rule_name": req(tfString), "target_vault_name": req(tfString),
				"schedule": opt(tfString), "schedule_expression_timezone": opt(tfString),
				"start_window": opt(tfNumber), "completion_window": opt(tfNumber),
				"recovery_point_tags": opt(tfStringMap),
				"lifecycle":           tfBackupLifecycleBlock(),
				"copy_action": {kind: tfBlock, nested: map[string]tfArg{
					"destination_vault_arn": req(tfString), "lifecycle": tfBackupLifecycleBlock(),
				}},
			}},
			"advanced_backup_setting": {kind: tfBlock, nested: map[string]tfArg{
				"backup_options": req(tfStringMap), "resource_type": req(tfString),
			}},
		},
		computed: []string{"arn", "id", "tags_all", "version"},
	},
	"aws_backup_selection": {
		args: map[string]tfArg{
			"name": req(tfString), "iam_role_arn": req(tfString), "plan_id": req(tfString),
			"resources": opt(tfStringList),
			"condition": {kind: tfBlock, nested: map[string]tfArg{
				"string_equals": {kind: tfBlock, nested: map[string]tfArg{"key": req(tfString), "value": req(tfString)}},
			}},
		},
		computed: []string{"id"},
	},
	// The provider has neither create_rule.scripts nor an archive_rule
	// block (see the parity check): a policy with either is a stack.
	"aws_dlm_lifecycle_policy": {
		args: map[string]tfArg{
			"description": req(tfString), "execution_role_arn": req(tfString), "state": opt(tfString), "tags": tfTags,
			"policy_details": {kind: tfBlock, required: true, minItems: 1, maxItems: 1, nested: map[string]tfArg{
				"policy_type": opt(tfString), "resource_types": opt(tfStringList), "target_tags": opt(tfStringMap),
				"parameters": {kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
					"exclude_boot_volume": opt(tfBool), "no_reboot": opt(tfBool),
				}},
				"schedule": {kind: tfBlock, maxItems: 4, nested: map[string]tfArg{
					"name": req(tfString), "copy_tags": opt(tfBool),
					"tags_to_add": opt(tfStringMap), "variable_tags": opt(tfStringMap),
					"create_rule": {kind: tfBlock, required: true, minItems: 1, maxItems: 1, nested: map[string]tfArg{
						"cron_expression": opt(tfString), "interval": opt(tfNumber), "interval_unit": opt(tfString),
					}},
					"retain_rule": {kind: tfBlock, required: true, minItems: 1, maxItems: 1, nested: map[string]tfArg{
						"count": opt(tfNumber), "interval": opt(tfNumber), "interval_unit": opt(tfString),
					}},
					"cross_region_copy_rule": {kind: tfBlock, maxItems: 3, nested: map[string]tfArg{
						"target": req(tfString), "encrypted": req(tfBool), "cmk_arn": opt(tfString), "copy_tags": opt(tfBool),
						"retain_rule": {kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
							"interval": req(tfNumber), "interval_unit": req(tfString),
						}},
					}},
					"share_rule": {kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
						"target_accounts": req(tfStringList),
					}},
					"fast_restore_rule": {kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
						"availability_zones": req(tfStringList), "count": opt(tfNumber),
					}},
				}},
			}},
		},
		computed: []string{"arn", "id", "tags_all"},
	},
	"aws_cloudformation_stack": {
		args: map[string]tfArg{
			"name": req(tfString), "template_body": opt(tfString), "parameters": opt(tfStringMap), "tags": tfTags,
		},
		computed: []string{"id", "outputs", "tags_all"},
	},
}

// tfBackupLifecycleBlock is the lifecycle block of aws_backup_plan, in a
// rule and in its copy actions.
func tfBackupLifecycleBlock() tfArg {
	return tfArg{kind: tfBlock, maxItems: 1, nested: map[string]tfArg{
		"cold_storage_after": opt(tfNumber), "delete_after": opt(tfNumber),
		"opt_in_to_archive_for_supported_resources": opt(tfBool),
	}}
}

// tfLifecycleMeta is the lifecycle meta-argument as the configuration may
// write it: prevent_destroy only (see tfCheckParity on Retain).
var tfLifecycleMeta = tfArg{kind: tfBlock, maxItems: 1, nested: map[string]tfArg{"prevent_destroy": opt(tfBool)}}

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

// tfDLMPolicy exercises what the golden cases of the dlm engine do not: a
// lifecycle policy the provider can express (crash consistency, no
// pre-script, no archive), hence an aws_dlm_lifecycle_policy rather than a
// stack, one per target value.
const tfDLMPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: web-dlm
  description: Web servers on Data Lifecycle Manager
spec:
  engine: dlm
  platform: linux
  targets:
    tags: {Tier: [web-a, web-b]}
  consistency: crash
  schedule:
    expression: cron(15 4 * * ? *)
  retention: {maxAge: 21d}
  copies:
    - region: us-west-2
      kmsKeyId: arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
      retention: {maxAge: 7d}
    - account: "444455556666"
  dlm:
    fastRestore: {availabilityZones: [us-east-1a, us-east-1b], count: 2}
  tags: {Owner: web-team}
`

// tfGovernanceLockPolicy exercises a vault locked in governance mode (no
// changeableFor), which the golden cases do not.
const tfGovernanceLockPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: db-backup
  description: Database hosts on AWS Backup, governance-mode lock
spec:
  engine: backup
  platform: linux
  targets:
    tags: {Tier: db}
  consistency: crash
  schedule:
    expression: cron(0 2 ? * MON-FRI *)
    window: {duration: 1h}
  retention: {maxAge: 30d}
  backup:
    vault:
      lock: {minRetention: 7d}
  lint: {ignore: [W001]}
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
	inputs = append(inputs,
		confInput{name: "terraform/sigils", files: []policies.File{{Name: "sigils.yaml", Data: []byte(tfSigilsPolicy)}}},
		confInput{name: "terraform/dlm", files: []policies.File{{Name: "dlm.yaml", Data: []byte(tfDLMPolicy)}}},
		confInput{name: "terraform/governance-lock", files: []policies.File{{Name: "lock.yaml", Data: []byte(tfGovernanceLockPolicy)}}})
	var sets []tfSet
	for _, in := range inputs {
		res := compiler.Compile(in.files, compiler.Options{Now: conformanceNow})
		if res.Diagnostics.HasErrors() {
			if in.name == "examples" || strings.HasPrefix(in.name, "terraform/") {
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
			if lc, ok := body["lifecycle"]; ok {
				tfCheckArgs(where, map[string]any{"lifecycle": lc}, map[string]tfArg{"lifecycle": tfLifecycleMeta}, add)
				body = maps.Clone(body)
				delete(body, "lifecycle")
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

// tfReference matches a reference to an attribute, and to one element of a
// map attribute (aws_cloudformation_stack.x.outputs["PolicyId"]).
var tfReference = regexp.MustCompile(`^(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)\.([a-z_]+)(\["([^"\\]+)"\])?$`)

// tfStackTemplate reads the template_body of an aws_cloudformation_stack
// as Terraform hands it to CloudFormation: a literal, then JSON. The stack
// takes what Terraform knows through its parameters, so an interpolation
// in the body is an error.
func tfStackTemplate(body any) (map[string]any, error) {
	s, ok := asMap(body)["template_body"].(string)
	if !ok {
		return nil, fmt.Errorf("no template_body")
	}
	text, err := tfEvalTemplate(s, tfLiteralOnly)
	if err != nil {
		return nil, fmt.Errorf("template_body: %v", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(text), &tmpl); err != nil {
		return nil, fmt.Errorf("template_body is not a JSON template: %v", err)
	}
	return tmpl, nil
}

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
	stackOutputs := map[string]map[string]any{} // stack name → outputs of its template_body
	for name, body := range asMap(tfLookup(cfg, "resource", "aws_cloudformation_stack")) {
		tmpl, err := tfStackTemplate(body)
		if err != nil {
			problems = append(problems, fmt.Sprintf("aws_cloudformation_stack.%s: %v", name, err))
		}
		stackOutputs[name] = asMap(tmpl["Outputs"])
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
		// A stack's outputs are a map: a reference names one output, which
		// the stack's own template must declare, or Terraform fails only
		// once the stack is deployed.
		isOutputs := m[1] == "" && typ == "aws_cloudformation_stack" && m[4] == "outputs"
		switch {
		case m[5] != "" && !isOutputs:
			return "", fmt.Errorf("${%s}: only the outputs of an aws_cloudformation_stack are read by key here", expr)
		case m[5] == "" && isOutputs:
			return "", fmt.Errorf("${%s} is the map of all the stack's outputs; name one", expr)
		case isOutputs:
			if _, ok := stackOutputs[m[3]][m[6]]; !ok {
				return "", fmt.Errorf("${%s}: the template_body of %s has no output %s", expr, key, m[6])
			}
			return "", nil
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

// tfRunsOnSSM reports whether the policy runs on the ssm engine, as its
// files tell (engineOfFiles).
func tfRunsOnSSM(set tfSet, policy string) bool { return engineOfFiles(set.files, policy) == "ssm" }

// tfRunsLinuxScript reports whether the policy's runbook runs the set's
// shared Linux document (an aws:runCommand step naming it).
func tfRunsLinuxScript(set tfSet, policy string) bool {
	b, ok := set.files[compiler.PolicyDir(policy)+"automation-runbook.json"]
	if !ok {
		return false
	}
	var rb struct {
		MainSteps []struct {
			Action string
			Inputs struct{ DocumentName string }
		} `json:"mainSteps"`
	}
	if json.Unmarshal(b, &rb) != nil {
		return false
	}
	for _, s := range rb.MainSteps {
		if s.Action == "aws:runCommand" && strings.HasPrefix(s.Inputs.DocumentName, compiler.LinuxSnapshotDocument+"-") {
			return true
		}
	}
	return false
}

// tfCheckDocuments reads each document's content back and compares it with
// the standalone file, compact, byte for byte. The shared Linux document
// serves the runbooks that run it (Linux policies of the ssm engine, not
// stopped): it is emitted exactly when the set has one.
func tfCheckDocuments(cfg map[string]any, set tfSet) []string {
	var problems []string
	want := map[string]string{}
	ssm := false
	for _, p := range set.plan.Policies {
		dir := compiler.PolicyDir(p.Names.Policy)
		if tfRunsOnSSM(set, p.Names.Policy) {
			ssm = ssm || tfRunsLinuxScript(set, p.Names.Policy)
			want[tfName(p.Names.Logical+"Runbook")] = dir + "automation-runbook.json"
		} else if _, ok := set.files[dir+"dlm-hooks-document.json"]; ok {
			want[tfName(p.Names.Logical+"HooksDocument")] = dir + "dlm-hooks-document.json"
		}
		if _, ok := set.files[dir+compiler.DrillRunbookPath]; ok {
			want[tfName(p.Names.Logical+"DrillRunbook")] = dir + compiler.DrillRunbookPath
		}
		if _, ok := set.files[dir+compiler.DrillCheckPath]; ok {
			want[tfName(p.Names.Logical+"DrillCheckDocument")] = dir + compiler.DrillCheckPath
		}
	}
	shared := compiler.LinuxSnapshotDir + "command-document.json"
	var sharedFiles []string
	for _, f := range slices.Sorted(maps.Keys(set.files)) {
		if strings.HasPrefix(f, compiler.LinuxSnapshotDir) {
			sharedFiles = append(sharedFiles, f)
		}
	}
	switch _, ok := set.files[shared]; {
	case ssm && !ok:
		problems = append(problems, fmt.Sprintf("%s was not emitted, but a runbook of the set runs it", shared))
	case !ssm && len(sharedFiles) > 0:
		problems = append(problems, fmt.Sprintf("%v emitted, but no runbook of the set runs it", sharedFiles))
	}
	if ssm {
		want[tfName(compiler.LinuxSnapshotLogicalID)] = shared
	}
	if _, ok := set.files[compiler.WindowsHooksDir+"command-document.json"]; ok {
		want[tfName(compiler.WindowsHooksLogicalID)] = compiler.WindowsHooksDir + "command-document.json"
	}
	if _, ok := set.files[compiler.WindowsDiskshadowDir+"command-document.json"]; ok {
		want[tfName(compiler.WindowsDiskshadowLogicalID)] = compiler.WindowsDiskshadowDir + "command-document.json"
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
		if !tfRunsOnSSM(set, n.Policy) {
			// A backup or dlm policy has the service's role, reviewed as
			// service-trust.json and, for dlm, its inline policy
			// service-policy.json. Its name is not exported; its Terraform
			// name is its logical id's. The instance role it may add holds
			// only AWS managed policies, which parity checks.
			name := tfName(n.Logical + "ServiceRole")
			role := asMap(tfLookup(cfg, "resource", "aws_iam_role", name))
			if role == nil {
				problems = append(problems, fmt.Sprintf("%siam/service-trust.json has no aws_iam_role.%s", compiler.PolicyDir(n.Policy), name))
				continue
			}
			trust, _ := role["assume_role_policy"].(string)
			compare(dir+"service-trust.json", "aws_iam_role."+name+".assume_role_policy", trust)
			inline, hasInline := inlineByRole["${aws_iam_role."+name+".name}"]
			_, hasFile := set.files[dir+"service-policy.json"]
			switch {
			case hasFile && hasInline:
				pol, _ := inline["policy"].(string)
				compare(dir+"service-policy.json", "the aws_iam_role_policy of aws_iam_role."+name, pol)
			case hasFile:
				problems = append(problems, fmt.Sprintf("no aws_iam_role_policy belongs to aws_iam_role.%s", name))
			case hasInline:
				problems = append(problems, fmt.Sprintf("aws_iam_role.%s has an aws_iam_role_policy, but %sservice-policy.json was not emitted", name, dir))
			}
			if _, ok := set.files[compiler.PolicyDir(n.Policy)+compiler.DrillTrustPath]; ok {
				problems = append(problems, fmt.Sprintf("policy %s runs on engine %s and has a drill role, which this test does not check", n.Policy, p.Engine.Engine))
			}
			continue
		}
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
// and the attribute that holds what Ref returns (for the backup and dlm
// types: the vault's name, the plan's id, the selection's id, the lifecycle
// policy's id). A lifecycle policy deployed as a stack is cfnStacked.
var cfnTerraformTypes = map[string]struct{ tfType, refAttr string }{
	"AWS::SSM::Document":                {"aws_ssm_document", "name"},
	"AWS::IAM::ManagedPolicy":           {"aws_iam_policy", "arn"},
	"AWS::IAM::Role":                    {"aws_iam_role", "name"},
	"AWS::IAM::InstanceProfile":         {"aws_iam_instance_profile", "name"},
	"AWS::SSM::MaintenanceWindow":       {"aws_ssm_maintenance_window", "id"},
	"AWS::SSM::MaintenanceWindowTarget": {"aws_ssm_maintenance_window_target", "id"},
	"AWS::SSM::MaintenanceWindowTask":   {"aws_ssm_maintenance_window_task", "id"},
	"AWS::Rbin::Rule":                   {"aws_rbin_rule", "arn"},
	"AWS::Backup::BackupVault":          {"aws_backup_vault", "name"},
	"AWS::Backup::BackupPlan":           {"aws_backup_plan", "id"},
	"AWS::Backup::BackupSelection":      {"aws_backup_selection", "id"},
	"AWS::DLM::LifecyclePolicy":         {"aws_dlm_lifecycle_policy", "id"},
}

// tfJSONArgs hold JSON documents as strings; parity compares them decoded.
var tfJSONArgs = []string{"content", "policy", "assume_role_policy"}

// tfStackPolicyOutput is the output of a stack's template_body that stands
// for what Ref returns on the lifecycle policy the stack holds.
const tfStackPolicyOutput = "PolicyId"

// cfnStackName is what CloudFormation takes as a stack name.
var cfnStackName = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9]{0,127}$`)

// cfnStacked reports whether a template resource is a lifecycle policy that
// hashicorp/aws 5.100 cannot express: aws_dlm_lifecycle_policy has no
// create_rule.scripts (pre/post scripts) and no archive_rule (tfArguments;
// TestTerraformValidate compares it with the provider's schema). Terraform
// deploys such a policy as an aws_cloudformation_stack holding the same
// resource.
func cfnStacked(r map[string]any) bool {
	if r["Type"] != "AWS::DLM::LifecyclePolicy" {
		return false
	}
	schedules, _ := tfLookup(r, "Properties", "PolicyDetails", "Schedules").([]any)
	for _, s := range schedules {
		if scripts, _ := tfLookup(s, "CreateRule", "Scripts").([]any); len(scripts) > 0 {
			return true
		}
		if _, ok := asMap(s)["ArchiveRule"]; ok {
			return true
		}
	}
	return false
}

// cfnAddress is the Terraform address of a template resource and the
// reference that stands for its Ref; ok is false for an id that is no
// resource of a type known here.
func cfnAddress(id string, resources map[string]any) (address, refValue string, ok bool) {
	r, ok := resources[id].(map[string]any)
	if !ok {
		return "", "", false
	}
	if cfnStacked(r) {
		address = "aws_cloudformation_stack." + tfName(id)
		return address, address + `.outputs["` + tfStackPolicyOutput + `"]`, true
	}
	typ, _ := r["Type"].(string)
	to, ok := cfnTerraformTypes[typ]
	if !ok {
		return "", "", false
	}
	address = to.tfType + "." + tfName(id)
	return address, address + "." + to.refAttr, true
}

// cfnField maps one property of a template object to one argument of the
// Terraform block that stands for it; conv, when set, converts the value.
type cfnField struct {
	cfn, tf string
	conv    func(any) any
}

// cfnBlock maps a template object to a Terraform block body and reports
// every property the fields do not map.
func cfnBlock(where string, v any, fields []cfnField, add func(string, ...any)) map[string]any {
	out := map[string]any{}
	m, ok := v.(map[string]any)
	if !ok {
		add("%s: %T, want an object", where, v)
		return out
	}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.cfn] = true
		x, ok := m[f.cfn]
		if !ok {
			continue
		}
		if f.conv != nil {
			x = f.conv(x)
		}
		out[f.tf] = x
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !known[k] {
			add("%s: property %s has no Terraform counterpart known to this test", where, k)
		}
	}
	return out
}

// cfnBlocks converts a template list of objects, or one object, to the
// list of blocks that stands for it.
func cfnBlocks(where string, fields []cfnField, add func(string, ...any)) func(any) any {
	return func(v any) any {
		l, ok := v.([]any)
		if !ok {
			l = []any{v}
		}
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = cfnBlock(fmt.Sprintf("%s[%d]", where, i), x, fields, add)
		}
		return out
	}
}

// tfBlocksAsLists writes every nested block of a body as a list of
// objects: Terraform's JSON syntax reads one object and a list holding it
// alike, so parity does not tell them apart.
func tfBlocksAsLists(args map[string]tfArg, body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		a, ok := args[k]
		if !ok || a.kind != tfBlock {
			out[k] = v
			continue
		}
		items, ok := v.([]any)
		if m, isObject := v.(map[string]any); isObject {
			items, ok = []any{m}, true
		}
		if !ok {
			out[k] = v
			continue
		}
		list := make([]any, len(items))
		for i, it := range items {
			if m, ok := it.(map[string]any); ok {
				list[i] = tfBlocksAsLists(a.nested, m)
			} else {
				list[i] = it
			}
		}
		out[k] = list
	}
	return out
}

// tfResourceArgs are the arguments of a resource type with the lifecycle
// meta-argument, for tfBlocksAsLists.
func tfResourceArgs(typ string) map[string]tfArg {
	args := maps.Clone(tfArguments[typ].args)
	if args == nil {
		args = map[string]tfArg{}
	}
	args["lifecycle"] = tfLifecycleMeta
	return args
}

// tfCheckParity derives, from each template resource and output, the
// Terraform resource that must stand for it, and compares.
func tfCheckParity(cfg map[string]any, tmpl map[string]any) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	resources := asMap(tmpl["Resources"])
	cfnEval := func(v any) any { return cfnEvalValue(v, resources, add) }

	expected := map[string]map[string]any{} // "type.name" → body
	extras := map[string][]any{}            // type → bodies, matched as a multiset
	type stacked struct {
		id    string
		props map[string]any
	}
	stacks := map[string]stacked{} // "aws_cloudformation_stack.name" → the lifecycle policy it holds
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		r := asMap(resources[id])
		typ, _ := r["Type"].(string)
		to, ok := cfnTerraformTypes[typ]
		if !ok {
			add("template resource %s: type %s has no Terraform counterpart known to this test", id, typ)
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(r)) {
			if !slices.Contains([]string{"Type", "Properties", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy"}, k) {
				add("template resource %s: attribute %s has no Terraform counterpart known to this test", id, k)
			}
		}
		props := asMap(cfnEval(r["Properties"]))
		name := tfName(id)
		where := "template resource " + id
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
		// setBlock maps a property whose object stands for arguments of the
		// resource itself (BackupPlan, BackupSelection).
		setBlock := func(cfnProp string, fields []cfnField) {
			v, ok := props[cfnProp]
			if !ok {
				return
			}
			delete(props, cfnProp)
			maps.Copy(body, cfnBlock(where+"."+cfnProp, v, fields, add))
		}
		if deps, ok := r["DependsOn"].([]any); ok {
			var refs []any
			for _, d := range deps {
				a, _, ok := cfnAddress(fmt.Sprint(d), resources)
				if !ok {
					add("%s: DependsOn %v is no resource known to this test", where, d)
				}
				refs = append(refs, a)
			}
			body["depends_on"] = refs
		}
		// DeletionPolicy and UpdateReplacePolicy Retain keep a resource
		// (the backup vault, whose recovery points must outlive the stack
		// and a replacement of the vault) when CloudFormation would delete
		// it. Terraform has no such policy: terraform destroy, or a change
		// that forces a new vault (its name, its key), deletes the vault,
		// and before it its lock configuration, which AWS allows in
		// governance mode and during the changeable period, so that only
		// AWS's refusal to delete a vault still holding recovery points
		// would remain. What Terraform has is lifecycle { prevent_destroy =
		// true }: it rejects every plan that would destroy the resource, and
		// whoever means to let go of it removes it from the state (terraform
		// state rm, or a removed block with destroy = false), which leaves
		// it in place as Retain does. So the test requires it, on the
		// resource and on the vault's lock configuration, which the
		// template retains as part of the vault.
		var retain map[string]any
		switch dp, up := r["DeletionPolicy"], r["UpdateReplacePolicy"]; {
		case dp == nil && up == nil:
		case dp == "Retain" && up == "Retain":
			retain = map[string]any{"prevent_destroy": true}
			body["lifecycle"] = retain
		default:
			add("%s: DeletionPolicy %v with UpdateReplacePolicy %v has no Terraform counterpart known to this test", where, dp, up)
		}
		if cfnStacked(r) {
			// The stack's arguments are compared with the resource by
			// tfCheckStack; body holds the meta-arguments.
			key := "aws_cloudformation_stack." + name
			stacks[key] = stacked{id: id, props: props}
			expected[key] = body
			continue
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
		case "AWS::Backup::BackupVault":
			set("name", "BackupVaultName", nil)
			set("kms_key_arn", "EncryptionKeyArn", nil)
			set("tags", "BackupVaultTags", nil)
			if lock, ok := props["LockConfiguration"]; ok {
				delete(props, "LockConfiguration")
				// The lock is a resource of its own in Terraform, named
				// after the vault; it refers to the vault so that Terraform
				// locks the vault once it exists.
				lb := cfnBlock(where+".LockConfiguration", lock, []cfnField{
					{"MinRetentionDays", "min_retention_days", nil},
					{"MaxRetentionDays", "max_retention_days", nil},
					{"ChangeableForDays", "changeable_for_days", nil},
				}, add)
				lb["backup_vault_name"] = "ref(aws_backup_vault." + name + ".name)"
				if retain != nil {
					lb["lifecycle"] = retain
				}
				expected["aws_backup_vault_lock_configuration."+name] = lb
			}
		case "AWS::Backup::BackupPlan":
			lifecycle := []cfnField{
				{"DeleteAfterDays", "delete_after", nil},
				{"MoveToColdStorageAfterDays", "cold_storage_after", nil},
				{"OptInToArchiveForSupportedResources", "opt_in_to_archive_for_supported_resources", nil},
			}
			rules := where + ".BackupPlan.BackupPlanRule"
			setBlock("BackupPlan", []cfnField{
				{"BackupPlanName", "name", nil},
				{"BackupPlanRule", "rule", cfnBlocks(rules, []cfnField{
					{"RuleName", "rule_name", nil},
					{"TargetBackupVault", "target_vault_name", nil},
					{"ScheduleExpression", "schedule", nil},
					{"ScheduleExpressionTimezone", "schedule_expression_timezone", nil},
					{"StartWindowMinutes", "start_window", nil},
					{"CompletionWindowMinutes", "completion_window", nil},
					{"Lifecycle", "lifecycle", cfnBlocks(rules+".Lifecycle", lifecycle, add)},
					{"RecoveryPointTags", "recovery_point_tags", nil},
					{"CopyActions", "copy_action", cfnBlocks(rules+".CopyActions", []cfnField{
						{"DestinationBackupVaultArn", "destination_vault_arn", nil},
						{"Lifecycle", "lifecycle", cfnBlocks(rules+".CopyActions.Lifecycle", lifecycle, add)},
					}, add)},
				}, add)},
				{"AdvancedBackupSettings", "advanced_backup_setting", cfnBlocks(where+".BackupPlan.AdvancedBackupSettings", []cfnField{
					{"BackupOptions", "backup_options", nil},
					{"ResourceType", "resource_type", nil},
				}, add)},
			})
			set("tags", "BackupPlanTags", nil)
		case "AWS::Backup::BackupSelection":
			set("plan_id", "BackupPlanId", nil)
			// The conditions of a selection, like the string_equals blocks
			// of one condition block, must all hold.
			setBlock("BackupSelection", []cfnField{
				{"SelectionName", "name", nil},
				{"IamRoleArn", "iam_role_arn", nil},
				{"Resources", "resources", nil},
				{"Conditions", "condition", cfnBlocks(where+".BackupSelection.Conditions", []cfnField{
					{"StringEquals", "string_equals", cfnBlocks(where+".BackupSelection.Conditions.StringEquals", []cfnField{
						{"ConditionKey", "key", nil},
						{"ConditionValue", "value", nil},
					}, add)},
				}, add)},
			})
		case "AWS::DLM::LifecyclePolicy":
			details := where + ".PolicyDetails"
			schedules := details + ".Schedules"
			retainRule := []cfnField{{"Count", "count", nil}, {"Interval", "interval", nil}, {"IntervalUnit", "interval_unit", nil}}
			set("description", "Description", nil)
			set("state", "State", nil)
			set("execution_role_arn", "ExecutionRoleArn", nil)
			set("tags", "Tags", cfnTagMap)
			set("policy_details", "PolicyDetails", cfnBlocks(details, []cfnField{
				{"PolicyType", "policy_type", nil},
				{"ResourceTypes", "resource_types", nil},
				{"TargetTags", "target_tags", cfnTagMap},
				{"Parameters", "parameters", cfnBlocks(details+".Parameters", []cfnField{
					{"ExcludeBootVolume", "exclude_boot_volume", nil},
					{"NoReboot", "no_reboot", nil},
				}, add)},
				{"Schedules", "schedule", cfnBlocks(schedules, []cfnField{
					{"Name", "name", nil},
					{"CopyTags", "copy_tags", nil},
					{"TagsToAdd", "tags_to_add", cfnTagMap},
					{"VariableTags", "variable_tags", cfnTagMap},
					{"CreateRule", "create_rule", cfnBlocks(schedules+".CreateRule", []cfnField{
						{"CronExpression", "cron_expression", nil},
						{"Interval", "interval", nil},
						{"IntervalUnit", "interval_unit", nil},
					}, add)},
					{"RetainRule", "retain_rule", cfnBlocks(schedules+".RetainRule", retainRule, add)},
					{"CrossRegionCopyRules", "cross_region_copy_rule", cfnBlocks(schedules+".CrossRegionCopyRules", []cfnField{
						{"TargetRegion", "target", nil},
						{"Encrypted", "encrypted", nil},
						{"CmkArn", "cmk_arn", nil},
						{"CopyTags", "copy_tags", nil},
						{"RetainRule", "retain_rule", cfnBlocks(schedules+".CrossRegionCopyRules.RetainRule", retainRule, add)},
					}, add)},
					{"ShareRules", "share_rule", cfnBlocks(schedules+".ShareRules", []cfnField{
						{"TargetAccounts", "target_accounts", nil},
					}, add)},
					{"FastRestoreRule", "fast_restore_rule", cfnBlocks(schedules+".FastRestoreRule", []cfnField{
						{"AvailabilityZones", "availability_zones", nil},
						{"Count", "count", nil},
					}, add)},
				}, add)},
			}, add))
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
			actual[typ+"."+name] = tfBlocksAsLists(tfResourceArgs(typ), tfDecodeJSONArgs(asMap(v), add, typ+"."+name))
		}
	}
	stackNames := map[string]string{} // stack name → Terraform address
	for _, key := range slices.Sorted(maps.Keys(expected)) {
		got, ok := actual[key]
		if !ok {
			add("%s: the template declares it, the configuration does not", key)
			continue
		}
		delete(actual, key)
		typ, name, _ := strings.Cut(key, ".")
		want := tfBlocksAsLists(tfResourceArgs(typ), expected[key])
		if s, ok := stacks[key]; ok {
			meta := map[string]any{}
			for _, k := range []string{"depends_on", "lifecycle"} {
				if v, ok := got[k]; ok {
					meta[k] = v
				}
			}
			if d := cmp.Diff(want, meta); d != "" {
				add("%s differs from its template resource (-template +terraform):\n%s", key, d)
			}
			raw := asMap(tfLookup(cfg, "resource", typ, name))
			tfCheckStack(key, s.id, raw, got, s.props, add)
			if n, ok := got["name"].(string); ok {
				if other, dup := stackNames[n]; dup {
					add("%s and %s are both named stack %s", other, key, n)
				}
				stackNames[n] = key
			}
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
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

// tfCheckStack compares the aws_cloudformation_stack key, which deploys
// template resource id (a lifecycle policy, cfnStacked), with the
// resource's properties props (evaluated by cfnEvalValue). raw is the
// stack's body as written, got as evaluated by tfEvalValue. The stack must
// hold that one resource with the same properties once the parameters of
// its template are replaced by the values the stack passes, its output
// tfStackPolicyOutput must be what Ref returns on it, and its tags, which
// CloudFormation puts on the stack's resources too, the resource's own.
func tfCheckStack(key, id string, raw, got, props map[string]any, add func(string, ...any)) {
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if !slices.Contains([]string{"name", "parameters", "tags", "template_body", "depends_on", "lifecycle"}, k) {
			add("%s: argument %s has no counterpart in template resource %s", key, k, id)
		}
	}
	if n, _ := got["name"].(string); !cfnStackName.MatchString(n) {
		add("%s: name %v is not a CloudFormation stack name", key, got["name"])
	}
	var wantTags any
	if t, ok := props["Tags"]; ok {
		wantTags = cfnTagMap(t)
	}
	if d := cmp.Diff(wantTags, got["tags"]); d != "" {
		add("%s: tags differ from the tags of template resource %s (-template +terraform):\n%s", key, id, d)
	}
	inner, err := tfStackTemplate(raw)
	if err != nil {
		add("%s: %v", key, err)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(inner)) {
		if !slices.Contains([]string{"AWSTemplateFormatVersion", "Description", "Parameters", "Resources", "Outputs"}, k) {
			add("%s: template_body holds %s, which this test does not check", key, k)
		}
	}
	if v, ok := inner["AWSTemplateFormatVersion"]; ok && v != "2010-09-09" {
		add("%s: template_body has AWSTemplateFormatVersion %v", key, v)
	}
	innerResources := asMap(inner["Resources"])
	if len(innerResources) != 1 {
		add("%s: template_body declares %d resources, want the lifecycle policy alone", key, len(innerResources))
		return
	}
	innerID := slices.Collect(maps.Keys(innerResources))[0]
	r := asMap(innerResources[innerID])
	for _, k := range slices.Sorted(maps.Keys(r)) {
		if k != "Type" && k != "Properties" {
			add("%s: resource %s of template_body has %s, which template resource %s has not", key, innerID, k, id)
		}
	}
	if r["Type"] != "AWS::DLM::LifecyclePolicy" {
		add("%s: resource %s of template_body is a %v, want AWS::DLM::LifecyclePolicy", key, innerID, r["Type"])
	}
	declared := asMap(inner["Parameters"])
	passed := asMap(got["parameters"])
	for _, p := range slices.Sorted(maps.Keys(declared)) {
		// A String without a default: the stack takes the value passed.
		if d := cmp.Diff(map[string]any{"Type": "String"}, declared[p]); d != "" {
			add("%s: parameter %s of template_body is not a plain String (-want +got):\n%s", key, p, d)
		}
		if _, ok := passed[p]; !ok {
			add("%s: passes no value for parameter %s of its template_body", key, p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(passed)) {
		if _, ok := declared[p]; !ok {
			add("%s: passes parameter %s, which its template_body does not declare", key, p)
		}
	}
	gotProps := cfnEvalValue(cfnSubstituteParameters(r["Properties"], declared, passed), innerResources, add)
	if d := cmp.Diff(any(props), gotProps); d != "" {
		add("%s: the lifecycle policy of its template_body, parameters substituted, differs from template resource %s (-template +terraform):\n%s", key, id, d)
	}
	want := map[string]any{"Value": map[string]any{"Ref": innerID}}
	if d := cmp.Diff(want, tfLookup(inner, "Outputs", tfStackPolicyOutput)); d != "" {
		add("%s: output %s of its template_body is not the Ref of its lifecycle policy (-want +got):\n%s", key, tfStackPolicyOutput, d)
	}
}

// cfnSubstituteParameters replaces each Ref to a declared parameter of a
// template with the value passed for it.
func cfnSubstituteParameters(v any, declared, passed map[string]any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cfnSubstituteParameters(x, declared, passed)
		}
		return out
	case map[string]any:
		if p, ok := t["Ref"].(string); ok && len(t) == 1 {
			if _, ok := declared[p]; ok {
				return passed[p]
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = cfnSubstituteParameters(x, declared, passed)
		}
		return out
	}
	return v
}

// cfnEvalValue resolves intrinsic functions: Ref and Fn::GetAtt to the
// reference their Terraform counterpart writes, pseudo parameters and
// Fn::Sub with cfnSamples.
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
				if s, ok := cfnSamples["${"+id+"}"]; ok {
					return s
				}
				_, ref, ok := cfnAddress(id, resources)
				if !ok {
					add("Ref %s: no resource of a type known to this test", id)
					return v
				}
				return "ref(" + ref + ")"
			}
			if ga, ok := t["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				if ga[1] != "Arn" {
					add("Fn::GetAtt %v: only Arn is mapped", ga)
				}
				id := fmt.Sprint(ga[0])
				address, _, ok := cfnAddress(id, resources)
				if !ok || cfnStacked(asMap(resources[id])) {
					add("Fn::GetAtt %v: no resource whose Terraform counterpart exports arn", ga)
					return v
				}
				return "ref(" + address + ".arn)"
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
			tfNegativeControl(t, tfDecode(t, set), c.check, c.want, c.mutate)
		})
	}
}

// tfNegativeControl runs check on cfg, which must pass, then on cfg
// mutated, which must report want.
func tfNegativeControl(t *testing.T, cfg map[string]any, check func(map[string]any) []string, want string, mutate func(map[string]any)) {
	t.Helper()
	if got := check(cfg); len(got) != 0 {
		t.Fatalf("the intact configuration already fails: %v", got)
	}
	mutate(cfg)
	got := check(cfg)
	for _, p := range got {
		if strings.Contains(p, want) {
			t.Logf("reported: %s", tfExcerptLines(p))
			return
		}
	}
	t.Errorf("the check did not report %q; it reported %v", want, got)
}

// tfSetNamed is the compiled set of that name.
func tfSetNamed(t *testing.T, sets []tfSet, name string) tfSet {
	t.Helper()
	for _, s := range sets {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no compiled set is named %s", name)
	return tfSet{}
}

// TestTerraformEngineNegativeControls breaks, on purpose, the counterparts
// of the backup and dlm engines' resources in copies of the sets that have
// them, and expects each check to say so. Where a check reads the emitted
// tree (documents), the copy's files may be broken too.
func TestTerraformEngineNegativeControls(t *testing.T) {
	sets := tfCompiledSets(t)
	const (
		vaultSet   = "golden/engine-backup-vault"
		mixedSet   = "golden/engine-three-ways"
		hooksSet   = "golden/engine-dlm-mysql"
		archiveSet = "golden/engine-dlm-archive-vss"
		dlmSet     = "terraform/dlm"
	)
	type checkFunc func(cfg map[string]any, set tfSet, tmpl map[string]any) []string
	var (
		structure  checkFunc = func(cfg map[string]any, _ tfSet, _ map[string]any) []string { return tfCheckStructure(cfg) }
		references checkFunc = func(cfg map[string]any, _ tfSet, _ map[string]any) []string { return tfCheckReferences(cfg) }
		documents  checkFunc = func(cfg map[string]any, set tfSet, _ map[string]any) []string { return tfCheckDocuments(cfg, set) }
		iam        checkFunc = func(cfg map[string]any, set tfSet, _ map[string]any) []string { return tfCheckIAM(cfg, set) }
		parity     checkFunc = func(cfg map[string]any, _ tfSet, tmpl map[string]any) []string { return tfCheckParity(cfg, tmpl) }
	)
	res := func(cfg map[string]any, keys ...string) map[string]any {
		body := asMap(tfLookup(cfg, append([]string{"resource"}, keys...)...))
		if body == nil {
			t.Fatalf("resource %s is not declared", strings.Join(keys, "."))
		}
		return body
	}
	block := func(v any, keys ...string) map[string]any { // first item of nested blocks
		for _, k := range keys {
			l, _ := asMap(v)[k].([]any)
			if len(l) == 0 {
				t.Fatalf("no block %s", k)
			}
			v = l[0]
		}
		return asMap(v)
	}
	const (
		vault     = "app_servers_backup_vault"
		plan      = "app_servers_backup_plan"
		selection = "app_servers_backup_selection"
		hooks     = "mysql_dlm_lifecycle_policy"
		archive   = "sql_monthly_lifecycle_policy"
		dlm       = "web_dlm_lifecycle_policy"
	)
	for _, c := range []struct {
		name, set string
		check     checkFunc
		want      string
		mutate    func(cfg map[string]any, files compiler.Files)
	}{
		// Structure.
		{"backup rule without its vault", vaultSet, structure, "required argument target_vault_name is missing",
			func(cfg map[string]any, _ compiler.Files) {
				delete(block(res(cfg, "aws_backup_plan", plan), "rule"), "target_vault_name")
			}},
		{"dlm pre-script the provider has no block for", dlmSet, structure, "argument scripts is not one the provider knows",
			func(cfg map[string]any, _ compiler.Files) {
				block(res(cfg, "aws_dlm_lifecycle_policy", dlm), "policy_details", "schedule", "create_rule")["scripts"] = []any{map[string]any{"execution_handler": "AWS_VSS_BACKUP"}}
			}},
		{"dlm archive the provider has no block for", dlmSet, structure, "argument archive_rule is not one the provider knows",
			func(cfg map[string]any, _ compiler.Files) {
				block(res(cfg, "aws_dlm_lifecycle_policy", dlm), "policy_details", "schedule")["archive_rule"] = []any{map[string]any{}}
			}},
		{"lifecycle meta-argument mistyped", dlmSet, structure, "prevent_destroy: string, want true or false",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_dlm_lifecycle_policy", dlm)["lifecycle"] = map[string]any{"prevent_destroy": "true"}
			}},
		// References.
		{"stack output its template does not declare", hooksSet, references, "has no output Nope",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(tfLookup(cfg, "output", hooks))["value"] = `${aws_cloudformation_stack.` + hooks + `.outputs["Nope"]}`
			}},
		{"stack outputs read whole", hooksSet, references, "is the map of all the stack's outputs",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(tfLookup(cfg, "output", hooks))["value"] = "${aws_cloudformation_stack." + hooks + ".outputs}"
			}},
		{"key read from another attribute", vaultSet, references, "only the outputs of an aws_cloudformation_stack are read by key",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(tfLookup(cfg, "output", vault))["value"] = `${aws_backup_vault.` + vault + `.tags["Team"]}`
			}},
		{"stack output of an undeclared stack", hooksSet, references, "which the file does not declare",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(tfLookup(cfg, "output", hooks))["value"] = `${aws_cloudformation_stack.nope.outputs["PolicyId"]}`
			}},
		// Documents.
		{"shared document without a policy on ssm", hooksSet, documents, "no runbook of the set runs it",
			func(_ map[string]any, files compiler.Files) {
				files[compiler.LinuxSnapshotDir+"command-document.json"] = []byte("{}")
			}},
		{"shared document missing with a policy on ssm", "examples", documents, "was not emitted, but a runbook of the set runs it",
			func(_ map[string]any, files compiler.Files) {
				delete(files, compiler.LinuxSnapshotDir+"command-document.json")
			}},
		{"shared document declared without a policy on ssm", hooksSet, documents, "aws_ssm_document.linux_snapshot_document is no document of the tree",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(tfLookup(cfg, "resource", "aws_ssm_document"))["linux_snapshot_document"] = map[string]any{"content": "{}"}
			}},
		{"hooks document changed", hooksSet, documents, "differs from",
			func(cfg map[string]any, _ compiler.Files) {
				d := res(cfg, "aws_ssm_document", "mysql_dlm_hooks_document")
				d["content"] = strings.Replace(d["content"].(string), "PRE", "POST", 1)
			}},
		// IAM.
		{"service trust changed", hooksSet, iam, "differs from",
			func(cfg map[string]any, _ compiler.Files) {
				r := res(cfg, "aws_iam_role", "mysql_dlm_service_role")
				r["assume_role_policy"] = strings.Replace(r["assume_role_policy"].(string), "dlm.amazonaws.com", "backup.amazonaws.com", 1)
			}},
		{"service policy dropped", hooksSet, iam, "no aws_iam_role_policy belongs to aws_iam_role.mysql_dlm_service_role",
			func(cfg map[string]any, _ compiler.Files) {
				delete(asMap(tfLookup(cfg, "resource")), "aws_iam_role_policy")
			}},
		// Parity: AWS Backup.
		{"vault key changed", vaultSet, parity, "aws_backup_vault." + vault + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_backup_vault", vault)["kms_key_arn"] = "arn:aws:kms:eu-central-1:444455556666:key/other"
			}},
		{"vault no longer kept", vaultSet, parity, "aws_backup_vault." + vault + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) { delete(res(cfg, "aws_backup_vault", vault), "lifecycle") }},
		{"vault lock missing", vaultSet, parity, "aws_backup_vault_lock_configuration." + vault + ": the template declares it",
			func(cfg map[string]any, _ compiler.Files) {
				delete(asMap(tfLookup(cfg, "resource")), "aws_backup_vault_lock_configuration")
			}},
		{"vault lock weakened", vaultSet, parity, "aws_backup_vault_lock_configuration." + vault + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_backup_vault_lock_configuration", vault)["min_retention_days"] = 1
			}},
		{"vault lock on a vault by name only", vaultSet, parity, "aws_backup_vault_lock_configuration." + vault + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_backup_vault_lock_configuration", vault)["backup_vault_name"] = "app-servers-prod"
			}},
		{"copy kept shorter", vaultSet, parity, "aws_backup_plan." + plan + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				block(res(cfg, "aws_backup_plan", plan), "rule", "copy_action", "lifecycle")["delete_after"] = 1
			}},
		{"VSS setting dropped", mixedSet, parity, "aws_backup_plan.files_backup_backup_plan differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				delete(res(cfg, "aws_backup_plan", "files_backup_backup_plan"), "advanced_backup_setting")
			}},
		{"selection condition changed", vaultSet, parity, "aws_backup_selection." + selection + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				block(res(cfg, "aws_backup_selection", selection), "condition", "string_equals")["value"] = "development"
			}},
		{"selection missing", vaultSet, parity, "aws_backup_selection." + selection + "2: the template declares it",
			func(cfg map[string]any, _ compiler.Files) {
				delete(res(cfg, "aws_backup_selection"), selection+"2")
			}},
		// Parity: Data Lifecycle Manager.
		{"dlm retention changed", dlmSet, parity, "aws_dlm_lifecycle_policy." + dlm + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				block(res(cfg, "aws_dlm_lifecycle_policy", dlm), "policy_details", "schedule", "retain_rule")["interval"] = 1
			}},
		{"dlm targets swapped", dlmSet, parity, "aws_dlm_lifecycle_policy." + dlm + " differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				block(res(cfg, "aws_dlm_lifecycle_policy", dlm), "policy_details")["target_tags"] = map[string]any{"Tier": "web-b"}
			}},
		{"dlm share dropped", dlmSet, parity, "aws_dlm_lifecycle_policy." + dlm + "2 differs from its template resource",
			func(cfg map[string]any, _ compiler.Files) {
				delete(block(res(cfg, "aws_dlm_lifecycle_policy", dlm+"2"), "policy_details", "schedule"), "share_rule")
			}},
		// Parity: a lifecycle policy deployed as a stack.
		{"stacked policy's retention changed", hooksSet, parity, "parameters substituted, differs from template resource",
			func(cfg map[string]any, _ compiler.Files) {
				tfMutateStackTemplate(t, cfg, hooks, func(tmpl map[string]any) {
					asMap(tfLookup(tmpl, "Resources", "LifecyclePolicy", "Properties", "PolicyDetails", "Schedules").([]any)[0])["RetainRule"] = map[string]any{"Count": 1}
				})
			}},
		{"stacked policy's archive dropped", archiveSet, parity, "parameters substituted, differs from template resource",
			func(cfg map[string]any, _ compiler.Files) {
				tfMutateStackTemplate(t, cfg, archive, func(tmpl map[string]any) {
					delete(asMap(tfLookup(tmpl, "Resources", "LifecyclePolicy", "Properties", "PolicyDetails", "Schedules").([]any)[0]), "ArchiveRule")
				})
			}},
		{"stack passes another role", hooksSet, parity, "parameters substituted, differs from template resource",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(res(cfg, "aws_cloudformation_stack", hooks)["parameters"])["ExecutionRoleArn"] = "${aws_iam_role.mysql_dlm_instance_role.arn}"
			}},
		{"stack passes another document", hooksSet, parity, "parameters substituted, differs from template resource",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(res(cfg, "aws_cloudformation_stack", hooks)["parameters"])["HooksDocument"] = "AWS-RunShellScript"
			}},
		{"stack template without its parameters", archiveSet, parity, "passes parameter ExecutionRoleArn, which its template_body does not declare",
			func(cfg map[string]any, _ compiler.Files) {
				tfMutateStackTemplate(t, cfg, archive, func(tmpl map[string]any) {
					delete(tmpl, "Parameters")
				})
			}},
		{"stack template without a parameter's value", archiveSet, parity, "passes no value for parameter ExecutionRoleArn",
			func(cfg map[string]any, _ compiler.Files) {
				delete(asMap(res(cfg, "aws_cloudformation_stack", archive)["parameters"]), "ExecutionRoleArn")
			}},
		{"stack template with an interpolation", hooksSet, parity, "template_body: unexpected interpolation",
			func(cfg map[string]any, _ compiler.Files) {
				body := res(cfg, "aws_cloudformation_stack", hooks)
				body["template_body"] = strings.Replace(body["template_body"].(string), `{"Ref":"ExecutionRoleArn"}`, `"${aws_iam_role.mysql_dlm_service_role.arn}"`, 1)
			}},
		{"stack output that is not the policy", hooksSet, parity, "is not the Ref of its lifecycle policy",
			func(cfg map[string]any, _ compiler.Files) {
				tfMutateStackTemplate(t, cfg, hooks, func(tmpl map[string]any) {
					asMap(tfLookup(tmpl, "Outputs", "PolicyId"))["Value"] = map[string]any{"Fn::GetAtt": []any{"LifecyclePolicy", "Arn"}}
				})
			}},
		{"stack holding a second resource", hooksSet, parity, "template_body declares 2 resources",
			func(cfg map[string]any, _ compiler.Files) {
				tfMutateStackTemplate(t, cfg, hooks, func(tmpl map[string]any) {
					asMap(tmpl["Resources"])["Topic"] = map[string]any{"Type": "AWS::SNS::Topic"}
				})
			}},
		{"stack with other tags", hooksSet, parity, "tags differ from the tags of template resource",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_cloudformation_stack", hooks)["tags"] = map[string]any{"Team": "other"}
			}},
		{"stack with an invalid name", hooksSet, parity, "is not a CloudFormation stack name",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_cloudformation_stack", hooks)["name"] = "ssm_backup_policy"
			}},
		{"stacks with one name", hooksSet, parity, "are both named stack",
			func(cfg map[string]any, _ compiler.Files) {
				res(cfg, "aws_cloudformation_stack", hooks+"2")["name"] = res(cfg, "aws_cloudformation_stack", hooks)["name"]
			}},
		{"stacked policy written as aws_dlm_lifecycle_policy", archiveSet, parity, "aws_cloudformation_stack." + archive + ": the template declares it",
			func(cfg map[string]any, _ compiler.Files) {
				resources := asMap(cfg["resource"])
				resources["aws_dlm_lifecycle_policy"] = map[string]any{archive: resources["aws_cloudformation_stack"].(map[string]any)[archive]}
				delete(resources, "aws_cloudformation_stack")
			}},
		{"stacked policy's output read from the stack's id", hooksSet, parity, "output." + hooks + " differs from template output",
			func(cfg map[string]any, _ compiler.Files) {
				asMap(tfLookup(cfg, "output", hooks))["value"] = "${aws_cloudformation_stack." + hooks + ".id}"
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			set := tfSetNamed(t, sets, c.set)
			var tmpl map[string]any
			if err := json.Unmarshal(set.files[compiler.TemplatePath], &tmpl); err != nil {
				t.Fatal(err)
			}
			set.files = maps.Clone(set.files)
			check := func(cfg map[string]any) []string { return c.check(cfg, set, tmpl) }
			tfNegativeControl(t, tfDecode(t, set), check, c.want, func(cfg map[string]any) { c.mutate(cfg, set.files) })
		})
	}
}

// tfMutateStackTemplate changes the template_body of a stack as Terraform
// would hand it to CloudFormation, and writes it back escaped.
func tfMutateStackTemplate(t *testing.T, cfg map[string]any, stack string, mutate func(tmpl map[string]any)) {
	t.Helper()
	body := asMap(tfLookup(cfg, "resource", "aws_cloudformation_stack", stack))
	tmpl, err := tfStackTemplate(body)
	if err != nil {
		t.Fatal(err)
	}
	mutate(tmpl)
	b, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	body["template_body"] = strings.NewReplacer("${", "$${", "%{", "%%{").Replace(string(b))
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
		set     string // "": the examples
		summary string
		mutate  func(cfg map[string]any)
	}{
		"missing-argument": {"", "Missing required argument", func(cfg map[string]any) {
			for _, b := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window_task")) {
				delete(asMap(b), "window_id")
			}
		}},
		"dangling-reference": {"", "Reference to undeclared resource", func(cfg map[string]any) {
			for _, b := range asMap(tfLookup(cfg, "resource", "aws_ssm_maintenance_window_task")) {
				asMap(b)["service_role_arn"] = "${aws_iam_role.nope.arn}"
			}
		}},
		"unescaped-content": {"", "", tfUnescapeContent},
		"backup-rule-without-vault": {"golden/engine-backup-vault", "Missing required argument", func(cfg map[string]any) {
			for _, b := range asMap(tfLookup(cfg, "resource", "aws_backup_plan")) {
				for _, r := range asMap(b)["rule"].([]any) {
					delete(asMap(r), "target_vault_name")
				}
			}
		}},
		// What the stack stands in for: the provider has no scripts block.
		"dlm-scripts": {"terraform/dlm", "Extraneous JSON object property", func(cfg map[string]any) {
			for _, b := range asMap(tfLookup(cfg, "resource", "aws_dlm_lifecycle_policy")) {
				rule := asMap(tfLookup(asMap(b)["policy_details"].([]any)[0], "schedule").([]any)[0])
				asMap(rule["create_rule"].([]any)[0])["scripts"] = []any{map[string]any{"execution_handler": "AWS_VSS_BACKUP"}}
			}
		}},
		"stack-output-of-a-vault": {"golden/engine-three-ways", "Unsupported attribute", func(cfg map[string]any) {
			for _, o := range asMap(cfg["output"]) {
				if strings.Contains(asMap(o)["value"].(string), "aws_cloudformation_stack.") {
					asMap(o)["value"] = "${aws_backup_vault.files_backup_backup_vault.outputs[\"PolicyId\"]}"
				}
			}
		}},
	}
	configs = map[string][]byte{}
	for name, b := range breaks {
		set := sets[0]
		if b.set != "" {
			set = tfSetNamed(t, sets, b.set)
		}
		cfg := tfDecode(t, set)
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
