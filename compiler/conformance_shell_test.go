package compiler_test

// Proves that every emitted shell script (policies/<name>/*.sh) and the
// shell text the command documents hand to aws:runShellScript pass
// shellcheck (https://www.shellcheck.net), at every severity. Under CI=true
// a missing shellcheck fails the test instead of skipping it. A script with
// a known defect is checked too, to prove shellcheck runs and reports.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// confShellcheck runs shellcheck on one file and returns its findings, one per
// line, in gcc format ("file:line:col: severity: message [SCxxxx]").
func confShellcheck(t *testing.T, bin, path string, extra ...string) []string {
	t.Helper()
	args := append([]string{"--format=gcc", "--severity=style"}, extra...)
	cmd := exec.Command(bin, append(args, path)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Exit 1 means findings; anything else is a failure to run.
	if exit, ok := err.(*exec.ExitError); err != nil && (!ok || exit.ExitCode() != 1) {
		t.Fatalf("shellcheck %s: %v\n%s", path, err, stderr.String())
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// runShellScriptTexts returns the shell text of each aws:runShellScript
// step of a command document: its runCommand lines joined, as SSM Agent
// writes them to the script file it runs, with every {{ parameter }}
// replaced by a value the parameter admits. The value is derived from the
// parameter's constraint, not taken from its default, so that documents
// differing only in defaults give the same text and shellcheck (about a
// second per copy of the snapshot script) runs once; which values are
// safe to substitute is what the allowedPattern checks prove.
func runShellScriptTexts(t *testing.T, doc any) []string {
	t.Helper()
	samples := map[string]string{}
	for _, p := range conformance.CommandParameters(doc) {
		samples[p.Name] = "sample"
		switch {
		case len(p.AllowedValues) > 0:
			samples[p.Name] = fmt.Sprint(p.AllowedValues[0])
		case p.AllowedPattern != "":
			if s, ok := conformance.SampleMatch(regexp.MustCompile(p.AllowedPattern)); ok {
				samples[p.Name] = s
			}
		case p.HasDefault:
			samples[p.Name] = fmt.Sprint(p.Default)
		}
	}
	top, _ := doc.(map[string]any)
	steps, _ := top["mainSteps"].([]any)
	var out []string
	for _, s := range steps {
		step, _ := s.(map[string]any)
		if step["action"] != "aws:runShellScript" {
			continue
		}
		inputs, _ := step["inputs"].(map[string]any)
		var lines []string
		for _, l := range conformance.StringList(inputs["runCommand"]) {
			for name, v := range samples {
				l = regexp.MustCompile(`\{\{\s*`+regexp.QuoteMeta(name)+`\s*\}\}`).ReplaceAllLiteralString(l, v)
			}
			lines = append(lines, l)
		}
		out = append(out, strings.Join(lines, "\n")+"\n")
	}
	return out
}

// TestConformanceShellcheck runs shellcheck on every distinct script.
func TestConformanceShellcheck(t *testing.T) {
	bin := confRequireTool(t, "shellcheck", "apt-get install shellcheck")
	dir := t.TempDir()
	// Scripts repeat across policies and sets; check each content once
	// and name every place it came from.
	sources := map[string][]string{}
	contents := map[string][]byte{}
	add := func(origin string, b []byte) {
		sum := fmt.Sprintf("%x", sha256.Sum256(b))[:16]
		sources[sum] = append(sources[sum], origin)
		contents[sum] = b
	}
	for _, set := range conformanceSets(t) {
		for _, p := range set.PathsWithSuffix(".sh") {
			add(set.Name+"/"+p, set.Files[p])
		}
		for _, p := range set.PathsWithSuffix("/command-document.json") {
			for i, text := range runShellScriptTexts(t, confDecode(t, set, p)) {
				add(fmt.Sprintf("%s/%s mainSteps runShellScript #%d", set.Name, p, i), []byte(text))
			}
		}
	}
	if len(contents) == 0 {
		t.Fatal("no shell script was emitted; nothing was checked")
	}
	var sums []string
	for s := range contents {
		sums = append(sums, s)
	}
	sort.Strings(sums)
	for _, sum := range sums {
		path := filepath.Join(dir, sum+".sh")
		if err := os.WriteFile(path, contents[sum], 0o644); err != nil {
			t.Fatal(err)
		}
		var extra []string
		if !bytes.HasPrefix(contents[sum], []byte("#!")) {
			// SSM Agent runs runCommand text with sh when it has no shebang.
			extra = append(extra, "--shell=sh")
		}
		for _, f := range confShellcheck(t, bin, path, extra...) {
			t.Errorf("%s: %s", strings.Join(sources[sum], ", "), strings.TrimPrefix(f, path+":"))
		}
	}
	t.Logf("shellcheck: checked %d distinct scripts", len(contents))
}

// TestConformanceShellcheckNegativeControl proves shellcheck runs and
// reports: an unquoted expansion is SC2086.
func TestConformanceShellcheckNegativeControl(t *testing.T) {
	bin := confRequireTool(t, "shellcheck", "apt-get install shellcheck")
	path := filepath.Join(t.TempDir(), "broken.sh")
	if err := os.WriteFile(path, []byte("#!/bin/bash\nrm -rf $1/data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	findings := confShellcheck(t, bin, path)
	if !strings.Contains(strings.Join(findings, "\n"), "SC2086") {
		t.Fatalf("shellcheck did not report SC2086 on an unquoted expansion: %v", findings)
	}
}
