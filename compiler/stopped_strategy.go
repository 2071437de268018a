package compiler

import (
	"fmt"
	"strings"

	"github.com/ssm-backup/ssm-backup/policies"
)

// usesLinuxSnapshotScript tells whether the policy's runbook runs the
// shared Linux snapshot command document. Stopped policies snapshot through
// the EC2 API, Windows policies through VSS or the EC2 API, a crash-
// consistent Linux root volume through the EC2 API, and the backup and dlm
// engines have no runbook.
func usesLinuxSnapshotScript(p *PolicyPlan) bool {
	return p.Engine.Engine == policies.EngineSSM && p.Consistency != policies.Stopped && p.Platform != policies.Windows && !usesAPISnapshot(p)
}

// applyStrategy replaces the runbook and the automation permissions of the
// policies that do not run the Linux snapshot script.
func applyStrategy(p *PolicyPlan, a *policyArtifacts) {
	switch {
	case p.Consistency == policies.Stopped:
		a.runbook = buildStoppedRunbook(p)
		applyStoppedRoles(p, &a.roles)
		withoutInstanceSnapshots(&a.roles)
	case usesAPISnapshot(p): // crash_api.go
		a.runbook = buildCrashAPIRunbook(p)
		applyAPISnapshotRoles(p, &a.roles)
		withoutInstanceSnapshots(&a.roles)
	case p.Platform == policies.Windows:
		applyWindowsStrategy(p, a)
	}
}

// writeStrategySummary tells the reviewer what a stopped or Windows policy
// costs and needs: the downtime of a stopped policy, the prerequisites of
// VSS.
func writeStrategySummary(b *strings.Builder, p *PolicyPlan) {
	if p.Consistency == policies.Stopped {
		fmt.Fprintf(b, "- **Downtime:** ⚠ this policy STOPS every running target instance inside the maintenance window, "+
			"snapshots its volumes while it is stopped, then starts it again: expect the instance to be unavailable for several minutes each run "+
			"(stop, CreateSnapshots, start and boot), %s at a time. If a step fails or the run is cancelled after the stop, the runbook starts the instance again; "+
			"an instance that was already stopped is snapshotted and left stopped. No SSM agent is needed.\n", concurrencyText(p.Schedule.MaxConcurrency))
	}
	writeWindowsPrerequisites(b, p)
}

// withoutInstanceSnapshots takes the snapshot grants from the instance role
// of a policy whose runbook snapshots through the EC2 API (stopped, crash on
// Windows): nothing on the instance calls EC2, so the role keeps only its
// explicit denials of deleting, sharing and untagging the policy's
// snapshots.
func withoutInstanceSnapshots(roles *RoleSet) {
	snapshot := map[string]bool{}
	for _, st := range createSnapshotStatements(&PolicyPlan{}) {
		snapshot[st.Sid] = true
	}
	var rest []Statement
	for _, st := range roles.InstancePolicy.Statement {
		if !snapshot[st.Sid] {
			rest = append(rest, st)
		}
	}
	roles.InstancePolicy.Statement = rest
}

// instancePolicyDescription says what the instance policy grants.
func instancePolicyDescription(p *PolicyPlan) string {
	if p.Consistency == policies.Stopped || usesAPISnapshot(p) {
		return "Instances of ssm-backup policy " + p.Names.Policy + ": the runbook snapshots them through the EC2 API; they may not delete, share or untag its snapshots"
	}
	return "Snapshot the instance's own volumes for ssm-backup policy " + p.Names.Policy + ", tagged at creation; no delete, no share"
}
