"""Off-site copies of one instance's snapshot sets for one ssm-backup policy.

Runs as an aws:executeScript step (python3.11) of the policy's Automation
runbook, after the snapshot step and before pruning. handler() waits for this
run's snapshots, copies or shares, and reports; plan_region() and
plan_share() are pure.

Inputs (events): InstanceId, PolicyName, RunId (this run's execution id) and
SourceRegion (the runbook's region), all non-empty; Copies, a non-empty list
of destinations; WaitSeconds (default 420, 0 to 540): how long to wait for
this run's snapshots to complete; Now (optional ISO 8601 time, for tests).
A destination is either
  {"Region": R, "KmsKeyId"?: K, "KeepCount"?, "MaxAgeDays"?, "MinKeep"?}
    a copy in region R of this account (R differs from SourceRegion), made
    by CopySnapshot from a client in R, encrypted with K when given; the
    retention is the one the prune step applies in R, read here so that a
    catch-up never copies a set the prune would delete at once; or
  {"Account": A, "Region"?: R}
    a share with account A: ModifySnapshotAttribute createVolumePermission
    add A on each snapshot, in the source region. Account A makes its own
    copy (into region R when given); that copy is outside this script.
Invalid input raises ValueError before any AWS call.

Algorithm
 1. List DescribeSnapshots(OwnerIds=[self], tag:ssm-backup:policy =
    PolicyName, tag:ssm-backup:instance-id = InstanceId) in the source
    region. Own snapshots are those whose tags name exactly this policy and
    instance (the filter is not trusted). They are grouped into sets by
    ssm-backup:run-id, as the prune step groups them.
 2. Wait: while a member of this run's set is pending and WaitSeconds have
    not passed, sleep POLL_SECONDS and describe those snapshots again.
    CopySnapshot and sharing need completed snapshots. A set still pending
    then is not copied now (reported in deferred); the next run copies it.
 3. The sets to copy are the complete sets (every member completed), newest
    first (newest StartTime, then set id).
 4. Region copy: the copies already in the region are the own snapshots
    there whose ssm-backup:source-region is SourceRegion; their
    ssm-backup:source-snapshot values are the snapshots already copied. A
    complete set is wanted when the region's retention keeps it (KeepCount:
    the newest max(KeepCount, MinKeep) complete sets; MaxAgeDays: younger
    than that, and the newest MinKeep; none: every set). Every member of a
    wanted set not yet copied is copied, newest set first, at most
    MAX_COPIES_PER_REGION per run (EBS limits concurrent copies into a
    region); the rest is deferred to the next run. Each copy is tagged at
    creation (TagSpecifications) with the source's tags (all but aws:
    keys) plus ssm-backup:source-snapshot, ssm-backup:source-region and
    ssm-backup:copy-of (SourceRegion/SnapshotId).
 5. Share: the snapshots already shared are those DescribeSnapshots lists
    with RestorableByUserIds=[A]. Every member of a complete set not yet
    shared is shared, newest set first, at most MAX_SHARES_PER_ACCOUNT per
    run.
A call that fails is reported in errors and the script goes on with the
next snapshot. A denied call raises CopyAccessDenied at once, after printing
the report so far. When errors is not empty the handler raises CopyFailed
after printing the report, so the step fails and the execution ends Failed
(the runbook still prunes). Throttling is retried by the client (adaptive
mode, up to 10 retries).

Result (also printed as one JSON line): copied ("region/source-id=copy-id"),
shared ("account/snapshot-id"), deferred ("destination: why"), errors
(strings), currentSet (snapshot ids of this run), waitedSeconds (int),
totals (each list's full length), truncated (true when a list was cut to
MAX_LISTED entries).
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
TAG_SOURCE_SNAPSHOT = "ssm-backup:source-snapshot"
TAG_SOURCE_REGION = "ssm-backup:source-region"
TAG_COPY_OF = "ssm-backup:copy-of"
COPY_TAGS = (TAG_SOURCE_SNAPSHOT, TAG_SOURCE_REGION, TAG_COPY_OF)
POLL_SECONDS = 15
MAX_WAIT_SECONDS = 540  # the step times out at 600
DEFAULT_WAIT_SECONDS = 420
MAX_COPIES_PER_REGION = 20
MAX_SHARES_PER_ACCOUNT = 100
MAX_LISTED = 100
PAGE_SIZE = 1000
DENIED_CODES = ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")
LIST_KEYS = ("copied", "shared", "deferred", "errors")


class CopyAccessDenied(PermissionError):
    """An EC2 call the copy needs was denied by IAM."""


class CopyFailed(RuntimeError):
    """At least one copy or share failed; the report says which."""


@dataclasses.dataclass
class Destination:
    region: str = ""
    account: str = ""
    kms_key_id: str = ""
    keep_count: int = 0
    max_age_days: int = 0
    min_keep: int = 1

    @property
    def name(self):
        if self.account:
            return "account " + self.account
        return "region " + self.region


@dataclasses.dataclass
class Settings:
    instance_id: str
    policy_name: str
    run_id: str
    source_region: str
    destinations: list
    wait_seconds: int
    now: datetime.datetime


@dataclasses.dataclass
class SnapshotSet:
    id: str
    members: list = dataclasses.field(default_factory=list)
    time: datetime.datetime = None
    current: bool = False

    @property
    def complete(self):
        return bool(self.members) and all(m.get("State") == "completed" for m in self.members)

    @property
    def pending(self):
        return any(m.get("State") == "pending" for m in self.members)

    @property
    def snapshot_ids(self):
        return sorted({m["SnapshotId"] for m in self.members if m.get("SnapshotId")})


def _str_input(events, key):
    value = events.get(key)
    if not isinstance(value, str) or value.strip() == "":
        raise ValueError("%s must be a non-empty string, got %r" % (key, value))
    return value.strip()


def _int_value(value, key, minimum, maximum=None, default=0):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return default
    if isinstance(value, bool):
        raise ValueError("%s must be an integer, got %r" % (key, value))
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            raise ValueError("%s must be a non-negative integer, got %r" % (key, value))
        value = int(text)
    if not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        raise ValueError("%s must be an integer from %d%s, got %r"
                         % (key, minimum, "" if maximum is None else " to %d" % maximum, value))
    return value


def _utc(t):
    if not isinstance(t, datetime.datetime):
        return None
    if t.tzinfo is None:
        return t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc)


def _destination(i, raw, source_region):
    where = "Copies[%d]" % i
    if not isinstance(raw, dict):
        raise ValueError("%s must be an object" % where)
    unknown = set(raw) - {"Region", "Account", "KmsKeyId", "KeepCount", "MaxAgeDays", "MinKeep"}
    if unknown:
        raise ValueError("%s has unknown keys %s" % (where, sorted(unknown)))
    d = Destination()
    for key, attr in (("Region", "region"), ("Account", "account"), ("KmsKeyId", "kms_key_id")):
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise ValueError("%s.%s must be a string, got %r" % (where, key, value))
        setattr(d, attr, value.strip())
    if d.account and not (len(d.account) == 12 and d.account.isdigit() and d.account.isascii()):
        raise ValueError("%s.Account must be a 12-digit account id, got %r" % (where, d.account))
    if not d.account and not d.region:
        raise ValueError("%s needs Region or Account" % where)
    if d.account and (d.kms_key_id or any(raw.get(k) not in (None, "", "0", 0) for k in ("KeepCount", "MaxAgeDays"))):
        raise ValueError("%s shares with account %s: its key and retention belong to that account"
                         % (where, d.account))
    if not d.account and d.region == source_region:
        raise ValueError("%s.Region %s is the source region; a copy must go to another region"
                         % (where, d.region))
    d.keep_count = _int_value(raw.get("KeepCount"), where + ".KeepCount", 0)
    d.max_age_days = _int_value(raw.get("MaxAgeDays"), where + ".MaxAgeDays", 0)
    d.min_keep = _int_value(raw.get("MinKeep"), where + ".MinKeep", 1, default=1)
    return d


def parse_settings(events):
    """Validate the step inputs; raises ValueError with the offending key."""
    if not isinstance(events, dict):
        raise ValueError("the input payload must be an object")
    now = events.get("Now")
    if now in (None, ""):
        now = datetime.datetime.now(datetime.timezone.utc)
    elif isinstance(now, str):
        try:
            now = datetime.datetime.fromisoformat(now.strip())
        except ValueError:
            raise ValueError("Now must be an ISO 8601 time, got %r" % now) from None
    now = _utc(now)
    if now is None:
        raise ValueError("Now must be an ISO 8601 time")
    source_region = _str_input(events, "SourceRegion")
    copies = events.get("Copies")
    if not isinstance(copies, list) or not copies:
        raise ValueError("Copies must be a non-empty list, got %r" % (copies,))
    destinations = [_destination(i, c, source_region) for i, c in enumerate(copies)]
    seen = set()
    for d in destinations:
        key = (d.region if not d.account else "", d.account)
        if key in seen:
            raise ValueError("Copies lists %s twice" % d.name)
        seen.add(key)
    return Settings(
        instance_id=_str_input(events, "InstanceId"),
        policy_name=_str_input(events, "PolicyName"),
        run_id=_str_input(events, "RunId"),
        source_region=source_region,
        destinations=destinations,
        wait_seconds=_int_value(events.get("WaitSeconds"), "WaitSeconds", 0, MAX_WAIT_SECONDS,
                                default=DEFAULT_WAIT_SECONDS),
        now=now,
    )


def _tag_values(snapshot, key):
    tags = snapshot.get("Tags") or []
    return [t.get("Value") for t in tags if isinstance(t, dict) and t.get("Key") == key]


def is_own(snapshot, policy_name, instance_id):
    """True when the snapshot's tags name exactly this policy and instance."""
    policies = _tag_values(snapshot, TAG_POLICY)
    instances = _tag_values(snapshot, TAG_INSTANCE)
    return (bool(policies) and all(v == policy_name for v in policies)
            and bool(instances) and all(v == instance_id for v in instances))


