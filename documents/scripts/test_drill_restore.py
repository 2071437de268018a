"""Tests of drill_restore: the pure choices and both handlers.

The handlers run on a real boto3 EC2 client whose calls botocore's Stubber
answers; a before-send hook fails any call that would reach the network.
Run from this directory: python3 -m unittest -v
"""

import contextlib
import datetime
import io
import unittest
from unittest import mock

from botocore.stub import Stubber

import drill_restore as dr
import stubbed_aws
from stubbed_aws import INSTANCE, NOW, POLICY, FakeClock

DRILL = "i-0fedcba9876543210"
RUN = "9d3c2a1e-8b7d-4c2e-9a51-0d4b6e7f8a90"

setUpModule, tearDownModule = stubbed_aws.module_fixtures()


def new_client():
    return stubbed_aws.offline(dr._ec2_client())


def snap(sid, volume, run, hours_ago=1.0, state="completed", tier=None, policy=POLICY, copy=False):
    tags = [{"Key": dr.TAG_POLICY, "Value": policy}, {"Key": dr.TAG_INSTANCE, "Value": INSTANCE},
            {"Key": dr.TAG_RUN, "Value": run}]
    if copy:
        tags.append({"Key": dr.TAG_SOURCE_REGION, "Value": "eu-west-1"})
    s = {"SnapshotId": sid, "VolumeId": volume, "State": state,
         "StartTime": NOW - datetime.timedelta(hours=hours_ago), "Tags": tags}
    if tier:
        s["StorageTier"] = tier
    return s


def instance(iid, zone, mappings, root="/dev/xvda"):
    return {"InstanceId": iid, "RootDeviceName": root, "Placement": {"AvailabilityZone": zone},
            "BlockDeviceMappings": [{"DeviceName": d, "Ebs": {"VolumeId": v}} for d, v in mappings]}


def describe(inst):
    return {"Reservations": [{"Instances": [inst]}]}


SOURCE = instance(INSTANCE, "us-east-1a", [("/dev/xvda", "vol-root"), ("/dev/sdg", "vol-logs"), ("/dev/sdf", "vol-data")])
DRILL_INSTANCE = instance(DRILL, "us-east-1c", [("/dev/xvda", "vol-d0"), ("/dev/sdf", "vol-d1"), ("/dev/xvdg", "vol-d2")])


def list_params():
    return {"OwnerIds": ["self"], "Filters": [
        {"Name": "tag:" + dr.TAG_POLICY, "Values": [POLICY]},
        {"Name": "tag:" + dr.TAG_INSTANCE, "Values": [INSTANCE]}]}


def volume_tags(sid):
    return [{"Key": dr.TAG_DRILL, "Value": POLICY}, {"Key": dr.TAG_RUN, "Value": RUN},
            {"Key": dr.TAG_SOURCE_SNAPSHOT, "Value": sid},
            {"Key": "Name", "Value": "ssm-backup restore drill of " + POLICY}]


class PickTests(unittest.TestCase):
    def test_newest_complete_standard_set(self):
        snaps = [
            snap("snap-p1", "vol-data", "pending", 1, state="pending"),
            snap("snap-a1", "vol-data", "archived", 2, tier="archive"), snap("snap-a2", "vol-root", "archived", 2),
            snap("snap-c1", "vol-data", "copy", 2.5, copy=True),
            snap("snap-g1", "vol-data", "good", 3), snap("snap-g2", "vol-root", "good", 3),
            snap("snap-o1", "vol-data", "old", 50),
            snap("snap-f1", "vol-data", "foreign", 0.5, policy="other"),
        ]
        chosen, archived = dr.pick_set(snaps, POLICY, INSTANCE)
        self.assertEqual((chosen.id, archived), ("good", 1))
        none, archived = dr.pick_set([snap("snap-a1", "vol-data", "a", tier="archive")], POLICY, INSTANCE)
        self.assertIsNone(none)
        self.assertEqual(archived, 1)

    def test_first_data_volume_then_root(self):
        s = dr.SnapshotSet("r", [snap("snap-1", "vol-root", "r"), snap("snap-2", "vol-logs", "r"), snap("snap-3", "vol-data", "r")])
        self.assertEqual(dr.pick_snapshot(s, SOURCE)["SnapshotId"], "snap-3")  # /dev/sdf before /dev/sdg
        root_only = dr.SnapshotSet("r", [snap("snap-1", "vol-root", "r"), snap("snap-9", "vol-gone", "r")])
        self.assertEqual(dr.pick_snapshot(root_only, SOURCE)["SnapshotId"], "snap-1")
        self.assertEqual(dr.pick_snapshot(root_only, None)["SnapshotId"], "snap-1")
        unknown = dr.SnapshotSet("r", [snap("snap-8", "vol-x", "r"), snap("snap-7", "vol-y", "r")])
        self.assertEqual(dr.pick_snapshot(unknown, SOURCE)["SnapshotId"], "snap-7")

    def test_free_device_skips_xvd_aliases(self):
        self.assertEqual(dr.free_device(DRILL_INSTANCE), "/dev/sdh")
        full = instance(DRILL, "z", [(d, "vol-%d" % i) for i, d in enumerate(dr.DEVICES)])
        with self.assertRaises(dr.DrillFailed):
            dr.free_device(full)


