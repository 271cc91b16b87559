"""Elastic Beanstalk on the emulator answers as AWS does (local/emulator/fidelity/).

moto 5.2.5 has no application versions, UpdateEnvironment, TerminateEnvironment, option
settings, events or platform catalogue, and its environments are Ready at once: each test
fails there and shows the AWS-shaped answer here.
"""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.beanstalk

BRANCH = "Python 3.13 running on 64bit Amazon Linux 2023"
FAST = {"Delay": 1, "MaxAttempts": 60}


def unique(prefix: str) -> str:
    return f"eb-{prefix}-{uuid.uuid4().hex[:8]}"


def bundle() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("Procfile", "web: gunicorn app:app\n")
    return buf.getvalue()


@pytest.fixture(scope="module")
def eb(aws) -> Any:
    return aws("elasticbeanstalk")


@pytest.fixture(scope="module")
def app(aws, eb) -> dict[str, Any]:
    """An application with one version from a bundle in S3, an instance profile, a service role
    and the current Python platform."""
    s3, iam = aws("s3"), aws("iam")
    bucket, name = unique("bundles"), unique("app")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="v1.zip", Body=bundle())
    eb.create_application(ApplicationName=name, Description="fidelity")
    eb.create_application_version(
        ApplicationName=name,
        VersionLabel="v1",
        SourceBundle={"S3Bucket": bucket, "S3Key": "v1.zip"},
    )
    eb.create_application_version(
        ApplicationName=name,
        VersionLabel="v2",
        SourceBundle={"S3Bucket": bucket, "S3Key": "v1.zip"},
    )
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=role)
    iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    platform = eb.list_platform_versions(
        Filters=[
            {"Type": "PlatformBranchName", "Operator": "=", "Values": [BRANCH]},
            {"Type": "PlatformVersion", "Operator": "=", "Values": ["latest"]},
        ]
    )["PlatformSummaryList"]
    return {
        "name": name,
        "bucket": bucket,
        "role": role,
        "platform_arn": platform[0]["PlatformArn"],
    }


@pytest.fixture
def timed(emulator):
    """Environments take 1/100 of AWS's time: Launching 3 s, Updating 2.4 s, Terminating 3 s."""
    yield emulator.timing(1 / 100)
    emulator.timing(0)


def environment(eb, app, name: str, **kwargs: Any) -> dict[str, Any]:
    return eb.create_environment(
        ApplicationName=app["name"], EnvironmentName=name, PlatformArn=app["platform_arn"], **kwargs
    )


def described(eb, name: str, **kwargs: Any) -> dict[str, Any]:
    return eb.describe_environments(EnvironmentNames=[name], **kwargs)["Environments"]


def settings(eb, app, name: str) -> dict[tuple[str, str], dict[str, str]]:
    found = eb.describe_configuration_settings(ApplicationName=app["name"], EnvironmentName=name)
    return {
        (o["Namespace"], o["OptionName"]): o
        for o in found["ConfigurationSettings"][0]["OptionSettings"]
    }


