package compiler_test

// Proves the promise of every Windows runbook with custom hooks: the
// snapshot command is reached only through the pre hooks, its success goes
// straight to the post hooks, and from the pre hooks on every path —
// success, failure, cancellation — passes a post-hooks step before the run
// ends; and the hooks steps pass the shared hooks document only values it
// declares and admits.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/documents"
)

// hookAction is the Action a step passes to the hooks document, or "".
func hookAction(s map[string]any) string {
	in, _ := s["inputs"].(map[string]any)
	name, _ := in["DocumentName"].(string)
	if s["action"] != "aws:runCommand" || !strings.HasPrefix(name, compiler.WindowsHooksDocument+"-") {
		return ""
	}
	params, _ := in["Parameters"].(map[string]any)
	values := confList(params[documents.HooksParamAction])
	if len(values) != 1 {
		return "?"
	}
	v, _ := values[0].(string)
	return v
}

// isWindowsSnapshotCommand tells the step that runs the VSS snapshot on
// the instance: AWS's VSS document or the set's DISKSHADOW document.
func isWindowsSnapshotCommand(s map[string]any) bool {
	in, _ := s["inputs"].(map[string]any)
	name, _ := in["DocumentName"].(string)
	return s["action"] == "aws:runCommand" && (name == documents.CreateVSSSnapshotDocument || strings.HasPrefix(name, compiler.WindowsDiskshadowDocument+"-"))
}

// confFilterSteps is a copy of the runbook with only the steps keep takes.
func confFilterSteps(runbook any, keep func(map[string]any) bool) any {
	top, _ := runbook.(map[string]any)
	out := map[string]any{}
	for k, v := range top {
		out[k] = v
	}
	var steps []any
	for _, s := range confSteps(runbook) {
		if keep(s) {
			steps = append(steps, s)
		}
	}
	out["mainSteps"] = steps
	return out
}

func windowsHooksProblems(runbook any) []string {
	var out []string
	steps := confSteps(runbook)
	byName := map[string]int{}
	pre, snapshot := -1, -1
	posts := 0
	for i, s := range steps {
		name, _ := s["name"].(string)
		byName[name] = i
		switch hookAction(s) {
		case documents.HookActionPre:
			if pre >= 0 {
				out = append(out, name+": a second pre-hooks step")
			}
			pre = i
		case documents.HookActionPost:
			posts++
		case "":
		default:
			out = append(out, name+": runs the hooks document with no valid Action")
		}
		if isWindowsSnapshotCommand(s) {
			snapshot = i
		}
	}
	if pre < 0 || snapshot < 0 || posts == 0 {
		return append(out, "want one pre-hooks step, the snapshot command and a post-hooks step")
	}
	// The snapshot command is reached only through the pre hooks.
	var reaches func(i int, seen map[int]bool) bool
	reaches = func(i int, seen map[int]bool) bool {
		if i == snapshot {
			return true
		}
		if i == pre || seen[i] {
			return false
		}
		seen[i] = true
		succ, fail := confNext(steps, i)
		for _, n := range append(succ, fail...) {
			if j, ok := byName[n]; ok && reaches(j, seen) {
				return true
			}
		}
		return false
	}
	if reaches(0, map[int]bool{}) {
		out = append(out, steps[snapshot]["name"].(string)+": reached without the pre hooks")
	}
	// Its success goes straight to the post hooks.
	if succ, _ := confNext(steps, snapshot); len(succ) != 1 || succ[0] == "" || hookAction(steps[byName[succ[0]]]) != documents.HookActionPost {
		out = append(out, steps[snapshot]["name"].(string)+": its success does not go straight to the post hooks")
	}
	// From the pre hooks, no path ends before a post-hooks step.
	isPost := func(s map[string]any) bool { return hookAction(s) == documents.HookActionPost }
	endsWithoutPost := func(i int, seen map[int]bool) bool { return confEndsAvoiding(steps, i, isPost, seen, &out) }
	if endsWithoutPost(pre, map[int]bool{}) {
		out = append(out, steps[pre]["name"].(string)+": a path from the pre hooks ends without running the post hooks")
	}
	// A post-hooks step that fails or is cancelled leads to another try,
	// but for the last resort at the runbook's end, which retries itself.
	for i, s := range steps {
		if hookAction(s) != documents.HookActionPost {
			continue
		}
		if i == len(steps)-1 {
			if n, _ := strconv.Atoi(fmt.Sprint(s["maxAttempts"])); n < 2 {
				out = append(out, s["name"].(string)+": the last-resort post hooks are not retried")
			}
			continue
		}
		_, fail := confNext(steps, i)
		for _, n := range fail {
			if j, ok := byName[n]; !ok || hookAction(steps[j]) != documents.HookActionPost {
				out = append(out, s["name"].(string)+": a failed or cancelled post-hooks step must lead to another try")
				break
			}
		}
	}
	return out
}

