# ssm-backup windows-diskshadow.ps1: VSS-consistent EBS snapshots of a
# Windows instance's own volumes with DISKSHADOW, for hosts that cannot use
# AWS's AwsVssComponents.
#
# 1. Before anything is frozen: instance metadata (IMDSv2), the EC2 module
#    of AWS Tools for PowerShell, the NTFS volumes on EBS disks, the
#    DISKSHADOW script, and the CreateSnapshots request.
# 2. DISKSHADOW adds every one of those volumes to ONE shadow set and
#    creates it: VSS freezes the writers and the volumes for the shadow
#    copy (VSS's own limit is ten seconds) and thaws them.
# 3. DISKSHADOW's EXEC step, right after CREATE, signals this process,
#    which makes exactly one request, CreateSnapshots of the instance's
#    volumes, and tells DISKSHADOW at once to go on: the snapshot holds the
#    consistent shadow copies, which a restore reverts to (each snapshot is
#    tagged ssm-backup:vss-shadow-set with its id). DISKSHADOW then deletes
#    the shadow set from the live volumes; a full backup (CopyOnly False)
#    ends with END BACKUP, so the writers learn the backup is complete. A
#    copy-only backup, DISKSHADOW's default, has no BEGIN or END BACKUP.
#    When the request or DISKSHADOW fails, the shadow set is deleted all
#    the same.
#
# The caller defines $SsmBackup (a hashtable) before this text:
#   PolicyName, RunId, Volumes ('all', 'data': no boot disk, 'root': the
#   boot disk only), ExcludeDataVolumeIds (with root: the instance's data
#   volume ids joined by commas, listed by the runbook; else 'none'), CopyOnly,
#   NoWriters, Description, and Tags ("Key=k,Value=v;Key=k2,Value=v2", the
#   document's allowedPattern admits no other form).
# The last line of output is one JSON object: snapshot ids, volumes,
# shadow set id, durations.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Fail([string]$Message) {
    [Console]::Error.WriteLine("ssm-backup: $Message")
    exit 1
}

$policy = $SsmBackup.PolicyName
if ($policy -notmatch '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$') { Fail "invalid policy name '$policy'" }

# --- 1. Everything that can be done before the freeze ---------------------
$imds = if ($env:AWS_EC2_METADATA_SERVICE_ENDPOINT) { $env:AWS_EC2_METADATA_SERVICE_ENDPOINT.TrimEnd('/') } else { 'http://169.254.169.254' }
try {
    $token = Invoke-RestMethod -Method Put -Uri "$imds/latest/api/token" -Headers @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '600' } -TimeoutSec 5
    $meta = @{ 'X-aws-ec2-metadata-token' = $token }
    $instanceId = Invoke-RestMethod -Uri "$imds/latest/meta-data/instance-id" -Headers $meta -TimeoutSec 5
    $region = Invoke-RestMethod -Uri "$imds/latest/meta-data/placement/region" -Headers $meta -TimeoutSec 5
} catch {
    Fail "instance metadata is not reachable at ${imds}: $($_.Exception.Message)"
}

$module = @('AWS.Tools.EC2', 'AWSPowerShell', 'AWSPowerShell.NetCore') | Where-Object { Get-Module -ListAvailable -Name $_ } | Select-Object -First 1
if (-not $module) { Fail 'AWS Tools for PowerShell (AWS.Tools.EC2 or AWSPowerShell) is not installed; install it, or use windows.vss: managed' }
Import-Module $module
$endpoint = @{}
foreach ($name in 'AWS_ENDPOINT_URL_EC2', 'AWS_ENDPOINT_URL') {
    $value = [Environment]::GetEnvironmentVariable($name)
    if ($value) { $endpoint = @{ EndpointUrl = $value }; break }
}

