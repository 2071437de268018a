"""Tests of prune_snapshots: the pure decision and the handler.

The handler runs on real boto3 EC2 and SSM clients whose calls botocore's
Stubber answers; a before-send hook fails any call that would reach the
network.
Run from this directory: python3 -m unittest -v

The property test draws PRUNE_PROPERTY_CASES (default 500) random cases from
PRUNE_PROPERTY_SEED (default 20240601, or "random"), each with random run
statuses; a failure prints the seed and the case number.
"""

import collections
import contextlib
import datetime
import io
import json
import os
import random
import time
import unittest
from unittest import mock

from botocore.stub import Stubber

import prune_snapshots as ps
import stubbed_aws
from stubbed_aws import INSTANCE, NOW, POLICY

RUN = "3f6c2a1e-8b7d-4c2e-9a51-0d4b6e7f8a90"

setUpModule, tearDownModule = stubbed_aws.module_fixtures()


def new_client():
    return stubbed_aws.offline(ps._ec2_client())


def new_ssm_client():
    return stubbed_aws.offline(ps._ssm_client())


def tags(policy=POLICY, instance=INSTANCE, run=None):
    return stubbed_aws.snapshot_tags(ps, "application", policy=policy, instance=instance, run=run)


def snap(sid, state="completed", hours_ago=0.0, run=None, **tag_kw):
    return stubbed_aws.snapshot(sid, tags(run=run, **tag_kw), state, hours_ago)


def events(**kw):
    e = {
        "InstanceId": INSTANCE, "PolicyName": POLICY, "RunId": RUN,
        "KeepCount": "2", "MaxAgeDays": "0", "MinKeep": "1",
        "DryRun": "false", "Now": NOW.isoformat(),
    }
    e.update(kw)
    return e


def describe_params(token=None):
    p = {
        "OwnerIds": ["self"],
        "Filters": [
            {"Name": "tag:ssm-backup:policy", "Values": [POLICY]},
            {"Name": "tag:ssm-backup:instance-id", "Values": [INSTANCE]},
        ],
        "MaxResults": 1000,
    }
    if token:
        p["NextToken"] = token
    return p


def stub_pages(stubber, pages):
    for i, page in enumerate(pages):
        response = {"Snapshots": page}
        if i + 1 < len(pages):
            response["NextToken"] = "token-%d" % (i + 1)
        stubber.add_response("describe_snapshots", response,
                             describe_params("token-%d" % i if i else None))


def stub_deletes(stubber, calls):
    """calls: [(snapshot id, None or an error code)], in the order expected."""
    for sid, code in calls:
        if code is None:
            stubber.add_response("delete_snapshot", {}, {"SnapshotId": sid})
        else:
            stubber.add_client_error("delete_snapshot", service_error_code=code,
                                     service_message="stubbed " + code,
                                     expected_params={"SnapshotId": sid})


def stub_runs(stubber, runs):
    """runs: [(run id, status)], the GetAutomationExecution calls expected in
    order. A status "NotFound" or an error code ending in "Exception" or
    "Error" answers with that error; "Failed@takeSnapshots" is a Failed run
    whose snapshot step succeeded."""
    for rid, status in runs:
        params = {"AutomationExecutionId": rid}
        if status == "NotFound":
            status = "AutomationExecutionNotFoundException"
        if status.endswith(("Exception", "Error")):
            stubber.add_client_error("get_automation_execution", service_error_code=status,
                                     service_message="stubbed " + status, expected_params=params)
            continue
        steps = [{"StepName": "takeSnapshots", "StepStatus": "Failed"},
                 {"StepName": "pruneSnapshots", "StepStatus": "Pending"}]
        if status.endswith("@takeSnapshots"):
            status = status.split("@")[0]
            steps = [{"StepName": "takeSnapshots", "StepStatus": "Success"},
                     {"StepName": "pruneSnapshots", "StepStatus": "Failed"}]
        stubber.add_response("get_automation_execution", {"AutomationExecution": {
            "AutomationExecutionId": rid, "AutomationExecutionStatus": status,
            "StepExecutions": steps}}, params)


def run_prune(pages, calls, ev, runs=(), clock=None):
    client, ssm = new_client(), new_ssm_client()
    with Stubber(client) as stubber, Stubber(ssm) as ssm_stubber, \
            contextlib.redirect_stdout(io.StringIO()) as out:
        stub_pages(stubber, pages)
        stub_runs(ssm_stubber, runs)
        stub_deletes(stubber, calls)
        report = ps.prune(ev, client, clock or (lambda: 0.0), ssm=ssm)
        stubber.assert_no_pending_responses()
        ssm_stubber.assert_no_pending_responses()
    printed = json.loads(out.getvalue().strip().splitlines()[-1])
    assert printed == report, (printed, report)
    return report


def ok(ids):
    return [(i, None) for i in ids]


def rid(n):
    """A run id shaped like an Automation execution id."""
    if isinstance(n, str):
        n = int.from_bytes(n.encode(), "big")
    return "00000000-0000-4000-8000-%012x" % n


def success(*run_ids):
    return [(r, "Success") for r in run_ids]


