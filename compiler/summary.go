package compiler

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// NextRunsCount is how many upcoming runs the summary lists per policy.
const NextRunsCount = 5

// SummaryAnchorPrefix starts the summary line that records the instant next
// runs are listed from; compile --check reads it back so a summary is stale
// only when the policies change, not when the clock moves.
const SummaryAnchorPrefix = "Next runs are listed from "

// renderSummary writes the Markdown a reviewer reads: what each policy
// backs up, when, how consistently, and what each generated role may do.
// Everything in it is computed from the plan and the generated documents.
func renderSummary(plan *Plan, arts []*policyArtifacts, opts Options) []byte {
	var b strings.Builder
	now := opts.Now.UTC().Truncate(time.Second)
	fmt.Fprintf(&b, "# ssm-backup summary\n\n")
	fmt.Fprintf(&b, "%d %s. %s%s.\n\n", len(plan.Policies), plural(len(plan.Policies), "policy", "policies"), SummaryAnchorPrefix, now.Format(time.RFC3339))
	if len(plan.Policies) > 0 {
		b.WriteString("| policy | engine | targets | volumes | consistency | schedule | warnings |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, p := range plan.Policies {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d |\n",
				p.Names.Policy, p.Engine.Engine, md(targetsText(p)), p.Volumes, p.Consistency,
				md(p.Schedule.Parsed.Describe()+" ("+p.Schedule.Timezone+")"), len(p.Warnings))
		}
		b.WriteString("\n")
	}
	for i, p := range plan.Policies {
		if arts[i].engine != nil {
			writeEngineSummary(&b, p, arts[i].engine, now) // engines_summary.go
			continue
		}
		writePolicySummary(&b, p, arts[i], now)
	}
	return []byte(b.String())
}

func writePolicySummary(b *strings.Builder, p *PolicyPlan, a *policyArtifacts, now time.Time) {
	n := p.Names
	s := p.Schedule
	fmt.Fprintf(b, "## %s\n\n%s\n\n", n.Policy, md(p.Description))
	fmt.Fprintf(b, "- **Engine:** Systems Manager — maintenance window `%s` runs the Automation runbook `%s` on each instance\n", n.Window, n.Runbook)
	fmt.Fprintf(b, "- **Targets:** %s (maintenance window `%s`, %s at a time, stop after %s %s)\n",
		md(targetsText(p)), n.Window, concurrencyText(s.MaxConcurrency), s.MaxErrors, plural(errorsCount(s.MaxErrors), "error", "errors"))
	fmt.Fprintf(b, "- **Volumes:** %s\n", volumesText(p.Volumes))
	fmt.Fprintf(b, "- **Consistency:** %s\n", consistencyText(p))
	writeStrategySummary(b, p) // downtime, prerequisites (stopped_strategy.go)
	fmt.Fprintf(b, "- **Schedule:** `%s` — %s, time zone %s", s.Expression, md(s.Parsed.Describe()), s.Timezone)
	if s.Offset > 0 {
		fmt.Fprintf(b, ", %d %s after the cron date", s.Offset, plural(s.Offset, "day", "days"))
	}
	fmt.Fprintf(b, "; the window stays open %d h and starts no new instance in its last %d h\n", s.DurationHours, s.CutoffHours)
	writeNextRuns(b, s, now)
	if len(p.Tags) > 0 {
		var tags []string
		for _, t := range p.Tags {
			tags = append(tags, fmt.Sprintf("`%s=%s`", t.Key, t.Value))
		}
		fmt.Fprintf(b, "- **Snapshot tags:** %s, plus `%s`, `%s`, `%s`, `%s`%s\n", strings.Join(tags, ", "), TagPolicy, TagInstanceID, TagConsistency, TagRunID, binlogTagsText(p))
	} else {
		fmt.Fprintf(b, "- **Snapshot tags:** `%s`, `%s`, `%s`, `%s`%s\n", TagPolicy, TagInstanceID, TagConsistency, TagRunID, binlogTagsText(p))
	}
	fmt.Fprintf(b, "- **Retention:** %s\n", retentionText(p.Retention))
	writeLifecycleSummary(b, p, now) // copies, archive, protection, drill (lifecycle_summary.go)

	b.WriteString("### Permissions\n\n")
	writeRole(b, "Instance role `"+n.InstanceRole+"` (managed policy `"+n.InstancePolicy+"`)", a.roles.InstancePolicy)
	writeRole(b, "Automation role `"+n.AutomationRole+"`", a.roles.AutomationPolicy)
	writeRole(b, "Maintenance-window role `"+n.WindowRole+"`", a.roles.WindowPolicy)
	b.WriteString(permissionsClosing(p))
	writeWarnings(b, p)
}

