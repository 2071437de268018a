"""Restore drill of one instance's newest snapshot set for one ssm-backup policy.

Runs as two aws:executeScript steps (python3.11) of the policy's drill
runbook: restore() before the checks, cleanup() after them, on every path.
pick_set(), pick_snapshot() and free_device() are pure.

restore inputs (events): InstanceId (whose snapshots are restored),
PolicyName, RunId (the drill's execution id), all non-empty; DrillInstanceId
(the instance the volume is attached to and checked on; "" when the drill
only restores); WaitSeconds (default 480, 0 to 540); Now (ISO 8601, tests).

restore
 1. List DescribeSnapshots(OwnerIds=[self], tag:ssm-backup:policy =
    PolicyName, tag:ssm-backup:instance-id = InstanceId). Own snapshots are
    those whose tags name exactly this policy and instance, and that are
    not copies (no ssm-backup:source-region tag). They are grouped into sets
    by ssm-backup:run-id, as the prune step groups them.
 2. The set restored is the newest complete set (every member completed)
    whose members are all in the standard tier: an archived snapshot must
    be restored from the archive (hours) before a volume can be made of it.
    No such set fails the drill.
 3. The snapshot restored: the one of the instance's first data volume
    (lowest device name other than the root device, by the instance's
    current block device mappings); else the root volume's; else the
    lowest snapshot id of the set.
 4. The volume is created (CreateVolume, gp3) in the drill instance's
    Availability Zone, else in the backed-up instance's, tagged at creation
    ssm-backup:drill = PolicyName, ssm-backup:run-id = RunId,
    ssm-backup:source-snapshot and Name. The drill role may touch only
    volumes so tagged; cleanup() finds them by these tags.
 5. Wait until the volume is available (poll POLL_SECONDS, at most
    WaitSeconds); error or timeout fails the step (cleanup still runs).
 6. With DrillInstanceId: a device name free on the drill instance,
    /dev/sdf to /dev/sdp, for the attach step.
 Result: volumeId, snapshotId, setId, snapshotTime (ISO 8601),
 availabilityZone, deviceName ("" without a drill instance), archived
 (number of newer complete sets skipped because archived).

cleanup inputs: PolicyName, RunId; Now.
 Every volume tagged ssm-backup:drill = PolicyName and ssm-backup:run-id =
 RunId, and every volume tagged ssm-backup:drill = PolicyName created more
 than STALE_HOURS ago (left by a drill that was killed), is detached when
 in use (DetachVolume), waited for while it is being created or detached,
 and deleted; one already being deleted counts as deleted. A
 volume that cannot be deleted is reported in errors and fails the step, so
 the execution shows that something was left behind.
 Result: deleted (volume ids), errors.

A denied call raises DrillAccessDenied. Throttling is retried by the client
(adaptive mode, up to 10 retries).
"""

import dataclasses
import datetime
import json
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TAG_POLICY = "ssm-backup:policy"
TAG_INSTANCE = "ssm-backup:instance-id"
TAG_RUN = "ssm-backup:run-id"
TAG_SOURCE_REGION = "ssm-backup:source-region"
TAG_SOURCE_SNAPSHOT = "ssm-backup:source-snapshot"
TAG_DRILL = "ssm-backup:drill"
POLL_SECONDS = 5
MAX_WAIT_SECONDS = 540
DEFAULT_WAIT_SECONDS = 480
STALE_HOURS = 24
DEVICES = ["/dev/sd" + c for c in "fghijklmnop"]
DENIED_CODES = ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")


class DrillAccessDenied(PermissionError):
    """An EC2 call the drill needs was denied by IAM."""


class DrillFailed(RuntimeError):
    """The drill cannot go on; the message says why."""


@dataclasses.dataclass
class SnapshotSet:
    id: str
    members: list = dataclasses.field(default_factory=list)
    time: datetime.datetime = None

    @property
    def complete(self):
        return bool(self.members) and all(m.get("State") == "completed" for m in self.members)

    @property
    def standard(self):
        return all(m.get("StorageTier", "standard") == "standard" for m in self.members)


def _str(events, key, empty_ok=False):
    value = events.get(key, "" if empty_ok else None)
    if not isinstance(value, str) or (not empty_ok and value.strip() == ""):
        raise ValueError("%s must be a non-empty string, got %r" % (key, value))
    return value.strip()


def _now(events):
    now = events.get("Now")
    if now in (None, ""):
        return datetime.datetime.now(datetime.timezone.utc)
    try:
        now = datetime.datetime.fromisoformat(str(now).strip())
    except ValueError:
        raise ValueError("Now must be an ISO 8601 time, got %r" % now) from None
    return _utc(now)


def _wait_seconds(events):
    value = events.get("WaitSeconds", "")
    if value in ("", None):
        return DEFAULT_WAIT_SECONDS
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) > MAX_WAIT_SECONDS:
        raise ValueError("WaitSeconds must be 0 to %d, got %r" % (MAX_WAIT_SECONDS, value))
    return int(text)


