#!/bin/bash
# ssm-backup restore drill: read-only checks of a restored EBS volume.
#
# Runs as root on the drill instance, through the policy's drill check
# Command document, after the drill runbook attached a volume restored from
# the newest complete snapshot set. Never writes to the volume: the checks
# run with -n, the mount is read-only and replays no journal.
#
# Inputs, set by the document's header from its parameters:
#   SSMB_VOLUME_ID    the restored volume, vol-...
#   SSMB_DEVICE_NAME  the name it was attached as, /dev/sdf to /dev/sdp
#   SSMB_DATA_CHECK   none, mysql or postgresql: a data directory to find
# Optional, for tests: SSMB_DEVICE, a block device to check instead.
#
# 1. The device: /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol<id>
#    (Nitro instances), else the attach name or its /dev/xvd alias (Xen).
#    It may take a few seconds to appear: wait up to 60 s.
# 2. The file systems: the partitions of the device holding ext2/3/4 or
#    xfs, or the device itself. None is a failure (a member of a RAID or
#    LVM set cannot be checked on its own).
# 3. A read-only check of each: e2fsck -n -f, xfs_repair -n. A snapshot of
#    a mounted file system has a journal (log) to replay; without the
#    replay these checks report what it would fix, so for such a file
#    system the check is advisory and the mount below decides.
# 4. A read-only mount without journal replay (ext: ro,noload; xfs:
#    ro,norecovery,nouuid), nosuid,nodev,noexec, in a fresh directory; the
#    top directory must list; the data check looks for ibdata1 (mysql) or
#    PG_VERSION (postgresql) within 6 levels. Unmounted on every path.
# 5. One JSON line last: status ok or failed, the volume, the device, each
#    file system (type, check result, whether it mounted, entries at its
#    top) and the data found. Exit 0 when every file system mounted, every
#    conclusive check was clean and the data (when asked for) was found.
set -u
set -o pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'ssm-backup drill: %s\n' "$*" >&2; }

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/ }
  s=${s//$'\t'/ }
  printf '"%s"' "$s"
}

MOUNTED=""
WORK=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$MOUNTED" ]]; then
    umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" 2>/dev/null || true
    MOUNTED=""
  fi
  if [[ -n "$WORK" ]]; then
    rm -f "$WORK/check.out" "$WORK/mount.out"
    # Only empty directories go: a mount point still in use stays.
    rmdir "$WORK"/fs* "$WORK" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

result() {
  # result STATUS MESSAGE: prints the JSON line and exits.
  local status=$1 message=$2
  printf '{"status":%s,"volumeId":%s,"device":%s,"message":%s,"dataCheck":%s,"dataFound":%s,"filesystems":[%s]}\n' \
    "$(json_string "$status")" "$(json_string "${SSMB_VOLUME_ID:-}")" "$(json_string "${DEVICE:-}")" \
    "$(json_string "$message")" "$(json_string "${SSMB_DATA_CHECK:-none}")" "$(json_string "${DATA_FOUND:-}")" "${FS_JSON:-}"
  [[ "$status" == ok ]] && exit 0
  exit 1
}

DEVICE=""
DATA_FOUND=""
FS_JSON=""

case "${SSMB_DATA_CHECK:-none}" in
  none | mysql | postgresql) ;;
  *) result failed "unknown data check ${SSMB_DATA_CHECK}" ;;
esac