def test_application_versions_come_from_a_bundle_in_s3(aws, eb, app):
    name, bucket = app["name"], app["bucket"]
    described_app = eb.describe_applications(ApplicationNames=[name])["Applications"]
    assert [a["Description"] for a in described_app] == ["fidelity"]
    assert described_app[0]["Versions"] == ["v2", "v1"]  # newest first
    versions = eb.describe_application_versions(ApplicationName=name, VersionLabels=["v1"])
    version = versions["ApplicationVersions"][0]
    assert version["SourceBundle"] == {"S3Bucket": bucket, "S3Key": "v1.zip"}
    assert version["Status"] == "Unprocessed"
    assert version["ApplicationVersionArn"].endswith(f":applicationversion/{name}/v1")

    with pytest.raises(ClientError) as missing:
        eb.create_application_version(
            ApplicationName=name,
            VersionLabel="v9",
            SourceBundle={"S3Bucket": bucket, "S3Key": "no.zip"},
        )
    assert missing.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "Unable to download from S3 location" in missing.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="Application Version v1 already exists"):
        eb.create_application_version(
            ApplicationName=name,
            VersionLabel="v1",
            SourceBundle={"S3Bucket": bucket, "S3Key": "v1.zip"},
        )

    aws("s3").put_object(Bucket=bucket, Key="gone.zip", Body=bundle())
    processed = eb.create_application_version(
        ApplicationName=name,
        VersionLabel="gone",
        SourceBundle={"S3Bucket": bucket, "S3Key": "gone.zip"},
        Process=True,
        Tags=[{"Key": "Project", "Value": "fid"}],
    )["ApplicationVersion"]
    assert processed["Status"] == "Processing"  # validated, then (scale 0: at once) Processed
    (processed,) = eb.describe_application_versions(ApplicationName=name, VersionLabels=["gone"])[
        "ApplicationVersions"
    ]
    assert processed["Status"] == "Processed"
    tags = eb.list_tags_for_resource(ResourceArn=processed["ApplicationVersionArn"])
    assert tags["ResourceTags"] == [{"Key": "Project", "Value": "fid"}]
    eb.delete_application_version(
        ApplicationName=name, VersionLabel="gone", DeleteSourceBundle=True
    )
    assert "gone.zip" not in [
        o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket)["Contents"]
    ]


def test_platform_versions_name_the_current_python_branch(eb, app):
    platform = eb.describe_platform_version(PlatformArn=app["platform_arn"])["PlatformDescription"]
    assert platform["PlatformBranchName"] == BRANCH
    assert platform["SolutionStackName"].startswith("64bit Amazon Linux 2023 v")
    assert platform["SolutionStackName"].endswith(" running Python 3.13")
    assert app["platform_arn"] == (
        f"arn:aws:elasticbeanstalk:eu-west-1::platform/{BRANCH}/{platform['PlatformVersion']}"
    )


def test_environment_launches_updates_and_terminates_over_time(eb, app, timed):
    name = unique("env")
    options = [
        {
            "Namespace": "aws:elasticbeanstalk:environment",
            "OptionName": "ServiceRole",
            "Value": app["role"],
        },
        {
            "Namespace": "aws:elasticbeanstalk:healthreporting:system",
            "OptionName": "SystemType",
            "Value": "enhanced",
        },
    ]
    created = environment(eb, app, name, VersionLabel="v1", OptionSettings=options)
    assert (created["Status"], created["Health"]) == ("Launching", "Grey")
    assert created["CNAME"].endswith(".eu-west-1.elasticbeanstalk.com")
    with pytest.raises(ClientError) as launching:
        eb.update_environment(EnvironmentName=name, VersionLabel="v2")
    assert launching.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "invalid state for this operation. Must be Ready" in str(launching.value)

    eb.get_waiter("environment_exists").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    ready = described(eb, name)[0]
    assert (ready["Status"], ready["Health"], ready["HealthStatus"]) == ("Ready", "Green", "Ok")

    updating = eb.update_environment(EnvironmentName=name, VersionLabel="v2")
    assert updating["Status"] == "Updating"
    assert updating["AbortableOperationInProgress"] is True
    with pytest.raises(ClientError, match="Must be Ready"):
        eb.update_tags_for_resource(
            ResourceArn=ready["EnvironmentArn"], TagsToAdd=[{"Key": "k", "Value": "v"}]
        )
    eb.get_waiter("environment_updated").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    assert described(eb, name)[0]["VersionLabel"] == "v2"

    # Tagging an environment updates it (AWS tags its resources).
    eb.update_tags_for_resource(
        ResourceArn=ready["EnvironmentArn"], TagsToAdd=[{"Key": "k", "Value": "v"}]
    )
    assert described(eb, name)[0]["Status"] == "Updating"
    eb.get_waiter("environment_updated").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    # AWS's default tags: listed, and nobody may remove or change them (a tag sync that purges
    # what it did not ask for must leave them alone).
    listed = eb.list_tags_for_resource(ResourceArn=ready["EnvironmentArn"])["ResourceTags"]
    assert {t["Key"]: t["Value"] for t in listed} == {
        "k": "v",
        "elasticbeanstalk:environment-name": name,
        "elasticbeanstalk:environment-id": ready["EnvironmentId"],
        "Name": name,
    }
    for change in (
        {"TagsToRemove": ["elasticbeanstalk:environment-id"]},
        {"TagsToRemove": ["Name"]},
        {"TagsToAdd": [{"Key": "Name", "Value": "other"}]},
    ):
        with pytest.raises(ClientError, match="default tags cannot be changed"):
            eb.update_tags_for_resource(ResourceArn=ready["EnvironmentArn"], **change)
    with pytest.raises(ClientError, match="default tags cannot be changed"):
        environment(eb, app, unique("env"), Tags=[{"Key": "Name", "Value": "mine"}])

    assert eb.terminate_environment(EnvironmentName=name)["Status"] == "Terminating"
    eb.get_waiter("environment_terminated").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    assert [e["Status"] for e in described(eb, name)] == ["Terminated"]  # listed for a while
    assert described(eb, name, IncludeDeleted=False) == []

    messages = [e["Message"] for e in eb.describe_events(EnvironmentName=name)["Events"]]
    assert messages[0] == "terminateEnvironment completed successfully."  # newest first
    assert f"Successfully launched environment: {name}" in messages
    assert "New application version was deployed to running EC2 instances." in messages
    with pytest.raises(ClientError, match="No Environment found"):
        eb.update_environment(EnvironmentName=name, VersionLabel="v1")


