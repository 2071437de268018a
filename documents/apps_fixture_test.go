package documents

// Database servers for the application-consistency harness: one MariaDB
// server with its data directory and binary log on a loop-mounted ext4 file
// system, and one PostgreSQL 15 server with its data directory on a
// loop-mounted xfs file system. Both listen on 127.0.0.1 and on sockets in a
// temporary directory. They start once per test binary, on first use, and
// TestMain stops them and removes everything they used.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	pgBin = "/usr/lib/postgresql/15/bin"
	// dbStartLimit bounds every server start and every setup step.
	dbStartLimit = 90 * time.Second
	// sqlLimit bounds a statement the tests run, blocked ones included.
	sqlLimit = 60 * time.Second

	mysqlBackupUser     = "ssmb_backup"
	mysqlBackupPassword = "bk-Secret.42"
	pgBackupRole        = "ssmb_checkpoint"
	pgBackupPassword    = "pg-Secret.42"
	pgService           = "ssmb"
)

// dbFixture is the shared servers and what the tests need to reach them.
type dbFixture struct {
	dir   string // temporary directory on the root file system
	ext4  loopFS // MariaDB's file system
	xfs   loopFS // PostgreSQL's file system
	maria *mariaServer
	pg    *pgServer

	cleanups []func()
}

type mariaServer struct {
	DataDir      string
	Socket       string
	Port         int
	RootCnf      string // client options for the tests' own sessions (root over the socket)
	BackupCnf    string // the defaults file the script is given: the backup user and its password
	WrongCnf     string // the backup user with a wrong password
	BinlogPrefix string
	cmd          *exec.Cmd
	done         chan struct{}
	log          string
}

type pgServer struct {
	DataDir     string
	SocketDir   string
	Port        int
	Log         string
	ServiceFile string
	cmd         *exec.Cmd
	done        chan struct{}
}

var (
	dbOnce    sync.Once
	dbShared  *dbFixture
	dbErr     error
	dbMissing string
)

// TestMain stops the shared servers, if a test started them, and releases
// their file systems.
func TestMain(m *testing.M) {
	code := m.Run()
	if dbShared != nil {
		dbShared.close()
	}
	os.Exit(code)
}

// requireDB returns the shared servers, starting them on first use. A
// missing program fails the test under CI=true and skips it elsewhere; a
// server that does not start fails it.
func requireDB(tb testing.TB) *dbFixture {
	tb.Helper()
	requireRoot(tb)
	dbOnce.Do(func() {
		if missing := missingDBTools(); len(missing) > 0 {
			dbMissing = "missing " + strings.Join(missing, ", ")
			return
		}
		dbShared, dbErr = startDBFixture()
	})
	if dbMissing != "" {
		missingPrerequisite(tb, "%s", dbMissing)
	}
	if dbErr != nil {
		tb.Fatalf("database servers for the harness: %v", dbErr)
	}
	return dbShared
}

func missingDBTools() []string {
	var missing []string
	for _, n := range []string{"mariadbd", "mariadb-install-db", "mariadb", "mysql", "psql", "runuser", "losetup", "mount", "mkfs.ext4", "mkfs.xfs", "fsfreeze"} {
		if _, err := exec.LookPath(n); err != nil {
			if _, err := os.Stat("/usr/sbin/" + n); err != nil {
				missing = append(missing, n)
			}
		}
	}
	for _, n := range []string{"initdb", "postgres", "pg_ctl", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(pgBin, n)); err != nil {
			missing = append(missing, filepath.Join(pgBin, n)+" (PostgreSQL 15)")
		}
	}
	if _, err := user.Lookup("postgres"); err != nil {
		missing = append(missing, "the postgres user")
	}
	return missing
}

