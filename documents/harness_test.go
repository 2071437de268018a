package documents

// Execution harness for the Linux snapshot document: the runCommand of the
// built document, with parameters substituted the way SSM does, runs as root
// against a stub instance metadata service, an EC2 Query API double and real
// loop-mounted ext4 and xfs file systems.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// harnessMarker is an environment variable set for every script run; the
// watchdog inherits it, which is how the harness finds (and always kills) it.
const harnessMarker = "SSM_BACKUP_HARNESS_RUN"

// scriptRunLimit bounds every script run; a run still going then is killed
// and the test fails.
const scriptRunLimit = 180 * time.Second

type loopFS struct{ Type, Device, Mount string }

type harness struct {
	last *scriptProc // the run started last
	imds *imdsDouble
	ec2  *ec2Double
	ext4 loopFS
	xfs  loopFS
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	requireRoot(tb)
	requireTools(tb, "bash", "sh", "curl", "losetup", "mount", "umount", "mkfs.ext4", "mkfs.xfs",
		"fsfreeze", "findmnt", "setsid", "flock", "timeout", "stat", "sort")
	h := &harness{}
	h.imds = newIMDSDouble(tb)
	h.ec2 = newEC2Double(tb)
	h.ext4 = newLoopFS(tb, "ext4", 64<<20)
	h.xfs = newLoopFS(tb, "xfs", 320<<20) // mkfs.xfs refuses less than 300 MB
	return h
}

func runTool(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newLoopFS makes a file system of the given type in a sparse image, attaches
// it to a loop device and mounts it in a fresh temporary directory. Cleanup
// thaws, unmounts and detaches, whatever the test did.
func newLoopFS(tb testing.TB, fstype string, size int64) loopFS {
	tb.Helper()
	return newLoopFSAt(tb, fstype, size, "")
}

// newLoopFSAt is newLoopFS mounted at mnt (created), "" for a fresh directory.
func newLoopFSAt(tb testing.TB, fstype string, size int64, mnt string) loopFS {
	tb.Helper()
	dir := tb.TempDir()
	img := filepath.Join(dir, fstype+".img")
	f, err := os.Create(img)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	switch fstype {
	case "ext4":
		runTool(tb, "mkfs.ext4", "-q", "-F", img)
	case "xfs":
		runTool(tb, "mkfs.xfs", "-q", "-f", img)
	}
	dev := runTool(tb, "losetup", "--find", "--show", img)
	tb.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			tb.Errorf("losetup -d %s: %v\n%s", dev, err, out)
		}
	})
	if mnt == "" {
		mnt = filepath.Join(dir, "mnt")
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		tb.Fatal(err)
	}
	runTool(tb, "mount", "-t", fstype, dev, mnt)
	tb.Cleanup(func() {
		_ = exec.Command("fsfreeze", "-u", mnt).Run() // whatever happened, never leave it frozen
		var last []byte
		for i := 0; i < 50; i++ {
			out, err := exec.Command("umount", mnt).CombinedOutput()
			if err == nil {
				return
			}
			last = out
			time.Sleep(100 * time.Millisecond)
		}
		_ = exec.Command("umount", "-l", mnt).Run()
		tb.Errorf("umount %s: %s (lazily unmounted)", mnt, last)
	})
	return loopFS{Type: fstype, Device: dev, Mount: mnt}
}

// snapshot is the document description the harness tests start from.
func (h *harness) snapshot(mounts ...string) LinuxSnapshot {
	return LinuxSnapshot{
		Description:       "harness",
		PolicyName:        "harness-policy",
		Consistency:       ConsistencyFilesystem,
		ExcludeBootVolume: true,
		Mounts:            mounts,
		MaxFreezeSeconds:  10,
		Tags:              []Tag{{"CostCenter", "db"}, {"Owner", "platform team"}, {"path", "/var/lib/mysql"}},
		TimeoutSeconds:    180,
	}
}

