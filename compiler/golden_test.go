package compiler_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenNow is the instant golden summaries list next runs from.
var goldenNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// readCase reads every *.yaml of a golden case directory, named as the CLI
// would name them (relative to the repository root).
func readCase(t testing.TB, dir string) []policies.File {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(matches)
	var files []policies.File
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel("..", m)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, policies.File{Name: filepath.ToSlash(rel), Data: b})
	}
	if len(files) == 0 {
		t.Fatalf("%s holds no *.yaml", dir)
	}
	return files
}

func readTree(t testing.TB, dir string) compiler.Files {
	t.Helper()
	out := compiler.Files{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func writeTree(t testing.TB, dir string, files compiler.Files) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range files.Paths() {
		target := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, files[p], 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGolden compiles each testdata/golden/<case> and compares the whole
// emitted tree and the printed diagnostics byte for byte.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("../testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res := compiler.Compile(readCase(t, dir), compiler.Options{Now: goldenNow})
			var stderr bytes.Buffer
			res.Diagnostics.Print(&stderr)
			outDir := filepath.Join(dir, "out")
			stderrPath := filepath.Join(dir, "stderr.txt")
			if *update {
				writeTree(t, outDir, res.Files)
				if err := os.WriteFile(stderrPath, stderr.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantStderr, err := os.ReadFile(stderrPath)
			if err != nil {
				t.Fatalf("%v (run go test ./compiler -update)", err)
			}
			if d := cmp.Diff(string(wantStderr), stderr.String()); d != "" {
				t.Errorf("diagnostics differ (-want +got):\n%s", d)
			}
			want := readTree(t, outDir)
			got := res.Files
			if got == nil {
				got = compiler.Files{}
			}
			for _, p := range unionPaths(want, got) {
				w, inWant := want[p]
				g, inGot := got[p]
				switch {
				case !inGot:
					t.Errorf("%s: no longer emitted", p)
				case !inWant:
					t.Errorf("%s: emitted but not in golden tree", p)
				case !bytes.Equal(w, g):
					t.Errorf("%s differs (-want +got):\n%s", p, cmp.Diff(string(w), string(g)))
				}
			}
		})
	}
}

func unionPaths(a, b compiler.Files) []string {
	seen := map[string]bool{}
	for p := range a {
		seen[p] = true
	}
	for p := range b {
		seen[p] = true
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestDeterministic compiles the same input twice, and with the files in
// reverse order, and expects identical trees.
func TestDeterministic(t *testing.T) {
	files := readCase(t, "../testdata/golden/multi-policy")
	a := compiler.Compile(files, compiler.Options{Now: goldenNow})
	rev := append([]policies.File(nil), files...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b := compiler.Compile(rev, compiler.Options{Now: goldenNow})
	if a.Diagnostics.HasErrors() {
		t.Fatalf("unexpected errors: %v", a.Diagnostics)
	}
	if d := cmp.Diff(a.Files, b.Files); d != "" {
		t.Fatalf("output depends on input order:\n%s", d)
	}
	for p, content := range a.Files {
		if !bytes.HasSuffix(content, []byte("\n")) {
			t.Errorf("%s does not end with a newline", p)
		}
		if bytes.Contains(content, []byte("\r")) {
			t.Errorf("%s contains a carriage return", p)
		}
		if strings.Contains(string(content), goldenNow.Add(24*time.Hour).Format("2006")) && p != compiler.SummaryPath {
			t.Errorf("%s mentions a date; only the summary may depend on the clock", p)
		}
	}
}

// TestLogicalIDsAreDeclared keeps Names.LogicalIDs, which the collision
// check relies on, in step with the resources the template really holds.
func TestLogicalIDsAreDeclared(t *testing.T) {
	res := compiler.Compile(readCase(t, "../testdata/golden/multi-policy"), compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		t.Fatal(res.Diagnostics)
	}
	declared := map[string]bool{compiler.LinuxSnapshotLogicalID: true}
	for _, p := range res.Plan.Policies {
		for _, id := range p.Names.LogicalIDs() {
			declared[id] = true
		}
	}
	var tmpl struct {
		Resources map[string]any
		Outputs   map[string]any
	}
	if err := json.Unmarshal(res.Files[compiler.TemplatePath], &tmpl); err != nil {
		t.Fatal(err)
	}
	for id := range tmpl.Resources {
		if !declared[id] {
			t.Errorf("template resource %s is not in Names.LogicalIDs", id)
		}
	}
	for id := range tmpl.Outputs {
		if !declared[id] {
			t.Errorf("template output %s is not in Names.LogicalIDs", id)
		}
	}
}
