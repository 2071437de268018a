package documents

// Application consistency, proven by running the shared document's script
// bytes (rendered as SSM renders them) as root against the shared MariaDB and
// PostgreSQL servers (apps_fixture_test.go), the EC2 and instance-metadata
// doubles, and real loop-mounted ext4 and xfs file systems.
//
// An INSERT on a frozen file system waits for the thaw whatever the database
// does, so the tests that prove the lock itself freeze only PostgreSQL's
// file system: MariaDB's stays writable, and only the lock can hold the
// INSERT back.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// newAppHarness is the harness on the shared servers' file systems.
func newAppHarness(t *testing.T) (*harness, *dbFixture) {
	t.Helper()
	f := requireDB(t)
	requireTools(t, "bash", "sh", "curl", "fsfreeze", "findmnt", "setsid", "flock", "timeout", "stat", "sort", "mkfifo")
	h := &harness{imds: newIMDSDouble(t), ec2: newEC2Double(t), ext4: f.ext4, xfs: f.xfs}
	t.Cleanup(func() {
		// Whatever a test did, the next one starts thawed and unlocked.
		for _, m := range []string{f.ext4.Mount, f.xfs.Mount} {
			_ = exec.Command("fsfreeze", "-u", m).Run()
		}
	})
	return h, f
}

// appSnapshot is the harness snapshot with consistency application.
func (h *harness) appSnapshot(budget int, apps []LinuxApp, mounts ...string) LinuxSnapshot {
	s := h.snapshot(mounts...)
	s.Consistency = ConsistencyApplication
	s.Apps = apps
	s.MaxFreezeSeconds = budget
	s.TimeoutSeconds = 2*budget + stepSlackSeconds + s.AppSeconds()
	return s
}

func (f *dbFixture) mariaApp(lockWait int) LinuxApp {
	return LinuxApp{Type: AppMariaDB, DefaultsFile: f.maria.BackupCnf, LockWaitSeconds: lockWait, PreFlush: true}
}

// pgEnv points libpq at the test server for the peer-authenticated
// connection (an instance's server listens on the default socket).
func (f *dbFixture) pgEnv() []string {
	return []string{"PGHOST=" + f.pg.SocketDir, "PGPORT=" + strconv.Itoa(f.pg.Port)}
}

func curlParams() map[string]string { return map[string]string{ParamClient: ClientCurl} }

// requireAppSuccess checks a run that reached application consistency.
func requireAppSuccess(t *testing.T, o runOutcome) {
	t.Helper()
	r := o.Result
	if o.ExitCode != 0 || r.Status != "ok" || r.Consistency != ConsistencyApplication || !r.ApplicationConsistent {
		t.Fatalf("want an application-consistent success\n%s", describeOutcome(o))
	}
}

// requireReleased checks, bounded, that no session of the backup user is
// left and that an INSERT goes through.
func requireReleased(t *testing.T, f *dbFixture) {
	t.Helper()
	if !waitUntil(10*time.Second, func() bool { return f.maria.backupSessions(t) == 0 }) {
		out, _ := f.maria.sql(context.Background(), "SHOW PROCESSLIST")
		t.Errorf("sessions of %s left on the server:\n%s", mysqlBackupUser, out)
	}
	select {
	case r := <-f.maria.insertAsync("after-run"):
		if r.Err != nil {
			t.Errorf("INSERT after the run: %v", r.Err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("an INSERT after the run is still blocked after 15 s: the lock was not released")
	}
}

// awaitInsert waits, bounded, for an INSERT started during the run.
func awaitInsert(t *testing.T, ch <-chan insertResult, within time.Duration) insertResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.Err != nil {
			t.Fatalf("INSERT: %v", r.Err)
		}
		return r
	case <-time.After(within):
		t.Fatalf("INSERT still blocked %v later", within)
	}
	return insertResult{}
}

// TestAppsMariaDBLockHeldDuringRequest proves, for curl and for the AWS CLI,
// that an INSERT from another session, started while CreateSnapshots is
// being served, completes only after the answer: the lock is held in the
// script's session for the whole request. MariaDB's own file system is not
// frozen here, so nothing but the lock holds the INSERT back. The binary-log
// coordinates read under the lock are in the request's tags.
func TestAppsMariaDBLockHeldDuringRequest(t *testing.T) {
	h, f := newAppHarness(t)
	for _, client := range []string{ClientCurl, ClientCLI} {
		t.Run(client, func(t *testing.T) {
			if client == ClientCLI {
				requireTools(t, "aws")
			}
			file, pos := f.maria.binlogStatus(t)
			var inserted <-chan insertResult
			h.ec2.reset()
			h.ec2.configure(ec2Succeed, 1500*time.Millisecond, h.xfs.Mount)
			h.ec2.onRequest(func(*ec2Request) { inserted = f.maria.insertAsync("during-request") })
			defer h.ec2.onRequest(nil)
			s := h.appSnapshot(15, []LinuxApp{f.mariaApp(5)}, h.xfs.Mount)
			o := h.run(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: client, ParamRunID: harnessRunID}})
			requireAppSuccess(t, o)
			req := h.onlyRequest(t, o)
			requireFrozenDuringRequest(t, req, []string{h.xfs.Mount}, nil)
			ins := awaitInsert(t, inserted, 30*time.Second)
			if !ins.Done.After(req.Responded) {
				t.Errorf("the INSERT completed at %s, before CreateSnapshots was answered at %s: the lock was not held",
					ins.Done.Format(time.StampMicro), req.Responded.Format(time.StampMicro))
			}
			t.Logf("client %s: INSERT started during the request waited %v; answer %v after the request; lockMs=%d freezeMs=%d requestMs=%d",
				client, ins.Done.Sub(ins.Started).Round(time.Millisecond), req.Responded.Sub(req.At).Round(time.Millisecond),
				o.Result.LockMs, o.Result.FreezeMs, o.Result.RequestMs)

			tags := requestTags(t, req.Form)
			for k, want := range map[string]string{
				"ssm-backup:consistency":   ConsistencyApplication,
				TagBinlogFile:              file,
				TagBinlogPosition:          pos,
				"ssm-backup:run-id":        harnessRunID,
				"ssm-backup:binlog-file-2": "",
			} {
				if got := tags[k]; got != want {
					t.Errorf("tag %s = %q, want %q", k, got, want)
				}
			}
			if got := req.Form.Get("Description"); !strings.Contains(got, "application-consistent") {
				t.Errorf("Description = %q", got)
			}
			if len(o.Result.Binlog) != 1 || o.Result.Binlog[0] != (binlogCoordinate{file, pos}) {
				t.Errorf("result binlog = %+v, want %s:%s", o.Result.Binlog, file, pos)
			}
			if strings.Join(o.Result.Apps, ",") != AppMariaDB || o.Result.LockMs <= 0 {
				t.Errorf("apps %v, lockMs %d", o.Result.Apps, o.Result.LockMs)
			}
			requireReleased(t, f)
			requireNoWatchdog(t, h.startedLast(), 5*time.Second)
		})
	}
}