# NTFS volumes on EBS disks. An EBS disk is an NVMe disk whose serial number
# is its volume id ("vol0123..."), or a Xen PV disk; instance store is left
# out. Volumes 'data' leaves out the disk holding the boot or system
# volume; 'root' keeps that disk only, and CreateSnapshots excludes the
# data volumes the runbook listed.
$mode = $SsmBackup.Volumes
if ($mode -notin @('all', 'data', 'root')) { Fail "invalid Volumes '$mode'" }
$excludeIds = @()
if ($SsmBackup.ExcludeDataVolumeIds -and $SsmBackup.ExcludeDataVolumeIds -ne 'none') { $excludeIds = @($SsmBackup.ExcludeDataVolumeIds -split ',') }
if ($excludeIds.Count -gt 0 -and $mode -ne 'root') { Fail 'ExcludeDataVolumeIds is given with Volumes root only' }
$volumes = @()
foreach ($disk in Get-Disk) {
    $ebs = ($disk.SerialNumber -match '^vol[0-9a-f]{8,17}') -or ($disk.FriendlyName -match 'AWS PVDISK|XENSRC PVDISK')
    if (-not $ebs) { continue }
    $boot = $disk.IsBoot -or $disk.IsSystem
    if ($mode -eq 'root' -and -not $boot) {
        # A data disk the runbook did not list was attached since: the
        # snapshot set would hold it without its shadow copy.
        if ($disk.SerialNumber -match '^vol([0-9a-f]{8,17})' -and ('vol-' + $Matches[1]) -notin $excludeIds) {
            Fail "data volume vol-$($Matches[1]) was attached after the runbook listed the instance's volumes; run the backup again"
        }
        continue
    }
    if ($mode -eq 'data' -and $boot) { continue }
    # The volumes the instance uses: NTFS with a drive letter or a mount
    # folder. Recovery and system-reserved partitions (no letter, little
    # free space for shadow storage) are left out; they are in the EBS
    # snapshot all the same. DISKSHADOW gets "D:" for a drive letter and
    # the volume's \\?\Volume{GUID}\ name otherwise: neither has a space or
    # needs quotes.
    foreach ($partition in Get-Partition -DiskNumber $disk.Number -ErrorAction SilentlyContinue) {
        if ($partition.Type -in @('Recovery', 'System', 'Reserved')) { continue }
        $volume = $partition | Get-Volume -ErrorAction SilentlyContinue
        if (-not $volume -or $volume.FileSystem -ne 'NTFS') { continue }
        $paths = @($partition.AccessPaths | Where-Object { $_ })
        $letter = $paths | Where-Object { $_ -match '^[A-Za-z]:\\$' } | Select-Object -First 1
        $folder = $paths | Where-Object { $_ -match '^[A-Za-z]:\\.+' } | Select-Object -First 1
        $guid = $paths | Where-Object { $_ -match '^\\\\\?\\Volume\{[0-9A-Fa-f-]{36}\}\\$' } | Select-Object -First 1
        if ($letter) { $volumes += $letter.Substring(0, 2) }
        elseif ($folder -and $guid) { $volumes += $guid }
    }
}
$volumes = @($volumes | Sort-Object -Unique)
if ($volumes.Count -eq 0) { Fail "no NTFS volume on an EBS disk was found (Volumes $mode)" }
if ($volumes.Count -gt 64) { Fail "$($volumes.Count) volumes: a shadow set holds at most 64" }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ("ssm-backup-" + [guid]::NewGuid().ToString('N'))
New-Item -ItemType Directory -Path $work | Out-Null
$ready = Join-Path $work 'ready'
$done = Join-Path $work 'done'
$failed = Join-Path $work 'failed'

# The EXEC step: report the shadow set (written whole, then renamed, so this
# process never reads half of it), then wait, at most four minutes, for this
# process to make the snapshot call. ping of the loopback address is the
# one-second sleep cmd has without a console.
$signal = Join-Path $work 'signal.cmd'
@(
    '@echo off',
    "echo %VSS_SHADOW_SET%> `"$ready.tmp`"",
    "move /y `"$ready.tmp`" `"$ready`" >nul",
    'set /a n=0',
    ':wait',
    "if exist `"$done`" exit /b 0",
    "if exist `"$failed`" exit /b 1",
    'set /a n+=1',
    'if %n% geq 240 exit /b 1',
    'ping -n 2 127.0.0.1 >nul',
    'goto wait'
) | Set-Content -Path $signal -Encoding Ascii