def group_sets(snapshots, run_id):
    """Groups own snapshots into sets by run id, newest first."""
    sets = {}
    for snap in snapshots:
        runs = set(_tag_values(snap, TAG_RUN))
        if run_id in runs:
            key = ("run", run_id)
        elif len(runs) == 1 and isinstance(next(iter(runs)), str) and next(iter(runs)):
            key = ("run", next(iter(runs)))
        else:
            key = ("snapshot", str(snap.get("SnapshotId")))
        if key not in sets:
            sets[key] = SnapshotSet(key[1] if key[0] == "run" else "snapshot:" + key[1])
        sets[key].members.append(snap)
    epoch = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    for key, s in sets.items():
        s.current = key == ("run", run_id)
        times = [t for t in (_utc(m.get("StartTime")) for m in s.members) if t is not None]
        s.time = max(times) if times else epoch
    return sorted(sets.values(), key=lambda s: (s.time, s.id), reverse=True)


def wanted_sets(complete, dest, now):
    """The complete sets (newest first) the destination's retention keeps."""
    if dest.keep_count == 0 and dest.max_age_days == 0:
        return list(complete)
    keep = set()
    if dest.keep_count > 0:
        keep.update(s.id for s in complete[:max(dest.keep_count, dest.min_keep)])
    if dest.max_age_days > 0:
        keep.update(s.id for s in complete[:dest.min_keep])
        try:
            cutoff = now - datetime.timedelta(days=dest.max_age_days)
        except OverflowError:
            cutoff = None
        keep.update(s.id for s in complete if cutoff is None or s.time > cutoff)
    return [s for s in complete if s.id in keep]