find_device() {
  if [[ -n "${SSMB_DEVICE:-}" ]]; then
    [[ -b "$SSMB_DEVICE" ]] && DEVICE=$SSMB_DEVICE
    return
  fi
  local id=${SSMB_VOLUME_ID#vol-} name=${SSMB_DEVICE_NAME:-} candidate
  for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol${id}" \
    "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol-${id}" \
    "$name" "${name/\/dev\/sd//dev/xvd}"; do
    if [[ -n "$candidate" && -b "$candidate" ]]; then
      DEVICE=$(readlink -f "$candidate")
      return
    fi
  done
}

for _ in $(seq 1 60); do
  find_device
  [[ -n "$DEVICE" ]] && break
  sleep 1
done
[[ -n "$DEVICE" ]] || result failed "volume ${SSMB_VOLUME_ID:-?} did not appear as a block device (looked for its NVMe id and ${SSMB_DEVICE_NAME:-no name})"
log "volume ${SSMB_VOLUME_ID:-?} is $DEVICE"

# The device and its partitions, each probed directly (blkid -p): a cached
# type may belong to the volume attached there before.
udevadm settle 2>/dev/null || true
mapfile -t CANDIDATES < <(lsblk -lnpo NAME "$DEVICE" 2>/dev/null)
[[ ${#CANDIDATES[@]} -gt 0 ]] || CANDIDATES=("$DEVICE")
FILESYSTEMS=()
for c in "${CANDIDATES[@]}"; do
  type=$(blkid -p -o value -s TYPE "$c" 2>/dev/null || true)
  case "$type" in
    ext2 | ext3 | ext4 | xfs) FILESYSTEMS+=("$c $type") ;;
  esac
done
[[ ${#FILESYSTEMS[@]} -gt 0 ]] || result failed "no ext2/3/4 or xfs file system on $DEVICE (a member of a RAID or LVM set cannot be checked on its own)"

WORK=$(mktemp -d /tmp/ssm-backup-drill.XXXXXX) || result failed "cannot make a temporary directory"
failed=""
n=0
for entry in "${FILESYSTEMS[@]}"; do
  part=${entry% *}
  type=${entry#* }
  n=$((n + 1))
  mnt="$WORK/fs$n"
  mkdir "$mnt" || result failed "cannot make $mnt"

  # 3. Read-only check; advisory when a journal or log awaits replay.
  dirty=false
  case "$type" in
    ext*)
      if dumpe2fs -h "$part" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery'; then dirty=true; fi
      e2fsck -n -f "$part" >"$WORK/check.out" 2>&1
      code=$?
      ;;
    xfs)
      xfs_repair -n "$part" >"$WORK/check.out" 2>&1
      code=$?
      if grep -q 'valuable metadata changes in a log' "$WORK/check.out"; then dirty=true; fi
      ;;
  esac
  if [[ $code -eq 0 ]]; then
    check=clean
  elif $dirty; then
    check="advisory: journal not replayed, exit $code"
  else
    check="errors: exit $code"
    failed="$failed $part:check"
    log "$part ($type): read-only check found errors:"
    tail -n 20 "$WORK/check.out" >&2
  fi
  log "$part ($type): $check"

  # 4. Read-only mount without replay, then look.
  opts=ro,nosuid,nodev,noexec
  case "$type" in
    ext*) opts="$opts,noload" ;;
    xfs) opts="$opts,norecovery,nouuid" ;;
  esac
  mounted=false
  entries=0
  if mount -t "$type" -o "$opts" "$part" "$mnt" 2>"$WORK/mount.out"; then
    MOUNTED=$mnt
    mounted=true
    entries=$(find "$mnt" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    case "${SSMB_DATA_CHECK:-none}" in
      mysql) marker=ibdata1 ;;
      postgresql) marker=PG_VERSION ;;
      *) marker="" ;;
    esac
    if [[ -n "$marker" && -z "$DATA_FOUND" ]]; then
      found=$(find "$mnt" -maxdepth 6 -name "$marker" -type f -print -quit 2>/dev/null || true)
      [[ -n "$found" ]] && DATA_FOUND="$part:${found#"$mnt"}"
    fi
    umount "$mnt" || umount -l "$mnt" || true
    MOUNTED=""
  else
    failed="$failed $part:mount"
    log "$part ($type): read-only mount failed: $(head -c 300 "$WORK/mount.out")"
  fi
  [[ -n "$FS_JSON" ]] && FS_JSON="$FS_JSON,"
  FS_JSON="$FS_JSON{\"device\":$(json_string "$part"),\"type\":$(json_string "$type"),\"check\":$(json_string "$check"),\"mounted\":$mounted,\"entries\":$entries}"
done

if [[ "${SSMB_DATA_CHECK:-none}" != none && -z "$DATA_FOUND" ]]; then
  failed="$failed data"
  result failed "no ${SSMB_DATA_CHECK} data directory (marker file not found within 6 levels) on the restored volume"
fi
[[ -z "$failed" ]] || result failed "failed:$failed"
result ok "every file system mounted read-only${DATA_FOUND:+; data found at $DATA_FOUND}"
