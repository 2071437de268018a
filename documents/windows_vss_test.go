package documents

import (
	"os/exec"
	"strings"
	"testing"
)

func TestVSSTagsParameter(t *testing.T) {
	got, err := VSSTagsParameter([]Tag{{"ssm-backup:policy", "file-servers"}, {"Name", ""}, {"CostCenter", "it ops"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Key=ssm-backup:policy,Value=file-servers;Key=Name,Value=;Key=CostCenter,Value=it ops"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []Tag{{"Device", "x"}, {"appconsistent", "x"}, {"AwsVssConfig", "x"}, {"a=b", "c"}, {"k", "v;Key=Device"}, {"k", "a,b"}} {
		if _, err := VSSTagsParameter([]Tag{bad}); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestVSSPreflightStep(t *testing.T) {
	step := VSSPreflightStep("checkVssPrerequisites", VSSPreflightInputs{InstanceId: "{{ InstanceId }}", MinAgentVersion: MinVSSAgentVersion, UnsupportedTypes: "t3.nano", InstallPackages: "false"})
	in := step.Inputs.(executeScriptInputs)
	if in.Handler != "handler" || !strings.Contains(in.Script, "def handler(events, context):") {
		t.Error("the step does not carry the preflight handler")
	}
	if !strings.HasPrefix(in.Script, "# ssm-backup windows_vss_preflight.py: documented in documents/scripts/windows_vss_preflight.py") {
		t.Errorf("script starts %q", strings.SplitN(in.Script, "\n", 2)[0])
	}
	if strings.Contains(in.Script, "Preflight of a Windows VSS backup") {
		t.Error("the module docstring was not left out")
	}
	if step.OnFailure != "Abort" || len(step.Outputs) != 3 {
		t.Errorf("onFailure %q, %d outputs", step.OnFailure, len(step.Outputs))
	}
}

// TestVSSPreflightStepKeepsTheCode proves with Python's parser that the
// step text is the same program as the script.
func TestVSSPreflightStepKeepsTheCode(t *testing.T) {
	python := requirePython(t)
	dump := func(src string) string {
		cmd := exec.CommandContext(t.Context(), python, "-c",
			"import ast,sys\ntree=ast.parse(sys.stdin.read())\nif tree.body and isinstance(tree.body[0],ast.Expr) and isinstance(tree.body[0].value,ast.Constant): tree.body=tree.body[1:]\nprint(ast.dump(tree))")
		cmd.Stdin = strings.NewReader(src)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python3: %v\n%s", err, out)
		}
		return string(out)
	}
	if dump(windowsVSSPreflightStep()) != dump(windowsVSSPreflightScript) {
		t.Error("the step text is not the same program as scripts/windows_vss_preflight.py")
	}
	if dump(snapshotRootVolumeStep()) != dump(snapshotRootVolumeScript) {
		t.Error("the step text is not the same program as scripts/snapshot_root_volume.py")
	}
	if !strings.HasPrefix(snapshotRootVolumeStep(), "# ssm-backup snapshot_root_volume.py: documented in documents/scripts/snapshot_root_volume.py") {
		t.Error("the root-volume step does not say where its source is")
	}
}
