package compiler_test

// Proves that every generated Command document (command-document.json) has
// the documented schemaVersion 2.2 structure and cannot carry a shell
// injection, and that each runbook calls its own policy's command document
// correctly.
//
// AWS publishes no JSON Schema for Command documents (SOURCES.md, "Not
// found"), so conformance.CheckCommandDocument encodes the documented format
// (Systems Manager User Guide: "SSM document syntax" and the "Command
// document plugin reference"; SSM Agent's timeout bounds), and this file
// adds what makes the documents safe:
//
//   - every String or StringList parameter that reaches a runCommand line
//     has an allowedPattern or allowedValues, and neither admits a value
//     containing ', a newline, $(, a backtick or a backslash — proven with
//     a table of hostile strings, with hostile fragments inserted at every
//     position of a value the pattern accepts, and with a fuzz target;
//   - each runbook's aws:runCommand step names the command document the
//     template deploys for the same policy, passes only parameters that
//     document declares, passes every parameter it requires, and passes
//     values its allowedPatterns accept at run time (Automation's
//     {{ automation:EXECUTION_ID }} is a UUID).

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// commandDocProblems returns the structural problems of a command document
// and the injection risks of its parameters.
func commandDocProblems(doc any) []string {
	var out []string
	for _, p := range conformance.CheckCommandDocument(doc) {
		out = append(out, "format: "+p.String())
	}
	reach := conformance.RunCommandPlaceholders(doc)
	for _, p := range conformance.CommandParameters(doc) {
		if reach[p.Name] == 0 {
			continue
		}
		out = append(out, parameterInjectionProblems(p)...)
	}
	return out
}

// parameterInjectionProblems checks one parameter that reaches runCommand.
func parameterInjectionProblems(p conformance.CommandParameter) []string {
	where := "parameters." + p.Name
	switch p.Type {
	case "Integer", "Boolean":
		return nil // SSM validates the type; neither can carry shell text
	case "String", "StringList":
	default:
		return []string{where + ": a " + p.Type + " parameter reaches runCommand; its values cannot be constrained"}
	}
	if p.AllowedPattern == "" && len(p.AllowedValues) == 0 {
		return []string{where + ": reaches runCommand without allowedPattern or allowedValues"}
	}
	var out []string
	for _, v := range p.AllowedValues {
		if s, ok := v.(string); ok && conformance.ContainsHostile(s) {
			out = append(out, where+": allowed value "+strconv.Quote(s)+" carries shell metacharacters")
		}
	}
	if p.AllowedPattern != "" {
		re, err := regexp.Compile(p.AllowedPattern)
		if err != nil {
			return append(out, where+": allowedPattern does not compile: "+err.Error())
		}
		accepted, ok := confAcceptedValue(p, re)
		if !ok {
			return append(out, where+": cannot derive a value that allowedPattern "+p.AllowedPattern+" accepts, so its hostile variants are untested")
		}
		for _, bad := range conformance.RejectsHostile(accepted, re.MatchString) {
			out = append(out, where+": allowedPattern "+p.AllowedPattern+" accepts hostile value "+bad)
		}
	}
	return out
}

// confAcceptedValue is a value the parameter's pattern accepts: its default
// when that matches, otherwise one derived from the pattern.
func confAcceptedValue(p conformance.CommandParameter, re *regexp.Regexp) (string, bool) {
	if s, ok := p.Default.(string); ok && p.HasDefault && re.MatchString(s) {
		return s, true
	}
	return conformance.SampleMatch(re)
}

// commandDocumentName returns the Name under which the template deploys a
// command document with exactly this content.
func commandDocumentName(t *testing.T, tmpl confTemplate, doc any) string {
	t.Helper()
	var names []string
	for _, id := range confSortedIDs(tmpl) {
		res := tmpl.Resources[id]
		if res.Type == "AWS::SSM::Document" && res.Properties["DocumentType"] == "Command" &&
			reflect.DeepEqual(res.Properties["Content"], doc) {
			name, _ := res.Properties["Name"].(string)
			names = append(names, name)
		}
	}
	if len(names) != 1 {
		t.Fatalf("the template deploys this command document %d times (%v), want once", len(names), names)
	}
	return names[0]
}

