package compiler

import (
	"fmt"

	"github.com/ssm-backup/ssm-backup/documents"
)

// The restore drill of a policy: a runbook that restores the newest
// complete snapshot set of one instance into a volume, attaches it to the
// drill instance, checks it read-only with a small Command document, and
// always deletes it; a maintenance window that runs it for each target
// instance, one at a time; and a role that can touch only drill volumes.

// Drill file paths, relative to the policy's directory.
const (
	DrillRunbookPath = "drill/automation-runbook.json"
	DrillCheckPath   = "drill/command-document.json"
	DrillWindowPath  = "drill/maintenance-window.json"
	DrillPolicyPath  = "iam/drill-policy.json"
	DrillTrustPath   = "iam/drill-trust.json"
)

// Step names of the drill runbook.
const (
	drillRestoreStep = "restoreVolume"
	drillAgentStep   = "assertDrillAgentOnline"
	drillAttachStep  = "attachVolume"
	drillWaitStep    = "waitAttached"
	drillCheckStep   = "checkVolume"
	drillCleanupStep = "cleanUp"
)

type attachVolumeInputs struct {
	Service    string `json:"Service"`
	Api        string `json:"Api"`
	Device     string `json:"Device"`
	InstanceId string `json:"InstanceId"`
	VolumeId   string `json:"VolumeId"`
}

type waitVolumeInputs struct {
	Service          string   `json:"Service"`
	Api              string   `json:"Api"`
	VolumeIds        []string `json:"VolumeIds"`
	PropertySelector string   `json:"PropertySelector"`
	DesiredValues    []string `json:"DesiredValues"`
}

// buildDrillRunbook is the drill runbook: every step after the volume
// exists goes to cleanUp on failure and on cancel, and cleanUp ends it.
func buildDrillRunbook(p *PolicyPlan) documents.AutomationDocument {
	n := p.Names
	d := n.drill()
	drill := p.Drill
	critical := true
	toCleanup := func(s documents.AutomationStep) documents.AutomationStep {
		s.OnFailure, s.OnCancel, s.IsCritical = "step:"+drillCleanupStep, "step:"+drillCleanupStep, &critical
		return s
	}
	doc := documents.AutomationDocument{
		SchemaVersion: "0.3",
		Description:   p.Description + " — restore drill: the newest complete snapshot set of one instance restores, and its file systems check clean (ssm-backup policy " + n.Policy + "). The drill volume is always deleted.",
		AssumeRole:    "{{ AutomationAssumeRole }}",
		Parameters: instanceRunbookParameters(
			"The backed-up instance whose newest snapshot set is restored; the maintenance window passes {{RESOURCE_ID}}.", d.Role),
	}
	restoreIn := documents.DrillRestoreInputs{
		InstanceId:  "{{ InstanceId }}",
		PolicyName:  n.Policy,
		RunId:       "{{ automation:EXECUTION_ID }}",
		WaitSeconds: "480",
	}
	if drill.Instance != "" {
		restoreIn.DrillInstanceId = "{{ DrillInstanceId }}"
		doc.Parameters["DrillInstanceId"] = documents.Parameter{
			Type:           "String",
			Description:    "The instance the restored volume is attached to and checked on. The drill role may attach only to " + drill.Instance + ".",
			Default:        drill.Instance,
			AllowedPattern: instanceIDPattern,
		}
	}
	doc.MainSteps = append(doc.MainSteps, documents.DrillRestoreStep(drillRestoreStep, drillCleanupStep, restoreIn))
	if drill.Instance != "" {
		volume := "{{ " + drillRestoreStep + ".VolumeId }}"
		doc.MainSteps = append(doc.MainSteps,
			toCleanup(documents.AutomationStep{
				Name:           drillAgentStep,
				Action:         "aws:assertAwsResourceProperty",
				Description:    "The SSM agent of the drill instance must be online to run the check.",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs: assertPropertyInputs{
					Service: "ssm",
					Api:     "DescribeInstanceInformation",
					InstanceInformationFilterList: []instanceFilter{
						{Key: "InstanceIds", ValueSet: []string{"{{ DrillInstanceId }}"}},
					},
					PropertySelector: "$.InstanceInformationList[0].PingStatus",
					DesiredValues:    []string{"Online"},
				},
			}),
			toCleanup(documents.AutomationStep{
				Name:           drillAttachStep,
				Action:         "aws:executeAwsApi",
				Description:    "Attach the restored volume to the drill instance.",
				TimeoutSeconds: 60,
				Inputs: attachVolumeInputs{
					Service: "ec2", Api: "AttachVolume",
					Device:     "{{ " + drillRestoreStep + ".DeviceName }}",
					InstanceId: "{{ DrillInstanceId }}",
					VolumeId:   volume,
				},
			}),
			toCleanup(documents.AutomationStep{
				Name:           drillWaitStep,
				Action:         "aws:waitForAwsResourceProperty",
				Description:    "Wait until the volume is attached.",
				TimeoutSeconds: 300,
				Inputs: waitVolumeInputs{
					Service: "ec2", Api: "DescribeVolumes",
					VolumeIds:        []string{volume},
					PropertySelector: "$.Volumes[0].Attachments[0].State",
					DesiredValues:    []string{"attached"},
				},
			}),
			toCleanup(documents.AutomationStep{
				Name:           drillCheckStep,
				Action:         "aws:runCommand",
				Description:    "Read-only checks on the drill instance: fsck -n / xfs_repair -n, a read-only mount, the data directory.",
				TimeoutSeconds: documents.DrillCheckTimeoutSeconds + 60,
				Inputs: runCommandInputs{
					DocumentName: d.CheckDocument,
					InstanceIds:  []string{"{{ DrillInstanceId }}"},
					Parameters: map[string][]string{
						documents.ParamVolumeID:   {volume},
						documents.ParamDeviceName: {"{{ " + drillRestoreStep + ".DeviceName }}"},
						documents.ParamDataCheck:  {drill.DataCheck},
					},
					TimeoutSeconds: documents.DrillCheckTimeoutSeconds,
					Comment:        "ssm-backup restore drill " + n.Policy,
				},
				Outputs: []documents.StepOutput{
					{Name: "Output", Selector: "$.Output", Type: "String"},
				},
			}),
		)
	}
	doc.MainSteps = append(doc.MainSteps, documents.DrillCleanupStep(drillCleanupStep, documents.DrillCleanupInputs{
		PolicyName: n.Policy,
		RunId:      "{{ automation:EXECUTION_ID }}",
	}))
	doc.Outputs = []string{drillRestoreStep + ".SnapshotId", drillRestoreStep + ".SetId", drillRestoreStep + ".SnapshotTime"}
	if drill.Instance != "" {
		doc.Outputs = append(doc.Outputs, drillCheckStep+".Output")
	}
	doc.Outputs = append(doc.Outputs, drillCleanupStep+".Deleted")
	return doc
}