// TestAppsBlogRecipeControl measures the widely copied recipe against a lock
// held in one session (DESIGN.md, "Measured facts"): `mysql -e 'FLUSH TABLES
// WITH READ LOCK'` exits, and its lock with it, so an INSERT right after it
// goes through before the recipe's UNLOCK TABLES; with the lock held in an
// open session, the same INSERT waits until UNLOCK TABLES.
func TestAppsBlogRecipeControl(t *testing.T) {
	_, f := newAppHarness(t)
	const hold = 1500 * time.Millisecond
	ctx := context.Background()

	// The recipe: one client for the lock, another for the unlock.
	if _, err := mariaSQL(ctx, f.maria.BackupCnf, "FLUSH TABLES WITH READ LOCK;"); err != nil {
		t.Fatal(err)
	}
	recipe := f.maria.insertAsync("blog-recipe")
	time.Sleep(hold) // the recipe's freeze and snapshot calls
	unlockAt := time.Now()
	if _, err := mariaSQL(ctx, f.maria.BackupCnf, "UNLOCK TABLES;"); err != nil {
		t.Fatal(err)
	}
	r := awaitInsert(t, recipe, 30*time.Second)
	if !r.Done.Before(unlockAt) {
		t.Errorf("with the recipe the INSERT completed only after UNLOCK TABLES: the recipe held the lock after all")
	}
	t.Logf("blog recipe (mysql -e 'FLUSH TABLES WITH READ LOCK'): an INSERT right after it took %v, during a %v hold",
		r.Done.Sub(r.Started).Round(time.Millisecond), hold)

	// The lock held in one open session.
	s := openSession(t, f.maria.BackupCnf)
	s.do(t, "FLUSH TABLES WITH READ LOCK;")
	held := f.maria.insertAsync("held-session")
	time.Sleep(hold)
	unlockAt = time.Now()
	s.do(t, "UNLOCK TABLES;")
	r = awaitInsert(t, held, 30*time.Second)
	if !r.Done.After(unlockAt) {
		t.Errorf("with the lock held in an open session the INSERT completed before UNLOCK TABLES")
	}
	t.Logf("lock held in one session: the same INSERT took %v, during a %v hold", r.Done.Sub(r.Started).Round(time.Millisecond), hold)
	s.close()
	requireReleased(t, f)
}

// TestAppsReleasedAfterFailedRequest: the lock is released and the file
// system thawed after a refused request (HTTP 500) and after one that
// hangs; the INSERT started during the request completes after the
// script gave up; the run fails and does not claim application
// consistency.
func TestAppsReleasedAfterFailedRequest(t *testing.T) {
	h, f := newAppHarness(t)
	for _, tc := range []struct {
		name string
		mode ec2Mode
		want string
	}{
		{"http-500", ec2Fail500, "InternalError"},
		{"hang", ec2Hang, "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inserted <-chan insertResult
			h.ec2.reset()
			h.ec2.configure(tc.mode, 0, h.xfs.Mount)
			h.ec2.onRequest(func(*ec2Request) { inserted = f.maria.insertAsync("failed-" + tc.name) })
			defer h.ec2.onRequest(nil)
			s := h.appSnapshot(6, []LinuxApp{f.mariaApp(5)}, h.xfs.Mount)
			o := h.run(t, runSpec{Snapshot: s, Params: curlParams()})
			if o.ExitCode != 1 || o.Result.Status != "error" || !strings.Contains(o.Result.Message, tc.want) || o.Result.ApplicationConsistent {
				t.Errorf("want a failure naming %s, not application-consistent\n%s", tc.want, describeOutcome(o))
			}
			req := h.onlyRequest(t, o)
			requireFrozenDuringRequest(t, req, []string{h.xfs.Mount}, nil)
			ins := awaitInsert(t, inserted, 30*time.Second)
			if tc.mode == ec2Fail500 && !ins.Done.After(req.Responded) {
				t.Errorf("the INSERT completed before the answer: the lock was not held")
			}
			t.Logf("%s: INSERT waited %v; lockMs=%d freezeMs=%d", tc.name, ins.Done.Sub(ins.Started).Round(time.Millisecond), o.Result.LockMs, o.Result.FreezeMs)
			requireWritable(t, h.xfs.Mount, 5*time.Second)
			requireReleased(t, f)
			requireNoWatchdog(t, h.startedLast(), 5*time.Second)
		})
	}
}

