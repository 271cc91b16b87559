"""streamstack.aws's Elastic Beanstalk modules against the emulator, one playbook run per stage
(playbooks/elasticbeanstalk_modules.yml): an application with a version lifecycle,
versions from bundles in S3, a web environment (plan, create, again, deploy a version with
options compared as AWS reports them) and a worker; the final state again (nothing changes);
a deployment while the environment is Updating (the module waits for Ready, as AWS changes only
a Ready environment); versions processed before the module returns (a Failed one fails it);
the health gate's rule (Yellow during a rolling deployment passes, Yellow after it fails with
its causes); then terminate and delete. The outcome is asserted with boto3."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

pytestmark = pytest.mark.beanstalk

PLAYBOOK = PLAYBOOKS / "elasticbeanstalk_modules.yml"


def bundle(text: str, name: str = "Procfile") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(name, text)
    return buf.getvalue()


def test_lifecycle(playbook, aws, emulator):
    s3, iam, ec2, eb = aws("s3"), aws("iam"), aws("ec2"), aws("elasticbeanstalk")
    name = f"ebm-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for label in ("v1", "v2"):
        s3.put_object(Bucket=name, Key=f"{label}.zip", Body=bundle(f"web: {label}\n"))
    s3.put_object(Bucket=name, Key="v3.zip", Body=bundle("", name="README"))
    iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    vpc = ec2.create_vpc(CidrBlock="10.95.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.95.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(2)
    ]
    group = ec2.create_security_group(GroupName=name, Description="eb", VpcId=vpc)["GroupId"]

    def run(stage):
        result = playbook(
            PLAYBOOK,
            extra_vars={
                "eb_stage": stage,
                "eb_app": name,
                "eb_bucket": name,
                "eb_role": name,
                "eb_subnets": subnets,
                "eb_group": group,
            },
            diff=True,
        )
        assert result.ok, result.messages()
        return {task: res for task, _host, res in result.task_results()}

    def environment(suffix):
        found = eb.describe_environments(
            EnvironmentNames=[f"{name}-{suffix}"], IncludeDeleted=False
        )
        return found["Environments"]

    def settings(suffix):
        found = eb.describe_configuration_settings(
            ApplicationName=name, EnvironmentName=f"{name}-{suffix}"
        )["ConfigurationSettings"][0]["OptionSettings"]
        return {(o["Namespace"], o["OptionName"]): o["Value"] for o in found}

    step = run("present")
    changed = {task for task, res in step.items() if res.get("changed")}
    assert changed == {
        "Plan the application",
        "Application",
        "Plan version v1",
        "Version v1",
        "Version v2",
        "Plan the web environment",
        "Web environment",
        "Plan the deployment of v2",
        "Deploy v2",
        "Worker environment",
        "Version v3, a bundle without the app",
    }
    # The health gate: v3 failed to deploy (no Procfile, no application.py), the module says
    # why, and the environment still runs v2.
    broken = step["Deploy v3"]
    assert broken["failed"] and "Ready but Red" in broken["msg"]
    assert "ERROR: Failed to deploy application." in broken["events"]
    assert (
        "a version label cannot change its bundle" in step["Version v1 from another bundle"]["msg"]
    )
    plan = step["Plan the deployment of v2"]["diff"]
    assert (plan["before"]["version_label"], plan["after"]["version_label"]) == ("v1", "v2")
    assert plan["after"]["tags"] == {"Project": "eb", "Owner": "media"}
    # Subnets in another order and DisableIMDSv1 as "true" or true are the same settings.
    assert plan["before"]["options"] == plan["after"]["options"]

    web = environment("web")[0]
    assert (web["Status"], web["Health"], web["VersionLabel"]) == ("Ready", "Red", "v2")
    assert web["PlatformArn"].endswith("/Python 3.13 running on 64bit Amazon Linux 2023/4.6.0")
    live = settings("web")
    assert (
        live[("aws:elasticbeanstalk:command", "DeploymentPolicy")] == "RollingWithAdditionalBatch"
    )
    assert live[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")] == "true"
    assert live[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    tags = eb.list_tags_for_resource(ResourceArn=web["EnvironmentArn"])["ResourceTags"]
    # Ours, beside the default tags AWS puts on every environment (which purge_tags leaves).
    assert {t["Key"]: t["Value"] for t in tags} == {
        "Project": "eb",
        "Owner": "media",
        "elasticbeanstalk:environment-name": f"{name}-web",
        "elasticbeanstalk:environment-id": web["EnvironmentId"],
        "Name": f"{name}-web",
    }
    worker = environment("worker")[0]
    assert worker["Tier"]["Name"] == "Worker"
    # The resources Elastic Beanstalk made for it, as DescribeEnvironmentResources names them.
    (asg,) = eb.describe_environment_resources(EnvironmentName=f"{name}-worker")[
        "EnvironmentResources"
    ]["AutoScalingGroups"]
    made = step["Worker environment"]["environment"]["resources"]
    assert made["auto_scaling_groups"] == [asg["Name"]], made
    assert settings("worker")[("aws:elasticbeanstalk:sqsd", "HttpPath")] == "/jobs"
    groups = settings("worker")[("aws:autoscaling:launchconfiguration", "SecurityGroups")]
    assert groups.split(",")[0] == group and len(groups.split(",")) == 2  # and the stack's own
    app = eb.describe_applications(ApplicationNames=[name])["Applications"][0]
    assert (
        app["ResourceLifecycleConfig"]["VersionLifecycleConfig"]["MaxCountRule"]["MaxCount"] == 10
    )

    step = run("again")
    assert {task for task, res in step.items() if res.get("changed")} == set()

    # Tagging makes the environment Updating for a while (2.4 s at this scale): the deployment
    # waits for Ready instead of failing on AWS's "Must be Ready".
    emulator.timing(1 / 100)
    try:
        eb.update_tags_for_resource(
            ResourceArn=web["EnvironmentArn"], TagsToAdd=[{"Key": "Busy", "Value": "yes"}]
        )
        assert environment("web")[0]["Status"] == "Updating"
        step = run("busy")
    finally:
        emulator.timing(0)
    deploy = step["Deploy v1 while the environment is Updating"]
    assert deploy["changed"]
    assert (deploy["environment"]["status"], deploy["environment"]["version_label"]) == (
        "Ready",
        "v1",
    )

    # Versions are Processing for a while (0.2 s at this scale): the module returns once AWS has
    # processed one (it can be deployed then) and fails on one it could not. The health gate:
    # Yellow while a rolling deployment's batches are out of service passes; Yellow with its
    # causes after the deployment fails once health_grace is over, with the causes.
    s3.put_object(Bucket=name, Key="bad.zip", Body=b"not a zip")
    emulator.timing(1 / 100)
    try:
        step = run("gate")
        assert (
            step["Version v4, processed before it returns"]["application_version"]["status"]
            == "Processed"
        )
        failed = step["Version v5, a bundle AWS cannot process"]
        assert failed["failed"] and "its status is Failed" in failed["msg"]
        rolled = step["Deploy v4, Yellow while its batches roll"]
        assert rolled["changed"] and rolled["environment"]["version_label"] == "v4"
        yellow = [e for e in eb.describe_events(EnvironmentName=f"{name}-web")["Events"]]
        assert any("from Ok to Warning" in e["Message"] for e in yellow)
        cause = "12.0 % of the requests are failing with HTTP 5xx."
        emulator.beanstalk_health(f"{name}-web", "Yellow", "Warning", [cause])
        step = run("yellow")
    finally:
        emulator.timing(0)
        emulator.beanstalk_health(f"{name}-web")
    gated = step["Deploy v2 onto instances failing requests"]
    assert gated["failed"] and "Ready but Yellow (Warning)" in gated["msg"]
    assert cause in gated["msg"] and gated["causes"] == [cause]

    # The web environment is already Terminating (another run, the console; 10 s at this
    # scale): absent waits for it to end, asking nothing (AWS changes no terminating one).
    emulator.timing(1 / 30)
    try:
        eb.terminate_environment(EnvironmentName=f"{name}-web")
        assert environment("web")[0]["Status"] == "Terminating"
        step = run("absent")
    finally:
        emulator.timing(0)
    changed = {task for task, res in step.items() if res.get("changed")}
    assert changed == {
        "Terminate the worker environment",
        "Delete version v2 and its bundle",
        "Delete the application",
    }
    assert environment("web") == environment("worker") == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == [
        "bad.zip",
        "v1.zip",
        "v3.zip",
    ]
    assert eb.describe_applications(ApplicationNames=[name])["Applications"] == []
