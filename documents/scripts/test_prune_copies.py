"""Tests of prune_snapshots' Copies input: the copies made in other regions
are pruned by a client in that region, with that region's rule, and only
copies made from this region are ever deleted there.

Run from this directory: python3 -m unittest -v
"""

import contextlib
import io
import json
import unittest
from unittest import mock

from botocore.stub import Stubber

import prune_snapshots as ps
import stubbed_aws
from test_prune_snapshots import INSTANCE, POLICY, RUN, describe_params, events, snap

SOURCE = "us-east-1"
DEST = "us-west-2"
OTHER = "eu-west-1"

setUpModule, tearDownModule = stubbed_aws.module_fixtures(SOURCE)


def client(region):
    return stubbed_aws.offline(ps._region_client(region))


def copy(sid, source=SOURCE, **kw):
    s = snap(sid, **kw)
    if source is not None:
        s["Tags"].append({"Key": ps.TAG_SOURCE_REGION, "Value": source})
    return s


def copy_params():
    p = describe_params()
    p["Filters"].append({"Name": "tag:" + ps.TAG_SOURCE_REGION, "Values": [SOURCE]})
    return p


def copy_events(copies, **kw):
    return events(Copies=copies, SourceRegion=SOURCE, **kw)


def Regions(*regions):
    return stubbed_aws.RegionClients(ps._region_client, regions)


def run(regions, source_client, ev):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        report = ps.prune(ev, source_client, lambda: 0.0, regions)
    regions.done()
    printed = json.loads(out.getvalue().strip().splitlines()[-1])
    assert printed == report, (printed, report)
    return report


class CopiesInputTests(unittest.TestCase):
    def test_valid(self):
        s = ps.parse_settings(copy_events([{"Region": DEST, "KeepCount": "30", "MinKeep": "1"},
                                           {"Region": OTHER, "MaxAgeDays": 90, "MinKeep": "2"}]))
        self.assertEqual([(c.region, c.keep_count, c.max_age_days, c.min_keep, c.copies_from) for c in s.copies],
                         [(DEST, 30, 0, 1, SOURCE), (OTHER, 0, 90, 2, SOURCE)])
        self.assertTrue(s.has_rule)
        # Copies only: no rule here.
        s = ps.parse_settings(copy_events([{"Region": DEST, "KeepCount": "3", "MinKeep": "1"}], KeepCount="0"))
        self.assertFalse(s.has_rule)
        self.assertEqual(ps.parse_settings(events(Copies=[])).copies, [])

    def test_invalid(self):
        bad = [
            {"Copies": "us-west-2"}, {"Copies": [DEST]}, {"Copies": [{"KeepCount": "1", "MinKeep": "1"}]},
            {"Copies": [{"Region": SOURCE, "KeepCount": "1", "MinKeep": "1"}]},
            {"Copies": [{"Region": DEST, "KeepCount": "0", "MinKeep": "1"}]},
            {"Copies": [{"Region": DEST, "KeepCount": "1"}]},
            {"Copies": [{"Region": DEST, "KeepCount": "1", "MinKeep": "1"}] * 2},
            {"Copies": [{"Region": DEST, "KeepCount": "1", "MinKeep": "1"}], "SourceRegion": ""},
        ]
        for change in bad:
            with self.subTest(change=change), self.assertRaises(ValueError):
                ev = copy_events(change.pop("Copies"))
                ev.update(change)
                ps.parse_settings(ev)

    def test_own_copy_needs_source_region(self):
        self.assertTrue(ps.is_own(copy("snap-1"), POLICY, INSTANCE, SOURCE))
        self.assertFalse(ps.is_own(copy("snap-1", source=None), POLICY, INSTANCE, SOURCE))
        self.assertFalse(ps.is_own(copy("snap-1", source=OTHER), POLICY, INSTANCE, SOURCE))
        mixed = copy("snap-1")
        mixed["Tags"].append({"Key": ps.TAG_SOURCE_REGION, "Value": OTHER})
        self.assertFalse(ps.is_own(mixed, POLICY, INSTANCE, SOURCE))
        # Without copies_from the tag does not matter (the snapshots here).
        self.assertTrue(ps.is_own(copy("snap-1", source=None), POLICY, INSTANCE))


