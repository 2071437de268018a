package documents

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPruneArchiveScriptTests runs the tests of the prune script's
// ArchiveAfterDays input: which kept sets go to the archive tier (never the
// newest complete set, this run's, a pending or failed one, another
// policy's), and the ModifySnapshotTier calls.
func TestPruneArchiveScriptTests(t *testing.T) {
	runScriptTests(t, "test_prune_archive")
}

func TestPruneStepWithArchive(t *testing.T) {
	step := PruneSnapshotsStep("pruneAndArchiveSnapshots", PruneInputs{KeepCount: "0", MaxAgeDays: "0", MinKeep: "1", ArchiveAfterDays: "90"})
	var names []string
	for _, o := range step.Outputs {
		names = append(names, o.Name)
	}
	if want := []string{"Deleted", "WouldDelete", "Kept", "Errors", "Archived", "WouldArchive", "ArchiveErrors"}; !cmp.Equal(names, want) {
		t.Errorf("outputs %v, want %v", names, want)
	}
	if !strings.Contains(step.Description, "archive tier") {
		t.Errorf("description %q does not mention the archive tier", step.Description)
	}
	if got := step.Inputs.(executeScriptInputs).InputPayload.(PruneInputs).ArchiveAfterDays; got != "90" {
		t.Errorf("ArchiveAfterDays = %q", got)
	}
	for _, want := range []string{"def archive_candidates(", "modify_snapshot_tier(", "describe_snapshot_tier_status"} {
		if !strings.Contains(pruneSnapshotsScript, want) {
			t.Errorf("prune script lacks %q", want)
		}
	}
}