// findSessionClient is the MySQL client process of a run.
func findSessionClient(t *testing.T, p *scriptProc) procInfo {
	t.Helper()
	for _, q := range processesWithMarker(p.marker) {
		if len(q.Args) > 0 && (strings.HasSuffix(q.Args[0], "/mysql") || strings.HasSuffix(q.Args[0], "/mariadb") || q.Args[0] == "mysql" || q.Args[0] == "mariadb") {
			return q
		}
	}
	t.Fatalf("no mysql client among the run's processes: %+v", processesWithMarker(p.marker))
	return procInfo{}
}

// TestAppsSIGKILL kills the script while the lock is held and a file system
// frozen (the request hangs):
//   - group: the script, its client and curl die at once; the server drops
//     the lock with the session; the watchdog thaws within the budget;
//   - script: only the script's shell dies; its end of the session's input
//     closes, the client reads end of input and quits, and the lock is gone
//     while the file system is still frozen, long before the watchdog acts;
//   - input kept open: another process holds the session's input open (as
//     a daemon started by a hook could) when the script dies, so the client
//     never reads end of input; the watchdog kills it when the budget runs
//     out.
func TestAppsSIGKILL(t *testing.T) {
	h, f := newAppHarness(t)
	const budget = 8
	for _, tc := range []string{"group", "script", "input-kept-open"} {
		t.Run(tc, func(t *testing.T) {
			var inserted <-chan insertResult
			h.ec2.reset()
			h.ec2.configure(ec2Hang, 0, h.xfs.Mount)
			h.ec2.onRequest(func(*ec2Request) { inserted = f.maria.insertAsync("sigkill-" + tc) })
			defer h.ec2.onRequest(nil)
			p := h.start(t, runSpec{Snapshot: h.appSnapshot(budget, []LinuxApp{f.mariaApp(5)}, h.xfs.Mount), Params: curlParams()})
			req := h.awaitRequest(t, p)
			if !req.Blocked[h.xfs.Mount] {
				t.Fatalf("%s not frozen during the request", h.xfs.Mount)
			}
			client := findSessionClient(t, p)
			shell, err := p.scriptShell()
			if err != nil {
				t.Fatal(err)
			}
			stillFrozen := probeWrite(h.xfs.Mount)
			killedAt := time.Now()
			switch tc {
			case "group":
				err = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			case "script":
				err = syscall.Kill(shell.PID, syscall.SIGKILL)
			case "input-kept-open":
				var input *os.File
				if input, err = os.OpenFile(fmt.Sprintf("/proc/%d/fd/0", client.PID), os.O_WRONLY, 0); err == nil {
					defer input.Close()
					err = syscall.Kill(shell.PID, syscall.SIGKILL)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc == "input-kept-open" {
				time.Sleep(2 * time.Second)
				select {
				case r := <-inserted:
					t.Fatalf("the INSERT completed %v after the SIGKILL, before the watchdog could act: the lock was not held", r.Done.Sub(killedAt))
				default:
				}
			}
			ins := awaitInsert(t, inserted, time.Duration(budget)*time.Second+10*time.Second)
			t.Logf("%s: INSERT completed %v after the SIGKILL (budget %d s)", tc, ins.Done.Sub(killedAt).Round(time.Millisecond), budget)
			var thawedAt time.Time
			select {
			case err := <-stillFrozen:
				if err != nil {
					t.Fatal(err)
				}
				thawedAt = time.Now()
			case <-time.After(time.Duration(budget)*time.Second + 10*time.Second):
				t.Fatalf("%s still frozen %d s after the SIGKILL: the watchdog did not thaw", h.xfs.Mount, budget+10)
			}
			switch tc {
			case "script":
				if !ins.Done.Before(thawedAt) {
					t.Errorf("the INSERT completed only after the watchdog thawed: the client did not quit at the end of its input")
				}
			}
			t.Logf("%s: thawed by the watchdog %v after the SIGKILL", tc, thawedAt.Sub(killedAt).Round(time.Millisecond))
			requireWritable(t, h.xfs.Mount, 5*time.Second)
			if !waitUntil(10*time.Second, func() bool { return len(findWatchdogs(p.marker)) == 0 }) {
				t.Errorf("watchdog still running after it released: %+v", findWatchdogs(p.marker))
			}
			requireReleased(t, f)
		})
	}
}

// TestAppsLockWaitTimeout: a session holding LOCK TABLES ... WRITE makes
// FLUSH TABLES WITH READ LOCK wait; after lockWaitTimeout the run fails,
// before anything is frozen or requested, and leaves nothing locked.
func TestAppsLockWaitTimeout(t *testing.T) {
	h, f := newAppHarness(t)
	h.ec2.configure(ec2Succeed, 0)
	blocker := openSession(t, f.maria.RootCnf)
	blocker.do(t, "LOCK TABLES shop.orders WRITE;")
	started := time.Now()
	o := h.run(t, runSpec{Snapshot: h.appSnapshot(10, []LinuxApp{f.mariaApp(2)}, h.ext4.Mount, h.xfs.Mount), Params: curlParams()})
	if o.ExitCode != 1 || o.Result.Status != "error" || !strings.Contains(o.Result.Message, "FLUSH TABLES WITH READ LOCK failed") ||
		!strings.Contains(o.Result.Message, "Lock wait timeout") {
		t.Errorf("want a lock-wait failure\n%s", describeOutcome(o))
	}
	t.Logf("the run gave up after %v (lockWaitTimeout 2 s): %s", time.Since(started).Round(time.Millisecond), o.Result.Message)
	if strings.Contains(o.Stderr, "held the lock ended") {
		t.Errorf("a lock never taken is reported as lost:\n%s", o.Stderr)
	}
	if n := len(h.ec2.requestLog()); n != 0 {
		t.Errorf("%d CreateSnapshots requests after a failed lock", n)
	}
	if len(o.Result.Frozen) != 0 || o.Result.FreezeMs != 0 || o.Result.ApplicationConsistent {
		t.Errorf("frozen %v for %d ms, applicationConsistent %v", o.Result.Frozen, o.Result.FreezeMs, o.Result.ApplicationConsistent)
	}
	for _, m := range []string{h.ext4.Mount, h.xfs.Mount} {
		requireWritable(t, m, 5*time.Second)
	}
	blocker.do(t, "UNLOCK TABLES;")
	requireReleased(t, f)
	requireNoWatchdog(t, h.startedLast(), 5*time.Second)
}

// TestAppsMariaDBCredentials: the client reads its credentials from the
// defaults file only. A wrong password fails the run before the hold, even
// with the right one in MYSQL_PWD; a missing file fails it too.
func TestAppsMariaDBCredentials(t *testing.T) {
	h, f := newAppHarness(t)
	h.ec2.configure(ec2Succeed, 0)
	// A server that is down: a socket path nothing listens on.
	unreachable := filepath.Join(f.dir, "unreachable.cnf")
	body := fmt.Sprintf("[client]\nuser=%s\npassword=%s\nsocket=%s\n", mysqlBackupUser, mysqlBackupPassword, filepath.Join(f.dir, "no-server.sock"))
	if err := os.WriteFile(unreachable, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cnf, want string
		env             []string
	}{
		{"wrong password", f.maria.WrongCnf, "Access denied", []string{"MYSQL_PWD=" + mysqlBackupPassword}},
		{"missing file", filepath.Join(f.dir, "absent.cnf"), "does not exist", nil},
		{"server unreachable", unreachable, "Can't connect", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.ec2.reset()
			app := f.mariaApp(5)
			app.DefaultsFile = tc.cnf
			o := h.run(t, runSpec{Snapshot: h.appSnapshot(10, []LinuxApp{app}, h.ext4.Mount), Params: curlParams(), Env: tc.env})
			if o.ExitCode != 1 || !strings.Contains(o.Result.Message, tc.want) {
				t.Errorf("want a failure naming %q\n%s", tc.want, describeOutcome(o))
			}
			if n := len(h.ec2.requestLog()); n != 0 || len(o.Result.Frozen) != 0 {
				t.Errorf("%d requests, frozen %v", n, o.Result.Frozen)
			}
			if strings.Contains(o.Stdout+o.Stderr, mysqlBackupPassword) {
				t.Errorf("the password appears in the output")
			}
			requireWritable(t, h.ext4.Mount, 5*time.Second)
			requireReleased(t, f)
		})
	}
}

// checkpointsCompleted lists the "checkpoint complete" times in the
// PostgreSQL log.
func checkpointsCompleted(t *testing.T, log string) []time.Time {
	t.Helper()
	fh, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []time.Time
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "LOG:  checkpoint complete") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		at, err := time.Parse("2006-01-02 15:04:05.000 MST", f[0]+" "+f[1]+" "+f[2])
		if err == nil {
			out = append(out, at)
		}
	}
	return out
}

