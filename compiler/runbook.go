package compiler

import (
	"github.com/ssm-backup/ssm-backup/documents"
)

// Automation runbook inputs, as structs so that key order is fixed.
type assertPropertyInputs struct {
	Service                       string           `json:"Service"`
	Api                           string           `json:"Api"`
	InstanceIds                   []string         `json:"InstanceIds,omitempty"`
	InstanceInformationFilterList []instanceFilter `json:"InstanceInformationFilterList,omitempty"`
	PropertySelector              string           `json:"PropertySelector"`
	DesiredValues                 []string         `json:"DesiredValues"`
}

type instanceFilter struct {
	Key      string   `json:"key"`
	ValueSet []string `json:"valueSet"`
}

type runCommandInputs struct {
	DocumentName   string              `json:"DocumentName"`
	InstanceIds    []string            `json:"InstanceIds"`
	Parameters     map[string][]string `json:"Parameters"`
	TimeoutSeconds int                 `json:"TimeoutSeconds"`
	Comment        string              `json:"Comment,omitempty"`
}

const (
	instanceIDPattern = `^i-([0-9a-f]{8}|[0-9a-f]{17})$`
	roleARNPattern    = `^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`
)

// backupRunbookParameters are the parameters every backup runbook takes:
// the instance, which the maintenance window passes, and the role.
func backupRunbookParameters(role string) map[string]documents.Parameter {
	return instanceRunbookParameters("The instance to back up; the maintenance window passes {{RESOURCE_ID}}.", role)
}

// instanceRunbookParameters are the parameters of a runbook run once per
// target instance by a maintenance window.
func instanceRunbookParameters(instanceDescription, role string) map[string]documents.Parameter {
	return map[string]documents.Parameter{
		"InstanceId": {
			Type:           "String",
			Description:    instanceDescription,
			AllowedPattern: instanceIDPattern,
		},
		"AutomationAssumeRole": {
			Type:           "String",
			Description:    "The role Automation assumes: " + role + ".",
			AllowedPattern: roleARNPattern,
		},
	}
}

// buildRunbook is the Automation runbook the maintenance window runs once
// per target instance: check the instance can take the command, run the
// snapshot command document, and expose its result.
func buildRunbook(p *PolicyPlan, snapshotParams map[string][]string) documents.AutomationDocument {
	n := p.Names
	params := map[string][]string{documents.ParamRunID: {"{{ automation:EXECUTION_ID }}"}}
	for k, v := range snapshotParams {
		params[k] = v
	}
	doc := documents.AutomationDocument{
		SchemaVersion: "0.3",
		Description:   p.Description + " — snapshots one instance (ssm-backup policy " + n.Policy + ").",
		AssumeRole:    "{{ AutomationAssumeRole }}",
		Parameters:    backupRunbookParameters(n.AutomationRole),
		MainSteps: []documents.AutomationStep{
			{
				Name:           "assertInstanceRunning",
				Action:         "aws:assertAwsResourceProperty",
				Description:    "A stopped or stopping instance cannot run the snapshot script.",
				OnFailure:      "Abort",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs: assertPropertyInputs{
					Service:          "ec2",
					Api:              "DescribeInstances",
					InstanceIds:      []string{"{{ InstanceId }}"},
					PropertySelector: "$.Reservations[0].Instances[0].State.Name",
					DesiredValues:    []string{"running"},
				},
			},
			{
				Name:           "assertAgentOnline",
				Action:         "aws:assertAwsResourceProperty",
				Description:    "The SSM agent must be online to receive the command.",
				OnFailure:      "Abort",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs: assertPropertyInputs{
					Service: "ssm",
					Api:     "DescribeInstanceInformation",
					InstanceInformationFilterList: []instanceFilter{
						{Key: "InstanceIds", ValueSet: []string{"{{ InstanceId }}"}},
					},
					PropertySelector: "$.InstanceInformationList[0].PingStatus",
					DesiredValues:    []string{"Online"},
				},
			},
			{
				Name:           "takeSnapshots",
				Action:         "aws:runCommand",
				Description:    "Quiesce, freeze, CreateSnapshots, thaw — on the instance.",
				OnFailure:      "Abort",
				TimeoutSeconds: p.RunCommandTimeoutSeconds,
				Inputs: runCommandInputs{
					DocumentName:   p.SharedName(LinuxSnapshotDocument),
					InstanceIds:    []string{"{{ InstanceId }}"},
					Parameters:     params,
					TimeoutSeconds: p.RunCommandTimeoutSeconds,
					Comment:        "ssm-backup " + n.Policy,
				},
				Outputs: []documents.StepOutput{
					{Name: "CommandId", Selector: "$.CommandId", Type: "String"},
					{Name: "Output", Selector: "$.Output", Type: "String"},
				},
			},
		},
		Outputs: []string{"takeSnapshots.CommandId", "takeSnapshots.Output"},
	}
	// Copies, pruning and the archive tier (lifecycle_runbook.go).
	addLifecycleSteps(&doc, p)
	return doc
}
