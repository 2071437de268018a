package compiler_test

// Proves that the CloudFormation template (cloudformation/template.json) is
// what CloudFormation accepts:
//
//  1. cfn-lint 1.51 (the linter AWS publishes; on PATH) reports no error,
//     no warning and no informational finding on any generated template,
//     and does report E3034/E3031 on copies broken on purpose.
//  2. The literal Properties of every resource validate against the
//     resource provider schema AWS publishes for its type, as shipped by
//     cfn-lint v1.51.0 (testdata/reference/cfn/aws-*.json, see SOURCES.md),
//     under Draft 2020-12 (caveat 3). The schemas describe resolved values
//     (caveat 5), so Ref, Fn::GetAtt and Fn::Sub are first replaced by sample
//     values of the right kind (conformance.Resolver): a window id for a
//     window, a UUID for a window target, the document's Name, a role ARN
//     built from the role's own Path and RoleName. No property is skipped.
//     Read-only properties, which validators ignore (caveat 1), are
//     checked separately.
//  3. AWS::SSM::Document Content passes cfn-lint's document-content schema
//     (cfn/cfnlint-ssm-document-content.json), and the template deploys
//     exactly the reviewed files: each Document's Content equals the
//     standalone command document or runbook, and each IAM document equals
//     the standalone iam/*.json file.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// providerSchemaFiles maps each resource type to its provider schema in
// testdata/reference/cfn. A template resource of any other type fails the
// test: it would go unchecked.
var providerSchemaFiles = map[string]string{
	"AWS::SSM::Document":                "aws-ssm-document.json",
	"AWS::SSM::MaintenanceWindow":       "aws-ssm-maintenancewindow.json",
	"AWS::SSM::MaintenanceWindowTarget": "aws-ssm-maintenancewindowtarget.json",
	"AWS::SSM::MaintenanceWindowTask":   "aws-ssm-maintenancewindowtask.json",
	"AWS::IAM::Role":                    "aws-iam-role.json",
	"AWS::IAM::ManagedPolicy":           "aws-iam-managedpolicy.json",
	"AWS::IAM::Policy":                  "aws-iam-policy.json",
	"AWS::IAM::InstanceProfile":         "aws-iam-instanceprofile.json",
	"AWS::DLM::LifecyclePolicy":         "aws-dlm-lifecyclepolicy.json",
	"AWS::Rbin::Rule":                   "aws-rbin-rule.json",
	"AWS::Backup::BackupVault":          "aws-backup-backupvault.json",
	"AWS::Backup::BackupPlan":           "aws-backup-backupplan.json",
	"AWS::Backup::BackupSelection":      "aws-backup-backupselection.json",
}

// confTemplate is the part of a template these tests read.
type confTemplate struct {
	Resources map[string]conformance.TemplateResource `json:"Resources"`
}

func confDecodeTemplate(t *testing.T, set compiledSet) (confTemplate, any) {
	t.Helper()
	raw := confDecode(t, set, compiler.TemplatePath)
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl confTemplate
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&tmpl); err != nil {
		t.Fatalf("%s: %v", compiler.TemplatePath, err)
	}
	if len(tmpl.Resources) == 0 {
		t.Fatalf("%s: %s has no resources", set.Name, compiler.TemplatePath)
	}
	return tmpl, raw
}

// cfnLintFinding is one line of `cfn-lint --format parseable`:
// file:line:col:endline:endcol:rule:message.
type cfnLintFinding struct {
	File, Rule, Message, Line string
}

