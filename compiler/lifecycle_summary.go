package compiler

import (
	"fmt"
	"strings"
	"time"

	"github.com/ssm-backup/ssm-backup/documents"
)

// drillRunsListed is how many upcoming drills the summary lists.
const drillRunsListed = 3

// writeLifecycleSummary writes the copies, archive, protection and restore
// drill lines of a policy's summary, and ends its list.
func writeLifecycleSummary(b *strings.Builder, p *PolicyPlan, now time.Time) {
	writeCopiesSummary(b, p)
	writeArchiveSummary(b, p)
	writeProtectionSummary(b, p)
	writeDrillSummary(b, p, now)
	b.WriteString("\n")
}

func keptText(r *RetentionPlan) string {
	if r == nil {
		return "none: copies are kept until deleted by hand"
	}
	var rules []string
	if r.KeepCount > 0 {
		rules = append(rules, fmt.Sprintf("the newest %d %s of each instance", r.KeepCount, plural(r.KeepCount, "set", "sets")))
	}
	if r.MaxAgeDays > 0 {
		rules = append(rules, fmt.Sprintf("sets younger than %d %s, and always the newest %d", r.MaxAgeDays, plural(r.MaxAgeDays, "day", "days"), r.MinKeep))
	}
	return "keeps " + strings.Join(rules, "; ")
}

func writeCopiesSummary(b *strings.Builder, p *PolicyPlan) {
	if len(p.Copies) == 0 {
		b.WriteString("- **Copies:** none — every snapshot stays in this account and region\n")
		return
	}
	fmt.Fprintf(b, "- **Copies:** after the snapshot step, the runbook's `%s` step waits up to %d min for the run's snapshots to complete, then serves each destination; a set still pending then, and any earlier complete set without a copy, is caught up by a later run (at most 20 copies per region and run). A failed copy or share makes the execution fail, after pruning.\n",
		copyStepName, documents.CopyWaitSeconds/60)
	for _, c := range p.Copies {
		if !c.IsShare() {
			key := "with the destination region's default EBS key when the snapshot is encrypted"
			if c.KMSKeyID != "" {
				key = "encrypted with `" + c.KMSKeyID + "`"
			}
			fmt.Fprintf(b, "  - region `%s`, this account — **automated:** CopySnapshot from a client in `%s`, %s, tagged at creation with the snapshot's tags and `%s`, `%s`, `%s`. Retention there: %s, applied by the prune step (only copies from this region are ever deleted there).\n",
				c.Region, c.Region, key, "ssm-backup:source-snapshot", "ssm-backup:source-region", "ssm-backup:copy-of", keptText(c.Retention))
			continue
		}
		into := "into a region of its choice"
		if c.Region != "" {
			into = "into `" + c.Region + "`"
		}
		key := ""
		if c.KMSKeyID != "" {
			key = ", encrypted with `" + c.KMSKeyID + "`"
		}
		fmt.Fprintf(b, "  - account `%s` — **automated:** each complete snapshot set is shared with the account (ModifySnapshotAttribute, createVolumePermission add). **Not automated:** the copy in that account: it copies the shared snapshots %s%s with the managed policy of `%s`; until it does, the only copy is the shared snapshot in this account, which retention here deletes and which goes with this account. Snapshots encrypted with the default `aws/ebs` key cannot be shared: the volumes need a customer managed key whose key policy lets the account use it. Retention of that account's copies (%s) is the account's to apply.\n",
			c.Account, into, key, PolicyDir(p.Names.Policy)+DestinationTemplatePath(c.Account), strings.TrimPrefix(keptText(c.Retention), "keeps "))
	}
}

