package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func decodeJSON[T any](t *testing.T, stdout string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, stdout)
	}
	return v
}

func TestValidateOutputJSON(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, validPolicy)
	code, stdout, stderr := run(t, "validate", good, "--output", "json")
	res := decodeJSON[validateResult](t, stdout)
	if code != 0 || !res.Valid || !slices.Equal(res.Policies, []string{"cli-test"}) || res.Errors != 0 || res.Warnings != 2 {
		t.Fatalf("valid policy: exit %d, %+v", code, res)
	}
	if !strings.Contains(stderr, "warning[W001]") {
		t.Errorf("the human text must stay on stderr:\n%s", stderr)
	}
	d := res.Diagnostics[0]
	if d.Severity != "warning" || d.Code != "W001" || d.Range.File != filepath.ToSlash(good) || d.Range.Start.Line != 5 || d.Range.Start.Column != 1 {
		t.Errorf("diagnostic = %+v", d)
	}

	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, strings.Replace(validPolicy, "consistency: filesystem", "consistency: filesytem", 1))
	code, stdout, _ = run(t, "validate", bad, "--output", "json", "--strict")
	res = decodeJSON[validateResult](t, stdout)
	if code != exitInvalid || res.Valid || res.Errors == 0 {
		t.Fatalf("invalid policy: exit %d, %+v", code, res)
	}
	var found bool
	for _, d := range res.Diagnostics {
		if d.Severity == "error" && d.Path == "spec.consistency" && strings.Contains(d.Detail, `did you mean "filesystem"?`) &&
			d.Range.Start.Line == 10 && d.Range.Start.Column == 16 && d.Range.End.Column == 25 {
			found = true
		}
	}
	if !found {
		t.Errorf("no error with its range at spec.consistency: %+v", res.Diagnostics)
	}
	if code, _, _ := run(t, "validate", good, "--output", "xml"); code != exitUsage {
		t.Errorf("--output xml: exit %d, want %d", code, exitUsage)
	}
}

func TestCompileOutputJSON(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	writeFile(t, pol, validPolicy)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := run(t, "compile", pol, "-o", out, "--now", planNow, "--output", "json")
	res := decodeJSON[compileResult](t, stdout)
	if code != 0 || !res.OK || res.Check || res.OutputDir != out || !slices.Contains(res.Files, "summary.md") || !slices.IsSorted(res.Files) || len(res.Stale) != 0 {
		t.Fatalf("compile: exit %d, %+v\n%s", code, res, stderr)
	}
	if !strings.Contains(stderr, "wrote ") {
		t.Errorf("progress must stay on stderr:\n%s", stderr)
	}
	written := snapshotTree(t, out)
	for _, f := range res.Files {
		if !strings.Contains(written, filepath.Join(out, filepath.FromSlash(f))+"\n") {
			t.Errorf("%s is listed but not written", f)
		}
	}

	// --check lists the stale files with what is wrong with each.
	writeFile(t, pol, strings.Replace(validPolicy, "cron(0 0 * * ? *)", "cron(0 1 * * ? *)", 1))
	writeFile(t, filepath.Join(out, "policies", "gone", "x.json"), "{}\n")
	code, stdout, _ = run(t, "compile", pol, "-o", out, "--check", "--now", planNow, "--output", "json")
	res = decodeJSON[compileResult](t, stdout)
	if code != exitInvalid || res.OK || !res.Check {
		t.Fatalf("stale check: exit %d, %+v", code, res)
	}
	if !slices.Contains(res.Stale, staleFile{"policies/cli-test/maintenance-window.json", "changed"}) || !slices.Contains(res.Stale, staleFile{"policies/gone/x.json", "extra"}) {
		t.Errorf("stale = %+v", res.Stale)
	}

	// Invalid policies: no files, the diagnostics, exit 1.
	writeFile(t, pol, validPolicy+"  retenton: {count: 3}\n")
	code, stdout, _ = run(t, "compile", pol, "-o", out, "--output", "json")
	res = decodeJSON[compileResult](t, stdout)
	if code != exitInvalid || res.OK || len(res.Files) != 0 || !slices.ContainsFunc(res.Diagnostics, func(d jsonDiagnostic) bool { return d.Severity == "error" && d.Path == "spec.retenton" }) {
		t.Fatalf("invalid: exit %d, %+v", code, res)
	}
}