def plan_region(complete, dest, already_copied, now):
    """Snapshots to copy into dest now, and the number left for later."""
    todo = [m for s in wanted_sets(complete, dest, now)
            for m in sorted(s.members, key=lambda m: m.get("SnapshotId", ""))
            if m.get("SnapshotId") not in already_copied]
    return todo[:MAX_COPIES_PER_REGION], len(todo[MAX_COPIES_PER_REGION:])


def plan_share(complete, already_shared):
    """Snapshots to share now, and the number left for later."""
    todo = [m for s in complete for m in sorted(s.members, key=lambda m: m.get("SnapshotId", ""))
            if m.get("SnapshotId") not in already_shared]
    return todo[:MAX_SHARES_PER_ACCOUNT], len(todo[MAX_SHARES_PER_ACCOUNT:])


def copy_tags(snapshot, source_region):
    """The tags a copy is created with: the source's, and where it came from."""
    out = [{"Key": t["Key"], "Value": t.get("Value", "")} for t in snapshot.get("Tags") or []
           if isinstance(t, dict) and isinstance(t.get("Key"), str)
           and not t["Key"].startswith("aws:") and t["Key"] not in COPY_TAGS]
    sid = snapshot["SnapshotId"]
    out += [
        {"Key": TAG_SOURCE_SNAPSHOT, "Value": sid},
        {"Key": TAG_SOURCE_REGION, "Value": source_region},
        {"Key": TAG_COPY_OF, "Value": source_region + "/" + sid},
    ]
    return out


