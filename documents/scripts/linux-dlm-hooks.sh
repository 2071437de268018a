# linux-dlm-hooks.sh: the pre and post script Amazon Data Lifecycle Manager
# (DLM) runs on a Linux instance around the multi-volume snapshots it takes.
#
# Part of ssm-backup. Not a script of its own: the DLM hooks Command document
# is linux-snapshot.sh down to its line "# ==== the DLM hooks document ends
# above this line ====" (settings, applications, freeze, thaw, watchdog,
# traps, inputs, freeze plan and the run's phases), then this file. The
# quiesce, freeze, release and watchdog code is that file's, written once.
#
# DLM runs the document on each target instance as separate commands, with
# two parameters: command, pre-script, post-script or dry-run; and
# executionId, the same UUID for the pre-script and the post-script of one
# run (None when run by hand). Between the pre-script's exit and the
# post-script, DLM itself sends CreateSnapshots and tags the snapshots; the
# instance sends nothing.
#
# Inputs: those of linux-snapshot.sh, which the document sets from the policy
# (SSMB_TAGS, SSMB_RUN_ID, SSMB_CLIENT and SSMB_EXCLUDE_BOOT_VOLUME mean
# nothing here and keep their defaults; consistency crash is refused: DLM
# takes crash-consistent snapshots without scripts), and
#   SSMB_DLM_COMMAND   pre-script | post-script | dry-run (default dry-run)
#   SSMB_EXECUTION_ID  None or a UUID (default None)
# and, from the environment only (the document does not set it):
#   SSMB_DLM_PRE_SECONDS  how long a pre-script waits for the hold, and a
#                      post-script for the release, 1 to DLM_PRE_SECONDS
#                      (default DLM_PRE_SECONDS); a shorter wait fits a
#                      shorter ExecutionTimeout
#
# pre-script. The hold must outlive the command, and a MySQL lock lives only
# as long as the client session that took it, whose input a live process
# holds open. So the pre-script starts a holder: this script again, with the
# argument "holder", in its own session (setsid), from /, stdin /dev/null,
# stdout and stderr to files. The holder does what the snapshot mode does up
# to the request, in the same order: everything that holds nothing first (the
# freeze plan, PostgreSQL CHECKPOINT, the MySQL sessions and pre-flush, hook
# checks, sync), then the hold (the watchdog, pre hooks, FLUSH TABLES WITH
# READ LOCK proven by its marker, the freeze); it then publishes that
# everything is held and waits for the post-script. The pre-script exits 0
# once the hold is published, printing the holder's progress and its state:
# the file systems frozen, the applications, and the binary-log coordinates
# read under each lock. DLM takes no tags from a script, so the coordinates
# are printed, not tagged. Unlike the snapshot mode, a pre-script never
# settles for less: a mount that cannot be frozen, a failed freeze or a lock
# not taken fails it. Whatever fails, the holder releases what it took (the
# snapshot mode's traps) and the pre-script exits 201 with the holder's
# message. A holder that has neither held nor ended after SSMB_DLM_PRE_SECONDS
# is stopped (SIGTERM, its traps release; after DLM_STOP_SECONDS, SIGKILL of
# every process of its session, the hooks too, which timeout(1) runs in
# process groups of their own: no pre hook may finish after its post hook ran)
# and what its hold records is released.
#
# The hold is bounded as in snapshot mode, from its start: the holder
# releases by itself when what is left of SSMB_MAX_FREEZE_SECONDS is down to
# the margin to release, and the watchdog, in its own session, releases at
# SSMB_MAX_FREEZE_SECONDS even when the holder was killed (SIGKILL included):
# it thaws, kills the MySQL clients (the server drops their locks) and runs
# the due post hooks. A killed holder's MySQL sessions end with it (end of
# their input) at once. The holder takes the run lock linux-snapshot.sh
# takes, waiting DLM_LOCK_SECONDS at most: one hold at a time per instance,
# whichever document or policy it is for.
#
# Time. DLM gives each script its ExecutionTimeout, 120 s at most. The Go
# side (LinuxDLMHooksCommand) refuses a policy whose pre-script may take
# longer than DLM_PRE_SECONDS: its fixed work, MaxFreezeSeconds and the
# applications' steps, with CHECKPOINT bounded by DLM_CHECKPOINT_SECONDS here
# instead of PG_CHECKPOINT_SECONDS. When something unbounded (sync, instance
# metadata) overruns anyway, the pre-script stops its holder at
# DLM_PRE_SECONDS, which with DLM_STOP_SECONDS (and the post hooks a killed
# holder left due) ends it inside the 120 s. A post-script waits
# DLM_PRE_SECONDS at most for the release.
#
# A pre-script and a post-script of one hold may overlap (a post-script that
# comes while the pre-script still waits for a lock or a slow pre hook).
# Whichever first creates hold/decided (mkdir, atomic) settles the
# pre-script's verdict: the pre-script, once everything is held, exits 0; a
# post-script that comes first makes it fail (201) and release, waits for it
# to end (SSMB_DLM_PRE_SECONDS at most), releases what is left and exits 202.
# A pre-script never reports a hold a post-script has already released.
#
# post-script. Asks the holder to release at once: it thaws (parents before
# children), runs UNLOCK TABLES in each session after checking the session
# id again, runs the post hooks in the reverse order, stops the watchdog and
# exits. A holder that is gone leaves its records: the post-script releases
# what they list as the watchdog would, and stops the watchdog. A holder
# still taking the hold is stopped (SIGTERM). Either way nothing stays held,
# whatever the verdict.
#
# dry-run. Checks what a pre-script needs (root; fsfreeze and setsid; every
# mount of the plan an ext4 or xfs file system that may be frozen; the
# applications' clients, defaults files and hooks) and holds nothing.
#
# State, under DLM_ROOT/POLICY (mode 0700, root only):
#   hold/   the hold's state directory, claimed by renaming a directory into
#           place (atomic: a second pre-script finds it and leaves it
#           alone): the snapshot mode's files (frozen, release, the MySQL
#           fifos) and pre, holder, watchdog (each "PID START", which tells a
#           live process from a later one with the same id), id (the
#           pre-script's executionId), deadline (when the holder and the
#           watchdog release, in ms since the epoch), held (the holder's
#           state once everything is held), req (the fifo the post-script
#           asks through), decided (see above). The holder removes it when
#           the hold ends; if the
#           holder is gone, the post-script, or the next pre-script once the
#           watchdog has ended too.
#   id      the executionId of the pre-script that held; the post-script
#           removes it
#   log, result, rc   the holder's stderr, stdout (its result object) and
#           exit status
#   expired the hold ended before the post-script: a line from whichever
#           released first, the holder (its deadline) or the watchdog
#
# Exit status, with the codes DLM documents for pre and post scripts:
#   0    pre-script: everything is held; post-script: released, and the hold
#        lasted until the post-script; dry-run: ready
#   1    dry-run: not ready; or inputs refused
#   201  pre-script failed; what it had taken is released
#   202  post-script: released, but its executionId is not the pre-script's,
#        or the holder had ended before it, or releasing failed
#   203  post-script: the hold had ended before it (the holder's deadline or
#        the watchdog), so the snapshots DLM took after that are only
#        crash-consistent
#   204  pre-script while a hold of the policy is in place, left alone
#   205  post-script with no hold to release
# Output: progress on stderr, the holder's lines named "ssm-backup holder";
# the last line of stdout is one JSON object:
#   {"status":"ok","command":"pre-script","policy":...,"executionId":...,
#    "message":"","holder":{...}}
# holder is the holder's result object (linux-snapshot.sh's; status "held"
# for the state a pre-script shows), or null.

