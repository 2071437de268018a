package compiler_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
	"github.com/ssm-backup/ssm-backup/policies"
)

// lifecyclePolicy is a policy with every lifecycle feature; each test
// edits it.
const lifecyclePolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: life
spec:
  platform: linux
  targets:
    tags: {Backup: life}
  volumes: data
  consistency: filesystem
  schedule:
    expression: cron(0 2 * * ? *)
  retention: {count: 7}
  copies:
    - {region: us-west-2, kmsKeyId: alias/dr, retention: {maxAge: 30d}}
    - {account: "111122223333"}
  archive: {after: 90d}
  protection: {recycleBinDays: 7}
`

func compileLifecycle(t *testing.T, text string) compiler.Result {
	t.Helper()
	res := compiler.Compile([]policies.File{{Name: "life.yaml", Data: []byte(text)}}, compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		var b strings.Builder
		res.Diagnostics.Print(&b)
		t.Fatalf("does not compile:\n%s", b.String())
	}
	return res
}

func runbookSteps(t *testing.T, files compiler.Files, policy string) []map[string]any {
	t.Helper()
	var doc struct {
		MainSteps []map[string]any `json:"mainSteps"`
	}
	if err := json.Unmarshal(files[compiler.PolicyDir(policy)+"automation-runbook.json"], &doc); err != nil {
		t.Fatal(err)
	}
	return doc.MainSteps
}

// TestLifecycleRunbookSteps checks the order and wiring of the steps after
// the snapshot: copy (not aborting), then one prune step that prunes here
// and in the copy regions and archives, and ends the runbook.
func TestLifecycleRunbookSteps(t *testing.T) {
	res := compileLifecycle(t, lifecyclePolicy)
	steps := runbookSteps(t, res.Files, "life")
	var names []string
	for _, s := range steps {
		names = append(names, s["name"].(string))
	}
	if want := "assertInstanceRunning assertAgentOnline takeSnapshots copySnapshots pruneAndArchiveSnapshots"; strings.Join(names, " ") != want {
		t.Fatalf("steps %v, want %s", names, want)
	}
	cp, prune := steps[3], steps[4]
	if cp["onFailure"] != "Continue" || cp["isCritical"] != true || cp["isEnd"] != nil {
		t.Errorf("copy step: onFailure %v isCritical %v isEnd %v; want Continue, true, not the end", cp["onFailure"], cp["isCritical"], cp["isEnd"])
	}
	if prune["isEnd"] != true || prune["onFailure"] != "Abort" {
		t.Errorf("prune step: isEnd %v onFailure %v", prune["isEnd"], prune["onFailure"])
	}
	payload := func(s map[string]any) map[string]any {
		return s["inputs"].(map[string]any)["InputPayload"].(map[string]any)
	}
	copies := payload(cp)["Copies"].([]any)
	if got := fmt.Sprint(copies); got != "[map[KeepCount:0 KmsKeyId:alias/dr MaxAgeDays:30 MinKeep:1 Region:us-west-2] map[Account:111122223333]]" {
		t.Errorf("copy destinations %s", got)
	}
	pp := payload(prune)
	if pp["ArchiveAfterDays"] != "90" || pp["KeepCount"] != "7" || pp["SourceRegion"] != "{{ global:REGION }}" {
		t.Errorf("prune payload %v", pp)
	}
	if got := fmt.Sprint(pp["Copies"]); got != "[map[KeepCount:0 MaxAgeDays:30 MinKeep:1 Region:us-west-2]]" {
		t.Errorf("prune copies %s (account copies are not pruned here)", got)
	}
	for _, s := range steps[3:] {
		if rt := s["inputs"].(map[string]any)["Runtime"]; rt != "python3.11" {
			t.Errorf("%s runtime %v", s["name"], rt)
		}
	}

	// Archive only: the prune step archives and deletes nothing.
	only := strings.Replace(strings.Replace(lifecyclePolicy, "  retention: {count: 7}\n", "", 1),
		"  copies:\n    - {region: us-west-2, kmsKeyId: alias/dr, retention: {maxAge: 30d}}\n    - {account: \"111122223333\"}\n", "", 1)
	steps = runbookSteps(t, compileLifecycle(t, only).Files, "life")
	last := steps[len(steps)-1]
	if last["name"] != "pruneAndArchiveSnapshots" || payload(last)["KeepCount"] != "0" || payload(last)["MaxAgeDays"] != "0" {
		t.Errorf("archive-only step %v %v", last["name"], payload(last))
	}
	// No retention, no copies, no archive: the snapshot step ends it.
	none := strings.Replace(only, "  archive: {after: 90d}\n", "", 1)
	steps = runbookSteps(t, compileLifecycle(t, none).Files, "life")
	if last := steps[len(steps)-1]; last["name"] != "takeSnapshots" || last["isEnd"] != true {
		t.Errorf("last step %v isEnd %v", last["name"], last["isEnd"])
	}
}

// TestLifecycleRunbookFitsSSMLimit compiles the largest runbook the
// lifecycle makes (five region copies with key ARNs, count retention,
// archive, 40 tags) and keeps it within SSM's 64 KB document limit, as
// the template deploys it (compact JSON).
func TestLifecycleRunbookFitsSSMLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.SplitAfter(lifecyclePolicy, "  retention: {count: 7}\n")[0])
	b.WriteString("  copies:\n")
	for _, r := range []string{"us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} {
		fmt.Fprintf(&b, "    - {region: %s, kmsKeyId: \"arn:aws:kms:%s:111122223333:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\", retention: {count: 1000}}\n", r, r)
	}
	b.WriteString("  archive: {after: 90d}\n  tags:\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "    Tag%02d: %s\n", i, strings.Repeat("v", 24))
	}
	res := compileLifecycle(t, b.String())
	var tmpl struct {
		Resources map[string]struct {
			Properties struct {
				Content json.RawMessage `json:"Content"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(res.Files[compiler.TemplatePath], &tmpl); err != nil {
		t.Fatal(err)
	}
	content := tmpl.Resources["LifeRunbook"].Properties.Content
	if len(content) == 0 {
		t.Fatal("no runbook content in the template")
	}
	const limit = 64 << 10
	if len(content) > limit {
		t.Errorf("the runbook is %d bytes; SSM accepts at most %d", len(content), limit)
	}
	t.Logf("largest lifecycle runbook: %d of %d bytes", len(content), limit)
}

