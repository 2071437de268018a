"""Tests of prune_snapshots' ArchiveAfterDays input: which kept sets move to
the archive tier, and the handler's ModifySnapshotTier calls against a
stubbed EC2 client.

Run from this directory: python3 -m unittest -v
"""

import contextlib
import io
import json
import unittest

from botocore.stub import Stubber

import prune_snapshots as ps
import stubbed_aws
from test_prune_snapshots import RUN, describe_params, events, new_client, snap

setUpModule, tearDownModule = stubbed_aws.module_fixtures()

DAY = 24.0


def tier(sid, status=None):
    out = {"SnapshotId": sid, "StorageTier": "standard"}
    if status:
        out["LastTieringOperationStatus"] = status
    return out


def candidates(snaps, **kw):
    settings = ps.parse_settings(events(**kw))
    kept = ps.decide(snaps, settings).keep
    return ps.archive_candidates(kept, settings)


class CandidateTests(unittest.TestCase):
    def test_old_good_kept_sets_only(self):
        snaps = [
            snap("snap-new", hours_ago=1 * DAY, run="new"),
            snap("snap-a1", hours_ago=100 * DAY, run="a"), snap("snap-a2", hours_ago=100 * DAY, run="a"),
            snap("snap-b1", hours_ago=89 * DAY, run="b"),  # too young
            snap("snap-c1", "error", 120 * DAY, run="c"),  # not good
            snap("snap-d1", "pending", 120 * DAY, run="d"),  # pending
            dict(snap("snap-e1", hours_ago=130 * DAY, run="e"), StorageTier="archive"),
            dict(snap("snap-f1", hours_ago=140 * DAY, run="f"), RestoreExpiryTime="2025-07-01T00:00:00Z"),
            snap("snap-x1", hours_ago=150 * DAY, run="x", policy="other"),  # foreign
        ]
        self.assertEqual(candidates(snaps, KeepCount="100", ArchiveAfterDays="90"), ["snap-a1", "snap-a2"])

    def test_never_the_newest_good_set_nor_the_current(self):
        only = [snap("snap-1", hours_ago=200 * DAY, run="only")]
        self.assertEqual(candidates(only, KeepCount="5", ArchiveAfterDays="90"), [])
        cur = [snap("snap-c", hours_ago=200 * DAY, run=RUN), snap("snap-o", hours_ago=300 * DAY, run="o"),
               snap("snap-n", hours_ago=1 * DAY, run="n")]
        # The current set is the newest by time here only through its tag;
        # it is never archived, and neither is the newest good set.
        self.assertEqual(candidates(cur, KeepCount="5", ArchiveAfterDays="90"), ["snap-o"])

    def test_deleted_sets_are_not_archived(self):
        snaps = [snap("snap-%d" % d, hours_ago=d * 30 * DAY, run="r%d" % d) for d in range(0, 6)]
        # Keep 4: r4 and r5 are deleted; of the kept sets only r3 is 90 days old.
        self.assertEqual(candidates(snaps, KeepCount="4", ArchiveAfterDays="90"), ["snap-3"])

    def test_input(self):
        self.assertEqual(ps.parse_settings(events(ArchiveAfterDays="")).archive_after_days, 0)
        s = ps.parse_settings(events(KeepCount="0", MaxAgeDays="0", ArchiveAfterDays="120"))
        self.assertFalse(s.has_rule)
        for bad in ("-1", "90d", True):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                ps.parse_settings(events(ArchiveAfterDays=bad))


