package compiler

import (
	"github.com/ssm-backup/ssm-backup/documents"
)

// Step names of the runbook of a "consistency: stopped" policy. The start
// steps are named so that a reviewer finds them next to the stop.
const (
	stoppedAssertStep       = "assertInstanceExists"
	stoppedSettleStep       = "waitInstanceSettled"
	stoppedDescribeStep     = "describeInstance"
	stoppedBranchStep       = "branchOnInitialState"
	stoppedStopStep         = "stopInstance"
	stoppedSnapshotRunning  = "snapshotStoppedInstance"
	stoppedSnapshotAlready  = "snapshotAlreadyStoppedInstance"
	stoppedStartStep        = "startInstance"
	stoppedStartOnFailure   = "startInstanceAfterFailure"
	stoppedStateTimeout     = 900
	stoppedSnapshotTimeout  = 120
	stoppedStartMaxAttempts = 3
)

// executeAwsAPIInputs are the inputs of aws:executeAwsApi,
// aws:assertAwsResourceProperty and aws:waitForAwsResourceProperty for an
// EC2 call on one instance.
type ec2InstanceAPIInputs struct {
	Service          string   `json:"Service"`
	Api              string   `json:"Api"`
	InstanceIds      []string `json:"InstanceIds"`
	PropertySelector string   `json:"PropertySelector,omitempty"`
	DesiredValues    []string `json:"DesiredValues,omitempty"`
}

type changeInstanceStateInputs struct {
	InstanceIds  []string `json:"InstanceIds"`
	DesiredState string   `json:"DesiredState"`
}

type branchChoice struct {
	NextStep     string `json:"NextStep"`
	Variable     string `json:"Variable"`
	StringEquals string `json:"StringEquals"`
}

type branchInputs struct {
	Choices []branchChoice `json:"Choices"`
	Default string         `json:"Default"`
}

// createSnapshotsInputs is an EC2 CreateSnapshots request made by
// aws:executeAwsApi.
type createSnapshotsInputs struct {
	Service               string                 `json:"Service"`
	Api                   string                 `json:"Api"`
	Description           string                 `json:"Description"`
	InstanceSpecification instanceSpecification  `json:"InstanceSpecification"`
	TagSpecifications     []snapshotTagSpecifier `json:"TagSpecifications"`
}

type instanceSpecification struct {
	InstanceId        string `json:"InstanceId"`
	ExcludeBootVolume bool   `json:"ExcludeBootVolume"`
}

type snapshotTagSpecifier struct {
	ResourceType string          `json:"ResourceType"`
	Tags         []documents.Tag `json:"Tags"`
}

// apiSnapshotTags are the tags every snapshot a runbook takes through
// the EC2 API (a stopped policy, a crash-consistent Windows policy) carries
// from its creation: the ones the on-instance script sets, so that pruning,
// copies, protection and drills treat every kind alike.
func apiSnapshotTags(p *PolicyPlan) []documents.Tag {
	tags := []documents.Tag{
		{Key: TagPolicy, Value: p.Names.Policy},
		{Key: TagInstanceID, Value: "{{ InstanceId }}"},
		{Key: TagRunID, Value: "{{ automation:EXECUTION_ID }}"},
		{Key: TagConsistency, Value: string(p.Consistency)},
	}
	return append(tags, p.Tags...)
}

