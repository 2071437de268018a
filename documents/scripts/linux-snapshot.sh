#!/bin/bash
# linux-snapshot.sh: a Linux EC2 instance takes a crash-, file-system- or
# application-consistent set of EBS snapshots of its own volumes, with one
# CreateSnapshots request.
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
#   SSMB_CONSISTENCY         crash | filesystem | application (default filesystem)
#   SSMB_APPS                applications to quiesce (application only), separated
#                            by single spaces, each one of:
#                              mysql:DEFAULTS_FILE:LOCK_WAIT_SECONDS:PREFLUSH
#                              mariadb:DEFAULTS_FILE:LOCK_WAIT_SECONDS:PREFLUSH
#                              postgresql:SERVICE:SERVICE_FILE
#                              custom:PRE:POST:TIMEOUT_SECONDS
#                            DEFAULTS_FILE, SERVICE, SERVICE_FILE and POST may
#                            be empty; PREFLUSH is 1 or 0; see Applications
#   SSMB_EXCLUDE_BOOT_VOLUME true | false (default false)
#   SSMB_MOUNTS              space-separated mount points to freeze; empty:
#                            every ext4/xfs file system on a data EBS volume
#   SSMB_MAX_FREEZE_SECONDS  budget, 1..60 (default 10): how long file systems,
#                            database locks and paused applications may be held
#   SSMB_TAGS                user tags: [{"Key":"k","Value":"v"},...] (default [])
#   SSMB_RUN_ID              Automation execution id, tagged ssm-backup:run-id
#   SSMB_CLIENT              auto | curl | cli (default auto)
# Environment honoured: AWS_EC2_METADATA_SERVICE_ENDPOINT (instance metadata),
# AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL (EC2 API); for postgresql
# without a service, libpq's PGHOST and PGPORT.
#
# Order of work. Everything that holds nothing comes first: metadata (IMDSv2),
# role credentials, the volume map, the freeze plan and the request bodies;
# then prepare_apps: PostgreSQL CHECKPOINT, MySQL sessions opened (and tables
# pre-flushed), hooks checked; then sync. The hold starts: a watchdog is
# started in its own session, quiesce_apps runs the custom pre hooks and takes
# FLUSH TABLES WITH READ LOCK in each MySQL session (in the listed order),
# reading the binary-log coordinates; the planned file systems are frozen
# (children before parents); exactly one CreateSnapshots request is sent; the
# file systems are thawed at once when it returns (parents before children);
# resume_apps unlocks and runs the post hooks in the reverse order; the
# watchdog is stopped. Snapshot completion is never awaited: EBS fixes the
# point in time when the request is accepted.
#
# Applications:
#   mysql, mariadb  The client reads its options from DEFAULTS_FILE only
#                   (--defaults-file; empty: the client's usual option files),
#                   never from the command line or the environment. It runs as
#                   one session fed through a fifo: SET SESSION
#                   lock_wait_timeout, FLUSH NO_WRITE_TO_BINLOG TABLES when
#                   PREFLUSH is 1 (before the hold), then FLUSH TABLES WITH
#                   READ LOCK followed by a marker query: reading the marker
#                   proves the lock is held. A statement that holds a
#                   conflicting lock makes FTWRL fail after LOCK_WAIT_SECONDS,
#                   and the run with it, before anything is frozen. SHOW MASTER
#                   STATUS (SHOW BINARY LOG STATUS on MySQL 8.2 and later) is
#                   read under the lock and tagged ssm-backup:binlog-file and
#                   ssm-backup:binlog-position (-2, -3 for a second and third
#                   server; nothing when the binary log is off). The lock is
#                   released by UNLOCK TABLES after the thaw, in the same
#                   session, whose id is checked again: an unchanged session
#                   proves the lock was held throughout. The lock lives only as
#                   long as the session: when this script dies, the session's
#                   input reaches its end, the client exits and the server
#                   releases the lock; the watchdog kills the client too.
#                   The user needs RELOAD, and to read the coordinates
#                   REPLICATION CLIENT (MySQL) or BINLOG MONITOR (MariaDB).
#   postgresql      CHECKPOINT before the hold, so that recovery is short:
#                   with SERVICE through that libpq service (SERVICE_FILE, if
#                   set, as PGSERVICEFILE), else as the postgres user over the
#                   local socket (peer authentication). No lock: a set of
#                   snapshots taken at one point in time of every volume
#                   holding the data directory and the WAL, with those file
#                   systems frozen, is what PostgreSQL recovers from after a
#                   crash; WAL replay makes it consistent.
#   custom          PRE runs in the hold, bounded by TIMEOUT_SECONDS and by
#                   what is left of the budget; a failing PRE fails the run
#                   before anything is frozen. POST (optional) runs, bounded by
#                   TIMEOUT_SECONDS, whenever PRE was started: after the thaw,
#                   on failure, from the traps, and from the watchdog when the
#                   budget runs out. It must be safe after a partial PRE.
# Child processes that may outlive a step (the MySQL clients, psql, hooks,
# curl or the CLI, the watchdog) inherit no descriptor of the database
# sessions, and all but the watchdog none of the run lock. Hooks run from /,
# with stdin from /dev/null and their output on stderr.
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
# ssm-backup:run-id (when set), ssm-backup:consistency, the user's, then the
# binary-log coordinates. CopyTagsFromSource is not used: the request carries
# exactly the tags the IAM policy expects, and each snapshot records its
# VolumeId anyway.
#
# Consistency reached (tag ssm-backup:consistency, and "consistency" below):
# the level asked for when every file system of the plan froze (and, for
# application, every application was quiesced, or the run fails); "crash"
# otherwise (an explicit mount that had to be skipped, a data file system that
# may not be frozen, a failed freeze, or nothing to freeze). Each reason is
# printed on stderr and listed in the result.
#
# Release is guaranteed three ways: the script releases as soon as the
# request returns; a trap on EXIT, ERR, INT, TERM and HUP releases; a watchdog
# started with setsid (it survives SIGKILL of this script)
# SSMB_MAX_FREEZE_SECONDS after the hold starts thaws every file system of the
# plan, kills the database clients and runs the due post hooks. The lock wait,
# the pre hooks and the request are bounded by what is left of that budget
# less a margin to release (a fifth of it, at least 1 s; half of a budget
# under 2 s).
#
# Output: progress on stderr; the last line of stdout is one JSON object:
#   {"status":"ok","policy":...,"instanceId":"i-...","snapshotIds":["snap-..."],
#    "consistency":"application","frozen":["/data"],"freezeMs":12,"lockMs":30,
#    "applicationConsistent":true,"binlog":[{"file":..,"position":..}],...}
# freezeMs is the window from the first freeze to the last thaw; lockMs from
# the first FLUSH TABLES WITH READ LOCK sent to the last UNLOCK TABLES done;
# requestMs is the part of the freeze spent on the request (and the thaw).
# Exit status: 0 when the snapshots were requested within the budget and
# everything was released; 1 when anything failed (the result then has
# "status":"error" and a "message"); 128+N when stopped by signal N.
# The tag is written before the request, so the exit status and the result
# are the authority: a run that did not exit 0 must not be trusted (its
# snapshots, listed when known, carry its ssm-backup:run-id), and
# "applicationConsistent" is true only when consistency application was
# reached, the response came within the budget, and every lock was found
# still held by its session after the request.
#
# Layout. Everything above the line "# ==== the DLM hooks document ends above
# this line ====" is shared with the Command document Amazon Data Lifecycle
# Manager runs as its pre and post script, which is that part followed by
# linux-dlm-hooks.sh: settings, result, applications, freeze, thaw and
# watchdog, traps, inputs, the freeze plan, and the run's phases (open_run,
# prepare_hold, begin_hold). Below that line is what only this document does:
# metadata and credentials, the request, and main. There DLM sends
# CreateSnapshots and tags the snapshots itself, and takes no tags from a
# script, so the binary-log coordinates are printed by the pre-script
# instead of tagged.
#
# Portable to bash 4.2 (Amazon Linux 2): no EPOCHREALTIME reliance, no
# namerefs, empty arrays expanded as ${a[@]+"${a[@]}"}.
if [ -z "${BASH_VERSION:-}" ]; then exec /bin/bash "$0" "$@"; fi
set -Eeuo pipefail
export LC_ALL=C
umask 077

