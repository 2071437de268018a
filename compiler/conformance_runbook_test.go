package compiler_test

// Proves that every generated Automation runbook (automation-runbook.json)
// validates against AWS's JSON Schema for Automation documents,
// testdata/reference/ssm-automation-0.3.schema.json: dist/schema.json of the
// npm package aws-ssm-document-language-service 1.0.0
// (github.com/aws/amazon-ssm-document-language-service), a draft-07 schema.
//
// The schema is dated (SOURCES.md caveat 6): it rejects things AWS accepts
// today. Those false positives are listed in automationKnownFindings with
// their reason; any other finding fails the test, and so does an entry that
// no runbook triggers any more, so the list cannot rot.
//
// The steps that call AWS APIs are also checked against the SSM service
// model (testdata/reference/botocore-ssm-service-2.json): aws:runCommand
// inputs as a SendCommand request, and the ssm calls of the assert steps.

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// automationKnownFindings are the findings of the dated Automation schema
// that are not defects. Known kinds, from SOURCES.md caveat 6, for when a
// runbook starts to use them:
//
//   - step "onCancel": rejected by additionalProperties on each step
//     (pointer /mainSteps/N, keyword .../additionalProperties).
//   - actions newer than 2020 (aws:loop, aws:updateVariable): not in the
//     action enum (pointer /mainSteps/N/action).
//   - parameter types such as AWS::EC2::Instance::Id: not in the type enum
//     (pointer /parameters/NAME/type).
//   - aws:executeScript Runtime python3.11 or "PowerShell 7.4": the schema
//     knows only runtimes AWS has retired (pointer /mainSteps/N/inputs/Runtime).
//
// An entry is added only when a generated runbook really triggers it; the
// test fails on entries that match nothing.
var automationKnownFindings = []conformance.KnownFinding{
	{
		// The restore drill runbook sends every step after the volume
		// exists to its cleanup step on cancel as well as on failure.
		Pointer: "/mainSteps/*", Keyword: "/additionalProperties", Contains: "'onCancel'",
		Reason: "step onCancel is documented for Automation (\"onCancel: step:name\"); the 2020-era schema predates it",
	},
	{
		// The prune step (documents.PruneSnapshotsStep) of policies with a
		// retention rule. Runtime is a oneOf of the runtime enum and a
		// {{ variable }} pattern, so both branches report.
		Pointer: "/mainSteps/*/inputs/Runtime",
		Value:   "python3.11",
		Reason: "aws:executeScript runtime python3.11 is supported by Automation; the dated schema " +
			"allows only python3.6, python3.7 and PowerShell Core 6.0, which AWS has retired",
	},
}

func automationSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(confReferenceDir, "ssm-automation-0.3.schema.json")
	sch, err := conformance.CompileSchemas(jsonschema.Draft7, false, "automation",
		conformance.SchemaFile{URI: "automation", Path: path})
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

