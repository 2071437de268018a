#!/bin/bash
# linux-snapshot.sh: a Linux EC2 instance takes a crash- or file-system-
# consistent set of EBS snapshots of its own volumes, with one CreateSnapshots
# request.
#
# Part of ssm-backup. The Command document runs this file through
# aws:runShellScript; the lines the document puts right after the first line
# assign its parameters to the SSMB_* variables below. Run by hand, set them in
# the environment instead, for example:
#
#   SSMB_POLICY=db-fleet SSMB_MOUNTS=/var/lib/mysql ./linux-snapshot.sh
#
# Inputs (validated again here; the document's allowedPatterns come first):
#   SSMB_POLICY              policy name, tagged ssm-backup:policy ([a-z0-9-]{1,40})
#   SSMB_CONSISTENCY         crash | filesystem (default filesystem)
#   SSMB_EXCLUDE_BOOT_VOLUME true | false (default false)
#   SSMB_MOUNTS              space-separated mount points to freeze; empty:
#                            every ext4/xfs file system on a data EBS volume
#   SSMB_MAX_FREEZE_SECONDS  freeze budget, 1..60 (default 10)
#   SSMB_TAGS                user tags: [{"Key":"k","Value":"v"},...] (default [])
#   SSMB_RUN_ID              Automation execution id, tagged ssm-backup:run-id
#   SSMB_CLIENT              auto | curl | cli (default auto)
# Environment honoured: AWS_EC2_METADATA_SERVICE_ENDPOINT (instance metadata),
# AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL (EC2 API).
#
# Order of work. Everything that can happen before the freeze does: metadata
# (IMDSv2), role credentials, the volume map, the freeze plan and both request
# bodies. Then: quiesce_apps, sync, start a watchdog in its own session, freeze
# the planned file systems (children before parents), send exactly one
# CreateSnapshots request, thaw at once when it returns (parents before
# children), resume_apps, stop the watchdog. Snapshot completion is never
# awaited: EBS fixes the point in time when the request is accepted.
#
# Never frozen: /, the file system holding this script, the SSM agent
# (/var/lib/amazon/ssm, /usr/bin/amazon-ssm-agent, /snap/amazon-ssm-agent) and
# its logs (/var/log/amazon), /tmp, this script's state directory and any file
# its output is redirected to. They are recognised by device number, not path.
# Discovery looks at data volumes only: the boot volume holds /, so with
# ExcludeBootVolume false its snapshot is crash-consistent, and the
# ssm-backup:consistency tag describes the data volumes.
#
# Tags, requested at creation: ssm-backup:policy, ssm-backup:instance-id,
# ssm-backup:run-id (when set), ssm-backup:consistency, then the user's.
# CopyTagsFromSource is not used: the request carries exactly the tags the
# IAM policy expects, and each snapshot records its VolumeId anyway.
#
# Consistency reached (tag ssm-backup:consistency, and "consistency" below):
# "filesystem" when consistency filesystem was asked for and every file system
# of the plan froze; "crash" otherwise (an explicit mount that had to be
# skipped, a data file system that may not be frozen, a failed freeze, or
# nothing to freeze). Each reason is printed on stderr and listed in the result.
#
# Release is guaranteed three ways: the script thaws as soon as the request
# returns; a trap on EXIT, ERR, INT, TERM and HUP thaws; a watchdog started
# with setsid (it survives SIGKILL of this script) thaws every file system of
# the plan SSMB_MAX_FREEZE_SECONDS after it starts, which is before the first
# freeze. The request is bounded to what is left of that budget less a margin
# to thaw (a fifth of it, at least 1 s; half of a budget under 2 s).
#
# Output: progress on stderr; the last line of stdout is one JSON object:
#   {"status":"ok","policy":...,"instanceId":"i-...","snapshotIds":["snap-..."],
#    "consistency":"filesystem","frozen":["/data"],"freezeMs":12,"client":"curl",...}
# freezeMs is the window from the first freeze to the last thaw; requestMs is
# the part of it spent on the request (and the thaw).
# Exit status: 0 when the snapshots were requested within the budget; 1 when
# anything failed (the result then has "status":"error" and a "message");
# 128+N when stopped by signal N. A run that did not exit 0 must not be
# trusted: snapshots it may have created (listed when known, tagged with its
# ssm-backup:run-id) carry the consistency tag chosen before the request, and
# the caller treats them as crash-consistent or deletes them.
#
# Portable to bash 4.2 (Amazon Linux 2): no EPOCHREALTIME reliance, no
# namerefs, empty arrays expanded as ${a[@]+"${a[@]}"}.
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -Eeuo pipefail
export LC_ALL=C
umask 077

: "${SSMB_POLICY:=}"
: "${SSMB_CONSISTENCY:=filesystem}"
: "${SSMB_EXCLUDE_BOOT_VOLUME:=false}"
: "${SSMB_MOUNTS:=}"
: "${SSMB_MAX_FREEZE_SECONDS:=10}"
: "${SSMB_TAGS:=[]}"
: "${SSMB_RUN_ID:=}"
: "${SSMB_CLIENT:=auto}"

readonly TAG_PREFIX=ssm-backup
readonly MAX_USER_TAGS=40
readonly IMDS_TIMEOUT_SECONDS=3
readonly UNFROZEN_CALL_TIMEOUT_MS=30000
readonly LOCK_SLACK_SECONDS=30

