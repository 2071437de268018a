package compiler_test

// Parses every PowerShell the compiled sets hold: each emitted .ps1, and
// the run command of every aws:runPowerShellScript step of every command
// document, with the tree-sitter PowerShell grammar of tools/psparse (no
// pwsh here). Without node or the npm packages the test is skipped, except
// under CI=true where it fails.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestConformancePowerShell(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "tools", "psparse"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "tree-sitter-powershell", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the PowerShell parser is required under CI (run scripts/install-test-deps.sh): %v", err)
		}
		t.Skipf("PowerShell parser not available: %v", err)
	}
	tmp := t.TempDir()
	args := []string{"--no-deprecation", filepath.Join(dir, "check.mjs")}
	origin := map[string]string{}
	add := func(where, text string) {
		p := filepath.Join(tmp, fmt.Sprintf("%03d.ps1", len(origin)))
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		origin[p] = where
		args = append(args, p)
	}
	for _, set := range conformanceSets(t) {
		for _, path := range set.Files.Paths() {
			if strings.HasSuffix(path, ".ps1") {
				add(set.Name+"/"+path, string(set.Files[path]))
			}
			if !strings.HasSuffix(path, "command-document.json") {
				continue
			}
			var doc struct {
				MainSteps []struct {
					Action string
					Name   string
					Inputs struct{ RunCommand []string }
				}
			}
			if err := json.Unmarshal(set.Files[path], &doc); err != nil {
				t.Fatalf("%s/%s: %v", set.Name, path, err)
			}
			for _, s := range doc.MainSteps {
				if s.Action == "aws:runPowerShellScript" {
					add(set.Name+"/"+path+" step "+s.Name, strings.Join(s.Inputs.RunCommand, "\n")+"\n")
				}
			}
		}
	}
	if len(origin) == 0 {
		t.Fatal("no PowerShell was emitted; nothing was checked")
	}
	cmd := exec.CommandContext(t.Context(), node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, exit := err.(*exec.ExitError); !exit {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r struct {
			File   string
			OK     bool
			Errors []any
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("parser output %q: %v", line, err)
		}
		checked++
		if !r.OK {
			t.Errorf("%s does not parse as PowerShell: %v", origin[r.File], r.Errors)
		}
	}
	if checked != len(origin) {
		t.Fatalf("the parser reported %d of %d scripts\n%s", checked, len(origin), stderr.String())
	}
	t.Logf("parsed %d PowerShell scripts", checked)
}
