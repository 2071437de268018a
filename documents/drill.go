package documents

import (
	_ "embed"
	"fmt"
	"strings"
)

// drillRestoreScript creates the drill volume from the newest complete
// snapshot set and removes it afterwards; its module docstring states the
// algorithm.
//
//go:embed scripts/drill_restore.py
var drillRestoreScript string

// drillCheckScript checks a restored volume read-only on the drill
// instance; its header states what it does.
//
//go:embed scripts/drill-check.sh
var drillCheckScript string

// Parameters of the drill check Command document.
const (
	ParamVolumeID   = "VolumeId"
	ParamDeviceName = "DeviceName"
	ParamDataCheck  = "DataCheck"

	PatternVolumeID   = `^vol-[0-9a-f]{8}([0-9a-f]{9})?$`
	PatternDeviceName = `^/dev/sd[f-p]$`
)

// Data checks of the drill: which data directory must be on the restored
// volume besides a file system that mounts.
const (
	DataCheckNone       = "none"
	DataCheckMySQL      = "mysql"
	DataCheckPostgreSQL = "postgresql"
)

// drillCheckInputs are the shell variables the check document's header
// assigns, each from one parameter (single-quoted; no pattern admits a
// quote).
var drillCheckInputs = []struct{ Variable, Parameter string }{
	{"SSMB_VOLUME_ID", ParamVolumeID},
	{"SSMB_DEVICE_NAME", ParamDeviceName},
	{"SSMB_DATA_CHECK", ParamDataCheck},
}

// DrillCheckTimeoutSeconds bounds the check: a read-only fsck of a volume
// restored from a snapshot reads its blocks from S3 on first access.
const DrillCheckTimeoutSeconds = 3600

// DrillCheckScript returns the check script, for reviewers.
func DrillCheckScript() []byte { return []byte(drillCheckScript) }

// DrillCheckCommand is the Command document the drill runs on the drill
// instance: find the attached volume, check its file systems read-only,
// mount them read-only, look for the data directory, report one JSON line.
func DrillCheckCommand(description string) (CommandDocument, error) {
	script := strings.TrimSuffix(drillCheckScript, "\n")
	if strings.Contains(script, "{{") {
		return CommandDocument{}, fmt.Errorf("documents: scripts/drill-check.sh contains {{, which SSM would read as a parameter")
	}
	lines := strings.Split(script, "\n")
	run := []string{lines[0], "# Document parameters: SSM substitutes each placeholder; no allowedPattern admits a single quote."}
	for _, in := range drillCheckInputs {
		run = append(run, in.Variable+"='{{ "+in.Parameter+" }}'")
	}
	// As for the snapshot document: comments stay in the reviewed script,
	// shellcheck directives stay in the document.
	for _, line := range lines[1:] {
		t := strings.TrimSpace(line)
		if t == "" || (strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "# shellcheck")) {
			continue
		}
		run = append(run, line)
	}
	return CommandDocument{
		SchemaVersion: "2.2",
		Description:   description,
		Parameters: map[string]Parameter{
			ParamVolumeID: {
				Type:           "String",
				Description:    "The restored volume, attached to this instance by the drill runbook.",
				AllowedPattern: PatternVolumeID,
			},
			ParamDeviceName: {
				Type:           "String",
				Description:    "The device name the volume was attached as; on Nitro instances the volume is found by its id instead.",
				AllowedPattern: PatternDeviceName,
			},
			ParamDataCheck: {
				Type:          "String",
				Description:   "none, or the database whose data directory must be on the volume: mysql (ibdata1) or postgresql (PG_VERSION).",
				Default:       DataCheckNone,
				AllowedValues: []string{DataCheckNone, DataCheckMySQL, DataCheckPostgreSQL},
			},
		},
		MainSteps: []CommandStep{{
			Action:       "aws:runShellScript",
			Name:         "checkRestoredVolume",
			Precondition: &Precondition{StringEquals: []string{"platformType", "Linux"}},
			Inputs: RunScriptInputs{
				TimeoutSeconds: fmt.Sprint(DrillCheckTimeoutSeconds),
				RunCommand:     run,
			},
		}},
	}, nil
}

// DrillRestoreInputs is the InputPayload of the drill's restore step.
type DrillRestoreInputs struct {
	InstanceId      string `json:"InstanceId"`
	PolicyName      string `json:"PolicyName"`
	RunId           string `json:"RunId"`
	DrillInstanceId string `json:"DrillInstanceId"`
	WaitSeconds     string `json:"WaitSeconds"`
}

// DrillCleanupInputs is the InputPayload of the drill's cleanup step.
type DrillCleanupInputs struct {
	PolicyName string `json:"PolicyName"`
	RunId      string `json:"RunId"`
}

// DrillRestoreStep creates a volume from the instance's newest complete
// snapshot set, in the drill instance's Availability Zone, tagged as a
// drill volume, and waits until it is available (see
// scripts/drill_restore.py). Its outputs: name.VolumeId, name.SnapshotId,
// name.DeviceName, name.SetId, name.SnapshotTime. Any failure or a cancel
// goes to cleanupStep.
func DrillRestoreStep(name, cleanupStep string, in DrillRestoreInputs) AutomationStep {
	critical := true
	return AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    "Create a volume from the newest complete snapshot set of the instance (the first data volume's snapshot), tagged as a drill volume, and wait until it is available.",
		TimeoutSeconds: 600,
		OnFailure:      "step:" + cleanupStep,
		OnCancel:       "step:" + cleanupStep,
		IsCritical:     &critical,
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "restore_handler",
			InputPayload: in,
			Script:       stepScriptOf("drill_restore.py"),
		},
		Outputs: []StepOutput{
			{Name: "VolumeId", Selector: "$.Payload.volumeId", Type: "String"},
			{Name: "SnapshotId", Selector: "$.Payload.snapshotId", Type: "String"},
			{Name: "DeviceName", Selector: "$.Payload.deviceName", Type: "String"},
			{Name: "SetId", Selector: "$.Payload.setId", Type: "String"},
			{Name: "SnapshotTime", Selector: "$.Payload.snapshotTime", Type: "String"},
		},
	}
}

// DrillCleanupStep detaches and deletes the drill's volumes, and drill
// volumes of the policy left by a killed drill; it ends the runbook. It
// fails when a volume is left behind.
func DrillCleanupStep(name string, in DrillCleanupInputs) AutomationStep {
	critical := true
	return AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    "Always: detach and delete the drill's volume (and drill volumes of this policy older than a day).",
		TimeoutSeconds: 600,
		OnFailure:      "Abort",
		IsCritical:     &critical,
		IsEnd:          true,
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "cleanup_handler",
			InputPayload: in,
			Script:       stepScriptOf("drill_restore.py"),
		},
		Outputs: []StepOutput{
			{Name: "Deleted", Selector: "$.Payload.deleted", Type: "StringList"},
		},
	}
}
