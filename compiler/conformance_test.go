package compiler_test

// Conformance tests: every policy set the repository ships (the examples,
// testdata/valid, testdata/golden/*/) is compiled, and each emitted file is
// checked against AWS's published definitions, vendored with their origin
// in testdata/reference (see SOURCES.md there):
//
//	automation-runbook.json       ssm-automation-0.3.schema.json (draft-07),
//	                              and its API steps against the SSM model      conformance_runbook_test.go
//	maintenance-window.json       botocore-ssm-service-2.json (service model)  conformance_window_test.go
//	iam/*.json                    cfn/iam-policy/*.json (cfn-lint, 2020-12)    conformance_iam_test.go
//	cloudformation/template.json  cfn-lint 1.51, cfn/aws-*.json (2020-12)      conformance_cfn_test.go
//	command-document.json         the documented schemaVersion 2.2 format      conformance_command_test.go
//	*.sh, runShellScript text     shellcheck                                   conformance_shell_test.go
//
// Each check has a negative control that feeds it a broken artifact and
// expects a rejection, so a green run means the check looked.
//
// This file collects the inputs once per test binary.

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
	"github.com/ssm-backup/ssm-backup/policies"
)

// confReferenceDir holds the vendored AWS definitions.
const confReferenceDir = "../testdata/reference"

// conformanceNow is the instant summaries list next runs from; no checked
// artifact depends on it.
var conformanceNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// compiledSet is one compiled set of policy files.
type compiledSet struct {
	// Name says where the set came from: "examples", "valid/x.yaml",
	// "golden/multi-policy".
	Name  string
	Files compiler.Files
}

