package compiler_test

// Proves that the maintenance-window API inputs (maintenance-window.json)
// satisfy the constraints of the SSM service model: required members,
// types, min/max, patterns and enums of CreateMaintenanceWindowRequest,
// RegisterTargetWithMaintenanceWindowRequest and
// RegisterTaskWithMaintenanceWindowRequest, with no member the API does not
// know. The model is testdata/reference/botocore-ssm-service-2.json, from
// PyPI botocore 1.43.11 (botocore/data/ssm/2014-11-06/service-2.json.gz).
//
// The files leave out what exists only once the window is created: WindowId
// (both registrations) and the task's Targets, which name the registered
// target's WindowTargetId. Before checking, this test fills them with
// syntactically valid sample ids (conformance.SampleWindowID,
// conformance.SampleWindowTarget) and replaces the ${AWS::Partition},
// ${AWS::AccountId} and ${AWS::Region} placeholders with sample values, as
// CloudFormation would; the API would reject the placeholders themselves.
//
// It also follows the task to the runbook it starts: the TaskArn names the
// template's document holding this policy's runbook, and the parameters
// passed are declared by the runbook, include every one it requires, and
// hold values its allowedPatterns accept at run time ({{RESOURCE_ID}} is
// an instance id).

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// windowOperations are the calls maintenance-window.json holds, in order.
var windowOperations = []string{
	"CreateMaintenanceWindow",
	"RegisterTargetWithMaintenanceWindow",
	"RegisterTaskWithMaintenanceWindow",
}

func ssmModel(t *testing.T) *conformance.Model {
	t.Helper()
	m, err := conformance.LoadModel(filepath.Join(confReferenceDir, "botocore-ssm-service-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range m.CheckPatterns() {
		t.Error(err)
	}
	return m
}

// completeWindowCalls turns the file into the three API inputs as they
// would be sent: sample ids filled in, placeholders substituted.
func completeWindowCalls(t *testing.T, doc any) map[string]map[string]any {
	t.Helper()
	top, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("maintenance-window.json is not an object")
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "CreateMaintenanceWindow,RegisterTargetWithMaintenanceWindow,RegisterTaskWithMaintenanceWindow" {
		t.Errorf("maintenance-window.json holds %v, want exactly %v", keys, windowOperations)
	}
	calls := map[string]map[string]any{}
	for _, op := range windowOperations {
		resolved, err := confSubstitutePseudo(top[op])
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		in, ok := resolved.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", op)
		}
		calls[op] = in
	}
	for _, op := range windowOperations[1:] {
		if _, ok := calls[op]["WindowId"]; ok {
			t.Errorf("%s carries a WindowId; the file is meant to leave it to the caller", op)
		}
		calls[op]["WindowId"] = conformance.SampleWindowID
	}
	task := calls["RegisterTaskWithMaintenanceWindow"]
	if _, ok := task["Targets"]; !ok {
		task["Targets"] = []any{map[string]any{
			"Key":    "WindowTargetIds",
			"Values": []any{conformance.SampleWindowTarget},
		}}
	}
	return calls
}