// destinationTemplates returns the copy-destination templates of every
// conformance set, by a name for reports.
func destinationTemplates(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, set := range conformanceSets(t) {
		for _, p := range set.Files.Paths() {
			if strings.Contains(filepath.Base(p), "copy-destination-") {
				out[set.Name+"/"+p] = set.Files[p]
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no copy-destination template was emitted; nothing to check")
	}
	return out
}

// TestLifecycleDestinationTemplatesLint runs cfn-lint on every template an
// account that receives shares deploys, and checks its IAM as the set's
// own IAM is checked (write-once rules included).
func TestLifecycleDestinationTemplatesLint(t *testing.T) {
	templates := destinationTemplates(t)
	dir := t.TempDir()
	var files []string
	names := map[string]string{}
	keys := make([]string, 0, len(templates))
	for k := range templates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		p := filepath.Join(dir, fmt.Sprintf("%02d.json", i))
		if err := os.WriteFile(p, templates[k], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		names[p] = k
	}
	for p, fs := range runCFNLint(t, files) {
		for _, f := range fs {
			t.Errorf("%s: cfn-lint %s at line %s: %s", names[p], f.Rule, f.Line, f.Message)
		}
	}

	identity, trust := iamSchemas(t, jsonschema.Draft2020)
	for _, k := range keys {
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties struct{ PolicyDocument any }
			}
		}
		if err := json.Unmarshal(templates[k], &tmpl); err != nil {
			t.Fatal(err)
		}
		for id, r := range tmpl.Resources {
			if r.Type != "AWS::IAM::ManagedPolicy" {
				continue
			}
			raw, _ := json.Marshal(confUnSub(r.Properties.PolicyDocument))
			raw = []byte(strings.ReplaceAll(string(raw), "${SourceRegion}", "eu-west-1"))
			doc, err := conformance.DecodeJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			// Named as an identity policy of its policy's directory.
			path := strings.SplitN(k, "/", 3)[2]
			path = filepath.Dir(path) + "/iam/copy-destination-policy.json"
			for _, p := range iamProblems(t, identity, trust, path, doc) {
				t.Errorf("%s %s: %s", k, id, p)
			}
		}
	}
}

// TestLifecycleRunbookTooLarge: a runbook SSM would refuse is an error at
// compile time, at the policy's spec, not at deploy time.
func TestLifecycleRunbookTooLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.SplitAfter(lifecyclePolicy, "  retention: {count: 7}\n")[0])
	b.WriteString("  copies:\n")
	for _, r := range []string{"us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} {
		fmt.Fprintf(&b, "    - {region: %s, kmsKeyId: \"arn:aws:kms:%s:111122223333:alias/%s\", retention: {count: 1000}}\n", r, r, strings.Repeat("a", 1000))
	}
	b.WriteString("  archive: {after: 90d}\n  tags:\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "    %s%03d: %s\n", strings.Repeat("k", 125), i, strings.Repeat("v", 256))
	}
	res := compiler.Compile([]policies.File{{Name: "life.yaml", Data: []byte(b.String())}}, compiler.Options{Now: goldenNow})
	var out strings.Builder
	res.Diagnostics.Print(&out)
	if !strings.Contains(out.String(), "life.yaml:6:3: error: the backup runbook would be") || res.Files != nil {
		t.Errorf("want an error at spec, got:\n%s", out.String())
	}
}

