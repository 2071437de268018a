# ssm-backup windows-hooks.ps1: the custom pre and post hooks of a Windows
# policy, run around its VSS snapshot.
#
# The backup runbook runs this document with Action pre before the snapshot
# command and with Action post after it; every failure or cancellation from
# the pre step on leads to a runbook step that runs Action post too.
#
# pre:  first releases what an earlier run left paused (a post hook recorded
#       as due whose post step never came); then runs each pre hook in the
#       listed order, each bounded by its timeout (its process tree is
#       killed when the time is over). Before a pre hook starts, its post
#       hook is recorded as due; while it runs, its process is recorded. A
#       failing or timed-out pre hook fails the step and the hooks after it
#       are not run; nor are they once a post action has begun (a pre step
#       whose command was cancelled but whose PowerShell went on).
# post: first stops any pre hook still running from a stopped pre step
#       (recorded with its process id while it runs); then runs, last
#       first, every post hook recorded as due, each at most
#       once (claimed by an atomic rename of its record, which names the
#       claiming process and is removed once the hook ran), bounded by its
#       timeout. A claim whose process is gone — stopped while the hook
#       ran — is due again. Every due hook is tried; any failure then fails
#       the step.
#
# The caller defines $SsmBackup (a hashtable) before this text: PolicyName,
# RunId, Action ('pre' or 'post'), and Hooks: 'PRE|POST|SECONDS' entries
# joined by ';', POST empty when there is none (the document's
# allowedPattern admits no other form). The last line of output is one JSON
# object.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Fail([string]$Message) {
    [Console]::Error.WriteLine("ssm-backup: $Message")
    exit 1
}

function Say([string]$Message) {
    [Console]::Out.WriteLine("ssm-backup: $Message")
}

$policy = $SsmBackup.PolicyName
if ($policy -notmatch '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$') { Fail "invalid policy name '$policy'" }
$runId = $SsmBackup.RunId
if ($runId -notmatch '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$') { Fail "invalid run id '$runId'" }
$action = $SsmBackup.Action
if ($action -notin @('pre', 'post')) { Fail "invalid action '$action'" }

$path = '[A-Za-z]:\\(?:[A-Za-z0-9._ -]+\\)*[A-Za-z0-9._ -]+'
$hooks = @()
foreach ($entry in ($SsmBackup.Hooks -split ';')) {
    if ($entry -notmatch "^($path)\|($path)?\|([1-9][0-9]{0,3})$") { Fail "invalid hook '$entry'" }
    $hooks += [pscustomobject]@{ Pre = $Matches[1]; Post = [string]$Matches[2]; Seconds = [int]$Matches[3] }
}

$state = Join-Path $env:ProgramData "ssm-backup\hooks\$policy"
New-Item -ItemType Directory -Path $state -Force | Out-Null
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$myTicks = (Get-Process -Id $PID).StartTime.ToUniversalTime().Ticks
$started = Get-Date
$stopPre = Join-Path $state 'stop-pre'
$stuck = @()

# Invoke-Hook runs one hook, bounded; it returns an error message, or an
# empty string when the hook exited 0. It never throws: a hook that cannot
# be started is a failed hook, and the due post hooks after it still run.
function Invoke-Hook([string]$What, [string]$File, [int]$Seconds) {
    try {
        return (Invoke-HookOnce $What $File $Seconds)
    } catch {
        return "$What hook $File could not be run: $($_.Exception.Message)"
    }
}