// ---------------------------------------------------------------------------
// Rendering the document as SSM runs it.

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// checkParameterValue is what SSM does before running a command: a value
// outside allowedValues or allowedPattern is refused.
func checkParameterValue(p Parameter, v string) error {
	if p.AllowedPattern != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(v) {
		return fmt.Errorf("%q does not match %s", v, p.AllowedPattern)
	}
	if len(p.AllowedValues) > 0 {
		for _, a := range p.AllowedValues {
			if a == v {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %v", v, p.AllowedValues)
	}
	return nil
}

// renderAsSSM returns the script SSM writes to disk for this document and
// these parameter values: defaults, overridden by params, substituted
// textually into every {{ Name }} of runCommand.
func renderAsSSM(doc CommandDocument, params map[string]string) (string, error) {
	values := map[string]string{}
	for name, p := range doc.Parameters {
		v, ok := params[name]
		if !ok {
			s, isString := p.Default.(string)
			if !isString {
				return "", fmt.Errorf("parameter %s: default %v is not a string", name, p.Default)
			}
			v = s
		}
		if err := checkParameterValue(p, v); err != nil {
			return "", fmt.Errorf("SSM would refuse parameter %s: %v", name, err)
		}
		values[name] = v
	}
	for name := range params {
		if _, ok := doc.Parameters[name]; !ok {
			return "", fmt.Errorf("no parameter %s", name)
		}
	}
	var b strings.Builder
	var missing error
	for _, line := range doc.MainSteps[0].Inputs.RunCommand {
		line = placeholderRE.ReplaceAllStringFunc(line, func(m string) string {
			name := placeholderRE.FindStringSubmatch(m)[1]
			v, ok := values[name]
			if !ok {
				missing = fmt.Errorf("runCommand refers to undeclared parameter %s", name)
			}
			return v
		})
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), missing
}

// ---------------------------------------------------------------------------
// Running the script.

type runSpec struct {
	Snapshot  LinuxSnapshot
	Params    map[string]string
	Env       []string
	ScriptDir string // where _script.sh is written; default a fresh temp dir
	// Raw runs the embedded script itself instead of the document (inputs
	// then come from Env), to test the script's own validation.
	Raw bool
}

// scriptResult is the JSON object the script prints as its last line.
type scriptResult struct {
	Status                string             `json:"status"`
	Message               string             `json:"message"`
	Policy                string             `json:"policy"`
	InstanceID            string             `json:"instanceId"`
	Region                string             `json:"region"`
	RunID                 string             `json:"runId"`
	Client                string             `json:"client"`
	RequestedConsistency  string             `json:"requestedConsistency"`
	Consistency           string             `json:"consistency"`
	SnapshotIDs           []string           `json:"snapshotIds"`
	Frozen                []string           `json:"frozen"`
	Skipped               []string           `json:"skipped"`
	Apps                  []string           `json:"apps"`
	ApplicationConsistent bool               `json:"applicationConsistent"`
	Binlog                []binlogCoordinate `json:"binlog"`
	FreezeMs              int64              `json:"freezeMs"`
	LockMs                int64              `json:"lockMs"`
	RequestMs             int64              `json:"requestMs"`
	MaxFreezeSeconds      int                `json:"maxFreezeSeconds"`
	BudgetExceeded        bool               `json:"budgetExceeded"`
	Warnings              []string           `json:"warnings"`
}

// binlogCoordinate is where a MySQL server's binary log stood under the lock.
type binlogCoordinate struct {
	File     string `json:"file"`
	Position string `json:"position"`
}

type runOutcome struct {
	ExitCode int
	Signaled bool
	Stdout   string
	Stderr   string
	Result   scriptResult
}

type scriptProc struct {
	tb      testing.TB
	cmd     *exec.Cmd
	path    string
	marker  string
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	done    chan struct{}
	outcome *runOutcome
}

func (h *harness) environment(tb testing.TB, marker string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "SSMB_") || strings.HasSuffix(strings.ToLower(name), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	awsDir := tb.TempDir()
	env = append(env,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT="+h.imds.URL,
		"AWS_ENDPOINT_URL_EC2="+h.ec2.URL,
		"AWS_CONFIG_FILE="+filepath.Join(awsDir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(awsDir, "credentials"),
		harnessMarker+"="+marker,
	)
	return append(env, extra...)
}

var runCounter int

func (h *harness) start(tb testing.TB, spec runSpec) *scriptProc {
	tb.Helper()
	var script string
	if spec.Raw {
		script = string(LinuxSnapshotScript())
	} else {
		doc, err := LinuxSnapshotCommand(spec.Snapshot)
		if err != nil {
			tb.Fatalf("LinuxSnapshotCommand: %v", err)
		}
		if script, err = renderAsSSM(doc, spec.Params); err != nil {
			tb.Fatal(err)
		}
	}
	dir := spec.ScriptDir
	if dir == "" {
		dir = tb.TempDir()
	}
	path := filepath.Join(dir, "_script.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		tb.Fatal(err)
	}
	runCounter++
	p := &scriptProc{tb: tb, path: path, marker: fmt.Sprintf("%d-%d-%d", os.Getpid(), time.Now().UnixNano(), runCounter), done: make(chan struct{})}
	// As the SSM agent does: sh -c <script path>; the #! line picks bash.
	p.cmd = exec.Command("/bin/sh", "-c", path)
	p.cmd.Dir = dir
	p.cmd.Env = h.environment(tb, p.marker, spec.Env)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	h.last = p
	tb.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		for _, w := range findWatchdogs(p.marker) {
			_ = syscall.Kill(-w.PID, syscall.SIGKILL)
			_ = syscall.Kill(w.PID, syscall.SIGKILL)
		}
	})
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// wait waits (bounded) for the script to end and parses its result line.
func (p *scriptProc) wait() runOutcome {
	p.tb.Helper()
	select {
	case <-p.done:
	case <-time.After(scriptRunLimit):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		p.tb.Fatalf("script still running after %v; killed\nstderr:\n%s", scriptRunLimit, p.stderr.String())
	}
	if p.outcome != nil {
		return *p.outcome
	}
	o := runOutcome{Stdout: p.stdout.String(), Stderr: p.stderr.String(), ExitCode: p.cmd.ProcessState.ExitCode()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.Signaled = true
	}
	p.outcome = &o
	if os.Getenv("SSM_BACKUP_HARNESS_VERBOSE") != "" { // show every run's progress, not only failures
		p.tb.Logf("stderr:\n%s", o.Stderr)
	}
	return o
}

// result is wait plus the parsed last line of stdout, which must be there.
func (p *scriptProc) result() runOutcome {
	p.tb.Helper()
	o := p.wait()
	lines := strings.Split(strings.TrimRight(o.Stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	dec := json.NewDecoder(strings.NewReader(last))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o.Result); err != nil {
		p.tb.Fatalf("last line of stdout is not the result object: %v\nstdout:\n%s\nstderr:\n%s", err, o.Stdout, o.Stderr)
	}
	p.outcome = &o
	return o
}

func (h *harness) startedLast() *scriptProc { return h.last }

func (h *harness) run(tb testing.TB, spec runSpec) runOutcome {
	tb.Helper()
	return h.start(tb, spec).result()
}

// ---------------------------------------------------------------------------
// Processes.

type procInfo struct {
	PID, PPID, PGID, SID int
	State                string
	Args                 []string
}

// processesWithMarker lists the live processes whose environment carries the
// harness marker of one run.
func processesWithMarker(marker string) []procInfo {
	entries, _ := os.ReadDir("/proc")
	want := []byte(harnessMarker + "=" + marker + "\x00")
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append(env, 0), want) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		info := procInfo{PID: pid, State: f[0]}
		info.PPID, _ = strconv.Atoi(f[1])
		info.PGID, _ = strconv.Atoi(f[2])
		info.SID, _ = strconv.Atoi(f[3])
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		info.Args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		out = append(out, info)
	}
	return out
}

func findWatchdogs(marker string) []procInfo {
	var out []procInfo
	for _, p := range processesWithMarker(marker) {
		if len(p.Args) > 3 && p.Args[3] == "ssm-backup-watchdog" {
			out = append(out, p)
		}
	}
	return out
}

// scriptShell is the bash process running the script (not a subshell of it).
func (p *scriptProc) scriptShell() (procInfo, error) {
	var cands []procInfo
	for _, q := range processesWithMarker(p.marker) {
		if len(q.Args) > 1 && q.Args[1] == p.path && strings.HasSuffix(q.Args[0], "bash") {
			cands = append(cands, q)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].PID < cands[j].PID })
	for _, c := range cands {
		if c.PID == p.cmd.Process.Pid || c.PPID == p.cmd.Process.Pid {
			return c, nil
		}
	}
	return procInfo{}, fmt.Errorf("no bash process running %s among %v", p.path, cands)
}