// TestConformanceAutomationRunbooks validates every emitted runbook.
func TestConformanceAutomationRunbooks(t *testing.T) {
	sch := automationSchema(t)
	hits := make([]int, len(automationKnownFindings))
	checked := 0
	for _, set := range conformanceSets(t) {
		for _, path := range set.PathsWithSuffix("/automation-runbook.json") {
			t.Run(set.Name+"/"+path, func(t *testing.T) {
				doc := confDecode(t, set, path)
				findings, err := conformance.Validate(sch, doc)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range conformance.Triage(doc, findings, automationKnownFindings, hits) {
					t.Errorf("not valid against the Automation schema: %s", f)
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no automation-runbook.json was emitted; nothing was checked")
	}
	for i, k := range automationKnownFindings {
		if hits[i] == 0 {
			t.Errorf("known finding %q at %s no longer occurs in any runbook: remove it from automationKnownFindings (%s)", k.Contains, k.Pointer, k.Reason)
		}
	}
	t.Logf("checked %d runbooks against ssm-automation-0.3.schema.json (%d known findings allowed)", checked, len(automationKnownFindings))
}

// TestConformanceAutomationNegativeControl proves the schema check can fail:
// a runbook without the Service input of its assert step, and one with
// schemaVersion "0.2", are rejected, and neither rejection is on the
// known list.
func TestConformanceAutomationNegativeControl(t *testing.T) {
	sch := automationSchema(t)
	set := conformanceSets(t)[0]
	paths := set.PathsWithSuffix("/automation-runbook.json")
	if len(paths) == 0 {
		t.Fatal("no runbook to mutate")
	}
	mutations := []struct {
		name    string
		mutate  func(t *testing.T, doc map[string]any)
		pointer string
		want    string
	}{
		{
			name: "assert step without Service",
			mutate: func(t *testing.T, doc map[string]any) {
				inputs := assertStepInputs(t, doc)
				delete(inputs, "Service")
			},
			want: "missing property 'Service'",
		},
		{
			name:    "schemaVersion 0.2",
			mutate:  func(t *testing.T, doc map[string]any) { doc["schemaVersion"] = "0.2" },
			pointer: "/schemaVersion",
			want:    "0.3",
		},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			doc := confDecode(t, set, paths[0]).(map[string]any)
			before, err := conformance.Validate(sch, doc)
			if err != nil {
				t.Fatal(err)
			}
			if bad := conformance.Triage(doc, before, automationKnownFindings, make([]int, len(automationKnownFindings))); len(bad) > 0 {
				t.Fatalf("the unmutated runbook already fails: %v", bad)
			}
			m.mutate(t, doc)
			findings, err := conformance.Validate(sch, doc)
			if err != nil {
				t.Fatal(err)
			}
			unexpected := conformance.Triage(doc, findings, automationKnownFindings, make([]int, len(automationKnownFindings)))
			for _, f := range unexpected {
				if strings.Contains(f.Message, m.want) && (m.pointer == "" || f.Pointer == m.pointer) {
					t.Logf("rejected as expected: %s", f)
					return
				}
			}
			t.Fatalf("the mutated runbook was not rejected with %q; findings: %v", m.want, findings)
		})
	}
}

// assertStepInputs returns the inputs of the first aws:assertAwsResourceProperty step.
func assertStepInputs(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	steps, _ := doc["mainSteps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		if step["action"] == "aws:assertAwsResourceProperty" {
			inputs, ok := step["inputs"].(map[string]any)
			if !ok {
				t.Fatal("assert step has no inputs object")
			}
			return inputs
		}
	}
	t.Fatal("the runbook has no aws:assertAwsResourceProperty step to mutate")
	return nil
}

// TestConformanceAutomationKnownFindingsControl proves the allow-list
// mechanism on a real runbook: the dated schema really rejects the
// constructs of SOURCES.md caveat 6; an entry that names a finding lets
// exactly that finding through and counts it; a stale entry counts zero,
// which TestConformanceAutomationRunbooks turns into a failure.
func TestConformanceAutomationKnownFindingsControl(t *testing.T) {
	sch := automationSchema(t)
	set := conformanceSets(t)[0]
	paths := set.PathsWithSuffix("/automation-runbook.json")
	if len(paths) == 0 {
		t.Fatal("no runbook to mutate")
	}
	doc := confDecode(t, set, paths[0]).(map[string]any)
	steps := doc["mainSteps"].([]any)
	steps[0].(map[string]any)["onCancel"] = "Abort"
	steps = append(steps, map[string]any{
		"name": "summarize", "action": "aws:executeScript", "isEnd": true,
		"inputs": map[string]any{"Runtime": "python3.11", "Handler": "handler", "Script": "def handler(e, c): return {}"},
	})
	doc["mainSteps"] = steps
	doc["parameters"].(map[string]any)["Target"] = map[string]any{"type": "AWS::EC2::Instance::Id"}

	known := []conformance.KnownFinding{
		{Pointer: "/mainSteps/*", Keyword: "/additionalProperties", Contains: "'onCancel'",
			Reason: "step onCancel is documented for Automation; the 2020-era schema predates it"},
		// oneOf (enum of runtimes, or a {{ variable }}) fails on both branches.
		{Pointer: "/mainSteps/*/inputs/Runtime", Value: "python3.11",
			Reason: "python3.11 is a supported aws:executeScript runtime; the schema lists only retired ones"},
		{Pointer: "/parameters/Target/type", Keyword: "/enum",
			Reason: "AWS::EC2::Instance::Id is a documented Automation parameter type"},
		{Pointer: "/mainSteps/*/action", Contains: "aws:loop",
			Reason: "stale on purpose: no step uses aws:loop"},
	}
	findings, err := conformance.Validate(sch, doc)
	if err != nil {
		t.Fatal(err)
	}
	hits := make([]int, len(known))
	unexpected := conformance.Triage(doc, findings, known, hits)
	for _, f := range unexpected {
		t.Errorf("finding not covered by the control's known list: %s", f)
	}
	for i, k := range known[:3] {
		if hits[i] == 0 {
			t.Errorf("the schema no longer reports %q (%s); caveat 6 may be out of date", k.Pointer, k.Reason)
		}
	}
	if hits[3] != 0 {
		t.Errorf("the stale entry matched %d findings", hits[3])
	}
	t.Logf("dated-schema findings on the mutated runbook: %v", findings)
}

// runbookAPIStepActions are the Automation actions whose inputs are an AWS
// API request: aws:runCommand takes SendCommand's parameters (Automation
// actions reference, "aws:runCommand"), the others name Service and Api and
// pass the rest as that call's request.
var runbookAPIStepActions = map[string]bool{
	"aws:runCommand":                 true,
	"aws:executeAwsApi":              true,
	"aws:assertAwsResourceProperty":  true,
	"aws:waitForAwsResourceProperty": true,
}

// runbookAPIProblems checks each runbook step that calls the SSM API
// against the SSM service model, its {{ variables }} replaced by sample
// values of the form they take at run time. Calls to other services have
// no vendored model; they are returned in unchecked.
func runbookAPIProblems(m *conformance.Model, runbook any) (problems, unchecked []string) {
	samples := runbookSamples(runbook)
	top, _ := runbook.(map[string]any)
	steps, _ := top["mainSteps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		action, _ := step["action"].(string)
		name, _ := step["name"].(string)
		if !runbookAPIStepActions[action] {
			continue
		}
		inputs, _ := step["inputs"].(map[string]any)
		request := map[string]any{}
		for k, v := range inputs {
			request[k] = v
		}
		op := "SendCommand"
		if action != "aws:runCommand" {
			service, _ := request["Service"].(string)
			api, _ := request["Api"].(string)
			for _, k := range []string{"Service", "Api", "PropertySelector", "DesiredValues"} {
				delete(request, k)
			}
			if service != "ssm" {
				unchecked = append(unchecked, fmt.Sprintf("%s: %s %s (no model vendored for %s)", name, service, api, service))
				continue
			}
			op = api
		}
		resolved, err := confSubstituteVariables(request, samples)
		if err != nil {
			problems = append(problems, name+": "+err.Error())
			continue
		}
		for _, p := range m.Check(op+"Request", name, resolved) {
			problems = append(problems, p.String())
		}
	}
	return problems, unchecked
}

// confSubstituteVariables replaces every {{ variable }} in the strings of v by
// its sample value; a variable without one is an error.
func confSubstituteVariables(v any, samples map[string]string) (any, error) {
	switch t := v.(type) {
	case string:
		out := t
		for _, name := range conformance.Placeholders(t) {
			sample, ok := samples[name]
			if !ok {
				return nil, fmt.Errorf("{{ %s }} has no sample value", name)
			}
			out = regexp.MustCompile(`\{\{\s*`+regexp.QuoteMeta(name)+`\s*\}\}`).ReplaceAllLiteralString(out, sample)
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			r, err := confSubstituteVariables(x, samples)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			r, err := confSubstituteVariables(x, samples)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// TestConformanceRunbookAPIInputs checks the API requests the runbooks'
// steps make against the SSM service model (botocore-ssm-service-2.json):
// SendCommand for aws:runCommand, and the ssm calls of assert steps.
func TestConformanceRunbookAPIInputs(t *testing.T) {
	m := ssmModel(t)
	checked := 0
	uncheckedCalls := map[string]bool{}
	for _, set := range conformanceSets(t) {
		for _, path := range set.PathsWithSuffix("/automation-runbook.json") {
			t.Run(set.Name+"/"+path, func(t *testing.T) {
				problems, unchecked := runbookAPIProblems(m, confDecode(t, set, path))
				for _, p := range problems {
					t.Errorf("violates the SSM service model: %s", p)
				}
				for _, u := range unchecked {
					uncheckedCalls[u] = true
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no runbook was emitted; nothing was checked")
	}
	var calls []string
	for c := range uncheckedCalls {
		calls = append(calls, c)
	}
	sort.Strings(calls)
	for _, c := range calls {
		t.Logf("not checked: %s", c)
	}
}

// TestConformanceRunbookAPIInputsNegativeControl proves the request check
// can fail on each kind of step.
func TestConformanceRunbookAPIInputsNegativeControl(t *testing.T) {
	m := ssmModel(t)
	set := conformanceSets(t)[0]
	paths := set.PathsWithSuffix("/automation-runbook.json")
	if len(paths) == 0 {
		t.Fatal("no runbook to mutate")
	}
	stepInputs := func(t *testing.T, doc map[string]any, action, service string) map[string]any {
		t.Helper()
		for _, s := range doc["mainSteps"].([]any) {
			step := s.(map[string]any)
			inputs, _ := step["inputs"].(map[string]any)
			if step["action"] == action && (service == "" || inputs["Service"] == service) {
				return inputs
			}
		}
		t.Fatalf("no %s step for %q to mutate", action, service)
		return nil
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, doc map[string]any)
		want   string
	}{
		{"SendCommand timeout below 30", func(t *testing.T, doc map[string]any) {
			stepInputs(t, doc, "aws:runCommand", "")["TimeoutSeconds"] = 10
		}, ".TimeoutSeconds: value 10 is below the minimum 30"},
		{"SendCommand unknown member", func(t *testing.T, doc map[string]any) {
			stepInputs(t, doc, "aws:runCommand", "")["ExecutionTimeout"] = "600"
		}, `unknown member "ExecutionTimeout"`},
		{"SendCommand comment too long", func(t *testing.T, doc map[string]any) {
			stepInputs(t, doc, "aws:runCommand", "")["Comment"] = strings.Repeat("x", 101)
		}, ".Comment: length 101 is above the maximum 100"},
		{"instance filter key", func(t *testing.T, doc map[string]any) {
			filters := stepInputs(t, doc, "aws:assertAwsResourceProperty", "ssm")["InstanceInformationFilterList"].([]any)
			filters[0].(map[string]any)["key"] = "InstanceId"
		}, `"InstanceId" is not one of InstanceIds`},
		{"unknown variable", func(t *testing.T, doc map[string]any) {
			stepInputs(t, doc, "aws:runCommand", "")["Comment"] = "{{ NoSuchParameter }}"
		}, "{{ NoSuchParameter }} has no sample value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := confDecode(t, set, paths[0]).(map[string]any)
			if before, _ := runbookAPIProblems(m, doc); len(before) > 0 {
				t.Fatalf("the unmutated runbook already fails: %v", before)
			}
			c.mutate(t, doc)
			after, _ := runbookAPIProblems(m, doc)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}
}

// automationSystemVariables are the variables Automation fills in itself
// (Automation user guide, "Runbook system variables").
var automationSystemVariables = map[string]bool{
	"automation:EXECUTION_ID": true,
	"global:ACCOUNT_ID":       true,
	"global:AWS_PARTITION":    true,
	"global:DATE":             true,
	"global:DATE_TIME":        true,
	"global:REGION":           true,
}

// runbookVariableProblems checks what the schema cannot: every {{ variable }}
// in assumeRole and the steps' inputs is a declared parameter, a system
// variable or an output of an earlier step; every declared parameter is
// used; every entry of the top-level outputs names an output a step declares.
func runbookVariableProblems(doc any) []string {
	var out []string
	top, _ := doc.(map[string]any)
	declared := map[string]bool{}
	for _, p := range conformance.CommandParameters(doc) {
		declared[p.Name] = false
	}
	earlier := map[string]map[string]bool{} // step name → its declared outputs
	check := func(where, s string) {
		for _, v := range conformance.Placeholders(s) {
			step, _, isOutput := strings.Cut(v, ".")
			switch _, isParam := declared[v]; {
			case isParam:
				declared[v] = true
			case automationSystemVariables[v]:
			case isOutput && earlier[step] != nil:
			case isOutput:
				out = append(out, where+": {{ "+v+" }} refers to "+step+", which is not an earlier step")
			default:
				out = append(out, where+": {{ "+v+" }} is neither a parameter nor a system variable")
			}
		}
	}
	if s, ok := top["assumeRole"].(string); ok {
		check("assumeRole", s)
	}
	steps, _ := top["mainSteps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		name, _ := step["name"].(string)
		confWalkStrings(step["inputs"], func(str string) { check(name+".inputs", str) })
		outputs := map[string]bool{}
		for _, o := range confList(step["outputs"]) {
			if m, ok := o.(map[string]any); ok {
				n, _ := m["Name"].(string)
				outputs[n] = true
			}
		}
		earlier[name] = outputs
	}
	for _, name := range confSortedKeys(declared) {
		if !declared[name] {
			out = append(out, "parameter "+name+" is declared but never used")
		}
	}
	for _, o := range confList(top["outputs"]) {
		s, _ := o.(string)
		step, output, _ := strings.Cut(s, ".")
		if !earlier[step][output] {
			out = append(out, "outputs lists "+strconv.Quote(s)+", which no step declares")
		}
	}
	return out
}

func confList(v any) []any {
	l, _ := v.([]any)
	return l
}

func confWalkStrings(v any, f func(string)) {
	switch t := v.(type) {
	case string:
		f(t)
	case []any:
		for _, x := range t {
			confWalkStrings(x, f)
		}
	case map[string]any:
		for _, k := range confSortedKeys(t) {
			confWalkStrings(t[k], f)
		}
	}
}

func confSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestConformanceRunbookVariables checks the variables of every runbook.
func TestConformanceRunbookVariables(t *testing.T) {
	for _, set := range conformanceSets(t) {
		for _, path := range set.PathsWithSuffix("/automation-runbook.json") {
			t.Run(set.Name+"/"+path, func(t *testing.T) {
				for _, p := range runbookVariableProblems(confDecode(t, set, path)) {
					t.Error(p)
				}
			})
		}
	}
}

// TestConformanceRunbookVariablesNegativeControl proves the variable check can fail.
func TestConformanceRunbookVariablesNegativeControl(t *testing.T) {
	set := conformanceSets(t)[0]
	path := set.PathsWithSuffix("/automation-runbook.json")[0]
	lastInputs := func(doc map[string]any) map[string]any {
		steps := doc["mainSteps"].([]any)
		return steps[len(steps)-1].(map[string]any)["inputs"].(map[string]any)
	}
	cases := []struct {
		name   string
		mutate func(doc map[string]any)
		want   string
	}{
		{"undeclared parameter", func(doc map[string]any) { lastInputs(doc)["Comment"] = "{{ Undeclared }}" }, "{{ Undeclared }} is neither"},
		{"unknown system variable", func(doc map[string]any) { lastInputs(doc)["Comment"] = "{{ global:TOMORROW }}" }, "{{ global:TOMORROW }} is neither"},
		{"later step", func(doc map[string]any) {
			first := doc["mainSteps"].([]any)[0].(map[string]any)["inputs"].(map[string]any)
			first["Api"] = "{{ takeSnapshots.CommandId }}"
		}, "not an earlier step"},
		{"unused parameter", func(doc map[string]any) {
			doc["parameters"].(map[string]any)["Spare"] = map[string]any{"type": "String"}
		}, "parameter Spare is declared but never used"},
		{"undeclared output", func(doc map[string]any) { doc["outputs"] = append(confList(doc["outputs"]), "takeSnapshots.Status") }, `"takeSnapshots.Status", which no step declares`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := confDecode(t, set, path).(map[string]any)
			if before := runbookVariableProblems(doc); len(before) > 0 {
				t.Fatalf("the unmutated runbook already fails: %v", before)
			}
			c.mutate(doc)
			after := runbookVariableProblems(doc)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}
}
