package compiler

import (
	"fmt"
	"sort"
	"time"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
	"github.com/ssm-backup/ssm-backup/schedule"
)

// The lifecycle of a policy's snapshots beyond retention: copies to other
// regions and accounts, the archive tier, protection against deletion, and
// the restore drill. Lowered here from the policy; the runbook steps, IAM,
// template resources and summary text are in the other lifecycle*.go files.

// CopyPlan is one destination of the policy's copies.
type CopyPlan struct {
	// Region is the destination region ("" for a share in this region).
	Region string
	// Account, when set, makes the destination a share with that account:
	// the snapshots are shared here, and the account copies them itself
	// (into Region when set) with the role of its destination template.
	Account string
	// KMSKeyID encrypts a region copy; for an account, it is the key the
	// destination's own copies use, written into its template.
	KMSKeyID string
	// Retention is the copy's rule, or the policy's when the copy has
	// none; nil keeps every copy. The prune step applies it to region
	// copies; an account applies it to its own copies.
	Retention *RetentionPlan
}

// IsShare reports whether the destination is another account.
func (c CopyPlan) IsShare() bool { return c.Account != "" }

// ArchivePlan moves complete snapshot sets to the archive tier.
type ArchivePlan struct {
	AfterDays int
}

// ProtectionPlan is what guards the snapshots beyond the write-once IAM
// every policy gets.
type ProtectionPlan struct {
	// RecycleBinDays > 0 adds a Recycle Bin retention rule for the
	// policy's snapshots in the deployed region.
	RecycleBinDays int
}

// DrillPlan is a scheduled restore test of the newest complete snapshot set.
type DrillPlan struct {
	Expression string
	Timezone   string
	Parsed     *schedule.Schedule
	Location   *time.Location
	// Instance is the instance the restored volume is attached to and
	// checked on; "" restores the volume and checks only that it becomes
	// available.
	Instance string
	// DataCheck is what the check looks for on the restored file system
	// besides a clean fsck: "mysql" (ibdata1), "postgresql" (PG_VERSION)
	// or "none".
	DataCheck string
}

// Drill window length: one instance at a time, a few minutes each.
const (
	drillWindowHours = 4
	drillCutoffHours = 1
)

// lowerLifecycle fills the lifecycle fields of a lowered policy.
func lowerLifecycle(p *policies.Policy, pp *PolicyPlan) error {
	s := p.Spec
	for _, c := range s.Copies {
		cp := CopyPlan{Region: c.Region, Account: c.Account, KMSKeyID: c.KMSKeyID, Retention: pp.Retention}
		if c.Retention != nil {
			cp.Retention = lowerRetention(c.Retention)
		}
		pp.Copies = append(pp.Copies, cp)
	}
	// Policy order is kept: it is the order a reviewer wrote.
	if s.Archive != nil {
		day := 24 * time.Hour
		pp.Archive = &ArchivePlan{AfterDays: int((s.Archive.After.Value + day - 1) / day)}
	}
	if s.Protection != nil && s.Protection.RecycleBinDays != nil {
		pp.Protection.RecycleBinDays = *s.Protection.RecycleBinDays
	}
	if d := s.RestoreDrill; d != nil {
		parsed, errs := schedule.Parse(d.Expression)
		if len(errs) > 0 {
			return fmt.Errorf("restore drill expression %q is invalid: %s", d.Expression, errs[0].Message)
		}
		tz := d.Timezone
		if tz == "" {
			tz = pp.Schedule.Timezone
		}
		loc, err := schedule.LoadLocation(tz)
		if err != nil {
			return err
		}
		pp.Drill = &DrillPlan{
			Expression: d.Expression, Timezone: tz, Parsed: parsed, Location: loc,
			Instance: d.Instance, DataCheck: drillDataCheck(s.Apps),
		}
	}
	if len(pp.Copies) > 0 || pp.Archive != nil {
		return checkRunbookSize(pp)
	}
	return nil
}

