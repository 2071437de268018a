package documents

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCopySnapshotsScriptTests runs the copy script's tests: input checks,
// the catch-up plan, and the handler against stubbed per-region EC2
// clients (copies tagged at creation, shares, the bounded wait, errors).
func TestCopySnapshotsScriptTests(t *testing.T) {
	runScriptTests(t, "test_copy_snapshots")
}

// TestPruneCopiesScriptTests runs the tests of the prune script's Copies
// input: each region's copies pruned with its own rule, only copies made
// from this region.
func TestPruneCopiesScriptTests(t *testing.T) {
	runScriptTests(t, "test_prune_copies")
}

func TestCopySnapshotsStepJSON(t *testing.T) {
	step := CopySnapshotsStep("copySnapshots", CopyInputs{
		InstanceId:   "{{ InstanceId }}",
		PolicyName:   "mysql-fleet",
		RunId:        "{{ automation:EXECUTION_ID }}",
		SourceRegion: "{{ global:REGION }}",
		WaitSeconds:  "420",
		Copies: []CopyDestination{
			{Region: "us-west-2", KmsKeyId: "alias/dr", KeepCount: "7", MaxAgeDays: "0", MinKeep: "1"},
			{Account: "111122223333"},
		},
	})
	in, ok := step.Inputs.(executeScriptInputs)
	if !ok {
		t.Fatalf("Inputs is %T, want executeScriptInputs", step.Inputs)
	}
	if in.Script != stepScript("copy_snapshots.py", copySnapshotsScript) {
		t.Error("Script is not the embedded copy_snapshots.py")
	}
	in.Script = "SCRIPT"
	step.Inputs = in
	got, err := MarshalIndent(step)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "name": "copySnapshots",
  "action": "aws:executeScript",
  "description": "Wait for this run's snapshots to complete, then copy them to the other regions and share them with the other accounts of the policy; earlier sets without a copy are caught up.",
  "timeoutSeconds": 600,
  "onFailure": "Continue",
  "isCritical": true,
  "inputs": {
    "Runtime": "python3.11",
    "Handler": "handler",
    "InputPayload": {
      "InstanceId": "{{ InstanceId }}",
      "PolicyName": "mysql-fleet",
      "RunId": "{{ automation:EXECUTION_ID }}",
      "SourceRegion": "{{ global:REGION }}",
      "WaitSeconds": "420",
      "Copies": [
        {
          "Region": "us-west-2",
          "KmsKeyId": "alias/dr",
          "KeepCount": "7",
          "MaxAgeDays": "0",
          "MinKeep": "1"
        },
        {
          "Account": "111122223333"
        }
      ]
    },
    "Script": "SCRIPT"
  },
  "outputs": [
    {
      "Name": "Copied",
      "Selector": "$.Payload.copied",
      "Type": "StringList"
    },
    {
      "Name": "Shared",
      "Selector": "$.Payload.shared",
      "Type": "StringList"
    },
    {
      "Name": "Deferred",
      "Selector": "$.Payload.deferred",
      "Type": "StringList"
    },
    {
      "Name": "Errors",
      "Selector": "$.Payload.errors",
      "Type": "StringList"
    }
  ]
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("step JSON (-want +got):\n%s", diff)
	}
}

// TestPruneStepWithCopies checks the additive part of the prune step: the
// Copies and SourceRegion inputs and the copy outputs appear only when
// there are copies, so runbooks without copies are unchanged.
func TestPruneStepWithCopies(t *testing.T) {
	plainStep := PruneSnapshotsStep("pruneSnapshots", PruneInputs{KeepCount: "7"})
	plain, err := json.Marshal(plainStep.Inputs.(executeScriptInputs).InputPayload)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"SourceRegion", "Copies"} {
		if bytes.Contains(plain, []byte(absent)) {
			t.Errorf("the payload of a prune step without copies mentions %s: %s", absent, plain)
		}
	}
	if len(plainStep.Outputs) != 4 {
		t.Errorf("a prune step without copies has %d outputs, want 4", len(plainStep.Outputs))
	}
	step := PruneSnapshotsStep("pruneSnapshots", PruneInputs{
		KeepCount: "0", MaxAgeDays: "0", MinKeep: "1", SourceRegion: "{{ global:REGION }}",
		Copies: []PruneCopy{{Region: "us-west-2", KeepCount: "30", MaxAgeDays: "0", MinKeep: "1"}},
	})
	var names []string
	for _, o := range step.Outputs {
		names = append(names, o.Name)
	}
	if want := []string{"Deleted", "WouldDelete", "Kept", "Errors", "CopyDeleted", "CopyWouldDelete", "CopyErrors"}; !cmp.Equal(names, want) {
		t.Errorf("outputs %v, want %v", names, want)
	}
	b, err := json.Marshal(step.Inputs.(executeScriptInputs).InputPayload)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"InstanceId":"","PolicyName":"","RunId":"","KeepCount":"0","MaxAgeDays":"0","MinKeep":"1","DryRun":"","SourceRegion":"{{ global:REGION }}","Copies":[{"Region":"us-west-2","KeepCount":"30","MaxAgeDays":"0","MinKeep":"1"}]}`
	if string(b) != want {
		t.Errorf("payload\n got %s\nwant %s", b, want)
	}
}

func TestCopySnapshotsScriptEmbedded(t *testing.T) {
	checkEmbeddedScript(t, "CopySnapshotsScript", CopySnapshotsScript, "copy_snapshots.py",
		"def handler(events, context):", "copy_snapshot(", "modify_snapshot_attribute(", "TagSpecifications")
}

// TestCopyAndPruneStepsFitARunbook keeps a runbook with the snapshot,
// copy and prune steps inside SSM's 64 KB document limit: each embedded
// script appears once per runbook, whatever the number of copies, and the
// two leave room for the other steps and the policy's tags.
func TestCopyAndPruneStepsFitARunbook(t *testing.T) {
	var copies []CopyDestination
	var prunes []PruneCopy
	for _, r := range []string{"us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} {
		copies = append(copies, CopyDestination{Region: r, KmsKeyId: "arn:aws:kms:" + r + ":111122223333:key/0123abcd-0123-4567-89ab-0123456789ab", KeepCount: "1000", MaxAgeDays: "0", MinKeep: "1000"})
		prunes = append(prunes, PruneCopy{Region: r, KeepCount: "1000", MaxAgeDays: "0", MinKeep: "1000"})
	}
	total := 0
	for _, step := range []AutomationStep{
		CopySnapshotsStep("copySnapshots", CopyInputs{Copies: copies}),
		PruneSnapshotsStep("pruneSnapshots", PruneInputs{Copies: prunes}),
	} {
		b, err := json.Marshal(step)
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
	}
	const limit = 53 << 10 // leaves 11 KB for the other steps
	if total > limit {
		t.Errorf("copy and prune steps are %d bytes as compact JSON (as the template deploys them); keep them under %d", total, limit)
	}
}