// copyDest is a fresh path for copyTree, in the fixture's directory, which
// the postgres user can reach.
func copyDest(t *testing.T, f *dbFixture) string {
	t.Helper()
	dir, err := os.MkdirTemp(f.dir, "restore-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "copy")
}

// copyTree copies a directory tree, owners and modes kept; it runs in the
// EC2 double's handler, while the file systems are frozen.
func copyTree(src, dst string) error {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s: %v\n%s", src, err, out)
	}
	return nil
}

// restorePostgres starts a second server on a copy of the data directory,
// as a restored volume would be started, and returns a query function. The
// copy's postmaster.pid names the running server's process, which a
// restored volume on another instance would not have.
func restorePostgres(t *testing.T, dataDir string) func(string) string {
	t.Helper()
	if err := os.Remove(filepath.Join(dataDir, "postmaster.pid")); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(filepath.Dir(dataDir), "sock")
	if err := os.Mkdir(sock, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "postgres:", sock).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(filepath.Dir(dataDir), "restored.log")
	cmd, err := startPostgresProcess(dataDir, sock, port, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { stopPostgres(dataDir, cmd, done) })
	query := func(q string) (string, error) { return pgSQL(context.Background(), sock, port, q) }
	if err := waitReady(done, func() bool { _, err := query("SELECT 1"); return err == nil }); err != nil {
		t.Fatalf("the restored copy does not start: %v\n%s", err, tail(log))
	}
	t.Logf("restored PostgreSQL copy: %s", strings.Join(grepLines(log, "redo", "recovery", "ready to accept"), " | "))
	return func(q string) string {
		out, err := query(q)
		if err != nil {
			t.Fatalf("restored copy: %v", err)
		}
		return out
	}
}