def test_configuration_settings_report_defaults_and_what_was_set(eb, app):
    web, worker = unique("web"), unique("worker")
    environment(
        eb,
        app,
        web,
        OptionSettings=[
            {
                "Namespace": "aws:elasticbeanstalk:command",
                "OptionName": "DeploymentPolicy",
                "Value": "RollingWithAdditionalBatch",
            },
            {
                "Namespace": "aws:autoscaling:launchconfiguration",
                "OptionName": "DisableIMDSv1",
                "Value": "true",
            },
            {
                "Namespace": "aws:elasticbeanstalk:application:environment",
                "OptionName": "STREAMAPP_LOG_LEVEL",
                "Value": "INFO",
            },
        ],
    )
    live = settings(eb, app, web)
    assert (
        live[("aws:elasticbeanstalk:command", "DeploymentPolicy")]["Value"]
        == "RollingWithAdditionalBatch"
    )
    assert (
        live[("aws:elasticbeanstalk:application:environment", "STREAMAPP_LOG_LEVEL")]["Value"]
        == "INFO"
    )
    imds = live[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")]
    assert imds == {
        "Namespace": "aws:autoscaling:launchconfiguration",
        "OptionName": "DisableIMDSv1",
        "Value": "true",
        "ResourceName": "AWSEBAutoScalingLaunchConfiguration",
    }
    # AWS's defaults for what was not set: a classic load balancer, basic health.
    assert live[("aws:elasticbeanstalk:environment", "LoadBalancerType")]["Value"] == "classic"
    assert live[("aws:elasticbeanstalk:healthreporting:system", "SystemType")]["Value"] == "basic"
    assert not any(ns == "aws:elasticbeanstalk:sqsd" for ns, _ in live)
    # The stack's own security group is the instances' when not disabled.
    (default_group,) = live[("aws:autoscaling:launchconfiguration", "SecurityGroups")][
        "Value"
    ].split(",")
    assert default_group.startswith("sg-")

    eb.update_environment(
        EnvironmentName=web,
        OptionsToRemove=[
            {"Namespace": "aws:elasticbeanstalk:command", "OptionName": "DeploymentPolicy"}
        ],
    )
    assert (
        settings(eb, app, web)[("aws:elasticbeanstalk:command", "DeploymentPolicy")]["Value"]
        == "AllAtOnce"
    )

    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
    created = environment(
        eb,
        app,
        worker,
        Tier={"Name": "Worker", "Type": "SQS/HTTP"},
        OptionSettings=[
            {
                "Namespace": "aws:elasticbeanstalk:sqsd",
                "OptionName": "WorkerQueueURL",
                "Value": queue,
            },
            {"Namespace": "aws:elasticbeanstalk:sqsd", "OptionName": "HttpPath", "Value": "/jobs"},
        ],
    )
    assert created["Tier"] == {"Name": "Worker", "Type": "SQS/HTTP", "Version": "1.0"}
    assert "CNAME" not in created
    live = settings(eb, app, worker)
    assert live[("aws:elasticbeanstalk:sqsd", "WorkerQueueURL")]["Value"] == queue
    assert live[("aws:elasticbeanstalk:sqsd", "VisibilityTimeout")]["Value"] == "300"
    assert not any(ns.startswith("aws:elbv2:") for ns, _ in live)
    for name in (web, worker):
        eb.terminate_environment(EnvironmentName=name)


def test_the_stacks_own_security_group_joins_the_given_ones_unless_disabled(eb, app):
    """AWS adds the environment's awseb-...-AWSEBSecurityGroup to the instances' groups and
    reports it in SecurityGroups (a module comparing the value as given never converges),
    unless DisableDefaultEC2SecurityGroup is true."""
    launch = "aws:autoscaling:launchconfiguration"
    given, disabled = unique("given"), unique("own")
    groups = "sg-0aaaaaaaaaaaaaaa1,sg-0aaaaaaaaaaaaaaa2"
    option = {"Namespace": launch, "OptionName": "SecurityGroups", "Value": groups}
    environment(eb, app, given, OptionSettings=[option])
    reported = settings(eb, app, given)[(launch, "SecurityGroups")]["Value"].split(",")
    assert reported[:2] == groups.split(",") and len(reported) == 3
    assert reported[2].startswith("sg-")
    only = {"Namespace": launch, "OptionName": "DisableDefaultEC2SecurityGroup", "Value": "true"}
    environment(eb, app, disabled, OptionSettings=[option, only])
    live = settings(eb, app, disabled)
    assert live[(launch, "SecurityGroups")]["Value"] == groups
    assert live[(launch, "DisableDefaultEC2SecurityGroup")]["Value"] == "true"
    for name in (given, disabled):
        eb.terminate_environment(EnvironmentName=name)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            [("aws:elasticbeanstalk:command", "DeployPolicy", "Rolling")],
            "Invalid option specification (Namespace: 'aws:elasticbeanstalk:command', "
            "OptionName: 'DeployPolicy'): Unknown configuration setting.",
        ),
        (
            [("aws:elasticbeanstalk:command", "DeploymentPolicy", "Rollin")],
            "Invalid option value: 'Rollin'",
        ),
        (
            [("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced")],
            "Enhanced health reporting requires a service role",
        ),
        (
            [
                ("aws:elasticbeanstalk:environment", "ServiceRole", "{role}"),
                ("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced"),
                ("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled", "true"),
            ],
            "Managed platform updates need 'PreferredStartTime'",
        ),
        (
            [("aws:elasticbeanstalk:managedactions", "PreferredStartTime", "Sunday 2am")],
            "Invalid option value: 'Sunday 2am'",
        ),
        (
            [("aws:autoscaling:launchconfiguration", "DisableDefaultEC2SecurityGroup", "true")],
            "DisableDefaultEC2SecurityGroup is true: the instances need security groups",
        ),
        (
            [("aws:autoscaling:launchconfiguration", "IamInstanceProfile", "no-such-profile")],
            "The instance profile no-such-profile associated with the environment does not exist.",
        ),
    ],
)
def test_option_settings_are_refused_as_aws_refuses_them(eb, app, options, message):
    name = unique("bad")
    settings_ = [
        {"Namespace": ns, "OptionName": option, "Value": value.format(role=app["role"])}
        for ns, option, value in options
    ]
    with pytest.raises(ClientError) as refused:
        environment(eb, app, name, OptionSettings=settings_)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert message in refused.value.response["Error"]["Message"]
    assert described(eb, name) == []