// runCFNLint lints every template in one cfn-lint run (startup dominates
// its cost) and returns the findings by file. All rule classes are on,
// informational (I) ones included: the templates are generated, so even a
// hint is worth acting on, and none is expected.
func runCFNLint(t *testing.T, files []string) map[string][]cfnLintFinding {
	t.Helper()
	bin := confRequireTool(t, "cfn-lint", "pip install cfn-lint==1.51.0")
	version, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint --version: %v\n%s", err, version)
	}
	t.Logf("%s", strings.TrimSpace(string(version)))
	args := append([]string{"--format", "parseable", "--include-checks", "I", "--regions", "us-east-1", "--"}, files...)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// cfn-lint's exit code is a bit mask of the finding classes (2 error,
	// 4 warning, 8 informational); 1 means it crashed.
	if exit, ok := err.(*exec.ExitError); err != nil && (!ok || exit.ExitCode()&1 != 0) {
		t.Fatalf("cfn-lint failed to run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("cfn-lint stderr:\n%s", stderr.String())
	}
	out := map[string][]cfnLintFinding{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 7)
		if len(parts) != 7 {
			t.Fatalf("cannot parse cfn-lint output line %q", line)
		}
		f := cfnLintFinding{File: parts[0], Line: parts[1], Rule: parts[5], Message: parts[6]}
		out[f.File] = append(out[f.File], f)
	}
	return out
}