readonly DLM_ROOT=/run/ssm-backup/dlm
readonly DLM_PRE_SECONDS=100 DLM_STOP_SECONDS=8 DLM_LOCK_SECONDS=5 DLM_CHECKPOINT_SECONDS=30

: "${SSMB_DLM_COMMAND:=dry-run}"
: "${SSMB_EXECUTION_ID:=None}"
: "${SSMB_DLM_PRE_SECONDS:=$DLM_PRE_SECONDS}"

dlm_dir=""
holder_pid=""  # the holder this pre-script started
holder_json="" # the file with the holder's result object, for the report
log_from=""    # the holder's log is shown from this byte on

# running PID: PID is a process that has not ended (a zombie has).
running() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

# proc_alive FILE: the process FILE records (record_proc) is running.
proc_alive() {
  local pid start
  read -r pid start 2>/dev/null <"$1" || return 1
  [[ -n $start && $(proc_start "$pid") == "$start" ]] && running "$pid"
}

# dlm_await PID SECONDS [FILE...]: waits until PID has ended or one of the
# FILEs exists; fails when SECONDS pass first.
dlm_await() {
  local pid=$1 now end f
  now_ms end
  end=$((end + $2 * 1000))
  shift 2
  while running "$pid"; do
    for f in "$@"; do
      if [[ -e $f ]]; then return 0; fi
    done
    now_ms now
    ((now < end)) || return 1
    sleep 0.05
  done
}

