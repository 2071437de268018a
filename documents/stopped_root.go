package documents

import (
	_ "embed"
	"sync"
)

// snapshotRootVolumeScript snapshots only the root volume of an instance;
// its module docstring says how.
//
//go:embed scripts/snapshot_root_volume.py
var snapshotRootVolumeScript string

var snapshotRootVolumeStep = sync.OnceValue(func() string {
	return stepScript("snapshot_root_volume.py", snapshotRootVolumeScript)
})

// SnapshotRootInputs is the InputPayload of the root-volume snapshot step.
type SnapshotRootInputs struct {
	InstanceId  string `json:"InstanceId"`
	Description string `json:"Description"`
	Tags        []Tag  `json:"Tags"`
}

// SnapshotRootVolumeStep is the aws:executeScript step that takes one
// CreateSnapshots of the instance's root volume only, excluding every data
// volume by id (CreateSnapshots has no root-only switch). Output:
// SnapshotIds.
func SnapshotRootVolumeStep(name, description string, timeoutSeconds int, in SnapshotRootInputs) AutomationStep {
	return AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    description,
		TimeoutSeconds: timeoutSeconds,
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "handler",
			InputPayload: in,
			Script:       snapshotRootVolumeStep(),
		},
		Outputs: []StepOutput{{Name: "SnapshotIds", Selector: "$.Payload.snapshotIds", Type: "StringList"}},
	}
}
