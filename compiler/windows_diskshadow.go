package compiler

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// The one DISKSHADOW Command document of a set, shared like the Linux
// snapshot document: the script is the same for every policy, and each
// runbook passes its policy's values. It is emitted only when a policy uses
// it.
const (
	WindowsDiskshadowDocument  = "ssm-backup-windows-diskshadow"
	WindowsDiskshadowLogicalID = "WindowsDiskshadowDocument"
	WindowsDiskshadowDir       = "shared/windows-diskshadow/"
)

func (p *PolicyPlan) usesDiskshadow() bool {
	return p.Windows != nil && p.Windows.Engine == VSSDiskshadow
}

func windowsDiskshadowCommand() documents.CommandDocument {
	return documents.WindowsDiskshadowCommand("ssm-backup: VSS-consistent EBS snapshots of a Windows instance's volumes with DISKSHADOW (one shadow set of the NTFS volumes on EBS, one CreateSnapshots in DISKSHADOW's EXEC step right after the shadow copies are made), taken on the instance. Run by the backup runbook of each DISKSHADOW policy, which passes the policy's settings.")
}

// diskshadowParameters are the values a runbook passes to the document.
func diskshadowParameters(p *PolicyPlan) map[string][]string {
	w := p.Windows
	user, err := documents.VSSTagsParameter(p.Tags)
	if err != nil {
		// CheckSupported refused these tags before the plan was made.
		panic(fmt.Sprintf("policy %s: %v", p.Names.Policy, err))
	}
	params := map[string][]string{
		documents.DiskshadowParamPolicyName:  {p.Names.Policy},
		documents.DiskshadowParamRunID:       {"{{ automation:EXECUTION_ID }}"},
		documents.DiskshadowParamVolumes:     {string(p.Volumes)},
		documents.DiskshadowParamCopyOnly:    {psBool(w.CopyOnly)},
		documents.DiskshadowParamNoWriters:   {psBool(w.NoWriters)},
		documents.DiskshadowParamDescription: {"ssm-backup " + p.Names.Policy + " DISKSHADOW snapshot"},
		documents.DiskshadowParamTags:        {user},
	}
	if p.Volumes == policies.RootVolume {
		params[documents.DiskshadowParamExcludeDataVolume] = []string{"{{ " + diskshadowDataVolumesStep + ".DataVolumeIds }}"}
	}
	return params
}

// diskshadowDataVolumesStep lists the data volumes a root-only DISKSHADOW
// run excludes from CreateSnapshots (EC2 has no root-only switch).
const diskshadowDataVolumesStep = "listDataVolumes"

// buildWindowsDiskshadowRunbook runs the shared DISKSHADOW document on the
// instance, then the lifecycle steps.
func buildWindowsDiskshadowRunbook(p *PolicyPlan) documents.AutomationDocument {
	doc := buildWindowsVSSRunbook(p)
	var steps []documents.AutomationStep
	for _, s := range doc.MainSteps[:2] { // assertInstanceRunning, assertAgentOnline
		steps = append(steps, s)
	}
	doc.Description = p.Description + " — VSS snapshots of one Windows instance with DISKSHADOW (ssm-backup policy " + p.Names.Policy + ")."
	if p.Volumes == policies.RootVolume {
		list := documents.DataVolumesStep(diskshadowDataVolumesStep, "The instance's data volumes, which the root-only CreateSnapshots on the instance excludes by id (at most 40).", documents.DataVolumesInputs{InstanceId: "{{ InstanceId }}"})
		list.OnFailure = "Abort"
		steps = append(steps, list)
	}
	doc.MainSteps = append(steps, documents.AutomationStep{
		Name:           "takeSnapshots",
		Action:         "aws:runCommand",
		Description:    "DISKSHADOW: one shadow set of the NTFS volumes on EBS, one CreateSnapshots right after it is made, then the shadow set deleted from the live volumes — on the instance.",
		OnFailure:      "Abort",
		TimeoutSeconds: documents.DiskshadowTimeoutSeconds + 60,
		Inputs: runCommandInputs{
			DocumentName:   p.SharedName(WindowsDiskshadowDocument),
			InstanceIds:    []string{"{{ InstanceId }}"},
			Parameters:     diskshadowParameters(p),
			TimeoutSeconds: documents.DiskshadowTimeoutSeconds + 60,
			Comment:        "ssm-backup " + p.Names.Policy,
		},
		Outputs: []documents.StepOutput{
			{Name: "CommandId", Selector: "$.CommandId", Type: "String"},
			{Name: "Output", Selector: "$.Output", Type: "String"},
		},
	})
	doc.MainSteps = append(doc.MainSteps, verifyAndListSteps(p,
		"This run's snapshots exist and carry the id of the shadow set they hold ("+documents.TagVSSShadowSet+"); otherwise the backup is not application-consistent and the run fails.",
		ec2APIFilter{Name: "tag-key", Values: []string{documents.TagVSSShadowSet}})...)
	doc.Outputs = []string{"takeSnapshots.CommandId", "takeSnapshots.Output", winListStep + ".SnapshotIds"}
	addLifecycleSteps(&doc, p)
	wrapWindowsHooks(&doc, p, "takeSnapshots")
	return doc
}

