package documents

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDrillRestoreScriptTests runs the drill script's tests: which set and
// snapshot are restored, the volume tagged at creation in the right zone,
// the bounded wait, and the cleanup of every drill volume on every path.
func TestDrillRestoreScriptTests(t *testing.T) {
	runScriptTests(t, "test_drill_restore")
}

func drillCheckDoc(t *testing.T) CommandDocument {
	t.Helper()
	doc, err := DrillCheckCommand("drill check")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestDrillCheckCommand(t *testing.T) {
	doc := drillCheckDoc(t)
	run := doc.MainSteps[0].Inputs.RunCommand
	if run[0] != "#!/bin/bash" {
		t.Errorf("first line %q", run[0])
	}
	header := strings.Join(run[1:5], "\n")
	for _, want := range []string{"SSMB_VOLUME_ID='{{ VolumeId }}'", "SSMB_DEVICE_NAME='{{ DeviceName }}'", "SSMB_DATA_CHECK='{{ DataCheck }}'"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %s:\n%s", want, header)
		}
	}
	for _, line := range run[2:] {
		if strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.HasPrefix(strings.TrimSpace(line), "# shellcheck") {
			t.Errorf("comment line kept: %q", line)
		}
	}
	for name, p := range doc.Parameters {
		if p.AllowedPattern == "" && len(p.AllowedValues) == 0 {
			t.Errorf("parameter %s reaches the script unconstrained", name)
		}
	}
	for _, bad := range []string{"vol-0123'; reboot; '", "vol-0123456789abcdef0\n", "/dev/sda", "/dev/sdf1"} {
		p := doc.Parameters[ParamVolumeID]
		if strings.HasPrefix(bad, "/dev") {
			p = doc.Parameters[ParamDeviceName]
		}
		if checkParameterValue(p, bad) == nil {
			t.Errorf("%q is accepted", bad)
		}
	}
}

func TestShellcheckDrillCheck(t *testing.T) {
	shellcheck(t, "drill-check.sh", string(DrillCheckScript()))
	script, err := renderAsSSM(drillCheckDoc(t), map[string]string{
		ParamVolumeID: "vol-0123456789abcdef0", ParamDeviceName: "/dev/sdf", ParamDataCheck: DataCheckMySQL,
	})
	if err != nil {
		t.Fatal(err)
	}
	shellcheck(t, "drill-runcommand.sh", script)
}

func TestDrillStepsJSON(t *testing.T) {
	restore := DrillRestoreStep("restoreVolume", "cleanUp", DrillRestoreInputs{InstanceId: "{{ InstanceId }}"})
	cleanup := DrillCleanupStep("cleanUp", DrillCleanupInputs{PolicyName: "p", RunId: "{{ automation:EXECUTION_ID }}"})
	if restore.OnFailure != "step:cleanUp" || restore.OnCancel != "step:cleanUp" || restore.IsCritical == nil || !*restore.IsCritical {
		t.Errorf("restore step does not go to cleanup on every path: %+v", restore)
	}
	if !cleanup.IsEnd || cleanup.OnFailure != "Abort" {
		t.Errorf("cleanup step: %+v", cleanup)
	}
	for _, s := range []AutomationStep{restore, cleanup} {
		in := s.Inputs.(executeScriptInputs)
		if in.Runtime != "python3.11" || in.Script != stepScriptOf("drill_restore.py") {
			t.Errorf("%s: runtime %s, script not the drill script", s.Name, in.Runtime)
		}
	}
	if h := restore.Inputs.(executeScriptInputs).Handler; h != "restore_handler" {
		t.Errorf("restore handler %s", h)
	}
	if h := cleanup.Inputs.(executeScriptInputs).Handler; h != "cleanup_handler" {
		t.Errorf("cleanup handler %s", h)
	}
}

// drillImage makes a file system image of fstype, fills it with files
// (path -> content), unmounts it and attaches it to a loop device, as a
// restored volume appears on the drill instance.
func drillImage(t *testing.T, fstype string, size int64, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, fstype+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	switch fstype {
	case "ext4":
		runTool(t, "mkfs.ext4", "-q", "-F", img)
	case "xfs":
		runTool(t, "mkfs.xfs", "-q", "-f", img)
	}
	if len(files) > 0 {
		mnt := filepath.Join(dir, "mnt")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		runTool(t, "mount", "-o", "loop", img, mnt)
		for p, content := range files {
			full := filepath.Join(mnt, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runTool(t, "umount", mnt)
	}
	dev := runTool(t, "losetup", "--find", "--show", img)
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v\n%s", dev, err, out)
		}
	})
	return dev
}

type drillCheckResult struct {
	Status      string `json:"status"`
	Message     string `json:"message"`
	DataFound   string `json:"dataFound"`
	Filesystems []struct {
		Type    string `json:"type"`
		Check   string `json:"check"`
		Mounted bool   `json:"mounted"`
		Entries int    `json:"entries"`
	} `json:"filesystems"`
}