// runbookLinkProblems checks the runbook's aws:runCommand steps against the
// command document of the same policy.
func runbookLinkProblems(runbook any, commandName string, command any) []string {
	var out []string
	declared := map[string]conformance.CommandParameter{}
	for _, p := range conformance.CommandParameters(command) {
		declared[p.Name] = p
	}
	top, _ := runbook.(map[string]any)
	steps, _ := top["mainSteps"].([]any)
	runCommands := 0
	for _, s := range steps {
		step, _ := s.(map[string]any)
		if step["action"] != "aws:runCommand" {
			continue
		}
		runCommands++
		name, _ := step["name"].(string)
		inputs, _ := step["inputs"].(map[string]any)
		if inputs["DocumentName"] != commandName {
			out = append(out, name+": runs document "+confQuoted(inputs["DocumentName"])+", not this policy's "+commandName)
		}
		params, _ := inputs["Parameters"].(map[string]any)
		var passed []string
		for k := range params {
			passed = append(passed, k)
		}
		sort.Strings(passed)
		for _, k := range passed {
			if _, ok := declared[k]; !ok {
				out = append(out, name+": passes "+k+", which "+commandName+" does not declare")
				continue
			}
			values, ok := params[k].([]any)
			if !ok {
				out = append(out, name+": parameter "+k+" must be a list of strings")
				continue
			}
			for _, v := range values {
				str, ok := v.(string)
				if !ok {
					out = append(out, name+": parameter "+k+" must be a list of strings")
					continue
				}
				for _, p := range confValueProblems(declared[k], str, runbookSamples(runbook)) {
					out = append(out, name+": "+p)
				}
			}
		}
		for _, p := range conformance.CommandParameters(command) {
			if _, ok := params[p.Name]; !ok && !p.HasDefault {
				out = append(out, name+": does not pass "+p.Name+", which "+commandName+" requires (no default)")
			}
		}
	}
	if runCommands == 0 {
		out = append(out, "the runbook has no aws:runCommand step")
	}
	return out
}

// systemVariableSamples are sample values of the variables Systems
// Manager fills in at run time, of the form they take: an Automation
// execution id is a UUID, {{RESOURCE_ID}} of an INSTANCE target is an
// instance id.
var systemVariableSamples = map[string]string{
	"automation:EXECUTION_ID": "4105a4fc-f944-11e6-9d32-0123456789ab",
	"global:ACCOUNT_ID":       conformance.SampleAccountID,
	"global:REGION":           conformance.SampleRegion,
	"global:AWS_PARTITION":    conformance.SamplePartition,
	"global:DATE":             "2026-01-01",
	"global:DATE_TIME":        "2026-01-01T00:00:00Z",
	"RESOURCE_ID":             "i-0123456789abcdef0",
}

// stepOutputSamples are sample values of step outputs a later step passes
// on, by output name, of the form they take at run time: the restore drill
// passes the volume it created and the device name it chose, a root-only
// DISKSHADOW run the data volumes it excludes.
var stepOutputSamples = map[string]string{
	"VolumeId":      "vol-0123456789abcdef0",
	"DeviceName":    "/dev/sdf",
	"DataVolumeIds": "vol-0123456789abcdef0,vol-0fedcba9876543210",
}

// runbookSamples are sample values for the runbook's own parameters (their
// default, or a value their allowedPattern accepts) and for the outputs of
// its steps that have a sample.
func runbookSamples(runbook any) map[string]string {
	out := map[string]string{}
	for k, v := range systemVariableSamples {
		out[k] = v
	}
	top, _ := runbook.(map[string]any)
	steps, _ := top["mainSteps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		name, _ := step["name"].(string)
		outputs, _ := step["outputs"].([]any)
		for _, o := range outputs {
			m, _ := o.(map[string]any)
			if n, _ := m["Name"].(string); stepOutputSamples[n] != "" {
				out[name+"."+n] = stepOutputSamples[n]
			}
		}
	}
	for _, p := range conformance.CommandParameters(runbook) {
		switch {
		case p.HasDefault:
			if s, ok := p.Default.(string); ok {
				out[p.Name] = s
			}
		case p.AllowedPattern != "":
			if re, err := regexp.Compile(p.AllowedPattern); err == nil {
				if s, ok := conformance.SampleMatch(re); ok {
					out[p.Name] = s
				}
			}
		}
	}
	return out
}

