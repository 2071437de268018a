package review_test

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
	"github.com/ssm-backup/ssm-backup/review"
)

var update = flag.Bool("update", false, "rewrite the expected plan.md and plan.json of testdata/review")

// goldenNow is the instant golden plans list next runs from.
var goldenNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// readPolicies reads the *.yaml of dir, named as the command line names
// them from the repository root; none when dir does not exist.
func readPolicies(t testing.TB, dir string) []policies.File {
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
	return files
}

// compileSide compiles policies in memory as plan does; an empty list is an
// empty set.
func compileSide(t testing.TB, files []policies.File) (compiler.Files, []review.Warning) {
	t.Helper()
	if len(files) == 0 {
		return compiler.Files{}, []review.Warning{}
	}
	res := compiler.Compile(files, compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("policies do not compile:\n%v", res.Diagnostics)
	}
	return res.Files, review.WarningsOf(res.Policies, res.Diagnostics)
}

// TestGolden compiles testdata/review/<case>/old and new and compares the
// plan with plan.md and plan.json. The old side's warnings are read back
// from its summary, as when plan runs against a directory; the new side's
// come from the compilation.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("..", "testdata", "review", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in testdata/review")
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			oldFiles, _ := compileSide(t, readPolicies(t, filepath.Join(dir, "old")))
			newPolicies := readPolicies(t, filepath.Join(dir, "new"))
			if len(newPolicies) == 0 {
				t.Fatalf("%s/new holds no policy", dir)
			}
			newFiles, newWarnings := compileSide(t, newPolicies)
			plan := review.Compare(review.Input{
				Old:     review.Side{Files: oldFiles},
				New:     review.Side{Files: newFiles, Warnings: newWarnings},
				Now:     goldenNow,
				Against: filepath.ToSlash(filepath.Join("testdata", "review", filepath.Base(dir), "old")),
			})
			js, err := plan.JSON()
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range map[string][]byte{"plan.md": plan.Markdown(), "plan.json": js} {
				golden := filepath.Join(dir, name)
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./review -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s differs (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}