// buildStoppedRunbook is the runbook of a "consistency: stopped" policy. It
// needs no SSM agent: everything happens through the EC2 API.
//
//	assert the instance exists → wait until it is running or stopped →
//	record that state → running: stop (wait stopped) → CreateSnapshots →
//	start (wait running) → lifecycle; already stopped: CreateSnapshots →
//	lifecycle, and the instance stays stopped.
//
// Once the stop was asked for, every failure or cancellation leads to
// startInstanceAfterFailure, so an instance that was running is never left
// stopped by a failed run; the runbook still ends Failed, because the
// failing step is critical.
func buildStoppedRunbook(p *PolicyPlan) documents.AutomationDocument {
	n := p.Names
	instance := []string{"{{ InstanceId }}"}
	onFailureStart := "step:" + stoppedStartOnFailure
	snapshot := func(name, desc string) documents.AutomationStep {
		return apiSnapshotStep(p, name, desc, "instance stopped")
	}
	running := snapshot(stoppedSnapshotRunning, "CreateSnapshots of the stopped instance's volumes, one point in time; on failure or cancellation the instance is started again.")
	running.OnFailure, running.OnCancel = onFailureStart, onFailureStart
	already := snapshot(stoppedSnapshotAlready, "The instance was stopped before the run: CreateSnapshots, and leave it stopped.")
	already.OnFailure = "Abort"

	doc := documents.AutomationDocument{
		SchemaVersion: "0.3",
		Description:   p.Description + " — stops one instance, snapshots its volumes, starts it again (ssm-backup policy " + n.Policy + "). An instance that was stopped before the run stays stopped.",
		AssumeRole:    "{{ AutomationAssumeRole }}",
		Parameters:    backupRunbookParameters(n.AutomationRole),
		MainSteps: []documents.AutomationStep{
			{
				Name:           stoppedAssertStep,
				Action:         "aws:assertAwsResourceProperty",
				Description:    "The instance exists and is not terminated or shutting down.",
				OnFailure:      "Abort",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs: ec2InstanceAPIInputs{
					Service: "ec2", Api: "DescribeInstances", InstanceIds: instance,
					PropertySelector: "$.Reservations[0].Instances[0].State.Name",
					DesiredValues:    []string{"pending", "running", "stopping", "stopped"},
				},
			},
			{
				Name:           stoppedSettleStep,
				Action:         "aws:waitForAwsResourceProperty",
				Description:    "Let a pending or stopping instance reach running or stopped before its state is recorded.",
				OnFailure:      "Abort",
				TimeoutSeconds: stoppedStateTimeout,
				Inputs: ec2InstanceAPIInputs{
					Service: "ec2", Api: "DescribeInstances", InstanceIds: instance,
					PropertySelector: "$.Reservations[0].Instances[0].State.Name",
					DesiredValues:    []string{"running", "stopped"},
				},
			},
			{
				Name:           stoppedDescribeStep,
				Action:         "aws:executeAwsApi",
				Description:    "Record whether the instance was running, so that only a running instance is started again.",
				OnFailure:      "Abort",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs:         ec2InstanceAPIInputs{Service: "ec2", Api: "DescribeInstances", InstanceIds: instance},
				Outputs: []documents.StepOutput{
					{Name: "State", Selector: "$.Reservations[0].Instances[0].State.Name", Type: "String"},
				},
			},
			{
				Name:        stoppedBranchStep,
				Action:      "aws:branch",
				Description: "Running: stop, snapshot, start. Stopped: snapshot only.",
				OnFailure:   "Abort",
				Inputs: branchInputs{
					Choices: []branchChoice{{NextStep: stoppedStopStep, Variable: "{{ " + stoppedDescribeStep + ".State }}", StringEquals: "running"}},
					Default: stoppedSnapshotAlready,
				},
			},
			{
				Name:           stoppedStopStep,
				Action:         "aws:changeInstanceState",
				Description:    "Stop the instance and wait until it is stopped: the downtime starts here. On failure or cancellation the instance is started again.",
				OnFailure:      onFailureStart,
				OnCancel:       onFailureStart,
				TimeoutSeconds: stoppedStateTimeout,
				Inputs:         changeInstanceStateInputs{InstanceIds: instance, DesiredState: "stopped"},
			},
			running,
			{
				Name:           stoppedStartStep,
				Action:         "aws:changeInstanceState",
				Description:    "Start the instance again and wait until it is running: the downtime ends here.",
				OnFailure:      onFailureStart,
				OnCancel:       onFailureStart,
				TimeoutSeconds: stoppedStateTimeout,
				Inputs:         changeInstanceStateInputs{InstanceIds: instance, DesiredState: "running"},
			},
		},
		Outputs: []string{stoppedDescribeStep + ".State", stoppedSnapshotRunning + ".SnapshotIds"},
	}
	// Copies, pruning and the archive tier follow on both paths
	// (lifecycle_runbook.go); the path of an instance that was already
	// stopped joins after the start.
	joinAt := len(doc.MainSteps)
	addLifecycleSteps(&doc, p)
	if joinAt < len(doc.MainSteps) {
		already.NextStep = doc.MainSteps[joinAt].Name
	} else {
		already.IsEnd = true
	}
	doc.MainSteps = append(doc.MainSteps, already)
	doc.Outputs = append(doc.Outputs, stoppedSnapshotAlready+".SnapshotIds")
	// The last resort: reached only through onFailure and onCancel.
	doc.MainSteps = append(doc.MainSteps, documents.AutomationStep{
		Name:           stoppedStartOnFailure,
		Action:         "aws:changeInstanceState",
		Description:    "A step failed or was cancelled after the instance was stopped: start it again so that a failed backup causes no lasting outage. The run still ends Failed.",
		OnFailure:      "Abort",
		MaxAttempts:    stoppedStartMaxAttempts,
		TimeoutSeconds: stoppedStateTimeout,
		IsEnd:          true,
		Inputs:         changeInstanceStateInputs{InstanceIds: instance, DesiredState: "running"},
	})
	return doc
}

// stoppedAutomationStatements replace the Run Command permissions of the
// automation role: a stopped policy's runbook stops, snapshots and starts
// the instance itself. CreateSnapshots and CreateTags are scoped exactly
// like the instance role's: target instances, their volumes, snapshots
// tagged with this policy at creation.
func stoppedAutomationStatements(p *PolicyPlan) []Statement {
	out := []Statement{{
		Sid:       "StopAndStartOnlyTargetInstances",
		Effect:    "Allow",
		Action:    Strings{"ec2:StartInstances", "ec2:StopInstances"},
		Resource:  Strings{arn("ec2", thisRegion, thisAccount, "instance/*")},
		Condition: Condition{"StringEquals": targetTagCondition("ec2:ResourceTag/", p.Targets)},
	}}
	out = append(out, createSnapshotStatements(p)...)
	return append(out, Statement{
		// Read-only calls without resource-level permissions; the
		// state changes are followed with DescribeInstanceStatus.
		Sid:      "FollowInstanceState",
		Effect:   "Allow",
		Action:   Strings{"ec2:DescribeInstanceStatus", "ec2:DescribeInstances"},
		Resource: Strings{"*"},
	})
}

// applyStoppedRoles rewrites the automation policy of a stopped policy:
// the Run Command statements go, the EC2 statements come in their place,
// and the lifecycle statements (pruning, copies, archive) stay.
func applyStoppedRoles(p *PolicyPlan, roles *RoleSet) {
	replaceRunCommandGrants(roles, stoppedAutomationStatements(p))
}

// replaceRunCommandGrants puts own in place of the automation role's Run
// Command statements (buildRoles), for a runbook that calls EC2 itself;
// the lifecycle statements stay.
func replaceRunCommandGrants(roles *RoleSet, own []Statement) {
	runCommand := map[string]bool{"RunSnapshotDocument": true, "OnTargetInstancesOnly": true, "FollowCommandAndInstance": true}
	var rest []Statement
	for _, st := range roles.AutomationPolicy.Statement {
		if !runCommand[st.Sid] {
			rest = append(rest, st)
		}
	}
	roles.AutomationPolicy.Statement = append(own, rest...)
}