// confValueProblems checks that a value passed at run time, its {{ variables }}
// replaced by samples, satisfies the receiving parameter's allowedPattern
// and allowedValues: otherwise the call would be refused when it runs.
func confValueProblems(p conformance.CommandParameter, value string, samples map[string]string) []string {
	resolved := value
	for _, name := range conformance.Placeholders(value) {
		sample, ok := samples[name]
		if !ok {
			return []string{"value " + strconv.Quote(value) + " for " + p.Name + " uses {{ " + name + " }}, which has no sample value; add one to systemVariableSamples"}
		}
		resolved = regexp.MustCompile(`\{\{\s*`+regexp.QuoteMeta(name)+`\s*\}\}`).ReplaceAllLiteralString(resolved, sample)
	}
	var out []string
	if p.AllowedPattern != "" {
		re, err := regexp.Compile(p.AllowedPattern)
		if err != nil {
			return []string{p.Name + ": allowedPattern does not compile: " + err.Error()}
		}
		if !re.MatchString(resolved) {
			out = append(out, "passes "+strconv.Quote(value)+" (at run time e.g. "+strconv.Quote(resolved)+") to "+p.Name+", whose allowedPattern "+p.AllowedPattern+" refuses it")
		}
	}
	if len(p.AllowedValues) > 0 {
		found := false
		for _, v := range p.AllowedValues {
			found = found || v == resolved
		}
		if !found {
			out = append(out, "passes "+strconv.Quote(resolved)+" to "+p.Name+", which is not among its allowedValues")
		}
	}
	return out
}

func confQuoted(v any) string {
	s, _ := v.(string)
	return `"` + s + `"`
}