// TestLifecycleDrillDocuments checks each restore drill: its check
// document as the snapshot document is checked (2.2 format, hostile
// values refused by every parameter that reaches the script), the link
// from its runbook (document name, parameters, values), and the cleanup
// on every path: each step after the volume exists goes to cleanUp on
// failure and on cancel, and cleanUp ends the runbook.
func TestLifecycleDrillDocuments(t *testing.T) {
	checked := 0
	for _, set := range conformanceSets(t) {
		tmpl, _ := confDecodeTemplate(t, set)
		for _, policy := range set.Policies() {
			dir := compiler.PolicyDir(policy)
			if _, ok := set.Files[dir+compiler.DrillRunbookPath]; !ok {
				continue
			}
			t.Run(set.Name+"/"+policy, func(t *testing.T) {
				runbook := confDecode(t, set, dir+compiler.DrillRunbookPath)
				for _, p := range drillCleanupProblems(runbook) {
					t.Error(p)
				}
				steps := runbook.(map[string]any)["mainSteps"].([]any)
				if _, ok := set.Files[dir+compiler.DrillCheckPath]; !ok {
					for _, s := range steps {
						if s.(map[string]any)["action"] == "aws:runCommand" {
							t.Error("a drill without a check instance runs a command")
						}
					}
					return
				}
				doc := confDecode(t, set, dir+compiler.DrillCheckPath)
				for _, p := range commandDocProblems(doc) {
					t.Error(p)
				}
				name := ""
				for _, id := range confSortedIDs(tmpl) {
					r := tmpl.Resources[id]
					if r.Type == "AWS::SSM::Document" && reflect.DeepEqual(r.Properties["Content"], doc) {
						name, _ = r.Properties["Name"].(string)
					}
				}
				if name == "" {
					t.Fatal("the template does not deploy the drill check document")
				}
				for _, p := range runbookLinkProblems(runbook, name, doc) {
					t.Error("drill runbook: " + p)
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no restore drill was emitted; nothing was checked")
	}
}

// drillCleanupProblems: every step of a drill runbook but the last goes to
// cleanUp on failure and on cancel and is critical; the last is cleanUp
// and ends the runbook.
func drillCleanupProblems(runbook any) []string {
	var out []string
	steps, _ := runbook.(map[string]any)["mainSteps"].([]any)
	for i, s := range steps {
		step, _ := s.(map[string]any)
		if i == len(steps)-1 {
			if step["name"] != "cleanUp" || step["isEnd"] != true {
				out = append(out, fmt.Sprintf("last step %v (isEnd %v), want cleanUp ending the runbook", step["name"], step["isEnd"]))
			}
			continue
		}
		if step["onFailure"] != "step:cleanUp" || step["onCancel"] != "step:cleanUp" || step["isCritical"] != true {
			out = append(out, fmt.Sprintf("step %v: onFailure %v, onCancel %v, isCritical %v; want step:cleanUp, step:cleanUp, true", step["name"], step["onFailure"], step["onCancel"], step["isCritical"]))
		}
	}
	if len(steps) == 0 {
		out = append(out, "no steps")
	}
	return out
}

// TestLifecycleDrillCleanupNegativeControl proves the cleanup check fails
// on a step that a cancel or failure would leave without cleanup.
func TestLifecycleDrillCleanupNegativeControl(t *testing.T) {
	res := compileLifecycle(t, lifecyclePolicy+"  restoreDrill: {expression: \"cron(0 6 ? * SUN *)\", instance: i-0123456789abcdef0}\n")
	path := compiler.PolicyDir("life") + compiler.DrillRunbookPath
	fresh := func() map[string]any {
		v, err := conformance.DecodeJSON(res.Files[path])
		if err != nil {
			t.Fatal(err)
		}
		return v.(map[string]any)
	}
	if p := drillCleanupProblems(fresh()); len(p) > 0 {
		t.Fatalf("the intact runbook fails: %v", p)
	}
	for name, mutate := range map[string]func(steps []any){
		"no onCancel":   func(steps []any) { delete(steps[2].(map[string]any), "onCancel") },
		"abort":         func(steps []any) { steps[1].(map[string]any)["onFailure"] = "Abort" },
		"cleanup first": func(steps []any) { steps[0], steps[len(steps)-1] = steps[len(steps)-1], steps[0] },
	} {
		doc := fresh()
		mutate(doc["mainSteps"].([]any))
		if len(drillCleanupProblems(doc)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}