// buildDrillWindow is the drill's maintenance window: the policy's targets,
// one instance at a time, every instance drilled even when one fails.
func buildDrillWindow(p *PolicyPlan) WindowInputs {
	n := p.Names
	d := n.drill()
	return WindowInputs{
		CreateMaintenanceWindow: CreateWindowInput{
			Name:                     d.Window,
			Description:              truncate("Restore drill: "+p.Description, 128),
			Schedule:                 p.Drill.Expression,
			ScheduleTimezone:         p.Drill.Timezone,
			Duration:                 drillWindowHours,
			Cutoff:                   drillCutoffHours,
			AllowUnassociatedTargets: false,
			Tags:                     resourceTags(p),
		},
		RegisterTargetWithMaintenanceWindow: RegisterTargetInput{
			Name:         d.WindowTarget,
			Description:  "Instances of ssm-backup policy " + n.Policy + " whose snapshots the drill restores",
			ResourceType: "INSTANCE",
			Targets:      windowTargets(p),
		},
		RegisterTaskWithMaintenanceWindow: RegisterTaskInput{
			Name:           d.WindowTask,
			Description:    "Run " + d.Runbook + " for each target instance, one at a time",
			TaskArn:        d.Runbook,
			TaskType:       "AUTOMATION",
			ServiceRoleArn: roleARN(n.WindowRole),
			Priority:       1,
			MaxConcurrency: "1",
			MaxErrors:      "100%",
			// A started drill is let finish: its cleanup must run.
			CutoffBehavior: "CONTINUE_TASK",
			TaskInvocationParameters: TaskInvocationParameters{Automation: AutomationTaskParameters{
				DocumentVersion: "$DEFAULT",
				Parameters: map[string][]string{
					"InstanceId":           {"{{RESOURCE_ID}}"},
					"AutomationAssumeRole": {roleARN(d.Role)},
				},
			}},
		},
	}
}

