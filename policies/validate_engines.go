package policies

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ssm-backup/ssm-backup/schedule"
)

// Limits of AWS Backup and Amazon Data Lifecycle Manager, each from the
// service's API reference (the botocore models of "backup" and "dlm").
const (
	// BackupLifecycle.DeleteAfterDays: 1 to 36500 days.
	maxBackupDays = 36500
	// AWS Backup runs a schedule at most once an hour.
	minBackupInterval = time.Hour
	// StartWindowMinutes and CompletionWindowMinutes: at least 60 minutes.
	minBackupWindow = time.Hour
	// A recovery point in cold storage is kept there at least 90 days, so
	// DeleteAfterDays must be at least MoveToColdStorageAfterDays + 90.
	minColdStorageDays = 90
	// Vault Lock: ChangeableForDays is at least 3 days.
	minLockGraceDays = 3
	// AWS Backup selections of one plan that this tool emits for one policy
	// (one per combination of target tag values).
	maxBackupSelections = 10
	// DLM CreateRule.Interval with IntervalUnit HOURS.
	dlmMaxCopyRegions = 3 // CrossRegionCopyRules: at most 3
	// DLM archives only snapshots of cron schedules that run at most once
	// every 28 days ("Considerations for snapshot lifecycle policies").
	dlmMinArchiveInterval = 28 * day
	// DLM keeps a snapshot in the archive tier at least 90 days.
	dlmMinArchiveRetention = 90 * day
	// FastRestoreRule.AvailabilityZones: 1 to 10; Count 1 to 1000.
	maxFastRestoreZones = 10
	// Lifecycle policies emitted for one policy: one per target tag value.
	maxDLMPolicies = 10
)

// dlmHourIntervals are the CreateRule intervals DLM takes, in hours.
var dlmHourIntervals = []int{1, 2, 3, 4, 6, 8, 12, 24}

var (
	engines        = []string{string(EngineSSM), string(EngineBackup), string(EngineDLM)}
	scriptFailures = []string{"skip", "crash"}
	vaultNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_-]{2,50}$`)
	kmsKeyARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
	// Data Lifecycle Manager's TagKey (its lifecycle policies' own tags):
	// ASCII letters and "+" to "=" (digits, "," "-" "." "/" ":" ";" "<"
	// "="), "_" ".", ":" and "/"; no spaces.
	dlmTagKeyRE     = regexp.MustCompile(`^[a-zA-Z+-=._:/]+$`)
	zoneRE          = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$`)
	engineTitles    = map[Engine]string{EngineSSM: "Systems Manager", EngineBackup: "AWS Backup", EngineDLM: "Data Lifecycle Manager"}
	engineFieldHelp = map[Engine]string{EngineBackup: "spec.backup", EngineDLM: "spec.dlm"}
)

// EngineTitle is the name of the AWS service behind an engine.
func EngineTitle(e Engine) string { return engineTitles[e] }

// engine checks what the policy asks of its engine: the engine's own
// section, and every field the engine cannot express, each at its position.
func (v *validator) engine() {
	s := v.p.Spec
	v.engineKind = EngineSSM
	if v.given("spec.engine") {
		if !v.enum("spec.engine", string(s.Engine), engines) {
			v.engineKind = ""
			return
		}
		v.engineKind = s.Engine
	}
	e := v.engineKind
	for _, other := range []Engine{EngineBackup, EngineDLM} {
		p := engineFieldHelp[other]
		if other != e && v.src.Has(p) {
			v.keyErrorf(p, fmt.Sprintf("%s holds settings of \"engine: %s\"; set that engine, or remove them", p, other),
				"%s is set but engine is %s", p, e)
		}
	}
	if e == EngineSSM {
		return
	}
	v.engineCommon(e)
	switch e {
	case EngineBackup:
		v.backupEngine()
	case EngineDLM:
		v.dlmEngine()
	}
}

// cannot reports a field the engine cannot express, at its key, naming the
// engines that can.
func (v *validator) cannot(p string, e Engine, why string, can ...Engine) {
	v.keyErrorf(p, why+"; "+canHint(can), "%s cannot be expressed with engine %s (%s)", p, e, EngineTitle(e))
}