// waitUntil polls cond every 50 ms until it holds or the timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Checks shared by the tests.

// awaitRequest waits (bounded) until the EC2 double is serving a request.
func (h *harness) awaitRequest(tb testing.TB, p *scriptProc) *ec2Request {
	tb.Helper()
	select {
	case r := <-h.ec2.received:
		return r
	case <-p.done:
		o := p.wait()
		tb.Fatalf("script ended before any CreateSnapshots request (exit %d)\nstdout:\n%s\nstderr:\n%s", o.ExitCode, o.Stdout, o.Stderr)
	case <-time.After(60 * time.Second):
		tb.Fatalf("no CreateSnapshots request within 60s\nstderr so far:\n%s", p.stderr.String())
	}
	return nil
}

// requireWritable proves a file system is not frozen: a write completes.
func requireWritable(tb testing.TB, mount string, within time.Duration) {
	tb.Helper()
	select {
	case err := <-probeWrite(mount):
		if err != nil {
			tb.Fatalf("write to %s: %v", mount, err)
		}
	case <-time.After(within):
		tb.Fatalf("%s is still frozen: a write did not complete within %v", mount, within)
	}
}

// requireFrozenDuringRequest checks the double's probes: each mount in
// frozen blocked writes while CreateSnapshots was served, each in thawed did
// not; and every blocked write completed afterwards.
func requireFrozenDuringRequest(tb testing.TB, r *ec2Request, frozen, thawed []string) {
	tb.Helper()
	for _, m := range frozen {
		if !r.Blocked[m] {
			tb.Errorf("%s was not frozen while CreateSnapshots was served", m)
		}
	}
	for _, m := range thawed {
		if r.Blocked[m] {
			tb.Errorf("%s was frozen while CreateSnapshots was served; it must not be", m)
		}
	}
	if err := r.waitProbes(15 * time.Second); err != nil {
		tb.Error(err)
	}
}

// requireNoWatchdog checks that no watchdog of the run is left.
func requireNoWatchdog(tb testing.TB, p *scriptProc, within time.Duration) {
	tb.Helper()
	if !waitUntil(within, func() bool { return len(findWatchdogs(p.marker)) == 0 }) {
		tb.Errorf("watchdog still running %v after the script: %+v", within, findWatchdogs(p.marker))
	}
}

// requestTags reads the snapshot tags of a CreateSnapshots form.
func requestTags(tb testing.TB, form url.Values) map[string]string {
	tb.Helper()
	if got := form.Get("TagSpecification.1.ResourceType"); got != "snapshot" {
		tb.Errorf("TagSpecification.1.ResourceType = %q, want snapshot", got)
	}
	tags := map[string]string{}
	for n := 1; ; n++ {
		k := fmt.Sprintf("TagSpecification.1.Tag.%d.Key", n)
		if _, ok := form[k]; !ok {
			break
		}
		tags[form.Get(k)] = form.Get(fmt.Sprintf("TagSpecification.1.Tag.%d.Value", n))
	}
	if _, ok := form["TagSpecification.2.ResourceType"]; ok {
		tb.Errorf("more than one TagSpecification: %v", form)
	}
	return tags
}

func describeOutcome(o runOutcome) string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", o.ExitCode, o.Stdout, o.Stderr)
}

// onlyRequest returns the one request the double received.
func (h *harness) onlyRequest(tb testing.TB, o runOutcome) *ec2Request {
	tb.Helper()
	reqs := h.ec2.requestLog()
	if len(reqs) != 1 {
		tb.Fatalf("%d CreateSnapshots requests, want exactly 1\n%s", len(reqs), describeOutcome(o))
	}
	return reqs[0]
}