: "${SSMB_POLICY:=}"
: "${SSMB_CONSISTENCY:=filesystem}"
: "${SSMB_APPS:=}"
: "${SSMB_EXCLUDE_BOOT_VOLUME:=false}"
: "${SSMB_MOUNTS:=}"
: "${SSMB_MAX_FREEZE_SECONDS:=10}"
: "${SSMB_TAGS:=[]}"
: "${SSMB_RUN_ID:=}"
: "${SSMB_CLIENT:=auto}"

readonly TAG_PREFIX=ssm-backup
readonly MAX_USER_TAGS=40
readonly IMDS_TIMEOUT_SECONDS=3
readonly MAX_APPS=8 MAX_MYSQL_APPS=3
readonly MYSQL_CONNECT_SECONDS=10 MYSQL_RELEASE_SECONDS=5
readonly PG_CHECKPOINT_SECONDS=300 KILL_AFTER_SECONDS=5

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
lock_ms=0
app_consistent=false
budget_exceeded=false
result_printed=false
declare -a snapshot_ids=() frozen=() skipped=() warnings=() binlog_json=()

# State of the run.
started_ms=""
state_dir=""                # set before open_run: use that directory
script_path=""
script_dir=""
watchdog_pid=""
watchdog_note=""            # a file the watchdog writes a line to when it releases
client_pid=""
hold_started_ms=""
freeze_started_ms=""
declare -a holding=()       # frozen or being frozen, in freeze order
declare -a plan=()          # file systems to freeze, in freeze order
lowered=false               # a reason to report crash rather than the level asked for
budget_ms=0
margin_ms=0
holds=false                 # the run holds something: the watchdog runs
pg_checkpoint_seconds=$PG_CHECKPOINT_SECONDS

# How the run ends: die's exit status, the EXIT trap's report, a file that
# gets the exit status, and the name progress lines start with. The DLM
# hooks document sets its own.
fail_status=1
finish=report_result
rc_file=""
log_name=ssm-backup

