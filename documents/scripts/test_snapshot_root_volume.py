"""Tests of snapshot_root_volume on a real boto3 EC2 client answered by
botocore's Stubber. Run from this directory: python3 -m unittest -v
"""

import unittest
from unittest import mock

import boto3
from botocore.stub import Stubber

import snapshot_root_volume as sr
import stubbed_aws
from stubbed_aws import INSTANCE

TAGS = [{"Key": "ssm-backup:policy", "Value": "win-root"}]

setUpModule, tearDownModule = stubbed_aws.module_fixtures()


def bdm(device, vol):
    return {"DeviceName": device, "Ebs": {"VolumeId": vol}}


class PlanTest(unittest.TestCase):
    def test_root_and_data(self):
        inst = {"RootDeviceName": "/dev/sda1", "BlockDeviceMappings": [bdm("xvdg", "vol-0b"), bdm("/dev/sda1", "vol-0r"), bdm("xvdf", "vol-0a")]}
        self.assertEqual(sr.plan(inst), ("vol-0r", ["vol-0a", "vol-0b"]))

    def test_no_root(self):
        with self.assertRaisesRegex(sr.SnapshotError, "no EBS volume is attached at the root device"):
            sr.plan({"RootDeviceName": "/dev/sda1", "BlockDeviceMappings": [bdm("xvdf", "vol-0a")]})
        with self.assertRaisesRegex(sr.SnapshotError, "not EBS-backed"):
            sr.plan({"BlockDeviceMappings": []})


class HandlerTest(unittest.TestCase):
    def run_handler(self, mappings, spec):
        ec2 = stubbed_aws.offline(boto3.client("ec2", region_name="us-east-1"))
        stub = Stubber(ec2)
        stub.add_response("describe_instances", {"Reservations": [{"Instances": [
            {"InstanceId": INSTANCE, "RootDeviceName": "/dev/sda1", "BlockDeviceMappings": mappings}]}]},
            {"InstanceIds": [INSTANCE]})
        stub.add_response("create_snapshots", {"Snapshots": [{"SnapshotId": "snap-0123456789abcdef0"}]}, {
            "InstanceSpecification": spec, "Description": "d",
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": TAGS}]})
        stub.activate()
        with mock.patch.object(sr.boto3, "client", return_value=ec2):
            out = sr.handler({"InstanceId": INSTANCE, "Description": "d", "Tags": TAGS}, None)
        stub.assert_no_pending_responses()
        return out

    def test_excludes_every_data_volume(self):
        out = self.run_handler([bdm("/dev/sda1", "vol-0r"), bdm("xvdf", "vol-0a")],
                               {"InstanceId": INSTANCE, "ExcludeBootVolume": False, "ExcludeDataVolumeIds": ["vol-0a"]})
        self.assertEqual(out, {"snapshotIds": ["snap-0123456789abcdef0"], "rootVolumeId": "vol-0r", "excluded": ["vol-0a"]})

    def test_root_only_instance(self):
        out = self.run_handler([bdm("/dev/sda1", "vol-0r")], {"InstanceId": INSTANCE, "ExcludeBootVolume": False})
        self.assertEqual(out["excluded"], [])


if __name__ == "__main__":
    unittest.main()


class DataVolumesTest(unittest.TestCase):
    def run_data_volumes(self, mappings):
        ec2 = stubbed_aws.offline(boto3.client("ec2", region_name="us-east-1"))
        stub = Stubber(ec2)
        stub.add_response("describe_instances", {"Reservations": [{"Instances": [
            {"InstanceId": INSTANCE, "RootDeviceName": "/dev/sda1", "BlockDeviceMappings": mappings}]}]},
            {"InstanceIds": [INSTANCE]})
        stub.activate()
        with mock.patch.object(sr.boto3, "client", return_value=ec2):
            out = sr.data_volumes({"InstanceId": INSTANCE}, None)
        # No CreateSnapshots was stubbed: a call would have failed.
        stub.assert_no_pending_responses()
        return out

    def test_lists_data_volumes_sorted(self):
        out = self.run_data_volumes([bdm("xvdg", "vol-0b"), bdm("/dev/sda1", "vol-0r"), bdm("xvdf", "vol-0a")])
        self.assertEqual(out, {"rootVolumeId": "vol-0r", "dataVolumeIds": "vol-0a,vol-0b"})

    def test_root_only_instance(self):
        self.assertEqual(self.run_data_volumes([bdm("/dev/sda1", "vol-0r")]), {"rootVolumeId": "vol-0r", "dataVolumeIds": "none"})

    def test_refuses_over_40(self):
        mappings = [bdm("/dev/sda1", "vol-0r")] + [bdm("xvd%d" % i, "vol-%02d" % i) for i in range(41)]
        with self.assertRaisesRegex(sr.SnapshotError, "41 data volumes"):
            self.run_data_volumes(mappings)

    def test_needs_instance(self):
        with self.assertRaisesRegex(sr.SnapshotError, "InstanceId is required"):
            sr.data_volumes({}, None)
