package compiler_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/diag"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

const vssPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: vss-tags
spec:
  platform: windows
  targets:
    tags: {Backup: vss}
  consistency: application
  schedule:
    expression: cron(0 2 ? * SUN *)
  retention: {count: 4}
  copies: [{region: us-west-2}]
  tags:
    Device: xvdf
    Owner: a=b
    Team: storage
`

// TestWindowsVSSTagsRefused: a tag AWSEC2-CreateVssSnapshot reserves, and a
// value with one of its separators, are errors at the tag's position; a
// plain tag is not.
func TestWindowsVSSTagsRefused(t *testing.T) {
	res := compiler.Compile([]policies.File{{Name: "p.yaml", Data: []byte(vssPolicy)}}, compiler.Options{Now: goldenNow})
	got := diagText(res.Diagnostics)
	for _, want := range []string{
		`p.yaml:15:5: error: tag "Device" cannot be passed to AWSEC2-CreateVssSnapshot: tag key "Device" is reserved`,
		`p.yaml:16:5: error: tag "Owner" cannot be passed to AWSEC2-CreateVssSnapshot`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"Team"`) {
		t.Errorf("a plain tag was refused:\n%s", got)
	}
}

// TestWindowsRootVolumeVSS: the root volume alone with VSS compiles with
// DISKSHADOW (a runbook step lists the data volumes the on-instance
// CreateSnapshots excludes) and is refused, at spec.volumes, with AWS's
// VSS document, which snapshots every volume or every data volume.
func TestWindowsRootVolumeVSS(t *testing.T) {
	root := strings.Replace(vssPolicy, "consistency: application", "consistency: application\n  volumes: root", 1)
	res := compiler.Compile([]policies.File{{Name: "p.yaml", Data: []byte(root)}}, compiler.Options{Now: goldenNow})
	got := diagText(res.Diagnostics)
	if !strings.Contains(got, "p.yaml:10:3: error: AWSEC2-CreateVssSnapshot cannot snapshot the root volume alone") || !strings.Contains(got, "vss: diskshadow") {
		t.Errorf("managed VSS, root volume: want the error at spec.volumes naming diskshadow, got:\n%s", got)
	}
	if res.Files != nil {
		t.Error("files were generated for a refused policy")
	}
	clean := strings.Replace(root, "  tags:\n    Device: xvdf\n    Owner: a=b\n    Team: storage\n", "", 1)
	ds := strings.Replace(clean, "consistency: application", "consistency: application\n  windows: {vss: diskshadow}", 1)
	res = compiler.Compile([]policies.File{{Name: "p.yaml", Data: []byte(ds)}}, compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("DISKSHADOW, root volume: %s", diagText(res.Diagnostics))
	}
	var rb struct {
		MainSteps []struct {
			Name   string
			Inputs struct {
				Handler    string
				Parameters map[string][]string
			}
		}
	}
	var path string
	for _, p := range res.Files.Paths() {
		if strings.HasSuffix(p, "automation-runbook.json") {
			path = p
		}
	}
	if err := json.Unmarshal(res.Files[path], &rb); err != nil {
		t.Fatal(err)
	}
	listed, passed := -1, -1
	for i, s := range rb.MainSteps {
		if s.Inputs.Handler == "data_volumes" {
			listed = i
		}
		if v := s.Inputs.Parameters["ExcludeDataVolumeIds"]; len(v) == 1 && v[0] == "{{ listDataVolumes.DataVolumeIds }}" && s.Inputs.Parameters["Volumes"][0] == "root" {
			passed = i
		}
	}
	if listed < 0 || passed < 0 || listed > passed {
		t.Errorf("the data volumes are not listed before the DISKSHADOW command that excludes them (list step %d, command %d)", listed, passed)
	}
}

// TestWindowsCrashDataVolumes: crash-consistent Windows data volumes
// compile to a runbook that snapshots through the EC2 API with the boot
// volume excluded, and an automation role that may not send commands.
func TestWindowsCrashDataVolumes(t *testing.T) {
	src := strings.Replace(vssPolicy, "consistency: application", "consistency: crash\n  volumes: data", 1)
	src = strings.Replace(src, "  apps: [{type: sqlserver}]\n", "", 1)
	res := compiler.Compile([]policies.File{{Name: "p.yaml", Data: []byte(src)}}, compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("does not compile:\n%s", diagText(res.Diagnostics))
	}
	var name string
	for _, p := range res.Files.Paths() {
		if strings.HasSuffix(p, "/automation-runbook.json") {
			name = p
		}
	}
	rb := string(res.Files[name])
	for _, want := range []string{`"action": "aws:executeAwsApi"`, `"Api": "CreateSnapshots"`, `"ExcludeBootVolume": true`, `"Value": "crash"`} {
		if !strings.Contains(rb, want) {
			t.Errorf("%s lacks %s", name, want)
		}
	}
	if strings.Contains(rb, "aws:runCommand") {
		t.Errorf("%s runs a command on the instance", name)
	}
	auto := string(res.Files[strings.Replace(name, "automation-runbook.json", "iam/automation-policy.json", 1)])
	if strings.Contains(auto, "ssm:SendCommand") || !strings.Contains(auto, "ec2:CreateSnapshots") {
		t.Errorf("automation role:\n%s", auto)
	}
}

func diagText(ds diag.Diagnostics) string {
	var b strings.Builder
	ds.Sorted().Print(&b)
	return b.String()
}

// TestWindowsCustomHooksLimit: more custom apps than one run takes is an
// error at spec.apps, not a failure to generate.
func TestWindowsCustomHooksLimit(t *testing.T) {
	var apps strings.Builder
	apps.WriteString("  apps:\n")
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&apps, "    - {type: custom, pre: 'C:\\hooks\\pre%d.cmd'}\n", i)
	}
	src := strings.Replace(vssPolicy, "  tags:\n    Device: xvdf\n    Owner: a=b\n    Team: storage\n", apps.String(), 1)
	res := compiler.Compile([]policies.File{{Name: "p.yaml", Data: []byte(src)}}, compiler.Options{Now: goldenNow})
	if got := diagText(res.Diagnostics); !strings.Contains(got, "p.yaml:14:3: error: 9 custom apps; one run runs the hooks of at most 8") {
		t.Errorf("want the limit at spec.apps, got:\n%s", got)
	}
	if res.Files != nil {
		t.Error("files were generated")
	}
}