func grepLines(path string, words ...string) []string {
	b, _ := os.ReadFile(path)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				if i := strings.Index(line, "LOG:"); i >= 0 {
					line = strings.TrimSpace(line[i+4:])
				}
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// TestAppsPostgreSQL: CHECKPOINT completes before the freeze (the server's
// log, and pg_stat_bgwriter.checkpoints_req); PostgreSQL's file system is
// frozen while CreateSnapshots is served; the server runs on afterwards; and
// a copy of the data directory taken while frozen starts as a second server
// and holds every row committed before the run. Peer authentication as
// postgres over the socket, and a libpq service with a password.
func TestAppsPostgreSQL(t *testing.T) {
	h, f := newAppHarness(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		app  LinuxApp
		env  []string
	}{
		{"peer", LinuxApp{Type: AppPostgreSQL}, f.pgEnv()},
		{"service", LinuxApp{Type: AppPostgreSQL, Service: pgService, ServiceFile: f.pg.ServiceFile}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note := "before-" + tc.name
			if _, err := f.pg.sql(ctx, "INSERT INTO measurements (note) SELECT '"+note+"' FROM generate_series(1, 100)"); err != nil {
				t.Fatal(err)
			}
			before := f.pg.checkpointsRequested(t)
			started := time.Now()
			copyDir := copyDest(t, f)
			var copyErr error
			h.ec2.reset()
			h.ec2.configure(ec2Succeed, 0, h.xfs.Mount)
			h.ec2.onRequest(func(*ec2Request) { copyErr = copyTree(f.pg.DataDir, copyDir) })
			defer h.ec2.onRequest(nil)
			o := h.run(t, runSpec{Snapshot: h.appSnapshot(30, []LinuxApp{tc.app}, h.xfs.Mount), Params: curlParams(), Env: tc.env})
			requireAppSuccess(t, o)
			req := h.onlyRequest(t, o)
			requireFrozenDuringRequest(t, req, []string{h.xfs.Mount}, nil)
			if after := f.pg.checkpointsRequested(t); after <= before {
				t.Errorf("checkpoints_req %d → %d: no CHECKPOINT", before, after)
			}
			var inRun []time.Time
			for _, at := range checkpointsCompleted(t, f.pg.Log) {
				if at.After(started.Add(-time.Second)) {
					inRun = append(inRun, at)
				}
			}
			if len(inRun) == 0 || !inRun[0].Before(req.At) {
				t.Errorf("no checkpoint completed between the start of the run and the request (%s); log:\n%s", req.At.Format(time.StampMilli), tail(f.pg.Log))
			} else {
				t.Logf("%s: checkpoint complete %v before the request; freezeMs=%d", tc.name, req.At.Sub(inRun[0]).Round(time.Millisecond), o.Result.FreezeMs)
			}
			if copyErr != nil {
				t.Fatal(copyErr)
			}
			if got, err := f.pg.sql(ctx, "INSERT INTO measurements (note) VALUES ('after') RETURNING note"); err != nil || got != "after" {
				t.Errorf("the server after the run: %q, %v", got, err)
			}
			query := restorePostgres(t, copyDir)
			if got := query("SELECT count(*) FROM measurements WHERE note = '" + note + "'"); got != "100" {
				t.Errorf("the copy taken while frozen has %s of the 100 rows committed before the run", got)
			}
		})
	}
	t.Run("bad service", func(t *testing.T) {
		h.ec2.reset()
		app := LinuxApp{Type: AppPostgreSQL, Service: "nosuchservice", ServiceFile: f.pg.ServiceFile}
		o := h.run(t, runSpec{Snapshot: h.appSnapshot(10, []LinuxApp{app}, h.xfs.Mount), Params: curlParams()})
		if o.ExitCode != 1 || !strings.Contains(o.Result.Message, "CHECKPOINT failed") {
			t.Errorf("want a CHECKPOINT failure\n%s", describeOutcome(o))
		}
		if n := len(h.ec2.requestLog()); n != 0 || len(o.Result.Frozen) != 0 {
			t.Errorf("%d requests, frozen %v", n, o.Result.Frozen)
		}
		requireWritable(t, h.xfs.Mount, 5*time.Second)
	})
}

// hookLog is the log custom hooks append to: one "NAME UNIX_NANOS" line each.
type hookLog struct{ path, dir string }

func newHookLog(t *testing.T) hookLog {
	t.Helper()
	dir := t.TempDir()
	return hookLog{path: filepath.Join(dir, "hooks.log"), dir: dir}
}

// hook writes an executable that logs its name, sleeps, then exits with code.
func (l hookLog) hook(t *testing.T, name string, sleep float64, code int) string {
	t.Helper()
	path := filepath.Join(l.dir, name)
	body := fmt.Sprintf("#!/bin/sh\necho \"%s $(date +%%s%%N)\" >>%s\nsleep %g\nexit %d\n", name, l.path, sleep, code)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

type hookEntry struct {
	Name string
	At   time.Time
}

func (l hookLog) entries(t *testing.T) []hookEntry {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []hookEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		out = append(out, hookEntry{f[0], time.Unix(0, ns)})
	}
	return out
}

func (l hookLog) names(t *testing.T) string {
	var names []string
	for _, e := range l.entries(t) {
		names = append(names, e.Name)
	}
	return strings.Join(names, " ")
}