class InputTests(unittest.TestCase):
    def test_valid_forms(self):
        s = ps.parse_settings(events(KeepCount=7, MaxAgeDays="", MinKeep=" 3 ", DryRun="TRUE"))
        self.assertEqual((s.keep_count, s.max_age_days, s.min_keep, s.dry_run), (7, 0, 3, True))
        self.assertFalse(ps.parse_settings(events(DryRun=False)).dry_run)
        self.assertFalse(ps.parse_settings({k: v for k, v in events().items() if k != "DryRun"}).dry_run)
        self.assertEqual(ps.parse_settings(events(Now="2025-06-01T12:00:00Z")).now, NOW)
        self.assertEqual(ps.parse_settings(events(Now="2025-06-01T12:00:00")).now, NOW)

    def test_invalid(self):
        bad = [
            {"KeepCount": "0", "MaxAgeDays": "0"}, {"KeepCount": "", "MaxAgeDays": ""},
            {"MinKeep": "0"}, {"MinKeep": ""}, {"MinKeep": None}, {"KeepCount": "-1"},
            {"KeepCount": "{{ KeepCount }}"}, {"KeepCount": True}, {"KeepCount": 2.5},
            {"KeepCount": "+2"}, {"MaxAgeDays": "30d"}, {"DryRun": "yes"}, {"DryRun": ""},
            {"DryRun": 1}, {"InstanceId": ""}, {"PolicyName": " "}, {"RunId": None},
            {"Now": "yesterday"},
        ]
        for change in bad:
            with self.subTest(change=change), self.assertRaises(ValueError):
                ps.parse_settings(events(**change))
        with self.assertRaises(ValueError):
            ps.parse_settings({k: v for k, v in events().items() if k != "RunId"})

    def test_invalid_input_makes_no_call(self):
        client = new_client()
        with Stubber(client), self.assertRaises(ValueError):
            ps.prune(events(MinKeep="0"), client)