// runDrillCheck runs the check document's script as SSM would, on dev.
func runDrillCheck(t *testing.T, dev, dataCheck string) (drillCheckResult, int, string) {
	t.Helper()
	script, err := renderAsSSM(drillCheckDoc(t), map[string]string{
		ParamVolumeID: "vol-0123456789abcdef0", ParamDeviceName: "/dev/sdf", ParamDataCheck: dataCheck,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "bash", path)
	cmd.Env = append(os.Environ(), "SSMB_DEVICE="+dev)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan struct{})
	timer := time.AfterFunc(120*time.Second, func() { _ = cmd.Process.Kill() })
	out, err := cmd.Output()
	timer.Stop()
	close(done)
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running the check: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res drillCheckResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not the JSON result: %q (%v)\nstderr:\n%s", lines[len(lines)-1], err, stderr.String())
	}
	// Nothing of the check stays mounted.
	if mounts, _ := os.ReadFile("/proc/mounts"); strings.Contains(string(mounts), dev+" ") {
		t.Errorf("%s is still mounted after the check", dev)
	}
	return res, code, stderr.String()
}

// TestDrillCheckRuns runs the check on real ext4 and xfs file systems: a
// clean volume with the data directory passes, a missing data directory
// and a broken file system fail, and nothing is written or left mounted.
func TestDrillCheckRuns(t *testing.T) {
	requireRoot(t)
	requireTools(t, "bash", "losetup", "mount", "umount", "mkfs.ext4", "mkfs.xfs", "e2fsck", "dumpe2fs", "debugfs", "xfs_repair", "lsblk", "blkid", "find")

	t.Run("ext4 with mysql data", func(t *testing.T) {
		dev := drillImage(t, "ext4", 64<<20, map[string]string{"var/lib/mysql/ibdata1": "x", "etc/hostname": "db"})
		before := runTool(t, "sha256sum", dev)
		res, code, stderr := runDrillCheck(t, dev, DataCheckMySQL)
		if code != 0 || res.Status != "ok" {
			t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
		}
		if res.DataFound != dev+":/var/lib/mysql/ibdata1" || len(res.Filesystems) != 1 || res.Filesystems[0].Check != "clean" || !res.Filesystems[0].Mounted || res.Filesystems[0].Entries < 2 {
			t.Errorf("result %+v", res)
		}
		if after := runTool(t, "sha256sum", dev); after != before {
			t.Error("the check changed the volume")
		}
	})
	t.Run("xfs without postgresql data", func(t *testing.T) {
		dev := drillImage(t, "xfs", 320<<20, map[string]string{"srv/www/index.html": "hi"})
		res, code, stderr := runDrillCheck(t, dev, DataCheckPostgreSQL)
		if code != 1 || res.Status != "failed" || !strings.Contains(res.Message, "no postgresql data directory") {
			t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
		}
		if len(res.Filesystems) != 1 || res.Filesystems[0].Type != "xfs" || !res.Filesystems[0].Mounted {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("xfs with postgresql data", func(t *testing.T) {
		dev := drillImage(t, "xfs", 320<<20, map[string]string{"var/lib/postgresql/16/main/PG_VERSION": "16"})
		res, code, stderr := runDrillCheck(t, dev, DataCheckPostgreSQL)
		if code != 0 || res.Status != "ok" || !strings.HasSuffix(res.DataFound, "/PG_VERSION") {
			t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
		}
	})
	t.Run("broken file system", func(t *testing.T) {
		dev := drillImage(t, "ext4", 64<<20, map[string]string{"data/file": "x"})
		// Wipe the inode tables of the first block group, keep the superblock.
		runTool(t, "dd", "if=/dev/zero", "of="+dev, "bs=4096", "seek=40", "count=400", "conv=notrunc", "status=none")
		res, code, stderr := runDrillCheck(t, dev, DataCheckNone)
		if code != 1 || res.Status != "failed" || len(res.Filesystems) != 1 || !strings.HasPrefix(res.Filesystems[0].Check, "errors: exit ") {
			t.Fatalf("a broken file system passed: exit %d, %+v\n%s", code, res, stderr)
		}
		t.Logf("%s: %+v", res.Message, res.Filesystems)
	})
	t.Run("ext4 journal not replayed", func(t *testing.T) {
		// A snapshot of a mounted ext4 has needs_recovery set: the read-only
		// check is then advisory and the mount without replay decides.
		dev := drillImage(t, "ext4", 64<<20, map[string]string{"data/file": "x"})
		runTool(t, "debugfs", "-w", "-R", "feature needs_recovery", dev)
		res, code, stderr := runDrillCheck(t, dev, DataCheckNone)
		if code != 0 || res.Status != "ok" || len(res.Filesystems) != 1 || !res.Filesystems[0].Mounted {
			t.Fatalf("exit %d, %+v\n%s", code, res, stderr)
		}
		t.Logf("check: %s", res.Filesystems[0].Check)
	})
	t.Run("no file system", func(t *testing.T) {
		dev := drillImage(t, "none", 16<<20, nil)
		res, code, _ := runDrillCheck(t, dev, DataCheckNone)
		if code != 1 || !strings.Contains(res.Message, "no ext2/3/4 or xfs file system") {
			t.Fatalf("exit %d, %+v", code, res)
		}
	})
}
