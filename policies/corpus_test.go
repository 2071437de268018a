package policies

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/diag"
)

var update = flag.Bool("update", false, "rewrite the expected .stderr files of the policy corpus and the committed JSON Schema")

// check loads and validates one file the way the command line does and
// returns every diagnostic, sorted.
func check(name string, data []byte) diag.Diagnostics {
	ps, ds := LoadFiles([]File{{Name: name, Data: data}})
	ds = append(ds, Validate(ps)...)
	return ds.Sorted()
}

func corpusFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no policies in testdata/%s", dir)
	}
	return files
}

// TestCorpus runs every policy of testdata/invalid and testdata/valid and
// compares the diagnostics with the .stderr file next to it.
func TestCorpus(t *testing.T) {
	for _, dir := range []string{"invalid", "valid"} {
		for _, file := range corpusFiles(t, dir) {
			base := strings.TrimSuffix(filepath.Base(file), ".yaml")
			t.Run(dir+"/"+base, func(t *testing.T) {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				ds := check("testdata/"+dir+"/"+base+".yaml", data)
				var got bytes.Buffer
				ds.Print(&got)

				switch {
				case dir == "invalid" && !ds.HasErrors():
					t.Errorf("an invalid policy must produce at least one error; got:\n%s", got.String())
				case dir == "valid" && ds.HasErrors():
					t.Errorf("a valid policy must produce no error; got:\n%s", got.String())
				}

				golden := strings.TrimSuffix(file, ".yaml") + ".stderr"
				if *update {
					if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./policies -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got.String()); diff != "" {
					t.Errorf("diagnostics differ from %s (-want +got):\n%s", filepath.Base(golden), diff)
				}
			})
		}
	}
}

// TestCorpusNoStrayGoldens catches .stderr files whose policy was removed.
func TestCorpusNoStrayGoldens(t *testing.T) {
	for _, dir := range []string{"invalid", "valid"} {
		goldens, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.stderr"))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range goldens {
			if _, err := os.Stat(strings.TrimSuffix(g, ".stderr") + ".yaml"); err != nil {
				t.Errorf("%s has no policy next to it", g)
			}
		}
	}
}