class DecisionTests(unittest.TestCase):
    def decide(self, snaps, **kw):
        return ps.decide(snaps, ps.parse_settings(events(**kw)))

    def deleted(self, snaps, **kw):
        return sorted(i for s in self.decide(snaps, **kw).delete for i in s.snapshot_ids)

    def test_count_keeps_newest_max_of_count_and_min_keep(self):
        snaps = [snap("snap-%02d" % h, hours_ago=24 * h, run="r%d" % h) for h in range(1, 7)]
        self.assertEqual(self.deleted(snaps, KeepCount="2"), ["snap-03", "snap-04", "snap-05", "snap-06"])
        self.assertEqual(self.deleted(snaps, KeepCount="2", MinKeep="4"), ["snap-05", "snap-06"])
        self.assertEqual(self.deleted(snaps, KeepCount="10"), [])

    def test_age_boundary_and_min_keep_floor(self):
        snaps = [
            snap("snap-young", hours_ago=7 * 24 - 0.01, run="a"),
            snap("snap-edge", hours_ago=7 * 24, run="b"),  # exactly MaxAgeDays old
            snap("snap-old", hours_ago=30 * 24, run="c"),
        ]
        self.assertEqual(self.deleted(snaps, KeepCount="0", MaxAgeDays="7"), ["snap-edge", "snap-old"])
        self.assertEqual(self.deleted(snaps, KeepCount="0", MaxAgeDays="7", MinKeep="2"), ["snap-old"])
        old = [snap("snap-1", hours_ago=900, run="x"), snap("snap-2", hours_ago=1000, run="y")]
        self.assertEqual(self.deleted(old, KeepCount="0", MaxAgeDays="1"), ["snap-2"])
        self.assertEqual(self.deleted(old, KeepCount="0", MaxAgeDays="999999999999"), [])

    def test_multi_volume_set_goes_whole(self):
        snaps = [snap("snap-a1", hours_ago=1, run="new"), snap("snap-a2", hours_ago=1.1, run="new"),
                 snap("snap-b1", hours_ago=50, run="old"), snap("snap-b2", hours_ago=49, run="old"),
                 snap("snap-b3", hours_ago=50, run="old")]
        self.assertEqual(self.deleted(snaps, KeepCount="1"), ["snap-b1", "snap-b2", "snap-b3"])

    def test_set_time_is_newest_member(self):
        # Set "x" has an old member but its newest is newer than set "y".
        snaps = [snap("snap-x1", hours_ago=100, run="x"), snap("snap-x2", hours_ago=2, run="x"),
                 snap("snap-y1", hours_ago=3, run="y")]
        self.assertEqual(self.deleted(snaps, KeepCount="1"), ["snap-y1"])

    def test_pending_set_kept_whole_and_not_counted(self):
        snaps = [snap("snap-p1", "pending", 90, run="p"), snap("snap-p2", "completed", 90, run="p"),
                 snap("snap-g1", hours_ago=10, run="g"), snap("snap-g2", hours_ago=100, run="h")]
        d = self.decide(snaps, KeepCount="1")
        self.assertEqual([i for s in d.delete for i in s.snapshot_ids], ["snap-g2"])
        self.assertIn("p", [s.id for s in d.keep if s.pending])

    def test_current_run_never_deleted_and_counts_when_good(self):
        snaps = [snap("snap-c1", "error", 500, run=RUN), snap("snap-o1", hours_ago=10, run="o")]
        self.assertEqual(self.deleted(snaps, KeepCount="1"), [])
        good_current = [snap("snap-c1", hours_ago=0, run=RUN), snap("snap-o1", hours_ago=10, run="o")]
        self.assertEqual(self.deleted(good_current, KeepCount="1"), ["snap-o1"])
        # A conflicting second run-id value does not hide the current run.
        conflicting = snap("snap-c2", hours_ago=900, run=RUN)
        conflicting["Tags"].append({"Key": ps.TAG_RUN, "Value": "other"})
        self.assertEqual(self.deleted([conflicting] + good_current, KeepCount="1"), ["snap-o1"])

    def test_error_sets(self):
        snaps = [snap("snap-e-new", "error", 1, run="en"), snap("snap-g", hours_ago=5, run="g"),
                 snap("snap-e-old", "error", 50, run="eo"), snap("snap-e-old2", "completed", 50, run="eo")]
        self.assertEqual(self.deleted(snaps, KeepCount="3"), ["snap-e-old", "snap-e-old2"])
        only_errors = [s for s in snaps if s["SnapshotId"] != "snap-g"]
        self.assertEqual(self.deleted(only_errors, KeepCount="1"), [])

    def test_unknown_state_and_missing_fields_kept(self):
        odd = [snap("snap-r", "recoverable", 900, run="r"), snap("snap-n", None, 900, run="n")]
        no_time = snap("snap-t", hours_ago=900, run="t")
        del no_time["StartTime"]
        snaps = odd + [no_time, snap("snap-g", hours_ago=1, run="g")]
        self.assertEqual(self.deleted(snaps, KeepCount="1"), [])

    def test_foreign_never_deleted(self):
        foreign = [
            snap("snap-f1", hours_ago=900, policy="mysql-fleet-2"),
            snap("snap-f2", hours_ago=900, policy="MySQL-fleet"),
            snap("snap-f3", hours_ago=900, policy=POLICY + " "),
            snap("snap-f4", hours_ago=900, instance="i-0123456789abcdef1"),
            snap("snap-f5", hours_ago=900, policy=None),
            snap("snap-f6", hours_ago=900, instance=None),
        ]
        dup = snap("snap-f7", hours_ago=900)
        dup["Tags"].append({"Key": ps.TAG_POLICY, "Value": "other"})
        no_tags = {"SnapshotId": "snap-f8", "State": "completed", "StartTime": NOW}
        keep = snap("snap-g", hours_ago=1, run="g")
        d = self.decide(foreign + [dup, no_tags, keep], KeepCount="1")
        self.assertEqual(d.delete, [])
        self.assertEqual(len(d.foreign), 8)

    def test_run_id_equal_to_snapshot_id_stays_apart(self):
        snaps = [snap("snap-1", hours_ago=1, run="snap-2"), snap("snap-2", hours_ago=2)]
        d = self.decide(snaps, KeepCount="1")
        self.assertEqual([s.id for s in d.keep], ["snap-2"])
        self.assertEqual([s.id for s in d.delete], ["snapshot:snap-2"])

    def test_failed_run_never_counted(self):
        snaps = [snap("snap-bad", hours_ago=1, run="bad"), snap("snap-g1", hours_ago=10, run="g1"),
                 snap("snap-g2", hours_ago=30, run="g2"), snap("snap-g3", hours_ago=50, run="g3")]
        self.assertEqual(self.deleted(snaps, KeepCount="2"), ["snap-g2", "snap-g3"])
        for status in ps.RUN_FAILED:
            with self.subTest(status=status):
                d = ps.decide(snaps, ps.parse_settings(events(KeepCount="2")), {"bad": status})
                # bad is newer than every kept set: kept, but not counted.
                self.assertEqual([s.id for s in d.keep], ["bad", "g1", "g2"])
                self.assertEqual([s.id for s in d.delete], ["g3"])
                self.assertEqual([s.reason for s in d.keep], ["recent error", "retained", "retained"])
                self.assertTrue(d.keep[0].run_failed and not d.keep[0].good)

    def test_failed_run_deleted_only_when_older_than_newest_kept(self):
        snaps = [snap("snap-g1", hours_ago=10, run="g1"), snap("snap-bad", hours_ago=20, run="bad"),
                 snap("snap-bad2", "error", 20, run="bad"), snap("snap-g2", hours_ago=30, run="g2")]
        d = ps.decide(snaps, ps.parse_settings(events(KeepCount="2")), {"bad": "Failed"})
        self.assertEqual([s.id for s in d.delete], ["bad"])
        self.assertEqual([s.id for s in d.keep], ["g1", "g2"])
        # No kept good set: nothing of a failed run is deleted.
        only = [x for x in snaps if x["SnapshotId"].startswith("snap-bad")]
        self.assertEqual(ps.decide(only, ps.parse_settings(events(KeepCount="1")), {"bad": "Failed"}).delete, [])

    def test_failed_run_with_pending_or_odd_member_protected(self):
        for state in ("pending", "recoverable"):
            with self.subTest(state=state):
                snaps = [snap("snap-g", hours_ago=1, run="g"), snap("snap-b1", hours_ago=90, run="bad"),
                         snap("snap-b2", state, 90, run="bad")]
                d = ps.decide(snaps, ps.parse_settings(events(KeepCount="1")), {"bad": "Failed"})
                self.assertEqual(d.delete, [])

    def test_running_or_unknown_run_protected_and_not_counted(self):
        snaps = [snap("snap-busy", hours_ago=1, run="busy"), snap("snap-g1", hours_ago=10, run="g1"),
                 snap("snap-g2", hours_ago=30, run="g2"), snap("snap-old", hours_ago=900, run="old")]
        for status in ("InProgress", "Pending", "Waiting", "Unknown", "Exited"):
            with self.subTest(status=status):
                settings = ps.parse_settings(events(KeepCount="1"))
                d = ps.decide(snaps, settings, {"busy": status, "old": status})
                self.assertEqual([s.id for s in d.delete], ["g2"])
                self.assertEqual([(s.id, s.reason) for s in d.keep],
                                 [("busy", "run not finished"), ("g1", "retained"), ("old", "run not finished")])

    def test_success_and_not_found_as_before(self):
        snaps = [snap("snap-a", hours_ago=1, run="a"), snap("snap-b", hours_ago=10, run="b"),
                 snap("snap-c", "error", 30, run="c"), snap("snap-d", hours_ago=40, run="d")]
        settings = ps.parse_settings(events(KeepCount="2"))
        before = ps.decide(snaps, settings)
        for status in ps.RUN_OK:
            with self.subTest(status=status):
                d = ps.decide(snaps, settings, {k: status for k in "abcd"})
                self.assertEqual([s.id for s in d.delete], [s.id for s in before.delete])
                self.assertEqual([s.id for s in d.delete], ["d", "c"])

    def test_current_run_status_ignored(self):
        snaps = [snap("snap-c1", hours_ago=0, run=RUN), snap("snap-o1", hours_ago=10, run="o")]
        d = ps.decide(snaps, ps.parse_settings(events(KeepCount="1")), {RUN: "Failed"})
        self.assertEqual([s.id for s in d.delete], ["o"])
        self.assertTrue(d.keep[0].current and d.keep[0].good)

    def test_statuses_apply_to_run_sets_only(self):
        # A snapshot-named set is never matched to a status, even by id.
        snaps = [snap("snap-1", hours_ago=1, run="g"), snap("snap-2", hours_ago=2)]
        d = ps.decide(snaps, ps.parse_settings(events(KeepCount="2")), {"snap-2": "Failed"})
        self.assertEqual(d.delete, [])
        self.assertTrue(all(s.good for s in d.keep))

    def test_order_does_not_matter(self):
        rng = random.Random(7)
        snaps = [snap("snap-%02d" % i, rng.choice(["completed", "error"]), rng.choice([1, 2, 3]) * 10,
                      run=rng.choice(["a", "b", "c", None])) for i in range(30)]
        first = self.decide(snaps, KeepCount="1")
        rng.shuffle(snaps)
        second = self.decide(snaps, KeepCount="1")
        self.assertEqual([s.snapshot_ids for s in first.delete], [s.snapshot_ids for s in second.delete])
        self.assertEqual([s.id for s in first.keep], [s.id for s in second.keep])