def _utc(t):
    if not isinstance(t, datetime.datetime):
        return None
    if t.tzinfo is None:
        return t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc)


def _tag_values(resource, key):
    return [t.get("Value") for t in resource.get("Tags") or [] if isinstance(t, dict) and t.get("Key") == key]


def is_own(snapshot, policy_name, instance_id):
    """This policy's and instance's snapshot, and not a copy made from another region."""
    policies = _tag_values(snapshot, TAG_POLICY)
    instances = _tag_values(snapshot, TAG_INSTANCE)
    return (bool(policies) and all(v == policy_name for v in policies)
            and bool(instances) and all(v == instance_id for v in instances)
            and not _tag_values(snapshot, TAG_SOURCE_REGION))


def pick_set(snapshots, policy_name, instance_id):
    """The newest complete set in the standard tier, and how many newer
    complete sets were skipped because archived."""
    sets = {}
    for snap in snapshots:
        if not is_own(snap, policy_name, instance_id):
            continue
        runs = set(_tag_values(snap, TAG_RUN))
        run = next(iter(runs)) if len(runs) == 1 else ""
        key = run if isinstance(run, str) and run else "snapshot:" + str(snap.get("SnapshotId"))
        sets.setdefault(key, SnapshotSet(key)).members.append(snap)
    epoch = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    for s in sets.values():
        times = [t for t in (_utc(m.get("StartTime")) for m in s.members) if t is not None]
        s.time = max(times) if times else epoch
    archived = 0
    for s in sorted(sets.values(), key=lambda s: (s.time, s.id), reverse=True):
        if not s.complete:
            continue
        if s.standard:
            return s, archived
        archived += 1
    return None, archived


def pick_snapshot(snapshot_set, instance):
    """The snapshot of the first data volume, else of the root volume,
    else the lowest snapshot id. instance is a DescribeInstances item or
    None (the instance is gone)."""
    members = sorted(snapshot_set.members, key=lambda m: m.get("SnapshotId", ""))
    by_volume = {m.get("VolumeId"): m for m in members}
    if instance:
        root = instance.get("RootDeviceName")
        mappings = sorted(instance.get("BlockDeviceMappings") or [], key=lambda b: b.get("DeviceName", ""))
        attached = [(b.get("DeviceName"), (b.get("Ebs") or {}).get("VolumeId")) for b in mappings]
        for device, volume in attached:
            if device != root and volume in by_volume:
                return by_volume[volume]
        for device, volume in attached:
            if volume in by_volume:
                return by_volume[volume]
    return members[0]


def free_device(instance):
    """A device name from DEVICES not used on the instance."""
    used = {b.get("DeviceName") for b in instance.get("BlockDeviceMappings") or []}
    used |= {u.replace("/dev/xvd", "/dev/sd") for u in used if isinstance(u, str)}
    for d in DEVICES:
        if d not in used:
            return d
    raise DrillFailed("no free device name from %s to %s on %s" % (DEVICES[0], DEVICES[-1], instance.get("InstanceId")))


def _error(e):
    err = e.response.get("Error", {}) if isinstance(e, ClientError) else {}
    return err.get("Code", type(e).__name__), str(err.get("Message", e))[:300]


def _call(what, fn, **kwargs):
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as e:
        code, msg = _error(e)
        if code in DENIED_CODES:
            raise DrillAccessDenied("%s was denied (%s: %s); see the drill role's permissions" % (what, code, msg)) from None
        raise DrillFailed("%s failed: %s: %s" % (what, code, msg)) from None


def _instance(ec2, instance_id):
    """The instance, or None when EC2 no longer knows it."""
    try:
        r = ec2.describe_instances(InstanceIds=[instance_id])
    except ClientError as e:
        code, msg = _error(e)
        if code == "InvalidInstanceID.NotFound":
            return None
        if code in DENIED_CODES:
            raise DrillAccessDenied("ec2:DescribeInstances was denied (%s: %s)" % (code, msg)) from None
        raise DrillFailed("DescribeInstances of %s failed: %s: %s" % (instance_id, code, msg)) from None
    for res in r.get("Reservations", []):
        for inst in res.get("Instances", []):
            return inst
    return None


