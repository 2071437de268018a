package documents

import (
	_ "embed"
	"strings"
)

// pruneSnapshotsScript decides and applies a policy's retention rule to one
// instance's snapshot sets; its module docstring states the algorithm.
//
//go:embed scripts/prune_snapshots.py
var pruneSnapshotsScript string

// PruneInputs is the InputPayload of the prune step. Each value is an
// Automation expression such as "{{ InstanceId }}" or
// "{{ automation:EXECUTION_ID }}", or a literal such as "7" or "false"; the
// script accepts numbers and booleans as strings.
type PruneInputs struct {
	// InstanceId and PolicyName select the snapshots: only those tagged
	// ssm-backup:instance-id and ssm-backup:policy with exactly these values
	// are ever deleted.
	InstanceId string `json:"InstanceId"`
	PolicyName string `json:"PolicyName"`
	// RunId is this run's Automation execution id; the snapshots tagged
	// ssm-backup:run-id with it are never deleted. The sets of earlier runs
	// are judged by their run's status too (ssm:GetAutomationExecution): a
	// set whose run failed is never counted toward KeepCount or MinKeep, and
	// one whose run is still going on is left alone.
	RunId string `json:"RunId"`
	// KeepCount keeps the newest N good sets; MaxAgeDays keeps good sets
	// younger than N days. "0" means not set; at least one must be set.
	KeepCount  string `json:"KeepCount"`
	MaxAgeDays string `json:"MaxAgeDays"`
	// MinKeep is the floor of good sets kept whatever the rule says (>= 1).
	MinKeep string `json:"MinKeep"`
	// DryRun "true" reports what would be deleted and deletes nothing.
	DryRun string `json:"DryRun"`
	// SourceRegion is this region ("{{ global:REGION }}"); required with
	// Copies.
	SourceRegion string `json:"SourceRegion,omitempty"`
	// Copies are the regions whose copies (made by the copy step) are
	// pruned too, each with its own rule. With Copies, KeepCount and
	// MaxAgeDays may both be "0": only the copies are pruned.
	Copies []PruneCopy `json:"Copies,omitempty"`
	// ArchiveAfterDays moves kept, complete sets at least this many days
	// old to the archive tier, except the newest complete set and this
	// run's ("" : off). With it, KeepCount and MaxAgeDays may both be "0":
	// nothing is deleted.
	ArchiveAfterDays string `json:"ArchiveAfterDays,omitempty"`
}

// PruneCopy is the retention of the copies in one other region. Only
// copies tagged with this policy, this instance and ssm-backup:source-region
// = SourceRegion are ever deleted there.
type PruneCopy struct {
	Region     string `json:"Region"`
	KeepCount  string `json:"KeepCount"`
	MaxAgeDays string `json:"MaxAgeDays"`
	MinKeep    string `json:"MinKeep"`
}

// executeScriptInputs are the inputs of aws:executeScript, as a struct so
// that key order is fixed.
type executeScriptInputs struct {
	Runtime      string `json:"Runtime"`
	Handler      string `json:"Handler"`
	InputPayload any    `json:"InputPayload"`
	Script       string `json:"Script"`
}

// scriptRuntime is the aws:executeScript runtime of every embedded script.
const scriptRuntime = "python3.11"

// pruneTimeoutSeconds is the longest an aws:executeScript step may run.
// The script stops starting new deletions well before it (its
// DELETE_BUDGET_SECONDS) and leaves the rest to the next run.
const pruneTimeoutSeconds = 600

// PruneSnapshotsStep is the aws:executeScript step that applies the
// retention rule after the snapshot step: it lists the instance's snapshots
// of the policy, groups them into one set per run, and deletes whole sets
// the rule no longer keeps (see scripts/prune_snapshots.py).
//
// Its outputs are name.Deleted and name.WouldDelete (snapshot ids),
// name.Kept (set ids: run ids, or snapshot ids for snapshots without one)
// and name.Errors; each list holds at most 100 entries. The payload also
// lists, in failedRuns, the sets of earlier runs that failed: they are not
// counted as backups, and are deleted like sets with a snapshot in error.
// With Copies, also name.CopyDeleted, name.CopyWouldDelete and
// name.CopyErrors ("region/" and the entry). A denied EC2 call or invalid input fails the step, and the
// runbook aborts. With ArchiveAfterDays, also name.Archived,
// name.WouldArchive and name.ArchiveErrors (snapshot ids; a failed archive
// is reported there and does not fail the step).
func PruneSnapshotsStep(name string, in PruneInputs) AutomationStep {
	step := AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    "Delete the snapshot sets of this policy and instance that the retention rule no longer keeps.",
		TimeoutSeconds: pruneTimeoutSeconds,
		OnFailure:      "Abort",
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "handler",
			InputPayload: in,
			Script:       stepScriptOf("prune_snapshots.py"),
		},
		Outputs: []StepOutput{
			{Name: "Deleted", Selector: "$.Payload.deleted", Type: "StringList"},
			{Name: "WouldDelete", Selector: "$.Payload.wouldDelete", Type: "StringList"},
			{Name: "Kept", Selector: "$.Payload.kept", Type: "StringList"},
			{Name: "Errors", Selector: "$.Payload.errors", Type: "StringList"},
		},
	}
	if len(in.Copies) > 0 {
		step.Description = "Delete the snapshot sets of this policy and instance, here and among the copies in other regions, that the retention rules no longer keep."
		step.Outputs = append(step.Outputs,
			StepOutput{Name: "CopyDeleted", Selector: "$.Payload.copyDeleted", Type: "StringList"},
			StepOutput{Name: "CopyWouldDelete", Selector: "$.Payload.copyWouldDelete", Type: "StringList"},
			StepOutput{Name: "CopyErrors", Selector: "$.Payload.copyErrors", Type: "StringList"},
		)
	}
	if in.ArchiveAfterDays != "" {
		step.Description = strings.TrimSuffix(step.Description, ".") + "; then move the older complete sets it keeps to the archive tier."
		step.Outputs = append(step.Outputs,
			StepOutput{Name: "Archived", Selector: "$.Payload.archived", Type: "StringList"},
			StepOutput{Name: "WouldArchive", Selector: "$.Payload.wouldArchive", Type: "StringList"},
			StepOutput{Name: "ArchiveErrors", Selector: "$.Payload.archiveErrors", Type: "StringList"},
		)
	}
	return step
}

// PruneSnapshotsScript returns the prune script, for emitting it next to the
// runbook that embeds it.
func PruneSnapshotsScript() []byte {
	return []byte(pruneSnapshotsScript)
}