// TestConformanceCommandDocuments checks every command document and the
// runbook next to it.
func TestConformanceCommandDocuments(t *testing.T) {
	checked := 0
	for _, set := range conformanceSets(t) {
		tmpl, _ := confDecodeTemplate(t, set)
		for _, policy := range set.SSMPolicies() {
			dir := compiler.PolicyDir(policy)
			t.Run(set.Name+"/"+policy, func(t *testing.T) {
				// The custom Windows hooks steps run their own document
				// (conformance_hooks_test.go).
				runbook := confFilterSteps(confDecode(t, set, dir+"automation-runbook.json"), func(s map[string]any) bool { return hookAction(s) == "" })
				if isStoppedRunbook(runbook) { // conformance_stopped_test.go
					for _, p := range stoppedRunbookProblems(runbook) {
						t.Error("automation-runbook.json: " + p)
					}
					return
				}
				if isDiskshadowRunbook(runbook) { // conformance_vss_test.go
					ds := confDecode(t, set, compiler.WindowsDiskshadowDir+"command-document.json")
					for _, p := range commandDocProblems(ds) {
						t.Error(p)
					}
					for _, p := range runbookLinkProblems(runbook, commandDocumentName(t, tmpl, ds), ds) {
						t.Error("automation-runbook.json: " + p)
					}
					return
				}
				if isAPISnapshotRunbook(runbook) {
					for _, p := range apiSnapshotRunbookProblems(runbook) {
						t.Error("automation-runbook.json: " + p)
					}
					return
				}
				if isWindowsVSSRunbook(runbook) { // conformance_vss_test.go
					for _, p := range windowsVSSRunbookProblems(runbook) {
						t.Error("automation-runbook.json: " + p)
					}
					return
				}
				// A Linux policy: the runbook runs the set's shared document.
				doc := confDecode(t, set, compiler.LinuxSnapshotDir+"command-document.json")
				for _, p := range commandDocProblems(doc) {
					t.Error(p)
				}
				for _, p := range runbookLinkProblems(runbook, commandDocumentName(t, tmpl, doc), doc) {
					t.Error("automation-runbook.json: " + p)
				}
			})
			checked++
		}
		// The pre/post document of each dlm policy (conformance_engines_test.go).
		for _, path := range set.PathsWithSuffix("/dlm-hooks-document.json") {
			t.Run(set.Name+"/"+path, func(t *testing.T) {
				for _, p := range commandDocProblems(confDecode(t, set, path)) {
					t.Error(p)
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no command document was emitted; nothing was checked")
	}
	t.Logf("checked %d command documents: 2.2 format, hostile parameter values, link from their runbooks", checked)
}

// TestConformanceCommandDocumentsNegativeControl proves each check can fail.
func TestConformanceCommandDocumentsNegativeControl(t *testing.T) {
	set := conformanceSets(t)[0]
	tmpl, _ := confDecodeTemplate(t, set)
	policy := set.SSMPolicies()[0]
	dir := compiler.PolicyDir(policy)

	// reaching returns the first parameter that reaches runCommand.
	reaching := func(t *testing.T, doc map[string]any) map[string]any {
		t.Helper()
		reach := conformance.RunCommandPlaceholders(doc)
		for _, p := range conformance.CommandParameters(doc) {
			if reach[p.Name] > 0 && p.Type == "String" {
				return doc["parameters"].(map[string]any)[p.Name].(map[string]any)
			}
		}
		t.Fatal("no String parameter reaches runCommand; nothing to mutate")
		return nil
	}
	firstRunCommand := func(doc map[string]any) []any {
		step := doc["mainSteps"].([]any)[0].(map[string]any)
		return step["inputs"].(map[string]any)["runCommand"].([]any)
	}
	commandCases := []struct {
		name   string
		mutate func(t *testing.T, doc map[string]any)
		want   string
	}{
		{"permissive pattern", func(t *testing.T, doc map[string]any) {
			p := reaching(t, doc)
			delete(p, "allowedValues")
			delete(p, "default")
			p["allowedPattern"] = "^.*$"
		}, "accepts hostile value"},
		{"unanchored pattern", func(t *testing.T, doc map[string]any) {
			p := reaching(t, doc)
			delete(p, "allowedValues")
			delete(p, "default")
			p["allowedPattern"] = "[a-z0-9]"
		}, "accepts hostile value"},
		{"no constraint", func(t *testing.T, doc map[string]any) {
			p := reaching(t, doc)
			delete(p, "allowedPattern")
			delete(p, "allowedValues")
		}, "without allowedPattern or allowedValues"},
		{"hostile allowed value", func(t *testing.T, doc map[string]any) {
			p := reaching(t, doc)
			delete(p, "allowedPattern")
			delete(p, "default")
			p["allowedValues"] = []any{"ok", "x$(reboot)"}
		}, "carries shell metacharacters"},
		{"undeclared placeholder", func(t *testing.T, doc map[string]any) {
			rc := firstRunCommand(doc)
			rc[0] = rc[0].(string) + " {{ Undeclared }}"
		}, "{{ Undeclared }} is not a declared parameter"},
		{"schemaVersion 0.3", func(t *testing.T, doc map[string]any) { doc["schemaVersion"] = "0.3" }, "format: schemaVersion"},
		{"unknown plugin", func(t *testing.T, doc map[string]any) {
			doc["mainSteps"].([]any)[0].(map[string]any)["action"] = "aws:runBashScript"
		}, "not a Command document plugin"},
	}
	for _, c := range commandCases {
		t.Run(c.name, func(t *testing.T) {
			doc := confDecode(t, set, compiler.LinuxSnapshotDir+"command-document.json").(map[string]any)
			if before := commandDocProblems(doc); len(before) > 0 {
				t.Fatalf("the unmutated document already fails: %v", before)
			}
			c.mutate(t, doc)
			after := commandDocProblems(doc)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}

	runCommandInputs := func(t *testing.T, runbook map[string]any) map[string]any {
		t.Helper()
		for _, s := range runbook["mainSteps"].([]any) {
			step := s.(map[string]any)
			if step["action"] == "aws:runCommand" {
				return step["inputs"].(map[string]any)
			}
		}
		t.Fatal("no aws:runCommand step")
		return nil
	}
	runbookCases := []struct {
		name   string
		mutate func(t *testing.T, runbook, command map[string]any)
		want   string
	}{
		{"other document", func(t *testing.T, rb, _ map[string]any) {
			runCommandInputs(t, rb)["DocumentName"] = "AWS-RunShellScript"
		}, "not this policy's"},
		{"undeclared parameter", func(t *testing.T, rb, _ map[string]any) {
			runCommandInputs(t, rb)["Parameters"].(map[string]any)["commands"] = []any{"reboot"}
		}, "passes commands, which"},
		{"required parameter missing", func(t *testing.T, rb, doc map[string]any) {
			// A parameter without a default is required by SendCommand.
			params := runCommandInputs(t, rb)["Parameters"].(map[string]any)
			for k := range params {
				delete(doc["parameters"].(map[string]any)[k].(map[string]any), "default")
				delete(params, k)
				return
			}
			t.Fatal("the runbook passes no parameter")
		}, "requires (no default)"},
		{"value the pattern refuses", func(t *testing.T, rb, _ map[string]any) {
			params := runCommandInputs(t, rb)["Parameters"].(map[string]any)
			for k := range params {
				params[k] = []any{"$(reboot)"}
			}
		}, "refuses it"},
		{"unknown variable", func(t *testing.T, rb, _ map[string]any) {
			params := runCommandInputs(t, rb)["Parameters"].(map[string]any)
			for k := range params {
				params[k] = []any{"{{ automation:NO_SUCH_VARIABLE }}"}
			}
		}, "has no sample value"},
	}
	name := commandDocumentName(t, tmpl, confDecode(t, set, compiler.LinuxSnapshotDir+"command-document.json"))
	for _, c := range runbookCases {
		t.Run(c.name, func(t *testing.T) {
			doc := confDecode(t, set, compiler.LinuxSnapshotDir+"command-document.json").(map[string]any)
			rb := confDecode(t, set, dir+"automation-runbook.json").(map[string]any)
			if before := runbookLinkProblems(rb, name, doc); len(before) > 0 {
				t.Fatalf("the unmutated runbook already fails: %v", before)
			}
			c.mutate(t, rb, doc)
			after := runbookLinkProblems(rb, name, doc)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}
}

// runCommandPatterns returns the allowedPattern of every parameter that
// reaches a runCommand line, across all generated command documents.
func runCommandPatterns(t testing.TB) map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	for _, set := range conformanceSets(t) {
		for _, path := range set.PathsWithSuffix("/command-document.json") {
			doc := confDecode(t, set, path)
			reach := conformance.RunCommandPlaceholders(doc)
			for _, p := range conformance.CommandParameters(doc) {
				if reach[p.Name] > 0 && p.AllowedPattern != "" {
					re, err := regexp.Compile(p.AllowedPattern)
					if err != nil {
						t.Fatalf("%s: %s: %v", path, p.Name, err)
					}
					out[p.AllowedPattern] = re
				}
			}
		}
	}
	return out
}

// FuzzConformanceAllowedPatterns is the property behind the table: no
// string that any generated allowedPattern accepts contains a shell
// metacharacter of conformance.HostileFragments. `go test -run Conformance`
// runs the seeds; `go test -fuzz FuzzConformanceAllowedPatterns` searches.
func FuzzConformanceAllowedPatterns(f *testing.F) {
	patterns := runCommandPatterns(f)
	for _, s := range conformance.HostileStrings {
		f.Add(s)
	}
	for _, re := range patterns {
		if s, ok := conformance.SampleMatch(re); ok {
			for _, v := range conformance.HostileVariants(s) {
				f.Add(v)
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !conformance.ContainsHostile(s) {
			return
		}
		for src, re := range patterns {
			if re.MatchString(s) {
				t.Errorf("allowedPattern %s accepts %q", src, s)
			}
		}
	})
}

// isAPISnapshotRunbook tells the runbook of a crash-consistent Windows
// policy (crash_api.go): it snapshots through the EC2 API and changes no
// instance state.
func isAPISnapshotRunbook(runbook any) bool {
	api := false
	for _, s := range confSteps(runbook) {
		in, _ := s["inputs"].(map[string]any)
		switch {
		case s["action"] == "aws:changeInstanceState", s["action"] == "aws:runCommand":
			return false
		case s["action"] == "aws:executeAwsApi" && in["Api"] == "CreateSnapshots", isRootSnapshotScript(s):
			api = true
		}
	}
	return api
}

// isRootSnapshotScript tells the aws:executeScript step that makes the
// root-only CreateSnapshots (snapshot_root_volume.py's handler).
func isRootSnapshotScript(s map[string]any) bool {
	in, _ := s["inputs"].(map[string]any)
	script, _ := in["Script"].(string)
	return s["action"] == "aws:executeScript" && in["Handler"] == "handler" && strings.Contains(script, "snapshot_root_volume.py")
}

// apiSnapshotRunbookProblems: exactly one CreateSnapshots — of the data
// volumes only on Windows (a running Windows root volume is never
// snapshotted without VSS), or the root-only step of a Linux runbook —
// tagged at creation with the policy's tag and the consistency "crash",
// and no command on the instance.
func apiSnapshotRunbookProblems(runbook any) []string {
	var out []string
	calls := 0
	top, _ := runbook.(map[string]any)
	description, _ := top["description"].(string)
	for _, s := range confSteps(runbook) {
		in, _ := s["inputs"].(map[string]any)
		name, _ := s["name"].(string)
		var tagList []any
		switch {
		case isRootSnapshotScript(s):
			if !strings.Contains(description, " Linux instance") {
				out = append(out, name+": a root-only crash-consistent snapshot outside a Linux runbook")
			}
			payload, _ := in["InputPayload"].(map[string]any)
			tagList = confList(payload["Tags"])
		case s["action"] == "aws:executeAwsApi" && in["Api"] == "CreateSnapshots":
			spec, _ := in["InstanceSpecification"].(map[string]any)
			if spec["ExcludeBootVolume"] != true {
				out = append(out, name+": the boot volume is not excluded")
			}
			specs, _ := in["TagSpecifications"].([]any)
			for _, ts := range specs {
				tagList = append(tagList, confList(ts.(map[string]any)["Tags"])...)
			}
		default:
			continue
		}
		calls++
		tags := map[string]any{}
		for _, t := range tagList {
			tm, _ := t.(map[string]any)
			k, _ := tm["Key"].(string)
			tags[k] = tm["Value"]
		}
		if tags[compiler.TagPolicy] == nil || tags[compiler.TagConsistency] != "crash" {
			out = append(out, name+": snapshots not tagged at creation with the policy and consistency crash")
		}
	}
	if calls != 1 {
		out = append(out, fmt.Sprintf("%d CreateSnapshots steps, want 1", calls))
	}
	return out
}

// TestAPISnapshotRunbookNegativeControl proves the crash-consistent
// Windows runbook check can fail.
func TestAPISnapshotRunbookNegativeControl(t *testing.T) {
	set := goldenSet(t, "windows-crash-data")
	path := compiler.PolicyDir("win-data") + "automation-runbook.json"
	if p := apiSnapshotRunbookProblems(confDecode(t, set, path)); len(p) > 0 {
		t.Fatalf("the unmutated runbook already fails: %v", p)
	}
	snapshotStep := func(rb any) map[string]any {
		for _, s := range confSteps(rb) {
			if in, _ := s["inputs"].(map[string]any); in["Api"] == "CreateSnapshots" {
				return in
			}
		}
		t.Fatal("no CreateSnapshots step")
		return nil
	}
	for name, c := range map[string]struct {
		mutate func(in map[string]any)
		want   string
	}{
		"boot volume included": {func(in map[string]any) {
			in["InstanceSpecification"].(map[string]any)["ExcludeBootVolume"] = false
		}, "boot volume is not excluded"},
		"untagged": {func(in map[string]any) { in["TagSpecifications"] = []any{} }, "not tagged at creation"},
	} {
		rb := confDecode(t, set, path)
		c.mutate(snapshotStep(rb))
		if got := apiSnapshotRunbookProblems(rb); !strings.Contains(strings.Join(got, "\n"), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, got)
		}
	}
}

// TestAPIRootSnapshotNegativeControl proves the root-only branch of the
// check can fail: the Linux root-volume runbook passes; its step in a
// runbook that is not Linux's, or without the policy's tags, does not.
func TestAPIRootSnapshotNegativeControl(t *testing.T) {
	set := goldenSet(t, "crash-root-linux")
	path := compiler.PolicyDir("web-root") + "automation-runbook.json"
	rb := confDecode(t, set, path)
	if !isAPISnapshotRunbook(rb) {
		t.Fatal("the Linux root-volume runbook is not recognised")
	}
	if p := apiSnapshotRunbookProblems(rb); len(p) > 0 {
		t.Fatalf("the unmutated runbook already fails: %v", p)
	}
	for name, c := range map[string]struct {
		mutate func(top map[string]any, in map[string]any)
		want   string
	}{
		"windows": {func(top, _ map[string]any) {
			top["description"] = strings.ReplaceAll(top["description"].(string), "Linux", "Windows")
		}, "outside a Linux runbook"},
		"untagged": {func(_, in map[string]any) {
			in["InputPayload"].(map[string]any)["Tags"] = []any{}
		}, "not tagged at creation"},
	} {
		rb := confDecode(t, set, path)
		for _, s := range confSteps(rb) {
			if isRootSnapshotScript(s) {
				c.mutate(rb.(map[string]any), s["inputs"].(map[string]any))
			}
		}
		if got := apiSnapshotRunbookProblems(rb); !strings.Contains(strings.Join(got, "\n"), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, got)
		}
	}
}