def restore(events, ec2, clock=time.monotonic, sleep=time.sleep):
    """Creates the drill volume and waits for it; returns where it is."""
    instance_id = _str(events, "InstanceId")
    policy = _str(events, "PolicyName")
    run_id = _str(events, "RunId")
    drill_id = _str(events, "DrillInstanceId", empty_ok=True)
    wait = _wait_seconds(events)
    pages = ec2.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"],
        Filters=[{"Name": "tag:" + TAG_POLICY, "Values": [policy]},
                 {"Name": "tag:" + TAG_INSTANCE, "Values": [instance_id]}])
    snapshots = []
    try:
        for page in pages:
            snapshots.extend(page.get("Snapshots", []))
    except ClientError as e:
        code, msg = _error(e)
        if code in DENIED_CODES:
            raise DrillAccessDenied("ec2:DescribeSnapshots was denied (%s: %s)" % (code, msg)) from None
        raise DrillFailed("DescribeSnapshots failed: %s: %s" % (code, msg)) from None
    chosen, archived = pick_set(snapshots, policy, instance_id)
    if chosen is None:
        raise DrillFailed("instance %s has no complete snapshot set of policy %s in the standard tier%s"
                          % (instance_id, policy, " (%d archived)" % archived if archived else ""))
    source = _instance(ec2, instance_id)
    snap = pick_snapshot(chosen, source)
    device, zone = "", None
    if drill_id:
        drill = _instance(ec2, drill_id)
        if drill is None:
            raise DrillFailed("drill instance %s does not exist" % drill_id)
        zone = (drill.get("Placement") or {}).get("AvailabilityZone")
        device = free_device(drill)
    elif source is not None:
        zone = (source.get("Placement") or {}).get("AvailabilityZone")
    if not zone:
        raise DrillFailed("no Availability Zone to restore into: neither the drill instance nor %s is known" % instance_id)
    tags = [
        {"Key": TAG_DRILL, "Value": policy},
        {"Key": TAG_RUN, "Value": run_id},
        {"Key": TAG_SOURCE_SNAPSHOT, "Value": snap["SnapshotId"]},
        {"Key": "Name", "Value": "ssm-backup restore drill of " + policy},
    ]
    volume = _call("ec2:CreateVolume from %s" % snap["SnapshotId"], ec2.create_volume,
                   SnapshotId=snap["SnapshotId"], AvailabilityZone=zone, VolumeType="gp3",
                   TagSpecifications=[{"ResourceType": "volume", "Tags": tags}])
    volume_id = volume["VolumeId"]
    state, started = volume.get("State"), clock()
    while state != "available":
        if state == "error":
            raise DrillFailed("volume %s from %s went into the error state" % (volume_id, snap["SnapshotId"]))
        if clock() - started >= wait:
            raise DrillFailed("volume %s from %s is still %s after %d s" % (volume_id, snap["SnapshotId"], state, wait))
        sleep(POLL_SECONDS)
        found = _call("ec2:DescribeVolumes", ec2.describe_volumes, VolumeIds=[volume_id]).get("Volumes", [])
        state = found[0].get("State") if found else "missing"
    result = {
        "volumeId": volume_id,
        "snapshotId": snap["SnapshotId"],
        "setId": chosen.id,
        "snapshotTime": chosen.time.isoformat(),
        "availabilityZone": zone,
        "deviceName": device,
        "archived": archived,
    }
    print(json.dumps(result, sort_keys=True))
    return result


def cleanup(events, ec2, clock=time.monotonic, sleep=time.sleep):
    """Detaches and deletes this drill's volumes and stale ones."""
    policy = _str(events, "PolicyName")
    run_id = _str(events, "RunId")
    now = _now(events)
    found = _call("ec2:DescribeVolumes", ec2.describe_volumes,
                  Filters=[{"Name": "tag:" + TAG_DRILL, "Values": [policy]}]).get("Volumes", [])
    stale = now - datetime.timedelta(hours=STALE_HOURS)
    todo = []
    for v in sorted(found, key=lambda v: v.get("VolumeId", "")):
        if policy not in _tag_values(v, TAG_DRILL):
            continue
        created = _utc(v.get("CreateTime"))
        if run_id in _tag_values(v, TAG_RUN) or (created is not None and created < stale):
            todo.append(v)
    report = {"deleted": [], "errors": []}
    started = clock()
    for v in todo:
        vid, state = v["VolumeId"], v.get("State")
        try:
            if state in ("deleting", "deleted"):
                report["deleted"].append(vid)
                continue
            if state == "in-use":
                _call("ec2:DetachVolume of %s" % vid, ec2.detach_volume, VolumeId=vid)
            # A volume still being created or detached cannot be deleted yet.
            while state not in ("available", "error"):
                if clock() - started >= MAX_WAIT_SECONDS - 60:
                    raise DrillFailed("volume %s is still %s" % (vid, state))
                sleep(POLL_SECONDS)
                got = _call("ec2:DescribeVolumes", ec2.describe_volumes, VolumeIds=[vid]).get("Volumes", [])
                state = got[0].get("State") if got else "deleted"
                if state in ("deleting", "deleted"):
                    break
            if state not in ("deleting", "deleted"):
                _call("ec2:DeleteVolume of %s" % vid, ec2.delete_volume, VolumeId=vid)
            report["deleted"].append(vid)
        except DrillFailed as e:
            report["errors"].append(str(e))
    print(json.dumps(report, sort_keys=True))
    if report["errors"]:
        raise DrillFailed("%d drill volume(s) left behind: %s" % (len(report["errors"]), "; ".join(report["errors"])))
    return report


def _ec2_client():
    return boto3.client("ec2", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def restore_handler(events, context):
    return restore(events, _ec2_client())


def cleanup_handler(events, context):
    return cleanup(events, _ec2_client())