class CopiesHandlerTests(unittest.TestCase):
    def test_prunes_here_and_in_each_region_with_its_rule(self):
        src = client(SOURCE)
        regions = Regions(DEST, OTHER)
        with Stubber(src) as here:
            here.add_response("describe_snapshots", {"Snapshots": [
                snap("snap-h1", hours_ago=1, run=RUN), snap("snap-h2", hours_ago=30, run="b")]}, describe_params())
            here.add_response("delete_snapshot", {}, {"SnapshotId": "snap-h2"})
            regions.stubbers[DEST].add_response("describe_snapshots", {"Snapshots": [
                copy("snap-d1", hours_ago=1, run=RUN, state="pending"),
                copy("snap-d2", hours_ago=30, run="b"),
                copy("snap-d3", hours_ago=60, run="c"),
                copy("snap-d4", hours_ago=90, run="d"),
                copy("snap-x1", source=OTHER, hours_ago=900, run="x"),
                copy("snap-x2", source=None, hours_ago=900, run="y"),
            ]}, copy_params())
            regions.stubbers[DEST].add_response("delete_snapshot", {}, {"SnapshotId": "snap-d4"})
            regions.stubbers[OTHER].add_response("describe_snapshots", {"Snapshots": [
                copy("snap-o1", hours_ago=24 * 10, run="b")]}, copy_params())
            report = run(regions, src, copy_events([
                {"Region": DEST, "KeepCount": "2", "MinKeep": "1"},
                {"Region": OTHER, "MaxAgeDays": "5", "MinKeep": "1"},
            ], KeepCount="1"))
            here.assert_no_pending_responses()
        self.assertEqual(report["deleted"], ["snap-h2"])
        self.assertEqual(report["copyDeleted"], ["us-west-2/snap-d4"])
        self.assertEqual(report["copies"][DEST]["kept"], [RUN, "b", "c"])
        self.assertEqual(report["copies"][DEST]["foreignIgnored"], 2)
        # MinKeep keeps the only copy in OTHER though it is older than 5 days.
        self.assertEqual(report["copies"][OTHER]["deleted"], [])
        self.assertEqual(report["copyErrors"], [])

    def test_copies_only_and_dry_run(self):
        src = client(SOURCE)
        regions = Regions(DEST)
        with Stubber(src) as here:
            regions.stubbers[DEST].add_response("describe_snapshots", {"Snapshots": [
                copy("snap-d1", hours_ago=1, run="a"), copy("snap-d2", hours_ago=30, run="b")]}, copy_params())
            report = run(regions, src, copy_events([{"Region": DEST, "KeepCount": "1", "MinKeep": "1"}],
                                                   KeepCount="0", DryRun="true"))
            here.assert_no_pending_responses()
        self.assertEqual(report["copyWouldDelete"], ["us-west-2/snap-d2"])
        self.assertEqual(report["wouldDelete"], [])
        self.assertEqual(report["totals"]["copyWouldDelete"], 1)

    def test_denied_in_region(self):
        src = client(SOURCE)
        regions = Regions(DEST)
        with Stubber(src) as here:
            regions.stubbers[DEST].add_response("describe_snapshots", {"Snapshots": [
                copy("snap-d1", hours_ago=1, run="a"), copy("snap-d2", hours_ago=30, run="b")]}, copy_params())
            regions.stubbers[DEST].add_client_error("delete_snapshot", "UnauthorizedOperation", "no",
                                                    expected_params={"SnapshotId": "snap-d2"})
            with contextlib.redirect_stdout(io.StringIO()) as out, \
                    self.assertRaisesRegex(ps.PruneAccessDenied, "snap-d2 in us-west-2 was denied"):
                ps.prune(copy_events([{"Region": DEST, "KeepCount": "1", "MinKeep": "1"}], KeepCount="0"),
                         src, lambda: 0.0, regions)
            here.assert_no_pending_responses()
        printed = json.loads(out.getvalue().strip().splitlines()[-1])
        self.assertIn(DEST, printed["copies"])

    def test_handler_uses_region_clients(self):
        src = client(SOURCE)
        regions = Regions(DEST)
        with Stubber(src), mock.patch.object(ps, "_ec2_client", return_value=src), \
                mock.patch.object(ps, "_region_client", side_effect=regions), \
                contextlib.redirect_stdout(io.StringIO()):
            regions.stubbers[DEST].add_response("describe_snapshots", {"Snapshots": []}, copy_params())
            report = ps.handler(copy_events([{"Region": DEST, "KeepCount": "1", "MinKeep": "1"}], KeepCount="0"), None)
        regions.done()
        self.assertEqual(report["copies"][DEST]["kept"], [])
        self.assertEqual(ps._region_client(DEST).meta.region_name, DEST)


if __name__ == "__main__":
    unittest.main()