// addWindowsShared emits the DISKSHADOW document, its script, its template
// resource and its Terraform counterpart when a policy of the plan uses it,
// and the hooks document when a policy has custom hooks.
func addWindowsShared(plan *Plan, files Files, resources map[string]json.RawMessage, tf *renderedTerraform) error {
	if slices.ContainsFunc(plan.Policies, (*PolicyPlan).usesDiskshadow) {
		err := addSharedCommandDocument(plan, files, resources, tf, sharedCommandDocument{
			Doc: windowsDiskshadowCommand(), Dir: WindowsDiskshadowDir, Script: "windows-diskshadow.ps1", Source: documents.WindowsDiskshadowScript(),
			LogicalID: WindowsDiskshadowLogicalID, Name: plan.SharedName(WindowsDiskshadowDocument), Tag: "windows-diskshadow",
		})
		if err != nil {
			return err
		}
	}
	return addWindowsHooksShared(plan, files, resources, tf) // windows_hooks.go
}

// sharedCommandDocument is a Command document of a set run by several
// policies' runbooks, with the script it holds.
type sharedCommandDocument struct {
	Doc             documents.CommandDocument
	Dir, Script     string
	Source          []byte
	LogicalID, Name string
	Tag             string // the ssm-backup:shared tag's value
}

// addSharedCommandDocument emits a shared Command document, its script,
// its template resource and its Terraform counterpart.
func addSharedCommandDocument(plan *Plan, files Files, resources map[string]json.RawMessage, tf *renderedTerraform, d sharedCommandDocument) error {
	b, err := documents.MarshalIndent(d.Doc)
	if err != nil {
		return err
	}
	files[d.Dir+"command-document.json"] = b
	files[d.Dir+d.Script] = d.Source
	res, err := compactJSON(Resource{
		Type: "AWS::SSM::Document",
		Properties: documentProperties{
			Name: d.Name, DocumentType: "Command", DocumentFormat: "JSON",
			UpdateMethod: "NewVersion", Content: d.Doc,
			Tags: []CFNTag{{Key: "ssm-backup:shared", Value: d.Tag}},
		},
	})
	if err != nil {
		return err
	}
	resources[d.LogicalID] = res
	var f terraformFragment
	content, err := compactJSON(d.Doc)
	if err != nil {
		return err
	}
	f.resource(tfTypeDocument, tfName(d.LogicalID), tfDocument{
		Content:        tfLiteral(string(content)),
		DocumentFormat: "JSON",
		DocumentType:   "Command",
		Name:           tfLiteral(d.Name),
		Tags:           map[string]string{"ssm-backup:shared": d.Tag},
	})
	return tf.add(f)
}
