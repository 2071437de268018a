"""Snapshot only the root volume of a stopped instance, for a
"consistency: stopped" policy with "volumes: root", run by aws:executeScript.

EC2's CreateSnapshots has no root-only switch: it takes every volume of the
instance except ExcludeBootVolume (the root) and ExcludeDataVolumeIds. This
step reads the instance's block devices, lists every EBS volume that is not
on the root device, and makes exactly one CreateSnapshots call that excludes
them, tagged at creation like every ssm-backup snapshot.

Input (strings): InstanceId, Description, and Tags, a list of
{"Key": ..., "Value": ...}. Output: snapshotIds, rootVolumeId, excluded.

The second entry point, data_volumes, makes no snapshot: it returns the
same root volume id and the data volume ids joined by commas ("none" when
the root volume is the only one: an Automation output is never empty), for
a command on the instance that takes the root-only snapshot itself
(DISKSHADOW).
"""

import boto3


class SnapshotError(Exception):
    """The instance cannot be snapshotted as asked; the message says why."""


def plan(instance):
    """Return (root volume id, data volume ids) of a DescribeInstances
    instance."""
    root_device = instance.get("RootDeviceName")
    if not root_device:
        raise SnapshotError("the instance reports no root device: it is not EBS-backed")
    root, data = None, []
    for bdm in instance.get("BlockDeviceMappings") or []:
        vol = (bdm.get("Ebs") or {}).get("VolumeId")
        if not vol:
            continue
        if bdm.get("DeviceName") == root_device:
            root = vol
        else:
            data.append(vol)
    if root is None:
        raise SnapshotError("no EBS volume is attached at the root device %s" % root_device)
    if len(data) > 40:
        raise SnapshotError("%d data volumes: CreateSnapshots excludes at most 40" % len(data))
    return root, sorted(data)


def describe(ec2, events):
    """Return (instance id, root volume id, data volume ids) of the
    instance named by the input."""
    instance_id = events.get("InstanceId")
    if not instance_id:
        raise SnapshotError("input InstanceId is required")
    reservations = ec2.describe_instances(InstanceIds=[instance_id]).get("Reservations") or []
    instances = [i for r in reservations for i in r.get("Instances") or []]
    if len(instances) != 1:
        raise SnapshotError("instance %s not found" % instance_id)
    root, data = plan(instances[0])
    return instance_id, root, data


def data_volumes(events, context):
    """aws:executeScript entry point: the root volume and the data volumes
    a root-only CreateSnapshots must exclude, without snapshotting."""
    _, root, data = describe(boto3.client("ec2"), events)
    return {"rootVolumeId": root, "dataVolumeIds": ",".join(data) or "none"}


def handler(events, context):
    """aws:executeScript entry point."""
    ec2 = boto3.client("ec2")
    instance_id, root, data = describe(ec2, events)
    spec = {"InstanceId": instance_id, "ExcludeBootVolume": False}
    if data:
        spec["ExcludeDataVolumeIds"] = data
    resp = ec2.create_snapshots(
        InstanceSpecification=spec,
        Description=events.get("Description") or "ssm-backup",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": events.get("Tags") or []}],
    )
    ids = [s["SnapshotId"] for s in resp.get("Snapshots") or []]
    return {"snapshotIds": ids, "rootVolumeId": root, "excluded": data}