// ---------------------------------------------------------------------------
// The tests.

const harnessRunID = "0f0e0d0c-0b0a-4909-8807-060504030201"

// TestHarnessClients proves, for curl and for the real AWS CLI: both file
// systems are frozen while CreateSnapshots is served and writable after;
// exactly one request is made, signed with the role's credentials and
// session token, carrying ExcludeBootVolume and every tag; both clients send
// the same request content; the freeze window is reported.
func TestHarnessClients(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	sort.Strings(mounts)
	forms := map[string]url.Values{}
	for _, client := range []string{ClientCurl, ClientCLI} {
		t.Run(client, func(t *testing.T) {
			if client == ClientCLI {
				requireTools(t, "aws")
			}
			h.ec2.reset()
			h.ec2.configure(ec2Succeed, 0, mounts...)
			o := h.run(t, runSpec{
				Snapshot: h.snapshot(mounts...),
				Params:   map[string]string{ParamClient: client, ParamRunID: harnessRunID},
			})
			if o.ExitCode != 0 || o.Result.Status != "ok" {
				t.Fatalf("want success\n%s", describeOutcome(o))
			}
			req := h.onlyRequest(t, o)
			requireFrozenDuringRequest(t, req, mounts, nil)
			for _, m := range mounts {
				requireWritable(t, m, 5*time.Second)
			}

			r := o.Result
			if r.Client != client || r.Consistency != ConsistencyFilesystem || r.InstanceID != testInstanceID || r.Region != testRegion || r.RunID != harnessRunID {
				t.Errorf("result = %+v", r)
			}
			if strings.Join(r.Frozen, " ") != strings.Join(mounts, " ") {
				t.Errorf("frozen = %v, want %v", r.Frozen, mounts)
			}
			if len(r.SnapshotIDs) != 2 || !strings.HasPrefix(r.SnapshotIDs[0], "snap-") {
				t.Errorf("snapshotIds = %v, want the two the double returned", r.SnapshotIDs)
			}
			if r.FreezeMs <= 0 {
				t.Errorf("freezeMs = %d, want the measured window", r.FreezeMs)
			}
			t.Logf("client %s: freezeMs=%d (includes the double's %v freeze probe)", client, r.FreezeMs, probeWait)

			if req.SignatureErr != nil {
				t.Errorf("SigV4: %v", req.SignatureErr)
			}
			if req.AccessKeyID != roleCredentials.AccessKeyID || req.SessionToken != roleCredentials.SessionToken {
				t.Errorf("signed by %q with token %q, want the role's credentials from IMDS", req.AccessKeyID, req.SessionToken)
			}
			if req.Region != testRegion || req.Service != "ec2" {
				t.Errorf("scope %s/%s, want %s/ec2", req.Region, req.Service, testRegion)
			}
			t.Logf("client %s: signed headers %s, user agent %q", client, req.SignedHeaders, req.UserAgent)

			f := req.Form
			for k, want := range map[string]string{
				"Action":                           "CreateSnapshots",
				"Version":                          "2016-11-15",
				"InstanceSpecification.InstanceId": testInstanceID,
				"InstanceSpecification.ExcludeBootVolume": "true",
				"Description": "ssm-backup harness-policy: filesystem-consistent snapshot of " + testInstanceID + " (run " + harnessRunID + ")",
			} {
				if got := f.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			wantTags := map[string]string{
				"ssm-backup:policy":      "harness-policy",
				"ssm-backup:instance-id": testInstanceID,
				"ssm-backup:run-id":      harnessRunID,
				"ssm-backup:consistency": ConsistencyFilesystem,
				"CostCenter":             "db",
				"Owner":                  "platform team",
				"path":                   "/var/lib/mysql",
			}
			if diff := cmp.Diff(wantTags, requestTags(t, f)); diff != "" {
				t.Errorf("tags differ (-want +got):\n%s", diff)
			}

			for _, q := range h.imds.requestLog() {
				if !q.At.Before(req.At) {
					t.Errorf("instance metadata %s %s requested after the freeze began", q.Method, q.Path)
				}
				if q.Path != "/latest/api/token" && !q.HadToken {
					t.Errorf("instance metadata %s requested without the IMDSv2 token", q.Path)
				}
			}
			forms[client] = f
			requireNoWatchdog(t, h.startedLast(), 5*time.Second)
		})
	}
	if forms[ClientCurl] != nil && forms[ClientCLI] != nil {
		if diff := cmp.Diff(flatten(forms[ClientCurl]), flatten(forms[ClientCLI])); diff != "" {
			t.Errorf("curl and the CLI sent different requests (-curl +cli):\n%s", diff)
		}
	}
}

// TestHarnessAutoClientFallsBackToCLI: without role credentials in instance
// metadata, auto picks the CLI, which signs with its own credential chain.
func TestHarnessAutoClientFallsBackToCLI(t *testing.T) {
	h := newHarness(t)
	requireTools(t, "aws")
	h.imds.setCredentials(nil)
	h.ec2.configure(ec2Succeed, 0)
	o := h.run(t, runSpec{
		Snapshot: h.snapshot(h.ext4.Mount),
		Env: []string{
			"AWS_ACCESS_KEY_ID=" + envCredentials.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + envCredentials.SecretAccessKey,
			"AWS_SESSION_TOKEN=" + envCredentials.SessionToken,
		},
	})
	if o.ExitCode != 0 || o.Result.Client != ClientCLI {
		t.Fatalf("want success with the CLI\n%s", describeOutcome(o))
	}
	req := h.onlyRequest(t, o)
	if req.SignatureErr != nil || req.AccessKeyID != envCredentials.AccessKeyID || req.SessionToken != envCredentials.SessionToken {
		t.Errorf("signed by %q (token %q, err %v), want the environment's credentials", req.AccessKeyID, req.SessionToken, req.SignatureErr)
	}
}

// TestHarnessAPIFailure: a refused request thaws at once, exits non-zero,
// reports status error, and is not retried.
func TestHarnessAPIFailure(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	for _, tc := range []struct {
		client string
		mode   ec2Mode
		want   string
	}{
		{ClientCurl, ec2Fail400, "UnauthorizedOperation"},
		{ClientCurl, ec2Fail500, "InternalError"},
		{ClientCLI, ec2Fail400, "UnauthorizedOperation"},
		{ClientCLI, ec2Fail500, "InternalError"},
	} {
		t.Run(tc.client+"/"+tc.want, func(t *testing.T) {
			if tc.client == ClientCLI {
				requireTools(t, "aws")
			}
			h.ec2.reset()
			h.ec2.configure(tc.mode, 0, mounts...)
			o := h.run(t, runSpec{Snapshot: h.snapshot(mounts...), Params: map[string]string{ParamClient: tc.client}})
			if o.ExitCode == 0 || o.Result.Status != "error" || !strings.Contains(o.Result.Message, tc.want) {
				t.Errorf("want a failure naming %s\n%s", tc.want, describeOutcome(o))
			}
			if len(o.Result.SnapshotIDs) != 0 {
				t.Errorf("snapshotIds = %v after a failed request", o.Result.SnapshotIDs)
			}
			req := h.onlyRequest(t, o) // no retry: one request, inside one freeze
			requireFrozenDuringRequest(t, req, mounts, nil)
			for _, m := range mounts {
				requireWritable(t, m, 5*time.Second)
			}
			requireNoWatchdog(t, h.startedLast(), 5*time.Second)
		})
	}
}

// TestHarnessAPIHangs: a request that never returns is abandoned with time
// left in the budget, and the file systems are thawed by the script within
// the budget, before the watchdog would act.
func TestHarnessAPIHangs(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	for _, client := range []string{ClientCurl, ClientCLI} {
		t.Run(client, func(t *testing.T) {
			if client == ClientCLI {
				requireTools(t, "aws")
			}
			h.ec2.reset()
			h.ec2.configure(ec2Hang, 0, mounts...)
			s := h.snapshot(mounts...)
			s.MaxFreezeSeconds = 6
			o := h.run(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: client}})
			if o.ExitCode == 0 || o.Result.Status != "error" || !strings.Contains(o.Result.Message, "timed out") {
				t.Errorf("want a timeout failure\n%s", describeOutcome(o))
			}
			req := h.onlyRequest(t, o)
			requireFrozenDuringRequest(t, req, mounts, nil)
			if o.Result.BudgetExceeded || o.Result.FreezeMs > int64(s.MaxFreezeSeconds)*1000 {
				t.Errorf("freeze of %d ms (budget exceeded: %v), want the script to thaw within the %d s budget", o.Result.FreezeMs, o.Result.BudgetExceeded, s.MaxFreezeSeconds)
			}
			for _, w := range o.Result.Warnings {
				if strings.Contains(w, "watchdog") {
					t.Errorf("the watchdog thawed, not the script: %s", w)
				}
			}
			t.Logf("client %s: thawed after %d ms of a %d s budget", client, o.Result.FreezeMs, s.MaxFreezeSeconds)
			requireNoWatchdog(t, h.startedLast(), 5*time.Second)
		})
	}
}

