"""Retention prune of one instance's snapshots for one ssm-backup policy.

Runs as an aws:executeScript step (python3.11) of the policy's Automation
runbook, after the snapshot step. decide() is pure; handler() lists, decides,
deletes and reports.

Inputs (events): InstanceId, PolicyName, RunId (this run's execution id; all
three non-empty), KeepCount and MaxAgeDays (int or decimal string; 0 or ""
means not set; at least one must be set), MinKeep (>= 1), DryRun (bool or
"true"/"false", default false), Now (optional ISO 8601 time, for tests).
Optional, for copies to other regions (copy_snapshots.py makes them):
Copies, a list of {Region, KeepCount, MaxAgeDays, MinKeep} (the retention of
the copies in Region, read like the policy's), and SourceRegion (this
region; required with Copies). With Copies, KeepCount and MaxAgeDays may both
be 0: the copies are pruned and the snapshots here are not.
Optional, for the archive tier: ArchiveAfterDays (int or decimal string; 0
or "" means off); with it KeepCount and MaxAgeDays may both be 0 too.
Invalid input raises ValueError before any AWS call.

Algorithm
 1. List DescribeSnapshots(OwnerIds=[self], filters tag:ssm-backup:policy =
    PolicyName and tag:ssm-backup:instance-id = InstanceId), every page.
 2. Own: every value of the tag ssm-backup:policy equals PolicyName and every
    value of ssm-backup:instance-id equals InstanceId (exact, case-sensitive,
    at least one each). The filter is not trusted. Other snapshots are foreign:
    never deleted, never counted; only their number is reported.
 3. Sets (own snapshots only): a snapshot whose ssm-backup:run-id values
    include RunId is in the current set; else one with exactly one distinct,
    non-empty run-id value is in that run's set; else it is a set of its own,
    named by its snapshot id ("snapshot:" + id if a run id is the same). A
    set's time is its newest StartTime (a naive time is UTC).
 3b. Run status: the handler asks GetAutomationExecution about the run id of
    each set other than the current one, newest set first, each id once and
    at most MAX_RUN_LOOKUPS per prune; decide() gets the answers as a dict.
    A run whose snapshot step (SNAPSHOT_STEPS) succeeded counts as Success
    even if a later step failed. Failed, TimedOut, Cancelled, Cancelling or
    CompletedWithFailure: the snapshot command may have failed after the
    snapshots were requested, so the set is not good whatever its states
    (a failed-run set, reported in failedRuns). InProgress, Pending, Waiting,
    any other status, or a lookup that failed: the set is protected.
    Success, AutomationExecutionNotFound (the history expired, or a run id
    set by hand), or no lookup (past the bound, or a run id that is not an
    execution id, a UUID): as without the check.
 4. A set is protected (kept, never deleted) when it is the current set, has a
    pending member (reported in skippedPending), or has a member that is not
    deletable: no SnapshotId, no StartTime, or a State other than completed,
    error or pending. A set is good when all its members are completed
    (the current set included: it counts toward the quota).
 5. Good sets are ranked newest first (time, then set id, descending).
    KeepCount > 0: keep the first max(KeepCount, MinKeep). MaxAgeDays > 0:
    keep those with now - time < MaxAgeDays days, and the first MinKeep.
    Both set: keep what either keeps. The kept good sets are thus a prefix of
    the ranking; the other good sets are deleted unless protected.
 6. Failed sets (an error member, or a failed run; every member completed
    or error) are deleted when strictly older than the newest kept good set;
    otherwise kept. With no kept good set none is deleted.
 7. Every other set is kept.
Copies: after the snapshots here, each Copies region is pruned the same way
by a client in that region, with that region's rule, the same RunId and
DryRun, and one more condition for a snapshot to be own there: every value
of its ssm-backup:source-region tag equals SourceRegion (at least one), so
that only copies made from this region are ever deleted there.
Archive (ArchiveAfterDays > 0), here only, after deleting: a kept set moves
to the archive tier when it is good (every member completed), not the
current set, not the newest good set, and its time is at least
ArchiveAfterDays old. Its members still in the standard tier (StorageTier
standard or absent, no RestoreExpiryTime) are archived by ModifySnapshotTier
unless DescribeSnapshotTierStatus shows a tiering operation under way or a
restore (a restored snapshot stays where someone put it). A failed call is
reported in archiveErrors and the rest goes on; a denied one raises. Without
a retention rule nothing is deleted and every good set may be archived.
Deletion goes set by set, oldest first, members in snapshot id order. The
first failed DeleteSnapshot of a set stops that set (report and continue with
the next set): a set either goes whole or stays as whole as the failure left
it, reported in partiallyDeleted if some members went. InvalidSnapshot.InUse
(an AMI uses it) is reported in inUse and errors. InvalidSnapshot.NotFound
counts as deleted. Sets not started within DELETE_BUDGET_SECONDS are left
for the next run (deferred). DryRun decides and reports; it deletes nothing.
Throttling is retried by the client (adaptive mode, up to 10 retries); a
denied call raises PruneAccessDenied, after printing the report so far.

Result (also printed as one JSON line): dryRun; kept (set ids left in place:
kept sets newest first, then sets a failed delete left behind);
deleted and wouldDelete (snapshot ids); skippedPending, partiallyDeleted,
deferred (set ids); inUse (snapshot ids); errors (strings); foreignIgnored
(int); totals (each list's full length); truncated (true when a list was cut
to MAX_LISTED entries to keep the step output small). With Copies, also
copyDeleted, copyWouldDelete and copyErrors ("Region/" + the entry), and
copies (each region's own report, lists cut to MAX_LISTED). With
ArchiveAfterDays, also archived, wouldArchive and archiveErrors. Also
failedRuns (set ids of failed-run sets, kept or deleted); a failed status
lookup is reported in errors, and a denied one raises PruneAccessDenied.
"""