def _error(e):
    err = e.response.get("Error", {}) if isinstance(e, ClientError) else {}
    return err.get("Code", type(e).__name__), str(err.get("Message", e))[:300]


def _cut(report):
    report["totals"] = {k: len(report[k]) for k in LIST_KEYS}
    report["truncated"] = any(len(report[k]) > MAX_LISTED for k in LIST_KEYS)
    for k in LIST_KEYS:
        report[k] = report[k][:MAX_LISTED]
    return report


class _Run:
    """One run of the handler: the clients, the settings and the report."""

    def __init__(self, settings, clients):
        self.s = settings
        self.clients = clients
        self.report = {k: [] for k in LIST_KEYS}
        self.report["currentSet"] = []
        self.report["waitedSeconds"] = 0

    def denied(self, call, code, msg, hint):
        print(json.dumps(_cut(self.report), sort_keys=True))
        return CopyAccessDenied("%s was denied (%s: %s). %s" % (call, code, msg, hint))

    def list_snapshots(self, region, **extra):
        s = self.s
        filters = [
            {"Name": "tag:" + TAG_POLICY, "Values": [s.policy_name]},
            {"Name": "tag:" + TAG_INSTANCE, "Values": [s.instance_id]},
        ]
        pages = self.clients(region).get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"], Filters=filters, PaginationConfig={"PageSize": PAGE_SIZE}, **extra)
        out = []
        try:
            for page in pages:
                out.extend(page.get("Snapshots", []))
        except ClientError as e:
            code, msg = _error(e)
            if code in DENIED_CODES:
                raise self.denied("ec2:DescribeSnapshots in " + region, code, msg,
                                  "The Automation role needs ec2:DescribeSnapshots.") from None
            raise RuntimeError("DescribeSnapshots in %s failed: %s: %s" % (region, code, msg)) from e
        return [x for x in out if is_own(x, s.policy_name, s.instance_id)]

    def wait_for_current(self, sets, clock, sleep):
        current = next((x for x in sets if x.current), None)
        if current is None:
            self.report["errors"].append(
                "no snapshot of this run (%s=%s) was found; nothing new to copy" % (TAG_RUN, self.s.run_id))
            return
        self.report["currentSet"] = current.snapshot_ids
        started = clock()
        ec2 = self.clients(self.s.source_region)
        while current.pending and clock() - started < self.s.wait_seconds:
            sleep(POLL_SECONDS)
            try:
                fresh = ec2.describe_snapshots(SnapshotIds=current.snapshot_ids).get("Snapshots", [])
            except ClientError as e:
                code, msg = _error(e)
                if code in DENIED_CODES:
                    raise self.denied("ec2:DescribeSnapshots", code, msg,
                                      "The Automation role needs ec2:DescribeSnapshots.") from None
                raise RuntimeError("DescribeSnapshots failed: %s: %s" % (code, msg)) from e
            by_id = {m.get("SnapshotId"): m for m in fresh}
            current.members = [by_id.get(m.get("SnapshotId"), m) for m in current.members]
        self.report["waitedSeconds"] = int(clock() - started)
        if current.pending:
            for d in self.s.destinations:
                self.report["deferred"].append(
                    "%s: this run's snapshots are still pending after %d s; the next run copies them"
                    % (d.name, self.s.wait_seconds))

    def copy_to_region(self, complete, d):
        s = self.s
        dest = self.clients(d.region)
        existing = self.list_snapshots(d.region)
        already = {v for x in existing if s.source_region in _tag_values(x, TAG_SOURCE_REGION)
                   for v in _tag_values(x, TAG_SOURCE_SNAPSHOT)}
        todo, left = plan_region(complete, d, already, s.now)
        for snap in todo:
            sid = snap["SnapshotId"]
            params = {
                "SourceRegion": s.source_region,
                "SourceSnapshotId": sid,
                "Description": ("ssm-backup copy of %s from %s (policy %s, instance %s)"
                                % (sid, s.source_region, s.policy_name, s.instance_id))[:255],
                "TagSpecifications": [{"ResourceType": "snapshot", "Tags": copy_tags(snap, s.source_region)}],
            }
            if d.kms_key_id:
                params["Encrypted"] = True
                params["KmsKeyId"] = d.kms_key_id
            try:
                copy_id = dest.copy_snapshot(**params).get("SnapshotId", "")
            except (ClientError, BotoCoreError) as e:
                code, msg = _error(e)
                if code in DENIED_CODES:
                    raise self.denied("ec2:CopySnapshot of %s into %s" % (sid, d.region), code, msg,
                                      "The Automation role must be allowed to copy snapshots tagged %s=%s "
                                      "into %s, tagged at creation (and to use the KMS keys involved)."
                                      % (TAG_POLICY, s.policy_name, d.region)) from None
                self.report["errors"].append("copy of %s into %s: %s: %s" % (sid, d.region, code, msg))
                continue
            self.report["copied"].append("%s/%s=%s" % (d.region, sid, copy_id))
        if left:
            self.report["deferred"].append("%s: %d snapshot(s) left for the next run (at most %d copies per run)"
                                           % (d.name, left, MAX_COPIES_PER_REGION))

    def share_with_account(self, complete, d):
        s = self.s
        ec2 = self.clients(s.source_region)
        shared = {x.get("SnapshotId") for x in self.list_snapshots(s.source_region, RestorableByUserIds=[d.account])}
        todo, left = plan_share(complete, shared)
        for snap in todo:
            sid = snap["SnapshotId"]
            try:
                ec2.modify_snapshot_attribute(SnapshotId=sid, Attribute="createVolumePermission",
                                              OperationType="add", UserIds=[d.account])
            except (ClientError, BotoCoreError) as e:
                code, msg = _error(e)
                if code in DENIED_CODES:
                    raise self.denied("ec2:ModifySnapshotAttribute of %s" % sid, code, msg,
                                      "The Automation role must be allowed to share snapshots tagged %s=%s "
                                      "with account %s." % (TAG_POLICY, s.policy_name, d.account)) from None
                hint = ""
                if snap.get("Encrypted"):
                    hint = (" (an encrypted snapshot can be shared only when its KMS key is a customer "
                            "managed key whose key policy lets account %s use it)" % d.account)
                self.report["errors"].append("share of %s with %s: %s: %s%s" % (sid, d.account, code, msg, hint))
                continue
            self.report["shared"].append("%s/%s" % (d.account, sid))
        if left:
            self.report["deferred"].append("%s: %d snapshot(s) left for the next run (at most %d shares per run)"
                                           % (d.name, left, MAX_SHARES_PER_ACCOUNT))


def copy(events, clients, clock=time.monotonic, sleep=time.sleep):
    """Waits, copies and shares; returns the report. clients(region) gives an EC2 client."""
    settings = parse_settings(events)
    run = _Run(settings, clients)
    sets = group_sets(run.list_snapshots(settings.source_region), settings.run_id)
    run.wait_for_current(sets, clock, sleep)
    complete = [x for x in sets if x.complete]
    for d in settings.destinations:
        if d.account:
            run.share_with_account(complete, d)
        else:
            run.copy_to_region(complete, d)
    report = _cut(run.report)
    print(json.dumps(report, sort_keys=True))
    if report["totals"]["errors"]:
        raise CopyFailed("%d copy or share error(s); first: %s"
                         % (report["totals"]["errors"], report["errors"][0]))
    return report


def _clients():
    cache = {}

    def get(region):
        if region not in cache:
            # A new Config each time: botocore rewrites the retries dict it is given.
            cache[region] = boto3.client("ec2", region_name=region,
                                         config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
        return cache[region]
    return get


def handler(events, context):
    return copy(events, _clients())
