package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// VSS engines of a Windows policy.
const (
	VSSManaged    = "managed"
	VSSDiskshadow = "diskshadow"
)

// WindowsPlan is the VSS path of a Windows policy with "consistency:
// application".
type WindowsPlan struct {
	Engine          string
	CopyOnly        bool
	NoWriters       bool
	InstallPackages bool
	// Hooks are the policy's custom apps, run around the snapshot
	// (windows_hooks.go).
	Hooks []documents.WindowsHook
	// Writers are the apps the policy names that VSS writers quiesce.
	Writers []string
}

// Step names of the Windows VSS runbook.
const (
	winPreflightStep = "checkVssPrerequisites"
	winBranchStep    = "branchOnVssComponents"
	winInstallStep   = "installVssComponents"
	winSnapshotStep  = "takeVssSnapshots"
	winVerifyStep    = "verifyVssSnapshots"
	winListStep      = "listVssSnapshots"
	// winCommandTimeout bounds AWSEC2-CreateVssSnapshot: the freeze is at
	// most ten seconds (VSS's own limit), the rest is the document
	// starting, CreateSnapshots and tagging.
	winCommandTimeout = 900
	winInstallTimeout = 600
)

func lowerWindows(p *policies.Policy, pp *PolicyPlan) {
	s := p.Spec
	if s.Platform != policies.Windows || s.Consistency == policies.Stopped {
		return
	}
	wp := &WindowsPlan{Engine: VSSManaged, CopyOnly: true, Hooks: windowsHooks(s.Apps)}
	if w := s.Windows; w != nil {
		if w.VSS != "" {
			wp.Engine = w.VSS
		}
		if w.CopyOnly != nil {
			wp.CopyOnly = *w.CopyOnly
		}
		if w.NoWriters != nil {
			wp.NoWriters = *w.NoWriters
		}
		if w.InstallPackages != nil {
			wp.InstallPackages = *w.InstallPackages
		}
	}
	for _, a := range s.Apps {
		if a.Type == policies.SQLServer || a.Type == policies.Exchange {
			wp.Writers = append(wp.Writers, string(a.Type))
		}
	}
	pp.Windows = wp
}

// applyWindowsStrategy builds the runbook and permissions of a Windows
// policy with "consistency: application" (VSS).
func applyWindowsStrategy(p *PolicyPlan, a *policyArtifacts) {
	var docs Strings
	// Both runbooks read this run's snapshots to verify them, whatever the
	// policy's retention and copies.
	reads := []string{"ec2:DescribeSnapshots"}
	if p.usesDiskshadow() {
		a.runbook = buildWindowsDiskshadowRunbook(p)
		// The script's CreateSnapshots carries the policy's tags at
		// creation, as the Linux script's does: the instance role needs
		// nothing more.
		docs = Strings{arn("ssm", thisRegion, thisAccount, "document/"+p.SharedName(WindowsDiskshadowDocument))}
	} else {
		a.runbook = buildWindowsVSSRunbook(p)
		addVSSInstanceGrants(p, &a.roles)
		docs = Strings{arn("ssm", thisRegion, "", "document/"+documents.CreateVSSSnapshotDocument)}
		if p.Windows.InstallPackages {
			docs = append(docs, arn("ssm", thisRegion, "", "document/"+documents.ConfigurePackageDocument))
		}
		reads = append(reads, "ssm:ListInventoryEntries") // the preflight's package check
	}
	if p.hasWindowsHooks() {
		docs = append(docs, arn("ssm", thisRegion, thisAccount, "document/"+p.SharedName(WindowsHooksDocument)))
	}
	grantRunCommand(&a.roles, docs, reads)
}

// grantRunCommand lets the automation role send these documents instead
// of the Linux one, and adds the reads its runbook makes to the
// statement of read-only calls.
func grantRunCommand(roles *RoleSet, docs Strings, reads []string) {
	for i, st := range roles.AutomationPolicy.Statement {
		switch st.Sid {
		case "RunSnapshotDocument":
			roles.AutomationPolicy.Statement[i].Resource = docs
		case "FollowCommandAndInstance":
			actions := slices.Clone(st.Action)
			for _, r := range reads {
				if !slices.Contains(actions, r) {
					actions = append(actions, r)
				}
			}
			slices.Sort(actions)
			roles.AutomationPolicy.Statement[i].Action = actions
		}
	}
}

func psBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// windowsVSSTags are the tags AWSEC2-CreateVssSnapshot puts on every
// snapshot: the ones the Linux script sets, then the user's.
func windowsVSSTags(p *PolicyPlan) string {
	tags := []documents.Tag{
		{Key: TagPolicy, Value: p.Names.Policy},
		{Key: TagInstanceID, Value: "{{ InstanceId }}"},
		{Key: TagRunID, Value: "{{ automation:EXECUTION_ID }}"},
		{Key: TagConsistency, Value: string(policies.Application)},
	}
	s, err := documents.VSSTagsParameter(append(tags, p.Tags...))
	if err != nil {
		// CheckSupported refused these tags before the plan was made.
		panic(fmt.Sprintf("policy %s: %v", p.Names.Policy, err))
	}
	return s
}

// snapshotFilterInputs is a DescribeSnapshots request for this run's
// snapshots of the instance.
type snapshotFilterInputs struct {
	Service          string         `json:"Service"`
	Api              string         `json:"Api"`
	OwnerIds         []string       `json:"OwnerIds"`
	Filters          []ec2APIFilter `json:"Filters"`
	PropertySelector string         `json:"PropertySelector,omitempty"`
	DesiredValues    []string       `json:"DesiredValues,omitempty"`
}

type ec2APIFilter struct {
	Name   string   `json:"Name"`
	Values []string `json:"Values"`
}

// buildWindowsVSSRunbook is the runbook of a Windows VSS policy: check the
// instance can take the command, check the VSS prerequisites before
// anything is frozen, install AwsVssComponents when the policy allows it,
// run AWSEC2-CreateVssSnapshot, and verify that this run's snapshots exist
// and are tagged AppConsistent by AWS's requester.
func buildWindowsVSSRunbook(p *PolicyPlan) documents.AutomationDocument {
	n := p.Names
	w := p.Windows
	instance := []string{"{{ InstanceId }}"}
	doc := documents.AutomationDocument{
		SchemaVersion: "0.3",
		Description:   p.Description + " — VSS snapshots of one Windows instance (ssm-backup policy " + n.Policy + ").",
		AssumeRole:    "{{ AutomationAssumeRole }}",
		Parameters:    backupRunbookParameters(n.AutomationRole),
		MainSteps: []documents.AutomationStep{
			{
				Name:           "assertInstanceRunning",
				Action:         "aws:assertAwsResourceProperty",
				Description:    "A stopped or stopping instance cannot run VSS.",
				OnFailure:      "Abort",
				TimeoutSeconds: 60,
				MaxAttempts:    3,
				Inputs: assertPropertyInputs{
					Service: "ec2", Api: "DescribeInstances", InstanceIds: instance,
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
					Service: "ssm", Api: "DescribeInstanceInformation",
					InstanceInformationFilterList: []instanceFilter{{Key: "InstanceIds", ValueSet: instance}},
					PropertySelector:              "$.InstanceInformationList[0].PingStatus",
					DesiredValues:                 []string{"Online"},
				},
			},
			documents.VSSPreflightStep(winPreflightStep, documents.VSSPreflightInputs{
				InstanceId:       "{{ InstanceId }}",
				MinAgentVersion:  documents.MinVSSAgentVersion,
				UnsupportedTypes: strings.Join(documents.VSSUnsupportedInstanceTypes, ","),
				InstallPackages:  fmt.Sprint(w.InstallPackages),
			}),
		},
	}
	if w.InstallPackages {
		doc.MainSteps = append(doc.MainSteps,
			documents.AutomationStep{
				Name:        winBranchStep,
				Action:      "aws:branch",
				Description: "Install " + documents.VSSPackage + " unless the inventory shows it installed.",
				OnFailure:   "Abort",
				Inputs: branchInputs{
					Choices: []branchChoice{{NextStep: winSnapshotStep, Variable: "{{ " + winPreflightStep + ".VssComponents }}", StringEquals: "installed"}},
					Default: winInstallStep,
				},
			},
			documents.AutomationStep{
				Name:           winInstallStep,
				Action:         "aws:runCommand",
				Description:    "Install or update the " + documents.VSSPackage + " package (EC2 VSS requester and provider) with " + documents.ConfigurePackageDocument + ".",
				OnFailure:      "Abort",
				TimeoutSeconds: winInstallTimeout,
				Inputs: runCommandInputs{
					DocumentName:   documents.ConfigurePackageDocument,
					InstanceIds:    instance,
					Parameters:     map[string][]string{"action": {"Install"}, "name": {documents.VSSPackage}},
					TimeoutSeconds: winInstallTimeout,
					Comment:        "ssm-backup " + n.Policy + ": install " + documents.VSSPackage,
				},
			})
	}
	doc.MainSteps = append(doc.MainSteps,
		documents.AutomationStep{
			Name:           winSnapshotStep,
			Action:         "aws:runCommand",
			Description:    "VSS freezes the writers and volumes (at most ten seconds), CreateSnapshots, thaw — on the instance, by " + documents.CreateVSSSnapshotDocument + ".",
			OnFailure:      "Abort",
			TimeoutSeconds: winCommandTimeout,
			Inputs: runCommandInputs{
				DocumentName: documents.CreateVSSSnapshotDocument,
				InstanceIds:  instance,
				Parameters: map[string][]string{
					"ExcludeBootVolume": {psBool(p.Volumes == policies.DataVolumes)},
					"CopyOnly":          {psBool(w.CopyOnly)},
					"NoWriters":         {psBool(w.NoWriters)},
					"description":       {"ssm-backup " + n.Policy + " VSS snapshot"},
					"tags":              {windowsVSSTags(p)},
				},
				TimeoutSeconds: winCommandTimeout,
				Comment:        "ssm-backup " + n.Policy,
			},
			Outputs: []documents.StepOutput{
				{Name: "CommandId", Selector: "$.CommandId", Type: "String"},
				{Name: "Output", Selector: "$.Output", Type: "String"},
			},
		},
	)
	doc.MainSteps = append(doc.MainSteps, verifyAndListSteps(p,
		"This run's snapshots exist and AWS's VSS requester tagged them AppConsistent=true; otherwise the backup is not application-consistent and the run fails.",
		ec2APIFilter{Name: "tag:AppConsistent", Values: []string{"true"}})...)
	doc.Outputs = []string{winPreflightStep + ".AgentVersion", winPreflightStep + ".VssComponents", winSnapshotStep + ".CommandId", winSnapshotStep + ".Output", winListStep + ".SnapshotIds"}
	addLifecycleSteps(&doc, p)
	wrapWindowsHooks(&doc, p, winSnapshotStep)
	return doc
}