// cannotValue is cannot for a value that is wrong rather than a field that
// should not be there.
func (v *validator) cannotValue(p string, e Engine, why, what string, can ...Engine) {
	v.errorf(p, why+"; "+canHint(can), "%s cannot be expressed with engine %s (%s)", what, e, EngineTitle(e))
}

func canHint(can []Engine) string {
	var names []string
	for _, c := range can {
		names = append(names, "\"engine: "+string(c)+"\"")
	}
	switch len(names) {
	case 0:
		return "remove it"
	case 1:
		return "use " + names[0] + ", which can"
	}
	return "use " + joinOr(names) + ", which can"
}

// engineCommon checks what neither AWS Backup nor DLM can do.
func (v *validator) engineCommon(e Engine) {
	s := v.p.Spec
	if v.consistency == Stopped {
		v.cannotValue("spec.consistency", e, "it never stops instances", "consistency stopped", EngineSSM)
	}
	if v.sched != nil && v.sched.Kind() == schedule.At {
		v.cannotValue("spec.schedule.expression", e, "it runs repeating schedules only", "a one-time at() schedule", EngineSSM)
	}
	for _, f := range []struct{ p, why string }{
		{"spec.schedule.offset", "it has no schedule offset; write the day into the cron expression"},
		{"spec.schedule.window.cutoff", "it has no maintenance window to cut off"},
		{"spec.schedule.maxConcurrency", "it starts the jobs of every selected instance itself"},
		{"spec.schedule.maxErrors", "it starts the jobs of every selected instance itself and has no error threshold"},
		{"spec.restoreDrill", "restore drills run from a maintenance window of engine ssm"},
		{"spec.targets.expectedInstances", "it has no window whose length the fleet size could be checked against"},
	} {
		if v.src.Has(f.p) {
			v.cannot(f.p, e, f.why, EngineSSM)
		}
	}
	if s.Retention != nil && v.src.Has("spec.retention.minKeep") {
		v.cannot("spec.retention.minKeep", e, "it deletes by age alone, with no floor on the number kept", EngineSSM)
	}
	if r := s.Retention; r != nil && r.MaxAge != nil && r.MaxAge.Value%day != 0 {
		v.errorf("spec.retention.maxAge", "write whole days, e.g. 30d", "retention maxAge %s is not a whole number of days, which %s keeps snapshots by", r.MaxAge, EngineTitle(e))
	}
	for i, a := range s.Apps {
		if v.platform == Windows && a.Type == Custom {
			v.cannotValue(fmt.Sprintf("spec.apps[%d].type", i), e, "on Windows it runs AWS's VSS components only, which run no custom pre and post hooks", "a custom app on windows", EngineSSM)
		}
	}
	if w := s.Windows; w != nil && v.src.Has("spec.windows") {
		if v.given("spec.windows.vss") && w.VSS == "diskshadow" {
			v.cannotValue("spec.windows.vss", e, "it runs AWS's VSS components (AWSEC2-CreateVssSnapshot) only", "vss diskshadow", EngineSSM)
		}
		for _, f := range []string{"copyOnly", "noWriters", "installPackages"} {
			if p := "spec.windows." + f; v.src.Has(p) {
				v.cannot(p, e, "its VSS option takes no settings", EngineSSM)
			}
		}
	}
	for i, c := range s.Copies {
		p := fmt.Sprintf("spec.copies[%d]", i)
		if c.Retention != nil && c.Retention.Count != nil {
			v.cannot(p+".retention.count", e, "it keeps copies by age only; use maxAge", EngineSSM)
		}
		if c.Retention != nil && v.src.Has(p+".retention.minKeep") {
			v.cannot(p+".retention.minKeep", e, "it deletes copies by age alone", EngineSSM)
		}
		if c.Retention != nil && c.Retention.MaxAge != nil && c.Retention.MaxAge.Value%day != 0 {
			v.errorf(p+".retention.maxAge", "write whole days, e.g. 30d", "copy retention maxAge %s is not a whole number of days", c.Retention.MaxAge)
		}
		copyAges := c.Retention == nil && s.Retention != nil && s.Retention.Count != nil
		if copyAges && (e == EngineBackup || c.Region != "" && c.Account == "") {
			v.errorf(p, fmt.Sprintf("%s keeps copies by age only, and the policy's retention is a count; add \"retention: {maxAge: 30d}\" to this copy", EngineTitle(e)),
				"copy %s needs its own retention by age", describeDest(c))
		}
	}
}

