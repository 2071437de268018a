package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// Names of the resources generated for one policy. Every name derives from
// the policy name, so two policies never collide and a reviewer can tell at
// a glance which policy a resource in an account belongs to.
type Names struct {
	Policy string
	// Logical is the CloudFormation logical-id prefix (PascalCase of Policy).
	Logical string

	Runbook          string
	Window           string
	WindowTarget     string
	WindowTask       string
	InstanceRole     string
	InstanceProfile  string
	AutomationRole   string
	WindowRole       string
	InstancePolicy   string
	AutomationPolicy string
	WindowPolicy     string
}

// LinuxSnapshotDocument names the one Command document every Linux policy
// of a set runs: the script is the same for all, and each runbook passes its
// policy's values. One copy keeps the template small (the script is tens of
// kilobytes). The name is this prefix and the set's id (SharedName), so
// that sets deployed as several stacks in one account and region, or by
// several teams, do not claim the same document.
const (
	LinuxSnapshotDocument  = "ssm-backup-linux-snapshot"
	LinuxSnapshotLogicalID = "LinuxSnapshotDocument"
	LinuxSnapshotDir       = "shared/linux-snapshot/"
)

// setID identifies a policy set by its policy names: sets that share no
// policy get different ids, and the id changes only when a policy is added,
// removed or renamed. Policy names are already unique per account and region
// (they name windows and roles), so the shared documents are too.
func setID(policyNames []string) string {
	names := append([]string(nil), policyNames...)
	sort.Strings(names)
	sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
	return hex.EncodeToString(sum[:])[:10]
}

// SharedName is the name of one of the set's shared documents: prefix is
// LinuxSnapshotDocument or WindowsDiskshadowDocument.
func (p *PolicyPlan) SharedName(prefix string) string { return prefix + "-" + p.SetID }

// SharedName is the name of one of the set's shared documents.
func (p *Plan) SharedName(prefix string) string { return prefix + "-" + p.SetID }

// IAMPath keeps the generated roles together in the account.
const IAMPath = "/ssm-backup/"

// Tag keys the generated scripts put on every snapshot.
const (
	TagPolicy      = "ssm-backup:policy"
	TagInstanceID  = "ssm-backup:instance-id"
	TagConsistency = "ssm-backup:consistency"
	TagRunID       = "ssm-backup:run-id"
)

func namesFor(policy string) Names {
	// SSM document names may not start with "aws", "amazon" or "amzn"; the
	// "ssm-backup-" prefix rules that out. IAM role names are at most 64
	// characters: "ssmb-" + 40 + "-automation" is 56.
	return Names{
		Policy:           policy,
		Logical:          logicalID(policy),
		Runbook:          "ssm-backup-" + policy + "-backup",
		Window:           "ssm-backup-" + policy,
		WindowTarget:     "ssm-backup-" + policy + "-instances",
		WindowTask:       "ssm-backup-" + policy + "-backup",
		InstanceRole:     "ssmb-" + policy + "-instance",
		InstanceProfile:  "ssmb-" + policy + "-instance",
		AutomationRole:   "ssmb-" + policy + "-automation",
		WindowRole:       "ssmb-" + policy + "-window",
		InstancePolicy:   "ssmb-" + policy + "-instance",
		AutomationPolicy: "run-snapshot-command",
		WindowPolicy:     "start-backup-runbook",
	}
}

// logicalSuffixes are appended to Names.Logical to name the template
// resources and outputs of one policy.
var logicalSuffixes = []string{
	"Runbook", "InstancePolicy", "InstanceRole", "InstanceProfile",
	"AutomationRole", "WindowRole", "Window", "WindowTarget", "WindowTask",
	"ServiceRole", "BackupVault", "BackupPlan", "BackupSelection", "LifecyclePolicy", "HooksDocument",
	// The lifecycle's (lifecycle_cfn.go, lifecycle_drill.go), reserved
	// whether or not the policy uses them.
	"RecycleBinRule", "DrillCheckDocument", "DrillRunbook", "DrillRole",
	"DrillWindow", "DrillWindowTarget", "DrillWindowTask",
}

// LogicalIDs returns every template logical id generated for the policy.
func (n Names) LogicalIDs() []string {
	out := make([]string, 0, len(logicalSuffixes))
	for _, s := range logicalSuffixes {
		out = append(out, n.Logical+s)
	}
	return out
}

// logicalID turns "mysql-fleet-2" into "MysqlFleet2". Distinct policy names
// can map to the same id ("a-1" and "a1"); Lower reports that as an error.
func logicalID(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		if r == '-' {
			upper = true
			continue
		}
		if upper && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}