# ---------------------------------------------------------------------------
# Result, reported by report_result as the last line of stdout.
status=error
message=""
instance_id=""
region=""
client=""
consistency=crash
freeze_ms=0
request_ms=0
budget_exceeded=false
result_printed=false
declare -a snapshot_ids=() frozen=() skipped=() warnings=()

# State of the run.
started_ms=""
state_dir=""
script_dir=""
watchdog_pid=""
client_pid=""
apps_quiesced=false
freeze_started_ms=""
declare -a holding=()       # frozen or being frozen, in freeze order
declare -a plan=()          # file systems to freeze, in freeze order
lowered=false               # a reason to report crash rather than filesystem

# log MESSAGE: progress on stderr, stamped with the seconds since the start.
log() {
  local now
  now_ms now
  now=$((now - started_ms))
  printf 'ssm-backup: %d.%03ds %s\n' $((now / 1000)) $((now % 1000)) "$*" >&2
}
warn() {
  log "WARNING: $*"
  warnings+=("$*")
}
# die MESSAGE: fail the run (the EXIT trap thaws and reports). Main shell only.
die() {
  [[ -n $message ]] || message=$*
  log "ERROR: $*"
  exit 1
}
skip_mount() { # PATH REASON [lowers]
  log "not freezing $1: $2"
  skipped+=("$1: $2")
  if [[ ${3:-} == lowers ]]; then lowered=true; fi
}

# now_ms VAR: sets VAR to the wall clock in milliseconds.
now_ms() {
  local us
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    us=${EPOCHREALTIME/[.,]/}
    printf -v "$1" '%d' "$((10#$us / 1000))"
  else
    printf -v "$1" '%s' "$(date +%s%3N)"
  fi
}

# ---------------------------------------------------------------------------
# JSON and form encoding (pure bash: they also run after the thaw, never in it).
json_string() { # VALUE → quoted JSON string on stdout
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[$'\x01'-$'\x1f']/ }
  printf '"%s"' "$s"
}
# shellcheck disable=SC2317 # reached from report_result, run by the EXIT trap
json_array() { # VALUES... → JSON array of strings on stdout
  local sep="" v
  printf '['
  for v in "$@"; do
    printf '%s' "$sep"
    json_string "$v"
    sep=,
  done
  printf ']'
}
# urlencode VAR VALUE: sets VAR to VALUE percent-encoded for a form body.
urlencode() {
  local s=$2 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf -v "$1" '%s' "$out"
}