// Policies returns the names of the policies the set emitted files for.
func (s compiledSet) Policies() []string {
	seen := map[string]bool{}
	for p := range s.Files {
		if rest, ok := strings.CutPrefix(p, "policies/"); ok {
			if name, _, ok := strings.Cut(rest, "/"); ok {
				seen[name] = true
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// PathsWithSuffix returns the emitted paths ending in suffix, sorted.
// SSMPolicies are the policies the ssm engine runs: every policy but those
// whose directory holds the main file of another engine (engines.go).
func (s compiledSet) SSMPolicies() []string {
	var out []string
	for _, p := range s.Policies() {
		if s.EngineOf(p) == "ssm" {
			out = append(out, p)
		}
	}
	return out
}

// EngineOf tells a policy's engine by the files it was compiled to.
func (s compiledSet) EngineOf(policy string) string { return engineOfFiles(s.Files, policy) }

// engineOfFiles tells a policy's engine by the main file of its directory:
// backup-plan.json (AWS Backup), dlm-lifecycle-policies.json (Data
// Lifecycle Manager), else ssm.
func engineOfFiles(files compiler.Files, policy string) string {
	dir := compiler.PolicyDir(policy)
	switch {
	case files[dir+"backup-plan.json"] != nil:
		return "backup"
	case files[dir+"dlm-lifecycle-policies.json"] != nil:
		return "dlm"
	}
	return "ssm"
}

func (s compiledSet) PathsWithSuffix(suffix string) []string {
	var out []string
	for _, p := range s.Files.Paths() {
		if strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
	}
	return out
}

var (
	conformanceOnce    sync.Once
	conformanceSetsAll []compiledSet
	conformanceLog     []string
	conformanceErrs    []string
)

// conformanceSets compiles every example and testdata policy set (once per
// test binary) and returns those that compile. Examples must compile
// without errors. A testdata set may hold valid policies that use features
// this compiler does not compile yet (compiler.CheckSupported), or be a
// golden case that expects errors (its stderr.txt says so): such a set has
// no artifacts to check and is skipped with a log line naming why. Any
// other error fails.
func conformanceSets(t testing.TB) []compiledSet {
	t.Helper()
	conformanceOnce.Do(func() {
		conformanceSetsAll, conformanceLog, conformanceErrs = compileConformanceInputs()
	})
	if len(conformanceErrs) > 0 {
		t.Errorf("%d policy sets do not compile; TestConformanceInputs shows why", len(conformanceErrs))
	}
	if len(conformanceSetsAll) == 0 {
		t.Fatal("no policy set compiled; nothing was checked")
	}
	return conformanceSetsAll
}

// TestConformanceInputs reports which policy sets the conformance tests
// check, which they skip and why, and fails on a set that should compile
// and does not.
func TestConformanceInputs(t *testing.T) {
	sets := conformanceSets(t)
	for _, l := range conformanceLog {
		t.Log(l)
	}
	for _, e := range conformanceErrs {
		t.Error(e)
	}
	if sets[0].Name != "examples" {
		t.Errorf("the examples did not compile; every conformance test needs them")
	}
	for _, s := range sets {
		t.Logf("checking %s: %d policies, %d files", s.Name, len(s.Policies()), len(s.Files))
	}
}

type confInput struct {
	name string
	// mayBeUnsupported lets valid policies that use features not yet
	// compiled be skipped; examples must compile.
	mayBeUnsupported bool
	// expectsErrors marks a golden case whose recorded output is errors.
	expectsErrors bool
	files         []policies.File
}

func compileConformanceInputs() (sets []compiledSet, logs, errs []string) {
	inputs, err := conformanceInputs()
	if err != nil {
		return nil, nil, []string{err.Error()}
	}
	for _, in := range inputs {
		res := compiler.Compile(in.files, compiler.Options{Now: conformanceNow})
		if !res.Diagnostics.HasErrors() {
			sets = append(sets, compiledSet{Name: in.name, Files: res.Files})
			continue
		}
		var b strings.Builder
		res.Diagnostics.Errors().Print(&b)
		ps, ds := policies.LoadFiles(in.files)
		ds = append(ds, policies.Validate(ps)...)
		unsupported := compiler.CheckSupported(ps)
		switch {
		case in.expectsErrors:
			logs = append(logs, in.name+": a golden case that expects errors; nothing to check")
		case in.mayBeUnsupported && !ds.HasErrors() && unsupported.HasErrors():
			var what []string
			seen := map[string]bool{}
			for _, d := range unsupported.Errors() {
				if !seen[d.Path] {
					seen[d.Path] = true
					what = append(what, d.Path)
				}
			}
			logs = append(logs, in.name+": valid, but uses what this compiler does not compile yet ("+strings.Join(what, ", ")+"); nothing to check")
		default:
			errs = append(errs, in.name+": does not compile:\n"+b.String())
		}
	}
	return sets, logs, errs
}

// conformanceInputs lists the policy sets: the examples directory as the
// CLI reads it, each testdata/valid file or directory, and each golden case.
func conformanceInputs() ([]confInput, error) {
	var inputs []confInput
	examples, err := confReadDir("../examples/policies")
	if err != nil {
		return nil, err
	}
	inputs = append(inputs, confInput{name: "examples", files: examples})

	valid, _ := filepath.Glob("../testdata/valid/*")
	sort.Strings(valid)
	for _, v := range valid {
		st, err := os.Stat(v)
		if err != nil {
			return nil, err
		}
		var files []policies.File
		switch {
		case st.IsDir():
			files, err = confReadDir(v)
		case confIsPolicyFile(v):
			files, err = confReadFiles([]string{v})
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, confInput{name: "valid/" + filepath.Base(v), files: files, mayBeUnsupported: true})
	}

	golden, _ := filepath.Glob("../testdata/golden/*")
	sort.Strings(golden)
	for _, g := range golden {
		if st, err := os.Stat(g); err != nil || !st.IsDir() {
			continue
		}
		files, err := confReadDir(g)
		if err != nil {
			return nil, err
		}
		stderr, _ := os.ReadFile(filepath.Join(g, "stderr.txt"))
		inputs = append(inputs, confInput{
			name:             "golden/" + filepath.Base(g),
			files:            files,
			mayBeUnsupported: true,
			expectsErrors:    strings.Contains(string(stderr), "error:"),
		})
	}
	return inputs, nil
}

func confIsPolicyFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

func confReadDir(dir string) ([]policies.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && confIsPolicyFile(e.Name()) {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	return confReadFiles(paths)
}

// confReadFiles names files relative to the repository root, as the CLI
// run from there would.
func confReadFiles(paths []string) ([]policies.File, error) {
	var files []policies.File
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel("..", p)
		if err != nil {
			return nil, err
		}
		files = append(files, policies.File{Name: filepath.ToSlash(rel), Data: b})
	}
	return files, nil
}

// confDecode decodes one emitted JSON file.
func confDecode(t testing.TB, set compiledSet, path string) any {
	t.Helper()
	b, ok := set.Files[path]
	if !ok {
		t.Fatalf("%s: %s was not emitted", set.Name, path)
	}
	v, err := conformance.DecodeJSON(b)
	if err != nil {
		t.Fatalf("%s: %s is not JSON: %v", set.Name, path, err)
	}
	return v
}

// confUnderCI reports whether missing tools must fail the run (CI=true) rather
// than skip the test.
func confUnderCI() bool { return os.Getenv("CI") == "true" }

// confRequireTool returns the path of an external program, skipping the test
// when it is missing outside CI and failing it under CI. install says how
// to get it.
func confRequireTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if confUnderCI() {
		t.Fatalf("%s is not on PATH and CI=true: %s", name, install)
	}
	t.Skipf("%s is not on PATH; skipped (under CI=true this fails): %s", name, install)
	return ""
}
