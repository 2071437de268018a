package review

// The types in this file are the machine-readable plan: `ssm-backup plan
// --output json` writes a Plan. Fields are only ever added, never renamed or
// removed; lists are empty rather than null, so consumers need no null checks
// for them.

// Plan is everything that changes between two compiled sets.
type Plan struct {
	// Against names what the new set was compared with: a directory or a git revision.
	Against string `json:"against"`
	// Now is the RFC 3339 instant next runs are listed from.
	Now string `json:"now"`
	// Changed is false only when the two trees are the same apart from the
	// summary's date: nothing would be deployed.
	Changed bool   `json:"changed"`
	Counts  Counts `json:"counts"`
	// Policies holds one entry per policy added, removed or changed, by name.
	Policies     []PolicyChange `json:"policies"`
	Replacements []Replacement  `json:"replacements"`
	// NewWarnings are the warnings of the new set that the old one did not have.
	NewWarnings []Warning `json:"newWarnings"`
	// Files lists the generated files that differ, whether or not a change
	// above explains them (summary.md is left out: its date always moves).
	Files FileChanges `json:"files"`
	// Notes say what could not be compared, and why.
	Notes []string `json:"notes"`
}

// Counts sums up the plan.
type Counts struct {
	Added        int `json:"added"`
	Removed      int `json:"removed"`
	Changed      int `json:"changed"`
	Replacements int `json:"replacements"`
	NewWarnings  int `json:"newWarnings"`
}

// Change kinds of a policy.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// PolicyChange is what changes in one policy. For an added policy the old
// side of every part is null and the new side says what it will do; for a
// removed one the other way round. Parts that do not change are left out.
type PolicyChange struct {
	Name string `json:"name"`
	// Change is "added", "removed" or "changed".
	Change string `json:"change"`
	// Engine is the engine that runs the policy (ssm, backup or dlm):
	// the new one, or the old one of a removed policy; OldEngine is set
	// when a changed policy moves to another engine.
	Engine    string           `json:"engine"`
	OldEngine string           `json:"oldEngine,omitempty"`
	Schedule  *ScheduleChange  `json:"schedule,omitempty"`
	Targets   *TargetsChange   `json:"targets,omitempty"`
	Retention *RetentionChange `json:"retention,omitempty"`
	// Snapshot lists the snapshot settings that change: consistency,
	// volumes, mounts, maxFreezeSeconds, snapshotTags.
	Snapshot []SettingChange `json:"snapshot,omitempty"`
	Copies   *CopiesChange   `json:"copies,omitempty"`
	Archive  *ArchiveChange  `json:"archive,omitempty"`
	// IAM lists, per role, the permissions granted and withdrawn.
	IAM []RoleChange `json:"iam,omitempty"`
	// Files are this policy's generated files that differ, when no part
	// above describes the change (e.g. a new version of the on-instance
	// script).
	Files []string `json:"files,omitempty"`
}

// ScheduleChange is a schedule before and after.
type ScheduleChange struct {
	Old *Schedule `json:"old"`
	New *Schedule `json:"new"`
	// Fields names what differs: expression, timezone, offset,
	// durationHours, cutoffHours, maxConcurrency, maxErrors.
	Fields []string `json:"fields"`
}

// Schedule is when a policy's maintenance window opens and how it runs the fleet.
type Schedule struct {
	Expression     string `json:"expression"`
	Timezone       string `json:"timezone"`
	Offset         int    `json:"offset"`
	DurationHours  int    `json:"durationHours"`
	CutoffHours    int    `json:"cutoffHours"`
	MaxConcurrency string `json:"maxConcurrency"`
	MaxErrors      string `json:"maxErrors"`
	// Description is the expression in words, e.g. "at 02:15 every day".
	Description string `json:"description"`
	// NextRuns are the next runs after Now, RFC 3339 in the schedule's time
	// zone; listed when the timing changes or the policy is added.
	NextRuns []string `json:"nextRuns"`
}

// TargetsChange is the instances selected before and after.
type TargetsChange struct {
	Old []Target `json:"old"`
	New []Target `json:"new"`
}

// Target is a tag key and the values an instance may carry (any of them).
type Target struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// Retention rules.
const (
	RuleNone   = "none"
	RuleCount  = "count"
	RuleMaxAge = "maxAge"
)

// Retention is how many snapshot sets (one per run and instance) are kept.
type Retention struct {
	// Rule is "count", "maxAge" or "none" (every set is kept).
	Rule       string `json:"rule"`
	KeepCount  int    `json:"keepCount,omitempty"`
	MaxAgeDays int    `json:"maxAgeDays,omitempty"`
	MinKeep    int    `json:"minKeep,omitempty"`
	// Text says it in words.
	Text string `json:"text"`
}

// RetentionChange is a retention rule before and after, and what the next
// run does to the snapshots that exist.
type RetentionChange struct {
	Old *Retention `json:"old"`
	New *Retention `json:"new"`
	// DeletesExisting is true when the next run may delete snapshot sets
	// that the old rule would have kept.
	DeletesExisting bool `json:"deletesExisting"`
	// DeleteAtMostPerInstance bounds how many such sets per instance, when
	// it is known (a lower count, a lower minKeep); 0 when it is not.
	DeleteAtMostPerInstance int `json:"deleteAtMostPerInstance,omitempty"`
	// Explanation says why, in words.
	Explanation string `json:"explanation"`
}

// SettingChange is one setting before and after; "" when not set.
type SettingChange struct {
	Setting string `json:"setting"`
	Old     string `json:"old"`
	New     string `json:"new"`
}

// CopiesChange is the off-site copies before and after.
type CopiesChange struct {
	Old []Copy `json:"old"`
	New []Copy `json:"new"`
}

// Copy is a copy of each snapshot to another region and/or account.
type Copy struct {
	Region    string     `json:"region,omitempty"`
	Account   string     `json:"account,omitempty"`
	Retention *Retention `json:"retention,omitempty"`
}

// ArchiveChange is the archive tier rule before and after; null when none.
type ArchiveChange struct {
	Old *Archive `json:"old"`
	New *Archive `json:"new"`
}

// Archive moves snapshots to the archive tier after AfterDays.
type Archive struct {
	AfterDays int `json:"afterDays"`
}

// RoleChange is the permissions of one generated role that are granted and
// withdrawn.
type RoleChange struct {
	// Role is the kind of role: instance, automation or window.
	Role    string       `json:"role"`
	Added   []Permission `json:"added"`
	Removed []Permission `json:"removed"`
}

// Permission is one IAM permission, normalised: one action on one
// resource, under all the conditions of its statement.
type Permission struct {
	Effect     string      `json:"effect"`
	Action     string      `json:"action"`
	Resource   string      `json:"resource"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is one condition key of a statement, e.g. StringEquals
// ec2:ResourceTag/Backup in [web].
type Condition struct {
	Operator string   `json:"operator"`
	Key      string   `json:"key"`
	Values   []string `json:"values"`
}

// Replacement is a resource CloudFormation would delete and create anew,
// because a property it cannot update in place changes.
type Replacement struct {
	LogicalID string `json:"logicalId"`
	Type      string `json:"type"`
	// Properties are the create-only properties that change, or that refer
	// to a resource that is itself replaced.
	Properties []string `json:"properties"`
	// Reason says it in words.
	Reason string `json:"reason"`
}

// Warning is a warning of a compilation, attributed to a policy.
type Warning struct {
	Policy  string `json:"policy,omitempty"`
	Code    string `json:"code,omitempty"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// FileChanges lists generated files, by path relative to the output
// directory, that are new, gone or different.
type FileChanges struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}
