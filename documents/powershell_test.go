package documents

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// psParser is the PowerShell syntax check of tools/psparse: the npm
// packages tree-sitter and tree-sitter-powershell (scripts/
// install-test-deps.sh installs them with npm ci). Without node or the
// packages the tests are skipped, except under CI=true where they fail.
func psParser(t *testing.T) (node, script string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "tools", "psparse"))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "tree-sitter-powershell", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the PowerShell parser is required under CI (run scripts/install-test-deps.sh): %v", err)
		}
		t.Skipf("PowerShell parser not available (run scripts/install-test-deps.sh): %v", err)
	}
	return node, filepath.Join(dir, "check.mjs")
}

type psResult struct {
	File   string `json:"file"`
	OK     bool   `json:"ok"`
	Errors []struct {
		Row, Column int
		Text        string
	} `json:"errors"`
}

// parsePowerShell parses each script and returns the parser's verdicts.
func parsePowerShell(t *testing.T, scripts map[string]string) map[string]psResult {
	t.Helper()
	node, check := psParser(t)
	dir := t.TempDir()
	args := []string{"--no-deprecation", check}
	for name, text := range scripts {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.CommandContext(t.Context(), node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("node %s: %v\n%s", check, err, stderr.String())
	}
	out := map[string]psResult{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r psResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("parser output %q: %v\n%s", line, err, stderr.String())
		}
		out[filepath.Base(r.File)] = r
	}
	if len(out) != len(scripts) {
		t.Fatalf("the parser reported %d of %d scripts\n%s", len(out), len(scripts), stderr.String())
	}
	return out
}

// TestPowerShellParserControls proves the parser can fail: a valid
// pipeline parses clean, an unclosed if ( is reported.
func TestPowerShellParserControls(t *testing.T) {
	got := parsePowerShell(t, map[string]string{
		"valid.ps1":    "Get-Process | Where-Object { $_.CPU -gt 1 } | Select-Object -First 3\n",
		"unclosed.ps1": "if ($x -eq 1 {\n    Write-Output 'a'\n",
		"brace.ps1":    "foreach ($v in $list) {\n    $v\n",
	})
	if !got["valid.ps1"].OK {
		t.Errorf("a valid pipeline was reported broken: %+v", got["valid.ps1"])
	}
	for _, bad := range []string{"unclosed.ps1", "brace.ps1"} {
		if got[bad].OK {
			t.Errorf("%s: the syntax error was not reported", bad)
		}
	}
}

// TestGeneratedPowerShellParses parses every PowerShell ssm-backup
// generates: the DISKSHADOW script on its own, the document's run command
// with its {{ parameters }} as written, and with sample values in their
// place.
func TestGeneratedPowerShellParses(t *testing.T) {
	run := WindowsDiskshadowRunCommand()
	samples := map[string]string{
		DiskshadowParamPolicyName: "file-servers", DiskshadowParamRunID: "4105a4fc-f944-11e6-9d32-0123456789ab",
		DiskshadowParamVolumes: "root", DiskshadowParamExcludeDataVolume: "vol-0123456789abcdef0,vol-0fedcba9876543210", DiskshadowParamCopyOnly: "True", DiskshadowParamNoWriters: "False",
		DiskshadowParamDescription: "ssm-backup file-servers", DiskshadowParamTags: "Key=CostCenter,Value=it ops;Key=Name,Value=fs",
	}
	resolved := regexp.MustCompile(`\{\{ (\w+) \}\}`).ReplaceAllStringFunc(run, func(m string) string {
		return samples[strings.Trim(m, "{} ")]
	})
	doc := WindowsDiskshadowCommand("d")
	fromDoc := strings.Join(doc.MainSteps[0].Inputs.RunCommand, "\n") + "\n"
	hooksRun := WindowsHooksRunCommand()
	hooksValue, err := WindowsHooksParameter([]WindowsHook{{Pre: `C:\ssm-backup\pause.ps1`, Post: `C:\ssm-backup\resume.ps1`, TimeoutSeconds: 120}, {Pre: `D:\app 1\flush.cmd`, TimeoutSeconds: 30}})
	if err != nil {
		t.Fatal(err)
	}
	hooksSamples := map[string]string{HooksParamPolicyName: "erp", HooksParamRunID: "4105a4fc-f944-11e6-9d32-0123456789ab", HooksParamAction: "post", HooksParamHooks: hooksValue}
	hooksResolved := regexp.MustCompile(`\{\{ (\w+) \}\}`).ReplaceAllStringFunc(hooksRun, func(m string) string {
		return hooksSamples[strings.Trim(m, "{} ")]
	})
	got := parsePowerShell(t, map[string]string{
		"windows-diskshadow.ps1": windowsDiskshadowScript,
		"run-command.ps1":        run,
		"resolved.ps1":           resolved,
		"document.ps1":           fromDoc,
		"windows-hooks.ps1":      windowsHooksScript,
		"hooks-run-command.ps1":  hooksRun,
		"hooks-resolved.ps1":     hooksResolved,
		"hooks-document.ps1":     strings.Join(WindowsHooksCommand("d").MainSteps[0].Inputs.RunCommand, "\n") + "\n",
	})
	for name, r := range got {
		if !r.OK {
			t.Errorf("%s does not parse: %+v", name, r.Errors)
		}
	}
}