import dataclasses
import datetime
import json
import re
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TAG_POLICY = "ssm-backup:policy"
TAG_INSTANCE = "ssm-backup:instance-id"
TAG_RUN = "ssm-backup:run-id"
TAG_SOURCE_REGION = "ssm-backup:source-region"
# Run statuses (GetAutomationExecution), see step 3b.
RUN_FAILED = ("Failed", "TimedOut", "Cancelled", "Cancelling", "CompletedWithFailure")
RUN_OK = ("Success", "CompletedWithSuccess", "NotFound")
SNAPSHOT_STEPS = ("takeSnapshots",)
MAX_RUN_LOOKUPS = 50
EXECUTION_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DELETE_BUDGET_SECONDS = 480  # the step times out at 600
MAX_LISTED = 100
PAGE_SIZE = 1000
DENIED_CODES = ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")
LIST_KEYS = ("kept", "deleted", "wouldDelete", "skippedPending",
             "partiallyDeleted", "deferred", "inUse", "errors", "failedRuns")
COPY_LIST_KEYS = ("copyDeleted", "copyWouldDelete", "copyErrors")
ARCHIVE_LIST_KEYS = ("archived", "wouldArchive", "archiveErrors")
# Tiering operations after which a snapshot is left where it is.
TIERING_LEAVE = ("archival-in-progress", "archival-completed", "temporary-restore-in-progress",
                 "temporary-restore-completed", "permanent-restore-in-progress",
                 "permanent-restore-completed")


class PruneAccessDenied(PermissionError):
    """An EC2 call the prune needs was denied by IAM."""


@dataclasses.dataclass
class Settings:
    instance_id: str
    policy_name: str
    run_id: str
    keep_count: int
    max_age_days: int
    min_keep: int
    dry_run: bool
    now: datetime.datetime
    # Copies: [Settings] of the regions whose copies are pruned too.
    copies: list = dataclasses.field(default_factory=list)
    # Region of the copies these settings prune, "" for the snapshots here.
    region: str = ""
    # A copy is own only when its ssm-backup:source-region is this ("": any).
    copies_from: str = ""
    # Good sets at least this many days old go to the archive tier (0: off).
    archive_after_days: int = 0

    @property
    def has_rule(self):
        return self.keep_count > 0 or self.max_age_days > 0


