package review

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadCompiledLifecycle reads copies, their retention, the archive rule
// and the policy's own retention from runbooks the compiler emits: the copy
// step (copySnapshots) and the prune step that also archives
// (pruneAndArchiveSnapshots), whose Copies input holds the retention of the
// copies in other regions and must not be read as the policy's own.
func TestReadCompiledLifecycle(t *testing.T) {
	withCopies := strings.Replace(testPolicy, "  retention: {count: 7}\n", `  retention: {count: 7}
  copies:
    - {region: us-west-2, retention: {maxAge: 30d, minKeep: 2}}
    - {account: "111122223333", region: eu-west-1}
  archive: {after: 120d}
`, 1)
	if withCopies == testPolicy {
		t.Fatal("test policy has no retention line to extend")
	}
	st, notes := newTree("new", compileText(t, withCopies)).read("web")
	if len(notes) > 0 {
		t.Errorf("notes: %v", notes)
	}
	want := []Copy{
		{Region: "eu-west-1", Account: "111122223333"},
		{Region: "us-west-2", Retention: &Retention{Rule: RuleMaxAge, MaxAgeDays: 30, MinKeep: 2, Text: "keeps each instance's snapshot sets for 30 days, and always the newest 2"}},
	}
	if diff := cmp.Diff(want, st.copies); diff != "" {
		t.Errorf("copies (-want +got):\n%s", diff)
	}
	if st.archive == nil || st.archive.AfterDays != 120 {
		t.Errorf("archive = %+v", st.archive)
	}
	if st.retention.Rule != RuleCount || st.retention.KeepCount != 7 {
		t.Errorf("retention = %+v, want the policy's count 7", st.retention)
	}

	// Copies pruned in their region, no retention here: the policy keeps
	// everything, whatever its copies keep.
	noRetention := strings.Replace(withCopies, "  retention: {count: 7}\n", "", 1)
	st, _ = newTree("new", compileText(t, noRetention)).read("web")
	if st.retention.Rule != RuleNone {
		t.Errorf("retention = %+v, want none (the copies' rule is theirs)", st.retention)
	}

	plan := Compare(Input{Old: Side{Files: compileText(t, testPolicy)}, New: Side{Files: compileText(t, withCopies)}, Now: testNow})
	md := string(plan.Markdown())
	for _, want := range []string{"**Copies**", "region `us-west-2` (keeps each instance's snapshot sets for 30 days", "**Archive**", "to the archive tier after 120 days"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}
