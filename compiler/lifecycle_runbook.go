package compiler

import (
	"strconv"

	"github.com/ssm-backup/ssm-backup/documents"
)

// Step names of the backup runbook after the snapshot step. The review
// reads copies from the step whose name holds "copy", and the archive rule
// from a step whose name holds "archive".
const (
	copyStepName         = "copySnapshots"
	pruneStepName        = "pruneSnapshots"
	pruneArchiveStepName = "pruneAndArchiveSnapshots"
)

// addLifecycleSteps appends what follows the snapshot step: the copies
// (when the policy has any), then one step that prunes by retention here
// and in each copy region and moves old sets to the archive tier. Each
// embedded script appears once, so the runbook stays within SSM's 64 KB
// whatever the number of copies. The last step ends the runbook.
func addLifecycleSteps(doc *documents.AutomationDocument, p *PolicyPlan) {
	n := p.Names
	if len(p.Copies) > 0 {
		in := documents.CopyInputs{
			InstanceId:   "{{ InstanceId }}",
			PolicyName:   n.Policy,
			RunId:        "{{ automation:EXECUTION_ID }}",
			SourceRegion: "{{ global:REGION }}",
			WaitSeconds:  strconv.Itoa(documents.CopyWaitSeconds),
		}
		for _, c := range p.Copies {
			d := documents.CopyDestination{Region: c.Region, Account: c.Account}
			if !c.IsShare() {
				d.KmsKeyId = c.KMSKeyID
				if r := c.Retention; r != nil {
					d.KeepCount, d.MaxAgeDays, d.MinKeep = strconv.Itoa(r.KeepCount), strconv.Itoa(r.MaxAgeDays), strconv.Itoa(r.MinKeep)
				}
			}
			in.Copies = append(in.Copies, d)
		}
		appendStep(doc, documents.CopySnapshotsStep(copyStepName, in))
	}
	if p.hasPruneStep() {
		// Pruning runs only after this run's snapshots were requested: a
		// failed snapshot step aborts the runbook before anything is
		// deleted.
		dry := "true: report which snapshots retention would delete, and delete none."
		if p.Archive != nil {
			dry = "true: report which snapshots retention would delete and which would go to the archive tier, and change none."
		}
		doc.Parameters["PruneDryRun"] = documents.Parameter{
			Type:          "String",
			Description:   dry,
			Default:       "false",
			AllowedValues: []string{"false", "true"},
		}
		in := documents.PruneInputs{
			InstanceId: "{{ InstanceId }}",
			PolicyName: n.Policy,
			RunId:      "{{ automation:EXECUTION_ID }}",
			KeepCount:  "0",
			MaxAgeDays: "0",
			MinKeep:    "1",
			DryRun:     "{{ PruneDryRun }}",
		}
		if r := p.Retention; r != nil {
			in.KeepCount, in.MaxAgeDays, in.MinKeep = strconv.Itoa(r.KeepCount), strconv.Itoa(r.MaxAgeDays), strconv.Itoa(r.MinKeep)
		}
		for _, c := range p.regionCopies() {
			if r := c.Retention; r != nil {
				in.Copies = append(in.Copies, documents.PruneCopy{
					Region: c.Region, KeepCount: strconv.Itoa(r.KeepCount),
					MaxAgeDays: strconv.Itoa(r.MaxAgeDays), MinKeep: strconv.Itoa(r.MinKeep),
				})
			}
		}
		if len(in.Copies) > 0 {
			in.SourceRegion = "{{ global:REGION }}"
		}
		name := pruneStepName
		if p.Archive != nil {
			in.ArchiveAfterDays = strconv.Itoa(p.Archive.AfterDays)
			name = pruneArchiveStepName
		}
		appendStep(doc, documents.PruneSnapshotsStep(name, in))
	}
	doc.MainSteps[len(doc.MainSteps)-1].IsEnd = true
}

// appendStep adds a step and exposes its outputs as the runbook's.
func appendStep(doc *documents.AutomationDocument, s documents.AutomationStep) {
	doc.MainSteps = append(doc.MainSteps, s)
	for _, o := range s.Outputs {
		doc.Outputs = append(doc.Outputs, s.Name+"."+o.Name)
	}
}