class ArchiveHandlerTests(unittest.TestCase):
    def run_prune(self, snaps, ev, stub):
        client = new_client()
        with Stubber(client) as stubber, contextlib.redirect_stdout(io.StringIO()) as out:
            stubber.add_response("describe_snapshots", {"Snapshots": snaps}, describe_params())
            stub(stubber)
            report = ps.prune(ev, client, lambda: 0.0)
            stubber.assert_no_pending_responses()
        self.assertEqual(json.loads(out.getvalue().strip().splitlines()[-1]), report)
        return report

    def test_prunes_then_archives(self):
        snaps = [snap("snap-n", hours_ago=1 * DAY, run="n"), snap("snap-a", hours_ago=95 * DAY, run="a"),
                 snap("snap-b", hours_ago=96 * DAY, run="b"), snap("snap-old", hours_ago=400 * DAY, run="old")]

        def stub(s):
            s.add_response("delete_snapshot", {}, {"SnapshotId": "snap-old"})
            s.add_response("describe_snapshot_tier_status", {"SnapshotTierStatuses": [
                tier("snap-a"), tier("snap-b", "archival-in-progress")]},
                {"Filters": [{"Name": "snapshot-id", "Values": ["snap-a", "snap-b"]}]})
            s.add_response("modify_snapshot_tier", {"SnapshotId": "snap-a"},
                           {"SnapshotId": "snap-a", "StorageTier": "archive"})
        report = self.run_prune(snaps, events(KeepCount="3", ArchiveAfterDays="90"), stub)
        self.assertEqual(report["deleted"], ["snap-old"])
        self.assertEqual(report["archived"], ["snap-a"])
        self.assertEqual(report["archiveErrors"], [])
        self.assertEqual(report["totals"]["archived"], 1)

    def test_archive_without_retention_deletes_nothing(self):
        snaps = [snap("snap-n", hours_ago=1 * DAY, run="n"), snap("snap-a", hours_ago=95 * DAY, run="a")]

        def stub(s):
            s.add_response("describe_snapshot_tier_status", {"SnapshotTierStatuses": []},
                           {"Filters": [{"Name": "snapshot-id", "Values": ["snap-a"]}]})
            s.add_client_error("modify_snapshot_tier", "IncorrectState", "busy",
                               expected_params={"SnapshotId": "snap-a", "StorageTier": "archive"})
        report = self.run_prune(snaps, events(KeepCount="0", MaxAgeDays="0", ArchiveAfterDays="90"), stub)
        self.assertEqual(report["deleted"], [])
        self.assertEqual(report["archived"], [])
        self.assertEqual(report["kept"], ["n", "a"])
        self.assertIn("IncorrectState", report["archiveErrors"][0])

    def test_dry_run(self):
        snaps = [snap("snap-n", hours_ago=1 * DAY, run="n"), snap("snap-a", hours_ago=95 * DAY, run="a")]

        def stub(s):
            s.add_response("describe_snapshot_tier_status", {"SnapshotTierStatuses": [tier("snap-a")]},
                           {"Filters": [{"Name": "snapshot-id", "Values": ["snap-a"]}]})
        report = self.run_prune(snaps, events(KeepCount="5", ArchiveAfterDays="90", DryRun="true"), stub)
        self.assertEqual(report["wouldArchive"], ["snap-a"])
        self.assertEqual(report["archived"], [])

    def test_denied(self):
        snaps = [snap("snap-n", hours_ago=1 * DAY, run="n"), snap("snap-a", hours_ago=95 * DAY, run="a")]
        client = new_client()
        with Stubber(client) as stubber, contextlib.redirect_stdout(io.StringIO()):
            stubber.add_response("describe_snapshots", {"Snapshots": snaps}, describe_params())
            stubber.add_response("describe_snapshot_tier_status", {"SnapshotTierStatuses": []},
                                 {"Filters": [{"Name": "snapshot-id", "Values": ["snap-a"]}]})
            stubber.add_client_error("modify_snapshot_tier", "UnauthorizedOperation", "no",
                                     expected_params={"SnapshotId": "snap-a", "StorageTier": "archive"})
            with self.assertRaisesRegex(ps.PruneAccessDenied, "ModifySnapshotTier of snap-a was denied"):
                ps.prune(events(KeepCount="5", ArchiveAfterDays="90"), client, lambda: 0.0)

    def test_no_archive_keys_without_archive(self):
        snaps = [snap("snap-n", hours_ago=1 * DAY, run="n")]
        report = self.run_prune(snaps, events(KeepCount="5"), lambda s: None)
        self.assertNotIn("archived", report)


if __name__ == "__main__":
    unittest.main()
