package documents

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shellcheck lints a bash file with every check of default severity and
// style; any finding fails the test.
func shellcheck(t *testing.T, name, content string) {
	t.Helper()
	requireTools(t, "shellcheck")
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("shellcheck", "--norc", "--shell=bash", "--severity=style", "--format=gcc", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("shellcheck %s: %v\n%s", name, err, out)
	}
}

func TestShellcheckLinuxSnapshotScript(t *testing.T) {
	shellcheck(t, "linux-snapshot.sh", string(LinuxSnapshotScript()))
}

// The document's runCommand, as SSM writes it to disk with values in place,
// is linted too: the header must not break the script.
func TestShellcheckLinuxSnapshotRunCommand(t *testing.T) {
	doc := mustLinuxSnapshotCommand(t, exampleLinuxSnapshot())
	for name, params := range map[string]map[string]string{
		"defaults": nil,
		"overrides": {
			ParamMounts:       "",
			ParamRunID:        "0f0e0d0c-0b0a-4909-8807-060504030201",
			ParamSnapshotTags: "[]",
			ParamClient:       ClientCLI,
			ParamConsistency:  ConsistencyCrash,
		},
		"application": {
			ParamConsistency: ConsistencyApplication,
			ParamApps:        "mysql:/etc/ssm-backup/mysql.cnf:5:1 postgresql:: custom:/usr/local/sbin/pause:/usr/local/sbin/resume:30",
		},
	} {
		script, err := renderAsSSM(doc, params)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(script, "{{") {
			t.Fatalf("%s: placeholders left after substitution", name)
		}
		shellcheck(t, "runcommand-"+name+".sh", script)
	}
}