# PERSISTENT: the shadow copies outlive DISKSHADOW (they must still be on
# the volumes when the snapshots are taken), made with the application
# writers unless NoWriters. (CLIENTACCESSIBLE, the only context REVERT
# accepts, is made without writers: a restore exposes the shadow copy and
# copies from it instead.)
$context = 'SET CONTEXT PERSISTENT'
if ($SsmBackup.NoWriters -eq 'True') { $context += ' NOWRITERS' }
# A copy backup is DISKSHADOW's default; BEGIN BACKUP makes it a full one
# (which SQL Server records as the base of its differential backups), so a
# copy-only run has no BEGIN and END BACKUP.
$full = $SsmBackup.CopyOnly -ne 'True'
$script = @('SET VERBOSE ON', $context)
$script += "SET METADATA `"$(Join-Path $work 'backup.cab')`""
if ($full) { $script += 'BEGIN BACKUP' }
$i = 0
foreach ($v in $volumes) { $script += "ADD VOLUME $v ALIAS ssmb$i"; $i++ }
$script += @('CREATE', "EXEC `"$signal`"", 'DELETE SHADOWS SET %VSS_SHADOW_SET%')
if ($full) { $script += 'END BACKUP' }
$script += 'EXIT'
$dsh = Join-Path $work 'backup.dsh'
$script | Set-Content -Path $dsh -Encoding Ascii

$tags = @(
    @{ Key = 'ssm-backup:policy'; Value = $policy },
    @{ Key = 'ssm-backup:instance-id'; Value = $instanceId },
    @{ Key = 'ssm-backup:consistency'; Value = 'application' }
)
if ($SsmBackup.RunId) { $tags += @{ Key = 'ssm-backup:run-id'; Value = $SsmBackup.RunId } }
foreach ($pair in ($SsmBackup.Tags -split ';')) {
    if (-not $pair) { continue }
    if ($pair -notmatch '^Key=([^,=;]+),Value=([^,=;]*)$') { Fail "invalid tag '$pair'" }
    $tags += @{ Key = $Matches[1]; Value = $Matches[2] }
}
$tagSpec = New-Object Amazon.EC2.Model.TagSpecification
$tagSpec.ResourceType = 'snapshot'
# AWS Tools v5 (AWS SDK for .NET v4) leaves collection properties null.
$tagSpec.Tags = New-Object 'System.Collections.Generic.List[Amazon.EC2.Model.Tag]'
foreach ($t in $tags) { $tagSpec.Tags.Add((New-Object Amazon.EC2.Model.Tag -ArgumentList $t.Key, $t.Value)) }
$request = @{
    InstanceSpecification_InstanceId        = $instanceId
    InstanceSpecification_ExcludeBootVolume = ($mode -eq 'data')
    Description                             = $SsmBackup.Description
    TagSpecification                        = $tagSpec
    Region                                  = $region
}
if ($excludeIds.Count -gt 0) { $request.InstanceSpecification_ExcludeDataVolumeId = [string[]]$excludeIds }

# Start-Diskshadow starts diskshadow.exe with these arguments. Process.Start
# keeps the handle CreateProcess returns, so the exit code of a run that
# ends at once is still read.
function Start-Diskshadow([string]$Arguments) {
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = Join-Path $env:SystemRoot 'System32\diskshadow.exe'
    $psi.Arguments = $Arguments
    $psi.UseShellExecute = $false
    return [System.Diagnostics.Process]::Start($psi)
}

# Find-ShadowSet is the id of the shadow set DISKSHADOW made, from the
# EXEC step's report or DISKSHADOW's log; '' when there is none.
function Find-ShadowSet {
    foreach ($file in @($ready, "$ready.tmp")) {
        $text = [string](Get-Content -Path $file -Raw -ErrorAction SilentlyContinue)
        if ($text -match '([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})') { return $Matches[1] }
    }
    $text = [string](Get-Content -Path $log -Raw -ErrorAction SilentlyContinue)
    if ($text -match 'VSS_SHADOW_SET for shadow set ID \{([0-9A-Fa-f-]{36})\}') { return $Matches[1] }
    return ''
}