// verifyAndListSteps assert that this run made snapshots of the instance
// that match the consistency filter, then list their ids.
func verifyAndListSteps(p *PolicyPlan, description string, consistent ec2APIFilter) []documents.AutomationStep {
	runFilters := []ec2APIFilter{
		{Name: "tag:" + TagRunID, Values: []string{"{{ automation:EXECUTION_ID }}"}},
		{Name: "tag:" + TagInstanceID, Values: []string{"{{ InstanceId }}"}},
		{Name: "tag:" + TagPolicy, Values: []string{p.Names.Policy}},
	}
	return []documents.AutomationStep{
		{
			Name:           winVerifyStep,
			Action:         "aws:assertAwsResourceProperty",
			Description:    description,
			OnFailure:      "Abort",
			TimeoutSeconds: 60,
			MaxAttempts:    3,
			Inputs: snapshotFilterInputs{
				Service: "ec2", Api: "DescribeSnapshots", OwnerIds: []string{"self"},
				Filters:          append(append([]ec2APIFilter(nil), runFilters...), consistent),
				PropertySelector: "$.Snapshots[0].State",
				DesiredValues:    []string{"pending", "completed"},
			},
		},
		{
			Name:           winListStep,
			Action:         "aws:executeAwsApi",
			Description:    "The snapshot ids of this run.",
			OnFailure:      "Abort",
			TimeoutSeconds: 60,
			MaxAttempts:    3,
			Inputs: snapshotFilterInputs{
				Service: "ec2", Api: "DescribeSnapshots", OwnerIds: []string{"self"}, Filters: runFilters,
			},
			Outputs: []documents.StepOutput{
				{Name: "SnapshotIds", Selector: "$.Snapshots..SnapshotId", Type: "StringList"},
			},
		},
	}
}