# dlm_kill_session SID: SIGKILL to every process of the session SID (a
# holder leads its own): its MySQL clients, and the hooks, which timeout(1)
# runs in process groups of their own. Twice, for a child forked during the
# first pass.
dlm_kill_session() {
  local f stat i
  local -a s=()
  for ((i = 0; i < 2; i++)); do
    for f in /proc/[0-9]*/stat; do
      read -r stat 2>/dev/null <"$f" || continue
      read -r -a s <<<"${stat##*) }"
      if [[ ${s[3]:-} == "$1" ]]; then kill -KILL "${f//[!0-9]/}" 2>/dev/null || true; fi
    done
  done
}

# dlm_stop PID: stops a holder: SIGTERM (its traps release), then after
# DLM_STOP_SECONDS SIGKILL to every process of its session.
dlm_stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  if ! dlm_await "$1" "$DLM_STOP_SECONDS"; then
    warn "the holder did not end within ${DLM_STOP_SECONDS} s of SIGTERM: killing its session"
    kill -KILL "$1" 2>/dev/null || true
    dlm_kill_session "$1"
    # Ended, not only signalled, before what its hold records is released.
    dlm_await "$1" 2 || true
  fi
}

# dlm_release_dead HOLD: releases what the hold directory HOLD records, its
# holder gone, as the watchdog would; then stops the watchdog and removes HOLD.
dlm_release_dead() {
  local w=""
  release_state "$1" "ssm-backup $SSMB_DLM_COMMAND"
  if proc_alive "$1/watchdog"; then
    read -r w _ <"$1/watchdog"
    kill -TERM -- "-$w" 2>/dev/null || true
  fi
  rm -rf -- "$1"
  log "released what the hold of the ended holder recorded"
}