// TestHarnessWatchdogThawsAfterSIGKILL: the script (its whole process group)
// is killed while frozen; the watchdog, in its own session, thaws within the
// budget and then ends.
func TestHarnessWatchdogThawsAfterSIGKILL(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	h.ec2.configure(ec2Hang, 0, mounts...)
	s := h.snapshot(mounts...)
	s.MaxFreezeSeconds = 5
	p := h.start(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: ClientCurl}})
	req := h.awaitRequest(t, p)
	for _, m := range mounts {
		if !req.Blocked[m] {
			t.Fatalf("%s not frozen while CreateSnapshots was served", m)
		}
	}
	dogs := findWatchdogs(p.marker)
	if len(dogs) != 1 {
		t.Fatalf("%d watchdogs while frozen, want 1: %+v", len(dogs), dogs)
	}
	if dogs[0].SID != dogs[0].PID || dogs[0].PGID == p.cmd.Process.Pid {
		t.Errorf("watchdog %+v does not lead its own session, apart from the script's group %d", dogs[0], p.cmd.Process.Pid)
	}
	killedAt := time.Now()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	o := p.wait()
	if !o.Signaled {
		t.Errorf("script was not killed: %s", describeOutcome(o))
	}
	// Bounded poll: the probes written during the request complete once the
	// watchdog has thawed; it fires at most the budget after the first freeze.
	if err := req.waitProbes(time.Duration(s.MaxFreezeSeconds)*time.Second + 5*time.Second); err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	t.Logf("thawed by the watchdog %v after the SIGKILL (budget %d s)", time.Since(killedAt).Round(time.Millisecond), s.MaxFreezeSeconds)
	for _, m := range mounts {
		requireWritable(t, m, 5*time.Second)
	}
	if !waitUntil(5*time.Second, func() bool { return len(findWatchdogs(p.marker)) == 0 }) {
		t.Errorf("watchdog still running after it thawed: %+v", findWatchdogs(p.marker))
	}
}