@dataclasses.dataclass
class SnapshotSet:
    id: str
    members: list = dataclasses.field(default_factory=list)  # DescribeSnapshots items
    time: datetime.datetime = None  # newest StartTime
    current: bool = False
    pending: bool = False
    undeletable: bool = False
    good: bool = False
    failed: bool = False
    run_id: str = ""  # the run id that names the set, "" if none
    run_failed: bool = False  # its run failed (step 3b)
    run_open: bool = False  # its run is going on, or its status is unknown
    reason: str = ""  # why it is kept; "" when it is deleted

    @property
    def snapshot_ids(self):
        return sorted({m["SnapshotId"] for m in self.members if m.get("SnapshotId")})

    def rank_key(self):
        return (self.time, self.id)


@dataclasses.dataclass
class Decision:
    keep: list     # [SnapshotSet], newest first
    delete: list   # [SnapshotSet], oldest first
    foreign: list  # [snapshot id], sorted


def _int_input(events, key, minimum, empty_ok):
    value = events.get(key, "" if empty_ok else None)
    if isinstance(value, bool) or value is None:
        raise ValueError("%s must be an integer, got %r" % (key, value))
    if isinstance(value, str):
        text = value.strip()
        if text == "" and empty_ok:
            return 0
        if not text.isdigit() or not text.isascii():
            raise ValueError("%s must be a non-negative integer, got %r" % (key, value))
        value = int(text)
    if not isinstance(value, int) or value < minimum:
        raise ValueError("%s must be an integer >= %d, got %r" % (key, minimum, value))
    return value


def _str_input(events, key):
    value = events.get(key)
    if not isinstance(value, str) or value.strip() == "":
        raise ValueError("%s must be a non-empty string, got %r" % (key, value))
    return value


def _bool_input(events, key):
    value = events.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError('%s must be true or false, got %r' % (key, value))


def _utc(t):
    if not isinstance(t, datetime.datetime):
        return None
    if t.tzinfo is None:
        return t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc)


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
    s = Settings(
        instance_id=_str_input(events, "InstanceId"),
        policy_name=_str_input(events, "PolicyName"),
        run_id=_str_input(events, "RunId"),
        keep_count=_int_input(events, "KeepCount", 0, True),
        max_age_days=_int_input(events, "MaxAgeDays", 0, True),
        min_keep=_int_input(events, "MinKeep", 1, False),
        dry_run=_bool_input(events, "DryRun"),
        now=now,
    )
    s.archive_after_days = _int_input(events, "ArchiveAfterDays", 0, True)
    copies = events.get("Copies")
    if copies not in (None, "", []):
        if not isinstance(copies, list):
            raise ValueError("Copies must be a list, got %r" % (copies,))
        source = _str_input(events, "SourceRegion").strip()
        for i, raw in enumerate(copies):
            key = "Copies[%d]" % i
            if not isinstance(raw, dict):
                raise ValueError("%s must be an object" % key)
            region = raw.get("Region")
            if not isinstance(region, str) or not region.strip():
                raise ValueError("%s.Region must be a non-empty string" % key)
            region = region.strip()
            if region == source or region in (c.region for c in s.copies):
                raise ValueError("%s.Region %s is the source region or listed twice" % (key, region))
            c = dataclasses.replace(
                s, copies=[], region=region, copies_from=source, archive_after_days=0,
                keep_count=_int_input(raw, "KeepCount", 0, True),
                max_age_days=_int_input(raw, "MaxAgeDays", 0, True),
                min_keep=_int_input(raw, "MinKeep", 1, False))
            if not c.has_rule:
                raise ValueError("%s has no retention rule: set KeepCount or MaxAgeDays (> 0)" % key)
            s.copies.append(c)
    if not s.has_rule and not s.copies and not s.archive_after_days:
        raise ValueError("no retention rule: set KeepCount or MaxAgeDays (> 0)")
    return s


def _tag_values(snapshot, key):
    tags = snapshot.get("Tags") or []
    return [t.get("Value") for t in tags if isinstance(t, dict) and t.get("Key") == key]


