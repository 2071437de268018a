package documents

// Edges of the DLM hooks, run as the other hooks tests run them: discovery
// of the file systems without Mounts, a post-script that comes while the
// pre-script is still taking the hold, and a pre-script that reaches its own
// bound.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// instanceBlockDevices maps the instance metadata block-device mapping of an
// instance whose boot volume holds / and whose data EBS volumes are ebs
// (loop devices stand in for them, as in TestHarnessDiscoversDataVolumes);
// other is an instance-store volume: attached, mounted, not EBS.
func instanceBlockDevices(t *testing.T, h *harness, other loopFS, ebs ...loopFS) {
	t.Helper()
	rootDev := runTool(t, "findmnt", "-rn", "-o", "SOURCE", "--mountpoint", "/")
	m := map[string]string{"ami": rootDev, "root": rootDev, "ephemeral0": strings.TrimPrefix(other.Device, "/dev/")}
	for i, fs := range ebs {
		m[fmt.Sprintf("ebs%d", i+1)] = strings.TrimPrefix(fs.Device, "/dev/")
	}
	h.imds.setBlockDevices(m)
}

// TestDLMHooksDiscovery: without Mounts, a pre-script freezes exactly the
// ext4 and xfs file systems on the instance's data EBS volumes, found as
// the snapshot mode finds them (the NVMe model, else the instance metadata
// block-device mapping, minus the disks under /). It needs the metadata
// token and the mapping, never role credentials. / (with /tmp and this
// machine's SSM paths) and an instance-store volume stay writable; the
// post-script releases. A pre-script that cannot discover what to hold fails
// (201) and holds nothing: no instance metadata, no data volume, or a data
// volume that holds what is never frozen (here the script, as the SSM
// agent's own directory would).
func TestDLMHooksDiscovery(t *testing.T) {
	h := newHarness(t)
	other := newLoopFS(t, "ext4", 64<<20)
	discovered := []string{h.ext4.Mount, h.xfs.Mount}

	t.Run("held", func(t *testing.T) {
		instanceBlockDevices(t, h, other, h.ext4, h.xfs)
		d := newDLMPolicy(t, h, h.dlmSnapshot(10))
		d.discovered = discovered
		dry := d.run(t, DLMCommandDryRun, "None")
		requireExit(t, dry, 0)
		if want := "ready: a pre-script would freeze " + strings.Join(d.plan(), " ") + "\n"; !strings.Contains(dry.Stderr, want) {
			t.Errorf("the dry run does not say %q:\n%s", want, dry.Stderr)
		}

		before := len(h.imds.requestLog())
		pre := d.run(t, DLMCommandPreScript, dlmRunA)
		d.requireHeld(t, pre)
		for _, m := range discovered {
			if !strings.Contains(pre.Stderr, "will freeze "+m+" ") || !strings.Contains(pre.Stderr, ", found)") {
				t.Errorf("the pre-script does not say it found %s:\n%s", m, pre.Stderr)
			}
		}
		if len(pre.Verdict.Holder.Skipped) != 0 {
			t.Errorf("skipped %v", pre.Verdict.Holder.Skipped)
		}
		var paths []string
		for _, q := range h.imds.requestLog()[before:] {
			paths = append(paths, q.Path)
			if strings.Contains(q.Path, "iam/") {
				t.Errorf("the pre-script asked instance metadata for %s: discovery needs no credentials", q.Path)
			}
		}
		if !strings.Contains(strings.Join(paths, " "), "/latest/meta-data/block-device-mapping/") {
			t.Errorf("instance metadata requests %v: no block-device mapping", paths)
		}
		t.Logf("instance metadata requests of the pre-script: %v", paths)

		probes := map[string]chan error{}
		for _, m := range discovered {
			probes[m] = probeWrite(m)
		}
		for _, m := range discovered {
			requireBlocked(t, probes[m], m)
		}
		for _, m := range []string{other.Mount, t.TempDir()} { // an instance-store volume; /tmp on /
			requireWritable(t, m, 5*time.Second)
		}

		post := d.run(t, DLMCommandPostScript, dlmRunA)
		requireExit(t, post, 0)
		for _, m := range discovered {
			if at := awaitProbe(t, probes[m], m, 5*time.Second); at.Before(post.Started) {
				t.Errorf("the write to %s completed before the post-script", m)
			}
		}
		d.requireGone(t)
	})

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d *dlmPolicy)
		want  []string
	}{
		{"no instance metadata", func(t *testing.T, d *dlmPolicy) {
			instanceBlockDevices(t, h, other, h.ext4, h.xfs)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closed := "http://" + l.Addr().String()
			l.Close()
			d.env = append(d.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT="+closed)
		}, []string{"no IMDSv2 token"}},
		{"no data volume", func(t *testing.T, d *dlmPolicy) {
			instanceBlockDevices(t, h, other)
		}, []string{"no file system to freeze"}},
		{"a data volume holds the script", func(t *testing.T, d *dlmPolicy) {
			instanceBlockDevices(t, h, other, h.ext4, h.xfs)
			d.scriptDir = filepath.Join(h.ext4.Mount, "orchestration")
			if err := os.MkdirAll(d.scriptDir, 0o700); err != nil {
				t.Fatal(err)
			}
		}, []string{"not every file system can be frozen", h.ext4.Mount + ": holds this script, never frozen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDLMPolicy(t, h, h.dlmSnapshot(10))
			tc.setup(t, d)
			o := d.run(t, DLMCommandPreScript, dlmRunA)
			d.pre = o.Proc
			requireExit(t, o, 201, tc.want...)
			if r := o.Verdict.Holder; r != nil && len(r.Frozen) != 0 {
				t.Errorf("holder's result %+v", r)
			}
			d.requireGone(t)
			for _, m := range append(discovered, other.Mount) {
				requireWritable(t, m, 5*time.Second)
			}
			t.Logf("pre-script: exit %d, %s", o.ExitCode, o.Verdict.Message)
		})
	}
}