# Remove-ShadowSet deletes a shadow set DISKSHADOW left on the volumes; it
# returns '' or what the operator must do.
function Remove-ShadowSet([string]$Id) {
    if ($Id -notmatch '^[0-9A-Fa-f-]{36}$') { return '' }
    try {
        $clean = Join-Path $work 'cleanup.dsh'
        @("DELETE SHADOWS SET {$Id}", 'EXIT') | Set-Content -Path $clean -Encoding Ascii
        $cleanup = Start-Diskshadow "/s `"$clean`""
        if (-not $cleanup.WaitForExit(120000)) { $cleanup.Kill(); $cleanup.WaitForExit() }
        if ($cleanup.ExitCode -eq 0) { return "; shadow set {$Id} deleted" }
        $code = $cleanup.ExitCode
    } catch {
        $code = $_.Exception.Message
    }
    return "; deleting shadow set {$Id} ended with ${code}: if diskshadow's LIST SHADOWS SET {$Id} still lists it, delete it with DELETE SHADOWS SET {$Id}"
}

# --- 2. and 3. The shadow set, and the one request ------------------------
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$log = Join-Path $work 'diskshadow.log'
$proc = Start-Diskshadow "/s `"$dsh`" /l `"$log`""
while (-not (Test-Path $ready)) {
    if ($proc.HasExited) {
        Get-Content -Path $log -ErrorAction SilentlyContinue | Write-Output
        Fail ("DISKSHADOW ended with exit code $($proc.ExitCode) before it reported the shadow set" + (Remove-ShadowSet (Find-ShadowSet)))
    }
    if ($clock.Elapsed.TotalSeconds -gt 300) {
        $proc.Kill()
        $proc.WaitForExit()
        Get-Content -Path $log -ErrorAction SilentlyContinue | Write-Output
        Fail ('DISKSHADOW did not create the shadow set within 5 minutes' + (Remove-ShadowSet (Find-ShadowSet)))
    }
    Start-Sleep -Milliseconds 50
}
$shadowSet = ''
$createdAt = $clock.Elapsed.TotalSeconds
$callStart = $clock.Elapsed.TotalSeconds
try {
    $shadowSet = ([string](Get-Content -Path $ready -Raw)).Trim().Trim('{', '}')
    if ($shadowSet -notmatch '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$') {
        throw "DISKSHADOW reported the shadow set id '$shadowSet', not a GUID"
    }
    # A restore finds the shadow copies to revert to by this tag.
    $tagSpec.Tags.Add((New-Object Amazon.EC2.Model.Tag -ArgumentList 'ssm-backup:vss-shadow-set', $shadowSet))
    $response = New-EC2SnapshotBatch @request @endpoint
    New-Item -ItemType File -Path $done | Out-Null
} catch {
    New-Item -ItemType File -Path $failed | Out-Null
    $callError = $_.Exception.Message
}
$callSeconds = $clock.Elapsed.TotalSeconds - $callStart
if (-not $proc.WaitForExit(120000)) { $proc.Kill(); $proc.WaitForExit() }
Get-Content -Path $log -ErrorAction SilentlyContinue | Write-Output
# A failed EXEC makes DISKSHADOW exit before DELETE SHADOWS SET: the
# shadow copies must not stay on the live volumes.
$leftOver = ''
if ($proc.ExitCode -ne 0) {
    if (-not $shadowSet) { $shadowSet = Find-ShadowSet }
    $leftOver = Remove-ShadowSet $shadowSet
}
Remove-Item -Path $work -Recurse -Force -ErrorAction SilentlyContinue
if (Test-Path variable:callError) { Fail "CreateSnapshots failed: $callError$leftOver" }
if ($proc.ExitCode -ne 0) { Fail "DISKSHADOW ended with exit code $($proc.ExitCode) after the snapshots were requested$leftOver" }

[pscustomobject]@{
    snapshotIds     = @($response | ForEach-Object { $_.SnapshotId })
    volumes         = $volumes
    volumeSet       = $mode
    excludedVolumes = $excludeIds
    shadowSetId     = $shadowSet
    shadowSeconds   = [math]::Round($createdAt, 3)
    requestSeconds  = [math]::Round($callSeconds, 3)
    consistency     = 'application'
} | ConvertTo-Json -Compress
