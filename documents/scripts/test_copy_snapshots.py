"""Tests of copy_snapshots: the pure planning and the handler.

The handler runs on real boto3 EC2 clients, one per region, whose calls
botocore's Stubber answers; a before-send hook fails any call that would
reach the network. Run from this directory: python3 -m unittest -v
"""

import contextlib
import io
import json
import unittest

import copy_snapshots as cs
import stubbed_aws
from stubbed_aws import INSTANCE, NOW, POLICY, FakeClock

RUN = "3f6c2a1e-8b7d-4c2e-9a51-0d4b6e7f8a90"
SOURCE = "us-east-1"
DEST = "us-west-2"
ACCOUNT = "111122223333"

setUpModule, tearDownModule = stubbed_aws.module_fixtures(SOURCE)


def tags(run=None, policy=POLICY, instance=INSTANCE, extra=()):
    return stubbed_aws.snapshot_tags(cs, "filesystem", policy=policy, instance=instance, run=run, extra=extra)


def snap(sid, state="completed", hours_ago=0.0, run=None, **kw):
    return stubbed_aws.snapshot(sid, tags(run=run, **kw), state, hours_ago)


def copy_of(source_id, copy_id, region=SOURCE, run="r"):
    s = snap(copy_id, run=run)
    s["Tags"] += [{"Key": cs.TAG_SOURCE_SNAPSHOT, "Value": source_id},
                  {"Key": cs.TAG_SOURCE_REGION, "Value": region}]
    return s


def events(copies=None, **kw):
    e = {
        "InstanceId": INSTANCE, "PolicyName": POLICY, "RunId": RUN, "SourceRegion": SOURCE,
        "Copies": copies if copies is not None else [{"Region": DEST}],
        "WaitSeconds": "60", "Now": NOW.isoformat(),
    }
    e.update(kw)
    return e


def list_params(**extra):
    p = {
        "OwnerIds": ["self"],
        "Filters": [
            {"Name": "tag:ssm-backup:policy", "Values": [POLICY]},
            {"Name": "tag:ssm-backup:instance-id", "Values": [INSTANCE]},
        ],
        "MaxResults": 1000,
    }
    p.update(extra)
    return p


class Clients(stubbed_aws.RegionClients):
    """A stubbed EC2 client per region."""

    def __init__(self):
        super().__init__(lambda region: cs._clients()(region))


def run_copy(clients, ev, clock=None):
    clock = clock or FakeClock()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            report = cs.copy(ev, clients, clock, clock.sleep)
        finally:
            clients.done()
    printed = json.loads(out.getvalue().strip().splitlines()[-1])
    assert printed == report, (printed, report)
    return report


def copy_params(source, kms=None, region=SOURCE):
    params = {
        "SourceRegion": region,
        "SourceSnapshotId": source["SnapshotId"],
        "Description": "ssm-backup copy of %s from %s (policy %s, instance %s)"
                       % (source["SnapshotId"], region, POLICY, INSTANCE),
        "TagSpecifications": [{"ResourceType": "snapshot", "Tags": cs.copy_tags(source, region)}],
    }
    if kms:
        params["Encrypted"] = True
        params["KmsKeyId"] = kms
    return params


def expect_copy(stubber, source, copy_id, kms=None, region=SOURCE):
    stubber.add_response("copy_snapshot", {"SnapshotId": copy_id}, copy_params(source, kms, region))


def expect_share(stubber, sid, account=ACCOUNT):
    stubber.add_response("modify_snapshot_attribute", {}, {
        "SnapshotId": sid, "Attribute": "createVolumePermission",
        "OperationType": "add", "UserIds": [account]})


