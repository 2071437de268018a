package documents

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// ---------------------------------------------------------------------------
// The document.

func exampleDLMHooks() LinuxSnapshot {
	s := exampleLinuxSnapshot()
	s.Consistency = ConsistencyApplication
	s.Apps = []LinuxApp{
		{Type: AppMySQL, DefaultsFile: "/etc/ssm-backup/mysql.cnf", LockWaitSeconds: 5, PreFlush: true},
		{Type: AppPostgreSQL},
	}
	return s
}

func mustLinuxDLMHooksCommand(t *testing.T, s LinuxSnapshot) CommandDocument {
	t.Helper()
	doc, err := LinuxDLMHooksCommand(s)
	if err != nil {
		t.Fatalf("LinuxDLMHooksCommand: %v", err)
	}
	return doc
}

// The parameters DLM passes are exactly those of AWS's template for DLM
// hooks; the policy's values are the defaults of the others.
func TestLinuxDLMHooksDocumentShape(t *testing.T) {
	doc := mustLinuxDLMHooksCommand(t, exampleDLMHooks())
	b, err := MarshalIndent(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got CommandDocument
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("document JSON: %v\n%s", err, b)
	}
	if got.SchemaVersion != "2.2" || got.Description != exampleDLMHooks().Description {
		t.Errorf("schemaVersion %q, description %q", got.SchemaVersion, got.Description)
	}
	var names []string
	for n := range got.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"Apps", "Consistency", "MaxFreezeSeconds", "Mounts", "PolicyName", "command", "executionId"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	command := got.Parameters[ParamDLMCommand]
	if diff := cmp.Diff([]string{"pre-script", "post-script", "dry-run"}, command.AllowedValues); diff != "" {
		t.Errorf("command allowedValues (-want +got):\n%s", diff)
	}
	if command.Type != "String" || command.Default != "dry-run" || command.AllowedPattern != "" {
		t.Errorf("command = %+v", command)
	}
	id := got.Parameters[ParamDLMExecutionID]
	if id.Type != "String" || id.Default != "None" ||
		id.AllowedPattern != `^(None|[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})$` {
		t.Errorf("executionId = %+v", id)
	}
	for name, w := range map[string]string{
		ParamPolicyName:       "mysql-fleet",
		ParamConsistency:      "application",
		ParamApps:             "mysql:/etc/ssm-backup/mysql.cnf:5:1 postgresql::",
		ParamMounts:           "/srv/db-data /srv/db-logs",
		ParamMaxFreezeSeconds: "10",
		ParamDLMCommand:       "dry-run",
		ParamDLMExecutionID:   "None",
	} {
		p := got.Parameters[name]
		if p.Default != w {
			t.Errorf("%s: default %#v, want %q", name, p.Default, w)
		}
		if p.AllowedPattern == "" && len(p.AllowedValues) == 0 {
			t.Errorf("%s has neither allowedPattern nor allowedValues", name)
		}
		if err := checkParameterValue(p, w); err != nil {
			t.Errorf("%s: its own default is refused: %v", name, err)
		}
	}
	if diff := cmp.Diff([]string{"filesystem", "application"}, got.Parameters[ParamConsistency].AllowedValues); diff != "" {
		t.Errorf("Consistency allowedValues (-want +got):\n%s", diff)
	}
	if len(got.MainSteps) != 1 {
		t.Fatalf("%d steps, want 1", len(got.MainSteps))
	}
	step := got.MainSteps[0]
	if step.Action != "aws:runShellScript" || step.Name != "runPrePostScript" || step.Inputs.TimeoutSeconds != "120" {
		t.Errorf("step = %+v", step)
	}
	if step.Precondition == nil || !cmp.Equal(step.Precondition.StringEquals, []string{"platformType", "Linux"}) {
		t.Errorf("precondition = %+v", step.Precondition)
	}
	if LinuxDLMHooksExecutionTimeoutSeconds != 120 {
		t.Errorf("LinuxDLMHooksExecutionTimeoutSeconds = %d; DLM allows at most 120", LinuxDLMHooksExecutionTimeoutSeconds)
	}
	// DLM tags the snapshots itself: the policy's tags are not in the document.
	for _, v := range []string{`"CostCenter"`, `"platform"`} {
		if bytes.Contains(b, []byte(v)) {
			t.Errorf("the document holds the tag value %s", v)
		}
	}
}