def is_own(snapshot, policy_name, instance_id, copies_from=""):
    """True when the snapshot's tags name exactly this policy and instance
    (and, for copies, exactly this source region)."""
    policies = _tag_values(snapshot, TAG_POLICY)
    instances = _tag_values(snapshot, TAG_INSTANCE)
    own = (bool(policies) and all(v == policy_name for v in policies)
           and bool(instances) and all(v == instance_id for v in instances))
    if own and copies_from:
        sources = _tag_values(snapshot, TAG_SOURCE_REGION)
        own = bool(sources) and all(v == copies_from for v in sources)
    return own


def group_sets(snapshots, run_id, statuses=None):
    """Groups own snapshots into sets, keyed by set id (steps 3, 3b and 4).
    statuses: {run id: GetAutomationExecution status}."""
    sets = {}
    for snap in snapshots:
        runs = _tag_values(snap, TAG_RUN)
        distinct = set(runs)
        if run_id in distinct:
            key = ("run", run_id)
        elif len(distinct) == 1 and isinstance(runs[0], str) and runs[0] != "":
            key = ("run", runs[0])
        else:
            key = ("snapshot", str(snap.get("SnapshotId")))
        if key not in sets:
            sets[key] = SnapshotSet(key[1])
        sets[key].members.append(snap)
    for key, s in sets.items():
        s.current = key == ("run", run_id)
        states = [m.get("State") for m in s.members]
        times = [_utc(m.get("StartTime")) for m in s.members]
        s.pending = "pending" in states
        s.undeletable = (
            any(not isinstance(m.get("SnapshotId"), str) or not m.get("SnapshotId")
                for m in s.members)
            or any(t is None for t in times)
            or any(st not in ("completed", "error", "pending") for st in states))
        known = [t for t in times if t is not None]
        s.time = max(known) if known else datetime.datetime.min.replace(
            tzinfo=datetime.timezone.utc)
        status = (statuses or {}).get(key[1]) if key[0] == "run" and not s.current else None
        s.run_id = key[1] if key[0] == "run" else ""
        s.run_failed = status in RUN_FAILED
        s.run_open = status is not None and not s.run_failed and status not in RUN_OK
        complete = all(st in ("completed", "error") for st in states)
        s.good = all(st == "completed" for st in states) and not s.undeletable and not (
            s.run_failed or s.run_open)
        s.failed = ("error" in states or (s.run_failed and complete)) and not s.pending and not (
            s.undeletable or s.run_open)
    # A run id equal to another set's snapshot id must not merge their
    # report names: the snapshot-named set then takes a prefix.
    run_ids = {k[1] for k in sets if k[0] == "run"}
    for key, s in sets.items():
        if key[0] == "snapshot" and key[1] in run_ids:
            s.id = "snapshot:" + key[1]
    return list(sets.values())


def decide(snapshots, settings, statuses=None):
    """Pure decision: which own sets to keep and which to delete.
    statuses: {run id: status} of earlier runs (step 3b)."""
    own, foreign = [], []
    for snap in snapshots:
        if is_own(snap, settings.policy_name, settings.instance_id, settings.copies_from):
            own.append(snap)
        else:
            foreign.append(str(snap.get("SnapshotId")))
    sets = group_sets(own, settings.run_id, statuses)
    ranked = sorted(sets, key=SnapshotSet.rank_key, reverse=True)
    good = [s for s in ranked if s.good]
    keep_ids = set()
    if settings.keep_count > 0:
        keep_ids.update(s.id for s in good[:max(settings.keep_count, settings.min_keep)])
    if settings.max_age_days > 0:
        keep_ids.update(s.id for s in good[:settings.min_keep])
        try:
            cutoff = settings.now - datetime.timedelta(days=settings.max_age_days)
        except OverflowError:
            cutoff = None  # older than any representable time: all are young
        keep_ids.update(s.id for s in good if cutoff is None or s.time > cutoff)
    newest_kept = max((s.time for s in good if s.id in keep_ids), default=None)
    keep, delete = [], []
    for s in ranked:
        if s.current:
            s.reason = "current run"
        elif s.pending:
            s.reason = "pending"
        elif s.undeletable:
            s.reason = "not deletable"
        elif s.run_open:
            s.reason = "run not finished"
        elif s.good:
            s.reason = "retained" if s.id in keep_ids else ""
        elif s.failed:
            s.reason = "" if newest_kept is not None and s.time < newest_kept else "recent error"
        else:
            s.reason = "not deletable"
        (keep if s.reason else delete).append(s)
    delete.reverse()
    return Decision(keep, delete, sorted(foreign))


