package documents

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPruneSnapshotsScriptTests runs the script's own tests: unit tests, the
// handler against a stubbed boto3 EC2 client, and the randomized property
// test of the retention rules. They need python3 with boto3; without them
// the test is skipped, except under CI=true where it fails.
func TestPruneSnapshotsScriptTests(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.CommandContext(t.Context(), python, "-c", "import boto3, botocore").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 with boto3 is required under CI: %v", err)
		}
		t.Skipf("python3 with boto3 not available: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), python, "-m", "unittest", "-v")
	cmd.Dir = "scripts"
	// No __pycache__ in the source tree.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest in %s: %v\n%s", cmd.Dir, err, out)
	}
	t.Logf("%s", out)
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
	onDisk, err := os.ReadFile(filepath.Join("scripts", "prune_snapshots.py"))
	if err != nil {
		t.Fatal(err)
	}
	got := PruneSnapshotsScript()
	if !bytes.Equal(got, onDisk) {
		t.Error("PruneSnapshotsScript differs from scripts/prune_snapshots.py")
	}
	got[0] ^= 0xff
	if !bytes.Equal(PruneSnapshotsScript(), onDisk) {
		t.Error("changing the returned bytes changed the embedded script")
	}
	for _, want := range []string{"def handler(events, context):", "get_paginator(\"describe_snapshots\")"} {
		if !bytes.Contains(onDisk, []byte(want)) {
			t.Errorf("script lacks %q", want)
		}
	}
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