// backupEngine checks a policy for AWS Backup.
func (v *validator) backupEngine() {
	s := v.p.Spec
	const e = EngineBackup
	if v.platform == Linux && (v.consistency == Filesystem || v.consistency == Application) {
		v.cannotValue("spec.consistency", e, "AWS Backup takes crash-consistent snapshots of Linux instances; it cannot freeze file systems or quiesce applications on them",
			"consistency "+string(v.consistency)+" on linux", EngineDLM, EngineSSM)
	}
	if v.volumes == DataVolumes || v.volumes == RootVolume {
		p := "spec.volumes"
		v.cannotValue(p, e, "AWS Backup backs up an EC2 instance whole, as an image of every volume", "volumes "+string(v.volumes), EngineDLM, EngineSSM)
	}
	if v.sched != nil {
		switch v.sched.Kind() {
		case schedule.Rate:
			v.cannotValue("spec.schedule.expression", e, "AWS Backup schedules with cron() expressions; write the rate as a cron expression, e.g. cron(0 */6 * * ? *)", "a rate() schedule", EngineDLM, EngineSSM)
		case schedule.Cron:
			if _, err := v.sched.SixFieldCron(); err != nil {
				v.errorf("spec.schedule.expression", "AWS Backup takes cron expressions without seconds", "%v", err)
			} else if mi := v.sched.MinInterval(v.loc); mi > 0 && mi < minBackupInterval {
				v.errorf("spec.schedule.expression", "AWS Backup runs a backup rule at most once an hour", "the schedule runs every %s, more often than hourly", formatDuration(mi))
			}
		}
	}
	if r := s.Retention; r != nil {
		if r.Count != nil {
			v.cannot("spec.retention.count", e, "AWS Backup deletes recovery points by age (lifecycle DeleteAfterDays); use maxAge", EngineDLM, EngineSSM)
		}
		if r.MaxAge != nil && r.MaxAge.Value > maxBackupDays*day {
			v.errorf("spec.retention.maxAge", "AWS Backup keeps recovery points at most 36500 days", "retention maxAge %s is longer than 36500d", r.MaxAge)
		}
	}
	if a := s.Archive; a != nil && v.given("spec.archive.after") && a.After.Value%day != 0 {
		v.errorf("spec.archive.after", "write whole days, e.g. 90d", "archive after %s is not a whole number of days", a.After)
	} else if a != nil && s.Retention != nil && s.Retention.MaxAge != nil && v.given("spec.archive.after") {
		cold, del := int(a.After.Value/day), int(s.Retention.MaxAge.Value/day)
		if del < cold+minColdStorageDays {
			v.errorf("spec.retention.maxAge", fmt.Sprintf("AWS Backup keeps a recovery point in cold storage at least 90 days, so it must be deleted no sooner than %d days (archive after %dd + 90); raise maxAge to %dd or archive sooner", cold+minColdStorageDays, cold, cold+minColdStorageDays),
				"retention maxAge %s is less than archive after %s + 90 days", s.Retention.MaxAge, a.After)
		}
	}
	for i, c := range s.Copies {
		if p := fmt.Sprintf("spec.copies[%d].kmsKeyId", i); v.given(p) && !kmsKeyARNRE.MatchString(c.KMSKeyID) {
			v.errorf(p, "the copy's vault is encrypted with this key; AWS Backup takes the key's ARN: arn:aws:kms:<region>:<account>:key/<key id>", "%q is not a KMS key ARN", c.KMSKeyID)
		}
	}
	if v.src.Has("spec.protection") {
		v.cannot("spec.protection", e, "protect AWS Backup's recovery points with spec.backup.vault.lock (Vault Lock) instead", EngineDLM, EngineSSM)
	}
	combos := 1
	for _, vals := range s.Targets.Tags {
		combos *= max(1, len(vals))
	}
	if combos > maxBackupSelections {
		v.errorf("spec.targets.tags", fmt.Sprintf("AWS Backup selections AND their conditions but cannot OR the values of one key, so each combination of values is one selection; list fewer values (at most %d combinations)", maxBackupSelections),
			"the target tags make %d combinations of values", combos)
	}
	b := s.Backup
	if b == nil {
		return
	}
	if w := b.CompletionWindow; w != nil {
		if w.Value < minBackupWindow || w.Value%time.Minute != 0 {
			v.errorf("spec.backup.completionWindow", "AWS Backup takes the completion window in whole minutes, at least 60", "completion window %s is shorter than 1h or not whole minutes", w)
		}
	}
	vault := b.Vault
	if vault == nil {
		return
	}
	if v.given("spec.backup.vault.name") && !vaultNameRE.MatchString(vault.Name) {
		v.errorf("spec.backup.vault.name", "a backup vault name is 2 to 50 letters, digits, hyphens and underscores", "%q is not a backup vault name", vault.Name)
	}
	if v.given("spec.backup.vault.kmsKeyId") && !kmsKeyARNRE.MatchString(vault.KMSKeyID) {
		v.errorf("spec.backup.vault.kmsKeyId", "AWS Backup takes the key's ARN: arn:aws:kms:<region>:<account>:key/<key id>", "%q is not a KMS key ARN", vault.KMSKeyID)
	}
	if lock := vault.Lock; lock != nil && v.given("spec.backup.vault.lock") {
		v.vaultLock(lock)
	}
}