def list_snapshots(ec2, settings):
    paginator = ec2.get_paginator("describe_snapshots")
    filters = [
        {"Name": "tag:" + TAG_POLICY, "Values": [settings.policy_name]},
        {"Name": "tag:" + TAG_INSTANCE, "Values": [settings.instance_id]},
    ]
    if settings.copies_from:
        filters.append({"Name": "tag:" + TAG_SOURCE_REGION, "Values": [settings.copies_from]})
    pages = paginator.paginate(
        OwnerIds=["self"],
        Filters=filters,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    snapshots = []
    try:
        for page in pages:
            snapshots.extend(page.get("Snapshots", []))
    except ClientError as e:
        code, msg = _error(e)
        if code in DENIED_CODES:
            raise PruneAccessDenied(
                "ec2:DescribeSnapshots%s was denied (%s: %s). The Automation role "
                "needs ec2:DescribeSnapshots to prune policy %s."
                % (_in(settings), code, msg, settings.policy_name)) from None
        raise RuntimeError("DescribeSnapshots%s failed: %s: %s" % (_in(settings), code, msg)) from e
    return snapshots


def _in(settings):
    return " in " + settings.region if settings.region else ""


def _error(e):
    err = e.response.get("Error", {}) if isinstance(e, ClientError) else {}
    return err.get("Code", type(e).__name__), str(err.get("Message", e))[:300]


def _cut(report):
    keys = [k for k in LIST_KEYS + COPY_LIST_KEYS + ARCHIVE_LIST_KEYS if k in report]
    report["totals"] = {k: len(report[k]) for k in keys}
    report["truncated"] = any(len(report[k]) > MAX_LISTED for k in keys) or any(
        c.get("truncated") for c in report.get("copies", {}).values())
    for k in keys:
        report[k] = report[k][:MAX_LISTED]
    return report


class RunStatuses:
    """GetAutomationExecution lookups, each run id once, at most
    MAX_RUN_LOOKUPS in all; ssm None looks nothing up."""

    def __init__(self, ssm):
        self.ssm = ssm
        self.known = {}

    def of(self, snapshots, settings, report, on_denied):
        own = [x for x in snapshots
               if is_own(x, settings.policy_name, settings.instance_id, settings.copies_from)]
        sets = sorted(group_sets(own, settings.run_id), key=SnapshotSet.rank_key, reverse=True)
        ids = [s.run_id for s in sets if not s.current and EXECUTION_ID.fullmatch(s.run_id)]
        for rid in ids:
            if self.ssm is None or rid in self.known or len(self.known) >= MAX_RUN_LOOKUPS:
                continue
            self.known[rid] = self._lookup(rid, report, on_denied)
        return {rid: self.known[rid] for rid in ids if rid in self.known}

    def _lookup(self, rid, report, on_denied):
        try:
            ex = self.ssm.get_automation_execution(AutomationExecutionId=rid)["AutomationExecution"]
        except (ClientError, BotoCoreError) as e:
            code, msg = _error(e)
            if code == "AutomationExecutionNotFoundException" or code == "AutomationExecutionNotFound":
                return "NotFound"
            if code in DENIED_CODES:
                on_denied()
                raise PruneAccessDenied(
                    "ssm:GetAutomationExecution of %s was denied (%s: %s). The Automation role "
                    "needs it to tell the sets of failed runs." % (rid, code, msg)) from None
            report["errors"].append("run %s: GetAutomationExecution: %s: %s" % (rid, code, msg))
            return "Unknown"
        status = ex.get("AutomationExecutionStatus") or "Unknown"
        if status in RUN_FAILED and any(
                st.get("StepName") in SNAPSHOT_STEPS and st.get("StepStatus") == "Success"
                for st in ex.get("StepExecutions") or []):
            return "Success"  # the snapshots were taken; a later step failed
        return status


def _apply(ec2, settings, report, clock, started, on_denied, runs=None):
    """Lists, decides and deletes for one region; fills report. Returns
    the sets kept, newest first."""
    snapshots = list_snapshots(ec2, settings)
    statuses = (runs or RunStatuses(None)).of(snapshots, settings, report, on_denied)
    decision = decide(snapshots, settings, statuses)
    report["foreignIgnored"] = len(decision.foreign)
    report["kept"] = [s.id for s in decision.keep]
    report["failedRuns"] = [s.id for s in decision.keep + decision.delete if s.run_failed]
    report["skippedPending"] = [s.id for s in decision.keep if s.pending]
    for s in decision.delete:
        # Defence in depth: decide() never selects these; refuse anyway.
        if (s.current or s.pending or s.undeletable or not all(
                is_own(m, settings.policy_name, settings.instance_id, settings.copies_from)
                for m in s.members)):
            raise AssertionError("refusing to delete protected set %s" % s.id)
        if settings.dry_run:
            report["wouldDelete"].extend(s.snapshot_ids)
            continue
        if clock() - started > DELETE_BUDGET_SECONDS:
            report["deferred"].append(s.id)
            continue
        done = 0
        for sid in s.snapshot_ids:
            try:
                ec2.delete_snapshot(SnapshotId=sid)
            except (ClientError, BotoCoreError) as e:
                code, msg = _error(e)
                if code == "InvalidSnapshot.NotFound":
                    report["deleted"].append(sid)
                    done += 1
                    continue
                if code in DENIED_CODES:
                    deleted = len(report["deleted"])
                    on_denied()
                    raise PruneAccessDenied(
                        "ec2:DeleteSnapshot of %s%s was denied (%s: %s). The Automation "
                        "role must be allowed to delete snapshots tagged %s=%s. "
                        "Deleted before the denial: %d snapshot(s)."
                        % (sid, _in(settings), code, msg, TAG_POLICY, settings.policy_name,
                           deleted)) from None
                if code == "InvalidSnapshot.InUse":
                    report["inUse"].append(sid)
                report["errors"].append("%s (set %s): %s: %s" % (sid, s.id, code, msg))
                if done:
                    report["partiallyDeleted"].append(s.id)
                break
            report["deleted"].append(sid)
            done += 1
        else:
            continue
        report["kept"].append(s.id)  # what is left of it is still there
    return decision.keep


def archive_candidates(kept, settings):
    """Snapshots to archive: members in the standard tier of the kept good
    sets, except the current and the newest good one, that are old enough.
    kept is newest first."""
    good = [s for s in kept if s.good]
    if not good:
        return []
    try:
        cutoff = settings.now - datetime.timedelta(days=settings.archive_after_days)
    except OverflowError:
        return []
    out = []
    for s in good[1:]:
        if s.current or s.time > cutoff:
            continue
        for m in sorted(s.members, key=lambda m: m.get("SnapshotId", "")):
            if m.get("StorageTier", "standard") == "standard" and not m.get("RestoreExpiryTime"):
                out.append(m["SnapshotId"])
    return out


def _tiering_busy(ec2, ids):
    """Ids whose last tiering operation says to leave them alone."""
    busy = set()
    for i in range(0, len(ids), 200):
        pages = ec2.get_paginator("describe_snapshot_tier_status").paginate(
            Filters=[{"Name": "snapshot-id", "Values": ids[i:i + 200]}])
        for page in pages:
            for st in page.get("SnapshotTierStatuses", []):
                if st.get("LastTieringOperationStatus") in TIERING_LEAVE:
                    busy.add(st.get("SnapshotId"))
    return busy


def _archive(ec2, settings, kept, report, clock, started, on_denied):
    ids = archive_candidates(kept, settings)
    if not ids:
        return
    try:
        busy = _tiering_busy(ec2, ids)
    except ClientError as e:
        code, msg = _error(e)
        if code in DENIED_CODES:
            on_denied()
            raise PruneAccessDenied(
                "ec2:DescribeSnapshotTierStatus was denied (%s: %s). The Automation role "
                "needs it to archive snapshots of policy %s." % (code, msg, settings.policy_name)) from None
        report["archiveErrors"].append("DescribeSnapshotTierStatus: %s: %s" % (code, msg))
        return
    for sid in ids:
        if sid in busy:
            continue
        if settings.dry_run:
            report["wouldArchive"].append(sid)
            continue
        if clock() - started > DELETE_BUDGET_SECONDS:
            report["archiveErrors"].append("%s: left for the next run (time budget)" % sid)
            continue
        try:
            ec2.modify_snapshot_tier(SnapshotId=sid, StorageTier="archive")
        except (ClientError, BotoCoreError) as e:
            code, msg = _error(e)
            if code in DENIED_CODES:
                on_denied()
                raise PruneAccessDenied(
                    "ec2:ModifySnapshotTier of %s was denied (%s: %s). The Automation role must "
                    "be allowed to archive snapshots tagged %s=%s."
                    % (sid, code, msg, TAG_POLICY, settings.policy_name)) from None
            report["archiveErrors"].append("%s: %s: %s" % (sid, code, msg))
            continue
        report["archived"].append(sid)


def _new_report(settings):
    report = {k: [] for k in LIST_KEYS}
    report["dryRun"] = settings.dry_run
    report["foreignIgnored"] = 0
    return report


def prune(events, ec2, clock=time.monotonic, clients=None, ssm=None):
    """Lists, decides, deletes (unless DryRun) and returns the report.
    clients(region) gives the EC2 client of a Copies region; ssm is the SSM
    client of the run status lookups (None: no lookup)."""
    settings = parse_settings(events)
    runs = RunStatuses(ssm)
    started = clock()
    report = _new_report(settings)
    copies = {}
    if settings.copies:
        for k in COPY_LIST_KEYS:
            report[k] = []
        report["copies"] = copies
    if settings.archive_after_days:
        for k in ARCHIVE_LIST_KEYS:
            report[k] = []

    def print_so_far():
        out = dict(report)
        out["copies"] = {r: _cut(dict(c)) for r, c in copies.items()}
        if not settings.copies:
            del out["copies"]
        print(json.dumps(_cut(out), sort_keys=True))

    kept = []
    if settings.has_rule:
        kept = _apply(ec2, settings, report, clock, started, print_so_far, runs)
    elif settings.archive_after_days:
        snapshots = list_snapshots(ec2, settings)
        own = [x for x in snapshots if is_own(x, settings.policy_name, settings.instance_id)]
        statuses = runs.of(own, settings, report, print_so_far)
        kept = sorted(group_sets(own, settings.run_id, statuses), key=SnapshotSet.rank_key, reverse=True)
        report["foreignIgnored"] = len(snapshots) - len(own)
        report["kept"] = [x.id for x in kept]
        report["failedRuns"] = [x.id for x in kept if x.run_failed]
    if settings.archive_after_days:
        _archive(ec2, settings, kept, report, clock, started, print_so_far)
    for c in settings.copies:
        sub = _new_report(c)
        copies[c.region] = sub
        client = (clients or _region_client)(c.region)
        _apply(client, c, sub, clock, started, print_so_far, runs)
        for src, dst in (("deleted", "copyDeleted"), ("wouldDelete", "copyWouldDelete"),
                         ("errors", "copyErrors")):
            report[dst].extend(c.region + "/" + x for x in sub[src])
    for region in copies:
        copies[region] = _cut(copies[region])
    report = _cut(report)
    print(json.dumps(report, sort_keys=True))
    return report


def _ec2_client():
    # A new Config each time: botocore rewrites the retries dict it is given.
    return boto3.client("ec2", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def _ssm_client():
    return boto3.client("ssm", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def _region_client(region):
    return boto3.client("ec2", region_name=region,
                        config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def handler(events, context):
    return prune(events, _ec2_client(), clients=_region_client, ssm=_ssm_client())