class RestoreTests(unittest.TestCase):
    def events(self, **kw):
        e = {"InstanceId": INSTANCE, "PolicyName": POLICY, "RunId": RUN, "DrillInstanceId": DRILL, "WaitSeconds": "20"}
        e.update(kw)
        return e

    def test_restores_into_the_drill_instances_zone(self):
        client = new_client()
        snaps = [snap("snap-1", "vol-root", "r"), snap("snap-3", "vol-data", "r")]
        with Stubber(client) as st, contextlib.redirect_stdout(io.StringIO()):
            st.add_response("describe_snapshots", {"Snapshots": snaps}, list_params())
            st.add_response("describe_instances", describe(SOURCE), {"InstanceIds": [INSTANCE]})
            st.add_response("describe_instances", describe(DRILL_INSTANCE), {"InstanceIds": [DRILL]})
            st.add_response("create_volume", {"VolumeId": "vol-new", "State": "creating"}, {
                "SnapshotId": "snap-3", "AvailabilityZone": "us-east-1c", "VolumeType": "gp3",
                "TagSpecifications": [{"ResourceType": "volume", "Tags": volume_tags("snap-3")}]})
            st.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-new", "State": "creating"}]}, {"VolumeIds": ["vol-new"]})
            st.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-new", "State": "available"}]}, {"VolumeIds": ["vol-new"]})
            clock = FakeClock()
            got = dr.restore(self.events(), client, clock, clock.sleep)
            st.assert_no_pending_responses()
        self.assertEqual(got["volumeId"], "vol-new")
        self.assertEqual(got["deviceName"], "/dev/sdh")
        self.assertEqual(got["availabilityZone"], "us-east-1c")
        self.assertEqual(got["setId"], "r")

    def test_without_drill_instance_restores_next_to_the_source(self):
        client = new_client()
        with Stubber(client) as st, contextlib.redirect_stdout(io.StringIO()):
            st.add_response("describe_snapshots", {"Snapshots": [snap("snap-3", "vol-data", "r")]}, list_params())
            st.add_response("describe_instances", describe(SOURCE), {"InstanceIds": [INSTANCE]})
            st.add_response("create_volume", {"VolumeId": "vol-new", "State": "available"}, {
                "SnapshotId": "snap-3", "AvailabilityZone": "us-east-1a", "VolumeType": "gp3",
                "TagSpecifications": [{"ResourceType": "volume", "Tags": volume_tags("snap-3")}]})
            got = dr.restore(self.events(DrillInstanceId=""), client)
            st.assert_no_pending_responses()
        self.assertEqual((got["deviceName"], got["availabilityZone"]), ("", "us-east-1a"))

    def test_failures(self):
        client = new_client()
        with Stubber(client) as st:
            st.add_response("describe_snapshots", {"Snapshots": [snap("snap-a", "vol-data", "a", tier="archive")]}, list_params())
            with self.assertRaisesRegex(dr.DrillFailed, r"no complete snapshot set.*\(1 archived\)"):
                dr.restore(self.events(), client)
        client = new_client()
        with Stubber(client) as st:
            st.add_response("describe_snapshots", {"Snapshots": [snap("snap-3", "vol-data", "r")]}, list_params())
            st.add_response("describe_instances", describe(SOURCE), {"InstanceIds": [INSTANCE]})
            st.add_response("describe_instances", describe(DRILL_INSTANCE), {"InstanceIds": [DRILL]})
            st.add_response("create_volume", {"VolumeId": "vol-new", "State": "creating"}, None)
            for _ in range(4):
                st.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-new", "State": "creating"}]}, {"VolumeIds": ["vol-new"]})
            clock = FakeClock()
            with self.assertRaisesRegex(dr.DrillFailed, "still creating after 20 s"):
                dr.restore(self.events(), client, clock, clock.sleep)
        client = new_client()
        with Stubber(client) as st:
            st.add_response("describe_snapshots", {"Snapshots": [snap("snap-3", "vol-data", "r")]}, list_params())
            st.add_response("describe_instances", describe(SOURCE), {"InstanceIds": [INSTANCE]})
            st.add_response("describe_instances", describe(DRILL_INSTANCE), {"InstanceIds": [DRILL]})
            st.add_client_error("create_volume", "UnauthorizedOperation", "no")
            with self.assertRaisesRegex(dr.DrillAccessDenied, "CreateVolume from snap-3 was denied"):
                dr.restore(self.events(), client)

    def test_invalid_input(self):
        for change in ({"InstanceId": ""}, {"RunId": None}, {"WaitSeconds": "600"}, {"WaitSeconds": "x"}):
            with self.subTest(change=change), self.assertRaises(ValueError):
                dr.restore(self.events(**change), new_client())