def test_a_version_the_platform_cannot_run_fails_to_deploy(aws, eb, app):
    """A Python bundle with neither a Procfile nor application.py: the instances' engine fails,
    the environment is Ready but Red with the errors in its events, and keeps running the
    version it ran; UpdateApplicationVersion changes a version's description."""
    name = unique("broken")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("README", "no app here")
    aws("s3").put_object(Bucket=app["bucket"], Key="broken.zip", Body=buf.getvalue())
    eb.create_application_version(
        ApplicationName=app["name"],
        VersionLabel=name,
        SourceBundle={"S3Bucket": app["bucket"], "S3Key": "broken.zip"},
    )
    updated = eb.update_application_version(
        ApplicationName=app["name"], VersionLabel=name, Description="no app"
    )
    assert updated["ApplicationVersion"]["Description"] == "no app"
    environment(eb, app, name, VersionLabel="v1")
    eb.update_environment(EnvironmentName=name, VersionLabel=name)
    env = described(eb, name)[0]
    assert (env["Status"], env["Health"], env["VersionLabel"]) == ("Ready", "Red", "v1")
    errors = [
        e["Message"] for e in eb.describe_events(EnvironmentName=name, Severity="ERROR")["Events"]
    ]
    assert errors[0] == "Failed to deploy application."
    assert "Instance deployment failed. For details, see 'eb-engine.log'." in errors
    eb.terminate_environment(EnvironmentName=name)


