package documents

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPruneSnapshotsScriptTests runs the script's own tests: unit tests, the
// handler against a stubbed boto3 EC2 client, and the randomized property
// test of the retention rules. They need python3 with boto3; without them
// the test is skipped, except under CI=true where it fails. With no module
// named, runScriptTests runs every test module in scripts.
func TestPruneSnapshotsScriptTests(t *testing.T) {
	runScriptTests(t)
}

func TestPruneSnapshotsStepJSON(t *testing.T) {
	step := PruneSnapshotsStep("pruneSnapshots", PruneInputs{
		InstanceId: "{{ InstanceId }}",
		PolicyName: "mysql-fleet",
		RunId:      "{{ automation:EXECUTION_ID }}",
		KeepCount:  "7",
		MaxAgeDays: "0",
		MinKeep:    "{{ MinKeep }}",
		DryRun:     "false",
	})
	in, ok := step.Inputs.(executeScriptInputs)
	if !ok {
		t.Fatalf("Inputs is %T, want executeScriptInputs", step.Inputs)
	}
	if in.Script != stepScript("prune_snapshots.py", pruneSnapshotsScript) {
		t.Error("Script is not the embedded prune_snapshots.py")
	}
	in.Script = "SCRIPT"
	step.Inputs = in
	got, err := MarshalIndent(step)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "name": "pruneSnapshots",
  "action": "aws:executeScript",
  "description": "Delete the snapshot sets of this policy and instance that the retention rule no longer keeps.",
  "timeoutSeconds": 600,
  "onFailure": "Abort",
  "inputs": {
    "Runtime": "python3.11",
    "Handler": "handler",
    "InputPayload": {
      "InstanceId": "{{ InstanceId }}",
      "PolicyName": "mysql-fleet",
      "RunId": "{{ automation:EXECUTION_ID }}",
      "KeepCount": "7",
      "MaxAgeDays": "0",
      "MinKeep": "{{ MinKeep }}",
      "DryRun": "false"
    },
    "Script": "SCRIPT"
  },
  "outputs": [
    {
      "Name": "Deleted",
      "Selector": "$.Payload.deleted",
      "Type": "StringList"
    },
    {
      "Name": "WouldDelete",
      "Selector": "$.Payload.wouldDelete",
      "Type": "StringList"
    },
    {
      "Name": "Kept",
      "Selector": "$.Payload.kept",
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

func TestPruneSnapshotsScriptEmbedded(t *testing.T) {
	checkEmbeddedScript(t, "PruneSnapshotsScript", PruneSnapshotsScript, "prune_snapshots.py",
		"def handler(events, context):", "get_paginator(\"describe_snapshots\")")
}

// TestPruneSnapshotsStepSize keeps the step well inside SSM's 64 KB limit
// on a document's content, which the runbook's other steps share (the copy
// step among them: TestCopyAndPruneStepsFitARunbook).
func TestPruneSnapshotsStepSize(t *testing.T) {
	b, err := MarshalIndent(PruneSnapshotsStep("pruneSnapshots", PruneInputs{}))
	if err != nil {
		t.Fatal(err)
	}
	const limit = 28 << 10
	if len(b) > limit {
		t.Errorf("prune step is %d bytes as JSON; keep it under %d", len(b), limit)
	}
}
