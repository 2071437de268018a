package compiler

import (
	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// A crash-consistent Windows policy (volumes: data; validation refuses a
// running Windows root volume without VSS) needs nothing on the instance:
// its runbook makes the one multi-volume CreateSnapshots call itself, with
// the boot volume excluded, through the EC2 API. The Linux script cannot
// run on Windows, and VSS is what "application" is for. A crash-consistent
// Linux policy of the root volume alone is taken the same way: the script
// would freeze nothing, and EC2's root-only call needs the data volumes'
// ids, which the runbook lists.

// Step names of the crash-consistent API runbook.
const (
	crashAPIAssertStep   = "assertInstanceRunning"
	crashAPISnapshotStep = "snapshotDataVolumes"
	crashAPIRootStep     = "snapshotRootVolume"
)

// usesAPISnapshot tells a policy whose runbook snapshots through the EC2
// API while the instance runs.
func usesAPISnapshot(p *PolicyPlan) bool {
	return p.Consistency == policies.Crash && (p.Platform == policies.Windows || p.Volumes == policies.RootVolume)
}

// apiSnapshotStep is one CreateSnapshots of the instance through
// aws:executeAwsApi (or, for volumes: root, the step that excludes the data
// volumes by id), tagged at creation; state says the instance's state in
// the snapshots' description.
func apiSnapshotStep(p *PolicyPlan, name, desc, state string) documents.AutomationStep {
	n := p.Names
	description := p.Description + " (ssm-backup policy " + n.Policy + ", " + state + ")"
	if p.Volumes == policies.RootVolume {
		// CreateSnapshots has no root-only switch: the step lists the
		// data volumes and excludes them by id.
		return documents.SnapshotRootVolumeStep(name, desc+" Root volume only.", stoppedSnapshotTimeout, documents.SnapshotRootInputs{
			InstanceId:  "{{ InstanceId }}",
			Description: description,
			Tags:        apiSnapshotTags(p),
		})
	}
	return documents.AutomationStep{
		Name:           name,
		Action:         "aws:executeAwsApi",
		Description:    desc,
		TimeoutSeconds: stoppedSnapshotTimeout,
		Inputs: createSnapshotsInputs{
			Service:     "ec2",
			Api:         "CreateSnapshots",
			Description: description,
			InstanceSpecification: instanceSpecification{
				InstanceId:        "{{ InstanceId }}",
				ExcludeBootVolume: p.Volumes == policies.DataVolumes,
			},
			TagSpecifications: []snapshotTagSpecifier{{ResourceType: "snapshot", Tags: apiSnapshotTags(p)}},
		},
		Outputs: []documents.StepOutput{
			{Name: "SnapshotIds", Selector: "$.Snapshots..SnapshotId", Type: "StringList"},
		},
	}
}

// buildCrashAPIRunbook is the runbook of a crash-consistent policy taken
// through the EC2 API: the instance is running → one CreateSnapshots of its
// data volumes (Windows) or its root volume (Linux) → lifecycle (copies,
// pruning, archive).
func buildCrashAPIRunbook(p *PolicyPlan) documents.AutomationDocument {
	n := p.Names
	step, what := crashAPISnapshotStep, "data volumes"
	desc := "CreateSnapshots of the instance's data volumes, one point in time, boot volume excluded: crash-consistent, nothing on the instance is flushed or frozen."
	if p.Volumes == policies.RootVolume {
		step, what = crashAPIRootStep, "root volume"
		desc = "CreateSnapshots of the instance's root volume while it runs: crash-consistent, nothing on the instance is flushed or frozen."
	}
	snapshot := apiSnapshotStep(p, step, desc, "crash-consistent")
	snapshot.OnFailure = "Abort"
	doc := documents.AutomationDocument{
		SchemaVersion: "0.3",
		Description:   p.Description + " — crash-consistent snapshots of one " + platformName(p.Platform) + " instance's " + what + ", taken through the EC2 API (ssm-backup policy " + n.Policy + ").",
		AssumeRole:    "{{ AutomationAssumeRole }}",
		Parameters:    backupRunbookParameters(n.AutomationRole),
		MainSteps: []documents.AutomationStep{
			{
				Name:           crashAPIAssertStep,
				Action:         "aws:assertAwsResourceProperty",
				Description:    "The instance exists and is running.",
				OnFailure:      "Abort",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs: ec2InstanceAPIInputs{
					Service: "ec2", Api: "DescribeInstances", InstanceIds: []string{"{{ InstanceId }}"},
					PropertySelector: "$.Reservations[0].Instances[0].State.Name",
					DesiredValues:    []string{"running"},
				},
			},
			snapshot,
		},
		Outputs: []string{step + ".SnapshotIds"},
	}
	addLifecycleSteps(&doc, p) // ends the runbook
	return doc
}

// applyAPISnapshotRoles gives the automation role of a crash-consistent
// policy taken through the EC2 API what its runbook calls instead of Run
// Command:
// CreateSnapshots of target instances only, tagged with this policy at
// creation, and DescribeInstances.
func applyAPISnapshotRoles(p *PolicyPlan, roles *RoleSet) {
	replaceRunCommandGrants(roles, append(createSnapshotStatements(p), Statement{
		Sid:      "ReadInstanceState",
		Effect:   "Allow",
		Action:   Strings{"ec2:DescribeInstances"},
		Resource: Strings{"*"},
	}))
}

// platformName is the platform as a reader writes it.
func platformName(p policies.Platform) string {
	if p == policies.Windows {
		return "Windows"
	}
	return "Linux"
}
