package documents

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// astCompare prints "same" when the two Python files parse to the same
// program, once the module docstring of the first is left out: comments
// and blank lines are not in the syntax tree, docstrings are.
const astCompare = `
import ast, sys
full = ast.parse(open(sys.argv[1]).read())
if full.body and isinstance(full.body[0], ast.Expr) and isinstance(getattr(full.body[0], "value", None), ast.Constant) and isinstance(full.body[0].value.value, str):
    full.body = full.body[1:]
step = ast.parse(open(sys.argv[2]).read())
print("same" if ast.dump(full) == ast.dump(step) else "different")
`

// TestStepScriptsKeepTheCode proves that the text a step carries is the
// same Python program as the reviewed script.
func TestStepScriptsKeepTheCode(t *testing.T) {
	python := requirePython(t)
	for name, src := range map[string]string{
		"prune_snapshots.py": pruneSnapshotsScript,
		"copy_snapshots.py":  copySnapshotsScript,
		"drill_restore.py":   drillRestoreScript,
	} {
		t.Run(name, func(t *testing.T) {
			step := stepScriptOf(name)
			if step == "" || step != stepScript(name, src) {
				t.Fatal("stepScriptOf does not return the step text")
			}
			if len(step) > len(src)*9/10 {
				t.Errorf("step text is %d of %d bytes: the docstring and comments were not left out", len(step), len(src))
			}
			if strings.Contains(step, "\n\n") || strings.Contains(step, "\nAlgorithm\n") {
				t.Error("blank lines or the module docstring remain")
			}
			if !strings.HasPrefix(step, "# ssm-backup "+name+": documented in documents/scripts/"+name) {
				t.Errorf("first line %q", strings.SplitN(step, "\n", 2)[0])
			}
			dir := t.TempDir()
			stepFile := filepath.Join(dir, "step.py")
			if err := os.WriteFile(stepFile, []byte(step), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), python, "-c", astCompare, filepath.Join("scripts", name), stepFile).CombinedOutput()
			if err != nil {
				t.Fatalf("python3: %v\n%s", err, out)
			}
			if strings.TrimSpace(string(out)) != "same" {
				t.Errorf("the step text is not the same program as scripts/%s", name)
			}
		})
	}
}

// TestStepScriptNegativeControl shows the comparison catches a change of
// code, and that stepScript leaves a docstring-less script's code alone.
func TestStepScriptNegativeControl(t *testing.T) {
	got := stepScript("x.py", "import os\n\n# comment\nx = 1  # trailing\n")
	want := "# ssm-backup x.py: documented in documents/scripts/x.py of the ssm-backup source.\nimport os\nx = 1  # trailing\n"
	if got != want {
		t.Errorf("stepScript =\n%q\nwant\n%q", got, want)
	}
	got = stepScript("y.py", "\"\"\"One line.\"\"\"\nx = 1\n")
	if !strings.HasSuffix(got, "\nx = 1\n") || strings.Contains(got, "One line") {
		t.Errorf("one-line module docstring: %q", got)
	}
	python := requirePython(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.py"), filepath.Join(dir, "b.py")
	_ = os.WriteFile(a, []byte("\"\"\"doc\"\"\"\nx = 1\n"), 0o644)
	_ = os.WriteFile(b, []byte("x = 2\n"), 0o644)
	out, err := exec.CommandContext(t.Context(), python, "-c", astCompare, a, b).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "different" {
		t.Errorf("a changed program was not told apart: %s %v", out, err)
	}
}