// TestHarnessTrapThawsOnSIGTERM: SIGTERM to the script while the request
// hangs; the trap thaws at once (the budget is 30 s, so the watchdog cannot
// be what thawed), stops the watchdog, reports and exits 143.
func TestHarnessTrapThawsOnSIGTERM(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	h.ec2.configure(ec2Hang, 0, mounts...)
	s := h.snapshot(mounts...)
	s.MaxFreezeSeconds = 30
	p := h.start(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: ClientCurl}})
	req := h.awaitRequest(t, p)
	shell, err := p.scriptShell()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(shell.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	o := p.result()
	if o.ExitCode != 143 || o.Result.Status != "error" || !strings.Contains(o.Result.Message, "SIGTERM") {
		t.Errorf("want exit 143 and a result naming SIGTERM\n%s", describeOutcome(o))
	}
	requireFrozenDuringRequest(t, req, mounts, nil)
	for _, m := range mounts {
		requireWritable(t, m, 5*time.Second)
	}
	if o.Result.FreezeMs >= int64(s.MaxFreezeSeconds)*1000 {
		t.Errorf("freezeMs = %d: the watchdog, not the trap, thawed", o.Result.FreezeMs)
	}
	requireNoWatchdog(t, p, 5*time.Second)
}

// TestHarnessProtectedMountsAreNotFrozen: listed mounts that hold the script
// or /, or are not mount points or do not exist, are skipped with a reason;
// the rest is frozen and the consistency reached is crash, in the tag too.
func TestHarnessProtectedMountsAreNotFrozen(t *testing.T) {
	h := newHarness(t)
	scriptDir := filepath.Join(h.ext4.Mount, "orchestration")
	if err := os.Mkdir(scriptDir, 0o700); err != nil {
		t.Fatal(err)
	}
	h.ec2.configure(ec2Succeed, 0, h.ext4.Mount, h.xfs.Mount)
	listed := []string{"/", "/tmp", h.ext4.Mount, h.xfs.Mount, "/nonexistent/ssmb"}
	o := h.run(t, runSpec{Snapshot: h.snapshot(listed...), ScriptDir: scriptDir, Params: map[string]string{ParamClient: ClientCurl}})
	if o.ExitCode != 0 || o.Result.Status != "ok" {
		t.Fatalf("want success at a lower consistency\n%s", describeOutcome(o))
	}
	req := h.onlyRequest(t, o)
	requireFrozenDuringRequest(t, req, []string{h.xfs.Mount}, []string{h.ext4.Mount})
	if o.Result.Consistency != ConsistencyCrash || o.Result.RequestedConsistency != ConsistencyFilesystem {
		t.Errorf("consistency %q (asked %q), want crash", o.Result.Consistency, o.Result.RequestedConsistency)
	}
	if got := requestTags(t, req.Form)["ssm-backup:consistency"]; got != ConsistencyCrash {
		t.Errorf("ssm-backup:consistency tag = %q, want crash", got)
	}
	if strings.Join(o.Result.Frozen, " ") != h.xfs.Mount {
		t.Errorf("frozen = %v, want only %s", o.Result.Frozen, h.xfs.Mount)
	}
	skipped := strings.Join(o.Result.Skipped, "\n")
	for _, want := range []struct{ path, reason string }{
		{"/", "holds the root file system"},
		{"/tmp", ""}, // a directory of / here, a tmpfs elsewhere: skipped either way
		{h.ext4.Mount, "holds this script"},
		{"/nonexistent/ssmb", "does not exist"},
	} {
		line := want.path + ": " + want.reason
		if !strings.Contains(skipped, line) {
			t.Errorf("skipped does not contain %q:\n%s", line, skipped)
		}
		if !strings.Contains(o.Stderr, "not freezing "+line) {
			t.Errorf("stderr does not say why %s is skipped:\n%s", want.path, o.Stderr)
		}
	}
}

// TestHarnessNestedMounts: a file system mounted inside another is frozen
// before its parent and thawed after it, and both are frozen during the
// request.
func TestHarnessNestedMounts(t *testing.T) {
	h := newHarness(t)
	child := newLoopFSAt(t, "ext4", 64<<20, filepath.Join(h.xfs.Mount, "nested"))
	h.ec2.configure(ec2Succeed, 0, h.xfs.Mount, child.Mount)
	o := h.run(t, runSpec{Snapshot: h.snapshot(h.xfs.Mount, child.Mount), Params: map[string]string{ParamClient: ClientCurl}})
	if o.ExitCode != 0 || o.Result.Consistency != ConsistencyFilesystem {
		t.Fatalf("want a filesystem-consistent success\n%s", describeOutcome(o))
	}
	if diff := cmp.Diff([]string{child.Mount, h.xfs.Mount}, o.Result.Frozen); diff != "" {
		t.Errorf("freeze order, child first (-want +got):\n%s", diff)
	}
	requireFrozenDuringRequest(t, h.onlyRequest(t, o), []string{h.xfs.Mount, child.Mount}, nil)
}