func TestConformanceWindowsHooks(t *testing.T) {
	checked := 0
	for _, set := range conformanceSets(t) {
		tmpl, _ := confDecodeTemplate(t, set)
		for _, policy := range set.SSMPolicies() {
			runbook := confDecode(t, set, compiler.PolicyDir(policy)+"automation-runbook.json")
			hooks := confFilterSteps(runbook, func(s map[string]any) bool { return hookAction(s) != "" })
			if len(confSteps(hooks)) == 0 {
				continue
			}
			t.Run(set.Name+"/"+policy, func(t *testing.T) {
				doc := confDecode(t, set, compiler.WindowsHooksDir+"command-document.json")
				for _, p := range commandDocProblems(doc) {
					t.Error(p)
				}
				for _, p := range runbookLinkProblems(hooks, commandDocumentName(t, tmpl, doc), doc) {
					t.Error("automation-runbook.json: " + p)
				}
				for _, p := range windowsHooksProblems(runbook) {
					t.Error("automation-runbook.json: " + p)
				}
			})
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no runbook runs custom Windows hooks; nothing was checked")
	}
	t.Logf("checked %d runbooks with custom Windows hooks", checked)
}

// TestWindowsHooksNegativeControl proves the control-flow check can fail.
func TestWindowsHooksNegativeControl(t *testing.T) {
	set := goldenSet(t, "windows-custom-hooks")
	path := compiler.PolicyDir("erp-servers") + "automation-runbook.json"
	if p := windowsHooksProblems(confDecode(t, set, path)); len(p) > 0 {
		t.Fatalf("the unmutated runbook already fails: %v", p)
	}
	step := func(rb any, name string) map[string]any {
		for _, s := range confSteps(rb) {
			if s["name"] == name {
				return s
			}
		}
		t.Fatalf("no step %s", name)
		return nil
	}
	for name, c := range map[string]struct {
		mutate func(rb any)
		want   string
	}{
		"branch skips the pre hooks": {func(rb any) {
			in := step(rb, "branchOnVssComponents")["inputs"].(map[string]any)
			in["Choices"].([]any)[0].(map[string]any)["NextStep"] = "takeVssSnapshots"
		}, "reached without the pre hooks"},
		"snapshot failure aborts": {func(rb any) {
			step(rb, "takeVssSnapshots")["onFailure"] = "Abort"
		}, "ends without running the post hooks"},
		"pre-hooks cancellation aborts": {func(rb any) {
			delete(step(rb, "runPreHooks"), "onCancel")
		}, "ends without running the post hooks"},
		"post hooks not next": {func(rb any) {
			step(rb, "takeVssSnapshots")["nextStep"] = "verifyVssSnapshots"
		}, "does not go straight to the post hooks"},
		"post failure aborts": {func(rb any) {
			step(rb, "runPostHooks")["onFailure"] = "Abort"
		}, "must lead to another try"},
		"last resort not retried": {func(rb any) {
			delete(step(rb, "runPostHooksAfterFailure"), "maxAttempts")
		}, "last-resort post hooks are not retried"},
	} {
		rb := confDecode(t, set, path)
		c.mutate(rb)
		if got := windowsHooksProblems(rb); !strings.Contains(strings.Join(got, "\n"), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, got)
		}
	}
}