func TestLinuxDLMHooksExecutionIDPattern(t *testing.T) {
	re := regexp.MustCompile(PatternDLMExecutionID)
	for _, ok := range []string{"None", "0f0e0d0c-0b0a-4909-8807-060504030201", "ABCDEF01-abcd-EF01-2345-6789abcdef01"} {
		if !re.MatchString(ok) {
			t.Errorf("refuses %q", ok)
		}
	}
	base := "0f0e0d0c-0b0a-4909-8807-060504030201"
	if re.MatchString("") {
		t.Errorf("admits an empty id")
	}
	for _, h := range []string{"'", "\n", "$(", "`", `\`, ";", " ", "none"} {
		for _, c := range []string{h, base + h, h + base, base[:8] + h + base[8:]} {
			if re.MatchString(c) {
				t.Errorf("admits %q", c)
			}
		}
	}
}

// The runCommand is the snapshot script's shared part, exactly as the shared
// document carries it, then the hooks script: the quiesce, freeze, release
// and watchdog code is one code.
func TestLinuxDLMHooksRunCommand(t *testing.T) {
	doc := mustLinuxDLMHooksCommand(t, exampleDLMHooks())
	rc := doc.MainSteps[0].Inputs.RunCommand
	shared, err := SharedLinuxSnapshotCommand("shared")
	if err != nil {
		t.Fatal(err)
	}
	src := shared.MainSteps[0].Inputs.RunCommand
	header := 2 + len(linuxDLMHooksInputs)
	if rc[0] != "#!/bin/bash" || !strings.HasPrefix(rc[1], "# ") {
		t.Fatalf("runCommand starts %q", rc[:2])
	}
	assign := regexp.MustCompile(`^(SSMB_[A-Z_]+)='\{\{ ([A-Za-z]+) \}\}'$`)
	used := map[string]int{}
	for _, line := range rc[2:header] {
		m := assign.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("header line %q is not VAR='{{ Param }}'", line)
			continue
		}
		if _, ok := doc.Parameters[m[2]]; !ok {
			t.Errorf("header uses undeclared parameter %s", m[2])
		}
		used[m[2]]++
	}
	for name := range doc.Parameters {
		if used[name] != 1 {
			t.Errorf("parameter %s assigned %d times, want 1", name, used[name])
		}
	}
	hooks := scriptCode(strings.Split(strings.TrimSuffix(string(linuxDLMHooksScript), "\n"), "\n"))
	body := rc[header:]
	if len(body) <= len(hooks) {
		t.Fatalf("runCommand holds %d lines after the header, the hooks script alone %d", len(body), len(hooks))
	}
	library, own := body[:len(body)-len(hooks)], body[len(body)-len(hooks):]
	if diff := cmp.Diff(hooks, own); diff != "" {
		t.Errorf("runCommand does not end with the hooks script (-script +runCommand):\n%s", diff)
	}
	sharedCode := src[2+len(linuxSnapshotInputs):]
	if diff := cmp.Diff(sharedCode[:len(library)], library); diff != "" {
		t.Errorf("the shared part differs from the shared document's (-shared +hooks):\n%s", diff)
	}
	for _, line := range library {
		for _, snapshotOnly := range []string{"main() {", "start_call() {", "build_request() {", "read_role_credentials() {"} {
			if line == snapshotOnly {
				t.Errorf("the hooks document carries the snapshot mode's %s", snapshotOnly)
			}
		}
	}
	for i, line := range rc {
		if strings.Contains(line, "{{") && (i < 2 || i >= header) {
			t.Errorf("runCommand[%d] outside the header holds a placeholder: %q", i, line)
		}
		if strings.Contains(line, "mysql-fleet") || strings.Contains(line, "/srv/db-data") {
			t.Errorf("runCommand[%d] holds a user value: %q", i, line)
		}
	}
	if last := rc[len(rc)-2:]; !cmp.Equal(last, []string{`dlm_main "$@"`, "exit 0"}) {
		t.Errorf("runCommand ends %q", last)
	}
}

// SSM refuses a document over 64 KB; the hooks document must fit with room
// to grow, compact (as CloudFormation and Terraform send it) and as emitted.
func TestLinuxDLMHooksDocumentSize(t *testing.T) {
	s := exampleDLMHooks()
	s.Description = strings.Repeat("d", 200)
	s.Apps = []LinuxApp{
		{Type: AppMySQL, DefaultsFile: "/etc/ssm-backup/" + strings.Repeat("m", 60) + ".cnf", LockWaitSeconds: 5, PreFlush: true},
		{Type: AppPostgreSQL, Service: strings.Repeat("s", 64), ServiceFile: "/etc/ssm-backup/" + strings.Repeat("p", 60)},
		{Type: AppCustom, Pre: "/usr/local/sbin/" + strings.Repeat("a", 60), Post: "/usr/local/sbin/" + strings.Repeat("b", 60), TimeoutSeconds: 5},
	}
	checkDocumentSize(t, "DLM hooks document", mustLinuxDLMHooksCommand(t, s), 8<<10)
}

func TestLinuxDLMHooksCommandRejectsInvalid(t *testing.T) {
	slow := func(s *LinuxSnapshot) {
		s.Consistency = ConsistencyApplication
		s.Apps = []LinuxApp{{Type: AppMySQL, LockWaitSeconds: 30}, {Type: AppPostgreSQL}}
		s.MaxFreezeSeconds = 20
	}
	for _, tc := range []struct {
		name   string
		change func(*LinuxSnapshot)
		want   string
	}{
		{"policy name", func(s *LinuxSnapshot) { s.PolicyName = "My Policy" }, "PolicyName"},
		{"crash", func(s *LinuxSnapshot) { s.Consistency, s.Apps = ConsistencyCrash, nil }, "Consistency \"crash\""},
		{"unknown consistency", func(s *LinuxSnapshot) { s.Consistency = "stopped" }, "Consistency"},
		{"application without apps", func(s *LinuxSnapshot) { s.Apps = nil }, "at least one application"},
		{"app type", func(s *LinuxSnapshot) { s.Apps = []LinuxApp{{Type: "sqlserver"}} }, "type must be"},
		{"mount with quote", func(s *LinuxSnapshot) { s.Mounts = []string{"/data'"} }, "Mounts"},
		{"budget zero", func(s *LinuxSnapshot) { s.MaxFreezeSeconds = 0 }, "MaxFreezeSeconds"},
		{"budget 61", func(s *LinuxSnapshot) { s.MaxFreezeSeconds = 61 }, "MaxFreezeSeconds"},
		{"apps too slow", slow, "LinuxSnapshot.Apps: a pre-script may take 119 s"},
		{"post hook too slow", func(s *LinuxSnapshot) {
			s.Apps = append(s.Apps, LinuxApp{Type: AppCustom, Pre: "/bin/true", Post: "/bin/true", TimeoutSeconds: 600})
		}, "LinuxSnapshot.Apps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exampleDLMHooks()
			tc.change(&s)
			_, err := LinuxDLMHooksCommand(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	// What fits: MySQL and PostgreSQL with a 10 s budget, the budget alone
	// at its longest, and fields that mean nothing to DLM, which are ignored
	// (the snapshot document's rules for them do not apply).
	for name, change := range map[string]func(*LinuxSnapshot){
		"mysql and postgresql": func(*LinuxSnapshot) {},
		"filesystem at 60 s": func(s *LinuxSnapshot) {
			s.Consistency, s.Apps, s.MaxFreezeSeconds = ConsistencyFilesystem, nil, 60
		},
		"ignored fields": func(s *LinuxSnapshot) {
			s.Tags = []Tag{{"b", "$(reboot)"}, {"a", "'"}}
			s.ExcludeBootVolume = false
			s.TimeoutSeconds = 1
		},
	} {
		s := exampleDLMHooks()
		change(&s)
		if _, err := LinuxDLMHooksCommand(s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	s := exampleDLMHooks()
	slow(&s)
	if got := s.dlmPreScriptSeconds(); got != dlmFixedSeconds+20+(mysqlConnectSeconds+30+2+mysqlReleaseSeconds+2)+(dlmCheckpointSeconds+killAfterSeconds) {
		t.Errorf("dlmPreScriptSeconds = %d", got)
	}
}

// The Go side's view of the hooks script's bounds must be the script's, and
// a pre-script stopped at its limit must still end inside DLM's timeout.
func TestLinuxDLMHooksScriptBounds(t *testing.T) {
	script := string(linuxDLMHooksScript)
	for name, want := range map[string]int{
		"DLM_PRE_SECONDS":        dlmPreSeconds,
		"DLM_STOP_SECONDS":       dlmStopSeconds,
		"DLM_LOCK_SECONDS":       dlmLockSeconds,
		"DLM_CHECKPOINT_SECONDS": dlmCheckpointSeconds,
	} {
		m := regexp.MustCompile(`\b` + name + `=([0-9]+)\b`).FindStringSubmatch(script)
		if m == nil {
			t.Errorf("the hooks script does not set %s", name)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want {
			t.Errorf("the hooks script's %s is %d, the Go side assumes %d", name, got, want)
		}
	}
	if !strings.Contains(script, "readonly DLM_ROOT="+dlmRoot+"\n") {
		t.Errorf("the hooks script's DLM_ROOT is not %s", dlmRoot)
	}
	if dlmPreSeconds+dlmStopSeconds+5 > LinuxDLMHooksExecutionTimeoutSeconds {
		t.Errorf("a pre-script may run %d s before it has stopped its holder, too close to DLM's %d s", dlmPreSeconds+dlmStopSeconds, LinuxDLMHooksExecutionTimeoutSeconds)
	}
	if dlmFixedSeconds < dlmLockSeconds+5 {
		t.Errorf("the fixed work (%d s) must cover the lock wait (%d s) and more", dlmFixedSeconds, dlmLockSeconds)
	}
}

func TestLinuxDLMHooksScriptEmbedded(t *testing.T) {
	onDisk, err := os.ReadFile("scripts/linux-dlm-hooks.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(linuxDLMHooksScript, onDisk) {
		t.Fatalf("embedded script differs from scripts/linux-dlm-hooks.sh")
	}
	if bytes.Contains(onDisk, []byte("\r")) || bytes.Contains(onDisk, []byte("\t")) {
		t.Errorf("the script holds CR or tab characters; it is shown line by line in the JSON")
	}
	if n := strings.Count(string(LinuxSnapshotScript()), "\n"+linuxSnapshotModeLine+"\n"); n != 1 {
		t.Errorf("linux-snapshot.sh has %d lines %q, want 1", n, linuxSnapshotModeLine)
	}
}

// The document as SSM writes it to disk, for each command, lints clean.
func TestShellcheckLinuxDLMHooksRunCommand(t *testing.T) {
	doc := mustLinuxDLMHooksCommand(t, exampleDLMHooks())
	for _, command := range []string{DLMCommandPreScript, DLMCommandPostScript, DLMCommandDryRun} {
		script, err := renderAsSSM(doc, map[string]string{ParamDLMCommand: command, ParamDLMExecutionID: harnessRunID})
		if err != nil {
			t.Fatal(err)
		}
		shellcheck(t, "dlm-"+command+".sh", script)
	}
}

// ---------------------------------------------------------------------------
// Running the hooks as DLM does: each command a separate run of the document
// as SSM renders it, from its own directory, as root against real file
// systems and database servers.

// dlmRoot is the hooks script's DLM_ROOT.
const dlmRoot = "/run/ssm-backup/dlm"

// dlmVerdict is the JSON object a hooks run prints as its last line.
type dlmVerdict struct {
	Status      string        `json:"status"`
	Command     string        `json:"command"`
	Policy      string        `json:"policy"`
	ExecutionID string        `json:"executionId"`
	Message     string        `json:"message"`
	Holder      *scriptResult `json:"holder"`
}

type dlmOutcome struct {
	runOutcome
	Verdict       dlmVerdict
	Started, Done time.Time
	Proc          *scriptProc
}

// dlmPolicy runs one policy's hooks document.
type dlmPolicy struct {
	h   *harness
	s   LinuxSnapshot
	env []string
	pre *scriptProc // the pre-script that held: its marker names the holder, the watchdog and their children
	// discovered is what a pre-script must freeze when s.Mounts is empty.
	discovered []string
	// scriptDir, if set, is where each run's script is written (SSM writes
	// it under its own state directory); default a fresh directory.
	scriptDir string
}

var dlmPolicies int

// newDLMPolicy names the policy uniquely (its state directory is the
// machine's) and removes that directory at cleanup. Each run's own cleanup
// ends its processes (a pre-script's holder and watchdog carry its marker);
// both come before the file systems are thawed and unmounted.
func newDLMPolicy(t *testing.T, h *harness, s LinuxSnapshot, env ...string) *dlmPolicy {
	t.Helper()
	dlmPolicies++
	s.PolicyName = fmt.Sprintf("dlm-test-%d-%d", os.Getpid(), dlmPolicies)
	if _, err := LinuxDLMHooksCommand(s); err != nil {
		t.Fatal(err)
	}
	d := &dlmPolicy{h: h, s: s, env: env}
	t.Cleanup(func() { _ = os.RemoveAll(d.dir()) })
	return d
}

func (d *dlmPolicy) dir() string { return filepath.Join(dlmRoot, d.s.PolicyName) }

// start runs the document for command and executionId, as SSM does: the
// script written to a fresh directory, run as sh -c PATH, stdout and stderr
// pipes the run must not leave to its holder.
func (d *dlmPolicy) start(t *testing.T, command, executionID string) *scriptProc {
	t.Helper()
	doc, err := LinuxDLMHooksCommand(d.s)
	if err != nil {
		t.Fatal(err)
	}
	script, err := renderAsSSM(doc, map[string]string{ParamDLMCommand: command, ParamDLMExecutionID: executionID})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d.scriptDir != "" {
		if dir, err = os.MkdirTemp(d.scriptDir, "run"); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "_script.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	runCounter++
	p := &scriptProc{tb: t, path: path, marker: fmt.Sprintf("dlm-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), runCounter), done: make(chan struct{})}
	p.cmd = exec.Command("/bin/sh", "-c", path)
	p.cmd.Dir = dir
	p.cmd.Env = d.h.environment(t, p.marker, d.env)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range processesWithMarker(p.marker) {
			_ = syscall.Kill(q.PID, syscall.SIGKILL)
		}
		<-p.done
	})
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// run runs a command to its end and parses its verdict.
func (d *dlmPolicy) run(t *testing.T, command, executionID string) dlmOutcome {
	t.Helper()
	started := time.Now()
	return d.await(t, d.start(t, command, executionID), command, executionID, started)
}

// await waits for a command started at started to end and parses its verdict.
func (d *dlmPolicy) await(t *testing.T, p *scriptProc, command, executionID string, started time.Time) dlmOutcome {
	t.Helper()
	o := dlmOutcome{runOutcome: p.wait(), Started: started, Done: time.Now(), Proc: p}
	lines := strings.Split(strings.TrimRight(o.Stdout, "\n"), "\n")
	dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o.Verdict); err != nil {
		t.Fatalf("%s: the last line of stdout is not the verdict: %v\n%s", command, err, describeOutcome(o.runOutcome))
	}
	if o.Verdict.Command != command || o.Verdict.ExecutionID != executionID || o.Verdict.Policy != d.s.PolicyName {
		t.Errorf("%s: verdict %+v", command, o.Verdict)
	}
	if (o.ExitCode == 0) != (o.Verdict.Status == "ok") {
		t.Errorf("%s: exit %d with status %q", command, o.ExitCode, o.Verdict.Status)
	}
	return o
}

// requireExit checks a run's exit status and that its message says want.
func requireExit(t *testing.T, o dlmOutcome, code int, want ...string) {
	t.Helper()
	ok := o.ExitCode == code
	for _, w := range want {
		ok = ok && strings.Contains(o.Verdict.Message, w)
	}
	if !ok {
		t.Fatalf("%s: want exit %d and a message with %q\n%s", o.Verdict.Command, code, want, describeOutcome(o.runOutcome))
	}
}

// holder is the holder of the pre-script that held, while it runs.
func (d *dlmPolicy) holder(t *testing.T) procInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir(), "hold", "holder"))
	if err != nil {
		t.Fatalf("no hold: %v", err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	for _, q := range processesWithMarker(d.pre.marker) {
		if q.PID == pid {
			return q
		}
	}
	t.Fatalf("the holder %d is not running", pid)
	return procInfo{}
}

// requireHeld checks the state of a pre-script that held: everything the
// hold needs runs detached from the command, and its state is root's only.
// The pre-script becomes the one the other checks look at.
func (d *dlmPolicy) requireHeld(t *testing.T, o dlmOutcome) {
	t.Helper()
	requireExit(t, o, 0)
	d.pre = o.Proc
	if o.Verdict.Holder == nil || o.Verdict.Holder.Status != "held" || o.Verdict.Holder.Consistency != d.s.Consistency {
		t.Fatalf("pre-script verdict %+v", o.Verdict)
	}
	if want := d.plan(); !cmp.Equal(o.Verdict.Holder.Frozen, want) {
		t.Errorf("frozen %v, want %v", o.Verdict.Holder.Frozen, want)
	}
	h := d.holder(t)
	if h.SID != h.PID || h.PGID == d.pre.cmd.Process.Pid {
		t.Errorf("holder %+v does not lead its own session", h)
	}
	for fd, want := range map[string]string{"0": "/dev/null", "1": filepath.Join(d.dir(), "result"), "2": filepath.Join(d.dir(), "log")} {
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", h.PID, fd)); got != want {
			t.Errorf("holder's fd %s is %q, want %s", fd, got, want)
		}
	}
	// No pipe of the command's (SSM waits for its output pipes to close).
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", h.PID))
	for _, fd := range fds {
		if link, _ := os.Readlink(fd); strings.HasPrefix(link, "pipe:") || strings.HasPrefix(link, "socket:") {
			t.Errorf("the holder keeps %s open (fd %s)", link, filepath.Base(fd))
		}
	}
	if b, err := os.ReadFile(filepath.Join(d.dir(), "hold", "deadline")); err != nil || !regexp.MustCompile(`^[0-9]{13} [0-9]{13}\n$`).Match(b) {
		t.Errorf("the hold's deadline %q (%v), want the holder's and the watchdog's, in ms", b, err)
	}
	if dogs := findWatchdogs(d.pre.marker); len(dogs) != 1 || dogs[0].SID != dogs[0].PID {
		t.Errorf("watchdogs %+v, want one in its own session", dogs)
	}
	for _, dir := range []string{dlmRoot, d.dir(), filepath.Join(d.dir(), "hold")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s: %v, want a directory of root's, mode 0700", dir, err)
		}
	}
}

// plan is what a pre-script of the policy freezes, in order.
func (d *dlmPolicy) plan() []string {
	if len(d.s.Mounts) == 0 {
		return sortedPlan(d.discovered)
	}
	return sortedPlan(d.s.Mounts)
}

// sortedPlan is the freeze order of same-depth mount points.
func sortedPlan(mounts []string) []string {
	out := append([]string(nil), mounts...)
	sort.Strings(out)
	return out
}

// requireGone checks, bounded, that nothing of the pre-script that held runs
// any more (holder, watchdog, database clients) and that its hold is gone.
func (d *dlmPolicy) requireGone(t *testing.T) {
	t.Helper()
	if !waitUntil(10*time.Second, func() bool { return len(processesWithMarker(d.pre.marker)) == 0 }) {
		t.Errorf("processes of the pre-script still running: %+v", processesWithMarker(d.pre.marker))
	}
	if _, err := os.Stat(filepath.Join(d.dir(), "hold")); !os.IsNotExist(err) {
		t.Errorf("the hold directory is still there (%v)", err)
	}
}

// requireBlocked checks that a write started earlier is still blocked: the
// file system is frozen.
func requireBlocked(t *testing.T, probe chan error, mount string) {
	t.Helper()
	select {
	case err := <-probe:
		probe <- err
		t.Fatalf("a write to %s went through (%v): not frozen", mount, err)
	case <-time.After(probeWait):
	}
}

// awaitProbe waits, bounded, for a write started earlier; it returns when it
// completed.
func awaitProbe(t *testing.T, probe chan error, mount string, within time.Duration) time.Time {
	t.Helper()
	select {
	case err := <-probe:
		if err != nil {
			t.Fatalf("write to %s: %v", mount, err)
		}
		return time.Now()
	case <-time.After(within):
		t.Fatalf("a write to %s is still blocked %v later", mount, within)
	}
	return time.Time{}
}

const (
	dlmRunA = "0f0e0d0c-0b0a-4909-8807-060504030201"
	dlmRunB = "1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"
)

func (h *harness) dlmSnapshot(budget int, mounts ...string) LinuxSnapshot {
	s := h.snapshot(mounts...)
	s.MaxFreezeSeconds = budget
	return s
}

// TestDLMHooksFileSystems: a pre-script freezes ext4 and xfs and exits while
// they stay frozen; a second pre-script is refused and leaves that hold
// alone; writes started after the pre-script complete only once the
// post-script runs, which releases everything and exits 0.
func TestDLMHooksFileSystems(t *testing.T) {
	h := newHarness(t)
	d := newDLMPolicy(t, h, h.dlmSnapshot(10, h.ext4.Mount, h.xfs.Mount))
	pre := d.run(t, DLMCommandPreScript, dlmRunA)
	d.requireHeld(t, pre)
	probes := map[string]chan error{}
	for _, m := range d.s.Mounts {
		probes[m] = probeWrite(m)
	}
	for _, m := range d.s.Mounts {
		requireBlocked(t, probes[m], m)
	}

	second := d.run(t, DLMCommandPreScript, dlmRunB)
	requireExit(t, second, 204, "held already", dlmRunA, "s at the latest", "left alone")
	d.holder(t)
	for _, m := range d.s.Mounts {
		requireBlocked(t, probes[m], m)
	}

	post := d.run(t, DLMCommandPostScript, dlmRunA)
	requireExit(t, post, 0)
	for _, m := range d.s.Mounts {
		if at := awaitProbe(t, probes[m], m, 5*time.Second); at.Before(post.Started) {
			t.Errorf("the write to %s completed before the post-script", m)
		}
	}
	r := post.Verdict.Holder
	if r == nil || r.Status != "ok" || !cmp.Equal(r.Frozen, sortedPlan(d.s.Mounts)) || r.BudgetExceeded {
		t.Errorf("holder's result %+v", r)
	}
	if !strings.Contains(post.Stderr, "ssm-backup holder:") || !strings.Contains(post.Stderr, "thawed after") {
		t.Errorf("the post-script does not show the holder's release:\n%s", post.Stderr)
	}
	d.requireGone(t)
	t.Logf("pre-script %v (second %v), post-script %v; hold (freezeMs) %d ms",
		pre.Done.Sub(pre.Started).Round(time.Millisecond), second.Done.Sub(second.Started).Round(time.Millisecond),
		post.Done.Sub(post.Started).Round(time.Millisecond), r.FreezeMs)

	again := d.run(t, DLMCommandPostScript, dlmRunA)
	requireExit(t, again, 205, "no hold")
}

// TestDLMHooksApplications: with MariaDB, PostgreSQL and a custom hook, the
// pre-script runs CHECKPOINT and takes the MariaDB lock (whose binary-log
// coordinates it prints); an INSERT started after the pre-script waits for
// the post-script, which unlocks in the session that locked and runs the
// post hook. Only PostgreSQL's file system is frozen, so nothing but the
// lock holds the INSERT back.
func TestDLMHooksApplications(t *testing.T) {
	h, f := newAppHarness(t)
	l := newHookLog(t)
	apps := []LinuxApp{
		{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10},
		f.mariaApp(5),
		{Type: AppPostgreSQL},
	}
	s := h.dlmSnapshot(10, h.xfs.Mount)
	s.Consistency, s.Apps = ConsistencyApplication, apps
	d := newDLMPolicy(t, h, s, f.pgEnv()...)
	file, pos := f.maria.binlogStatus(t)
	checkpoints := f.pg.checkpointsRequested(t)

	pre := d.run(t, DLMCommandPreScript, dlmRunA)
	d.requireHeld(t, pre)
	if got := f.pg.checkpointsRequested(t); got <= checkpoints {
		t.Errorf("checkpoints_req %d → %d: no CHECKPOINT in the pre-script", checkpoints, got)
	}
	if b := pre.Verdict.Holder.Binlog; len(b) != 1 || b[0] != (binlogCoordinate{file, pos}) {
		t.Errorf("binlog in the pre-script's output %+v, want %s:%s", b, file, pos)
	}
	if !strings.Contains(pre.Stderr, "binary log at "+file+":"+pos) {
		t.Errorf("the pre-script's progress does not show the coordinates:\n%s", pre.Stderr)
	}
	if n := f.maria.backupSessions(t); n != 1 {
		t.Errorf("%d sessions of the backup user while held, want 1", n)
	}
	if got := l.names(t); got != "pre" {
		t.Errorf("hooks ran as %q while held, want pre", got)
	}
	inserted := f.maria.insertAsync("dlm-held")
	probe := probeWrite(h.xfs.Mount)
	requireBlocked(t, probe, h.xfs.Mount)
	select {
	case r := <-inserted:
		t.Fatalf("an INSERT went through while held (%v): the lock was not held", r.Err)
	default:
	}

	post := d.run(t, DLMCommandPostScript, dlmRunA)
	requireExit(t, post, 0)
	ins := awaitInsert(t, inserted, 30*time.Second)
	if !ins.Done.After(post.Started) {
		t.Errorf("the INSERT completed at %s, before the post-script started at %s", ins.Done.Format(time.StampMicro), post.Started.Format(time.StampMicro))
	}
	awaitProbe(t, probe, h.xfs.Mount, 5*time.Second)
	r := post.Verdict.Holder
	if r == nil || r.Status != "ok" || !r.ApplicationConsistent || r.LockMs <= 0 {
		t.Errorf("holder's result %+v", r)
	}
	// UNLOCK TABLES ran in the session that locked: the script compares the
	// session id it reads after UNLOCK with the one it locked in, and fails
	// the release otherwise.
	if !strings.Contains(post.Stderr, "mariadb: unlocked") || strings.Contains(post.Stderr, "held the lock ended") {
		t.Errorf("the post-script does not show the unlock in the same session:\n%s", post.Stderr)
	}
	if got := l.names(t); got != "pre post" {
		t.Errorf("hooks ran as %q, want pre post", got)
	}
	if e := l.entries(t); len(e) == 2 && e[1].At.Before(post.Started) {
		t.Errorf("the post hook ran before the post-script")
	}
	d.requireGone(t)
	requireReleased(t, f)
	t.Logf("pre-script %v; INSERT waited %v; lockMs=%d freezeMs=%d; post-script %v",
		pre.Done.Sub(pre.Started).Round(time.Millisecond), ins.Done.Sub(ins.Started).Round(time.Millisecond), r.LockMs, r.FreezeMs,
		post.Done.Sub(post.Started).Round(time.Millisecond))
}

// TestDLMHooksPostAfterDeadline: no post-script within MaxFreezeSeconds
// (less the margin to release): the holder releases by itself, and the late
// post-script fails saying so.
func TestDLMHooksPostAfterDeadline(t *testing.T) {
	h := newHarness(t)
	d := newDLMPolicy(t, h, h.dlmSnapshot(3, h.ext4.Mount))
	pre := d.run(t, DLMCommandPreScript, dlmRunA)
	d.requireHeld(t, pre)
	probe := probeWrite(h.ext4.Mount)
	thawed := awaitProbe(t, probe, h.ext4.Mount, 3*time.Second+5*time.Second)
	t.Logf("released %v after the pre-script ended (MaxFreezeSeconds 3)", thawed.Sub(pre.Done).Round(time.Millisecond))
	d.requireGone(t)
	post := d.run(t, DLMCommandPostScript, dlmRunA)
	requireExit(t, post, 203, "released the hold", "before the post-script", "only crash-consistent")
	// The holder releases first, at MaxFreezeSeconds less the margin; on a
	// machine that stalls it for longer than the margin, the watchdog does.
	t.Logf("post-script: %s", post.Verdict.Message)
	if r := post.Verdict.Holder; r == nil || r.Status != "error" || !r.BudgetExceeded {
		t.Errorf("holder's result %+v", r)
	}
}

// TestDLMHooksHolderKilled: the holder is killed (SIGKILL) while holding.
// Its MySQL session ends with it at once; the file system stays frozen
// until the watchdog thaws it, at MaxFreezeSeconds, and the post-script
// then fails naming the watchdog. A post-script that comes before the
// watchdog releases at once what the hold records, and fails too.
func TestDLMHooksHolderKilled(t *testing.T) {
	h, f := newAppHarness(t)
	for _, tc := range []struct {
		name   string
		budget int
	}{{"watchdog", 6}, {"post-script first", 30}} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.dlmSnapshot(tc.budget, h.xfs.Mount)
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{f.mariaApp(5)}
			d := newDLMPolicy(t, h, s)
			d.requireHeld(t, d.run(t, DLMCommandPreScript, dlmRunA))
			holder := d.holder(t)
			probe := probeWrite(h.xfs.Mount)
			inserted := f.maria.insertAsync("dlm-killed")
			killedAt := time.Now()
			if err := syscall.Kill(holder.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			ins := awaitInsert(t, inserted, 15*time.Second)
			t.Logf("INSERT completed %v after the SIGKILL", ins.Done.Sub(killedAt).Round(time.Millisecond))
			requireBlocked(t, probe, h.xfs.Mount)
			var post dlmOutcome
			if tc.name == "watchdog" {
				thawed := awaitProbe(t, probe, h.xfs.Mount, time.Duration(tc.budget)*time.Second+5*time.Second)
				t.Logf("thawed by the watchdog %v after the SIGKILL (MaxFreezeSeconds %d)", thawed.Sub(killedAt).Round(time.Millisecond), tc.budget)
				post = d.run(t, DLMCommandPostScript, dlmRunA)
				requireExit(t, post, 203, fmt.Sprintf("the watchdog released the hold after %d s", tc.budget), "before the post-script")
			} else {
				post = d.run(t, DLMCommandPostScript, dlmRunA)
				requireExit(t, post, 202, "the holder ended before the post-script")
				awaitProbe(t, probe, h.xfs.Mount, 5*time.Second)
			}
			d.requireGone(t)
			requireReleased(t, f)
		})
	}
}

// TestDLMHooksStaleHold: a hold whose holder and watchdog were both killed
// (so nothing would ever thaw its file system) is released by the next
// pre-script, which then holds as usual.
func TestDLMHooksStaleHold(t *testing.T) {
	h := newHarness(t)
	d := newDLMPolicy(t, h, h.dlmSnapshot(30, h.ext4.Mount))
	d.requireHeld(t, d.run(t, DLMCommandPreScript, dlmRunA))
	probe := probeWrite(h.ext4.Mount)
	for _, q := range append(findWatchdogs(d.pre.marker), d.holder(t)) {
		if err := syscall.Kill(-q.PGID, syscall.SIGKILL); err != nil { // the watchdog's sleep too
			t.Fatal(err)
		}
	}
	stale := d.pre
	if !waitUntil(5*time.Second, func() bool { return len(processesWithMarker(stale.marker)) == 0 }) {
		t.Fatalf("still running: %+v", processesWithMarker(stale.marker))
	}
	requireBlocked(t, probe, h.ext4.Mount)
	pre := d.run(t, DLMCommandPreScript, dlmRunB)
	d.requireHeld(t, pre)
	if !strings.Contains(pre.Stderr, "releasing a hold whose holder and watchdog have ended") {
		t.Errorf("the pre-script does not say it released a stale hold:\n%s", pre.Stderr)
	}
	awaitProbe(t, probe, h.ext4.Mount, 5*time.Second) // the stale freeze was thawed before the new one
	requireBlocked(t, probeWrite(h.ext4.Mount), h.ext4.Mount)
	requireExit(t, d.run(t, DLMCommandPostScript, dlmRunB), 0)
	d.requireGone(t)
	requireWritable(t, h.ext4.Mount, 5*time.Second)
}

// TestDLMHooksPreFails: a pre-script that fails half-way releases what it
// took and exits 201, leaving no holder, watchdog, session or hold:
//   - FLUSH TABLES WITH READ LOCK times out on a conflicting lock, after the
//     custom pre hook ran (its post hook runs);
//   - a file system cannot be frozen (someone else froze it) after the
//     MariaDB lock was taken and the other file system frozen; the other
//     freeze is left alone.
func TestDLMHooksPreFails(t *testing.T) {
	h := newHarness(t)
	f := requireDB(t)
	t.Run("lock wait timeout", func(t *testing.T) {
		l := newHookLog(t)
		blocker := openSession(t, f.maria.RootCnf)
		blocker.do(t, "LOCK TABLES shop.orders WRITE;")
		s := h.dlmSnapshot(10, h.ext4.Mount, h.xfs.Mount)
		s.Consistency = ConsistencyApplication
		s.Apps = []LinuxApp{{Type: AppCustom, Pre: l.hook(t, "pre", 0, 0), Post: l.hook(t, "post", 0, 0), TimeoutSeconds: 10}, f.mariaApp(2)}
		d := newDLMPolicy(t, h, s)
		o := d.run(t, DLMCommandPreScript, dlmRunA)
		d.pre = o.Proc
		requireExit(t, o, 201, "FLUSH TABLES WITH READ LOCK failed", "Lock wait timeout")
		if r := o.Verdict.Holder; r == nil || r.Status != "error" || len(r.Frozen) != 0 {
			t.Errorf("holder's result %+v", r)
		}
		if got := l.names(t); got != "pre post" {
			t.Errorf("hooks ran as %q, want pre post", got)
		}
		d.requireGone(t)
		for _, m := range s.Mounts {
			requireWritable(t, m, 5*time.Second)
		}
		blocker.do(t, "UNLOCK TABLES;")
		requireReleased(t, f)
		post := d.run(t, DLMCommandPostScript, dlmRunA)
		requireExit(t, post, 205, "no hold")
	})
	t.Run("freeze fails", func(t *testing.T) {
		mounts := sortedPlan([]string{h.ext4.Mount, h.xfs.Mount})
		first, second := mounts[0], mounts[1]
		runTool(t, "fsfreeze", "-f", second)
		t.Cleanup(func() { _ = exec.Command("fsfreeze", "-u", second).Run() })
		s := h.dlmSnapshot(10, mounts...)
		s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{f.mariaApp(5)}
		d := newDLMPolicy(t, h, s)
		o := d.run(t, DLMCommandPreScript, dlmRunA)
		d.pre = o.Proc
		requireExit(t, o, 201, "not everything could be held", second+": fsfreeze -f failed")
		if r := o.Verdict.Holder; r == nil || !cmp.Equal(r.Frozen, []string{first}) || r.LockMs <= 0 {
			t.Errorf("holder's result %+v, want %s frozen and the lock taken, then released", r, first)
		}
		d.requireGone(t)
		requireWritable(t, first, 5*time.Second)
		requireReleased(t, f)
		probe := probeWrite(second)
		requireBlocked(t, probe, second)
		runTool(t, "fsfreeze", "-u", second)
		awaitProbe(t, probe, second, 5*time.Second)
	})
}

// TestDLMHooksExecutionIDMismatch: a post-script whose executionId is not
// the pre-script's still releases everything, and fails naming both.
func TestDLMHooksExecutionIDMismatch(t *testing.T) {
	h := newHarness(t)
	d := newDLMPolicy(t, h, h.dlmSnapshot(20, h.ext4.Mount, h.xfs.Mount))
	d.requireHeld(t, d.run(t, DLMCommandPreScript, dlmRunA))
	probe := probeWrite(h.xfs.Mount)
	post := d.run(t, DLMCommandPostScript, dlmRunB)
	requireExit(t, post, 202, dlmRunA, dlmRunB)
	awaitProbe(t, probe, h.xfs.Mount, 5*time.Second)
	requireWritable(t, h.ext4.Mount, 5*time.Second)
	d.requireGone(t)
}

// TestDLMHooksDryRun: a dry run checks the plan and the applications and
// holds nothing: no hold, no process left, no session, no CHECKPOINT. Each
// thing a pre-script would lack fails it.
func TestDLMHooksDryRun(t *testing.T) {
	h, f := newAppHarness(t)
	ready := h.dlmSnapshot(10, h.ext4.Mount, h.xfs.Mount)
	ready.Consistency, ready.Apps = ConsistencyApplication, []LinuxApp{f.mariaApp(5), {Type: AppPostgreSQL}}
	d := newDLMPolicy(t, h, ready, f.pgEnv()...)
	checkpoints := f.pg.checkpointsRequested(t)
	o := d.run(t, DLMCommandDryRun, "None")
	requireExit(t, o, 0)
	if o.Verdict.Holder != nil || !strings.Contains(o.Stderr, "ready: a pre-script would freeze") {
		t.Errorf("dry run\n%s", describeOutcome(o.runOutcome))
	}
	if left := processesWithMarker(o.Proc.marker); len(left) != 0 {
		t.Errorf("processes left by the dry run: %+v", left)
	}
	if _, err := os.Stat(filepath.Join(d.dir(), "hold")); !os.IsNotExist(err) {
		t.Errorf("a hold after a dry run (%v)", err)
	}
	if got := f.pg.checkpointsRequested(t); got != checkpoints {
		t.Errorf("checkpoints_req %d → %d: the dry run ran CHECKPOINT", checkpoints, got)
	}
	for _, m := range ready.Mounts {
		requireWritable(t, m, 5*time.Second)
	}
	requireReleased(t, f)

	missing := filepath.Join(f.dir, "absent.cnf")
	for _, tc := range []struct {
		name   string
		change func(*LinuxSnapshot)
		want   string
	}{
		{"not a mount point", func(s *LinuxSnapshot) { s.Mounts = append(s.Mounts, f.dir) }, f.dir + ": not a mount point"},
		{"root", func(s *LinuxSnapshot) { s.Mounts = []string{"/"} }, "/: holds the root file system"},
		{"defaults file", func(s *LinuxSnapshot) { s.Apps[0].DefaultsFile = missing }, missing + " does not exist"},
		{"hook", func(s *LinuxSnapshot) {
			s.Apps = append(s.Apps, LinuxApp{Type: AppCustom, Pre: missing, TimeoutSeconds: 5})
		}, "pre hook " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ready
			s.Apps = append([]LinuxApp(nil), ready.Apps...)
			tc.change(&s)
			o := newDLMPolicy(t, h, s, f.pgEnv()...).run(t, DLMCommandDryRun, "None")
			requireExit(t, o, 1, tc.want)
		})
	}
}