// TestHarnessFreezeFailureLowersConsistency: a file system someone else has
// frozen already cannot be frozen (EBUSY); the script says so, reports
// crash consistency, and leaves that freeze alone, neither thawing it itself
// nor through the watchdog.
func TestHarnessFreezeFailureLowersConsistency(t *testing.T) {
	h := newHarness(t)
	runTool(t, "fsfreeze", "-f", h.ext4.Mount)
	t.Cleanup(func() { _ = exec.Command("fsfreeze", "-u", h.ext4.Mount).Run() })
	h.ec2.configure(ec2Succeed, 0, h.xfs.Mount)
	s := h.snapshot(h.ext4.Mount, h.xfs.Mount)
	s.MaxFreezeSeconds = 4
	o := h.run(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: ClientCurl}})
	if o.ExitCode != 0 || o.Result.Consistency != ConsistencyCrash {
		t.Fatalf("want success at crash consistency\n%s", describeOutcome(o))
	}
	if strings.Join(o.Result.Frozen, " ") != h.xfs.Mount {
		t.Errorf("frozen = %v, want only %s", o.Result.Frozen, h.xfs.Mount)
	}
	if !strings.Contains(strings.Join(o.Result.Skipped, "\n"), h.ext4.Mount+": fsfreeze -f failed") {
		t.Errorf("skipped = %v, want the failed freeze of %s", o.Result.Skipped, h.ext4.Mount)
	}
	req := h.onlyRequest(t, o)
	requireFrozenDuringRequest(t, req, []string{h.xfs.Mount}, nil)
	if got := requestTags(t, req.Form)["ssm-backup:consistency"]; got != ConsistencyCrash {
		t.Errorf("ssm-backup:consistency tag = %q, want crash", got)
	}
	// Past the budget, when a watchdog would have acted, the other freeze holds.
	time.Sleep(time.Duration(s.MaxFreezeSeconds)*time.Second + time.Second)
	select {
	case err := <-probeWrite(h.ext4.Mount):
		t.Errorf("%s was thawed by the run (write returned %v); the freeze was not its own", h.ext4.Mount, err)
	case <-time.After(probeWait):
	}
}

// TestHarnessDiscoversDataVolumes: without Mounts, the script freezes the
// ext4 and xfs file systems on the instance's data EBS volumes, found
// through the instance metadata block-device mapping (the Xen path; the
// harness's loop devices stand in for the volumes), and nothing on the boot
// disk.
func TestHarnessDiscoversDataVolumes(t *testing.T) {
	h := newHarness(t)
	rootDev := runTool(t, "findmnt", "-rn", "-o", "SOURCE", "--mountpoint", "/")
	h.imds.setBlockDevices(map[string]string{
		"ami":        rootDev,
		"root":       rootDev,
		"ebs1":       strings.TrimPrefix(h.ext4.Device, "/dev/"),
		"ebs2":       strings.TrimPrefix(h.xfs.Device, "/dev/"),
		"ephemeral0": "sdb",
	})
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	sort.Strings(mounts)
	h.ec2.configure(ec2Succeed, 0, mounts...)
	o := h.run(t, runSpec{Snapshot: h.snapshot(), Params: map[string]string{ParamClient: ClientCurl}})
	if o.ExitCode != 0 || o.Result.Consistency != ConsistencyFilesystem {
		t.Fatalf("want a filesystem-consistent success\n%s", describeOutcome(o))
	}
	if strings.Join(o.Result.Frozen, " ") != strings.Join(mounts, " ") {
		t.Errorf("frozen = %v, want %v", o.Result.Frozen, mounts)
	}
	requireFrozenDuringRequest(t, h.onlyRequest(t, o), mounts, nil)
}

// TestHarnessCrashConsistencyFreezesNothing: consistency crash sends the
// request without any freeze or watchdog.
func TestHarnessCrashConsistencyFreezesNothing(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	h.ec2.configure(ec2Succeed, 0, mounts...)
	s := h.snapshot(mounts...)
	s.Consistency = ConsistencyCrash
	o := h.run(t, runSpec{Snapshot: s, Params: map[string]string{ParamClient: ClientCurl}})
	if o.ExitCode != 0 || o.Result.Consistency != ConsistencyCrash || len(o.Result.Frozen) != 0 || o.Result.FreezeMs != 0 {
		t.Fatalf("want an unfrozen crash-consistent success\n%s", describeOutcome(o))
	}
	req := h.onlyRequest(t, o)
	requireFrozenDuringRequest(t, req, nil, mounts)
	if got := requestTags(t, req.Form)["ssm-backup:consistency"]; got != ConsistencyCrash {
		t.Errorf("ssm-backup:consistency tag = %q, want crash", got)
	}
	if _, ok := req.Form["TagSpecification.1.Tag.7.Key"]; ok {
		t.Errorf("run-id tag sent without a run id: %v", req.Form)
	}
}