// hookPair writes a pre hook that logs "pre", works for seconds, then logs
// "pre-done" (its application is paused from then on), and a post hook that
// logs "post".
func hookPair(t *testing.T, seconds int) (l hookLog, pre, post string) {
	t.Helper()
	l = newHookLog(t)
	pre = filepath.Join(l.dir, "pre")
	body := fmt.Sprintf("#!/bin/sh\necho \"pre $(date +%%s%%N)\" >>%[1]s\nsleep %[2]d\necho \"pre-done $(date +%%s%%N)\" >>%[1]s\n", l.path, seconds)
	if err := os.WriteFile(pre, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return l, pre, l.hook(t, "post", 0, 0)
}

// requireNothingLeft checks, within a short bound, that no process of the
// pre-script (holder, watchdog, database client, hook) is left once it has
// returned, and that its hold is gone.
func (d *dlmPolicy) requireNothingLeft(t *testing.T) {
	t.Helper()
	if !waitUntil(2*time.Second, func() bool { return len(processesWithMarker(d.pre.marker)) == 0 }) {
		t.Errorf("processes of the pre-script left after it returned: %+v", processesWithMarker(d.pre.marker))
	}
	d.requireGone(t)
	if _, err := os.Stat(filepath.Join(d.dir(), "id")); !os.IsNotExist(err) {
		t.Errorf("the record of a held pre-script is left (%v)", err)
	}
}

// TestDLMHooksPostDuringPre: a post-script that comes while the pre-script
// is still taking the hold makes the pre-script fail (201) and release; it
// waits for that, then fails itself (202): the snapshots DLM took, if any,
// are not consistent. Nothing is held once both have returned, and the next
// run holds as usual.
//   - FLUSH TABLES WITH READ LOCK waits behind a conflicting LOCK TABLES:
//     the holder's SIGTERM trap runs at once and closes the session.
//   - a slow custom pre hook: the holder's trap waits for the hook, so after
//     DLM_STOP_SECONDS the pre-script kills the holder's session, the hook
//     with it, before the post hook runs: the pre hook never finishes after
//     its post hook.
func TestDLMHooksPostDuringPre(t *testing.T) {
	h, f := newAppHarness(t)
	for _, tc := range []struct {
		name  string
		apps  func(t *testing.T) ([]LinuxApp, hookLog)
		await func(t *testing.T, l hookLog) bool // the pre-script is taking the hold
	}{
		{"lock wait", func(t *testing.T) ([]LinuxApp, hookLog) {
			blocker := openSession(t, f.maria.RootCnf)
			blocker.do(t, "LOCK TABLES shop.orders WRITE;")
			t.Cleanup(func() { blocker.do(t, "UNLOCK TABLES;") })
			return []LinuxApp{f.mariaApp(20)}, hookLog{}
		}, func(t *testing.T, _ hookLog) bool {
			out, err := f.maria.sql(context.Background(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '"+mysqlBackupUser+"' AND INFO LIKE 'FLUSH TABLES WITH READ LOCK%'")
			return err == nil && out == "1"
		}},
		{"slow pre hook", func(t *testing.T) ([]LinuxApp, hookLog) {
			l, pre, post := hookPair(t, 15)
			return []LinuxApp{{Type: AppCustom, Pre: pre, Post: post, TimeoutSeconds: 20}}, l
		}, func(t *testing.T, l hookLog) bool { return l.names(t) == "pre" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.dlmSnapshot(30, h.xfs.Mount)
			s.Consistency = ConsistencyApplication
			var l hookLog
			s.Apps, l = tc.apps(t)
			d := newDLMPolicy(t, h, s)
			started := time.Now()
			p := d.start(t, DLMCommandPreScript, dlmRunA)
			d.pre = p
			preEnded := make(chan time.Time, 1)
			go func() { <-p.done; preEnded <- time.Now() }()
			if !waitUntil(20*time.Second, func() bool { return tc.await(t, l) }) {
				t.Fatalf("the pre-script is not taking the hold\n%s", p.stderr.String())
			}
			post := d.run(t, DLMCommandPostScript, dlmRunA)
			pre := d.await(t, p, DLMCommandPreScript, dlmRunA, started)
			t.Logf("pre-script: exit %d after %v: %s", pre.ExitCode, pre.Done.Sub(pre.Started).Round(time.Millisecond), pre.Verdict.Message)
			t.Logf("post-script: exit %d after %v: %s", post.ExitCode, post.Done.Sub(post.Started).Round(time.Millisecond), post.Verdict.Message)
			requireExit(t, pre, 201, "a post-script came before everything was held")
			requireExit(t, post, 202, "the post-script came while the pre-script was still taking the hold")
			if ended := <-preEnded; post.Done.Before(ended) {
				t.Errorf("the post-script returned %v before the pre-script had released", ended.Sub(post.Done))
			}
			d.requireNothingLeft(t)
			requireWritable(t, h.xfs.Mount, 5*time.Second)
			if !waitUntil(5*time.Second, func() bool { return f.maria.backupSessions(t) == 0 }) {
				t.Errorf("a session of %s is left", mysqlBackupUser)
			}
			if l.path != "" {
				if got := l.names(t); got != "pre post" {
					t.Errorf("hooks ran as %q, want pre post (the pre hook stopped before its post hook)", got)
				}
			}
			if tc.name == "slow pre hook" && !strings.Contains(pre.Stderr, "killing its session") {
				t.Errorf("the pre-script does not say it killed the holder's session:\n%s", pre.Stderr)
			}
		})
	}
	requireReleased(t, f)
	// Nothing stale: the next run holds and releases as usual.
	d := newDLMPolicy(t, h, h.dlmSnapshot(10, h.xfs.Mount))
	d.requireHeld(t, d.run(t, DLMCommandPreScript, dlmRunB))
	requireExit(t, d.run(t, DLMCommandPostScript, dlmRunB), 0)
	d.requireGone(t)
}

// TestDLMHooksPreScriptBound: a pre-script whose holder has not held within
// its bound (DLM_PRE_SECONDS, 100 s of DLM's 120 s; 3 s here through
// SSMB_DLM_PRE_SECONDS) stops it and exits 201. Here the MariaDB lock is
// taken and the custom pre hook is still working: the holder's SIGTERM trap
// waits for the hook, so after DLM_STOP_SECONDS its whole session is killed,
// the hook too; the lock goes with the session, the post hook runs, the
// watchdog is stopped, and nothing is left when the pre-script returns.
func TestDLMHooksPreScriptBound(t *testing.T) {
	h, f := newAppHarness(t)
	l, preHook, postHook := hookPair(t, 15)
	s := h.dlmSnapshot(30, h.xfs.Mount)
	s.Consistency = ConsistencyApplication
	s.Apps = []LinuxApp{f.mariaApp(5), {Type: AppCustom, Pre: preHook, Post: postHook, TimeoutSeconds: 20}}
	d := newDLMPolicy(t, h, s, "SSMB_DLM_PRE_SECONDS=3")
	started := time.Now()
	p := d.start(t, DLMCommandPreScript, dlmRunA)
	d.pre = p
	if !waitUntil(10*time.Second, func() bool { return l.names(t) == "pre" }) {
		t.Fatalf("the pre hook did not start\n%s", p.stderr.String())
	}
	inserted := f.maria.insertAsync("dlm-bound") // waits for the lock, taken before the hook
	o := d.await(t, p, DLMCommandPreScript, dlmRunA, started)
	t.Logf("pre-script: exit %d after %v: %s", o.ExitCode, o.Done.Sub(o.Started).Round(time.Millisecond), o.Verdict.Message)
	requireExit(t, o, 201, "nothing held after 3 s")
	if !strings.Contains(o.Stderr, "killing its session") {
		t.Errorf("the pre-script does not say it killed the holder's session:\n%s", o.Stderr)
	}
	ins := awaitInsert(t, inserted, 5*time.Second)
	if !ins.Done.After(started.Add(3 * time.Second)) {
		t.Errorf("the INSERT completed %v after the start: the lock was not held", ins.Done.Sub(started))
	}
	if ins.Done.After(o.Done) {
		t.Errorf("the INSERT completed after the pre-script returned: the lock outlived it")
	}
	d.requireNothingLeft(t)
	if got := l.names(t); got != "pre post" {
		t.Errorf("hooks ran as %q, want pre post (the pre hook stopped before its post hook)", got)
	}
	requireWritable(t, h.xfs.Mount, 5*time.Second)
	requireReleased(t, f)
	requireExit(t, d.run(t, DLMCommandPostScript, dlmRunA), 205, "no hold")

	// The bound can be shortened, never lengthened past what DLM's
	// ExecutionTimeout leaves.
	for _, v := range []string{"101", "0", "1e2", "3 "} {
		o := newDLMPolicy(t, h, s, "SSMB_DLM_PRE_SECONDS="+v).run(t, DLMCommandPreScript, dlmRunA)
		requireExit(t, o, 1, "SSMB_DLM_PRE_SECONDS must be a whole number of seconds from 1 to 100")
	}
}