func buildDrillCheck(p *PolicyPlan) (documents.CommandDocument, error) {
	return documents.DrillCheckCommand("ssm-backup restore drill of policy " + p.Names.Policy + ": read-only checks of the restored volume on the drill instance (fsck -n / xfs_repair -n, a read-only mount without journal replay, the data directory). Writes nothing to the volume.")
}

// addDrillFiles adds the drill's files of one policy.
func addDrillFiles(out map[string]any, p *PolicyPlan) error {
	if p.Drill.Instance != "" {
		check, err := buildDrillCheck(p)
		if err != nil {
			return err
		}
		out[DrillCheckPath] = check
	}
	runbook, err := compactJSON(buildDrillRunbook(p))
	if err != nil {
		return err
	}
	out[DrillRunbookPath] = runbook
	out[DrillWindowPath] = buildDrillWindow(p)
	policy, trust := buildDrillRoles(p)
	out[DrillPolicyPath] = policy
	out[DrillTrustPath] = trust
	return nil
}

// addDrillResources adds the drill's resources of one policy.
func addDrillResources(t *Template, p *PolicyPlan) {
	n := p.Names
	l := n.Logical
	d := n.drill()
	tags := cfnTags(p)
	runbook := Resource{
		Type: "AWS::SSM::Document",
		Properties: documentProperties{
			Name: d.Runbook, DocumentType: "Automation", DocumentFormat: "JSON",
			UpdateMethod: "NewVersion", Content: buildDrillRunbook(p), Tags: tags,
		},
	}
	if p.Drill.Instance != "" {
		check, err := buildDrillCheck(p)
		if err != nil {
			return // reported by addDrillFiles
		}
		t.Resources[l+"DrillCheckDocument"] = Resource{
			Type: "AWS::SSM::Document",
			Properties: documentProperties{
				Name: d.CheckDocument, DocumentType: "Command", DocumentFormat: "JSON",
				UpdateMethod: "NewVersion", Content: check, Tags: tags,
			},
		}
		runbook.DependsOn = []string{l + "DrillCheckDocument"}
	}
	t.Resources[l+"DrillRunbook"] = runbook
	policy, trust := buildDrillRoles(p)
	t.Resources[l+"DrillRole"] = Resource{
		Type: "AWS::IAM::Role",
		Properties: roleProperties{
			RoleName: d.Role, Path: IAMPath,
			Description:              "Restore drill of ssm-backup policy " + n.Policy + ": restore, attach, check and delete drill volumes only",
			AssumeRolePolicyDocument: withSub(trust),
			Policies:                 []inlinePolicy{{PolicyName: d.RolePolicy, PolicyDocument: withSub(policy)}},
			Tags:                     tags,
		},
	}
	w := buildDrillWindow(p)
	addWindowResources(t, l+"Drill", w, tags, l+"DrillRunbook", l+"WindowRole", l+"DrillRole")
	if t.Outputs != nil { // a caller may want the resources only
		t.Outputs[l+"DrillWindow"] = Output{
			Description: "Restore drill window of policy " + n.Policy,
			Value:       ref{Ref: l + "DrillWindow"},
		}
	}
}

// drillText says what the drill does and does not prove.
func drillText(p *PolicyPlan) string {
	d := p.Drill
	n := p.Names
	s := fmt.Sprintf("For each target instance, runbook `%s` restores the newest complete snapshot set in the standard tier (the first data volume's snapshot, else the root's) into a new gp3 volume tagged `%s=%s`", n.drill().Runbook, TagDrill, n.Policy)
	if d.Instance == "" {
		s += " next to the instance, waits until it is available and deletes it. No instance is set (`restoreDrill.instance`), so nothing reads the data: the drill proves the snapshot restores into a volume, not that its file systems are sound."
	} else {
		s += fmt.Sprintf(", attaches it to `%s`, checks it read-only there (document `%s`: `e2fsck -n` or `xfs_repair -n`, a read-only mount without journal replay", d.Instance, n.drill().CheckDocument)
		switch d.DataCheck {
		case documents.DataCheckMySQL:
			s += ", a MySQL/MariaDB data directory (`ibdata1`)"
		case documents.DataCheckPostgreSQL:
			s += ", a PostgreSQL data directory (`PG_VERSION`)"
		}
		s += "), then detaches and deletes it — on success, failure and cancel alike; a drill volume left by a killed run is deleted by the next drill after a day."
	}
	s += fmt.Sprintf(" The drill role `%s` may create volumes only from this policy's snapshots and attach, detach and delete only drill volumes; it cannot change a snapshot. An archived set is skipped (restoring from the archive takes hours); a failed drill fails its execution.", n.drill().Role)
	return s
}