# dlm_message: the message of the holder's result object.
dlm_message() {
  local j="" re='"message":"(([^"\\]|\\.)*)"'
  if [[ -s $holder_json ]]; then j=$(tail -n 1 -- "$holder_json"); fi
  if [[ $j =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf 'the holder ended without a result'; fi
}

# dlm_plan: the freeze plan, which must take every file system. A pre-script
# that cannot hold everything fails (DLM then takes crash-consistent
# snapshots or skips the instance, as ExecuteOperationOnScriptFailure says)
# rather than report a hold it does not have.
dlm_plan() {
  if ((${#requested_mounts[@]} == 0)); then imds_login; fi
  make_plan
  ((${#skipped[@]} == 0)) || die "not every file system can be frozen: ${skipped[*]}"
  ((${#plan[@]} > 0)) || die "no file system to freeze"
}

# dlm_hold: the holder (see the header).
dlm_hold() {
  local fd line="" left t
  state_dir=$dlm_dir/hold
  rc_file=$dlm_dir/rc
  watchdog_note=$dlm_dir/expired
  log_name="ssm-backup holder"
  open_run "$DLM_LOCK_SECONDS"
  dlm_plan
  prepare_hold
  begin_hold
  [[ $consistency == "$SSMB_CONSISTENCY" ]] || die "not everything could be held: ${skipped[*]}"
  printf '%d %d\n' $((hold_started_ms + budget_ms - margin_ms)) $((hold_started_ms + budget_ms)) >"$state_dir/deadline"
  mkfifo -m 600 "$state_dir/req"
  exec {fd}<>"$state_dir/req"
  app_fds+=("$fd")
  # The state as a pre-script shows it: the result object, status held.
  status=held report_result >"$state_dir/held.json"
  result_printed=false
  left_ms left
  ms_to_s t "$left"
  log "held; released by the post-script, or in ${t}s at the latest"
  mv -- "$state_dir/held.json" "$state_dir/held"
  while left_ms left && ((left > 0)); do
    if poll_line "$fd" line; then break; fi
  done
  if [[ -z $line ]]; then
    now_ms left
    ms_to_s t $((left - hold_started_ms))
    if [[ ! -e $watchdog_note ]]; then
      printf 'the holder released the hold at its deadline, %s s after it began\n' "$t" >"$watchdog_note"
    fi
    log "no post-script within the budget less the margin to release"
  else
    log "released at the post-script's request"
  fi
  thaw_all
  resume_apps
  if ((${#holding[@]} == 0)); then stop_watchdog; fi
  ((${#holding[@]} == 0)) || die "${message:-a file system could not be thawed}"
  [[ -z $lock_lost ]] || die "$lock_lost"
  [[ -z $post_failed ]] || die "$post_failed"
  if [[ -z $line || $budget_exceeded == true ]]; then
    budget_exceeded=true
    fail_status=203
    die "$(<"$watchdog_note"), before the post-script"
  fi
  if [[ $consistency == application ]]; then app_consistent=true; fi
  status=ok
}

# dlm_pre: the pre-script (see the header).
dlm_pre() {
  local hold=$dlm_dir/hold claim by="" now
  fail_status=201
  [[ -n $script_path ]] || die "the pre-script must run from a file: its holder runs that file again"
  claim=$(mktemp -d "$dlm_dir/claim.XXXXXXXX")
  record_proc "$claim/pre" "$$"
  printf '%s\n' "$SSMB_EXECUTION_ID" >"$claim/id"
  if ! mv -T -- "$claim" "$hold" 2>/dev/null; then
    if proc_alive "$hold/pre" || proc_alive "$hold/holder" || proc_alive "$hold/watchdog"; then
      rm -rf -- "$claim"
      fail_status=204
      if read -r by _ 2>/dev/null <"$hold/deadline"; then
        now_ms now
        by=", released in $(((by - now + 999) / 1000)) s at the latest"
      fi
      die "policy $SSMB_POLICY is held already (pre-script of execution $(cat -- "$hold/id" 2>/dev/null)$by); that hold is left alone"
    fi
    warn "releasing a hold whose holder and watchdog have ended"
    dlm_release_dead "$hold"
    mv -T -- "$claim" "$hold"
  fi
  rm -f -- "$dlm_dir/id" "$dlm_dir/expired" "$dlm_dir/rc"
  : >"$dlm_dir/log"
  log_from=0
  holder_json=$dlm_dir/result
  (
    # Whatever else the command inherited (a pipe its runner waits on to
    # close, say) the holder must not keep.
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if ((fd > 2 && fd < 255)); then exec {fd}>&-; fi
    done
    cd /
    exec setsid bash "$script_path" holder
  ) </dev/null >"$holder_json" 2>>"$dlm_dir/log" &
  holder_pid=$!
  record_proc "$hold/holder" "$holder_pid" 2>/dev/null || true
  dlm_await "$holder_pid" "$SSMB_DLM_PRE_SECONDS" "$hold/held" "$hold/decided" ||
    die "nothing held after ${SSMB_DLM_PRE_SECONDS} s"
  # The id first: a post-script that finds hold/decided taken reads it.
  if [[ -e $hold/held ]]; then printf '%s\n' "$SSMB_EXECUTION_ID" >"$dlm_dir/id"; fi
  if ! mkdir -- "$hold/decided" 2>/dev/null; then
    rm -f -- "$dlm_dir/id"
    # Taken by a post-script; or no hold any more: the holder failed.
    [[ ! -d $hold/decided ]] || die "a post-script came before everything was held; what was taken is released"
  fi
  [[ -e $hold/held ]] || die "$(dlm_message)"
  holder_json=$hold/held
  status=ok
}

# dlm_post: the post-script (see the header).
dlm_post() {
  local hold=$dlm_dir/hold pre_id="" h="" p="" why=""
  fail_status=202
  log_from=$(stat -c %s -- "$dlm_dir/log" 2>/dev/null) || log_from=0
  if [[ -f $dlm_dir/id ]]; then pre_id=$(<"$dlm_dir/id"); fi
  if [[ -n $pre_id || -d $hold ]]; then holder_json=$dlm_dir/result; fi
  if [[ -d $hold ]] && mkdir -- "$hold/decided" 2>/dev/null && proc_alive "$hold/pre"; then
    # The pre-script has not reported: it now fails and releases.
    read -r p _ 2>/dev/null <"$hold/pre" || p=""
    if [[ -z $pre_id ]]; then pre_id=$(cat -- "$hold/id" 2>/dev/null) || pre_id=""; fi
    why="the post-script came while the pre-script was still taking the hold"
    log "$why; waiting for it to fail and release"
    dlm_await "$p" "$SSMB_DLM_PRE_SECONDS" || log "the pre-script has not ended after ${SSMB_DLM_PRE_SECONDS} s"
  fi
  if [[ -z $pre_id && -d $hold ]]; then pre_id=$(cat -- "$hold/id" 2>/dev/null) || pre_id=""; fi
  if [[ -d $hold ]]; then
    read -r h _ 2>/dev/null <"$hold/holder" || h=""
    if ! proc_alive "$hold/holder"; then
      why="the holder ended before the post-script, and the MySQL sessions with it"
      dlm_release_dead "$hold"
    else
      if [[ -p $hold/req ]]; then
        printf 'release\n' 2>/dev/null 1<>"$hold/req" || true
      else
        why="the post-script came while the pre-script was still taking the hold"
        kill -TERM "$h" 2>/dev/null || true
      fi
      if ! dlm_await "$h" "$SSMB_DLM_PRE_SECONDS"; then
        why="the holder did not release within ${SSMB_DLM_PRE_SECONDS} s"
        dlm_stop "$h"
      fi
      # A holder that released has removed the hold; one that ended without
      # (killed just now, or a file system it could not thaw) has not.
      if [[ -d $hold ]]; then
        why=${why:-the holder ended before it had released everything}
        dlm_release_dead "$hold"
      fi
    fi
  fi
  rm -f -- "$dlm_dir/id"
  if [[ -z $pre_id ]]; then
    fail_status=205
    die "no hold of policy $SSMB_POLICY to release: no pre-script has held since the last post-script${why:+ ($why)}"
  fi
  [[ $pre_id == "$SSMB_EXECUTION_ID" ]] ||
    die "released the hold, but this post-script's executionId $SSMB_EXECUTION_ID is not the pre-script's $pre_id"
  if [[ -f $dlm_dir/expired ]]; then
    fail_status=203
    die "$(<"$dlm_dir/expired"), before the post-script; the snapshots DLM took after that are only crash-consistent"
  fi
  [[ -z $why ]] || die "$why"
  [[ $(cat -- "$dlm_dir/rc" 2>/dev/null) == 0 ]] || die "releasing the hold failed: $(dlm_message)"
  status=ok
}

# dlm_dry_run: what a pre-script needs, checked; nothing is held.
dlm_dry_run() {
  local i
  dlm_plan
  for ((i = 0; i < ${#app_type[@]}; i++)); do check_app "$i"; done
  log "ready: a pre-script would freeze ${plan[*]}${app_type[0]:+ and quiesce ${app_type[*]}}"
  status=ok
}

# dlm_finish: the EXIT trap's report. A pre-script that fails after starting
# its holder first stops it, and releases what its hold still records.
# shellcheck disable=SC2317 # run by the EXIT trap
dlm_finish() {
  local h=null
  if [[ $status != ok && -n $holder_pid ]]; then
    dlm_stop "$holder_pid"
    if [[ -d $dlm_dir/hold ]] && ! proc_alive "$dlm_dir/hold/holder"; then dlm_release_dead "$dlm_dir/hold"; fi
  fi
  if [[ -n $log_from && -f $dlm_dir/log ]]; then tail -c "+$((log_from + 1))" -- "$dlm_dir/log" >&2; fi
  if [[ -s $holder_json ]]; then h=$(tail -n 1 -- "$holder_json"); fi
  [[ $h == '{'*'}' ]] || h=null
  printf '{"status":%s,"command":%s,"policy":%s,"executionId":%s,"message":%s,"holder":%s}\n' \
    "$(json_string "$status")" "$(json_string "$SSMB_DLM_COMMAND")" "$(json_string "$SSMB_POLICY")" \
    "$(json_string "$SSMB_EXECUTION_ID")" "$(json_string "$message")" "$h"
}

# dlm_main [holder]: checks the inputs, prepares DLM_ROOT/POLICY and runs
# what DLM asked for; with "holder", the holder a pre-script starts.
dlm_main() {
  local uuid='^(None|[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})$'
  if [[ ${1:-} != holder ]]; then finish=dlm_finish; fi
  validate_inputs
  [[ $SSMB_DLM_COMMAND =~ ^(pre-script|post-script|dry-run)$ ]] ||
    die "SSMB_DLM_COMMAND must be pre-script, post-script or dry-run"
  [[ $SSMB_EXECUTION_ID =~ $uuid ]] || die "SSMB_EXECUTION_ID must be None or a UUID"
  [[ $SSMB_DLM_PRE_SECONDS =~ ^[1-9][0-9]{0,2}$ && $SSMB_DLM_PRE_SECONDS -le $DLM_PRE_SECONDS ]] ||
    die "SSMB_DLM_PRE_SECONDS must be a whole number of seconds from 1 to $DLM_PRE_SECONDS"
  [[ $SSMB_CONSISTENCY != crash ]] ||
    die "consistency crash needs no pre or post script: DLM takes crash-consistent snapshots by itself"
  ((EUID == 0)) || die "the DLM pre and post scripts need root"
  pg_checkpoint_seconds=$DLM_CHECKPOINT_SECONDS
  locate_script
  dlm_dir=$DLM_ROOT/$SSMB_POLICY
  mkdir -p -- "$dlm_dir"
  chmod 700 -- "${DLM_ROOT%/*}" "$DLM_ROOT" "$dlm_dir"
  if [[ ${1:-} == holder ]]; then
    dlm_hold
    return
  fi
  case $SSMB_DLM_COMMAND in
    pre-script) dlm_pre ;;
    post-script) dlm_post ;;
    dry-run) dlm_dry_run ;;
  esac
}

dlm_main "$@"
exit 0
