"""Tests of windows_vss_preflight: the version comparison, each rule, and
the handler on real boto3 clients whose calls botocore's Stubber answers.
Run from this directory: python3 -m unittest -v
"""

import unittest
from unittest import mock

import boto3
from botocore.stub import Stubber

import stubbed_aws
import windows_vss_preflight as wp
from stubbed_aws import INSTANCE

SMALL = "t2.nano,t2.micro,t3.nano,t3.micro,t3a.nano,t3a.micro"
SETTINGS = {"InstanceId": INSTANCE, "MinAgentVersion": "3.0.502.0", "UnsupportedTypes": SMALL, "InstallPackages": "false"}
WINDOWS = {"PlatformType": "Windows", "AgentVersion": "3.3.40.0"}

setUpModule, tearDownModule = stubbed_aws.module_fixtures()


class VersionTest(unittest.TestCase):
    def test_numeric_not_lexical(self):
        # "3.0.1000.0" sorts before "3.0.502.0" as text.
        self.assertTrue(wp.version_at_least("3.0.1000.0", "3.0.502.0"))
        self.assertTrue(wp.version_at_least("3.0.502.0", "3.0.502.0"))
        self.assertTrue(wp.version_at_least("10.0.0.0", "3.0.502.0"))
        self.assertTrue(wp.version_at_least("3.1", "3.0.502.0"))
        self.assertFalse(wp.version_at_least("3.0.431.0", "3.0.502.0"))
        self.assertFalse(wp.version_at_least("2.3.1644.0", "3.0.502.0"))
        self.assertFalse(wp.version_at_least("3.0", "3.0.502.0"))

    def test_unreadable_version_is_refused(self):
        for bad in ("", "3.0.x.0", "latest", "3..1"):
            with self.assertRaises(wp.PreflightError):
                wp.version_at_least(bad, "3.0.502.0")


class CheckTest(unittest.TestCase):
    def test_ok(self):
        got = wp.check(WINDOWS, "m5.large", {"AwsVssComponents"}, SETTINGS)
        self.assertEqual(got, {"agentVersion": "3.3.40.0", "instanceType": "m5.large", "platform": "Windows", "vssComponents": "installed"})

    def test_old_agent(self):
        with self.assertRaisesRegex(wp.PreflightError, "SSM Agent 3.0.431.0.*3.0.502.0 or later"):
            wp.check({"PlatformType": "Windows", "AgentVersion": "3.0.431.0"}, "m5.large", {"AwsVssComponents"}, SETTINGS)

    def test_not_windows(self):
        with self.assertRaisesRegex(wp.PreflightError, "runs Linux, not Windows"):
            wp.check({"PlatformType": "Linux", "AgentVersion": "3.3.40.0"}, "m5.large", None, SETTINGS)

    def test_not_managed(self):
        with self.assertRaisesRegex(wp.PreflightError, "not a managed instance"):
            wp.check(None, "m5.large", None, SETTINGS)

    def test_small_type(self):
        for t in ("t2.nano", "t3.micro", "t3a.micro"):
            with self.assertRaisesRegex(wp.PreflightError, "smallest instance sizes"):
                wp.check(WINDOWS, t, {"AwsVssComponents"}, SETTINGS)
        wp.check(WINDOWS, "t3.small", {"AwsVssComponents"}, SETTINGS)

    def test_package(self):
        with self.assertRaisesRegex(wp.PreflightError, "does not have the AwsVssComponents package"):
            wp.check(WINDOWS, "m5.large", set(), SETTINGS)
        install = dict(SETTINGS, InstallPackages="true")
        self.assertEqual(wp.check(WINDOWS, "m5.large", set(), install)["vssComponents"], "missing: will be installed")
        self.assertEqual(wp.check(WINDOWS, "m5.large", None, SETTINGS)["vssComponents"], "unknown: no inventory")


class HandlerTest(unittest.TestCase):
    def _clients(self, info, itype, inventory):
        ssm = stubbed_aws.offline(boto3.client("ssm", region_name="us-east-1"))
        ec2 = stubbed_aws.offline(boto3.client("ec2", region_name="us-east-1"))
        s, e = Stubber(ssm), Stubber(ec2)
        s.add_response("describe_instance_information", {"InstanceInformationList": info},
                       {"Filters": [{"Key": "InstanceIds", "Values": [INSTANCE]}]})
        e.add_response("describe_instances", {"Reservations": [{"Instances": [{"InstanceId": INSTANCE, "InstanceType": itype}]}]},
                       {"InstanceIds": [INSTANCE]})
        s.add_response("list_inventory_entries", inventory,
                       {"InstanceId": INSTANCE, "TypeName": "AWS:Application",
                        "Filters": [{"Key": "Name", "Values": ["AwsVssComponents"], "Type": "Equal"}]})
        s.activate()
        e.activate()
        return {"ssm": ssm, "ec2": ec2}, (s, e)

    def run_handler(self, info, itype, inventory, settings=SETTINGS):
        clients, stubs = self._clients(info, itype, inventory)
        with mock.patch.object(wp.boto3, "client", side_effect=lambda name, **kw: clients[name]):
            try:
                return wp.handler(dict(settings), None)
            finally:
                for s in stubs:
                    s.assert_no_pending_responses()

    def test_handler_ok(self):
        got = self.run_handler([{"InstanceId": INSTANCE, "PlatformType": "Windows", "AgentVersion": "3.2.582.0"}], "m5.xlarge",
                               {"InstanceId": INSTANCE, "TypeName": "AWS:Application", "CaptureTime": "2026-01-01T00:00:00Z",
                                "Entries": [{"Name": "AwsVssComponents", "Version": "2.5.0"}]})
        self.assertEqual(got["vssComponents"], "installed")
        self.assertEqual(got["agentVersion"], "3.2.582.0")

    def test_handler_old_agent(self):
        with self.assertRaisesRegex(wp.PreflightError, "needs 3.0.502.0 or later"):
            self.run_handler([{"InstanceId": INSTANCE, "PlatformType": "Windows", "AgentVersion": "2.3.1644.0"}], "m5.xlarge",
                             {"InstanceId": INSTANCE, "TypeName": "AWS:Application", "Entries": []})

    def test_handler_no_inventory(self):
        got = self.run_handler([{"InstanceId": INSTANCE, "PlatformType": "Windows", "AgentVersion": "3.2.582.0"}], "m5.xlarge",
                               {"InstanceId": INSTANCE, "TypeName": "AWS:Application", "Entries": []})
        self.assertEqual(got["vssComponents"], "unknown: no inventory")


if __name__ == "__main__":
    unittest.main()