class HandlerTests(unittest.TestCase):
    def test_three_pages_filters_and_exact_deletes(self):
        pages = [
            [snap("snap-01", hours_ago=1, run="r1"), snap("snap-05", hours_ago=72, run="r3")],
            [snap("snap-02", hours_ago=1, run="r1"), snap("snap-03", hours_ago=24, run="r2")],
            [snap("snap-06", hours_ago=72, run="r3"), snap("snap-04", hours_ago=96)],
        ]
        report = run_prune(pages, ok(["snap-04", "snap-05", "snap-06"]), events(KeepCount="2"))
        self.assertEqual(report["deleted"], ["snap-04", "snap-05", "snap-06"])
        self.assertEqual(report["kept"], ["r1", "r2"])
        self.assertEqual(report["errors"], [])
        self.assertFalse(report["dryRun"])

    def test_dry_run_deletes_nothing(self):
        pages = [[snap("snap-01", hours_ago=1, run="r1"), snap("snap-02", hours_ago=50, run="r2")]]
        for dry in ("true", "True", True):
            with self.subTest(dry=dry):
                report = run_prune(pages, [], events(KeepCount="1", DryRun=dry))
                self.assertEqual(report["wouldDelete"], ["snap-02"])
                self.assertEqual(report["deleted"], [])
                self.assertTrue(report["dryRun"])

    def test_pending_current_and_foreign_kept(self):
        pages = [[
            snap("snap-cur", "pending", 0, run=RUN),
            snap("snap-p1", "pending", 80, run="p"), snap("snap-p2", "completed", 80, run="p"),
            snap("snap-g1", hours_ago=20, run="g"),
            snap("snap-f1", hours_ago=900, policy="other-policy", run="f"),
            snap("snap-old", hours_ago=900, run="o"),
        ]]
        report = run_prune(pages, ok(["snap-old"]), events(KeepCount="1"))
        self.assertEqual(report["deleted"], ["snap-old"])
        self.assertEqual(report["skippedPending"], [RUN, "p"])
        self.assertEqual(report["foreignIgnored"], 1)

    def test_in_use_reported_and_set_left_whole(self):
        pages = [[
            snap("snap-k", hours_ago=1, run="k"),
            snap("snap-a1", hours_ago=50, run="a"), snap("snap-a2", hours_ago=50, run="a"),
            snap("snap-b1", hours_ago=40, run="b"), snap("snap-b2", hours_ago=40, run="b"),
            snap("snap-c1", hours_ago=30, run="c"),
        ]]
        calls = [("snap-a1", "InvalidSnapshot.InUse"),  # set a stays whole
                 ("snap-b1", None), ("snap-b2", "InvalidSnapshot.InUse"),  # set b partial
                 ("snap-c1", "InvalidSnapshot.NotFound")]
        report = run_prune(pages, calls, events(KeepCount="1"))
        self.assertEqual(report["inUse"], ["snap-a1", "snap-b2"])
        self.assertEqual(report["partiallyDeleted"], ["b"])
        self.assertEqual(report["deleted"], ["snap-b1", "snap-c1"])
        self.assertEqual(len(report["errors"]), 2)
        self.assertIn("InvalidSnapshot.InUse", report["errors"][0])
        self.assertEqual(report["kept"], ["k", "a", "b"])

    def test_access_denied(self):
        client = new_client()
        with Stubber(client) as stubber:
            stubber.add_client_error("describe_snapshots", "UnauthorizedOperation", "You are not authorized",
                                     expected_params=describe_params())
            with self.assertRaisesRegex(ps.PruneAccessDenied, "ec2:DescribeSnapshots was denied"):
                ps.prune(events(), client)
        client = new_client()
        with Stubber(client) as stubber, contextlib.redirect_stdout(io.StringIO()):
            stub_pages(stubber, [[snap("snap-1", hours_ago=1, run="a"), snap("snap-2", hours_ago=9, run="b"),
                                  snap("snap-3", hours_ago=10, run="c")]])
            stub_deletes(stubber, [("snap-3", None), ("snap-2", "UnauthorizedOperation")])
            with self.assertRaisesRegex(ps.PruneAccessDenied, r"DeleteSnapshot of snap-2 was denied.*1 snapshot"):
                ps.prune(events(KeepCount="1"), client)

    def test_refuses_a_protected_set_even_if_selected(self):
        bad_sets = [
            ps.SnapshotSet("x", [snap("snap-1", hours_ago=9, run="x")], current=True),
            ps.SnapshotSet("y", [snap("snap-2", "pending", 9, run="y")], pending=True),
            ps.SnapshotSet("z", [snap("snap-3", hours_ago=9, run="z", policy="other")]),
        ]
        for bad in bad_sets:
            client = new_client()
            with self.subTest(set=bad.id), Stubber(client) as stubber, \
                    mock.patch.object(ps, "decide", return_value=ps.Decision([], [bad], [])):
                stub_pages(stubber, [[]])
                with self.assertRaisesRegex(AssertionError, "refusing to delete"):
                    ps.prune(events(), client)
                stubber.assert_no_pending_responses()

    def test_other_describe_error_raises(self):
        client = new_client()
        with Stubber(client) as stubber:
            stubber.add_client_error("describe_snapshots", "RequestLimitExceeded", "slow down",
                                     expected_params=describe_params())
            with self.assertRaisesRegex(RuntimeError, "RequestLimitExceeded"):
                ps.prune(events(), client)

    def test_budget_defers_sets(self):
        ticks = iter([0.0, 1.0, ps.DELETE_BUDGET_SECONDS + 1.0, ps.DELETE_BUDGET_SECONDS + 2.0])
        pages = [[snap("snap-k", hours_ago=1, run="k"), snap("snap-a", hours_ago=50, run="a"),
                  snap("snap-b", hours_ago=40, run="b"), snap("snap-c", hours_ago=30, run="c")]]
        report = run_prune(pages, ok(["snap-a"]), events(KeepCount="1"), clock=lambda: next(ticks))
        self.assertEqual(report["deleted"], ["snap-a"])
        self.assertEqual(report["deferred"], ["b", "c"])

    def test_report_stays_small(self):
        page = [snap("snap-%05d" % i, hours_ago=10 + i, run=rid(i // 3)) for i in range(3000)]
        # The newest MAX_RUN_LOOKUPS runs are looked up, the rest are not.
        lookups = success(*(rid(i) for i in range(ps.MAX_RUN_LOOKUPS)))
        report = run_prune([page[:1000], page[1000:2000], page[2000:]], [], events(KeepCount="1", DryRun="true"),
                           lookups)
        self.assertTrue(report["truncated"])
        self.assertEqual(report["totals"]["wouldDelete"], 2997)
        self.assertEqual(len(report["wouldDelete"]), ps.MAX_LISTED)
        self.assertLess(len(json.dumps(report)), 8192)

    def test_handler_entry_point_and_client_config(self):
        client, ssm = new_client(), new_ssm_client()
        for c in (client, ssm):
            self.assertEqual(c.meta.region_name, "us-east-1")
            # max_attempts 10 retries = 11 attempts in all, as botocore records it.
            self.assertEqual(c.meta.config.retries, {"mode": "adaptive", "total_max_attempts": 11})
        with Stubber(client) as stubber, Stubber(ssm) as ssm_stubber, \
                mock.patch.object(ps, "_ec2_client", return_value=client), \
                mock.patch.object(ps, "_ssm_client", return_value=ssm), \
                contextlib.redirect_stdout(io.StringIO()):
            stub_pages(stubber, [[snap("snap-1", hours_ago=1, run=rid("a")),
                                  snap("snap-2", hours_ago=9, run=rid("b"))]])
            stub_runs(ssm_stubber, [(rid("a"), "Success"), (rid("b"), "NotFound")])
            stub_deletes(stubber, ok(["snap-2"]))
            report = ps.handler(events(KeepCount="1"), None)
            stubber.assert_no_pending_responses()
            ssm_stubber.assert_no_pending_responses()
        self.assertEqual(report["deleted"], ["snap-2"])
        self.assertEqual(report["failedRuns"], [])

    def test_failed_runs_not_counted_and_deleted_when_older(self):
        # bad1 is the newest set but its run failed: g1 and g2 are kept, the
        # older failed run bad2 goes, bad1 stays (newer than every kept set).
        bad1, bad2, g1, g2, g3 = (rid(x) for x in ("bad1", "bad2", "g1", "g2", "g3"))
        pages = [[snap("snap-b1", hours_ago=1, run=bad1), snap("snap-g1", hours_ago=5, run=g1),
                  snap("snap-g2", hours_ago=30, run=g2), snap("snap-b2", hours_ago=40, run=bad2),
                  snap("snap-b3", hours_ago=40, run=bad2), snap("snap-g3", hours_ago=50, run=g3)]]
        runs = [(bad1, "Failed"), (g1, "Success"), (g2, "Success"), (bad2, "TimedOut"), (g3, "Success")]
        report = run_prune(pages, ok(["snap-g3", "snap-b2", "snap-b3"]), events(KeepCount="2"), runs)
        self.assertEqual(report["deleted"], ["snap-g3", "snap-b2", "snap-b3"])
        self.assertEqual(report["kept"], [bad1, g1, g2])
        self.assertEqual(report["failedRuns"], [bad1, bad2])

    def test_lookup_answers(self):
        a, b, c, d, old = (rid(x) for x in ("a", "b", "c", "d", "old"))
        pages = [[snap("snap-a", hours_ago=1, run=a), snap("snap-b", hours_ago=2, run=b),
                  snap("snap-c", hours_ago=3, run=c), snap("snap-d", hours_ago=4, run=d),
                  snap("snap-old", hours_ago=90, run=old), snap("snap-hand", hours_ago=95, run="by-hand")]]
        # a: the snapshot step succeeded, a later step failed: good. b: not
        # found: good. c: still running: protected. d: the lookup failed:
        # protected. "by-hand" is no execution id: not looked up, good.
        runs = [(a, "Failed@takeSnapshots"), (b, "NotFound"), (c, "InProgress"),
                (d, "InternalError"), (old, "Success")]
        report = run_prune(pages, ok(["snap-hand", "snap-old"]), events(KeepCount="2"), runs)
        self.assertEqual(report["deleted"], ["snap-hand", "snap-old"])
        self.assertEqual(report["kept"], [a, b, c, d])
        self.assertEqual(report["failedRuns"], [])
        self.assertEqual(len(report["errors"]), 1)
        self.assertIn("run %s: GetAutomationExecution: InternalError" % d, report["errors"][0])

    def test_lookups_bounded_newest_first_and_cached(self):
        ids = [rid(i) for i in range(6)]
        pages = [[snap("snap-%d" % i, hours_ago=i, run=ids[i]) for i in range(1, 6)]
                 + [snap("snap-1b", hours_ago=1, run=ids[1])]]
        with mock.patch.object(ps, "MAX_RUN_LOOKUPS", 2):
            report = run_prune(pages, ok(["snap-5", "snap-4", "snap-3"]), events(KeepCount="1"),
                               [(ids[1], "Cancelled"), (ids[2], "Success")])
        # Run 1 failed; run 2 is the newest good set; runs 3 to 5 were not
        # looked up and count as good.
        self.assertEqual(report["kept"], [ids[1], ids[2]])
        self.assertEqual(report["failedRuns"], [ids[1]])

    def test_lookup_denied(self):
        client, ssm = new_client(), new_ssm_client()
        with Stubber(client) as stubber, Stubber(ssm) as ssm_stubber, \
                contextlib.redirect_stdout(io.StringIO()) as out:
            stub_pages(stubber, [[snap("snap-1", hours_ago=1, run=rid("a"))]])
            stub_runs(ssm_stubber, [(rid("a"), "AccessDeniedException")])
            with self.assertRaisesRegex(ps.PruneAccessDenied, "ssm:GetAutomationExecution of .* was denied"):
                ps.prune(events(KeepCount="1"), client, ssm=ssm)
        self.assertIn('"deleted": []', out.getvalue())


# ---------------------------------------------------------------------------
# Randomized property test.

RUN_POOL = [RUN] + [rid("run-" + c) for c in "abcdef"]
# None: not looked up; "Unknown": the lookup failed.
RUN_STATUSES = [None, None, None, "Success", "Success", "NotFound", "InProgress", "Pending", "Waiting",
                "Unknown"] + list(ps.RUN_FAILED) * 2
STATES = ["completed"] * 14 + ["pending", "pending", "error", "error", "recoverable"]


def random_tags(rng, run):
    r = rng.random()
    policy, instance = POLICY, INSTANCE
    if r < 0.06:
        policy = rng.choice([POLICY + " ", POLICY.upper(), "mysql-fleet-2", "", None])
    elif r < 0.12:
        instance = rng.choice(["i-0123456789abcdef1", INSTANCE.upper(), "", None])
    out = tags(policy=policy, instance=instance)
    r = rng.random()
    if r < 0.04:  # conflicting duplicate key: never own
        out.append({"Key": rng.choice([ps.TAG_POLICY, ps.TAG_INSTANCE]), "Value": "other"})
    elif r < 0.08:  # identical duplicate: still own
        out.append({"Key": ps.TAG_POLICY, "Value": policy if policy is not None else POLICY})
    if run is not None:
        for value in run:
            out.append({"Key": ps.TAG_RUN, "Value": value})
    rng.shuffle(out)
    return out


def random_case(rng):
    snaps, serial, ages = [], 0, []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.7:
            runs = (rng.choice(RUN_POOL),)
        elif kind < 0.8:
            runs = None  # no run-id tag: each member is its own set
        elif kind < 0.87:
            runs = ("",)
        elif kind < 0.94:
            runs = (rng.choice(RUN_POOL), rng.choice(RUN_POOL))
        else:
            runs = (RUN_POOL[1], RUN_POOL[1])
        age = rng.choice(ages) if ages and rng.random() < 0.2 else rng.uniform(-3, 24 * 60)
        ages.append(age)
        for _ in range(rng.randint(1, 4)):
            serial += 1
            hours = age + rng.choice([0.0, 0.0, rng.uniform(0, 0.5)])
            s = {
                "SnapshotId": "snap-%017x" % rng.getrandbits(68) if rng.random() < 0.5 else "snap-%04d" % serial,
                "State": rng.choice(STATES),
                "StartTime": NOW - datetime.timedelta(hours=hours),
                "Tags": random_tags(rng, runs),
            }
            snaps.append(s)
    seen = set()
    snaps = [s for s in snaps if not (s["SnapshotId"] in seen or seen.add(s["SnapshotId"]))]
    rng.shuffle(snaps)
    keep, age = rng.choice([0, 0, 1, 2, 3, 5, 8]), rng.choice([0, 0, 1, 7, 30, 90])
    if keep == 0 and age == 0:
        keep = rng.randint(1, 4)
    ev = events(KeepCount=rng.choice([keep, str(keep)]), MaxAgeDays=str(age) if age else rng.choice(["0", "", 0]),
                MinKeep=rng.choice([1, 1, 2, 3, 4]), DryRun=rng.random() < 0.2)
    # The current run may have a status too: it must not matter.
    statuses = {r: st for r in RUN_POOL for st in [rng.choice(RUN_STATUSES)] if st is not None}
    return snaps, ev, statuses


def values(s, key):
    return [t["Value"] for t in s.get("Tags", []) if t["Key"] == key]


def owned(s):
    p, i = values(s, ps.TAG_POLICY), values(s, ps.TAG_INSTANCE)
    return p != [] and set(p) == {POLICY} and i != [] and set(i) == {INSTANCE}


Oracle = collections.namedtuple("Oracle", "groups kept delete runs failed_runs open_runs")


def oracle(snaps, settings, statuses):
    """Independent statement of the rules: snapshot ids to delete, per set."""
    groups, runs = collections.defaultdict(list), set()
    for s in snaps:
        if not owned(s):
            continue
        tagged = values(s, ps.TAG_RUN)
        if settings.run_id in tagged:
            key = settings.run_id
        elif len(set(tagged)) == 1 and tagged[0]:
            key = tagged[0]
        else:
            key = s["SnapshotId"]
        if key != s["SnapshotId"]:
            runs.add(key)
        groups[key].append(s)
    t = {k: max(m["StartTime"] for m in g) for k, g in groups.items()}
    states = {k: {m["State"] for m in g} for k, g in groups.items()}
    status = {k: statuses.get(k) if k in runs and k != settings.run_id else None for k in groups}
    failed_runs = {k for k in groups if status[k] in ps.RUN_FAILED}
    open_runs = {k for k in groups if status[k] not in (None, "Success", "NotFound") and k not in failed_runs}
    good = [k for k in groups if states[k] == {"completed"} and k not in failed_runs | open_runs]

    def rank(k):
        return sum(1 for o in good if (t[o], o) > (t[k], k))

    floor = settings.min_keep
    kept = set()
    for k in good:
        if settings.keep_count and rank(k) < max(settings.keep_count, floor):
            kept.add(k)
        if settings.max_age_days and (rank(k) < floor or
                                      settings.now - t[k] < datetime.timedelta(days=settings.max_age_days)):
            kept.add(k)
    newest = max((t[k] for k in kept), default=None)
    delete = {}
    for k, g in groups.items():
        if k == settings.run_id or not states[k] <= {"completed", "error"} or k in open_runs:
            continue
        bad = "error" in states[k] or k in failed_runs
        if (k in good and k not in kept) or (bad and newest is not None and t[k] < newest):
            delete[k] = sorted(m["SnapshotId"] for m in g)
    order = sorted(delete, key=lambda k: (t[k], k))
    # The handler looks runs up newest set first.
    looked_up = sorted((k for k in runs if k != settings.run_id), key=lambda k: (t[k], k), reverse=True)
    return Oracle(groups, kept, [delete[k] for k in order], looked_up, failed_runs, open_runs)


def check_rules(tc, snaps, settings, decision, statuses):
    by_id = {s["SnapshotId"]: s for s in snaps}
    deleted = [i for s in decision.delete for i in s.snapshot_ids]
    o = oracle(snaps, settings, statuses)
    groups, kept_good, expected = o.groups, o.kept, o.delete
    group_of = {m["SnapshotId"]: k for k, g in groups.items() for m in g}
    tc.assertEqual(len(deleted), len(set(deleted)), "a snapshot is deleted twice")
    for sid in deleted:
        s = by_id[sid]
        tc.assertTrue(owned(s), "deleted a snapshot not tagged for this policy and instance: %s" % sid)
        tc.assertNotIn(settings.run_id, values(s, ps.TAG_RUN), "deleted a snapshot of the current run")
        tc.assertNotEqual(s["State"], "pending", "deleted a pending snapshot")
        tc.assertIn(s["State"], ("completed", "error"), "deleted a snapshot in state %r" % s["State"])
        members = groups[group_of[sid]]
        tc.assertNotIn("pending", [m["State"] for m in members], "deleted from a set with a pending member")
        tc.assertTrue({m["SnapshotId"] for m in members} <= set(deleted), "deleted part of a set")
    # Retention: the good sets left are a prefix of the ranking, at least
    # min(MinKeep, good sets) long and exactly max(count, MinKeep) in count mode.
    # Good: every member completed, and the run neither failed nor open.
    good = [k for k, g in groups.items()
            if {m["State"] for m in g} == {"completed"} and k not in o.failed_runs | o.open_runs]
    left = [k for k in good if not set(m["SnapshotId"] for m in groups[k]) & set(deleted)]
    tc.assertGreaterEqual(len(left), min(settings.min_keep, len(good)), "fewer than MinKeep good sets left")
    tc.assertTrue(kept_good <= set(left), "a kept good set was deleted")
    newest_gone = max((max(m["StartTime"] for m in groups[k]) for k in good if k not in left), default=None)
    if newest_gone is not None:
        for k in good:
            if max(m["StartTime"] for m in groups[k]) > newest_gone:
                tc.assertIn(k, left, "a good set newer than a deleted good set was deleted")
    if settings.keep_count and not settings.max_age_days:
        tc.assertEqual(len(kept_good), min(len(good), max(settings.keep_count, settings.min_keep)))
    # Failed sets (an error member, or a failed run) go only when older
    # than the newest kept good set.
    newest_kept = max((max(m["StartTime"] for m in groups[k]) for k in kept_good), default=None)
    for k, g in groups.items():
        bad = "error" in {m["State"] for m in g} or k in o.failed_runs
        if bad and set(m["SnapshotId"] for m in g) & set(deleted):
            tc.assertIsNotNone(newest_kept)
            tc.assertLess(max(m["StartTime"] for m in g), newest_kept)
    # A failed-run set is never counted as good; an open run's set is never
    # deleted and never counted.
    by_set = {s.id: s for s in decision.keep + decision.delete}
    for s in decision.keep + decision.delete:
        if s.run_failed or s.run_open:
            tc.assertFalse(s.good, "set %s of a failed or open run counted as good" % s.id)
            tc.assertNotEqual(s.reason, "retained")
            tc.assertIn(s.run_id, o.failed_runs | o.open_runs)
    tc.assertFalse(kept_good & (o.failed_runs | o.open_runs))
    for k in o.open_runs:
        tc.assertFalse({m["SnapshotId"] for m in groups[k]} & set(deleted), "deleted a set of an open run")
    tc.assertEqual({k for k in by_set if by_set[k].run_failed}, o.failed_runs)
    # The sets of failed and open runs change nothing else: without them,
    # the same other sets are deleted, in the same order. So a failed run
    # never takes the place of an older good set, nor keeps one.
    gone = {m["SnapshotId"] for k in o.failed_runs | o.open_runs for m in groups[k]}
    rest = ps.decide([x for x in snaps if x["SnapshotId"] not in gone], settings, statuses)
    tc.assertEqual([x.snapshot_ids for x in rest.delete],
                   [x.snapshot_ids for x in decision.delete if not x.run_failed])
    # Statuses that say the run went well change nothing.
    if not o.failed_runs and not o.open_runs:
        tc.assertEqual([x.snapshot_ids for x in ps.decide(snaps, settings).delete],
                       [x.snapshot_ids for x in decision.delete])
    # Everything own is kept or deleted; the rest is foreign.
    tc.assertEqual(len(decision.foreign), sum(1 for s in snaps if not owned(s)))
    kept_ids = {i for s in decision.keep for i in s.snapshot_ids}
    tc.assertEqual(kept_ids | set(deleted), {s["SnapshotId"] for s in snaps if owned(s)})
    tc.assertFalse(kept_ids & set(deleted))
    # And the exact decision, oldest set first.
    tc.assertEqual([s.snapshot_ids for s in decision.delete], expected)


def planned_calls(rng, decision):
    """Delete calls the handler must make, with random failures, and the report."""
    calls, want = [], {"deleted": [], "inUse": [], "partiallyDeleted": [], "errors": 0}
    for s in decision.delete:
        done = 0
        for sid in s.snapshot_ids:
            code = rng.choice(["InvalidSnapshot.InUse", "InternalError", "InvalidSnapshot.NotFound"]) \
                if rng.random() < 0.1 else None
            calls.append((sid, code))
            if code in (None, "InvalidSnapshot.NotFound"):
                want["deleted"].append(sid)
                done += 1
                continue
            want["errors"] += 1
            if code == "InvalidSnapshot.InUse":
                want["inUse"].append(sid)
            if done:
                want["partiallyDeleted"].append(s.id)
            break
    return calls, want


class PropertyTest(unittest.TestCase):
    def test_rules_hold_for_random_inputs(self):
        seed_env = os.environ.get("PRUNE_PROPERTY_SEED", "20240601")
        seed = random.randrange(2 ** 32) if seed_env == "random" else int(seed_env)
        cases = int(os.environ.get("PRUNE_PROPERTY_CASES", "500"))
        rng = random.Random(seed)
        started, through_handler = time.monotonic(), 0
        for n in range(cases):
            snaps, ev, statuses = random_case(rng)
            try:
                settings = ps.parse_settings(ev)
                decision = ps.decide(snaps, settings, statuses)
                check_rules(self, snaps, settings, decision, statuses)
                shuffled = list(snaps)
                rng.shuffle(shuffled)
                again = ps.decide(shuffled, settings, statuses)
                self.assertEqual([s.snapshot_ids for s in again.delete],
                                 [s.snapshot_ids for s in decision.delete], "order of input changed the decision")
                if n % 10 == 0:
                    through_handler += 1
                    self.check_handler(rng, snaps, ev, settings, decision, statuses)
            except Exception as e:
                raise AssertionError("property failed: PRUNE_PROPERTY_SEED=%d case %d: %s" % (seed, n, e)) from e
        print("\n  property test: seed %d, %d cases (%d through the handler) in %.2fs"
              % (seed, cases, through_handler, time.monotonic() - started))

    def check_handler(self, rng, snaps, ev, settings, decision, statuses):
        cuts = sorted(rng.randint(0, len(snaps)) for _ in range(2))
        pages = [snaps[:cuts[0]], snaps[cuts[0]:cuts[1]], snaps[cuts[1]:]][: rng.randint(1, 3)]
        pages[-1] = snaps[sum(len(p) for p in pages[:-1]):]
        if settings.dry_run:
            calls, want = [], {"deleted": [], "inUse": [], "partiallyDeleted": [], "errors": 0}
        else:
            calls, want = planned_calls(rng, decision)
        # Every run is looked up once, newest set first; the answers say
        # what statuses says.
        runs = []
        for k in oracle(snaps, settings, statuses).runs:
            st = statuses.get(k)
            if st is None:
                st = "NotFound"
            elif st == "Unknown":
                st = rng.choice(["InternalError", "ThrottlingException"])
                want["errors"] += 1
            elif st == "Success":
                st = rng.choice(["Success", "Failed@takeSnapshots", "CompletedWithSuccess"])
            runs.append((k, st))
        report = run_prune(pages, calls, ev, runs)
        self.assertEqual(report["failedRuns"][:ps.MAX_LISTED],
                         [s.id for s in decision.keep + decision.delete if s.run_failed][:ps.MAX_LISTED])
        self.assertEqual(report["deleted"], want["deleted"])
        self.assertEqual(report["inUse"], want["inUse"])
        self.assertEqual(report["partiallyDeleted"], want["partiallyDeleted"])
        self.assertEqual(len(report["errors"]), want["errors"])
        would = [i for s in decision.delete for i in s.snapshot_ids] if settings.dry_run else []
        self.assertEqual(report["wouldDelete"], would)
        self.assertEqual(report["foreignIgnored"], len(decision.foreign))


if __name__ == "__main__":
    unittest.main()
