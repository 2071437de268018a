"""Test support for the test_*.py modules here: fake AWS credentials, real
boto3 clients that never reach the network, stubbed clients per region, a
fake clock, and snapshot dicts as DescribeSnapshots returns them.

Only tests import this module. The scripts that become step code are
self-contained and import nothing from here.
"""

import datetime
import os
from unittest import mock

from botocore.stub import Stubber

UTC = datetime.timezone.utc
POLICY = "mysql-fleet"
INSTANCE = "i-0123456789abcdef0"
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# Settings that would point a client somewhere other than the stubs.
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_SSM")


def module_fixtures(region="us-east-1"):
    """setUpModule and tearDownModule for a test module: fake credentials in
    region, no shared config or credentials file, no instance metadata, and
    no profile or endpoint override while the module's tests run."""
    env = mock.patch.dict(os.environ, {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "fake-session-token",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    })

    def set_up_module():
        env.start()
        for key in _UNSET:
            os.environ.pop(key, None)

    def tear_down_module():
        env.stop()

    return set_up_module, tear_down_module


def _no_network(request, **kwargs):
    raise AssertionError("a request reached the network layer: %s" % request.url)


def offline(client):
    """client, with a before-send hook that fails any request that would
    reach the network (one the Stubber did not answer)."""
    client.meta.events.register("before-send", _no_network)
    return client


class RegionClients:
    """A stubbed, offline client per region, made by factory(region): those
    of regions at once, any other on its first stub(region). Calling the
    object returns the client of a stubbed region, as the handlers' region
    client factories do."""

    def __init__(self, factory, regions=()):
        self.factory = factory
        self.clients, self.stubbers = {}, {}
        for region in regions:
            self.stub(region)

    def __call__(self, region):
        if region not in self.clients:
            raise AssertionError("unexpected client for region %s" % region)
        return self.clients[region]

    def stub(self, region):
        if region not in self.clients:
            c = offline(self.factory(region))
            self.clients[region] = c
            self.stubbers[region] = Stubber(c)
            self.stubbers[region].activate()
        return self.stubbers[region]

    def done(self):
        for s in self.stubbers.values():
            s.assert_no_pending_responses()
            s.deactivate()


class FakeClock:
    """A monotonic clock that only sleep moves; sleeps records each sleep."""

    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


def snapshot_tags(keys, consistency, policy=POLICY, instance=INSTANCE, run=None, extra=()):
    """The tags of a backup snapshot; keys is the script module whose
    TAG_POLICY, TAG_INSTANCE and TAG_RUN name them. A None value leaves the
    tag out."""
    out = []
    if policy is not None:
        out.append({"Key": keys.TAG_POLICY, "Value": policy})
    if instance is not None:
        out.append({"Key": keys.TAG_INSTANCE, "Value": instance})
    if run is not None:
        out.append({"Key": keys.TAG_RUN, "Value": run})
    out.append({"Key": "ssm-backup:consistency", "Value": consistency})
    out.extend(extra)
    return out


def snapshot(sid, tags, state="completed", hours_ago=0.0):
    """A snapshot as DescribeSnapshots returns it, started hours_ago before
    NOW, of volume "vol-" + the id after "snap-"."""
    return {
        "SnapshotId": sid,
        "State": state,
        "StartTime": NOW - datetime.timedelta(hours=hours_ago),
        "VolumeId": "vol-" + sid[5:],
        "OwnerId": "123456789012",
        "Tags": tags,
    }