def test_a_shared_load_balancer_gets_the_environments_target_group_and_host_rule(aws, eb, app):
    """LoadBalancerIsShared: our ALB, not one of the environment's own. AWS adds a target group
    (the default process) and, on the listener `Rules: default` names, a rule forwarding the
    environment's CNAME to it; it counts the environments in a tag of the balancer and removes
    what it added at termination. It refuses a balancer that does not exist, a listener port
    the balancer lacks, and a change of the sharing after creation."""
    ec2, elbv2 = aws("ec2"), aws("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.97.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.97.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")
        for i, z in ((0, "a"), (1, "b"))
    ]
    balancer = elbv2.create_load_balancer(
        Name=unique("alb")[:32], Subnets=[s["Subnet"]["SubnetId"] for s in subnets]
    )["LoadBalancers"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=8443,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403"}}],
    )["Listeners"][0]

    def shared(arn: str, port: str = "8443") -> list[dict[str, str]]:
        return [
            {"Namespace": ns, "OptionName": option, "Value": value}
            for ns, option, value in (
                ("aws:elasticbeanstalk:environment", "LoadBalancerType", "application"),
                ("aws:elasticbeanstalk:environment", "LoadBalancerIsShared", "true"),
                ("aws:elbv2:loadbalancer", "SharedLoadBalancer", arn),
                (f"aws:elbv2:listener:{port}", "Rules", "default"),
                ("aws:ec2:vpc", "VPCId", vpc),
                ("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath", "/healthz"),
            )
        ]

    missing = balancer["LoadBalancerArn"].replace(balancer["LoadBalancerName"], "nope")
    for options, message in (
        (shared(missing), "no Application Load Balancer with this ARN"),
        (shared(balancer["LoadBalancerArn"], "443"), "has no listener on port 443"),
    ):
        with pytest.raises(ClientError, match=message):
            environment(eb, app, unique("shared"), OptionSettings=options)

    name = unique("shared")
    created = environment(
        eb,
        app,
        name,
        OptionSettings=shared(balancer["LoadBalancerArn"]),
        Tags=[{"Key": "Project", "Value": "fid"}],
    )
    assert created["EndpointURL"] == balancer["DNSName"]
    resources = eb.describe_environment_resources(EnvironmentName=name)["EnvironmentResources"]
    assert resources["LoadBalancers"] == [{"Name": balancer["LoadBalancerArn"]}]
    (rule,) = [
        r
        for r in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        if not r["IsDefault"]
    ]
    assert rule["Conditions"][0]["Field"] == "host-header"
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [created["CNAME"]]
    (group_arn,) = [a["TargetGroupArn"] for a in rule["Actions"]]
    (group,) = elbv2.describe_target_groups(TargetGroupArns=[group_arn])["TargetGroups"]
    assert group["TargetGroupName"].startswith("awseb-AWSEB-")
    assert (group["VpcId"], group["Port"], group["HealthCheckPath"]) == (vpc, 80, "/healthz")
    tags = {
        d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
        for d in elbv2.describe_tags(ResourceArns=[group_arn, balancer["LoadBalancerArn"]])[
            "TagDescriptions"
        ]
    }
    assert tags[group_arn]["elasticbeanstalk:environment-name"] == name
    assert tags[group_arn]["Project"] == "fid"
    assert tags[balancer["LoadBalancerArn"]]["elasticbeanstalk:shared-elb-environment-count"] == "1"

    eb.get_waiter("environment_exists").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    with pytest.raises(ClientError, match="only when the environment is created"):
        eb.update_environment(
            EnvironmentName=name,
            OptionSettings=[
                {
                    "Namespace": "aws:elasticbeanstalk:environment",
                    "OptionName": "LoadBalancerIsShared",
                    "Value": "false",
                }
            ],
        )
    eb.terminate_environment(EnvironmentName=name)
    eb.get_waiter("environment_terminated").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [r["IsDefault"] for r in rules] == [True]
    assert group_arn not in [
        g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]
    ]
    left = elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"][0]
    assert "elasticbeanstalk:shared-elb-environment-count" not in [t["Key"] for t in left["Tags"]]


