package documents

import _ "embed"

// copySnapshotsScript waits for a run's snapshots, copies them to other
// regions and shares them with other accounts; its module docstring states
// the algorithm.
//
//go:embed scripts/copy_snapshots.py
var copySnapshotsScript string

// CopyInputs is the InputPayload of the copy step. Each value is an
// Automation expression such as "{{ InstanceId }}", or a literal.
type CopyInputs struct {
	// InstanceId, PolicyName and RunId select the snapshots, as for the
	// prune step: only those tagged with this policy and instance are ever
	// copied or shared.
	InstanceId string `json:"InstanceId"`
	PolicyName string `json:"PolicyName"`
	RunId      string `json:"RunId"`
	// SourceRegion is the runbook's region, "{{ global:REGION }}"; copies
	// are tagged with it and the prune step of each region checks it.
	SourceRegion string `json:"SourceRegion"`
	// WaitSeconds bounds the wait for this run's snapshots to complete
	// (0 to 540; the step times out at 600).
	WaitSeconds string `json:"WaitSeconds"`
	// Copies are the destinations, in policy order.
	Copies []CopyDestination `json:"Copies"`
}

// CopyDestination is one destination. With Account, the snapshots are
// shared with that account (Region says where that account copies them to,
// and KmsKeyId and retention must be empty: they belong to that account);
// without, they are copied into Region, encrypted with KmsKeyId when set,
// and the retention fields are that region's rule ("0" or empty: not set),
// which the prune step applies and the copy step reads to copy no set the
// prune would delete at once.
type CopyDestination struct {
	Region     string `json:"Region,omitempty"`
	Account    string `json:"Account,omitempty"`
	KmsKeyId   string `json:"KmsKeyId,omitempty"`
	KeepCount  string `json:"KeepCount,omitempty"`
	MaxAgeDays string `json:"MaxAgeDays,omitempty"`
	MinKeep    string `json:"MinKeep,omitempty"`
}

// copyTimeoutSeconds is the longest an aws:executeScript step may run; the
// script's own wait stops well before it.
const copyTimeoutSeconds = 600

// CopyWaitSeconds is the default wait for this run's snapshots: 7 minutes,
// leaving 3 for the copies themselves.
const CopyWaitSeconds = 420

// CopySnapshotsStep is the aws:executeScript step that makes the off-site
// copies of this run's snapshot set, and of earlier complete sets that have
// none yet (see scripts/copy_snapshots.py).
//
// Its outputs are name.Copied ("region/source-id=copy-id"), name.Shared
// ("account/snapshot-id"), name.Deferred and name.Errors. A failed copy or
// share fails the step after every other destination was served. The step
// is critical (the execution ends Failed) but does not abort the runbook:
// onFailure Continue lets the prune step run, which never deletes the
// current run's set.
func CopySnapshotsStep(name string, in CopyInputs) AutomationStep {
	critical := true
	return AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    "Wait for this run's snapshots to complete, then copy them to the other regions and share them with the other accounts of the policy; earlier sets without a copy are caught up.",
		TimeoutSeconds: copyTimeoutSeconds,
		OnFailure:      "Continue",
		IsCritical:     &critical,
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "handler",
			InputPayload: in,
			Script:       stepScriptOf("copy_snapshots.py"),
		},
		Outputs: []StepOutput{
			{Name: "Copied", Selector: "$.Payload.copied", Type: "StringList"},
			{Name: "Shared", Selector: "$.Payload.shared", Type: "StringList"},
			{Name: "Deferred", Selector: "$.Payload.deferred", Type: "StringList"},
			{Name: "Errors", Selector: "$.Payload.errors", Type: "StringList"},
		},
	}
}

// CopySnapshotsScript returns the copy script, for emitting it next to the
// runbook that embeds it.
func CopySnapshotsScript() []byte {
	return []byte(copySnapshotsScript)
}