func (f *dbFixture) close() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// run runs a setup command, bounded, and returns its combined output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dbStartLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = neutralDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// neutralDir is the working directory of the commands run as postgres: the
// test's own directory may sit in a 0700 checkout postgres cannot enter.
const neutralDir = "/"

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// fixtureLoopFS is newLoopFS for the fixture: cleaned up by TestMain.
func (f *dbFixture) loopFS(fstype string, size int64) (loopFS, error) {
	ctx := context.Background()
	img := filepath.Join(f.dir, fstype+".img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		return loopFS{}, err
	}
	if err := os.Truncate(img, size); err != nil {
		return loopFS{}, err
	}
	mkfs := map[string][]string{"ext4": {"mkfs.ext4", "-q", "-F", img}, "xfs": {"mkfs.xfs", "-q", "-f", img}}[fstype]
	if _, err := run(ctx, mkfs[0], mkfs[1:]...); err != nil {
		return loopFS{}, err
	}
	dev, err := run(ctx, "losetup", "--find", "--show", img)
	if err != nil {
		return loopFS{}, err
	}
	f.cleanups = append(f.cleanups, func() { _ = exec.Command("losetup", "-d", dev).Run() })
	mnt := filepath.Join(f.dir, fstype+"-mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return loopFS{}, err
	}
	if _, err := run(ctx, "mount", "-t", fstype, dev, mnt); err != nil {
		return loopFS{}, err
	}
	f.cleanups = append(f.cleanups, func() {
		_ = exec.Command("fsfreeze", "-u", mnt).Run() // never leave it frozen
		for i := 0; i < 50; i++ {
			if exec.Command("umount", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = exec.Command("umount", "-l", mnt).Run()
	})
	return loopFS{Type: fstype, Device: dev, Mount: mnt}, nil
}

func startDBFixture() (*dbFixture, error) {
	dir, err := os.MkdirTemp("", "ssmb-db-")
	if err != nil {
		return nil, err
	}
	// The postgres user must reach its socket directory and data directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	f := &dbFixture{dir: dir}
	f.cleanups = append(f.cleanups, func() { _ = os.RemoveAll(dir) })
	fail := func(err error) (*dbFixture, error) {
		f.close()
		return nil, err
	}
	if f.ext4, err = f.loopFS("ext4", 512<<20); err != nil {
		return fail(err)
	}
	if f.xfs, err = f.loopFS("xfs", 320<<20); err != nil {
		return fail(err)
	}
	if f.maria, err = f.startMariaDB(); err != nil {
		return fail(fmt.Errorf("MariaDB: %w", err))
	}
	if f.pg, err = f.startPostgres(); err != nil {
		return fail(fmt.Errorf("PostgreSQL: %w", err))
	}
	return f, nil
}

// ---------------------------------------------------------------------------
// MariaDB.

func (f *dbFixture) startMariaDB() (*mariaServer, error) {
	ctx := context.Background()
	m := &mariaServer{
		DataDir: filepath.Join(f.ext4.Mount, "mysql"),
		Socket:  filepath.Join(f.dir, "mysqld.sock"),
		log:     filepath.Join(f.dir, "mysqld.err"),
		done:    make(chan struct{}),
	}
	m.BinlogPrefix = filepath.Join(m.DataDir, "binlog")
	var err error
	if m.Port, err = freePort(); err != nil {
		return nil, err
	}
	if _, err := run(ctx, "mariadb-install-db", "--no-defaults", "--datadir="+m.DataDir, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db", "--innodb-log-file-size=16M"); err != nil {
		return nil, err
	}
	m.cmd = exec.Command("mariadbd", m.serverArgs(m.DataDir, m.Socket, m.Port, filepath.Join(f.dir, "mysqld.pid"), m.log)...)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	f.cleanups = append(f.cleanups, func() { stopProcess(m.cmd, m.done) })

	m.RootCnf = filepath.Join(f.dir, "root.cnf")
	m.BackupCnf = filepath.Join(f.dir, "backup.cnf")
	m.WrongCnf = filepath.Join(f.dir, "wrong.cnf")
	for path, body := range map[string]string{
		m.RootCnf:   fmt.Sprintf("[client]\nuser=root\nsocket=%s\n", m.Socket),
		m.BackupCnf: fmt.Sprintf("[client]\nuser=%s\npassword=%s\nsocket=%s\n", mysqlBackupUser, mysqlBackupPassword, m.Socket),
		m.WrongCnf:  fmt.Sprintf("[client]\nuser=%s\npassword=not-the-password\nsocket=%s\n", mysqlBackupUser, m.Socket),
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	if err := waitReady(m.done, func() bool { _, err := m.sql(ctx, "SELECT 1"); return err == nil }); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, tail(m.log))
	}
	// The backup user may take the global read lock and read the binary-log
	// position, nothing more.
	_, err = m.sql(ctx, `CREATE USER '`+mysqlBackupUser+`'@'localhost' IDENTIFIED BY '`+mysqlBackupPassword+`';
GRANT RELOAD, BINLOG MONITOR ON *.* TO '`+mysqlBackupUser+`'@'localhost';
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64) NOT NULL) ENGINE=InnoDB;
CREATE TABLE shop.ledger (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64) NOT NULL) ENGINE=Aria;`)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *mariaServer) serverArgs(dataDir, socket string, port int, pidFile, logFile string) []string {
	return []string{"--no-defaults", "--datadir=" + dataDir, "--socket=" + socket, "--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--user=root", "--pid-file=" + pidFile, "--log-error=" + logFile,
		"--log-bin=" + filepath.Join(dataDir, "binlog"), "--server-id=1", "--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M", "--skip-name-resolve", "--max-connections=50"}
}

// sql runs statements as root and returns the output (tab-separated, no
// column names).
func (m *mariaServer) sql(ctx context.Context, statements string) (string, error) {
	return mariaSQL(ctx, m.RootCnf, statements)
}

func mariaSQL(ctx context.Context, cnf, statements string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, sqlLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mariadb", "--defaults-file="+cnf, "--batch", "--skip-column-names", "-e", statements).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("mariadb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// insertResult is when an INSERT from another session finished.
type insertResult struct {
	Started, Done time.Time
	Err           error
}

// insertAsync runs an INSERT as root in its own session, in the background.
func (m *mariaServer) insertAsync(note string) <-chan insertResult {
	ch := make(chan insertResult, 1)
	started := time.Now()
	go func() {
		_, err := m.sql(context.Background(), "INSERT INTO shop.orders (note) VALUES ('"+note+"')")
		ch <- insertResult{Started: started, Done: time.Now(), Err: err}
	}()
	return ch
}

// binlogStatus is SHOW MASTER STATUS as the server reports it now.
func (m *mariaServer) binlogStatus(tb testing.TB) (file, position string) {
	tb.Helper()
	out, err := m.sql(context.Background(), "SHOW MASTER STATUS")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		tb.Fatalf("SHOW MASTER STATUS: %q", out)
	}
	return f[0], f[1]
}

// backupSessions counts the server's sessions of the backup user.
func (m *mariaServer) backupSessions(tb testing.TB) int {
	tb.Helper()
	out, err := m.sql(context.Background(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '"+mysqlBackupUser+"'")
	if err != nil {
		tb.Fatal(err)
	}
	n, _ := strconv.Atoi(out)
	return n
}

// heldSession is a client session the test keeps open, fed statement by
// statement, as a database user would hold one.
type heldSession struct {
	cmd   *exec.Cmd
	stdin interface {
		Write([]byte) (int, error)
		Close() error
	}
	lines *bufio.Scanner
	done  chan struct{}
}

// openSession starts a client session with the given options file.
func openSession(tb testing.TB, cnf string) *heldSession {
	tb.Helper()
	cmd := exec.Command("mariadb", "--defaults-file="+cnf, "--batch", "--skip-column-names", "--unbuffered")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &heldSession{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	tb.Cleanup(func() { s.close() })
	return s
}

// do sends statements followed by a marker query and waits, bounded, for
// the marker: the statements have completed.
func (s *heldSession) do(tb testing.TB, statements string) {
	tb.Helper()
	marker := fmt.Sprintf("held-%d", time.Now().UnixNano())
	if _, err := fmt.Fprintf(s.stdin, "%s\nSELECT '%s';\n", statements, marker); err != nil {
		tb.Fatal(err)
	}
	got := make(chan bool, 1)
	go func() {
		for s.lines.Scan() {
			if s.lines.Text() == marker {
				got <- true
				return
			}
		}
		got <- false
	}()
	select {
	case ok := <-got:
		if !ok {
			tb.Fatalf("session ended before %q completed", statements)
		}
	case <-time.After(sqlLimit):
		tb.Fatalf("%q did not complete within %v", statements, sqlLimit)
	}
}

func (s *heldSession) close() {
	_ = s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// ---------------------------------------------------------------------------
// PostgreSQL.

func (f *dbFixture) startPostgres() (*pgServer, error) {
	ctx := context.Background()
	p := &pgServer{
		DataDir:     filepath.Join(f.xfs.Mount, "pgdata"),
		SocketDir:   filepath.Join(f.dir, "pgsock"),
		Log:         filepath.Join(f.dir, "postgres.log"),
		ServiceFile: filepath.Join(f.dir, "pg_service.conf"),
		done:        make(chan struct{}),
	}
	var err error
	if p.Port, err = freePort(); err != nil {
		return nil, err
	}
	for _, d := range []string{p.DataDir, p.SocketDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
		if _, err := run(ctx, "chown", "postgres:", d); err != nil {
			return nil, err
		}
	}
	if _, err := run(ctx, "runuser", "-u", "postgres", "--", filepath.Join(pgBin, "initdb"), "-D", p.DataDir, "-U", "postgres",
		"--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	p.cmd, err = startPostgresProcess(p.DataDir, p.SocketDir, p.Port, p.Log)
	if err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	f.cleanups = append(f.cleanups, func() { stopPostgres(p.DataDir, p.cmd, p.done) })
	if err := waitReady(p.done, func() bool { _, err := p.sql(ctx, "SELECT 1"); return err == nil }); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, tail(p.Log))
	}
	if _, err := p.sql(ctx, `CREATE ROLE `+pgBackupRole+` LOGIN PASSWORD '`+pgBackupPassword+`' IN ROLE pg_checkpoint;
CREATE TABLE measurements (id serial PRIMARY KEY, note text NOT NULL);`); err != nil {
		return nil, err
	}
	service := fmt.Sprintf("[%s]\nhost=127.0.0.1\nport=%d\nuser=%s\npassword=%s\ndbname=postgres\n", pgService, p.Port, pgBackupRole, pgBackupPassword)
	if err := os.WriteFile(p.ServiceFile, []byte(service), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// startPostgresProcess runs postgres as the postgres user; its log (with
// millisecond timestamps, checkpoints included) goes to logFile.
func startPostgresProcess(dataDir, socketDir string, port int, logFile string) (*exec.Cmd, error) {
	logOut, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logOut.Close()
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "postgres"), "-D", dataDir, "-k", socketDir,
		"-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1", "-c", "log_checkpoints=on",
		"-c", "log_line_prefix=%m [%p] ", "-c", "log_timezone=UTC", "-c", "shared_buffers=16MB", "-c", "max_connections=20")
	cmd.Stdout, cmd.Stderr = logOut, logOut
	cmd.Dir = neutralDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, cmd.Start()
}

// stopPostgres asks for a fast shutdown, then kills what is left.
func stopPostgres(dataDir string, cmd *exec.Cmd, done chan struct{}) {
	stop := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "stop", "-D", dataDir, "-m", "fast", "-t", "30")
	stop.Dir = neutralDir
	_ = stop.Run()
	stopProcess(cmd, done)
}

// sql runs statements as the postgres superuser over the socket.
func (p *pgServer) sql(ctx context.Context, statements string) (string, error) {
	return pgSQL(ctx, p.SocketDir, p.Port, statements)
}

func pgSQL(ctx context.Context, socketDir string, port int, statements string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, sqlLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", socketDir, "-p", strconv.Itoa(port), "-d", "postgres", "-c", statements)
	cmd.Dir = neutralDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("psql: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// checkpointsRequested is pg_stat_bgwriter.checkpoints_req.
func (p *pgServer) checkpointsRequested(tb testing.TB) int {
	tb.Helper()
	out, err := p.sql(context.Background(), "SELECT checkpoints_req FROM pg_stat_bgwriter")
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.Atoi(out)
	if err != nil {
		tb.Fatalf("checkpoints_req %q", out)
	}
	return n
}

// ---------------------------------------------------------------------------
// Processes.

// waitReady polls ready every 100 ms until it holds, the process ends, or
// dbStartLimit passes.
func waitReady(exited chan struct{}, ready func() bool) error {
	deadline := time.Now().Add(dbStartLimit)
	for time.Now().Before(deadline) {
		if ready() {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the server exited while starting")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready within %v", dbStartLimit)
}

// stopProcess sends SIGTERM to the process group, waits up to 30 s, then
// sends SIGKILL.
func stopProcess(cmd *exec.Cmd, done chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