// confSubstitutePseudo replaces ${AWS::...} placeholders in every string.
func confSubstitutePseudo(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return conformance.SubstitutePseudo(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			r, err := confSubstitutePseudo(x)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			r, err := confSubstitutePseudo(x)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func checkWindowCalls(m *conformance.Model, calls map[string]map[string]any) []string {
	var out []string
	for _, op := range windowOperations {
		for _, p := range m.Check(op+"Request", op, calls[op]) {
			out = append(out, p.String())
		}
	}
	return out
}

// taskRunbookProblems checks that the registered task starts, as an
// Automation task, the runbook the template deploys under its TaskArn with
// exactly this content, and passes parameters the runbook declares, every
// one it requires, with values its allowedPatterns accept at run time
// ({{RESOURCE_ID}} being an instance id).
func taskRunbookProblems(tmpl confTemplate, task map[string]any, runbook any) []string {
	var out []string
	if task["TaskType"] != "AUTOMATION" {
		out = append(out, fmt.Sprintf("task type %v, want AUTOMATION", task["TaskType"]))
	}
	deployed := 0
	for _, id := range confSortedIDs(tmpl) {
		res := tmpl.Resources[id]
		if res.Type == "AWS::SSM::Document" && res.Properties["Name"] == task["TaskArn"] {
			deployed++
			if res.Properties["DocumentType"] != "Automation" || !reflect.DeepEqual(res.Properties["Content"], runbook) {
				out = append(out, fmt.Sprintf("TaskArn %v names template document %s, which is not this policy's runbook", task["TaskArn"], id))
			}
		}
	}
	if deployed != 1 {
		out = append(out, fmt.Sprintf("TaskArn %v names %d documents of the template, want 1", task["TaskArn"], deployed))
	}
	declared := map[string]conformance.CommandParameter{}
	for _, p := range conformance.CommandParameters(runbook) {
		declared[p.Name] = p
	}
	invocation, _ := task["TaskInvocationParameters"].(map[string]any)
	automation, _ := invocation["Automation"].(map[string]any)
	params, _ := automation["Parameters"].(map[string]any)
	var names []string
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p, ok := declared[k]
		if !ok {
			out = append(out, "the task passes "+k+", which the runbook does not declare")
			continue
		}
		for _, v := range conformance.StringList(params[k]) {
			for _, problem := range confValueProblems(p, v, systemVariableSamples) {
				out = append(out, "the task "+problem)
			}
		}
	}
	for _, p := range conformance.CommandParameters(runbook) {
		if _, ok := params[p.Name]; !ok && !p.HasDefault {
			out = append(out, "the task does not pass "+p.Name+", which the runbook requires (no default)")
		}
	}
	return out
}

// TestConformanceMaintenanceWindowInputs checks every maintenance-window.json.
func TestConformanceMaintenanceWindowInputs(t *testing.T) {
	m := ssmModel(t)
	checked := 0
	for _, set := range conformanceSets(t) {
		for _, path := range set.PathsWithSuffix("/maintenance-window.json") {
			t.Run(set.Name+"/"+path, func(t *testing.T) {
				calls := completeWindowCalls(t, confDecode(t, set, path))
				for _, p := range checkWindowCalls(m, calls) {
					t.Errorf("violates the SSM service model: %s", p)
				}
				// The task starts the runbook emitted next to it, with
				// parameters it accepts.
				runbook := confDecode(t, set, strings.TrimSuffix(path, "maintenance-window.json")+"automation-runbook.json")
				tmpl, _ := confDecodeTemplate(t, set)
				for _, p := range taskRunbookProblems(tmpl, calls["RegisterTaskWithMaintenanceWindow"], runbook) {
					t.Error(p)
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no maintenance-window.json was emitted; nothing was checked")
	}
	notes := conformance.SubstituteNotes()
	t.Logf("%d patterns of the model do not compile in Go's RE2:", len(notes))
	for _, n := range notes {
		t.Logf("  %s", n)
	}
	for _, n := range m.PatternNotes() {
		t.Logf("used by these inputs: %s", n)
	}
	t.Logf("checked %d maintenance-window inputs against the SSM service model", checked)
}

// TestConformanceMaintenanceWindowNegativeControl proves the model check
// can fail: Duration 25, MaxErrors "101%" and an unknown member are each
// rejected.
func TestConformanceMaintenanceWindowNegativeControl(t *testing.T) {
	m := ssmModel(t)
	set := conformanceSets(t)[0]
	paths := set.PathsWithSuffix("/maintenance-window.json")
	if len(paths) == 0 {
		t.Fatal("no maintenance-window.json to mutate")
	}
	cases := []struct {
		name   string
		op     string
		mutate func(map[string]any)
		want   string
	}{
		{"Duration 25", "CreateMaintenanceWindow", func(in map[string]any) { in["Duration"] = 25 },
			"CreateMaintenanceWindow.Duration: value 25 is above the maximum 24"},
		{"MaxErrors 101%", "RegisterTaskWithMaintenanceWindow", func(in map[string]any) { in["MaxErrors"] = "101%" },
			`RegisterTaskWithMaintenanceWindow.MaxErrors: "101%" does not match pattern`},
		{"unknown member", "RegisterTargetWithMaintenanceWindow", func(in map[string]any) { in["WindowTargetName"] = "x" },
			`unknown member "WindowTargetName"`},
		{"missing WindowId", "RegisterTaskWithMaintenanceWindow", func(in map[string]any) { delete(in, "WindowId") },
			`required member "WindowId"`},
	}
	runbook := confDecode(t, set, strings.TrimSuffix(paths[0], "maintenance-window.json")+"automation-runbook.json")
	tmpl, _ := confDecodeTemplate(t, set)
	automationParams := func(in map[string]any) map[string]any {
		return in["TaskInvocationParameters"].(map[string]any)["Automation"].(map[string]any)["Parameters"].(map[string]any)
	}
	linkCases := []struct {
		name   string
		mutate func(task map[string]any)
		want   string
	}{
		{"other runbook", func(task map[string]any) { task["TaskArn"] = "AWS-RestartEC2Instance" }, "names 0 documents of the template"},
		{"undeclared parameter", func(task map[string]any) { automationParams(task)["InstanceIds"] = []any{"{{RESOURCE_ID}}"} }, "passes InstanceIds, which the runbook does not declare"},
		{"value the pattern refuses", func(task map[string]any) {
			automationParams(task)["AutomationAssumeRole"] = []any{"arn:aws:iam::123456789012:user/someone"}
		}, "whose allowedPattern"},
		{"required parameter missing", func(task map[string]any) { delete(automationParams(task), "InstanceId") }, "which the runbook requires"},
	}
	for _, c := range linkCases {
		t.Run(c.name, func(t *testing.T) {
			calls := completeWindowCalls(t, confDecode(t, set, paths[0]))
			task := calls["RegisterTaskWithMaintenanceWindow"]
			if before := taskRunbookProblems(tmpl, task, runbook); len(before) > 0 {
				t.Fatalf("the unmutated task already fails: %v", before)
			}
			c.mutate(task)
			after := taskRunbookProblems(tmpl, task, runbook)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, after)
			}
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := completeWindowCalls(t, confDecode(t, set, paths[0]))
			if before := checkWindowCalls(m, calls); len(before) > 0 {
				t.Fatalf("the unmutated input already fails: %v", before)
			}
			c.mutate(calls[c.op])
			after := checkWindowCalls(m, calls)
			if !strings.Contains(strings.Join(after, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %s", c.want, fmt.Sprint(after))
			}
		})
	}
}