// TestDiskshadowDocumentParameters checks that every parameter the run
// command reads is declared, that none admits a single quote (the values
// are pasted into single-quoted strings), and the shadow-set rules of the
// script: one BEGIN BACKUP, CREATE before the EXEC that releases the
// snapshot call, the shadow set deleted and the backup ended after it.
func TestDiskshadowDocumentParameters(t *testing.T) {
	doc := WindowsDiskshadowCommand("d")
	checkQuotedParameters(t, doc, WindowsDiskshadowRunCommand())
	if !regexp.MustCompile(patternVSSTags).MatchString("Key=CostCenter,Value=it ops;Key=Name,Value=") {
		t.Error("the tags pattern refuses valid tags")
	}
	for _, bad := range []string{"Key=a=b,Value=c", "Key=a,Value=b;", "Key=,Value=b", "Key=a,Value=b'; Remove-Item C:\\"} {
		if regexp.MustCompile(patternVSSTags).MatchString(bad) {
			t.Errorf("the tags pattern admits %q", bad)
		}
	}
	inOrder(t, windowsDiskshadowScript, "DISKSHADOW script", "'BEGIN BACKUP'", "'CREATE'", "\"EXEC `", "'DELETE SHADOWS SET %VSS_SHADOW_SET%'", "'END BACKUP'")
	// A copy backup is DISKSHADOW's default: BEGIN and END BACKUP (a full
	// backup) only when CopyOnly is False; there is no SET OPTION COPY.
	for _, want := range []string{"$full = $SsmBackup.CopyOnly -ne 'True'", "if ($full) { $script += 'BEGIN BACKUP' }", "if ($full) { $script += 'END BACKUP' }"} {
		if !strings.Contains(windowsDiskshadowScript, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	if strings.Contains(windowsDiskshadowScript, "SET OPTION COPY") {
		t.Error("SET OPTION COPY is no DISKSHADOW option")
	}
	// A failed EXEC ends DISKSHADOW before DELETE SHADOWS SET: the script
	// deletes the set itself.
	inOrder(t, windowsDiskshadowScript, "the shadow set is deleted when DISKSHADOW failed", "function Remove-ShadowSet", `"DELETE SHADOWS SET {$Id}"`, "New-EC2SnapshotBatch @request", "if ($proc.ExitCode -ne 0) {", "$leftOver = Remove-ShadowSet $shadowSet", `Fail "CreateSnapshots failed`)
	if n := strings.Count(windowsDiskshadowScript, "New-EC2SnapshotBatch"); n != 1 {
		t.Errorf("%d snapshot calls, want exactly one", n)
	}
	// The snapshots carry the shadow set's id, known only once DISKSHADOW
	// has created it, so the tag is added between the two.
	ready := strings.Index(windowsDiskshadowScript, "Get-Content -Path $ready")
	tag := strings.Index(windowsDiskshadowScript, "-ArgumentList '"+TagVSSShadowSet+"', $shadowSet")
	call := strings.Index(windowsDiskshadowScript, "New-EC2SnapshotBatch @request")
	if ready < 0 || tag < ready || call < tag {
		t.Errorf("the %s tag is not set between the shadow set's creation (%d) and the snapshot call (%d): %d", TagVSSShadowSet, ready, call, tag)
	}
	// Persistent, so that the copies are on the volumes when the snapshots
	// are taken, and with the writers (CLIENTACCESSIBLE has none).
	if !strings.Contains(windowsDiskshadowScript, "$context = 'SET CONTEXT PERSISTENT'") || strings.Contains(windowsDiskshadowScript, "SET CONTEXT CLIENTACCESSIBLE'") {
		t.Error("the shadow copies are not made in the PERSISTENT context, with the writers")
	}
	// Every path on which DISKSHADOW may have made the set and failed
	// deletes it: ended early, killed, failed after the request.
	if n := strings.Count(windowsDiskshadowScript, "Remove-ShadowSet "); n != 4 {
		t.Errorf("Remove-ShadowSet is called %d times, want the definition and the three failure paths", n)
	}
	// Volumes root: only the boot disk is shadowed, and the data volumes
	// the runbook listed are excluded from the one call.
	for _, want := range []string{
		"if ($mode -eq 'root' -and -not $boot) {",
		"$request.InstanceSpecification_ExcludeDataVolumeId = [string[]]$excludeIds",
		"InstanceSpecification_ExcludeBootVolume = ($mode -eq 'data')",
	} {
		if !strings.Contains(windowsDiskshadowScript, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	if p := doc.Parameters[DiskshadowParamExcludeDataVolume].AllowedPattern; !regexp.MustCompile(p).MatchString("none") ||
		!regexp.MustCompile(p).MatchString("vol-0123456789abcdef0,vol-0fedcba98") || regexp.MustCompile(p).MatchString("") ||
		regexp.MustCompile(p).MatchString("vol-0123456789abcdef0;Remove-Item") {
		t.Errorf("ExcludeDataVolumeIds pattern %s admits or refuses the wrong values", p)
	}
}

// TestWindowsHooksDocument checks the hooks document's parameters (every
// one the run command reads is declared and admits no quote), the Hooks
// pattern against the policy language's Windows paths, the encoder's
// refusals, and the rules of the script: a post hook recorded as due
// before its pre hook starts, claimed by a rename so it runs once, due
// posts run last first, and the pre action releasing an earlier run's due
// posts before pausing anything.
func TestWindowsHooksDocument(t *testing.T) {
	doc := WindowsHooksCommand("d")
	checkQuotedParameters(t, doc, WindowsHooksRunCommand())
	re := regexp.MustCompile(doc.Parameters[HooksParamHooks].AllowedPattern)
	for _, ok := range []string{`C:\a.cmd||1`, `C:\ssm-backup\pause.ps1|C:\ssm-backup\resume.ps1|3600;D:\app 1\x.exe||30`} {
		if !re.MatchString(ok) {
			t.Errorf("the Hooks pattern refuses %q", ok)
		}
	}
	for _, bad := range []string{"", `C:\a.cmd|`, `C:\a.cmd||0`, `C:\a.cmd||30;`, `relative\a.cmd||30`, `C:\a'b.cmd||30`, `C:\a.cmd|C:\b;c.cmd|30`, `C:\a$(x).cmd||30`, `C:\..\a.cmd||30x`} {
		if re.MatchString(bad) {
			t.Errorf("the Hooks pattern admits %q", bad)
		}
	}
	for name, hooks := range map[string][]WindowsHook{
		"none":        nil,
		"zero bound":  {{Pre: `C:\a.cmd`}},
		"long bound":  {{Pre: `C:\a.cmd`, TimeoutSeconds: 3601}},
		"quote":       {{Pre: `C:\it's.cmd`, TimeoutSeconds: 5}},
		"not windows": {{Pre: "/usr/local/sbin/quiesce", TimeoutSeconds: 5}},
		"too many":    make([]WindowsHook, MaxApps+1),
	} {
		if v, err := WindowsHooksParameter(hooks); err == nil {
			t.Errorf("%s: encoded as %q, want an error", name, v)
		}
	}
	script := windowsHooksScript
	order := func(what string, parts ...string) { inOrder(t, script, what, parts...) }
	order("the post hook is due before the pre hook starts", `Join-Path $state "due.$i"`, `Invoke-Hook 'pre' $hook.Pre $hook.Seconds`)
	order("the pre action releases an earlier run first", `if ($action -eq 'pre') {`, `$left = Invoke-DuePosts`, `for ($i = 0; $i -lt $hooks.Count; $i++)`)
	order("a pre hook's process is recorded while it runs, the record removed once it has ended", "$proc = [System.Diagnostics.Process]::Start($psi)", "Set-Content -LiteralPath $running", "return (Wait-Hook $What $File $Seconds $proc)", "} finally {", "if ($proc.HasExited) { Remove-Item -LiteralPath $running")
	order("a post action stops further pre hooks of a pre step still going on", "function Invoke-DuePosts {", "if ($action -eq 'post') { Set-Content -LiteralPath $stopPre", "for ($i = 0; $i -lt $hooks.Count; $i++) {", "(Get-Item -LiteralPath $stopPre).LastWriteTime -gt $started", "Invoke-Hook 'pre' $hook.Pre $hook.Seconds")
	order("a claim names its process by id and start time", "$myTicks = (Get-Process -Id $PID).StartTime.ToUniversalTime().Ticks", "$owner.StartTime.ToUniversalTime().Ticks -eq $ownerTicks", `".$PID.$myTicks."`)
	order("the post hooks run only once a pre hook still running is stopped", "function Invoke-DuePosts {", "    Stop-RunningPres\n", `Get-ChildItem -LiteralPath $state -Filter 'due.*'`)
	order("a claim whose process is gone is due again, before the due records are listed", `Get-ChildItem -LiteralPath $state -Filter 'claimed.*'`, "if (-not $alive) {", `Get-ChildItem -LiteralPath $state -Filter 'due.*'`)
	order("a due post is claimed before it runs, its record kept until it ran", `Move-Item -LiteralPath $record.FullName -Destination $claimed`, `Invoke-Hook 'post' $fields[1]`, "the application may still be paused\" }\n        Remove-Item -LiteralPath $claimed")
	order("a hook that cannot start is a failed hook, not an error that ends the loop", "function Invoke-Hook(", "try {", "return (Invoke-HookOnce $What $File $Seconds)", "} catch {")
	if strings.Contains(script, "Start-Process") || strings.Contains(script, "catch { $same = $true }") || strings.Contains(script, "catch { $alive = $true }") {
		t.Error("hooks start with Start-Process (no handle for a hook that ends at once), or an unreadable process counts as ours")
	}
	for _, want := range []string{"-Descending", "taskkill /PID $($proc.Id) /T /F >nul 2>&1", "$proc.WaitForExit($Seconds * 1000)"} {
		if !strings.Contains(script, want) {
			t.Errorf("the hooks script lacks %q", want)
		}
	}
	if !strings.Contains(script, "'"+windowsHookPath+"'") {
		t.Error("the script's path pattern is not the document's")
	}
}

// checkQuotedParameters checks that every {{ parameter }} the run command
// reads is declared and bounded, and that none admits a single quote: the
// values are pasted into single-quoted PowerShell strings.
func checkQuotedParameters(t *testing.T, doc CommandDocument, run string) {
	t.Helper()
	found := 0
	for _, m := range regexp.MustCompile(`\{\{ (\w+) \}\}`).FindAllStringSubmatch(run, -1) {
		found++
		p, ok := doc.Parameters[m[1]]
		if !ok {
			t.Errorf("{{ %s }} is not a parameter", m[1])
			continue
		}
		if p.AllowedPattern == "" && len(p.AllowedValues) == 0 {
			t.Errorf("%s has neither allowedPattern nor allowedValues", m[1])
		}
		if p.AllowedPattern != "" && regexp.MustCompile(p.AllowedPattern).MatchString("a'b") {
			t.Errorf("%s admits a single quote", m[1])
		}
	}
	if found == 0 {
		t.Error("the run command reads no parameter")
	}
}

// inOrder checks that text holds each of parts, in this order.
func inOrder(t *testing.T, text, what string, parts ...string) {
	t.Helper()
	last := -1
	for _, p := range parts {
		i := strings.Index(text, p)
		if i < 0 || i < last {
			t.Errorf("%s: %q missing or out of order", what, p)
			return
		}
		last = i
	}
}
