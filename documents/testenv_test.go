package documents

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// inCI reports whether the tests run in CI, where a missing prerequisite is
// a failure: a skipped harness would pass while proving nothing.
func inCI() bool { return os.Getenv("CI") == "true" }

// missingPrerequisite fails the test under CI=true and skips it loudly
// elsewhere.
func missingPrerequisite(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("CI=true and %s; scripts/install-test-deps.sh installs the tools, and the tests must run as root", msg)
	}
	t.Skipf("SKIPPED, NOT PROVEN: %s (run scripts/install-test-deps.sh and the tests as root)", msg)
}

// requireTools checks that every named program is on PATH.
func requireTools(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		missingPrerequisite(t, "missing %s", strings.Join(missing, ", "))
	}
}

// requireRoot checks that the tests run as root (loop devices, mount, fsfreeze).
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missingPrerequisite(t, "not running as root (uid %d)", os.Geteuid())
	}
}