// TestHarnessScriptValidatesItsInputs: run outside SSM (no allowedPattern in
// front of it), the script refuses hostile values before touching anything.
func TestHarnessScriptValidatesItsInputs(t *testing.T) {
	h := newHarness(t)
	h.ec2.configure(ec2Succeed, 0)
	pwned := filepath.Join(t.TempDir(), "pwned")
	for name, env := range map[string][]string{
		"mount with command":    {"SSMB_POLICY=p", "SSMB_MOUNTS=/data;touch " + pwned},
		"mount substitution":    {"SSMB_POLICY=p", "SSMB_MOUNTS=/$(touch " + pwned + ")"},
		"mount second line":     {"SSMB_POLICY=p", "SSMB_MOUNTS=/data\n/x;touch " + pwned},
		"tag with quote":        {"SSMB_POLICY=p", `SSMB_TAGS=[{"Key":"a'b","Value":"v"}]`},
		"tag with backtick":     {"SSMB_POLICY=p", "SSMB_TAGS=[{\"Key\":\"a\",\"Value\":\"`touch " + pwned + "`\"}]"},
		"reserved tag":          {"SSMB_POLICY=p", `SSMB_TAGS=[{"Key":"ssm-backup:policy","Value":"other"}]`},
		"duplicate tag":         {"SSMB_POLICY=p", `SSMB_TAGS=[{"Key":"a","Value":"1"},{"Key":"a","Value":"2"}]`},
		"trailing comma":        {"SSMB_POLICY=p", `SSMB_TAGS=[{"Key":"a","Value":"1"},]`},
		"budget too long":       {"SSMB_POLICY=p", "SSMB_MAX_FREEZE_SECONDS=61"},
		"policy missing":        {},
		"policy with newline":   {"SSMB_POLICY=p\nq"},
		"unknown client":        {"SSMB_POLICY=p", "SSMB_CLIENT=wget"},
		"unknown consistency":   {"SSMB_POLICY=p", "SSMB_CONSISTENCY=application"},
		"run id with dollar":    {"SSMB_POLICY=p", "SSMB_RUN_ID=$HOME"},
		"exclude boot not bool": {"SSMB_POLICY=p", "SSMB_EXCLUDE_BOOT_VOLUME=yes"},
	} {
		t.Run(name, func(t *testing.T) {
			h.ec2.reset()
			before := len(h.imds.requestLog())
			o := h.run(t, runSpec{Raw: true, Env: env})
			if o.ExitCode != 1 || o.Result.Status != "error" || o.Result.Message == "" {
				t.Errorf("want a refusal\n%s", describeOutcome(o))
			}
			if n := len(h.imds.requestLog()) - before; n != 0 {
				t.Errorf("%d metadata requests before the inputs were validated", n)
			}
			if n := len(h.ec2.requestLog()); n != 0 {
				t.Errorf("%d CreateSnapshots requests", n)
			}
			if _, err := os.Stat(pwned); err == nil {
				t.Errorf("the hostile value ran a command")
			}
		})
	}
}

// TestHarnessFreezeWindow logs the freeze window (first freeze to last thaw)
// for each client against a double that answers at once. It asserts no
// duration: the numbers are for people.
func TestHarnessFreezeWindow(t *testing.T) {
	h := newHarness(t)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	h.ec2.configure(ec2Succeed, 0)
	for _, client := range []string{ClientCurl, ClientCLI} {
		t.Run(client, func(t *testing.T) {
			if client == ClientCLI {
				requireTools(t, "aws")
			}
			var windows, requests []string
			for i := 0; i < 3; i++ {
				o := h.run(t, runSpec{Snapshot: h.snapshot(mounts...), Params: map[string]string{ParamClient: client}})
				if o.ExitCode != 0 || len(o.Result.Frozen) != 2 {
					t.Fatalf("want success with both file systems frozen\n%s", describeOutcome(o))
				}
				windows = append(windows, strconv.FormatInt(o.Result.FreezeMs, 10))
				requests = append(requests, strconv.FormatInt(o.Result.RequestMs, 10))
			}
			t.Logf("client %s, 2 file systems, 3 runs: freeze window %s ms; of which request and thaw %s ms", client, strings.Join(windows, ", "), strings.Join(requests, ", "))
		})
	}
}

// BenchmarkFreezeWindow reports the freeze window per client (freeze-ms/op),
// the part of it spent on the request and the thaw (request-ms/op), and
// what the window costs beyond the API's own latency L (overhead-ms/op,
// freeze window − L), for an API answering at once and after L = 200 ms.
func BenchmarkFreezeWindow(b *testing.B) {
	h := newHarness(b)
	mounts := []string{h.ext4.Mount, h.xfs.Mount}
	for _, latency := range []time.Duration{0, 200 * time.Millisecond} {
		for _, client := range []string{ClientCurl, ClientCLI} {
			b.Run(fmt.Sprintf("L=%dms/%s", latency.Milliseconds(), client), func(b *testing.B) {
				if client == ClientCLI {
					requireTools(b, "aws")
				}
				h.ec2.configure(ec2Succeed, latency)
				var freeze, request int64
				for i := 0; i < b.N; i++ {
					o := h.run(b, runSpec{Snapshot: h.snapshot(mounts...), Params: map[string]string{ParamClient: client}})
					if o.ExitCode != 0 {
						b.Fatalf("run failed\n%s", describeOutcome(o))
					}
					freeze += o.Result.FreezeMs
					request += o.Result.RequestMs
				}
				b.ReportMetric(float64(freeze)/float64(b.N), "freeze-ms/op")
				b.ReportMetric(float64(request)/float64(b.N), "request-ms/op")
				b.ReportMetric(float64(freeze)/float64(b.N)-float64(latency.Milliseconds()), "overhead-ms/op")
			})
		}
	}
}

func flatten(v url.Values) map[string]string {
	out := map[string]string{}
	for k, vs := range v {
		out[k] = strings.Join(vs, "\x00")
	}
	return out
}