# log MESSAGE: progress on stderr, stamped with the seconds since the start.
log() {
  local now
  now_ms now
  now=$((now - started_ms))
  printf '%s: %d.%03ds %s\n' "$log_name" $((now / 1000)) $((now % 1000)) "$*" >&2
}
warn() {
  log "WARNING: $*"
  warnings+=("$*")
}
# die MESSAGE: fail the run (the EXIT trap thaws and reports). Main shell only.
die() {
  [[ -n $message ]] || message=$*
  log "ERROR: $*"
  exit "$fail_status"
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
  out+=",\"apps\":$(json_array ${app_type[@]+"${app_type[@]}"})"
  out+=",\"applicationConsistent\":$app_consistent"
  out+=",\"binlog\":[$(
    IFS=,
    printf '%s' "${binlog_json[*]+"${binlog_json[*]}"}"
  )]"
  out+=",\"freezeMs\":$freeze_ms"
  out+=",\"lockMs\":$lock_ms"
  out+=",\"requestMs\":$request_ms"
  local budget=0
  if [[ $SSMB_MAX_FREEZE_SECONDS =~ ^[0-9]{1,2}$ ]]; then budget=$((10#$SSMB_MAX_FREEZE_SECONDS)); fi
  out+=",\"maxFreezeSeconds\":$budget"
  out+=",\"budgetExceeded\":$budget_exceeded"
  out+=",\"warnings\":$(json_array ${warnings[@]+"${warnings[@]}"})}"
  printf '%s\n' "$out"
}

# ---------------------------------------------------------------------------
# Applications. app_type and app_a..app_d hold the fields of each SSMB_APPS
# item; app_state is "" (nothing to undo), "open" (MySQL session open),
# "locking" (FTWRL sent), "locked" (FTWRL done: UNLOCK due) or "pre" (pre
# hook started: post due).
declare -a app_type=() app_a=() app_b=() app_c=() app_d=() app_state=()
declare -a sess_in=() sess_out=() sess_hold=() sess_pid=() sess_id=() sess_status=() app_fds=()
declare -a mysql_lines=()
mysql_marker=""
mysql_bin=""
lock_started_ms=""
lock_lost=""
post_failed=""

# close_fds [keep-lock]: in a child, closes the database sessions' descriptors
# (a session's end of input is what ends it, and its lock, when this script
# dies) and, unless told to keep it, the run lock.
close_fds() {
  local fd
  for fd in ${app_fds[@]+"${app_fds[@]}"}; do exec {fd}>&-; done
  if [[ ${1:-} != keep-lock ]]; then exec 9>&-; fi
}

# proc_start PID: the process's start time (clock ticks since boot), which
# tells it from a later process with the same id.
proc_start() {
  local stat
  local -a f=()
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  read -r -a f <<<"${stat##*) }"
  printf '%s' "${f[19]}"
}

# record_proc FILE PID: writes "PID START" to FILE, to tell later whether
# that very process is still alive.
record_proc() { printf '%s %s\n' "$2" "$(proc_start "$2" || true)" >"$1"; }

# release_intent LINE: tells the watchdog what to undo if the budget runs out.
release_intent() { printf '%s\n' "$1" >>"$state_dir/release"; }

# left_ms VAR: what is left of the budget, less the margin to release.
left_ms() {
  local now
  now_ms now
  printf -v "$1" '%d' $((budget_ms - margin_ms - (now - hold_started_ms)))
}

# ms_to_s VAR MS: seconds with three decimals, for read -t and timeout.
ms_to_s() { printf -v "$1" '%d.%03d' $(($2 / 1000)) $(($2 % 1000)); }

# run_hook WHAT PATH TIMEOUT: runs a custom hook; its status is returned.
run_hook() {
  local rc=0
  log "custom: $1 $2 (at most ${3%.000}s)"
  (
    close_fds
    cd /
    exec timeout -k "$KILL_AFTER_SECONDS" "$3" "$2"
  ) </dev/null >&2 || rc=$?
  if ((rc == 124 || rc == 137)); then log "custom: $1 $2 timed out after ${3}s"; fi
  return "$rc"
}

# poll_line FD VAR: read -r -t 0.2 from FD into VAR, returning its status. A
# signal trapped meanwhile is acted on once read has returned (on_signal).
poll_line() {
  local rc=0
  polling=true
  IFS= read -r -t 0.2 -u "$1" "$2" || rc=$?
  polling=false
  [[ -z $caught ]] || on_caught
  return "$rc"
}

# mysql_until I MARKER TIMEOUT_MS: reads session I's output up to the line
# starting with MARKER (kept in mysql_marker; lines before it in mysql_lines).
# Fails when the client ends (its error is on stderr) or the time is up.
mysql_until() {
  local i=$1 line part="" now deadline rc
  mysql_lines=()
  now_ms now
  deadline=$((now + $3))
  while :; do
    rc=0
    line=""
    poll_line "${sess_out[i]}" line || rc=$?
    if ((rc == 0)); then
      line=$part$line
      part=""
      if [[ $line == "$2"* ]]; then
        mysql_marker=$line
        return 0
      fi
      mysql_lines+=("$line")
      continue
    fi
    part+=$line
    if ((rc <= 128)) || ! kill -0 "${sess_pid[i]}" 2>/dev/null; then
      mysql_error=$(tail -n 1 "$state_dir/mysql$i.err" 2>/dev/null) || true
      mysql_error="the session ended: ${mysql_error:-no message}"
      return 1
    fi
    now_ms now
    if ((now >= deadline)); then
      mysql_error="no answer within $3 ms"
      return 1
    fi
  done
}
mysql_error=""

# mysql_open I: starts session I, fed through a fifo in the state directory,
# and prepares it (lock_wait_timeout, pre-flush). Before the hold.
mysql_open() {
  local i=$1 file=${app_a[$1]} in out v ms base=$state_dir/mysql$1
  local -a args=() flush=()
  if [[ -n $file ]]; then args=("--defaults-file=$file"); fi
  # Command-line options override the option file: one session, no retry on
  # a lost connection (a new session would not hold the lock), and stop at
  # the first error (never print the marker after a failed FTWRL).
  args+=(--batch --skip-column-names --unbuffered --skip-reconnect --skip-force
    "--connect-timeout=$MYSQL_CONNECT_SECONDS")
  mkfifo -m 600 "$base.in" "$base.out"
  # Opened read-write, a fifo end does not wait for its peer. The
  # read-write end of the output (sess_hold) lets the read-only one open at
  # once and keeps the output open until the client has answered: then it
  # is closed, and the client's exit reads as end of file.
  exec {in}<>"$base.in"
  exec {v}<>"$base.out"
  exec {out}<"$base.out"
  sess_in[i]=$in
  sess_out[i]=$out
  sess_hold[i]=$v
  app_fds+=("$in" "$out" "$v")
  (
    close_fds
    unset MYSQL_PWD MYSQL_HOST MYSQL_TCP_PORT MYSQL_UNIX_PORT
    cd /
    exec "$mysql_bin" "${args[@]}"
  ) <"$base.in" >"$base.out" 2>"$base.err" &
  sess_pid[i]=$!
  app_state[i]=open
  release_intent "session ${sess_pid[i]} $(proc_start "${sess_pid[i]}" || true)"
  if [[ ${app_d[i]} == 1 ]]; then flush=("FLUSH NO_WRITE_TO_BINLOG TABLES;"); fi
  printf '%s\n' "SET SESSION lock_wait_timeout = ${app_c[i]};" ${flush[@]+"${flush[@]}"} \
    "SELECT CONCAT('ssmb-ready:', CONNECTION_ID(), ':', VERSION());" >&"$in"
  ms=$(((MYSQL_CONNECT_SECONDS + 10#${app_c[i]} + 2) * 1000))
  mysql_until "$i" ssmb-ready: "$ms" || die "${app_type[i]}: cannot prepare the session: $mysql_error"
  mysql_release_hold "$i"
  v=${mysql_marker#ssmb-ready:}
  sess_id[i]=${v%%:*}
  v=${v#*:}
  sess_status[i]="SHOW MASTER STATUS;"
  if [[ $v != *MariaDB* && $v =~ ^([0-9]+)\.([0-9]+) ]] &&
    ((BASH_REMATCH[1] > 8 || (BASH_REMATCH[1] == 8 && BASH_REMATCH[2] >= 2))); then
    sess_status[i]="SHOW BINARY LOG STATUS;"
  fi
  log "${app_type[i]}: session ${sess_id[i]} open, server $v${flush[0]:+, tables flushed}"
}

# close_fd FD: closes one of the sessions' descriptors.
close_fd() {
  local fd=$1 f
  local -a keep=()
  [[ -n $fd ]] || return 0
  exec {fd}>&-
  for f in ${app_fds[@]+"${app_fds[@]}"}; do
    if [[ $f != "$fd" ]]; then keep+=("$f"); fi
  done
  app_fds=(${keep[@]+"${keep[@]}"})
}

mysql_release_hold() {
  close_fd "${sess_hold[$1]:-}"
  sess_hold[$1]=""
}

# mysql_lock I: FLUSH TABLES WITH READ LOCK, proven held by the marker that
# follows it, then the binary-log coordinates. In the hold.
mysql_lock() {
  local i=$1 left re n sfx=""
  [[ -n $lock_started_ms ]] || now_ms lock_started_ms
  left_ms left
  ((left >= 100)) || die "${app_type[i]}: no time left in the budget to lock"
  n=$(((10#${app_c[i]} + 1) * 1000))
  if ((n > left)); then n=$left; fi
  app_state[i]=locking
  printf '%s\n' "FLUSH TABLES WITH READ LOCK;" "SELECT 'ssmb-locked';" "${sess_status[i]}" "SELECT 'ssmb-binlog';" >&"${sess_in[i]}"
  mysql_until "$i" ssmb-locked "$n" || die "${app_type[i]}: FLUSH TABLES WITH READ LOCK failed: $mysql_error"
  app_state[i]=locked
  mysql_until "$i" ssmb-binlog $((MYSQL_RELEASE_SECONDS * 1000)) || die "${app_type[i]}: ${sess_status[i]} failed: $mysql_error"
  re='^([A-Za-z0-9._-]{1,200})[[:space:]]+([0-9]{1,20})([[:space:]]|$)'
  if ((${#mysql_lines[@]} == 0)); then
    log "${app_type[i]}: locked; binary log off"
  elif [[ ${mysql_lines[0]} =~ $re ]]; then
    n=${#binlog_json[@]}
    if ((n > 0)); then sfx="-$((n + 1))"; fi
    binlog_json+=("{\"file\":\"${BASH_REMATCH[1]}\",\"position\":\"${BASH_REMATCH[2]}\"}")
    add_request_tag "$TAG_PREFIX:binlog-file$sfx" "${BASH_REMATCH[1]}"
    add_request_tag "$TAG_PREFIX:binlog-position$sfx" "${BASH_REMATCH[2]}"
    log "${app_type[i]}: locked; binary log at ${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
  else
    warn "${app_type[i]}: binary-log status not understood, not tagged: ${mysql_lines[0]}"
  fi
}

# mysql_close I: UNLOCK TABLES when locked, checking that the session is the
# one that took the lock, then ends the session.
mysql_close() {
  local i=$1 n now was
  was=${app_state[i]}
  if [[ ${app_state[i]} == locked ]]; then
    printf '%s\n' "UNLOCK TABLES;" "SELECT CONCAT('ssmb-unlocked:', CONNECTION_ID());" >&"${sess_in[i]}" || true
    if mysql_until "$i" ssmb-unlocked: $((MYSQL_RELEASE_SECONDS * 1000)) && [[ $mysql_marker == "ssmb-unlocked:${sess_id[i]}" ]]; then
      log "${app_type[i]}: unlocked"
    else
      lock_lost="${app_type[i]}: the session that held the lock ended before UNLOCK TABLES ($mysql_error), so the lock may have been released before the snapshots' point in time"
      log "ERROR: $lock_lost"
    fi
  fi
  if [[ ${app_state[i]} == lock* ]]; then
    now_ms now
    lock_ms=$((now - lock_started_ms))
  fi
  app_state[i]=""
  mysql_release_hold "$i"
  close_fd "${sess_in[i]}"
  close_fd "${sess_out[i]}"
  # A client still waiting for FLUSH TABLES WITH READ LOCK reads no end of
  # input until the lock is granted: kill it at once, and the server drops
  # the request with the session. Otherwise at end of input the client
  # quits; a client that does not is killed.
  if [[ $was == locking ]]; then kill -KILL "${sess_pid[i]}" 2>/dev/null || true; fi
  for ((n = 0; n < 200; n++)); do
    kill -0 "${sess_pid[i]}" 2>/dev/null || break
    sleep 0.01
  done
  kill -KILL "${sess_pid[i]}" 2>/dev/null || true
  wait "${sess_pid[i]}" 2>/dev/null || true
}

# pg_checkpoint I: CHECKPOINT, so that recovery from the snapshots is short.
pg_checkpoint() {
  local i=$1 rc=0
  local -a psql=(psql -X -w -q -v ON_ERROR_STOP=1 -c CHECKPOINT)
  log "postgresql: CHECKPOINT${app_a[i]:+ (service ${app_a[i]})}"
  (
    close_fds
    cd /
    if [[ -n ${app_a[i]} ]]; then
      if [[ -n ${app_b[i]} ]]; then export PGSERVICEFILE=${app_b[i]}; fi
      exec timeout -k "$KILL_AFTER_SECONDS" "$pg_checkpoint_seconds" "${psql[@]}" "service=${app_a[i]}"
    fi
    exec timeout -k "$KILL_AFTER_SECONDS" "$pg_checkpoint_seconds" runuser -u postgres -- "${psql[@]}" -d postgres
  ) </dev/null >"$state_dir/pg$i.err" 2>&1 || rc=$?
  ((rc == 0)) || die "postgresql: CHECKPOINT failed (exit $rc): $(tail -n 1 "$state_dir/pg$i.err" 2>/dev/null)"
}

# check_app I: what application I needs on this instance (clients, files,
# hooks), checked without touching the application.
check_app() {
  local i=$1
  case ${app_type[i]} in
    mysql | mariadb)
      if [[ -z $mysql_bin ]]; then
        mysql_bin=$(command -v mysql || command -v mariadb) || die "${app_type[i]}: no mysql or mariadb client installed"
      fi
      [[ -z ${app_a[i]} || (-f ${app_a[i]} && -r ${app_a[i]}) ]] ||
        die "${app_type[i]}: defaults file ${app_a[i]} does not exist or cannot be read"
      ;;
    postgresql)
      command -v psql >/dev/null || die "postgresql: psql is not installed"
      [[ -n ${app_a[i]} ]] || command -v runuser >/dev/null || die "postgresql: runuser (util-linux) is not installed"
      ;;
    custom)
      [[ -f ${app_a[i]} && -x ${app_a[i]} ]] || die "custom: pre hook ${app_a[i]} is not an executable file"
      [[ -z ${app_b[i]} || (-f ${app_b[i]} && -x ${app_b[i]}) ]] || die "custom: post hook ${app_b[i]} is not an executable file"
      ;;
  esac
}

# prepare_apps: everything that holds nothing, before the hold.
prepare_apps() {
  local i
  for ((i = 0; i < ${#app_type[@]}; i++)); do
    check_app "$i"
    case ${app_type[i]} in
      mysql | mariadb) mysql_open "$i" ;;
      postgresql) pg_checkpoint "$i" ;;
    esac
  done
}

# quiesce_apps: pre hooks and locks, in the listed order. In the hold.
quiesce_apps() {
  local i left t rc
  for ((i = 0; i < ${#app_type[@]}; i++)); do
    case ${app_type[i]} in
      mysql | mariadb) mysql_lock "$i" ;;
      custom)
        left_ms left
        ((left >= 100)) || die "custom: no time left in the budget for ${app_a[i]}"
        if ((left > 10#${app_c[i]} * 1000)); then left=$((10#${app_c[i]} * 1000)); fi
        ms_to_s t "$left"
        app_state[i]=pre
        if [[ -n ${app_b[i]} ]]; then release_intent "post $i ${app_c[i]} ${app_b[i]}"; fi
        rc=0
        run_hook pre "${app_a[i]}" "$t" || rc=$?
        ((rc == 0)) || die "custom: pre hook ${app_a[i]} failed (exit $rc)"
        ;;
    esac
  done
}

# resume_apps: unlock and post hooks, in the reverse order. Idempotent: runs
# after the thaw and from the EXIT trap.
resume_apps() {
  local i rc
  for ((i = ${#app_type[@]} - 1; i >= 0; i--)); do
    case ${app_state[i]:-} in
      open | lock*) mysql_close "$i" ;;
      pre)
        app_state[i]=""
        [[ -n ${app_b[i]} ]] || continue
        # The watchdog runs a post hook once the budget is over; whoever
        # creates this directory first runs it.
        if ! mkdir "$state_dir/post.$i" 2>/dev/null; then
          log "custom: post hook ${app_b[i]} already run by the watchdog"
          continue
        fi
        rc=0
        run_hook post "${app_b[i]}" "${app_c[i]}" || rc=$?
        if ((rc != 0)); then
          post_failed="custom: post hook ${app_b[i]} failed (exit $rc); the application may still be paused"
          log "ERROR: $post_failed"
        fi
        ;;
    esac
  done
}

# ---------------------------------------------------------------------------
# Freeze, thaw, watchdog.

# release_state DIR WHO: undoes what the state directory DIR records. It
# thaws, last first, every file system listed in DIR/frozen (the script
# writes each one there before freezing it), then undoes, last first, what
# DIR/release lists: it kills the database clients (the server then drops
# their locks) and runs the post hooks not run yet. WHO names the releaser in
# the system log. Idempotent: what is released already is skipped.
# shellcheck disable=SC2317 # also runs in the watchdog process, started from declare -f
release_state() {
  local dir=$1 who=$2 i rc
  local -a mounts=() undo=() f=()
  if [[ -f $dir/frozen ]]; then mapfile -t mounts <"$dir/frozen"; fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    if fsfreeze -u "${mounts[i]}" 2>/dev/null; then
      logger -t ssm-backup "$who: thawed ${mounts[i]}" 2>/dev/null || true
    fi
  done
  if [[ -f $dir/release ]]; then mapfile -t undo <"$dir/release"; fi
  for ((i = ${#undo[@]} - 1; i >= 0; i--)); do
    read -r -a f <<<"${undo[i]}"
    if [[ ${f[0]} == session && -n ${f[2]:-} && $(proc_start "${f[1]}") == "${f[2]}" ]]; then
      if kill -KILL "${f[1]}" 2>/dev/null; then
        logger -t ssm-backup "$who: ended database session (client ${f[1]})" 2>/dev/null || true
      fi
    elif [[ ${f[0]} == post ]] && mkdir "$dir/post.${f[1]}" 2>/dev/null; then
      rc=0
      (cd / && timeout -k 5 "${f[2]}" "${f[3]}" </dev/null >/dev/null 2>&1) || rc=$?
      logger -t ssm-backup "$who: ran post hook ${f[3]} (exit $rc)" 2>/dev/null || true
    fi
  done
}

# watchdog_main BUDGET STATE_DIR OWNER_PID NOTE_FILE: runs detached (setsid).
# After BUDGET seconds it writes a line to NOTE_FILE (if set and not written
# already by an earlier release), releases what
# STATE_DIR records (release_state), and removes STATE_DIR when the script is
# gone. It holds the script's lock (inherited descriptor) until it ends, so
# no new run starts while a file system of a killed run may still be frozen.
# The script stops it once it has released everything.
# shellcheck disable=SC2317 # runs in the watchdog process, started from declare -f
watchdog_main() {
  sleep "$1"
  if [[ -n $4 && ! -e $4 ]]; then printf 'the watchdog released the hold after %s s\n' "$1" >"$4"; fi
  release_state "$2" "watchdog after $1 s"
  if ! kill -0 "$3" 2>/dev/null; then
    rm -rf -- "$2"
  fi
}

# start_watchdog: the watchdog's pid and start time go to STATE_DIR/watchdog.
start_watchdog() {
  local code
  code="$(declare -f watchdog_main release_state proc_start)"$'\n''watchdog_main "$@"'
  (
    close_fds keep-lock
    exec setsid bash -c "$code" ssm-backup-watchdog "$SSMB_MAX_FREEZE_SECONDS" "$state_dir" "$$" "$watchdog_note"
  ) </dev/null >/dev/null 2>&1 &
  watchdog_pid=$!
  record_proc "$state_dir/watchdog" "$watchdog_pid"
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
      if ((now - hold_started_ms >= SSMB_MAX_FREEZE_SECONDS * 1000)); then
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
    log "ERROR: still frozen: ${holding[*]}; the watchdog thaws them within ${SSMB_MAX_FREEZE_SECONDS}s of the hold's start"
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
# A trap that interrupts read -t runs inside the builtin, whose timer may
# still fire and longjmp into a frame gone: bash aborts part-way through a
# release done there. So in poll_line the trap only records the signal.
caught=""
polling=false
# shellcheck disable=SC2317 # trap handler
on_signal() { # NAME EXIT_CODE
  trap '' INT TERM HUP
  caught="$1 $2"
  [[ $polling == true ]] || on_caught
}
on_caught() {
  local c=$caught
  caught=""
  message="interrupted by SIG${c% *}"
  log "ERROR: $message"
  if [[ -n $client_pid ]]; then kill -TERM "$client_pid" 2>/dev/null || true; fi
  thaw_all
  exit "${c#* }"
}
# shellcheck disable=SC2317 # trap handler
on_exit() {
  local rc=$?
  set +e
  trap - ERR
  trap '' INT TERM HUP
  thaw_all
  resume_apps
  if ((${#holding[@]} == 0)); then
    stop_watchdog
  fi
  if [[ $status != ok ]] && ((rc == 0)); then rc=1; fi
  if [[ $status == ok ]] && ((rc != 0)); then status=error; fi
  if [[ $status != ok && -z $message ]]; then message="failed with exit status $rc"; fi
  "$finish"
  # With a file system still frozen the watchdog needs the state directory; it
  # removes it itself.
  if [[ -n $state_dir && ${#holding[@]} -eq 0 ]]; then rm -rf -- "$state_dir"; fi
  if [[ -n $rc_file ]]; then printf '%s\n' "$rc" >"$rc_file"; fi
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
  [[ $SSMB_CONSISTENCY == crash || $SSMB_CONSISTENCY == filesystem || $SSMB_CONSISTENCY == application ]] ||
    die "SSMB_CONSISTENCY must be crash, filesystem or application"
  [[ $SSMB_EXCLUDE_BOOT_VOLUME == true || $SSMB_EXCLUDE_BOOT_VOLUME == false ]] ||
    die "SSMB_EXCLUDE_BOOT_VOLUME must be true or false"
  [[ $SSMB_MAX_FREEZE_SECONDS =~ ^([1-9]|[1-5][0-9]|60)$ ]] ||
    die "SSMB_MAX_FREEZE_SECONDS must be a whole number of seconds from 1 to 60"
  budget_ms=$((SSMB_MAX_FREEZE_SECONDS * 1000))
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
  parse_apps "$SSMB_APPS"
}

parse_apps() {
  local item mysqls=0 path='/[A-Za-z0-9._/-]*'
  local -a items=() f=()
  local my_re="^(mysql|mariadb):($path)?:([1-9]|[1-5][0-9]|60):[01]\$"
  local pg_re='^postgresql:([A-Za-z0-9_.-]{1,64}:('"$path"')?|:)$'
  local custom_re="^custom:$path:($path)?:([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)\$"
  [[ $1 =~ ^[A-Za-z0-9._/:\ -]*$ && $1 != ' '* && $1 != *' ' && $1 != *'  '* ]] ||
    die "SSMB_APPS: items of letters, digits and . _ / : - separated by single spaces"
  read -r -a items <<<"$1"
  for item in ${items[@]+"${items[@]}"}; do
    [[ $item =~ $my_re || $item =~ $pg_re || $item =~ $custom_re ]] ||
      die "SSMB_APPS: \"$item\" is none of mysql:FILE:SECONDS:0|1, mariadb:..., postgresql:SERVICE:FILE, custom:PRE:POST:SECONDS"
    IFS=: read -r -a f <<<"$item:"
    app_type+=("${f[0]}")
    app_state+=("")
    case ${f[0]} in
      mysql | mariadb) # a: defaults file, c: lock wait, d: pre-flush
        mysqls=$((mysqls + 1))
        app_a+=("${f[1]}") app_b+=("") app_c+=("${f[2]}") app_d+=("${f[3]}")
        ;;
      *) # postgresql a: service, b: service file; custom a: pre, b: post, c: timeout
        app_a+=("${f[1]}") app_b+=("${f[2]:-}") app_c+=("${f[3]:-}") app_d+=("")
        ;;
    esac
  done
  ((${#app_type[@]} <= MAX_APPS)) || die "SSMB_APPS: at most $MAX_APPS applications"
  ((mysqls <= MAX_MYSQL_APPS)) || die "SSMB_APPS: at most $MAX_MYSQL_APPS mysql or mariadb servers"
  if [[ $SSMB_CONSISTENCY == application ]]; then
    ((${#app_type[@]} > 0)) || die "SSMB_APPS: consistency application needs at least one application"
  else
    ((${#app_type[@]} == 0)) || die "SSMB_APPS: applications are quiesced with consistency application only"
  fi
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

# imds_login: the IMDSv2 token imds_get sends.
imds_login() {
  imds_token=$(curl -sS -f --noproxy '*' --connect-timeout 1 --max-time "$IMDS_TIMEOUT_SECONDS" --retry 2 \
    -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds_base/latest/api/token") ||
    die "no IMDSv2 token from $imds_base (is instance metadata enabled?)"
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
# The requests, built by build_request (snapshot mode) before the freeze for
# both levels they may carry; add_request_tag adds to them in the hold.
declare -A request_body=() request_tagspec=() request_tags=()

# add_request_tag KEY VALUE: adds a tag to every request built, in the hold
# (no fork). KEY and VALUE are letters, digits and . _ - : only, which JSON
# takes as they are.
add_request_tag() {
  local level n k v
  urlencode k "$1"
  urlencode v "$2"
  for level in "${!request_body[@]}"; do
    n=$((request_tags[$level] + 1))
    request_tags[$level]=$n
    request_body[$level]+="&TagSpecification.1.Tag.$n.Key=$k&TagSpecification.1.Tag.$n.Value=$v"
    request_tagspec[$level]+=",{\"Key\":\"$1\",\"Value\":\"$2\"}"
  done
}

# ---------------------------------------------------------------------------
# The run's phases, shared with the DLM hooks document.

# locate_script: the script's own path and directory (never frozen).
locate_script() {
  if [[ -f $0 ]]; then
    script_path=$(readlink -f -- "$0")
    script_dir=${script_path%/*}
  else
    script_dir=$PWD
  fi
}

# open_run LOCK_WAIT_SECONDS: the state directory (a fresh one unless
# state_dir is set already) and the run lock: one run at a time, whichever
# document runs it.
open_run() {
  local base lock=/run/ssm-backup-snapshot.lock
  locate_script
  if [[ -z $state_dir ]]; then
    for base in /run /tmp; do
      if [[ -d $base && -w $base ]] && state_dir=$(mktemp -d "$base/ssm-backup.XXXXXXXX" 2>/dev/null); then break; fi
    done
    [[ -n $state_dir ]] || die "cannot create a state directory under /run or /tmp"
  fi
  # Here-strings and the like must never land on a file system about to be frozen.
  export TMPDIR=$state_dir
  [[ -w /run ]] || lock=/tmp/ssm-backup-snapshot.lock
  exec 9>>"$lock"
  if ! flock -n 9; then
    log "waiting for another ssm-backup snapshot run ($lock)"
    flock -w "$1" 9 || die "another ssm-backup snapshot still holds $lock"
  fi
}

# prepare_hold: after the plan, what comes before the hold and holds
# nothing: the files the watchdog reads, the applications' preparation, sync,
# and the margin to release.
prepare_hold() {
  : >"$state_dir/frozen"
  : >"$state_dir/release"
  prepare_apps
  log "sync"
  sync
  # Leave time to release: a fifth of the budget, at least 1 s (half of a
  # budget under 2 s).
  margin_ms=$((budget_ms / 5))
  if ((margin_ms < 1000)); then margin_ms=$((budget_ms < 2000 ? budget_ms / 2 : 1000)); fi
}

# begin_hold: the hold starts. The watchdog is started when anything is to
# be held, the applications are quiesced, the plan is frozen; consistency
# becomes the level reached.
begin_hold() {
  local t
  now_ms hold_started_ms
  for t in ${app_type[@]+"${app_type[@]}"}; do
    if [[ $t != postgresql ]]; then holds=true; fi
  done
  if [[ $holds == true ]] || ((${#plan[@]} > 0)); then
    holds=true
    start_watchdog
  fi
  quiesce_apps
  if ((${#plan[@]} > 0)); then
    log "freezing"
    freeze_all
  fi
  if [[ $SSMB_CONSISTENCY != crash && $lowered == false && ${#frozen[@]} -eq ${#plan[@]} ]]; then
    consistency=$SSMB_CONSISTENCY
  fi
}

# ===========================================================================
# Snapshot mode: everything below is what only this document runs.
# ==== the DLM hooks document ends above this line ====

readonly UNFROZEN_CALL_TIMEOUT_MS=30000
readonly LOCK_SLACK_SECONDS=30

# ---------------------------------------------------------------------------
# Instance metadata and credentials, before the freeze.
read_metadata() {
  imds_login
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
# The request, built before the freeze for both levels it may carry.
declare -A request_description=()
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
  request_body[$level]=$body
  request_tagspec[$level]=$tagspec # closed by start_call
  request_description[$level]=$desc
  request_tags[$level]=$n
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
    (
      close_fds
      exec curl -sS --max-time "$timeout_s" --aws-sigv4 "aws:amz:$region:ec2" -K "$state_dir/curl.cfg" \
        -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
        --data-binary "${request_body[$level]}" -o "$state_dir/response" -w '%{http_code}' \
        "$ec2_endpoint/"
    ) >"$state_dir/http_code" 2>"$state_dir/client.err" &
  else
    (
      close_fds
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
        --tag-specifications "${request_tagspec[$level]}]}]" --output json
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
  local call_ms timeout_s rc=0 now request_started_ms answered_ms
  validate_inputs
  # A run holds the lock for its pre-freeze work and its budget; a killed
  # run's watchdog keeps it until it has thawed. So waiting the budget plus
  # LOCK_SLACK_SECONDS lets a queued run through.
  open_run $((SSMB_MAX_FREEZE_SECONDS + LOCK_SLACK_SECONDS))

  command -v curl >/dev/null || die "curl is not installed"
  read_metadata
  choose_endpoint
  read_role_credentials
  choose_client
  log "instance $instance_id in $region, EC2 endpoint $ec2_endpoint"

  make_plan
  build_request crash
  if [[ $SSMB_CONSISTENCY != crash ]]; then build_request "$SSMB_CONSISTENCY"; fi
  instance_spec_json="{\"InstanceId\":\"$instance_id\",\"ExcludeBootVolume\":$SSMB_EXCLUDE_BOOT_VOLUME}"
  if [[ $client == curl ]]; then write_curl_config; fi
  prepare_hold

  # ---- the hold: nothing here touches a disk or the network but the pre
  # hooks, the database sessions, fsfreeze and the one request
  begin_hold
  if [[ $holds == true ]]; then
    left_ms call_ms
    now_ms now
    ((call_ms >= 100)) || die "quiescing and freezing took $((now - hold_started_ms)) ms of the ${budget_ms} ms budget; no time left for the request"
  else
    call_ms=$UNFROZEN_CALL_TIMEOUT_MS
  fi
  ms_to_s timeout_s "$call_ms"
  now_ms request_started_ms
  start_call "$consistency" "$timeout_s"
  wait "$client_pid" || rc=$?
  now_ms answered_ms
  client_pid=""
  thaw_all
  now_ms now
  request_ms=$((now - request_started_ms))
  resume_apps
  # ---- end of the hold

  if ((${#holding[@]} == 0)); then stop_watchdog; fi

  read_outcome "$rc" "$timeout_s" || die "$message"
  log "snapshots ${snapshot_ids[*]} requested, $consistency-consistent, ${#frozen[@]} file system(s) frozen for ${freeze_ms} ms${lock_started_ms:+, locked for $lock_ms ms}"
  if ((${#holding[@]} > 0)); then die "${message:-a file system could not be thawed}"; fi
  if [[ $holds == true ]] && ((answered_ms - hold_started_ms > budget_ms)) || [[ $budget_exceeded == true ]]; then
    budget_exceeded=true
    die "the answer came $((answered_ms - hold_started_ms)) ms into the hold, over the ${budget_ms} ms budget: the watchdog may have released before the snapshots' point in time"
  fi
  [[ -z $lock_lost ]] || die "$lock_lost"
  if [[ $consistency == application ]]; then app_consistent=true; fi
  [[ -z $post_failed ]] || die "$post_failed"
  if [[ $consistency != "$SSMB_CONSISTENCY" ]]; then
    warn "consistency $SSMB_CONSISTENCY was asked for, $consistency was reached"
  fi
  status=ok
}

main
exit 0