def test_a_newer_platform_version_is_a_managed_update_to_apply(aws, eb, app, emulator):
    import json
    import urllib.request

    # Another branch than the production one: the published version stays for the session.
    branch = "Python 3.11 running on 64bit Amazon Linux 2023"
    (current,) = eb.list_platform_versions(
        Filters=[{"Type": "PlatformBranchName", "Operator": "=", "Values": [branch]}]
    )["PlatformSummaryList"]
    name = unique("env")
    eb.create_environment(
        ApplicationName=app["name"],
        EnvironmentName=name,
        PlatformArn=current["PlatformArn"],
        VersionLabel="v1",
    )
    eb.get_waiter("environment_exists").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    assert eb.describe_environment_managed_actions(EnvironmentName=name)["ManagedActions"] == []

    major, minor, patch = current["PlatformVersion"].split(".")
    newer = f"64bit Amazon Linux 2023 v{major}.{minor}.{int(patch) + 1} running Python 3.11"
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/fidelity/elasticbeanstalk/platforms",
        data=json.dumps({"SolutionStackName": newer}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    (action,) = eb.describe_environment_managed_actions(EnvironmentName=name)["ManagedActions"]
    assert (action["ActionType"], action["Status"]) == ("PlatformUpdate", "Scheduled")
    assert f"to {major}.{minor}.{int(patch) + 1}" in action["ActionDescription"]

    with pytest.raises(ClientError) as unknown:
        eb.apply_environment_managed_action(EnvironmentName=name, ActionId=str(uuid.uuid4()))
    assert unknown.value.response["Error"]["Code"] == "ManagedActionInvalidStateException"
    applied = eb.apply_environment_managed_action(EnvironmentName=name, ActionId=action["ActionId"])
    assert (applied["Status"], applied["ActionType"]) == ("Running", "PlatformUpdate")
    # Started asynchronously: still Ready on the old version right after, the action Running
    # (not to apply again); then the update on the new version.
    right_after = described(eb, name)[0]
    assert (right_after["Status"], right_after["PlatformArn"]) == ("Ready", current["PlatformArn"])
    (running,) = eb.describe_environment_managed_actions(EnvironmentName=name)["ManagedActions"]
    assert running["Status"] == "Running"
    with pytest.raises(ClientError) as again:
        eb.apply_environment_managed_action(EnvironmentName=name, ActionId=action["ActionId"])
    assert again.value.response["Error"]["Code"] == "ManagedActionInvalidStateException"
    deadline = time.monotonic() + 30
    while described(eb, name)[0]["SolutionStackName"] != newer and time.monotonic() < deadline:
        time.sleep(0.5)
    assert described(eb, name)[0]["SolutionStackName"] == newer
    eb.get_waiter("environment_updated").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    assert described(eb, name)[0]["Status"] == "Ready"
    # Applied: nothing pending any more.
    assert eb.describe_environment_managed_actions(EnvironmentName=name)["ManagedActions"] == []


def test_a_processed_version_is_processing_first_and_only_processed_ones_deploy(
    aws, eb, app, timed
):
    """CreateApplicationVersion with Process: Processing while AWS validates the bundle (0.2 s
    at this scale), then Processed, or Failed for a bundle it cannot use; AWS deploys neither
    a version still Processing nor a Failed one."""
    s3 = aws("s3")
    good, bad = unique("good"), unique("bad")
    s3.put_object(Bucket=app["bucket"], Key="bad.zip", Body=b"not a zip")
    created = {
        label: eb.create_application_version(
            ApplicationName=app["name"],
            VersionLabel=label,
            SourceBundle={"S3Bucket": app["bucket"], "S3Key": key},
            Process=True,
        )["ApplicationVersion"]
        for label, key in ((good, "v1.zip"), (bad, "bad.zip"))
    }
    assert {v["Status"] for v in created.values()} == {"Processing"}
    name = unique("proc")
    with pytest.raises(ClientError, match=f"Application version {good} is Processing"):
        environment(eb, app, name, VersionLabel=good)
    time.sleep(0.5)
    status = {
        v["VersionLabel"]: v["Status"]
        for v in eb.describe_application_versions(
            ApplicationName=app["name"], VersionLabels=[good, bad]
        )["ApplicationVersions"]
    }
    assert status == {good: "Processed", bad: "Failed"}
    environment(eb, app, name, VersionLabel=good)
    eb.get_waiter("environment_exists").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    with pytest.raises(ClientError, match=f"Application version {bad} is Failed"):
        eb.update_environment(EnvironmentName=name, VersionLabel=bad)
    eb.terminate_environment(EnvironmentName=name)


def test_enhanced_health_is_yellow_during_a_rolling_deployment_and_gives_its_causes(
    eb, app, emulator, timed
):
    """A rolling deployment takes a batch out of service: Yellow (Warning) while Updating, with
    DescribeEnvironmentHealth's causes, Green (Ok) after it. What the instances then report
    (the emulator's stand-in for their health agents) is the environment's health."""
    name = unique("health")
    options = [
        {"Namespace": ns, "OptionName": option, "Value": value.format(role=app["role"])}
        for ns, option, value in (
            ("aws:elasticbeanstalk:environment", "ServiceRole", "{role}"),
            ("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced"),
            ("aws:elasticbeanstalk:command", "DeploymentPolicy", "RollingWithAdditionalBatch"),
        )
    ]
    environment(eb, app, name, VersionLabel="v1", OptionSettings=options)
    eb.get_waiter("environment_exists").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    eb.update_environment(EnvironmentName=name, VersionLabel="v2")
    during = eb.describe_environment_health(EnvironmentName=name, AttributeNames=["All"])
    assert (during["Status"], during["Color"], during["HealthStatus"]) == (
        "Updating",
        "Yellow",
        "Warning",
    )
    assert any("out of service" in cause for cause in during["Causes"])
    eb.get_waiter("environment_updated").wait(EnvironmentNames=[name], WaiterConfig=FAST)
    after = eb.describe_environment_health(EnvironmentName=name, AttributeNames=["Causes"])
    assert (described(eb, name)[0]["Health"], after["Causes"]) == ("Green", [])

    cause = "5.0 % of the requests are failing with HTTP 5xx."
    emulator.beanstalk_health(name, "Yellow", "Warning", [cause])
    env = described(eb, name)[0]
    assert (env["Health"], env["HealthStatus"]) == ("Yellow", "Warning")
    assert eb.describe_environment_health(EnvironmentName=name, AttributeNames=["Causes"])[
        "Causes"
    ] == [cause]
    emulator.beanstalk_health(name)
    assert described(eb, name)[0]["Health"] == "Green"
    eb.terminate_environment(EnvironmentName=name)