// vaultLock checks Vault Lock against itself and the policy's retention,
// which the lock would otherwise make every backup job fail over.
func (v *validator) vaultLock(lock *VaultLock) {
	const p = "spec.backup.vault.lock"
	if !v.require(p, "minRetention", "add the shortest retention a recovery point may have, e.g. \"minRetention: 7d\"") {
		return
	}
	wholeDays := func(f string, d Duration, least int) bool {
		if d.Value%day != 0 || d.Value < time.Duration(least)*day || d.Value > maxBackupDays*day {
			v.errorf(p+"."+f, fmt.Sprintf("write whole days from %dd to 36500d", least), "%s %s is not a whole number of days from %dd to 36500d", f, d, least)
			return false
		}
		return true
	}
	minOK := wholeDays("minRetention", lock.MinRetention, 1)
	maxOK := lock.MaxRetention != nil && wholeDays("maxRetention", *lock.MaxRetention, 1)
	if minOK && maxOK && lock.MaxRetention.Value < lock.MinRetention.Value {
		v.errorf(p+".maxRetention", "the longest retention cannot be shorter than the shortest", "maxRetention %s is shorter than minRetention %s", lock.MaxRetention, lock.MinRetention)
	}
	if lock.ChangeableFor != nil {
		wholeDays("changeableFor", *lock.ChangeableFor, minLockGraceDays)
	}
	r := v.p.Spec.Retention
	switch {
	case r == nil && maxOK:
		v.errorf(p+".maxRetention", "a locked vault refuses recovery points kept longer than maxRetention, and without retention they are kept forever; add retention.maxAge within the lock's range", "the policy keeps recovery points forever but the vault lock allows at most %s", lock.MaxRetention)
	case r != nil && r.MaxAge != nil && minOK && r.MaxAge.Value < lock.MinRetention.Value:
		v.errorf("spec.retention.maxAge", fmt.Sprintf("AWS Backup fails every backup job whose retention is outside the vault lock's range; keep recovery points at least %s", lock.MinRetention), "retention maxAge %s is shorter than the vault lock's minRetention %s", r.MaxAge, lock.MinRetention)
	case r != nil && r.MaxAge != nil && maxOK && r.MaxAge.Value > lock.MaxRetention.Value:
		v.errorf("spec.retention.maxAge", fmt.Sprintf("AWS Backup fails every backup job whose retention is outside the vault lock's range; keep recovery points at most %s", lock.MaxRetention), "retention maxAge %s is longer than the vault lock's maxRetention %s", r.MaxAge, lock.MaxRetention)
	}
}

