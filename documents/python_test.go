package documents

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirePython returns the path of python3, checking that it can import
// the named modules. Without them the test is skipped, except under CI=true
// where it fails.
func requirePython(t *testing.T, modules ...string) string {
	t.Helper()
	what := "python3"
	python, err := exec.LookPath("python3")
	if len(modules) > 0 {
		what = "python3 with " + modules[0]
		if err == nil {
			err = exec.CommandContext(t.Context(), python, "-c", "import "+strings.Join(modules, ", ")).Run()
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", what, err)
		}
		t.Skipf("%s not available: %v", what, err)
	}
	return python
}

// runScriptTests runs Python test modules next to the scripts (python3 -m
// unittest -v MODULE...; every test module when none is named). They need
// python3 with boto3; without them the test is skipped, except under CI=true
// where it fails.
func runScriptTests(t *testing.T, modules ...string) {
	t.Helper()
	python := requirePython(t, "boto3", "botocore")
	cmd := exec.CommandContext(t.Context(), python, append([]string{"-m", "unittest", "-v"}, modules...)...)
	cmd.Dir = "scripts"
	// No __pycache__ in the source tree.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest %s in %s: %v\n%s", strings.Join(modules, " "), cmd.Dir, err, out)
	}
	t.Logf("%s", out)
}

// checkEmbeddedScript checks that script, named name, returns a copy of
// scripts/file, which a caller cannot change, and that the file holds
// each of wants.
func checkEmbeddedScript(t *testing.T, name string, script func() []byte, file string, wants ...string) {
	t.Helper()
	onDisk, err := os.ReadFile(filepath.Join("scripts", file))
	if err != nil {
		t.Fatal(err)
	}
	got := script()
	if !bytes.Equal(got, onDisk) {
		t.Errorf("%s differs from scripts/%s", name, file)
	}
	got[0] ^= 0xff
	if !bytes.Equal(script(), onDisk) {
		t.Error("changing the returned bytes changed the embedded script")
	}
	for _, want := range wants {
		if !bytes.Contains(onDisk, []byte(want)) {
			t.Errorf("script lacks %q", want)
		}
	}
}