// MaxDocumentBytes is the most content SSM accepts for a document.
const MaxDocumentBytes = 64 << 10

// checkRunbookSize refuses a backup runbook SSM would refuse: the copy and
// prune scripts take most of a document's 64 KB, and many long tags could
// take the rest.
func checkRunbookSize(pp *PolicyPlan) error {
	params, err := documents.LinuxSnapshotParameters(pp.Snapshot)
	if err != nil {
		return nil // reported when the files are built
	}
	b, err := compactJSON(buildRunbook(pp, params))
	if err != nil {
		return err
	}
	if len(b) > MaxDocumentBytes {
		return fmt.Errorf("the backup runbook would be %d bytes, more than the %d an SSM document may hold; use fewer or shorter tags, or fewer copies", len(b), MaxDocumentBytes)
	}
	return nil
}

// lowerRetention is the retention of the policy or of one of its copies.
func lowerRetention(r *policies.Retention) *RetentionPlan {
	rp := &RetentionPlan{MinKeep: 1}
	if r.Count != nil {
		rp.KeepCount = *r.Count
	}
	if r.MaxAge != nil {
		// Whole days, rounded up: a policy never keeps less than it says.
		day := 24 * time.Hour
		rp.MaxAgeDays = int((r.MaxAge.Value + day - 1) / day)
	}
	if r.MinKeep != nil {
		rp.MinKeep = *r.MinKeep
	}
	return rp
}

// drillDataCheck picks the database whose data directory the drill looks
// for on the restored volume.
func drillDataCheck(apps []policies.App) string {
	for _, a := range apps {
		switch a.Type {
		case policies.MySQL, policies.MariaDB:
			return "mysql"
		case policies.PostgreSQL:
			return "postgresql"
		}
	}
	return "none"
}

// regionCopies returns the destinations copied into another region of
// this account.
func (p *PolicyPlan) regionCopies() []CopyPlan {
	var out []CopyPlan
	for _, c := range p.Copies {
		if !c.IsShare() {
			out = append(out, c)
		}
	}
	return out
}

// shareAccounts returns the accounts the snapshots are shared with, sorted.
func (p *PolicyPlan) shareAccounts() []string {
	var out []string
	for _, c := range p.Copies {
		if c.IsShare() {
			out = append(out, c.Account)
		}
	}
	sort.Strings(out)
	return out
}

// copyRegions returns the regions copies are made into, sorted.
func (p *PolicyPlan) copyRegions() []string {
	var out []string
	for _, c := range p.regionCopies() {
		out = append(out, c.Region)
	}
	sort.Strings(out)
	return out
}

// prunedCopyRegions returns the copy regions that have a retention rule,
// sorted.
func (p *PolicyPlan) prunedCopyRegions() []string {
	var out []string
	for _, c := range p.regionCopies() {
		if c.Retention != nil {
			out = append(out, c.Region)
		}
	}
	sort.Strings(out)
	return out
}

// hasPruneStep reports whether the runbook ends with the prune step: a
// retention rule here or for a region copy, or the archive tier.
func (p *PolicyPlan) hasPruneStep() bool {
	return p.Retention != nil || len(p.prunedCopyRegions()) > 0 || p.Archive != nil
}

// drillNames are the resources of a policy's restore drill.
type drillNames struct {
	Runbook, CheckDocument, Window, WindowTarget, WindowTask, Role, RolePolicy string
}

func (n Names) drill() drillNames {
	return drillNames{
		Runbook:       "ssm-backup-" + n.Policy + "-drill",
		CheckDocument: "ssm-backup-" + n.Policy + "-drill-check",
		Window:        "ssm-backup-" + n.Policy + "-drill",
		WindowTarget:  "ssm-backup-" + n.Policy + "-drill-instances",
		WindowTask:    "ssm-backup-" + n.Policy + "-drill",
		Role:          "ssmb-" + n.Policy + "-drill",
		RolePolicy:    "restore-drill",
	}
}