function Invoke-HookOnce([string]$What, [string]$File, [int]$Seconds) {
    if (-not (Test-Path -LiteralPath $File -PathType Leaf)) { return "$What hook $File is not a file" }
    # Process.Start keeps the handle CreateProcess returns, so the exit code
    # of a hook that ends at once is still read (the object PowerShell's
    # own cmdlet returns may hold none by then).
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.UseShellExecute = $false
    switch ([System.IO.Path]::GetExtension($File).ToLowerInvariant()) {
        '.ps1' {
            $psi.FileName = Join-Path $PSHOME 'powershell.exe'
            $psi.Arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$File`""
        }
        { $_ -in @('.cmd', '.bat') } {
            $psi.FileName = Join-Path $env:SystemRoot 'System32\cmd.exe'
            $psi.Arguments = "/d /c `"`"$File`"`""
        }
        default { $psi.FileName = $File }
    }
    Say "$What hook $File (at most $Seconds s)"
    $proc = [System.Diagnostics.Process]::Start($psi)
    # A pre hook's process is recorded while it runs: if this step is
    # cancelled and the hook outlives it, the post action stops it before
    # any post hook runs. A hook that cannot be recorded is stopped.
    $running = Join-Path $state "running.$($proc.Id)"
    if ($What -eq 'pre') {
        try {
            Set-Content -LiteralPath $running -Value $File -Encoding Ascii
        } catch {
            Stop-Tree $proc | Out-Null
            return "pre hook $File was stopped: its process could not be recorded ($($_.Exception.Message))"
        }
    }
    try {
        return (Wait-Hook $What $File $Seconds $proc)
    } finally {
        # A hook that could not be stopped stays recorded, for the post
        # action to stop.
        if ($proc.HasExited) { Remove-Item -LiteralPath $running -Force -ErrorAction SilentlyContinue }
    }
}

# Stop-Tree stops a process and its children and waits for it; it returns
# whether the process has ended.
function Stop-Tree($proc) {
    try {
        # Through cmd, so that taskkill's own messages (the process may end
        # just now) never become a PowerShell error.
        & $env:ComSpec /d /c "taskkill /PID $($proc.Id) /T /F >nul 2>&1" | Out-Null
    } catch {
        try { $proc.Kill() } catch { }
    }
    try { return $proc.WaitForExit(10000) } catch { return $true }
}

# Wait-Hook waits for a started hook, bounded, and stops its process tree
# when the time is over.
function Wait-Hook([string]$What, [string]$File, [int]$Seconds, $proc) {
    if (-not $proc.WaitForExit($Seconds * 1000)) {
        if (-not (Stop-Tree $proc)) { return "$What hook $File timed out after $Seconds s and could not be stopped" }
        return "$What hook $File timed out after $Seconds s and was stopped"
    }
    if ($proc.ExitCode -ne 0) { return "$What hook $File failed (exit $($proc.ExitCode))" }
    return ''
}

# Stop-RunningPres stops, with its process tree, every pre hook recorded as
# running whose process is still the one recorded (it started before the
# record): a cancelled pre step's hook must not go on while the post hooks
# run.
function Stop-RunningPres {
    foreach ($record in @(Get-ChildItem -LiteralPath $state -Filter 'running.*' -File)) {
        if ($record.Name -notmatch '^running\.([0-9]{1,9})$') { continue }
        $hook = Get-Process -Id ([int]$Matches[1]) -ErrorAction SilentlyContinue
        # Hooks run as this account, so their start time can be read; a
        # process whose start time cannot be read is not one of them.
        $same = $false
        if ($hook) {
            try { $same = $hook.StartTime -le $record.LastWriteTime } catch { $same = $false }
        }
        if ($same) {
            Say "stopping pre hook $([string](Get-Content -LiteralPath $record.FullName -Raw -ErrorAction SilentlyContinue)) (process $($hook.Id)), still running from a stopped pre step"
            if (-not (Stop-Tree $hook)) {
                $script:stuck += "pre hook process $($hook.Id) could not be stopped"
                continue
            }
        }
        Remove-Item -LiteralPath $record.FullName -Force -ErrorAction SilentlyContinue
    }
}