// TestAppsCustomHooks: pre hooks run in the listed order before the
// request, post hooks in the reverse order after it; post runs when the
// request fails and when pre fails; a failing pre aborts before anything is
// frozen; after SIGKILL the watchdog runs post, once; a failing post fails
// the run loudly although the snapshots are consistent.
func TestAppsCustomHooks(t *testing.T) {
	h, f := newAppHarness(t)
	t.Run("order", func(t *testing.T) {
		l := newHookLog(t)
		h.ec2.reset()
		h.ec2.configure(ec2Succeed, 0, h.xfs.Mount)
		apps := []LinuxApp{
			{Type: AppCustom, Pre: l.hook(t, "pre-a", 0, 0), Post: l.hook(t, "post-a", 0, 0), TimeoutSeconds: 10},
			f.mariaApp(5),
			{Type: AppCustom, Pre: l.hook(t, "pre-b", 0, 0), Post: l.hook(t, "post-b", 0, 0), TimeoutSeconds: 10},
		}
		o := h.run(t, runSpec{Snapshot: h.appSnapshot(15, apps, h.xfs.Mount), Params: curlParams()})
		requireAppSuccess(t, o)
		req := h.onlyRequest(t, o)
		if got := l.names(t); got != "pre-a pre-b post-b post-a" {
			t.Errorf("hooks ran as %q, want pre-a pre-b post-b post-a", got)
		}
		e := l.entries(t)
		if len(e) == 4 && !(e[1].At.Before(req.At) && e[2].At.After(req.Responded)) {
			t.Errorf("pre-b at %s, request %s, answer %s, post-b %s: the hooks do not frame the request",
				e[1].At.Format(time.StampMicro), req.At.Format(time.StampMicro), req.Responded.Format(time.StampMicro), e[2].At.Format(time.StampMicro))
		}
		requireReleased(t, f)
	})
	t.Run("post after a failed request", func(t *testing.T) {
		l := newHookLog(t)
		h.ec2.reset()
		h.ec2.configure(ec2Fail500, 0)
		apps := []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10}}
		o := h.run(t, runSpec{Snapshot: h.appSnapshot(10, apps, h.xfs.Mount), Params: curlParams()})
		if o.ExitCode != 1 || o.Result.ApplicationConsistent {
			t.Errorf("want a failure\n%s", describeOutcome(o))
		}
		if got := l.names(t); got != "pre post" {
			t.Errorf("hooks ran as %q, want pre post", got)
		}
	})
	t.Run("failing pre", func(t *testing.T) {
		l := newHookLog(t)
		h.ec2.reset()
		h.ec2.configure(ec2Succeed, 0)
		apps := []LinuxApp{
			f.mariaApp(5),
			{Type: AppCustom, Pre: l.hook(t, "pre", 0, 3), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10},
		}
		o := h.run(t, runSpec{Snapshot: h.appSnapshot(10, apps, h.ext4.Mount, h.xfs.Mount), Params: curlParams()})
		if o.ExitCode != 1 || !strings.Contains(o.Result.Message, "pre hook") || !strings.Contains(o.Result.Message, "exit 3") {
			t.Errorf("want a failure naming the pre hook\n%s", describeOutcome(o))
		}
		if n := len(h.ec2.requestLog()); n != 0 || len(o.Result.Frozen) != 0 {
			t.Errorf("%d requests, frozen %v after a failed pre hook", n, o.Result.Frozen)
		}
		if got := l.names(t); got != "pre post" {
			t.Errorf("hooks ran as %q, want pre post (post undoes a partial pre)", got)
		}
		requireReleased(t, f)
	})
	t.Run("pre over the budget", func(t *testing.T) {
		l := newHookLog(t)
		h.ec2.reset()
		h.ec2.configure(ec2Succeed, 0)
		apps := []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 30, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 60}}
		o := h.run(t, runSpec{Snapshot: h.appSnapshot(3, apps, h.xfs.Mount), Params: curlParams()})
		if o.ExitCode != 1 || !strings.Contains(o.Result.Message, "pre hook") {
			t.Errorf("want the pre hook stopped within the budget\n%s", describeOutcome(o))
		}
		if n := len(h.ec2.requestLog()); n != 0 {
			t.Errorf("%d requests", n)
		}
		if got := l.names(t); got != "pre post" {
			t.Errorf("hooks ran as %q, want pre post", got)
		}
	})
	t.Run("watchdog runs post after SIGKILL", func(t *testing.T) {
		l := newHookLog(t)
		h.ec2.reset()
		h.ec2.configure(ec2Hang, 0, h.xfs.Mount)
		const budget = 5
		apps := []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10}}
		p := h.start(t, runSpec{Snapshot: h.appSnapshot(budget, apps, h.xfs.Mount), Params: curlParams()})
		h.awaitRequest(t, p)
		killedAt := time.Now()
		if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.wait()
		if !waitUntil(budget*time.Second+10*time.Second, func() bool { return strings.HasSuffix(l.names(t), "post") }) {
			t.Fatalf("post did not run within %d s of the SIGKILL: %q", budget+10, l.names(t))
		}
		t.Logf("the watchdog ran post %v after the SIGKILL (budget %d s)", time.Since(killedAt).Round(time.Millisecond), budget)
		requireWritable(t, h.xfs.Mount, 5*time.Second)
		if !waitUntil(10*time.Second, func() bool { return len(findWatchdogs(p.marker)) == 0 }) {
			t.Errorf("watchdog still running: %+v", findWatchdogs(p.marker))
		}
		if got := l.names(t); got != "pre post" {
			t.Errorf("hooks ran as %q, want pre post (post once)", got)
		}
	})
	t.Run("failing post", func(t *testing.T) {
		l := newHookLog(t)
		h.ec2.reset()
		h.ec2.configure(ec2Succeed, 0)
		apps := []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 4), TimeoutSeconds: 10}}
		o := h.run(t, runSpec{Snapshot: h.appSnapshot(10, apps, h.xfs.Mount), Params: curlParams()})
		if o.ExitCode != 1 || !strings.Contains(o.Result.Message, "post hook") || len(o.Result.SnapshotIDs) != 2 || !o.Result.ApplicationConsistent {
			t.Errorf("want a loud failure with consistent snapshots\n%s", describeOutcome(o))
		}
	})
}