// dlmEngine checks a policy for Data Lifecycle Manager.
func (v *validator) dlmEngine() {
	s := v.p.Spec
	const e = EngineDLM
	if v.volumes == RootVolume {
		v.cannotValue("spec.volumes", e, "Data Lifecycle Manager can leave out the boot volume or data volumes by tag, but cannot snapshot the root volume alone", "volumes root", EngineSSM)
	}
	for k, vals := range s.Targets.Tags {
		if len(vals) > maxDLMPolicies && len(s.Targets.Tags) == 1 {
			v.errorf("spec.targets.tags."+k, fmt.Sprintf("each value becomes one Data Lifecycle Manager policy (an account has at most 100 per region); list at most %d values", maxDLMPolicies),
				"%d values of target tag %s", len(vals), k)
		}
	}
	if n := len(s.Targets.Tags); n > 1 {
		v.errorf("spec.targets.tags", "Data Lifecycle Manager targets every instance that carries any one of its target tags, so it cannot require all of several keys; select with one tag key (several values are fine), or use \"engine: ssm\" or \"engine: backup\", which can",
			"the targets need all of %d tag keys, which engine dlm cannot express", n)
	}
	if v.given("spec.schedule.timezone") && s.Schedule.Timezone != "UTC" && s.Schedule.Timezone != "Etc/UTC" {
		v.cannotValue("spec.schedule.timezone", e, "Data Lifecycle Manager reads cron expressions in UTC; write the schedule in UTC and remove timezone", "time zone "+s.Schedule.Timezone, EngineBackup, EngineSSM)
	}
	if v.sched != nil {
		switch v.sched.Kind() {
		case schedule.Rate:
			iv := v.sched.RateInterval()
			if iv%time.Hour != 0 || !slices.Contains(dlmHourIntervals, int(iv/time.Hour)) {
				v.errorf("spec.schedule.expression", "Data Lifecycle Manager runs every 1, 2, 3, 4, 6, 8, 12 or 24 hours; for other intervals use a cron() expression", "rate of %s is not an interval Data Lifecycle Manager takes", formatDuration(iv))
			}
		case schedule.Cron:
			if _, err := v.sched.SixFieldCron(); err != nil {
				v.errorf("spec.schedule.expression", "Data Lifecycle Manager takes cron expressions without seconds", "%v", err)
			} else if mi := v.sched.MinInterval(time.UTC); mi > 0 && mi < time.Hour {
				v.errorf("spec.schedule.expression", "Data Lifecycle Manager creates snapshots at most once an hour", "the schedule runs every %s, more often than hourly", formatDuration(mi))
			}
		}
	}
	if v.src.Has("spec.schedule.window.duration") {
		v.cannot("spec.schedule.window.duration", e, "it starts its snapshots within an hour of the scheduled time, with no window to set", EngineBackup, EngineSSM)
	}
	r := s.Retention
	if r == nil && !v.src.unreadable("spec.retention") && !v.src.isMisspelt("spec.retention") {
		v.errorf("spec", "Data Lifecycle Manager needs a retention rule: add \"retention: {count: 7}\" or \"retention: {maxAge: 30d}\"", "engine dlm needs spec.retention")
	}
	if a := s.Archive; a != nil && v.given("spec.archive.after") {
		switch {
		case a.After.Value%day != 0:
			v.errorf("spec.archive.after", "write whole days, e.g. 90d", "archive after %s is not a whole number of days", a.After)
		case r != nil && r.Count != nil:
			v.cannot("spec.archive", e, "Data Lifecycle Manager archives a count-based schedule's snapshots by count, not by age; use retention.maxAge", EngineSSM)
		case v.sched != nil && (v.sched.Kind() != schedule.Cron || v.sched.MinInterval(time.UTC) < dlmMinArchiveInterval):
			v.errorf("spec.archive.after", "Data Lifecycle Manager archives only snapshots of cron schedules that run at most once every 28 days (for example monthly: cron(0 3 1 * ? *)); use \"engine: ssm\", which can archive any schedule's snapshots",
				"engine dlm cannot archive the snapshots of this schedule")
		case r != nil && r.MaxAge != nil && r.MaxAge.Value-a.After.Value < dlmMinArchiveRetention:
			v.errorf("spec.retention.maxAge", fmt.Sprintf("Data Lifecycle Manager keeps archived snapshots at least 90 days; raise maxAge to %s or more", formatDuration(a.After.Value+dlmMinArchiveRetention)),
				"retention maxAge %s leaves archived snapshots less than 90 days in the archive tier", r.MaxAge)
		}
	}
	regions := 0
	for i, c := range s.Copies {
		p := fmt.Sprintf("spec.copies[%d]", i)
		switch {
		case c.Region != "" && c.Account != "":
			v.cannotValue(p, e, "Data Lifecycle Manager copies to other regions of this account, or shares with other accounts in this region, but not both in one step", "a copy to another region and account", EngineSSM)
		case c.Region != "":
			regions++
			if regions == dlmMaxCopyRegions+1 {
				v.errorf(p, "Data Lifecycle Manager copies a schedule's snapshots to at most 3 regions", "more than %d region copies", dlmMaxCopyRegions)
			}
			if v.given(p+".kmsKeyId") && !kmsKeyARNRE.MatchString(c.KMSKeyID) {
				v.errorf(p+".kmsKeyId", "Data Lifecycle Manager takes the destination key's ARN: arn:aws:kms:<region>:<account>:key/<key id>", "%q is not a KMS key ARN", c.KMSKeyID)
			}
		case c.Account != "":
			if v.src.Has(p + ".kmsKeyId") {
				v.cannot(p+".kmsKeyId", e, "it shares the snapshots; the other account copies them with its own key", EngineSSM)
			}
			if v.src.Has(p + ".retention") {
				v.cannot(p+".retention", e, "it shares the snapshots; how long the other account keeps its copies is up to that account", EngineSSM)
			}
		}
	}
	for _, k := range sortedKeys(s.Tags) {
		if !dlmTagKeyRE.MatchString(k) {
			v.keyErrorf("spec.tags."+k, "Data Lifecycle Manager tags its lifecycle policies with the policy's tags, and its tag keys are ASCII letters, digits and + - = . _ : / only (no spaces); rename the tag", "tag key %q cannot tag a Data Lifecycle Manager policy", k)
		}
	}
	d := s.DLM
	if d == nil {
		return
	}
	if v.given("spec.dlm.onScriptFailure") {
		if v.enum("spec.dlm.onScriptFailure", d.OnScriptFailure, scriptFailures) && v.platform == Linux && v.consistency == Crash {
			v.keyErrorf("spec.dlm.onScriptFailure", "only filesystem and application consistency run a pre-script; remove it", "spec.dlm.onScriptFailure is set but consistency is crash")
		}
	}
	if fr := d.FastRestore; fr != nil && v.given("spec.dlm.fastRestore") {
		const p = "spec.dlm.fastRestore"
		if v.require(p, "availabilityZones", "add the Availability Zones, e.g. \"availabilityZones: [eu-west-1a]\"") {
			if n := len(fr.AvailabilityZones); n < 1 || n > maxFastRestoreZones {
				v.errorf(p+".availabilityZones", "list 1 to 10 Availability Zones", "%d Availability Zones", n)
			}
			for i, z := range fr.AvailabilityZones {
				if !zoneRE.MatchString(z) {
					v.errorf(fmt.Sprintf("%s.availabilityZones[%d]", p, i), "write an Availability Zone name such as eu-west-1a", "%q is not an Availability Zone", z)
				}
			}
		}
		if v.require(p, "count", "add how many of the newest snapshots to keep fast, e.g. \"count: 1\"") && (fr.Count < 1 || fr.Count > maxRetentionCount) {
			v.errorf(p+".count", "keep fast snapshot restore on 1 to 1000 snapshots", "fast restore count %d is out of range", fr.Count)
		}
	}
}