# shellcheck disable=SC2317 # run by the EXIT trap
report_result() {
  [[ $result_printed == false ]] || return 0
  result_printed=true
  local out
  out="{\"status\":$(json_string "$status")"
  if [[ -n $message ]]; then out+=",\"message\":$(json_string "$message")"; fi
  out+=",\"policy\":$(json_string "$SSMB_POLICY")"
  out+=",\"instanceId\":$(json_string "$instance_id")"
  out+=",\"region\":$(json_string "$region")"
  out+=",\"runId\":$(json_string "$SSMB_RUN_ID")"
  out+=",\"client\":$(json_string "$client")"
  out+=",\"requestedConsistency\":$(json_string "$SSMB_CONSISTENCY")"
  out+=",\"consistency\":$(json_string "$consistency")"
  out+=",\"snapshotIds\":$(json_array ${snapshot_ids[@]+"${snapshot_ids[@]}"})"
  out+=",\"frozen\":$(json_array ${frozen[@]+"${frozen[@]}"})"
  out+=",\"skipped\":$(json_array ${skipped[@]+"${skipped[@]}"})"
  out+=",\"freezeMs\":$freeze_ms"
  out+=",\"requestMs\":$request_ms"
  local budget=0
  if [[ $SSMB_MAX_FREEZE_SECONDS =~ ^[0-9]{1,2}$ ]]; then budget=$((10#$SSMB_MAX_FREEZE_SECONDS)); fi
  out+=",\"maxFreezeSeconds\":$budget"
  out+=",\"budgetExceeded\":$budget_exceeded"
  out+=",\"warnings\":$(json_array ${warnings[@]+"${warnings[@]}"})}"
  printf '%s\n' "$out"
}

# ---------------------------------------------------------------------------
# Application quiescing: extension points, empty for now.
#
# quiesce_apps runs after the request is built and before sync and the freeze;
# resume_apps runs right after the thaw and from the EXIT trap whenever
# quiesce_apps ran, also on failure and on signals. A database lock must be
# held by a session that stays open until resume_apps (a `mysql -e` that exits
# releases FLUSH TABLES WITH READ LOCK at once), must be bounded by the same
# budget, and must be released by the watchdog too if this script dies.
quiesce_apps() { :; }
resume_apps() { :; }

# ---------------------------------------------------------------------------
# Freeze, thaw, watchdog.

# watchdog_main BUDGET STATE_DIR OWNER_PID: runs detached (setsid). After
# BUDGET seconds it thaws, last first, every file system listed in
# STATE_DIR/frozen (the script writes each one there before freezing it), and
# removes STATE_DIR when the script is gone. It holds the script's lock
# (inherited descriptor) until it ends, so no new run starts while a file
# system of a killed run may still be frozen. The script stops it once it has
# thawed everything.
# shellcheck disable=SC2317 # runs in the watchdog process, started from declare -f
watchdog_main() {
  local budget=$1 dir=$2 owner=$3 i
  local -a mounts=()
  sleep "$budget"
  if [[ -f $dir/frozen ]]; then
    mapfile -t mounts <"$dir/frozen"
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    if fsfreeze -u "${mounts[i]}" 2>/dev/null; then
      logger -t ssm-backup "watchdog: thawed ${mounts[i]} after ${budget}s" 2>/dev/null || true
    fi
  done
  if ! kill -0 "$owner" 2>/dev/null; then
    rm -rf -- "$dir"
  fi
}

start_watchdog() {
  local code
  code="$(declare -f watchdog_main)"$'\n''watchdog_main "$@"'
  setsid bash -c "$code" ssm-backup-watchdog "$SSMB_MAX_FREEZE_SECONDS" "$state_dir" "$$" \
    </dev/null >/dev/null 2>&1 &
  watchdog_pid=$!
}

stop_watchdog() {
  [[ -n $watchdog_pid ]] || return 0
  # The watchdog leads its own process group (setsid): stop it and its sleep.
  kill -TERM -- "-$watchdog_pid" 2>/dev/null || kill -TERM "$watchdog_pid" 2>/dev/null || true
  wait "$watchdog_pid" 2>/dev/null || true
  watchdog_pid=""
}

# record_intent: STATE_DIR/frozen lists what the watchdog must thaw.
record_intent() {
  if ((${#holding[@]} > 0)); then
    printf '%s\n' "${holding[@]}" >"$state_dir/frozen"
  else
    : >"$state_dir/frozen"
  fi
}

# freeze_all freezes the plan in order. A file system enters holding (and the
# watchdog's list) before fsfreeze runs, so that a signal or a SIGKILL at any
# point leaves it known to the trap and to the watchdog; it leaves holding
# only once fsfreeze has failed or the thaw has succeeded.
freeze_all() {
  local m err
  now_ms freeze_started_ms
  for m in ${plan[@]+"${plan[@]}"}; do
    holding+=("$m")
    record_intent
    if err=$(fsfreeze -f "$m" 2>&1); then
      frozen+=("$m")
    else
      unset 'holding[${#holding[@]}-1]'
      record_intent
      skip_mount "$m" "fsfreeze -f failed: ${err:-unknown error}" lowers
    fi
  done
}

# thaw_all thaws what is held, last frozen first. Idempotent; safe in traps.
# "Not frozen" counts as thawed: either a signal came between fsfreeze -f and
# the bookkeeping, or, once the budget is over, the watchdog was first.
thaw_all() {
  local i m err now
  local -a still=()
  ((${#holding[@]} > 0)) || return 0
  for ((i = ${#holding[@]} - 1; i >= 0; i--)); do
    m=${holding[i]}
    if err=$(fsfreeze -u "$m" 2>&1); then
      :
    elif [[ $err == *"Invalid argument"* ]]; then
      now_ms now
      if ((now - freeze_started_ms >= SSMB_MAX_FREEZE_SECONDS * 1000)); then
        budget_exceeded=true
        warn "$m was no longer frozen: the watchdog thawed it"
      fi
    else
      still=("$m" ${still[@]+"${still[@]}"})
      log "ERROR: could not thaw $m: $err"
      [[ -n $message ]] || message="could not thaw $m: $err"
    fi
  done
  holding=(${still[@]+"${still[@]}"})
  record_intent 2>/dev/null || true
  now_ms now
  freeze_ms=$((now - freeze_started_ms))
  if ((${#holding[@]} == 0)); then
    log "thawed after ${freeze_ms} ms"
  else
    status=error
    log "ERROR: still frozen: ${holding[*]}; the watchdog thaws them within ${SSMB_MAX_FREEZE_SECONDS}s of the freeze"
  fi
}

# ---------------------------------------------------------------------------
# Traps.
# shellcheck disable=SC2317 # trap handler
on_err() { # LINE COMMAND
  [[ $BASHPID == "$$" ]] || return 0
  [[ -n $message ]] || message="unexpected failure at line $1: $2"
  thaw_all
}
# shellcheck disable=SC2317 # trap handler
on_signal() { # NAME EXIT_CODE
  trap '' INT TERM HUP
  message="interrupted by SIG$1"
  log "ERROR: $message"
  if [[ -n $client_pid ]]; then kill -TERM "$client_pid" 2>/dev/null || true; fi
  thaw_all
  exit "$2"
}
# shellcheck disable=SC2317 # trap handler
on_exit() {
  local rc=$?
  set +e
  trap - ERR
  trap '' INT TERM HUP
  thaw_all
  if [[ $apps_quiesced == true ]]; then
    resume_apps
    apps_quiesced=false
  fi
  if ((${#holding[@]} == 0)); then
    stop_watchdog
  fi
  if [[ $status != ok ]] && ((rc == 0)); then rc=1; fi
  if [[ $status == ok ]] && ((rc != 0)); then status=error; fi
  if [[ $status != ok && -z $message ]]; then message="failed with exit status $rc"; fi
  report_result
  # With a file system still frozen the watchdog needs the state directory; it
  # removes it itself.
  if [[ -n $state_dir && ${#holding[@]} -eq 0 ]]; then rm -rf -- "$state_dir"; fi
  exit "$rc"
}
now_ms started_ms
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP
trap on_exit EXIT

# ---------------------------------------------------------------------------
# Inputs.
declare -a user_tag_keys=() user_tag_values=() requested_mounts=()

validate_inputs() {
  [[ $SSMB_POLICY =~ ^[a-z0-9-]+$ && ${#SSMB_POLICY} -le 40 ]] || die "SSMB_POLICY must be 1-40 of a-z 0-9 -"
  [[ $SSMB_CONSISTENCY == crash || $SSMB_CONSISTENCY == filesystem ]] ||
    die "SSMB_CONSISTENCY must be crash or filesystem"
  [[ $SSMB_EXCLUDE_BOOT_VOLUME == true || $SSMB_EXCLUDE_BOOT_VOLUME == false ]] ||
    die "SSMB_EXCLUDE_BOOT_VOLUME must be true or false"
  [[ $SSMB_MAX_FREEZE_SECONDS =~ ^([1-9]|[1-5][0-9]|60)$ ]] ||
    die "SSMB_MAX_FREEZE_SECONDS must be a whole number of seconds from 1 to 60"
  [[ $SSMB_RUN_ID =~ ^[A-Za-z0-9-]*$ && ${#SSMB_RUN_ID} -le 64 ]] || die "SSMB_RUN_ID must be 0-64 of A-Z a-z 0-9 -"
  [[ $SSMB_CLIENT == auto || $SSMB_CLIENT == curl || $SSMB_CLIENT == cli ]] ||
    die "SSMB_CLIENT must be auto, curl or cli"
  local m mounts_re='^(/[A-Za-z0-9._/-]*( /[A-Za-z0-9._/-]*)*)?$'
  local -a words=()
  [[ $SSMB_MOUNTS =~ $mounts_re ]] ||
    die "SSMB_MOUNTS must be absolute paths of letters, digits and . _ / -, separated by single spaces"
  read -r -a words <<<"$SSMB_MOUNTS"
  for m in ${words[@]+"${words[@]}"}; do requested_mounts+=("$m"); done
  parse_tags "$SSMB_TAGS"
}

parse_tags() {
  local s=$1 key value
  local item_re='^\{"Key":"([^"]*)","Value":"([^"]*)"\}(,?)'
  local chars_re='^[A-Za-z0-9 _.:/=+@-]*$'
  local -A seen=()
  [[ $s == '['*']' ]] || die 'SSMB_TAGS must be a JSON array: [{"Key":"k","Value":"v"},...]'
  s=${s#[}
  s=${s%]}
  while [[ -n $s ]]; do
    [[ $s =~ $item_re ]] || die 'SSMB_TAGS must be a JSON array: [{"Key":"k","Value":"v"},...]'
    key=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    s=${s:${#BASH_REMATCH[0]}}
    if [[ -z ${BASH_REMATCH[3]} && -n $s ]] || [[ -n ${BASH_REMATCH[3]} && -z $s ]]; then
      die 'SSMB_TAGS must be a JSON array: [{"Key":"k","Value":"v"},...]'
    fi
    [[ $key =~ $chars_re && ${#key} -ge 1 && ${#key} -le 128 ]] || die "SSMB_TAGS: key \"$key\": 1-128 of A-Z a-z 0-9 space _ . : / = + @ -"
    [[ $value =~ $chars_re && ${#value} -le 256 ]] || die "SSMB_TAGS: value of \"$key\": 0-256 of A-Z a-z 0-9 space _ . : / = + @ -"
    [[ $key != aws:* && $key != "$TAG_PREFIX:"* ]] || die "SSMB_TAGS: key \"$key\" is reserved"
    [[ -z ${seen[$key]:-} ]] || die "SSMB_TAGS: key \"$key\" appears twice"
    seen[$key]=1
    user_tag_keys+=("$key")
    user_tag_values+=("$value")
  done
  ((${#user_tag_keys[@]} <= MAX_USER_TAGS)) || die "SSMB_TAGS: at most $MAX_USER_TAGS tags"
}

# ---------------------------------------------------------------------------
# Instance metadata (IMDSv2), before the freeze.
imds_base=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
imds_base=${imds_base%/}
imds_token=""

# Instance metadata is link-local: never through a proxy (http_proxy and the
# like stay in force for the EC2 API, which may need one).
imds_get() { # PATH → value on stdout; fails on HTTP errors
  curl -sS -f --noproxy '*' --connect-timeout 1 --max-time "$IMDS_TIMEOUT_SECONDS" --retry 2 \
    -H "X-aws-ec2-metadata-token: $imds_token" "$imds_base/latest/meta-data/$1"
}

read_metadata() {
  imds_token=$(curl -sS -f --noproxy '*' --connect-timeout 1 --max-time "$IMDS_TIMEOUT_SECONDS" --retry 2 \
    -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds_base/latest/api/token") ||
    die "no IMDSv2 token from $imds_base (is instance metadata enabled?)"
  instance_id=$(imds_get instance-id) || die "cannot read instance-id from instance metadata"
  [[ $instance_id =~ ^i-[0-9a-f]{8,17}$ ]] || die "unexpected instance id \"$instance_id\""
  region=$(imds_get placement/region) || die "cannot read placement/region from instance metadata"
  [[ $region =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || die "unexpected region \"$region\""
}

ec2_endpoint=""
choose_endpoint() {
  local domain
  if [[ -n ${AWS_ENDPOINT_URL_EC2:-} ]]; then
    ec2_endpoint=$AWS_ENDPOINT_URL_EC2
  elif [[ -n ${AWS_ENDPOINT_URL:-} ]]; then
    ec2_endpoint=$AWS_ENDPOINT_URL
  else
    domain=$(imds_get services/domain 2>/dev/null) || domain=amazonaws.com
    [[ $domain =~ ^[a-z0-9.-]+$ ]] || domain=amazonaws.com
    ec2_endpoint="https://ec2.$region.$domain"
  fi
  ec2_endpoint=${ec2_endpoint%/}
}

role_access_key=""
role_secret_key=""
role_token=""
read_role_credentials() {
  local role doc re
  role=$(imds_get iam/security-credentials/ 2>/dev/null) || return 0
  role=${role%%$'\n'*}
  [[ $role =~ ^[A-Za-z0-9+=,.@_-]+$ && ${#role} -le 128 ]] || return 0
  doc=$(imds_get "iam/security-credentials/$role" 2>/dev/null) || return 0
  # Bounded repetitions ({16,8192}) make glibc's regex compile slow: match
  # the characters, check the lengths apart. Base64 only, so the values are
  # safe in curl's config file.
  re='"AccessKeyId"[[:space:]]*:[[:space:]]*"([A-Z0-9]+)"'
  [[ $doc =~ $re && ${#BASH_REMATCH[1]} -ge 16 && ${#BASH_REMATCH[1]} -le 128 ]] || return 0
  role_access_key=${BASH_REMATCH[1]}
  re='"SecretAccessKey"[[:space:]]*:[[:space:]]*"([A-Za-z0-9/+=]+)"'
  [[ $doc =~ $re && ${#BASH_REMATCH[1]} -ge 16 && ${#BASH_REMATCH[1]} -le 256 ]] || return 0
  role_secret_key=${BASH_REMATCH[1]}
  re='"Token"[[:space:]]*:[[:space:]]*"([A-Za-z0-9/+=]+)"'
  [[ $doc =~ $re && ${#BASH_REMATCH[1]} -ge 16 && ${#BASH_REMATCH[1]} -le 8192 ]] || return 0
  role_token=${BASH_REMATCH[1]}
}

curl_has_sigv4() { # curl >= 7.75 signs requests with --aws-sigv4
  local v
  v=$(curl --version 2>/dev/null) || return 1
  [[ $v =~ ^curl\ ([0-9]+)\.([0-9]+) ]] || return 1
  ((BASH_REMATCH[1] > 7 || (BASH_REMATCH[1] == 7 && BASH_REMATCH[2] >= 75)))
}

aws_bin=""
choose_client() {
  local curl_ok=false
  if curl_has_sigv4; then curl_ok=true; fi
  aws_bin=$(command -v aws 2>/dev/null) || aws_bin=""
  case $SSMB_CLIENT in
    curl)
      [[ $curl_ok == true ]] || die "client curl needs curl 7.75 or later (--aws-sigv4)"
      [[ -n $role_access_key ]] || die "client curl needs role credentials from instance metadata"
      client=curl
      ;;
    cli)
      [[ -n $aws_bin ]] || die "client cli needs the aws command on PATH"
      client=cli
      ;;
    auto)
      if [[ $curl_ok == true && -n $role_access_key ]]; then
        client=curl
      elif [[ -n $aws_bin ]]; then
        client=cli
      else
        die "no client: curl older than 7.75 or no role credentials in instance metadata, and no aws command"
      fi
      ;;
  esac
  log "client: $client"
}

# ---------------------------------------------------------------------------
# The freeze plan, before the freeze.
declare -A protected=()   # device number → what it holds
declare -A ebs_disks=()   # kernel name of a whole disk → 1
declare -A boot_disks=()  # kernel name of a whole disk under / → 1
declare -a leaves=()

protect() { # PATH REASON
  local dev
  dev=$(stat -L -c %d -- "$1" 2>/dev/null) || return 0
  [[ -n ${protected[$dev]:-} ]] || protected[$dev]=$2
}

protect_essentials() {
  local fd
  protect / "the root file system"
  protect "$script_dir" "this script"
  protect /var/lib/amazon/ssm "the SSM agent's state"
  protect /usr/bin/amazon-ssm-agent "the SSM agent"
  protect /snap/amazon-ssm-agent "the SSM agent"
  protect /var/snap/amazon-ssm-agent "the SSM agent's state"
  protect /var/log/amazon "the SSM agent's logs"
  protect /tmp "/tmp"
  protect "$state_dir" "this script's state directory"
  for fd in 1 2; do
    if [[ -f /proc/$$/fd/$fd ]]; then protect "/proc/$$/fd/$fd" "this script's output"; fi
  done
}

# add_leaves KNAME: appends to leaves the whole disks under block device KNAME
# (a partition → its disk; device-mapper or md → their members).
add_leaves() {
  local k=$1 parent s
  local -a members=()
  if [[ -e /sys/class/block/$k/partition ]]; then
    parent=$(readlink -f "/sys/class/block/$k/..")
    k=${parent##*/}
  fi
  members=(/sys/class/block/"$k"/slaves/*)
  if [[ -e ${members[0]} ]]; then
    for s in "${members[@]}"; do add_leaves "${s##*/}"; done
  else
    leaves+=("$k")
  fi
}

kname_of() { # MAJ:MIN → kernel name on stdout
  local p
  p=$(readlink -f "/sys/dev/block/$1") || return 1
  printf '%s' "${p##*/}"
}

# find_ebs_disks: the EBS volumes of this instance. Nitro: NVMe disks whose
# model is Amazon Elastic Block Store (serial vol...). Xen, and hot-plug
# aliases: the devices named by the instance metadata block-device-mapping
# (sdX is xvdX on Xen), resolved through udev symlinks.
find_ebs_disks() {
  local d model link name dev candidate real
  for d in /sys/block/nvme*; do
    [[ -e $d/device/model ]] || continue
    model=$(<"$d/device/model")
    if [[ $model == "Amazon Elastic Block Store"* ]]; then ebs_disks[${d##*/}]=1; fi
  done
  for link in /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol*; do
    [[ -e $link ]] || continue
    real=$(readlink -f "$link")
    leaves=()
    add_leaves "${real##*/}"
    ebs_disks[${leaves[0]}]=1
  done
  local -a names=()
  mapfile -t names < <(imds_get block-device-mapping/ 2>/dev/null || true)
  for name in ${names[@]+"${names[@]}"}; do
    [[ $name == ami || $name == root || $name == ebs* ]] || continue
    dev=$(imds_get "block-device-mapping/$name" 2>/dev/null) || continue
    dev=${dev#/dev/}
    [[ $dev =~ ^[a-z0-9]+$ ]] || continue
    for candidate in "/dev/$dev" "/dev/xvd${dev#sd}"; do
      [[ -b $candidate ]] || continue
      real=$(readlink -f "$candidate")
      leaves=()
      add_leaves "${real##*/}"
      for d in "${leaves[@]}"; do ebs_disks[$d]=1; done
    done
  done
}

find_boot_disks() {
  local majmin k
  majmin=$(findmnt -rn -o MAJ:MIN --mountpoint / 2>/dev/null | tail -n 1) || return 0
  k=$(kname_of "$majmin") || return 0
  leaves=()
  add_leaves "$k"
  for k in "${leaves[@]}"; do boot_disks[$k]=1; done
}

# on_data_ebs MAJ:MIN: true when every disk under the device is an EBS volume
# of this instance and none is the boot disk.
on_data_ebs() {
  local k d
  k=$(kname_of "$1") || return 1
  leaves=()
  add_leaves "$k"
  for d in "${leaves[@]}"; do
    [[ -n ${ebs_disks[$d]:-} && -z ${boot_disks[$d]:-} ]] || return 1
  done
}

declare -A planned_devs=()
# consider PATH ORIGIN: adds the file system mounted at PATH to the plan, or
# says why not. ORIGIN is "listed" (from SSMB_MOUNTS) or "found" (discovered).
consider() {
  local path=$1 origin=$2 line dev
  local -a f=()
  line=$(findmnt -rn -o TARGET,FSTYPE,MAJ:MIN --mountpoint "$path" 2>/dev/null | tail -n 1) || line=""
  if [[ -z $line ]]; then
    skip_mount "$path" "not a mount point" lowers
    return 0
  fi
  read -r -a f <<<"$line"
  if [[ ${f[1]} != ext4 && ${f[1]} != xfs ]]; then
    skip_mount "$path" "${f[1]} file system, only ext4 and xfs are frozen" lowers
    return 0
  fi
  dev=$(stat -c %d -- "$path")
  if [[ -n ${protected[$dev]:-} ]]; then
    skip_mount "$path" "holds ${protected[$dev]}, never frozen" lowers
    return 0
  fi
  if [[ -n ${planned_devs[$dev]:-} ]]; then
    log "$path is the file system of ${planned_devs[$dev]}, frozen once"
    return 0
  fi
  planned_devs[$dev]=$path
  plan+=("$path")
  log "will freeze $path (${f[1]}, $origin)"
}

make_plan() {
  local m real target majmin
  local -a candidates=()
  if [[ $SSMB_CONSISTENCY == crash ]]; then
    log "consistency crash: nothing is frozen"
    return 0
  fi
  protect_essentials
  if ((${#requested_mounts[@]} > 0)); then
    for m in "${requested_mounts[@]}"; do
      if ! real=$(readlink -e -- "$m"); then
        skip_mount "$m" "does not exist" lowers
        continue
      fi
      consider "$real" listed
    done
  else
    find_ebs_disks
    find_boot_disks
    while read -r target _ majmin; do
      printf -v target '%b' "$target"
      if on_data_ebs "$majmin"; then candidates+=("$target"); fi
    done < <(findmnt -rn -t ext4,xfs -o TARGET,FSTYPE,MAJ:MIN)
    for m in ${candidates[@]+"${candidates[@]}"}; do consider "$m" found; done
    if ((${#candidates[@]} == 0)); then
      warn "no ext4 or xfs file system on a data EBS volume of this instance: nothing to freeze"
    fi
  fi
  if ((${#plan[@]} == 0)); then
    lowered=true
    return 0
  fi
  # Children before parents: freezing a parent does not freeze what is mounted
  # below it; the thaw runs in reverse.
  local -a sorted=()
  mapfile -t sorted < <(for m in "${plan[@]}"; do
    d=${m//[!\/]/}
    printf '%d\t%s\n' "${#d}" "$m"
  done | sort -t $'\t' -k1,1nr -k2,2 | cut -f2-)
  plan=("${sorted[@]}")
  ((EUID == 0)) || die "freezing file systems needs root"
  command -v fsfreeze >/dev/null || die "fsfreeze (util-linux) is not installed"
  command -v setsid >/dev/null || die "setsid (util-linux) is not installed"
}

# ---------------------------------------------------------------------------
# The request, built before the freeze for both levels it may carry.
declare -A request_body=() request_tagspec=() request_description=()
instance_spec_json=""

build_request() { # LEVEL
  local level=$1 i n=0 key value enc_key enc_value body tagspec desc sep=""
  local -a keys=("$TAG_PREFIX:policy" "$TAG_PREFIX:instance-id") values=("$SSMB_POLICY" "$instance_id")
  if [[ -n $SSMB_RUN_ID ]]; then
    keys+=("$TAG_PREFIX:run-id")
    values+=("$SSMB_RUN_ID")
  fi
  keys+=("$TAG_PREFIX:consistency")
  values+=("$level")
  for ((i = 0; i < ${#user_tag_keys[@]}; i++)); do
    keys+=("${user_tag_keys[i]}")
    values+=("${user_tag_values[i]}")
  done
  desc="ssm-backup $SSMB_POLICY: $level-consistent snapshot of $instance_id"
  if [[ -n $SSMB_RUN_ID ]]; then desc+=" (run $SSMB_RUN_ID)"; fi
  urlencode value "$desc"
  body="Action=CreateSnapshots&Version=2016-11-15"
  body+="&InstanceSpecification.InstanceId=$instance_id"
  body+="&InstanceSpecification.ExcludeBootVolume=$SSMB_EXCLUDE_BOOT_VOLUME"
  body+="&Description=$value"
  body+="&TagSpecification.1.ResourceType=snapshot"
  tagspec='[{"ResourceType":"snapshot","Tags":['
  for ((i = 0; i < ${#keys[@]}; i++)); do
    n=$((i + 1))
    urlencode enc_key "${keys[i]}"
    urlencode enc_value "${values[i]}"
    body+="&TagSpecification.1.Tag.$n.Key=$enc_key&TagSpecification.1.Tag.$n.Value=$enc_value"
    tagspec+="$sep{\"Key\":$(json_string "${keys[i]}"),\"Value\":$(json_string "${values[i]}")}"
    sep=,
  done
  tagspec+=']}]'
  request_body[$level]=$body
  request_tagspec[$level]=$tagspec
  request_description[$level]=$desc
}

write_curl_config() {
  # Credentials go in a 0600 file in the state directory, not on the command
  # line where any local user could read them. All three are base64 (checked).
  {
    printf 'user = "%s:%s"\n' "$role_access_key" "$role_secret_key"
    printf 'header = "X-Amz-Security-Token: %s"\n' "$role_token"
  } >"$state_dir/curl.cfg"
}

# ---------------------------------------------------------------------------
# The call: started in the background so that a signal reaches the trap at
# once (bash runs traps only between commands, and `wait` is interruptible).
start_call() { # LEVEL TIMEOUT_SECONDS
  local level=$1 timeout_s=$2
  if [[ $client == curl ]]; then
    curl -sS --max-time "$timeout_s" --aws-sigv4 "aws:amz:$region:ec2" -K "$state_dir/curl.cfg" \
      -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
      --data-binary "${request_body[$level]}" -o "$state_dir/response" -w '%{http_code}' \
      "$ec2_endpoint/" >"$state_dir/http_code" 2>"$state_dir/client.err" &
  else
    (
      if [[ -n $role_access_key ]]; then
        # The role's credentials, already read: the CLI needs no metadata call in the freeze.
        export AWS_ACCESS_KEY_ID=$role_access_key AWS_SECRET_ACCESS_KEY=$role_secret_key
        export AWS_SESSION_TOKEN=$role_token AWS_EC2_METADATA_DISABLED=true
      fi
      # One attempt (exactly one request), no .pyc writes, no pager.
      export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard PYTHONDONTWRITEBYTECODE=1 AWS_PAGER=""
      declare -a endpoint_args=()
      if [[ -n ${AWS_ENDPOINT_URL_EC2:-}${AWS_ENDPOINT_URL:-} ]]; then endpoint_args=(--endpoint-url "$ec2_endpoint"); fi
      exec timeout -k 1 "$timeout_s" "$aws_bin" ec2 create-snapshots --region "$region" \
        ${endpoint_args[@]+"${endpoint_args[@]}"} \
        --instance-specification "$instance_spec_json" \
        --description "${request_description[$level]}" \
        --tag-specifications "${request_tagspec[$level]}" --output json
    ) >"$state_dir/response" 2>"$state_dir/client.err" &
  fi
  client_pid=$!
}

# read_outcome RC TIMEOUT_SECONDS: snapshot ids into snapshot_ids, or a message.
read_outcome() {
  local rc=$1 timeout_s=$2 response="" err="" code="" re rest
  if [[ -f $state_dir/response ]]; then response=$(<"$state_dir/response"); fi
  if [[ -f $state_dir/client.err ]]; then err=$(<"$state_dir/client.err"); fi
  err=${err%$'\n'}
  err=${err##*$'\n'}
  if [[ $client == curl ]]; then
    if [[ -f $state_dir/http_code ]]; then code=$(<"$state_dir/http_code"); fi
    if ((rc == 28)); then
      message="CreateSnapshots request timed out after ${timeout_s}s"
      return 1
    elif ((rc != 0)); then
      message="CreateSnapshots request failed (curl exit $rc): $err"
      return 1
    elif [[ $code != 200 ]]; then
      local ec="" em=""
      re='<Code>([^<]*)</Code>'
      if [[ $response =~ $re ]]; then ec=${BASH_REMATCH[1]}; fi
      re='<Message>([^<]*)</Message>'
      if [[ $response =~ $re ]]; then em=${BASH_REMATCH[1]}; fi
      message="CreateSnapshots failed: HTTP $code ${ec:-error}: ${em:-no message}"
      return 1
    fi
    re='<snapshotId>(snap-[0-9a-f]+)</snapshotId>'
  else
    if ((rc == 124 || rc == 137)); then
      message="CreateSnapshots request (aws cli) timed out after ${timeout_s}s"
      return 1
    elif ((rc != 0)); then
      message="CreateSnapshots failed (aws cli exit $rc): ${err:-no message}"
      return 1
    fi
    re='"SnapshotId"[[:space:]]*:[[:space:]]*"(snap-[0-9a-f]+)"'
  fi
  rest=$response
  while [[ $rest =~ $re ]]; do
    snapshot_ids+=("${BASH_REMATCH[1]}")
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
  if ((${#snapshot_ids[@]} == 0)); then
    message="CreateSnapshots answered without a snapshot id"
    return 1
  fi
}

# ---------------------------------------------------------------------------
main() {
  local budget_ms margin_ms level call_ms timeout_s rc=0 elapsed now request_started_ms
  validate_inputs
  budget_ms=$((SSMB_MAX_FREEZE_SECONDS * 1000))

  if [[ -f $0 ]]; then
    script_dir=$(readlink -f -- "$0")
    script_dir=${script_dir%/*}
  else
    script_dir=$PWD
  fi
  local base
  for base in /run /tmp; do
    if [[ -d $base && -w $base ]] && state_dir=$(mktemp -d "$base/ssm-backup.XXXXXXXX" 2>/dev/null); then break; fi
  done
  [[ -n $state_dir ]] || die "cannot create a state directory under /run or /tmp"
  # Here-strings and the like must never land on a file system about to be frozen.
  export TMPDIR=$state_dir

  # One run at a time. A run holds the lock for its pre-freeze work and its
  # budget; a killed run's watchdog keeps it until it has thawed. So waiting
  # the budget plus LOCK_SLACK_SECONDS lets a queued run through.
  local lock=/run/ssm-backup-snapshot.lock
  [[ -w /run ]] || lock=/tmp/ssm-backup-snapshot.lock
  exec 9>>"$lock"
  if ! flock -n 9; then
    log "waiting for another ssm-backup snapshot run ($lock)"
    flock -w $((SSMB_MAX_FREEZE_SECONDS + LOCK_SLACK_SECONDS)) 9 || die "another ssm-backup snapshot still holds $lock"
  fi

  command -v curl >/dev/null || die "curl is not installed"
  read_metadata
  choose_endpoint
  read_role_credentials
  choose_client
  log "instance $instance_id in $region, EC2 endpoint $ec2_endpoint"

  make_plan
  build_request filesystem
  build_request crash
  instance_spec_json="{\"InstanceId\":\"$instance_id\",\"ExcludeBootVolume\":$SSMB_EXCLUDE_BOOT_VOLUME}"
  if [[ $client == curl ]]; then write_curl_config; fi
  : >"$state_dir/frozen"

  quiesce_apps
  apps_quiesced=true
  log "sync"
  sync
  log "freezing"

  # ---- the freeze window: nothing here touches a disk or the network but
  # fsfreeze and the one request
  if ((${#plan[@]} > 0)); then
    start_watchdog
    freeze_all
  fi
  level=crash
  if [[ $SSMB_CONSISTENCY == filesystem && $lowered == false && ${#frozen[@]} -eq ${#plan[@]} ]]; then
    level=filesystem
  fi
  consistency=$level
  if ((${#holding[@]} > 0)); then
    now_ms now
    elapsed=$((now - freeze_started_ms))
    # Leave time to thaw: a fifth of the budget, at least 1 s (half of a
    # budget under 2 s).
    margin_ms=$((budget_ms / 5))
    if ((margin_ms < 1000)); then margin_ms=$((budget_ms < 2000 ? budget_ms / 2 : 1000)); fi
    call_ms=$((budget_ms - margin_ms - elapsed))
    ((call_ms >= 100)) || die "freezing took ${elapsed} ms of the ${budget_ms} ms budget; no time left for the request"
  else
    call_ms=$UNFROZEN_CALL_TIMEOUT_MS
  fi
  printf -v timeout_s '%d.%03d' $((call_ms / 1000)) $((call_ms % 1000))
  now_ms request_started_ms
  start_call "$level" "$timeout_s"
  wait "$client_pid" || rc=$?
  client_pid=""
  thaw_all
  now_ms now
  request_ms=$((now - request_started_ms))
  # ---- end of the freeze window

  resume_apps
  apps_quiesced=false
  if ((${#holding[@]} == 0)); then stop_watchdog; fi

  read_outcome "$rc" "$timeout_s" || die "$message"
  log "snapshots ${snapshot_ids[*]} requested, $consistency-consistent, ${#frozen[@]} file system(s) frozen for ${freeze_ms} ms"
  if ((${#holding[@]} > 0)); then die "${message:-a file system could not be thawed}"; fi
  if ((freeze_ms > budget_ms)) || [[ $budget_exceeded == true ]]; then
    budget_exceeded=true
    die "the freeze lasted ${freeze_ms} ms, over the ${budget_ms} ms budget: the watchdog may have thawed before the snapshots' point in time"
  fi
  if [[ $consistency != "$SSMB_CONSISTENCY" ]]; then
    warn "consistency $SSMB_CONSISTENCY was asked for, $consistency was reached"
  fi
  status=ok
}

main
exit 0
