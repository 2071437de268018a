package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

// FuzzCompile: whatever the policy text, Compile returns diagnostics or a
// whole tree, and never panics. The seeds are every valid policy and golden
// case, so mutations reach the lowering and every generator, engines
// included.
func FuzzCompile(f *testing.F) {
	for _, pattern := range []string{"../testdata/valid/*.yaml", "../testdata/golden/*/policy.yaml", "../examples/policies/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := compiler.Compile([]policies.File{{Name: "fuzz.yaml", Data: data}}, compiler.Options{Now: goldenNow})
		for _, d := range res.Diagnostics {
			if strings.HasPrefix(d.Summary, "internal error") {
				t.Fatalf("a policy that passed validation failed to generate: %s", d.Summary)
			}
		}
		if res.Diagnostics.HasErrors() {
			if len(res.Files) != 0 {
				t.Fatalf("%d files emitted despite errors", len(res.Files))
			}
			return
		}
		for _, want := range []string{compiler.SummaryPath, compiler.TemplatePath, compiler.TerraformPath} {
			if _, ok := res.Files[want]; !ok {
				t.Fatalf("compiled without errors but %s is missing", want)
			}
		}
	})
}
