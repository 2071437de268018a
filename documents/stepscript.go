package documents

import (
	"strings"
	"sync"
)

// stepScript is the text of an embedded Python script as an
// aws:executeScript step carries it: without the module docstring, the
// full-line comments and the blank lines, which document the script in
// the source tree (documents/scripts) but would cost a runbook a third of
// SSM's 64 KB document limit. Code, strings and function docstrings are
// kept; TestStepScriptsKeepTheCode proves with Python's own parser that
// the program is unchanged. The first line says where the full text is.
func stepScript(name, src string) string {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	i := 0
	if len(lines) > 0 && strings.HasPrefix(lines[0], `"""`) {
		// The module docstring: up to the line that closes it.
		if strings.Count(lines[0], `"""`) >= 2 {
			i = 1
		} else {
			for i = 1; i < len(lines) && !strings.Contains(lines[i], `"""`); i++ {
			}
			i++
		}
	}
	out := []string{"# ssm-backup " + name + ": documented in documents/scripts/" + name + " of the ssm-backup source."}
	for _, line := range lines[min(i, len(lines)):] {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

var (
	stepScriptsOnce sync.Once
	stepScripts     map[string]string
)

// stepScriptOf returns the step text of one embedded script, computed once.
func stepScriptOf(name string) string {
	stepScriptsOnce.Do(func() {
		stepScripts = map[string]string{
			"prune_snapshots.py": stepScript("prune_snapshots.py", pruneSnapshotsScript),
			"copy_snapshots.py":  stepScript("copy_snapshots.py", copySnapshotsScript),
			"drill_restore.py":   stepScript("drill_restore.py", drillRestoreScript),
		}
	})
	return stepScripts[name]
}
