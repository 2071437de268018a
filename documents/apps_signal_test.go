package documents

// SIGTERM while the script waits on a database session or on the request:
// the script's own release path (not only the watchdog's) must run to its
// end. The budget is 30 s, so whatever is released within the run was
// released by the script.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ftwrlWaiting reports whether a session of the backup user is waiting in
// FLUSH TABLES WITH READ LOCK.
func (f *dbFixture) ftwrlWaiting() bool {
	out, err := f.maria.sql(context.Background(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '"+mysqlBackupUser+"' AND INFO LIKE 'FLUSH TABLES WITH READ LOCK%'")
	return err == nil && out == "1"
}

// requireCleanRelease checks what a run stopped by SIGTERM must leave: exit
// 143 with a result naming the signal, no shell abort on stderr, the post
// hook run by the script itself (before it exited), the file system
// writable, no session of the backup user and no watchdog.
func requireCleanRelease(t *testing.T, f *dbFixture, p *scriptProc, o runOutcome, l hookLog, mount string) {
	t.Helper()
	if o.ExitCode != 143 || o.Result.Status != "error" || o.Result.Message != "interrupted by SIGTERM" {
		t.Errorf("want exit 143 and the message \"interrupted by SIGTERM\"\n%s", describeOutcome(o))
	}
	for _, bad := range []string{"longjmp", "stack frame", "Aborted", "core dumped", "unexpected failure"} {
		if strings.Contains(o.Stderr, bad) {
			t.Errorf("stderr reports %q: the release path did not run cleanly\n%s", bad, o.Stderr)
		}
	}
	if got := l.names(t); got != "pre post" {
		t.Errorf("hooks ran as %q, want pre post", got)
	}
	if !strings.Contains(o.Stderr, "custom: post "+l.dir) {
		t.Errorf("the script did not run the post hook itself:\n%s", o.Stderr)
	}
	requireWritable(t, mount, 5*time.Second)
	if !waitUntil(5*time.Second, func() bool { return f.maria.backupSessions(t) == 0 }) {
		t.Errorf("a session of %s is left after the script exited", mysqlBackupUser)
	}
	requireNoWatchdog(t, p, 5*time.Second)
}

// TestAppsSIGTERMWhileWaiting sends SIGTERM to the script's shell
//   - while FLUSH TABLES WITH READ LOCK waits behind a conflicting LOCK
//     TABLES (the script reads the session's output, waiting for the lock
//     marker): the session is ended although the conflicting lock is still
//     held, the post hook of the hook already run goes;
//   - while the request hangs, the lock held and the file system frozen:
//     the script thaws, unlocks in the same session and runs the post hook.
func TestAppsSIGTERMWhileWaiting(t *testing.T) {
	h, f := newAppHarness(t)
	const budget = 30
	for _, tc := range []string{"lock wait", "request"} {
		t.Run(tc, func(t *testing.T) {
			l := newHookLog(t)
			h.ec2.reset()
			h.ec2.configure(ec2Hang, 0, h.xfs.Mount)
			apps := []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10}, f.mariaApp(20)}
			var blocker *heldSession
			if tc == "lock wait" {
				blocker = openSession(t, f.maria.RootCnf)
				blocker.do(t, "LOCK TABLES shop.orders WRITE;")
			}
			p := h.start(t, runSpec{Snapshot: h.appSnapshot(budget, apps, h.xfs.Mount), Params: curlParams()})
			if tc == "lock wait" {
				if !waitUntil(20*time.Second, f.ftwrlWaiting) {
					t.Fatalf("FLUSH TABLES WITH READ LOCK is not waiting\n%s", p.stderr.String())
				}
			} else {
				h.awaitRequest(t, p)
			}
			shell, err := p.scriptShell()
			if err != nil {
				t.Fatal(err)
			}
			signalled := time.Now()
			if err := syscall.Kill(shell.PID, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			o := p.result()
			t.Logf("%s: the script exited %d, %v after SIGTERM: %s", tc, o.ExitCode, time.Since(signalled).Round(time.Millisecond), o.Result.Message)
			requireCleanRelease(t, f, p, o, l, h.xfs.Mount)
			if tc == "lock wait" {
				if len(o.Result.Frozen) != 0 || len(h.ec2.requestLog()) != 0 {
					t.Errorf("frozen %v, %d requests, before the lock was taken", o.Result.Frozen, len(h.ec2.requestLog()))
				}
				blocker.do(t, "UNLOCK TABLES;")
			} else {
				if !strings.Contains(o.Stderr, "mariadb: unlocked") || o.Result.FreezeMs >= budget*1000 {
					t.Errorf("the script did not unlock and thaw itself (freezeMs %d)\n%s", o.Result.FreezeMs, o.Stderr)
				}
			}
			requireReleased(t, f)
		})
	}
}

// TestDLMHooksHolderSIGTERM sends SIGTERM to a DLM holder
//   - while FLUSH TABLES WITH READ LOCK waits behind a conflicting LOCK
//     TABLES: the holder releases and exits 143, the pre-script fails (201)
//     with its message;
//   - once everything is held, while it waits for the post-script: the
//     holder thaws, unlocks, runs the post hook and exits 143; the
//     post-script then finds the hold released and fails (202).
//
// Either way the holder's own log shows its release, without a shell abort.
func TestDLMHooksHolderSIGTERM(t *testing.T) {
	h, f := newAppHarness(t)
	for _, tc := range []string{"lock wait", "held"} {
		t.Run(tc, func(t *testing.T) {
			l := newHookLog(t)
			s := h.dlmSnapshot(30, h.xfs.Mount)
			s.Consistency = ConsistencyApplication
			s.Apps = []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10}, f.mariaApp(20)}
			d := newDLMPolicy(t, h, s)
			var blocker *heldSession
			var pre dlmOutcome
			if tc == "lock wait" {
				blocker = openSession(t, f.maria.RootCnf)
				blocker.do(t, "LOCK TABLES shop.orders WRITE;")
				started := time.Now()
				d.pre = d.start(t, DLMCommandPreScript, dlmRunA)
				if !waitUntil(20*time.Second, f.ftwrlWaiting) {
					t.Fatalf("FLUSH TABLES WITH READ LOCK is not waiting\n%s", d.pre.stderr.String())
				}
				if err := syscall.Kill(d.holder(t).PID, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				pre = d.await(t, d.pre, DLMCommandPreScript, dlmRunA, started)
				requireExit(t, pre, 201, "interrupted by SIGTERM")
			} else {
				d.requireHeld(t, d.run(t, DLMCommandPreScript, dlmRunA))
				holder := d.holder(t)
				if err := syscall.Kill(holder.PID, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				if !waitUntil(10*time.Second, func() bool { return len(processesWithMarker(d.pre.marker)) == 0 }) {
					t.Fatalf("the holder has not ended 10 s after SIGTERM: %+v", processesWithMarker(d.pre.marker))
				}
			}
			holderLog, err := os.ReadFile(filepath.Join(d.dir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			rc, _ := os.ReadFile(filepath.Join(d.dir(), "rc"))
			t.Logf("%s: holder exit %s, log:\n%s", tc, strings.TrimSpace(string(rc)), holderLog)
			if strings.TrimSpace(string(rc)) != "143" || !strings.Contains(string(holderLog), "ERROR: interrupted by SIGTERM") {
				t.Errorf("the holder did not exit 143 from its SIGTERM trap (exit %q)", rc)
			}
			for _, bad := range []string{"longjmp", "stack frame", "Aborted", "unexpected failure"} {
				if strings.Contains(string(holderLog), bad) {
					t.Errorf("the holder's log reports %q: its release path did not run cleanly", bad)
				}
			}
			if !strings.Contains(string(holderLog), "custom: post "+l.dir) || l.names(t) != "pre post" {
				t.Errorf("the holder did not run the post hook itself (hooks %q)", l.names(t))
			}
			if tc == "held" {
				if !strings.Contains(string(holderLog), "mariadb: unlocked") {
					t.Errorf("the holder did not unlock in its session")
				}
				requireExit(t, d.run(t, DLMCommandPostScript, dlmRunA), 202)
			}
			d.requireNothingLeft(t)
			requireWritable(t, h.xfs.Mount, 5*time.Second)
			if !waitUntil(5*time.Second, func() bool { return f.maria.backupSessions(t) == 0 }) {
				t.Errorf("a session of %s is left", mysqlBackupUser)
			}
			if blocker != nil {
				blocker.do(t, "UNLOCK TABLES;")
			}
			requireReleased(t, f)
		})
	}
}
