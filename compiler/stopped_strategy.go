package compiler

import (
	"fmt"
	"strings"

	"github.com/ssm-backup/ssm-backup/policies"
)

// usesLinuxSnapshotScript tells whether the policy's runbook runs the
// shared Linux snapshot command document. Stopped policies snapshot through
// the EC2 API, Windows policies through VSS.
func usesLinuxSnapshotScript(p *PolicyPlan) bool {
	return p.Consistency != policies.Stopped && p.Platform != policies.Windows
}

// applyStrategy replaces the runbook and the automation permissions of the
// policies that do not run the Linux snapshot script.
func applyStrategy(p *PolicyPlan, a *policyArtifacts) {
	switch {
	case p.Consistency == policies.Stopped:
		a.runbook = buildStoppedRunbook(p)
		applyStoppedRoles(p, &a.roles)
	case usesAPISnapshot(p): // crash_api.go
		a.runbook = buildCrashAPIRunbook(p)
		applyAPISnapshotRoles(p, &a.roles)
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