class CleanupTests(unittest.TestCase):
    def vol(self, vid, state="available", run=RUN, hours_ago=1, policy=POLICY):
        return {"VolumeId": vid, "State": state, "CreateTime": NOW - datetime.timedelta(hours=hours_ago),
                "Attachments": [{"InstanceId": DRILL}] if state == "in-use" else [],
                "Tags": [{"Key": dr.TAG_DRILL, "Value": policy}, {"Key": dr.TAG_RUN, "Value": run}]}

    def test_detaches_waits_and_deletes_this_runs_and_stale_volumes(self):
        client = new_client()
        vols = [self.vol("vol-1", "in-use"), self.vol("vol-2", "creating"), self.vol("vol-3", run="older", hours_ago=30),
                self.vol("vol-4", run="recent", hours_ago=2), self.vol("vol-5", "deleting")]
        with Stubber(client) as st, contextlib.redirect_stdout(io.StringIO()):
            st.add_response("describe_volumes", {"Volumes": vols}, {"Filters": [{"Name": "tag:" + dr.TAG_DRILL, "Values": [POLICY]}]})
            st.add_response("detach_volume", {}, {"VolumeId": "vol-1"})
            st.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-1", "State": "in-use"}]}, {"VolumeIds": ["vol-1"]})
            st.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-1", "State": "available"}]}, {"VolumeIds": ["vol-1"]})
            st.add_response("delete_volume", {}, {"VolumeId": "vol-1"})
            st.add_response("describe_volumes", {"Volumes": [{"VolumeId": "vol-2", "State": "available"}]}, {"VolumeIds": ["vol-2"]})
            st.add_response("delete_volume", {}, {"VolumeId": "vol-2"})
            st.add_response("delete_volume", {}, {"VolumeId": "vol-3"})
            clock = FakeClock()
            got = dr.cleanup({"PolicyName": POLICY, "RunId": RUN, "Now": NOW.isoformat()}, client, clock, clock.sleep)
            st.assert_no_pending_responses()
        # vol-4 belongs to a recent drill of another execution: left alone.
        self.assertEqual(got["deleted"], ["vol-1", "vol-2", "vol-3", "vol-5"])
        self.assertEqual(got["errors"], [])

    def test_left_behind_fails_the_step(self):
        client = new_client()
        with Stubber(client) as st, contextlib.redirect_stdout(io.StringIO()):
            st.add_response("describe_volumes", {"Volumes": [self.vol("vol-1")]}, None)
            st.add_client_error("delete_volume", "VolumeInUse", "busy", expected_params={"VolumeId": "vol-1"})
            with self.assertRaisesRegex(dr.DrillFailed, "1 drill volume.*left behind.*VolumeInUse"):
                dr.cleanup({"PolicyName": POLICY, "RunId": RUN, "Now": NOW.isoformat()}, client)

    def test_nothing_to_clean(self):
        client = new_client()
        with Stubber(client) as st, contextlib.redirect_stdout(io.StringIO()):
            st.add_response("describe_volumes", {"Volumes": [self.vol("vol-9", policy="other")]}, None)
            got = dr.cleanup({"PolicyName": POLICY, "RunId": RUN}, client)
        self.assertEqual(got, {"deleted": [], "errors": []})

    def test_handlers(self):
        client = new_client()
        with Stubber(client) as st, mock.patch.object(dr, "_ec2_client", return_value=client), \
                contextlib.redirect_stdout(io.StringIO()):
            st.add_response("describe_volumes", {"Volumes": []}, None)
            self.assertEqual(dr.cleanup_handler({"PolicyName": POLICY, "RunId": RUN}, None)["deleted"], [])
        self.assertEqual(client.meta.config.retries, {"mode": "adaptive", "total_max_attempts": 11})


if __name__ == "__main__":
    unittest.main()