// addVSSInstanceGrants gives the instance role the scoped equivalent of
// AWSEC2VssSnapshotPolicy.
func addVSSInstanceGrants(p *PolicyPlan, roles *RoleSet) {
	n := p.Names
	// AWSEC2-CreateVssSnapshot calls CreateSnapshots with the tags it was
	// given (allowed by the instance policy's existing statements, scoped
	// to the target instances and this policy's tag), then reads the
	// instance's block devices and, once VSS reports success, adds its own
	// AppConsistent and Device tags to the snapshots it created. AMIs
	// (CreateImage) are left out: the policy takes snapshots only.
	roles.InstancePolicy.Statement = append(roles.InstancePolicy.Statement,
		Statement{
			Sid:    "VssReadInstanceAndSnapshots",
			Effect: "Allow",
			Action: Strings{"ec2:DescribeInstanceAttribute", "ec2:DescribeInstances", "ec2:DescribeSnapshots"},
			// Describe calls do not support resource-level permissions.
			Resource: Strings{"*"},
		},
		Statement{
			Sid:      "VssTagOwnSnapshotsAfterCreation",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateTags"},
			Resource: Strings{arn("ec2", thisRegion, "", "snapshot/*")},
			Condition: Condition{
				"StringEquals":              {"ec2:ResourceTag/" + TagPolicy: {n.Policy}},
				"ForAllValues:StringEquals": {"aws:TagKeys": {"AppConsistent", "Device"}},
			},
		})
}

// writeWindowsPrerequisites lists what the instances of a Windows VSS
// policy need.
func writeWindowsPrerequisites(b *strings.Builder, p *PolicyPlan) {
	w := p.Windows
	if w == nil {
		return
	}
	if p.usesDiskshadow() {
		set := map[policies.VolumeSelection]string{
			policies.AllVolumes:  "every NTFS volume on an EBS disk",
			policies.DataVolumes: "every NTFS volume on an EBS data disk (the boot disk is left out)",
			policies.RootVolume:  "the NTFS volumes of the boot disk only (the runbook first lists the data volumes, which the CreateSnapshots request excludes by id)",
		}[p.Volumes]
		fmt.Fprintf(b, "- **VSS:** DISKSHADOW on the instance (document `%s`): %s in one shadow set (copy-only %s, application writers %s); VSS freezes the writers for the shadow copy (at most ten seconds), and the one CreateSnapshots request is made in DISKSHADOW's EXEC step right after; the shadow set is then deleted from the live volumes (also when the request fails) and stays in the snapshots\n",
			p.SharedName(WindowsDiskshadowDocument), set, yesNo(w.CopyOnly), map[bool]string{true: "excluded (noWriters)", false: "included"}[w.NoWriters])
		fmt.Fprintf(b, "- **Restore:** ⚠ the consistent image is the shadow copy inside each snapshot, not the volume as the snapshot found it (that is crash-consistent): attach the restored volumes to a Windows host, find the shadow set named by the snapshots' `%s` tag, expose each volume's shadow copy and copy from it before use (README, \"Restoring a DISKSHADOW snapshot\")\n", documents.TagVSSShadowSet)
		fmt.Fprintf(b, "- **Prerequisites:** Windows Server with diskshadow.exe; the SSM agent online; AWS Tools for PowerShell (`AWS.Tools.EC2` or `AWSPowerShell`); the instance profile `%s` or the managed policy `%s`\n", p.Names.InstanceProfile, p.Names.InstancePolicy)
		return
	}
	install := "must be installed (the runbook refuses an instance whose software inventory lacks it; `windows.installPackages: true` installs it with " + documents.ConfigurePackageDocument + ")"
	if w.InstallPackages {
		install = "installed or updated by the runbook with " + documents.ConfigurePackageDocument + " unless the inventory shows it installed"
	}
	fmt.Fprintf(b, "- **VSS:** `%s` run on the instance (copy-only %s, application writers %s); the freeze lasts at most ten seconds. The runbook then requires this run's snapshots to carry `AppConsistent=true`\n",
		documents.CreateVSSSnapshotDocument, yesNo(w.CopyOnly), map[bool]string{true: "excluded (noWriters)", false: "included"}[w.NoWriters])
	fmt.Fprintf(b, "- **Prerequisites** (checked before anything is frozen): Windows; SSM Agent %s or later; the `%s` package %s; not a %s instance; the instance profile `%s` or the managed policy `%s` (the scoped equivalent of `AWSEC2VssSnapshotPolicy`)\n",
		documents.MinVSSAgentVersion, documents.VSSPackage, install, strings.Join(documents.VSSUnsupportedInstanceTypes, ", "), p.Names.InstanceProfile, p.Names.InstancePolicy)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