class InputTests(unittest.TestCase):
    def test_valid(self):
        s = cs.parse_settings(events([
            {"Region": DEST, "KmsKeyId": "alias/backup", "KeepCount": "7", "MinKeep": "2"},
            {"Account": ACCOUNT, "Region": "eu-west-1"},
            {"Account": "222233334444"},
        ], WaitSeconds=""))
        self.assertEqual(s.wait_seconds, cs.DEFAULT_WAIT_SECONDS)
        self.assertEqual([d.name for d in s.destinations], ["region us-west-2", "account 111122223333", "account 222233334444"])
        self.assertEqual((s.destinations[0].keep_count, s.destinations[0].min_keep), (7, 2))

    def test_invalid(self):
        bad = [
            {"Copies": []}, {"Copies": "us-west-2"}, {"Copies": [{}]}, {"Copies": [{"Region": SOURCE}]},
            {"Copies": [{"Account": "1234"}]}, {"Copies": [{"Region": DEST, "Bucket": "x"}]},
            {"Copies": [{"Account": ACCOUNT, "KmsKeyId": "alias/x"}]},
            {"Copies": [{"Account": ACCOUNT, "KeepCount": "7"}]},
            {"Copies": [{"Region": DEST}, {"Region": DEST, "KeepCount": "3"}]},
            {"Copies": [{"Region": DEST, "KeepCount": "-1"}]}, {"Copies": [{"Region": DEST, "MinKeep": "0"}]},
            {"WaitSeconds": "541"}, {"WaitSeconds": "1m"}, {"SourceRegion": ""}, {"RunId": " "},
            {"Now": "today"},
        ]
        for change in bad:
            with self.subTest(change=change), self.assertRaises(ValueError):
                cs.parse_settings(events(**change) if "Copies" not in change else events(change.pop("Copies"), **change))

    def test_invalid_input_makes_no_call(self):
        with self.assertRaises(ValueError):
            cs.copy(events([{"Region": SOURCE}]), Clients())


class PlanTests(unittest.TestCase):
    def sets(self, snaps):
        return [s for s in cs.group_sets(snaps, RUN) if s.complete]

    def test_retention_limits_catch_up(self):
        snaps = [snap("snap-%02d" % d, hours_ago=24 * d, run="r%d" % d) for d in range(1, 6)]
        complete = self.sets(snaps)
        d = cs.Destination(region=DEST, keep_count=2)
        todo, left = cs.plan_region(complete, d, set(), NOW)
        self.assertEqual([m["SnapshotId"] for m in todo], ["snap-01", "snap-02"])
        self.assertEqual(left, 0)
        d = cs.Destination(region=DEST, max_age_days=3, min_keep=1)
        todo, _ = cs.plan_region(complete, d, {"snap-01"}, NOW)
        self.assertEqual([m["SnapshotId"] for m in todo], ["snap-02"])
        # No retention: every complete set.
        todo, _ = cs.plan_region(complete, cs.Destination(region=DEST), set(), NOW)
        self.assertEqual(len(todo), 5)

    def test_cap_per_run(self):
        snaps = [snap("snap-%03d" % i, hours_ago=i, run="r%d" % i) for i in range(cs.MAX_COPIES_PER_REGION + 5)]
        todo, left = cs.plan_region(self.sets(snaps), cs.Destination(region=DEST), set(), NOW)
        self.assertEqual(len(todo), cs.MAX_COPIES_PER_REGION)
        self.assertEqual(left, 5)
        self.assertEqual(todo[0]["SnapshotId"], "snap-000")  # newest first

    def test_incomplete_sets_never_copied(self):
        snaps = [snap("snap-a1", run="a", hours_ago=1), snap("snap-a2", "pending", run="a", hours_ago=1),
                 snap("snap-b1", "error", run="b", hours_ago=2), snap("snap-c1", run="c", hours_ago=3)]
        todo, _ = cs.plan_share(self.sets(snaps), set())
        self.assertEqual([m["SnapshotId"] for m in todo], ["snap-c1"])

    def test_copy_tags(self):
        s = snap("snap-1", run="r", extra=[{"Key": "aws:backup:source", "Value": "x"}, {"Key": "CostCenter", "Value": "db"},
                                           {"Key": cs.TAG_SOURCE_SNAPSHOT, "Value": "stale"}])
        got = {t["Key"]: t["Value"] for t in cs.copy_tags(s, SOURCE)}
        self.assertNotIn("aws:backup:source", got)
        self.assertEqual(got[cs.TAG_POLICY], POLICY)
        self.assertEqual(got[cs.TAG_INSTANCE], INSTANCE)
        self.assertEqual(got[cs.TAG_RUN], "r")
        self.assertEqual(got["ssm-backup:consistency"], "filesystem")
        self.assertEqual(got["CostCenter"], "db")
        self.assertEqual(got[cs.TAG_SOURCE_SNAPSHOT], "snap-1")
        self.assertEqual(got[cs.TAG_SOURCE_REGION], SOURCE)
        self.assertEqual(got[cs.TAG_COPY_OF], SOURCE + "/snap-1")
        self.assertEqual(len(cs.copy_tags(s, SOURCE)), 8)