func writeArchiveSummary(b *strings.Builder, p *PolicyPlan) {
	a := p.Archive
	if a == nil {
		b.WriteString("- **Archive tier:** not used\n")
		return
	}
	fmt.Fprintf(b, "- **Archive tier:** after pruning, the `%s` step moves this policy's complete snapshot sets that are at least %d days old to the EBS archive tier (ModifySnapshotTier) — never the newest complete set, never this run's, never a set with a pending snapshot, never another policy's. The trade-off: archived snapshots cost about a quarter of standard snapshot storage per GB, but each is stored as a full copy of the volume rather than incrementally, is billed for at least 90 days even when deleted sooner, and must be restored before use, which takes 24 to 72 hours and is charged per GB.",
		pruneArchiveStepName, a.AfterDays)
	if r := p.Retention; r != nil && r.KeepCount > 0 {
		fmt.Fprintf(b, " With `count` retention, a set reaches the archive tier only if it is still among the newest %d after %d days.", r.KeepCount, a.AfterDays)
	}
	b.WriteString(" Copies in other regions are not archived.\n")
}

func writeProtectionSummary(b *strings.Builder, p *PolicyPlan) {
	n := p.Names
	deletes := "may delete them only as retention says"
	if p.Retention == nil && len(p.prunedCopyRegions()) == 0 {
		deletes = "may not delete them either"
	}
	fmt.Fprintf(b, "- **Protection:** snapshots tagged `%s=%s` are write-once for the roles ssm-backup generates: the instance and maintenance-window roles are explicitly denied deleting, sharing and untagging them in every region; the automation role %s", TagPolicy, n.Policy, deletes)
	if acc := p.shareAccounts(); len(acc) > 0 {
		fmt.Fprintf(b, ", and may share them only with %s", codeList(acc))
	} else {
		b.WriteString(", and may not share them")
	}
	b.WriteString("; no role may make a snapshot public. Other principals of the account are not bound by these policies (a service control policy can extend the denial to them).")
	if d := p.Protection.RecycleBinDays; d > 0 {
		fmt.Fprintf(b, " **Recycle Bin:** a deleted snapshot of this policy stays recoverable for %d %s in the region the set is deployed to (rule `%sRecycleBinRule`), billed as a snapshot meanwhile; pruned copies in other regions are not covered.\n", d, plural(d, "day", "days"), n.Logical)
	} else {
		b.WriteString(" Recycle Bin: not used — a deleted snapshot is gone (`protection: {recycleBinDays: 7}` keeps deleted snapshots recoverable for 7 days).\n")
	}
}

func writeDrillSummary(b *strings.Builder, p *PolicyPlan, now time.Time) {
	d := p.Drill
	if d == nil {
		b.WriteString("- **Restore drill:** none — nothing proves the snapshots restore\n")
		return
	}
	fmt.Fprintf(b, "- **Restore drill:** `%s` — %s, time zone %s (window `%s`, %d h, one instance at a time). ", d.Expression, md(d.Parsed.Describe()), d.Timezone, p.Names.drill().Window, drillWindowHours)
	b.WriteString(drillText(p))
	runs := d.Parsed.Next(now, d.Location, 0, drillRunsListed)
	if len(runs) > 0 {
		var when []string
		for _, r := range runs {
			when = append(when, r.In(d.Location).Format("Mon 2006-01-02 15:04 MST"))
		}
		fmt.Fprintf(b, " Next drills: %s.", strings.Join(when, "; "))
	}
	b.WriteString("\n")
}

// permissionsClosing is the sentence after the roles in the summary: who
// may delete, share or re-tag a snapshot.
func permissionsClosing(p *PolicyPlan) string {
	n := p.Names
	accounts := p.shareAccounts()
	share := "No role may share or re-tag a snapshot."
	if len(accounts) > 0 {
		share = "Only the automation role may share snapshots, only this policy's and only with " + codeList(accounts) + ". No role may re-tag a snapshot."
	}
	regions := p.prunedCopyRegions()
	if p.Retention == nil && len(regions) == 0 {
		if len(accounts) == 0 {
			return "None of the roles may delete, share or re-tag a snapshot.\n\n"
		}
		return "None of the roles may delete a snapshot. " + share + "\n\n"
	}
	where := ""
	if len(regions) > 0 {
		where = " (here and in " + codeAll(regions) + ")"
		if p.Retention == nil {
			where = " (only the copies in " + codeAll(regions) + ")"
		}
	}
	return "Only the automation role may delete snapshots" + where + ", and only those tagged `" + TagPolicy + "=" + n.Policy + "`. " + share + "\n\n"
}
