package compiler

import (
	"fmt"
	"strings"
	"time"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// writeEngineSummary is the summary of a policy run by AWS Backup or Data
// Lifecycle Manager: what the service is asked to do, and what it runs with.
func writeEngineSummary(b *strings.Builder, p *PolicyPlan, a *engineArtifacts, now time.Time) {
	n := p.Names
	s := p.Schedule
	e := p.Engine
	fmt.Fprintf(b, "## %s\n\n%s\n\n", n.Policy, md(p.Description))
	switch e.Engine {
	case policies.EngineBackup:
		sels := len(backupSelections(p))
		fmt.Fprintf(b, "- **Engine:** AWS Backup — backup plan `ssm-backup-%s`, vault `%s`, %d tag-based %s of EC2 instances, service role `%s`\n",
			n.Policy, p.BackupVaultName(), sels, plural(sels, "selection", "selections"), a.serviceRole)
	case policies.EngineDLM:
		k := len(dlmTargets(p))
		fmt.Fprintf(b, "- **Engine:** Data Lifecycle Manager — %d EBS snapshot lifecycle %s (one per target tag value) targeting instances, execution role `%s`\n",
			k, plural(k, "policy", "policies"), a.serviceRole)
	}
	fmt.Fprintf(b, "- **Targets:** %s\n", md(targetsText(p)))
	fmt.Fprintf(b, "- **Volumes:** %s\n", engineVolumesText(p))
	fmt.Fprintf(b, "- **Consistency:** %s\n", engineConsistencyText(p))
	fmt.Fprintf(b, "- **Schedule:** `%s` — %s, time zone %s; %s\n", s.Expression, md(s.Parsed.Describe()), s.Timezone, engineScheduleText(p))
	writeNextRuns(b, s, now) // engines have no offset: validation refuses one
	var tags []string
	for _, t := range p.Tags {
		tags = append(tags, fmt.Sprintf("`%s=%s`", t.Key, t.Value))
	}
	tags = append(tags, "`"+TagPolicy+"`", "`"+TagConsistency+"`")
	if e.Engine == policies.EngineDLM {
		tags = append(tags, "`"+TagInstanceID+"`", "Data Lifecycle Manager's own `aws:dlm:*` tags")
	}
	fmt.Fprintf(b, "- **Snapshot tags:** %s\n", strings.Join(tags, ", "))
	fmt.Fprintf(b, "- **Retention:** %s\n", engineRetentionText(p))
	fmt.Fprintf(b, "- **Copies:** %s\n", engineCopiesText(p))
	fmt.Fprintf(b, "- **Protection:** %s\n", engineProtectionText(p))
	fmt.Fprintf(b, "- **Restore drill:** none — restore drills run with engine ssm\n")
	fmt.Fprintf(b, "- **Prerequisites:** %s\n\n", enginePrerequisites(p))

	b.WriteString("### Permissions\n\n")
	title := fmt.Sprintf("Service role `%s` (assumed by `%s`)", a.serviceRole, a.serviceService)
	if a.servicePolicy != nil {
		writeRole(b, title, *a.servicePolicy)
	} else {
		fmt.Fprintf(b, "%s has the AWS managed %s: it is the policy AWS Backup documents for its service role; the vault, not the role, guards the recovery points (%s).\n\n",
			title, codeAll(a.serviceManaged), "see Protection")
	}
	if a.instanceManaged != nil {
		fmt.Fprintf(b, "Instance role `%s` (instance profile `%s`) has the AWS managed %s and nothing else.\n\n", n.InstanceRole, n.InstanceProfile, codeAll(a.instanceManaged))
	} else {
		b.WriteString("Nothing runs on the instances: they need no role from this policy.\n\n")
	}
	writeWarnings(b, p)
}

func engineVolumesText(p *PolicyPlan) string {
	if p.Engine.Engine == policies.EngineBackup {
		return "the whole instance: AWS Backup creates an image (AMI) with a snapshot of every EBS volume"
	}
	if p.Volumes == policies.DataVolumes {
		return "every EBS volume but the boot volume, in one multi-volume snapshot set (ExcludeBootVolume)"
	}
	return "every EBS volume of the instance, in one multi-volume snapshot set"
}

func engineConsistencyText(p *PolicyPlan) string {
	switch {
	case p.usesServiceVSS() && p.Engine.Engine == policies.EngineBackup:
		return "application-consistent through VSS: the backup plan's `WindowsVSS` setting makes AWS Backup run AWS's VSS components on the instance"
	case p.usesServiceVSS():
		return "application-consistent through VSS: Data Lifecycle Manager runs `" + documents.CreateVSSSnapshotDocument + "` (handler `" + dlmVSSHandler + "`) on the instance"
	case p.usesDLMHooks():
		action := "skips the instance for that run (no snapshot)"
		if p.Engine.DLM != nil && p.Engine.DLM.OnScriptFailure == "crash" {
			action = "takes a crash-consistent snapshot anyway"
		}
		what := "syncs and freezes the data file systems"
		if p.Consistency == policies.Application {
			var apps []string
			for _, a := range p.Snapshot.Apps {
				apps = append(apps, "`"+a.Type+"`")
			}
			what = "quiesces " + strings.Join(apps, ", ") + " (as the ssm engine's script does: FLUSH TABLES WITH READ LOCK held in one session, CHECKPOINT, custom hooks), then freezes the data file systems"
		}
		return fmt.Sprintf("%s: Data Lifecycle Manager runs this policy's Command document `%s` as its pre-script, which %s and leaves the hold to a detached holder bounded by maxFreeze %d s; DLM then creates the snapshots and runs the post-script, which releases everything at once (the watchdog releases it at maxFreeze whatever happens). The pre-script may take up to %d s; if it fails DLM %s. A post-script that finds the hold already released (the watchdog's doing, at maxFreeze) fails, so Data Lifecycle Manager reports that run's script as failed: its snapshots may be only crash-consistent",
			p.Consistency, p.DLMHooksDocumentName(), what, p.Snapshot.MaxFreezeSeconds, documents.LinuxDLMHooksExecutionTimeoutSeconds, action)
	}
	return "crash-consistent: all volumes at the same point in time, nothing flushed or frozen"
}

func engineScheduleText(p *PolicyPlan) string {
	e := p.Engine
	if e.Engine == policies.EngineBackup {
		complete := backupCompletionWindow(p)
		return fmt.Sprintf("AWS Backup runs `%s` in that zone; a job must start within %d min and complete within %d min", e.Cron, p.Schedule.DurationHours*60, int(complete/time.Minute))
	}
	if e.RateHours > 0 {
		return fmt.Sprintf("Data Lifecycle Manager creates snapshots every %d %s (interval rule, UTC; it picks the start time)", e.RateHours, plural(e.RateHours, "hour", "hours"))
	}
	return fmt.Sprintf("Data Lifecycle Manager runs `%s` in UTC and starts within the hour", e.Cron)
}

func engineRetentionText(p *PolicyPlan) string {
	r := p.Retention
	if p.Engine.Engine == policies.EngineBackup {
		parts := []string{}
		if p.Archive != nil {
			parts = append(parts, fmt.Sprintf("moved to cold storage (the EBS archive tier) after %d days", p.Archive.AfterDays))
		}
		if r != nil && r.MaxAgeDays > 0 {
			parts = append(parts, fmt.Sprintf("deleted by AWS Backup %d days after creation", r.MaxAgeDays))
		} else {
			parts = append(parts, "never deleted (no lifecycle)")
		}
		return "recovery points are " + strings.Join(parts, ", then ")
	}
	switch {
	case r == nil:
		return "none — snapshots are kept until deleted by hand"
	case r.KeepCount > 0:
		return fmt.Sprintf("Data Lifecycle Manager keeps the newest %d %s of each volume and deletes older ones", r.KeepCount, plural(r.KeepCount, "snapshot", "snapshots"))
	case p.Archive != nil:
		return fmt.Sprintf("Data Lifecycle Manager moves snapshots to the archive tier after %d days and deletes them %d days later (%d days in all)", p.Archive.AfterDays, r.MaxAgeDays-p.Archive.AfterDays, r.MaxAgeDays)
	}
	return fmt.Sprintf("Data Lifecycle Manager deletes snapshots %d days after creation", r.MaxAgeDays)
}

func engineCopiesText(p *PolicyPlan) string {
	if len(p.Copies) == 0 {
		return "none — every snapshot stays in this account and region"
	}
	var out []string
	for _, c := range p.Copies {
		keep := "kept as long as the policy keeps its own"
		if c.Retention != nil && c.Retention.MaxAgeDays > 0 {
			keep = fmt.Sprintf("kept %d days", c.Retention.MaxAgeDays)
		}
		switch {
		case p.Engine.Engine == policies.EngineBackup:
			extra := ""
			if c.Account != "" {
				extra = ", whose access policy lets this account (parameter SourceAccountId) copy into it; AWS Backup copies across accounts only within one AWS Organization with cross-account backup turned on"
			}
			out = append(out, fmt.Sprintf("copy action to `%s`, %s; **deploy `%s` there first**: it creates that vault%s", backupVaultARN(p, c), keep, PolicyDir(p.Names.Policy)+BackupVaultTemplatePath(c), extra))
		case c.Region != "":
			key := "encrypted with the destination's default EBS key"
			if c.KMSKeyID != "" {
				key = "encrypted with `" + c.KMSKeyID + "`"
			}
			out = append(out, fmt.Sprintf("cross-region copy to `%s`, %s, tags copied, %s", c.Region, key, keep))
		default:
			out = append(out, fmt.Sprintf("shared with account `%s` (that account copies and keeps them itself, e.g. with a cross-account copy event policy)", c.Account))
		}
	}
	return strings.Join(out, "; ")
}

func engineProtectionText(p *PolicyPlan) string {
	if p.Engine.Engine == policies.EngineBackup {
		b := p.Engine.Backup
		if b == nil || b.Vault == nil || b.Vault.Lock == nil {
			return "the vault has no Vault Lock: principals with `backup:DeleteRecoveryPoint` can delete recovery points (`backup: {vault: {lock: {minRetention: 7d}}}` prevents it)"
		}
		lk := b.Vault.Lock
		text := fmt.Sprintf("Vault Lock: no recovery point can be deleted before %s", lk.MinRetention)
		if lk.MaxRetention != nil {
			text += fmt.Sprintf(" or kept longer than %s", lk.MaxRetention)
		}
		if lk.ChangeableFor != nil {
			return text + fmt.Sprintf("; **compliance mode**: %s after deployment the lock becomes immutable, even for the account's root user", lk.ChangeableFor)
		}
		return text + "; governance mode: principals allowed `backup:DeleteBackupVaultLockConfiguration` can remove the lock"
	}
	text := "Data Lifecycle Manager's role may delete, copy, archive and share only snapshots tagged `" + TagPolicy + "=" + p.Names.Policy + "`, and never make one public"
	if p.Protection.RecycleBinDays > 0 {
		return text + fmt.Sprintf("; Recycle Bin keeps deleted snapshots of this policy %d days", p.Protection.RecycleBinDays)
	}
	return text + "; Recycle Bin: not used"
}

func enginePrerequisites(p *PolicyPlan) string {
	var out []string
	switch p.Engine.Engine {
	case policies.EngineBackup:
		out = append(out, "EC2 is opted in to AWS Backup in this region (AWS Backup settings, service opt-in)")
	case policies.EngineDLM:
		out = append(out, "at most 100 lifecycle policies per region and account (a Data Lifecycle Manager quota)")
	}
	switch {
	case p.usesServiceVSS():
		out = append(out, "the instances run SSM Agent and have `"+documents.VSSPackage+"` installed, with the instance profile below (or its managed policies on their role)")
	case p.usesDLMHooks():
		out = append(out, "the instances run SSM Agent and are managed by Systems Manager, with the instance profile below (or AmazonSSMManagedInstanceCore on their role)")
	}
	return strings.Join(out, "; ")
}