class HandlerTests(unittest.TestCase):
    def test_waits_then_copies_current_and_catches_up(self):
        clients = Clients()
        src, dst = clients.stub(SOURCE), clients.stub(DEST)
        cur = [snap("snap-c1", "pending", 0, run=RUN), snap("snap-c2", "pending", 0, run=RUN)]
        old = snap("snap-o1", hours_ago=24, run="old")
        foreign = snap("snap-f1", hours_ago=24, run="x", policy="other")
        src.add_response("describe_snapshots", {"Snapshots": cur + [old, foreign]}, list_params())
        # First poll: one still pending; second: both completed.
        src.add_response("describe_snapshots", {"Snapshots": [dict(cur[0], State="completed"), cur[1]]},
                         {"SnapshotIds": ["snap-c1", "snap-c2"]})
        done = [dict(c, State="completed") for c in cur]
        src.add_response("describe_snapshots", {"Snapshots": done}, {"SnapshotIds": ["snap-c1", "snap-c2"]})
        dst.add_response("describe_snapshots", {"Snapshots": []}, list_params())
        expect_copy(dst, done[0], "snap-d1", kms="alias/dr")
        expect_copy(dst, done[1], "snap-d2", kms="alias/dr")
        expect_copy(dst, old, "snap-d3", kms="alias/dr")
        clock = FakeClock()
        report = run_copy(clients, events([{"Region": DEST, "KmsKeyId": "alias/dr"}]), clock)
        self.assertEqual(report["copied"], ["us-west-2/snap-c1=snap-d1", "us-west-2/snap-c2=snap-d2", "us-west-2/snap-o1=snap-d3"])
        self.assertEqual(report["currentSet"], ["snap-c1", "snap-c2"])
        self.assertEqual(report["errors"], [])
        self.assertEqual(clock.sleeps, [cs.POLL_SECONDS, cs.POLL_SECONDS])
        self.assertEqual(report["waitedSeconds"], 2 * cs.POLL_SECONDS)

    def test_already_copied_skipped_and_pending_deferred(self):
        clients = Clients()
        src, dst = clients.stub(SOURCE), clients.stub(DEST)
        cur = snap("snap-c1", "pending", 0, run=RUN)
        old = snap("snap-o1", hours_ago=24, run="old")
        src.add_response("describe_snapshots", {"Snapshots": [cur, old]}, list_params())
        for _ in range(2):  # WaitSeconds 30: two polls, still pending
            src.add_response("describe_snapshots", {"Snapshots": [cur]}, {"SnapshotIds": ["snap-c1"]})
        # A copy from another source region does not count.
        dst.add_response("describe_snapshots", {"Snapshots": [copy_of("snap-o1", "snap-x", region="eu-west-1")]}, list_params())
        expect_copy(dst, old, "snap-d1")
        report = run_copy(clients, events(WaitSeconds="30"))
        self.assertEqual(report["copied"], ["us-west-2/snap-o1=snap-d1"])
        self.assertEqual(len(report["deferred"]), 1)
        self.assertIn("still pending", report["deferred"][0])

        clients = Clients()
        src, dst = clients.stub(SOURCE), clients.stub(DEST)
        src.add_response("describe_snapshots", {"Snapshots": [dict(cur, State="completed"), old]}, list_params())
        dst.add_response("describe_snapshots", {"Snapshots": [copy_of("snap-o1", "snap-d1")]}, list_params())
        expect_copy(dst, dict(cur, State="completed"), "snap-d2")
        report = run_copy(clients, events(WaitSeconds="0"))
        self.assertEqual(report["copied"], ["us-west-2/snap-c1=snap-d2"])
        self.assertEqual(report["deferred"], [])

    def test_share_with_account(self):
        clients = Clients()
        src = clients.stub(SOURCE)
        cur = [snap("snap-c1", run=RUN), snap("snap-c2", run=RUN)]
        old = snap("snap-o1", hours_ago=24, run="old")
        src.add_response("describe_snapshots", {"Snapshots": cur + [old]}, list_params())
        src.add_response("describe_snapshots", {"Snapshots": [old]}, list_params(RestorableByUserIds=[ACCOUNT]))
        expect_share(src, "snap-c1")
        expect_share(src, "snap-c2")
        report = run_copy(clients, events([{"Account": ACCOUNT, "Region": DEST}]))
        self.assertEqual(report["shared"], ["111122223333/snap-c1", "111122223333/snap-c2"])
        self.assertEqual(report["copied"], [])

    def test_errors_reported_then_step_fails(self):
        clients = Clients()
        src, dst = clients.stub(SOURCE), clients.stub(DEST)
        cur = [snap("snap-c1", run=RUN), dict(snap("snap-c2", run=RUN), Encrypted=True)]
        src.add_response("describe_snapshots", {"Snapshots": cur}, list_params())
        dst.add_response("describe_snapshots", {"Snapshots": []}, list_params())
        dst.add_client_error("copy_snapshot", "ResourceLimitExceeded", "too many copies", expected_params=copy_params(cur[0]))
        expect_copy(dst, cur[1], "snap-d2")
        src.add_response("describe_snapshots", {"Snapshots": []}, list_params(RestorableByUserIds=[ACCOUNT]))
        expect_share(src, "snap-c1")
        src.add_client_error("modify_snapshot_attribute", "InvalidParameter", "default key",
                             expected_params={"SnapshotId": "snap-c2", "Attribute": "createVolumePermission",
                                              "OperationType": "add", "UserIds": [ACCOUNT]})
        with contextlib.redirect_stdout(io.StringIO()) as out, self.assertRaises(cs.CopyFailed):
            cs.copy(events([{"Region": DEST}, {"Account": ACCOUNT}]), clients, FakeClock(), lambda s: None)
        clients.done()
        report = json.loads(out.getvalue().strip().splitlines()[-1])
        self.assertEqual(report["copied"], ["us-west-2/snap-c2=snap-d2"])
        self.assertEqual(report["shared"], ["111122223333/snap-c1"])
        self.assertEqual(len(report["errors"]), 2)
        self.assertIn("ResourceLimitExceeded", report["errors"][0])
        self.assertIn("customer managed key", report["errors"][1])

    def test_no_current_set_is_an_error(self):
        clients = Clients()
        src, dst = clients.stub(SOURCE), clients.stub(DEST)
        src.add_response("describe_snapshots", {"Snapshots": []}, list_params())
        dst.add_response("describe_snapshots", {"Snapshots": []}, list_params())
        with contextlib.redirect_stdout(io.StringIO()), self.assertRaisesRegex(cs.CopyFailed, "no snapshot of this run"):
            cs.copy(events(), clients, FakeClock(), lambda s: None)
        clients.done()

    def test_access_denied(self):
        clients = Clients()
        src, dst = clients.stub(SOURCE), clients.stub(DEST)
        src.add_response("describe_snapshots", {"Snapshots": [snap("snap-c1", run=RUN)]}, list_params())
        dst.add_response("describe_snapshots", {"Snapshots": []}, list_params())
        dst.add_client_error("copy_snapshot", "UnauthorizedOperation", "not authorized",
                             expected_params=copy_params(snap("snap-c1", run=RUN)))
        with contextlib.redirect_stdout(io.StringIO()), self.assertRaisesRegex(cs.CopyAccessDenied, "ec2:CopySnapshot of snap-c1 into us-west-2 was denied"):
            cs.copy(events(), clients, FakeClock(), lambda s: None)
        clients.done()

    def test_clients_are_per_region(self):
        get = cs._clients()
        self.assertEqual(get(DEST).meta.region_name, DEST)
        self.assertIs(get(DEST), get(DEST))
        self.assertEqual(get(SOURCE).meta.region_name, SOURCE)


if __name__ == "__main__":
    unittest.main()
