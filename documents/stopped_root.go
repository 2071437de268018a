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

// DataVolumesInputs is the InputPayload of the data-volume listing step.
type DataVolumesInputs struct {
	InstanceId string `json:"InstanceId"`
}

// DataVolumesStep is the aws:executeScript step that lists the data
// volumes of an instance without snapshotting (the same script's
// data_volumes entry point), for a command on the instance that takes a
// root-only CreateSnapshots itself. Outputs: RootVolumeId, and
// DataVolumeIds joined by commas ("none" when the root is the only volume).
func DataVolumesStep(name, description string, in DataVolumesInputs) AutomationStep {
	return AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    description,
		TimeoutSeconds: 120,
		MaxAttempts:    2,
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "data_volumes",
			InputPayload: in,
			Script:       snapshotRootVolumeStep(),
		},
		Outputs: []StepOutput{
			{Name: "RootVolumeId", Selector: "$.Payload.rootVolumeId", Type: "String"},
			{Name: "DataVolumeIds", Selector: "$.Payload.dataVolumeIds", Type: "String"},
		},
	}
}