// TestAppsBudgetExceeded: the script is stopped (SIGSTOP) while
// CreateSnapshots is served, for longer than the budget. The watchdog thaws,
// ends the MySQL session and runs the post hook while the script is stopped;
// when it continues, the answer came after the budget: the run fails, says
// so, and does not claim application consistency. The request had already
// carried ssm-backup:consistency=application, decided before it was sent:
// the exit status and the result are the authority.
func TestAppsBudgetExceeded(t *testing.T) {
	h, f := newAppHarness(t)
	l := newHookLog(t)
	const budget = 4
	var proc atomic.Pointer[scriptProc]
	h.ec2.configure(ec2Succeed, 0, h.xfs.Mount)
	h.ec2.onRequest(func(*ec2Request) {
		if p := proc.Load(); p != nil {
			if sh, err := p.scriptShell(); err == nil {
				_ = syscall.Kill(sh.PID, syscall.SIGSTOP)
			}
		}
	})
	defer h.ec2.onRequest(nil)
	apps := []LinuxApp{
		{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10},
		f.mariaApp(5),
	}
	p := h.start(t, runSpec{Snapshot: h.appSnapshot(budget, apps, h.xfs.Mount), Params: curlParams()})
	proc.Store(p)
	req := h.awaitRequest(t, p)
	shell, err := p.scriptShell()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(shell.PID, syscall.SIGCONT)
	// The watchdog releases everything within the budget, the script stopped.
	requireWritable(t, h.xfs.Mount, budget*time.Second+5*time.Second)
	if !waitUntil(10*time.Second, func() bool { return l.names(t) == "pre post" }) {
		t.Fatalf("the watchdog did not run post while the script was stopped: %q", l.names(t))
	}
	requireReleased(t, f)
	if err := syscall.Kill(shell.PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	o := p.result()
	if o.ExitCode != 1 || o.Result.Status != "error" || !o.Result.BudgetExceeded || o.Result.ApplicationConsistent ||
		!strings.Contains(o.Result.Message, "budget") {
		t.Errorf("want a failure over the budget, not application-consistent\n%s", describeOutcome(o))
	}
	if got := requestTags(t, req.Form)["ssm-backup:consistency"]; got != ConsistencyApplication {
		t.Errorf("the request's consistency tag = %q; it is decided before the request", got)
	}
	if got := l.names(t); got != "pre post" {
		t.Errorf("hooks ran as %q, want post once (by the watchdog)", got)
	}
	if !strings.Contains(o.Stderr, "already run by the watchdog") {
		t.Errorf("the script does not say the watchdog ran post:\n%s", o.Stderr)
	}
	t.Logf("result: %s", o.Result.Message)
	requireNoWatchdog(t, p, 10*time.Second)
}

// restoreMariaDB starts a second server on a copy of the data directory and
// returns a query function.
func restoreMariaDB(t *testing.T, f *dbFixture, dataDir string) func(string) string {
	t.Helper()
	dir := filepath.Dir(dataDir)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	sock, log := filepath.Join(dir, "restored.sock"), filepath.Join(dir, "restored.err")
	cmd := exec.Command("mariadbd", f.maria.serverArgs(dataDir, sock, port, filepath.Join(dir, "restored.pid"), log)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { stopProcess(cmd, done) })
	cnf := filepath.Join(dir, "restored.cnf")
	if err := os.WriteFile(cnf, []byte("[client]\nuser=root\nsocket="+sock+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(done, func() bool { _, err := mariaSQL(context.Background(), cnf, "SELECT 1"); return err == nil }); err != nil {
		t.Fatalf("the restored copy does not start: %v\n%s", err, tail(log))
	}
	t.Logf("restored MariaDB copy: %s", strings.Join(grepLines(log, "recovery", "Recovered", "ready for connections"), " | "))
	return func(q string) string {
		out, err := mariaSQL(context.Background(), cnf, q)
		if err != nil {
			t.Fatalf("restored copy: %v", err)
		}
		return out
	}
}

// TestAppsAllTogether: MariaDB, PostgreSQL and a custom hook in one run,
// both file systems frozen; copies of both data directories taken while
// frozen start as servers with every row committed before the run, and the
// binary log in the MariaDB copy ends exactly at the tagged position.
func TestAppsAllTogether(t *testing.T) {
	h, f := newAppHarness(t)
	ctx := context.Background()
	if _, err := f.maria.sql(ctx, "INSERT INTO shop.orders (note) VALUES ('together'), ('together'), ('together'); INSERT INTO shop.ledger (note) VALUES ('together')"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pg.sql(ctx, "INSERT INTO measurements (note) VALUES ('together')"); err != nil {
		t.Fatal(err)
	}
	wantOrders, _ := f.maria.sql(ctx, "SELECT COUNT(*) FROM shop.orders")
	wantPG, _ := f.pg.sql(ctx, "SELECT count(*) FROM measurements")
	l := newHookLog(t)
	mariaCopy, pgCopy := copyDest(t, f), copyDest(t, f)
	var copyErr error
	h.ec2.configure(ec2Succeed, 0, h.ext4.Mount, h.xfs.Mount)
	h.ec2.onRequest(func(*ec2Request) {
		if copyErr = copyTree(f.maria.DataDir, mariaCopy); copyErr == nil {
			copyErr = copyTree(f.pg.DataDir, pgCopy)
		}
	})
	defer h.ec2.onRequest(nil)
	apps := []LinuxApp{
		{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10},
		f.mariaApp(5),
		{Type: AppPostgreSQL},
	}
	o := h.run(t, runSpec{Snapshot: h.appSnapshot(30, apps, h.ext4.Mount, h.xfs.Mount), Params: curlParams(), Env: f.pgEnv()})
	requireAppSuccess(t, o)
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	req := h.onlyRequest(t, o)
	requireFrozenDuringRequest(t, req, []string{h.ext4.Mount, h.xfs.Mount}, nil)
	if got := l.names(t); got != "pre post" {
		t.Errorf("hooks ran as %q", got)
	}
	if strings.Join(o.Result.Apps, " ") != "custom mariadb postgresql" {
		t.Errorf("apps = %v", o.Result.Apps)
	}
	tags := requestTags(t, req.Form)
	t.Logf("lockMs=%d freezeMs=%d requestMs=%d (the double copied both data directories while frozen); tags %s=%s %s=%s",
		o.Result.LockMs, o.Result.FreezeMs, o.Result.RequestMs, TagBinlogFile, tags[TagBinlogFile], TagBinlogPosition, tags[TagBinlogPosition])
	requireReleased(t, f)

	maria := restoreMariaDB(t, f, mariaCopy)
	if got := maria("SELECT COUNT(*) FROM shop.orders"); got != wantOrders {
		t.Errorf("the MariaDB copy has %s orders, want %s", got, wantOrders)
	}
	if got := maria("SELECT COUNT(*) FROM shop.ledger WHERE note = 'together'"); got == "0" {
		t.Errorf("the MariaDB copy lost the Aria table's row")
	}
	fi, err := os.Stat(filepath.Join(mariaCopy, tags[TagBinlogFile]))
	if err != nil {
		t.Errorf("binary log named by the tag: %v", err)
	} else if strconv.FormatInt(fi.Size(), 10) != tags[TagBinlogPosition] {
		t.Errorf("the copy's %s is %d bytes, the tag says position %s", tags[TagBinlogFile], fi.Size(), tags[TagBinlogPosition])
	}
	pg := restorePostgres(t, pgCopy)
	if got := pg("SELECT count(*) FROM measurements"); got != wantPG {
		t.Errorf("the PostgreSQL copy has %s rows, want %s", got, wantPG)
	}
}

// TestAppsHoldWindow logs, per client, the lock and freeze windows of a run
// with MariaDB and PostgreSQL against a double that answers at once (no
// freeze probe). It asserts no duration: the numbers are for people.
func TestAppsHoldWindow(t *testing.T) {
	h, f := newAppHarness(t)
	h.ec2.configure(ec2Succeed, 0)
	for _, client := range []string{ClientCurl, ClientCLI} {
		t.Run(client, func(t *testing.T) {
			if client == ClientCLI {
				requireTools(t, "aws")
			}
			var locks, freezes, requests []string
			for i := 0; i < 3; i++ {
				s := h.appSnapshot(10, []LinuxApp{f.mariaApp(5), {Type: AppPostgreSQL}}, h.ext4.Mount, h.xfs.Mount)
				o := h.run(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: client}, Env: f.pgEnv()})
				requireAppSuccess(t, o)
				locks = append(locks, strconv.FormatInt(o.Result.LockMs, 10))
				freezes = append(freezes, strconv.FormatInt(o.Result.FreezeMs, 10))
				requests = append(requests, strconv.FormatInt(o.Result.RequestMs, 10))
			}
			t.Logf("client %s, MariaDB + PostgreSQL, 2 file systems, 3 runs: lockMs %s; freezeMs %s; requestMs %s",
				client, strings.Join(locks, ", "), strings.Join(freezes, ", "), strings.Join(requests, ", "))
		})
	}
}

// TestAppsScriptValidatesApps: run outside SSM, the script refuses a bad
// SSMB_APPS before touching anything.
func TestAppsScriptValidatesApps(t *testing.T) {
	h := newHarness(t)
	h.ec2.configure(ec2Succeed, 0)
	pwned := filepath.Join(t.TempDir(), "pwned")
	cases := map[string][]string{
		"apps without application": {"SSMB_POLICY=p", "SSMB_APPS=postgresql::"},
		"application without apps": {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application"},
		"command in a path":        {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=custom:/bin/true;touch " + pwned + "::5"},
		"substitution":             {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=custom:/bin/$(touch " + pwned + ")::5"},
		"second line":              {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=postgresql::\ncustom:/bin/sh::5"},
		"double space":             {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=postgresql::  postgresql::"},
		"lock wait 0":              {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=mysql::0:1"},
		"service file alone":       {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=postgresql::/etc/pg_service.conf"},
		"unknown type":             {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=oracle::"},
		"four mysql":               {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=mysql::5:1 mysql::5:1 mysql::5:1 mysql::5:1"},
		"nine apps":                {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application", "SSMB_APPS=" + strings.TrimSpace(strings.Repeat("postgresql:: ", 9))},
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			h.ec2.reset()
			before := len(h.imds.requestLog())
			o := h.run(t, runSpec{Raw: true, Env: cases[name]})
			if o.ExitCode != 1 || o.Result.Status != "error" || !strings.Contains(o.Result.Message, "SSMB_APPS") {
				t.Errorf("want a refusal naming SSMB_APPS\n%s", describeOutcome(o))
			}
			if n := len(h.imds.requestLog()) - before; n != 0 {
				t.Errorf("%d metadata requests before the inputs were validated", n)
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Errorf("the hostile value ran a command")
			}
		})
	}
}