# Invoke-DuePosts runs every post hook recorded as due, last first, each
# once; it returns the error messages.
function Invoke-DuePosts {
    $errors = @()
    # A pre step still going on (its command was cancelled, its PowerShell
    # not) sees this and starts no further pre hook.
    if ($action -eq 'post') { Set-Content -LiteralPath $stopPre -Value $runId -Encoding Ascii }
    Stop-RunningPres
    $errors += $script:stuck
    # A record claimed by a process that is gone was stopped while its
    # hook ran (a step timeout, a cancellation, a reboot): it is due again.
    foreach ($stale in @(Get-ChildItem -LiteralPath $state -Filter 'claimed.*' -File)) {
        if ($stale.Name -notmatch '^claimed\.([0-9]{1,4})\.([0-9]{1,9})\.([0-9]{1,19})\.[0-9a-f]{32}$') { continue }
        $index, $ownerId, $ownerTicks = $Matches[1], [int]$Matches[2], [long]$Matches[3]
        # The claim names its process by id and start time: a process of
        # that id started at another time is not the claimer.
        $owner = Get-Process -Id $ownerId -ErrorAction SilentlyContinue
        $alive = $false
        if ($owner) {
            try { $alive = $owner.StartTime.ToUniversalTime().Ticks -eq $ownerTicks } catch { $alive = $false }
        }
        if (-not $alive) {
            Move-Item -LiteralPath $stale.FullName -Destination (Join-Path $state ("due.$index." + [guid]::NewGuid().ToString('N'))) -ErrorAction SilentlyContinue
        }
    }
    $due = @(Get-ChildItem -LiteralPath $state -Filter 'due.*' -File |
            Where-Object { $_.Name -match '^due\.([0-9]{1,4})(\.[0-9a-f]{32})?$' } |
            Sort-Object { [int]($_.Name.Split('.')[1]) } -Descending)
    foreach ($record in $due) {
        # The claim names this process, so that a later run can tell a
        # claim whose process was stopped.
        $claimed = Join-Path $state ('claimed.' + $record.Name.Split('.')[1] + ".$PID.$myTicks." + [guid]::NewGuid().ToString('N'))
        try {
            Move-Item -LiteralPath $record.FullName -Destination $claimed
        } catch {
            # Gone: another post run claimed it. Still there: it cannot be
            # claimed, and its hook does not run.
            if (Test-Path -LiteralPath $record.FullName) { $errors += "cannot claim $($record.Name) in ${state}: $($_.Exception.Message)" }
            continue
        }
        try {
            $fields = ([string](Get-Content -LiteralPath $claimed -Raw)).Trim() -split '\|'
        } catch {
            $fields = @()
        }
        if ($fields.Count -ne 3 -or $fields[1] -notmatch "^$path$" -or $fields[2] -notmatch '^[1-9][0-9]{0,3}$') {
            $errors += "unreadable record $($record.Name) in $state, removed"
            Remove-Item -LiteralPath $claimed -Force -ErrorAction SilentlyContinue
            continue
        }
        if ($fields[0] -ne $runId) { Say "post hook $($fields[1]) was left due by run '$($fields[0])'" }
        $script:posted++
        $message = Invoke-Hook 'post' $fields[1] ([int]$fields[2])
        if ($message) { $errors += "$message; the application may still be paused" }
        Remove-Item -LiteralPath $claimed -Force -ErrorAction SilentlyContinue
    }
    return , $errors
}

$ran = 0
$posted = 0
if ($action -eq 'pre') {
    Remove-Item -LiteralPath $stopPre -Force -ErrorAction SilentlyContinue
    $left = Invoke-DuePosts
    if ($left.Count -gt 0) { Fail ("an earlier run's post hooks failed, so nothing is paused again: " + ($left -join '; ')) }
    for ($i = 0; $i -lt $hooks.Count; $i++) {
        $hook = $hooks[$i]
        if ((Test-Path -LiteralPath $stopPre) -and (Get-Item -LiteralPath $stopPre).LastWriteTime -gt $started) {
            Fail 'a post step began while this pre step was still going on: no further pre hook is started'
        }
        if ($hook.Post) {
            # Recorded before the pre hook starts: whatever the pre hook
            # did before it failed or was stopped is undone by its post.
            Set-Content -LiteralPath (Join-Path $state "due.$i") -Value "$runId|$($hook.Post)|$($hook.Seconds)" -Encoding Ascii
        }
        $ran++
        $message = Invoke-Hook 'pre' $hook.Pre $hook.Seconds
        if ($message) { Fail "$message; the runbook runs the due post hooks next" }
    }
} else {
    $errors = Invoke-DuePosts
    if ($errors.Count -gt 0) { Fail ($errors -join '; ') }
}

[pscustomobject]@{
    action  = $action
    pre     = $ran
    post    = $posted
    seconds = [math]::Round($clock.Elapsed.TotalSeconds, 3)
} | ConvertTo-Json -Compress
