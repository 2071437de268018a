"""Preflight of a Windows VSS backup, run by aws:executeScript before the
instance is asked to freeze anything.

It refuses, with a message that says what to fix:

1. an instance that is not a Windows managed instance;
2. an SSM Agent older than MinAgentVersion (AWSEC2-CreateVssSnapshot needs
   3.0.502.0 or later); versions are compared numerically, field by field;
3. an instance type too small for VSS (UnsupportedTypes);
4. an instance whose software inventory is collected and does not list
   the AwsVssComponents package, unless InstallPackages is "true" (the
   runbook then installs it with AWS-ConfigureAWSPackage). Without
   inventory the package cannot be seen from here; the result says
   "unknown" and AWSEC2-CreateVssSnapshot fails by itself when it is
   missing.

Input (every value a string): InstanceId, MinAgentVersion, UnsupportedTypes
(comma-separated), InstallPackages ("true" or "false").
Output: agentVersion, instanceType, platform, vssComponents
("installed", "missing: will be installed", "unknown: no inventory").
"""

import boto3

PACKAGE = "AwsVssComponents"


class PreflightError(Exception):
    """A prerequisite is not met; the message says which and how to fix it."""


def parse_version(text):
    """Return the version "3.0.502.0" as a tuple of ints (3, 0, 502, 0).
    A field that is not a number is an error: guessing could let an
    unsupported agent through.
    """
    parts = str(text).strip().split(".")
    if not parts or any(not p.isdigit() for p in parts):
        raise PreflightError("cannot read the SSM Agent version %r" % (text,))
    return tuple(int(p) for p in parts)


def version_at_least(have, want):
    """True when version string have is want or later."""
    a, b = parse_version(have), parse_version(want)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) >= b + (0,) * (width - len(b))


def check(info, instance_type, inventory, settings):
    """Apply the rules to what the APIs returned; return the result."""
    instance_id = settings["InstanceId"]
    if info is None:
        raise PreflightError(
            "%s is not a managed instance: the SSM Agent has never registered; "
            "attach the ssm-backup instance profile and check that the agent runs" % instance_id)
    platform = info.get("PlatformType", "")
    if platform != "Windows":
        raise PreflightError(
            "%s runs %s, not Windows: VSS snapshots need a Windows instance; "
            "check the policy's target tags" % (instance_id, platform or "an unknown platform"))
    agent = info.get("AgentVersion", "")
    minimum = settings["MinAgentVersion"]
    if not version_at_least(agent, minimum):
        raise PreflightError(
            "%s runs SSM Agent %s; AWSEC2-CreateVssSnapshot needs %s or later: "
            "update it (AWS-UpdateSSMAgent) before the next window" % (instance_id, agent, minimum))
    unsupported = [t.strip() for t in settings.get("UnsupportedTypes", "").split(",") if t.strip()]
    if instance_type in unsupported:
        raise PreflightError(
            "%s is a %s; VSS snapshots are not supported on the smallest instance sizes (%s): "
            "resize the instance, or back it up with consistency: stopped" % (
                instance_id, instance_type, ", ".join(unsupported)))
    install = settings.get("InstallPackages", "false") == "true"
    if inventory is None:
        state = "unknown: no inventory"
    elif PACKAGE in inventory:
        state = "installed"
    elif install:
        state = "missing: will be installed"
    else:
        raise PreflightError(
            "%s does not have the %s package (software inventory lists none): install it with "
            "AWS-ConfigureAWSPackage, or set windows.installPackages: true" % (instance_id, PACKAGE))
    return {"agentVersion": agent, "instanceType": instance_type, "platform": platform, "vssComponents": state}


def _inventory(ssm, instance_id):
    """Names of the instance's inventoried applications named like the
    package, or None when no application inventory was ever collected."""
    resp = ssm.list_inventory_entries(
        InstanceId=instance_id, TypeName="AWS:Application",
        Filters=[{"Key": "Name", "Values": [PACKAGE], "Type": "Equal"}])
    if not resp.get("CaptureTime") and not resp.get("Entries"):
        return None
    return {e.get("Name") for e in resp.get("Entries") or []}


def handler(events, context):
    """aws:executeScript entry point."""
    for key in ("InstanceId", "MinAgentVersion"):
        if not events.get(key):
            raise PreflightError("input %s is required" % key)
    instance_id = events["InstanceId"]
    ssm = boto3.client("ssm")
    ec2 = boto3.client("ec2")
    infos = ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]).get("InstanceInformationList") or []
    reservations = ec2.describe_instances(InstanceIds=[instance_id]).get("Reservations") or []
    instance_type = ""
    for r in reservations:
        for i in r.get("Instances") or []:
            instance_type = i.get("InstanceType", "")
    return check(infos[0] if infos else None, instance_type, _inventory(ssm, instance_id), events)