// TestConformanceCFNLint lints every template, and broken copies of one.
func TestConformanceCFNLint(t *testing.T) {
	sets := conformanceSets(t)
	dir := t.TempDir()
	var files []string
	bySet := map[string]string{}
	for i, set := range sets {
		p := filepath.Join(dir, fmt.Sprintf("%02d-%s.json", i, strings.ReplaceAll(set.Name, "/", "_")))
		if err := os.WriteFile(p, set.Files[compiler.TemplatePath], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		bySet[p] = set.Name
	}

	// Negative controls, linted in the same run.
	_, raw := confDecodeTemplate(t, sets[0])
	broken := map[string]struct {
		mutate func(t *testing.T, resources map[string]any)
		rule   string
	}{
		"duration-25.json": {func(t *testing.T, rs map[string]any) {
			confFirstOfType(t, rs, "AWS::SSM::MaintenanceWindow")["Duration"] = 25
		}, "E3034"},
		"maxerrors-101.json": {func(t *testing.T, rs map[string]any) {
			confFirstOfType(t, rs, "AWS::SSM::MaintenanceWindowTask")["MaxErrors"] = "101%"
		}, "E3031"},
	}
	for name, b := range broken {
		// Each copy is written under its own name; order does not matter.
		copied := confDeepCopy(t, raw).(map[string]any)
		b.mutate(t, copied["Resources"].(map[string]any))
		p := filepath.Join(dir, name)
		data, err := json.MarshalIndent(copied, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}

	findings := runCFNLint(t, files)
	clean := 0
	for _, p := range files {
		set, ok := bySet[p]
		if !ok {
			continue // a negative control
		}
		for _, f := range findings[p] {
			t.Errorf("%s: cfn-lint %s at line %s: %s", set, f.Rule, f.Line, f.Message)
		}
		if len(findings[p]) == 0 {
			clean++
		}
	}
	var names []string
	for name := range broken {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := broken[name]
		p := filepath.Join(dir, name)
		found := false
		for _, f := range findings[p] {
			if f.Rule == b.rule {
				found = true
				t.Logf("negative control %s: cfn-lint %s: %s", name, f.Rule, f.Message)
			}
		}
		if !found {
			t.Errorf("negative control %s: cfn-lint did not report %s; findings: %v", name, b.rule, findings[p])
		}
	}
	t.Logf("cfn-lint: %d of %d templates without any error, warning or informational finding", clean, len(bySet))
}

func confFirstOfType(t *testing.T, resources map[string]any, typ string) map[string]any {
	t.Helper()
	var ids []string
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := resources[id].(map[string]any)
		if r["Type"] == typ {
			return r["Properties"].(map[string]any)
		}
	}
	t.Fatalf("the template has no %s to break", typ)
	return nil
}

func confDeepCopy(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := conformance.DecodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// providerSchemas compiles the provider schema of every known type.
func providerSchemas(t *testing.T) (map[string]*jsonschema.Schema, map[string][]string) {
	t.Helper()
	schemas := map[string]*jsonschema.Schema{}
	readOnly := map[string][]string{}
	for typ, file := range providerSchemaFiles {
		path := filepath.Join(confReferenceDir, "cfn", file)
		sch, err := conformance.CompileSchemas(jsonschema.Draft2020, true, file,
			conformance.SchemaFile{URI: file, Path: path})
		if err != nil {
			t.Fatalf("compile %s: %v", path, err)
		}
		schemas[typ] = sch
		doc, err := conformance.ReadJSON(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := doc.(map[string]any)["typeName"].(string); got != typ {
			t.Fatalf("%s describes %q, not %s", path, got, typ)
		}
		for _, p := range conformance.StringList(doc.(map[string]any)["readOnlyProperties"]) {
			readOnly[typ] = append(readOnly[typ], strings.TrimPrefix(p, "/properties/"))
		}
	}
	return schemas, readOnly
}

// resourceProblems validates each resource's resolved Properties.
func resourceProblems(t *testing.T, schemas map[string]*jsonschema.Schema, readOnly map[string][]string, tmpl confTemplate) []string {
	t.Helper()
	r := &conformance.Resolver{Resources: tmpl.Resources, Pseudo: conformance.SamplePseudo()}
	var out []string
	for _, id := range confSortedIDs(tmpl) {
		res := tmpl.Resources[id]
		sch, ok := schemas[res.Type]
		if !ok {
			out = append(out, id+": no provider schema vendored for "+res.Type+"; add it to testdata/reference/cfn and providerSchemaFiles")
			continue
		}
		props, err := r.Resolve(map[string]any(res.Properties))
		if err != nil {
			out = append(out, id+": "+err.Error())
			continue
		}
		findings, err := conformance.Validate(sch, props)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			out = append(out, id+" ("+res.Type+"): "+f.String())
		}
		for _, p := range readOnly[res.Type] {
			if _, set := res.Properties[p]; set {
				out = append(out, id+" ("+res.Type+"): sets read-only property "+p)
			}
		}
	}
	return out
}

// TestConformanceCFNResourceSchemas validates every resource of every template.
func TestConformanceCFNResourceSchemas(t *testing.T) {
	schemas, readOnly := providerSchemas(t)
	used := map[string]bool{}
	count := 0
	for _, set := range conformanceSets(t) {
		t.Run(set.Name, func(t *testing.T) {
			tmpl, raw := confDecodeTemplate(t, set)
			for _, fn := range conformance.Intrinsics(raw) {
				used[fn] = true
			}
			for _, p := range resourceProblems(t, schemas, readOnly, tmpl) {
				t.Error(p)
			}
			count += len(tmpl.Resources)
		})
	}
	var fns []string
	for fn := range used {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	t.Logf("checked %d resources against their provider schemas; intrinsics resolved: %v", count, fns)
}

// TestConformanceCFNResourceSchemasNegativeControl proves the provider
// schema check can fail, through resolved intrinsics too.
func TestConformanceCFNResourceSchemasNegativeControl(t *testing.T) {
	schemas, readOnly := providerSchemas(t)
	set := conformanceSets(t)[0]
	cases := []struct {
		name   string
		typ    string
		mutate func(props map[string]any)
		want   string
	}{
		{"Duration 25", "AWS::SSM::MaintenanceWindow", func(p map[string]any) { p["Duration"] = json.Number("25") }, "/Duration"},
		{"Cutoff 24", "AWS::SSM::MaintenanceWindow", func(p map[string]any) { p["Cutoff"] = json.Number("24") }, "/Cutoff"},
		{"MaxErrors 101%", "AWS::SSM::MaintenanceWindowTask", func(p map[string]any) { p["MaxErrors"] = "101%" }, "/MaxErrors"},
		{"Priority -1", "AWS::SSM::MaintenanceWindowTask", func(p map[string]any) { p["Priority"] = json.Number("-1") }, "/Priority"},
		{"unknown property", "AWS::SSM::MaintenanceWindowTarget", func(p map[string]any) { p["Safe"] = true }, "additional properties 'Safe'"},
		{"read-only WindowId", "AWS::SSM::MaintenanceWindow", func(p map[string]any) { p["WindowId"] = "mw-0123456789abcdef0" }, "read-only property WindowId"},
		{"role path without slashes", "AWS::IAM::Role", func(p map[string]any) { p["Path"] = "ssm-backup" }, "/Path"},
		{"Ref resolves to a string the schema checks", "AWS::SSM::MaintenanceWindowTask", func(p map[string]any) {
			p["TaskType"] = map[string]any{"Ref": "AWS::Region"}
		}, "/TaskType"},
		{"unresolvable intrinsic", "AWS::SSM::MaintenanceWindowTask", func(p map[string]any) {
			p["Name"] = map[string]any{"Fn::Join": []any{"-", []any{"a", "b"}}}
		}, "no sample resolution"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, _ := confDecodeTemplate(t, set)
			if before := resourceProblems(t, schemas, readOnly, tmpl); len(before) > 0 {
				t.Fatalf("the unmutated template already fails: %v", before)
			}
			var target string
			for _, id := range confSortedIDs(tmpl) {
				if tmpl.Resources[id].Type == c.typ {
					target = id
					break
				}
			}
			if target == "" {
				t.Fatalf("no %s to mutate", c.typ)
			}
			c.mutate(tmpl.Resources[target].Properties)
			after := resourceProblems(t, schemas, readOnly, tmpl)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}
}

// TestConformanceCFNDeploysReviewedFiles checks Document Content against
// cfn-lint's content schema and proves that the template carries exactly
// the standalone documents and IAM policies a reviewer reads.
func TestConformanceCFNDeploysReviewedFiles(t *testing.T) {
	content, err := conformance.CompileSchemas(jsonschema.Draft2020, true, "ssm-document-content",
		conformance.SchemaFile{URI: "ssm-document-content", Path: filepath.Join(confReferenceDir, "cfn", "cfnlint-ssm-document-content.json")})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range conformanceSets(t) {
		t.Run(set.Name, func(t *testing.T) {
			tmpl, _ := confDecodeTemplate(t, set)
			// Every deployed document and IAM policy, by content.
			var documents, iam []any
			for _, id := range confSortedIDs(tmpl) {
				res := tmpl.Resources[id]
				switch res.Type {
				case "AWS::SSM::Document":
					c := res.Properties["Content"]
					findings, err := conformance.Validate(content, c)
					if err != nil {
						t.Fatal(err)
					}
					for _, f := range findings {
						t.Errorf("%s Content: %s", id, f)
					}
					if res.Properties["DocumentFormat"] != "JSON" {
						t.Errorf("%s: DocumentFormat %v, want JSON (Content is an object)", id, res.Properties["DocumentFormat"])
					}
					documents = append(documents, c)
				case "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy":
					iam = append(iam, confUnSub(res.Properties["PolicyDocument"]))
				case "AWS::IAM::Role":
					iam = append(iam, confUnSub(res.Properties["AssumeRolePolicyDocument"]))
					pols, _ := res.Properties["Policies"].([]any)
					for _, p := range pols {
						iam = append(iam, confUnSub(p.(map[string]any)["PolicyDocument"]))
					}
				}
			}
			for _, path := range set.Files.Paths() {
				var pool []any
				switch {
				case strings.HasSuffix(path, "/command-document.json"), strings.HasSuffix(path, "/automation-runbook.json"), strings.HasSuffix(path, "/dlm-hooks-document.json"):
					pool = documents
				case strings.Contains(path, "/iam/") && strings.HasSuffix(path, ".json"):
					pool = iam
				default:
					continue
				}
				want := confDecode(t, set, path)
				n := 0
				for _, got := range pool {
					if reflect.DeepEqual(got, want) {
						n++
					}
				}
				if n == 0 {
					t.Errorf("%s is not deployed by the template as written: no resource carries the same content", path)
				}
			}
			if want := len(set.PathsWithSuffix("/command-document.json")) + len(set.PathsWithSuffix("/automation-runbook.json")) + len(set.PathsWithSuffix("/dlm-hooks-document.json")); len(documents) != want {
				t.Errorf("the template has %d documents, the tree %d", len(documents), want)
			}
		})
	}
}

func confSortedIDs(tmpl confTemplate) []string {
	var ids []string
	for id := range tmpl.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// confUnSub replaces each {"Fn::Sub": "s"} by "s": the template writes the
// standalone files' placeholders as Fn::Sub.
func confUnSub(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = confUnSub(x)
		}
		return out
	case map[string]any:
		if s, ok := t["Fn::Sub"].(string); ok && len(t) == 1 {
			return s
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = confUnSub(x)
		}
		return out
	}
	return v
}