// writeWarnings lists the policy's warnings with their positions.
func writeWarnings(b *strings.Builder, p *PolicyPlan) {
	if len(p.Warnings) > 0 {
		b.WriteString("### Warnings\n\n")
		for _, w := range p.Warnings {
			loc := fmt.Sprintf("%s:%d:%d", w.Range.File, w.Range.Start.Line, w.Range.Start.Column)
			code := ""
			if w.Code != "" {
				code = w.Code + " "
			}
			fmt.Fprintf(b, "- %s`%s`: %s\n", code, loc, md(w.Summary))
		}
		b.WriteString("\n")
	}
}

// writeNextRuns lists the schedule's next runs after now, in its zone.
func writeNextRuns(b *strings.Builder, s SchedulePlan, now time.Time) {
	runs := s.Parsed.Next(now, s.Location, s.Offset, NextRunsCount)
	if len(runs) == 0 {
		fmt.Fprintf(b, "- **Next runs:** none after %s\n", now.Format(time.RFC3339))
		return
	}
	fmt.Fprintf(b, "- **Next runs:**\n")
	for _, r := range runs {
		fmt.Fprintf(b, "  - %s\n", r.In(s.Location).Format("Mon 2006-01-02 15:04 MST"))
	}
}

func writeRole(b *strings.Builder, title string, doc PolicyDocument) {
	fmt.Fprintf(b, "%s may:\n", title)
	for _, st := range doc.Statement {
		fmt.Fprintf(b, "- %s %s on %s", strings.ToLower(st.Effect), codeList(st.Action), codeList(st.Resource))
		if len(st.Condition) > 0 {
			var conds []string
			ops := make([]string, 0, len(st.Condition))
			for op := range st.Condition {
				ops = append(ops, op)
			}
			sort.Strings(ops)
			for _, op := range ops {
				keys := make([]string, 0, len(st.Condition[op]))
				for k := range st.Condition[op] {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					conds = append(conds, fmt.Sprintf("`%s` %s %s", k, opText(op), codeList(st.Condition[op][k])))
				}
			}
			fmt.Fprintf(b, " when %s", strings.Join(conds, " and "))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func opText(op string) string {
	if op == "StringEquals" {
		return "is"
	}
	return op
}

// codeList formats alternatives: `a`, `b` or `c`.
func codeList(xs []string) string { return joinCode(xs, " or ") }

// codeAll formats a conjunction: `a`, `b` and `c`.
func codeAll(xs []string) string { return joinCode(xs, " and ") }

func joinCode(xs []string, last string) string {
	var out []string
	for _, x := range xs {
		out = append(out, "`"+x+"`")
	}
	if len(out) > 1 {
		return strings.Join(out[:len(out)-1], ", ") + last + out[len(out)-1]
	}
	return strings.Join(out, "")
}

func targetsText(p *PolicyPlan) string {
	var parts []string
	for _, t := range p.Targets {
		parts = append(parts, fmt.Sprintf("%s = %s", t.Key, strings.Join(t.Values, " or ")))
	}
	return "instances tagged " + strings.Join(parts, " and ")
}

func retentionText(r *RetentionPlan) string {
	if r == nil {
		return "none — snapshots are kept until deleted by hand"
	}
	var rules []string
	if r.KeepCount > 0 {
		rules = append(rules, fmt.Sprintf("keep the newest %d %s of each instance", r.KeepCount, plural(r.KeepCount, "snapshot set", "snapshot sets")))
	}
	if r.MaxAgeDays > 0 {
		rules = append(rules, fmt.Sprintf("delete sets older than %d %s, but always keep the newest %d", r.MaxAgeDays, plural(r.MaxAgeDays, "day", "days"), r.MinKeep))
	}
	return strings.Join(rules, "; ") + ". A set is the snapshots of one run; after each successful run the runbook deletes the older sets of this policy (never a set still pending, never this run's, never one without this policy's tag; the PruneDryRun parameter reports without deleting)"
}

func volumesText(v policies.VolumeSelection) string {
	switch v {
	case policies.DataVolumes:
		return "data volumes (the root volume is excluded), in one multi-volume CreateSnapshots call"
	case policies.RootVolume:
		return "the root volume only"
	}
	return "every EBS volume of the instance, in one multi-volume CreateSnapshots call"
}

func consistencyText(p *PolicyPlan) string {
	switch p.Consistency {
	case policies.Crash:
		if usesAPISnapshot(p) && p.Volumes == policies.RootVolume {
			return "crash-consistent: the runbook lists the instance's data volumes and makes one CreateSnapshots call through the EC2 API that excludes them, while the instance runs — nothing flushed or frozen, nothing run on the instance (no SSM agent needed); a restore is like recovering from a power cut"
		}
		if usesAPISnapshot(p) {
			return "crash-consistent: the runbook makes one CreateSnapshots call of the data volumes (boot volume excluded) through the EC2 API while the instance runs — all of them at the same point in time, nothing flushed or frozen, nothing run on the instance (no SSM agent needed)"
		}
		return "crash-consistent: all volumes at the same point in time, nothing flushed or frozen"
	case policies.Filesystem:
		mounts := "the ext4 and xfs data file systems on the instance's EBS volumes (found at run time; never /, /tmp or the SSM agent's)"
		if len(p.Snapshot.Mounts) > 0 {
			mounts = codeAll(p.Snapshot.Mounts)
		}
		return fmt.Sprintf("file-system-consistent: sync, then freeze %s for one CreateSnapshots call, at most %d s (a watchdog thaws after that even if the script dies)", mounts, p.Snapshot.MaxFreezeSeconds)
	case policies.Application:
		if p.Platform == policies.Linux {
			return linuxApplicationText(p)
		}
		if p.Windows != nil {
			return windowsApplicationText(p) // windows_hooks.go
		}
	}
	return string(p.Consistency)
}

// linuxApplicationText says what is quiesced, how, and for how long.
func linuxApplicationText(p *PolicyPlan) string {
	s := p.Snapshot
	mounts := "the ext4 and xfs data file systems on the instance's EBS volumes (found at run time; never /, /tmp or the SSM agent's)"
	if len(s.Mounts) > 0 {
		mounts = codeAll(s.Mounts)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "application-consistent: the applications below are quiesced in this order, then %s are frozen for one CreateSnapshots call "+
		"and thawed as soon as it returns, and the applications are resumed in the reverse order. "+
		"Locks, paused applications and frozen file systems are held for at most %d s in all, from the first pre hook, lock or freeze: "+
		"a watchdog releases them after that even if the script dies, and the run fails. "+
		"Snapshots are tagged `%s=application` only when every application was quiesced and every file system frozen (else `crash`); "+
		"the run's exit status is the authority: a failed run's snapshots carry its `%s` and must not be trusted",
		mounts, s.MaxFreezeSeconds, TagConsistency, TagRunID)
	for _, a := range s.Apps {
		b.WriteString("\n  - ")
		b.WriteString(appText(a))
	}
	return b.String()
}

func appText(a documents.LinuxApp) string {
	switch a.Type {
	case documents.AppMySQL, documents.AppMariaDB:
		options := "the client's usual option files"
		if a.DefaultsFile != "" {
			options = "`" + a.DefaultsFile + "` only (`--defaults-file`)"
		}
		flush := ""
		if a.PreFlush {
			flush = "`FLUSH NO_WRITE_TO_BINLOG TABLES` before the hold, then "
		}
		return fmt.Sprintf("`%s`, with its options and credentials from %s: %s`FLUSH TABLES WITH READ LOCK`, waiting at most %d s for conflicting locks (else the run fails before anything is frozen), "+
			"held in the same client session until the CreateSnapshots call has returned, then `UNLOCK TABLES`; "+
			"the binary-log coordinates read under the lock are tagged `%s` and `%s`",
			a.Type, options, flush, a.LockWaitSeconds, documents.TagBinlogFile, documents.TagBinlogPosition)
	case documents.AppPostgreSQL:
		conn := "over the local socket as `postgres` (peer authentication)"
		if a.Service != "" {
			conn = "through the libpq service `" + a.Service + "`"
			if a.ServiceFile != "" {
				conn += " of `" + a.ServiceFile + "`"
			}
		}
		return "`postgresql`, " + conn + ": `CHECKPOINT` before the hold, so that recovery is short; no lock is taken: " +
			"PostgreSQL recovers from snapshots of all its volumes taken at one point in time, frozen, by replaying its WAL, " +
			"so the data directory and the WAL must be on the frozen file systems"
	case documents.AppCustom:
		post := "no post hook"
		if a.Post != "" {
			post = fmt.Sprintf("`%s` after the thaw whenever the pre hook was started, on failure too and by the watchdog (at most %d s)", a.Post, a.TimeoutSeconds)
		}
		return fmt.Sprintf("`custom`: `%s` in the hold (at most %d s, within the budget; a failure fails the run before anything is frozen), %s",
			a.Pre, a.TimeoutSeconds, post)
	}
	return a.Type
}

// binlogTagsText names the tags the script adds for MySQL servers.
func binlogTagsText(p *PolicyPlan) string {
	for _, a := range p.Snapshot.Apps {
		if a.Type == documents.AppMySQL || a.Type == documents.AppMariaDB {
			return fmt.Sprintf(", and `%s`, `%s` when the binary log is on", documents.TagBinlogFile, documents.TagBinlogPosition)
		}
	}
	return ""
}

func concurrencyText(c string) string {
	if strings.HasSuffix(c, "%") {
		return c + " of the instances"
	}
	return c + " " + plural(errorsCount(c), "instance", "instances")
}

func errorsCount(s string) int {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		return 0
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var mdEscaper = strings.NewReplacer("|", "\\|", "\n", " ")

// md escapes the characters that would break a Markdown table cell.
func md(s string) string { return mdEscaper.Replace(s) }
