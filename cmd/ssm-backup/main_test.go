package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

const validPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: cli-test
spec:
  platform: linux
  targets:
    tags: {Backup: cli}
  volumes: data
  consistency: filesystem
  schedule:
    expression: cron(0 0 * * ? *)
`

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"compile", "--no-such-flag"},
		{"compile", "x.yaml"}, // no -o
		{"compile", "does-not-exist", "-o", t.TempDir()},
		{"validate"},
		{"schema", "extra"},
		{"compile", "x.yaml", "-o", t.TempDir(), "--now", "yesterday"},
	} {
		code, _, stderr := run(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr)
		}
		if stderr == "" {
			t.Errorf("%v: no message on stderr", args)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := run(t, "--version")
	if code != 0 || !strings.Contains(out, "ssm-backup version") {
		t.Fatalf("--version: exit %d, out %q", code, out)
	}
	code, out, _ = run(t, "--help")
	if code != 0 || !strings.Contains(out, "compile") || !strings.Contains(out, "Exit status") {
		t.Fatalf("--help: exit %d, out %q", code, out)
	}
}

func TestSchemaPrintsCommittedSchema(t *testing.T) {
	code, out, stderr := run(t, "schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile("../../schemas/policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatal("ssm-backup schema differs from schemas/policy.schema.json")
	}
}

func TestCompileWritesAndChecks(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies", "p.yaml")
	writeFile(t, pol, validPolicy)
	out := filepath.Join(dir, "out")
	code, _, stderr := run(t, "compile", filepath.Join(dir, "policies"), "-o", out, "--now", "2026-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("compile: exit %d\n%s", code, stderr)
	}
	for _, p := range []string{"summary.md", "cloudformation/template.json", "policies/cli-test/automation-runbook.json", "shared/linux-snapshot/command-document.json", "shared/linux-snapshot/linux-snapshot.sh"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	// --check without --now reuses the instant recorded in the summary.
	code, _, stderr = run(t, "compile", pol, "-o", out, "--check")
	if code != 0 {
		t.Fatalf("check of fresh output: exit %d\n%s", code, stderr)
	}
	// A changed policy makes the output stale.
	writeFile(t, pol, strings.Replace(validPolicy, "cron(0 0 * * ? *)", "cron(0 1 * * ? *)", 1))
	code, _, stderr = run(t, "compile", pol, "-o", out, "--check")
	if code != exitInvalid || !strings.Contains(stderr, "changed: policies/cli-test/maintenance-window.json") || !strings.Contains(stderr, "stale") {
		t.Fatalf("check of stale output: exit %d\n%s", code, stderr)
	}
	// A file that is no longer generated is reported, and removed by compile.
	writeFile(t, filepath.Join(out, "policies", "gone", "command-document.json"), "{}\n")
	code, _, stderr = run(t, "compile", pol, "-o", out, "--check", "--now", "2026-01-01T00:00:00Z")
	if code != exitInvalid || !strings.Contains(stderr, "not generated any more: policies/gone/command-document.json") {
		t.Fatalf("check with extra file: exit %d\n%s", code, stderr)
	}
	code, _, stderr = run(t, "compile", pol, "-o", out, "--now", "2026-01-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("recompile: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "policies", "gone")); !os.IsNotExist(err) {
		t.Fatalf("stale directory survived a compile: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".out.") {
			t.Errorf("temporary directory left behind: %s", e.Name())
		}
	}
}

func TestInvalidPolicyWritesNothing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, validPolicy)
	out := filepath.Join(dir, "out")
	if code, _, stderr := run(t, "compile", good, "-o", out, "--now", "2026-01-01T00:00:00Z"); code != 0 {
		t.Fatalf("compile: %d\n%s", code, stderr)
	}
	before := snapshotTree(t, out)
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, strings.Replace(validPolicy, "name: cli-test", "name: other", 1)+"  retenton: {count: 3}\n")
	code, _, stderr := run(t, "compile", good, bad, "-o", out)
	if code != exitInvalid {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "bad.yaml:13:3: error: unknown field \"retenton\" in spec") || !strings.Contains(stderr, `did you mean "retention"?`) {
		t.Fatalf("diagnostic missing or without position:\n%s", stderr)
	}
	if after := snapshotTree(t, out); after != before {
		t.Fatal("output directory changed although a policy was invalid")
	}
	// validate reports the same, exit 1.
	if code, _, _ := run(t, "validate", good, bad); code != exitInvalid {
		t.Fatalf("validate: exit %d", code)
	}
}

func TestRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	writeFile(t, pol, validPolicy)
	writeFile(t, filepath.Join(dir, "precious.txt"), "do not delete")
	code, _, stderr := run(t, "compile", pol, "-o", dir)
	if code == 0 || !strings.Contains(stderr, "refusing to replace") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "precious.txt")); err != nil || string(b) != "do not delete" {
		t.Fatal("foreign file was touched")
	}
}

func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + "\n")
		if !d.IsDir() {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestExamplesAreCurrent is what CI runs on a policy repository: the
// committed example output must be what the example policies compile to.
func TestExamplesAreCurrent(t *testing.T) {
	t.Chdir("../..") // file names in the summary are as a user at the repository root gives them
	code, _, stderr := run(t, "compile", "examples/policies", "-o", "examples/out", "--check")
	if code != 0 {
		t.Fatalf("examples/out is stale (exit %d); run: go run ./cmd/ssm-backup compile examples/policies -o examples/out --now 2026-01-01T00:00:00Z\n%s", code, stderr)
	}
}
