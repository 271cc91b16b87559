"""The emulator's fidelity layer (local/emulator/fidelity/): moto answers as AWS does.

One boto3 test per fix asserts the AWS-shaped answer; one playbook of upstream modules, run
twice, proves that the second run changes nothing (as on AWS).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.prepared_account import self_signed
from tests.conftest import ROOT

PLAYBOOK = ROOT / "tests" / "local" / "fidelity_modules.yml"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # AWS managed headers policy


def unique(prefix: str) -> str:
    return f"fid-{prefix}-{uuid.uuid4().hex[:8]}"


def tags_of(items: list[dict[str, Any]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in items}


@pytest.fixture(scope="module")
def network(aws) -> dict[str, Any]:
    """A VPC with one subnet in each of two Availability Zones."""
    return _vpc(aws("ec2"), 92)


def _vpc(ec2, octet: int) -> dict[str, Any]:
    """A VPC 10.<octet>.0.0/16 with a subnet in each of two Availability Zones and a group."""
    vpc_id = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{octet}.{i}.0/24", AvailabilityZone=az)[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate(["eu-west-1a", "eu-west-1b"])
    ]
    group_id = ec2.create_security_group(
        GroupName=unique("sg"), Description="fidelity", VpcId=vpc_id
    )["GroupId"]
    return {"vpc_id": vpc_id, "subnets": subnets, "group_id": group_id}


@pytest.fixture(scope="module")
def instance_profile(aws) -> dict[str, str]:
    iam = aws("iam")
    name = unique("profile")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return {"Name": name, "Arn": profile["Arn"]}


@pytest.fixture(scope="module")
def launch_template(aws, network, instance_profile) -> dict[str, Any]:
    """A template with IMDSv2, an instance profile, SGs on its NIC and template-level tags."""
    ec2 = aws("ec2")
    name = unique("lt")
    template = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": "ami-03cf127a",
            "InstanceType": "t3.small",
            "IamInstanceProfile": {"Arn": instance_profile["Arn"]},
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
            "NetworkInterfaces": [
                {
                    "DeviceIndex": 0,
                    "AssociatePublicIpAddress": False,
                    "Groups": [network["group_id"]],
                }
            ],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "web"}]}
            ],
        },
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "Project", "Value": "fid"}]}
        ],
    )["LaunchTemplate"]
    return {"id": template["LaunchTemplateId"], "name": name}


# --- DynamoDB ---------------------------------------------------------------------------------


def test_dynamodb_describe_table_has_stable_table_id_and_table_class(aws):
    ddb = aws("dynamodb")
    name = unique("table")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        TableClass="STANDARD_INFREQUENT_ACCESS",
    )
    first = ddb.describe_table(TableName=name)["Table"]
    second = ddb.describe_table(TableName=name)["Table"]
    assert uuid.UUID(first["TableId"]) and first["TableId"] == second["TableId"]
    assert first["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"

    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["ContinuousBackupsStatus"] == "ENABLED"
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


# --- EC2 --------------------------------------------------------------------------------------


def test_nat_gateways_filter_by_tag_and_tags_say_natgateway(aws, network):
    ec2 = aws("ec2")
    names = [unique("nat"), unique("nat")]
    ids = [
        ec2.create_nat_gateway(
            SubnetId=network["subnets"][0],
            ConnectivityType="private",
            TagSpecifications=[
                {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )["NatGateway"]["NatGatewayId"]
        for name in names
    ]
    found = ec2.describe_nat_gateways(Filters=[{"Name": "tag:Name", "Values": [names[1]]}])
    assert [gw["NatGatewayId"] for gw in found["NatGateways"]] == [ids[1]]
    by_key = ec2.describe_nat_gateways(
        Filters=[
            {"Name": "tag-key", "Values": ["Name"]},
            {"Name": "subnet-id", "Values": [network["subnets"][0]]},
        ]
    )
    assert set(ids) <= {gw["NatGatewayId"] for gw in by_key["NatGateways"]}

    # amazon.aws reads NAT gateway tags with DescribeTags resource-type=natgateway.
    tags = ec2.describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": [ids[0]]},
            {"Name": "resource-type", "Values": ["natgateway"]},
        ]
    )["Tags"]
    assert tags == [
        {"Key": "Name", "ResourceId": ids[0], "ResourceType": "natgateway", "Value": names[0]}
    ]


CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"


def test_security_group_rules_quota_counts_cloudfronts_prefix_list_as_55(aws, network):
    """CloudFront's origin-facing list weighs 55 of a group's 60 rules: 5 more CIDRs fit, a
    sixth is refused (RulesPerSecurityGroupLimitExceeded), as AWS documents."""
    ec2 = aws("ec2")
    (cloudfront,) = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_ORIGIN_FACING]}]
    )["PrefixLists"]
    assert cloudfront["OwnerId"] == "AWS"
    group_id = ec2.create_security_group(
        GroupName=unique("sg"), Description="fidelity", VpcId=network["vpc_id"]
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": cloudfront["PrefixListId"]}],
            }
        ],
    )

    def cidrs(first: int, count: int) -> list[dict[str, Any]]:
        return [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": f"192.0.2.{n}/32"} for n in range(first, first + count)],
            }
        ]

    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=cidrs(1, 5))
    with pytest.raises(ClientError) as refused:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=cidrs(10, 1))
    assert refused.value.response["Error"]["Code"] == "RulesPerSecurityGroupLimitExceeded"


def test_security_group_prefix_list_rules_keep_their_description(aws, network):
    ec2 = aws("ec2")
    (cloudfront,) = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_ORIGIN_FACING]}]
    )["PrefixLists"]
    group_id = ec2.create_security_group(
        GroupName=unique("sg"), Description="fidelity", VpcId=network["vpc_id"]
    )["GroupId"]

    def permission(description: str) -> list[dict[str, Any]]:
        entry = {"PrefixListId": cloudfront["PrefixListId"], "Description": description}
        return [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [entry]}]

    def described() -> list[dict[str, str]]:
        (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        (rule,) = group["IpPermissions"]
        return rule["PrefixListIds"]

    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permission("CloudFront"))
    assert described() == [
        {"PrefixListId": cloudfront["PrefixListId"], "Description": "CloudFront"}
    ]
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=group_id, IpPermissions=permission("CloudFront only")
    )
    assert described()[0]["Description"] == "CloudFront only"


def test_flow_logs_to_s3_take_a_key_prefix(aws, network):
    ec2, bucket = aws("ec2"), unique("flow-logs")
    aws("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    created = ec2.create_flow_logs(
        ResourceIds=[network["vpc_id"]],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{bucket}/vpc-flow-logs",
    )
    assert created.get("Unsuccessful", []) == []
    (flow_log,) = ec2.describe_flow_logs(FlowLogIds=created["FlowLogIds"])["FlowLogs"]
    assert flow_log["LogDestination"] == f"arn:aws:s3:::{bucket}/vpc-flow-logs"
    ec2.delete_flow_logs(FlowLogIds=created["FlowLogIds"])


def test_launch_template_version_data_is_what_was_put(aws, launch_template):
    ec2 = aws("ec2")
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=launch_template["id"])[
        "LaunchTemplateVersions"
    ]
    data = version["LaunchTemplateData"]
    # Template-level tags stay on the template, not in the version's data.
    assert [spec["ResourceType"] for spec in data["TagSpecifications"]] == ["instance"]
    assert data["MetadataOptions"] == {
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }
    ec2.create_tags(Resources=[launch_template["id"]], Tags=[{"Key": "Owner", "Value": "ops"}])
    (template,) = ec2.describe_launch_templates(LaunchTemplateIds=[launch_template["id"]])[
        "LaunchTemplates"
    ]
    assert tags_of(template["Tags"]) == {"Project": "fid", "Owner": "ops"}


def test_run_instances_from_template_applies_imds_profile_and_groups(
    aws, network, launch_template, instance_profile
):
    ec2 = aws("ec2")
    (instance,) = ec2.run_instances(
        MinCount=1,
        MaxCount=1,
        LaunchTemplate={"LaunchTemplateId": launch_template["id"]},
        SubnetId=network["subnets"][1],
    )["Instances"]
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])
    instance = described["Reservations"][0]["Instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert instance["IamInstanceProfile"]["Arn"] == instance_profile["Arn"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [network["group_id"]]


# --- Auto Scaling -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asg(aws, network, launch_template) -> str:
    name = unique("asg")
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": launch_template["id"], "Version": "$Latest"},
        MinSize=4,
        MaxSize=4,
        DesiredCapacity=4,
        VPCZoneIdentifier=",".join(network["subnets"]),
        Tags=[
            {"Key": key, "Value": key.lower(), "PropagateAtLaunch": True}
            for key in ("Role", "Project", "Environment", "ManagedBy")
        ],
    )
    return name


def describe_asg(aws, name: str) -> dict[str, Any]:
    return aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]


def test_asg_tags_are_sorted_by_key(aws, asg):
    aws("autoscaling").create_or_update_tags(
        Tags=[
            {
                "ResourceId": asg,
                "ResourceType": "auto-scaling-group",
                "Key": "Backup",
                "Value": "no",
                "PropagateAtLaunch": False,
            }
        ]
    )
    keys = [tag["Key"] for tag in describe_asg(aws, asg)["Tags"]]
    assert keys == ["Backup", "Environment", "ManagedBy", "Project", "Role"]


def test_asg_metrics_collection_enable_adds_and_disable_removes(aws, asg):
    autoscaling = aws("autoscaling")

    def enabled() -> list[str]:
        return sorted(m["Metric"] for m in describe_asg(aws, asg).get("EnabledMetrics", []))

    autoscaling.enable_metrics_collection(
        AutoScalingGroupName=asg, Granularity="1Minute", Metrics=["GroupMinSize"]
    )
    autoscaling.enable_metrics_collection(
        AutoScalingGroupName=asg, Granularity="1Minute", Metrics=["GroupMaxSize"]
    )
    assert enabled() == ["GroupMaxSize", "GroupMinSize"]
    autoscaling.disable_metrics_collection(AutoScalingGroupName=asg, Metrics=["GroupMinSize"])
    assert enabled() == ["GroupMaxSize"]
    autoscaling.enable_metrics_collection(AutoScalingGroupName=asg, Granularity="1Minute")
    assert "GroupInServiceInstances" in enabled()
    autoscaling.disable_metrics_collection(AutoScalingGroupName=asg)
    assert enabled() == []


def test_asg_instances_follow_template_and_spread_across_subnets(
    aws, asg, network, instance_profile
):
    ids = [i["InstanceId"] for i in describe_asg(aws, asg)["Instances"]]
    reservations = aws("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 4
    assert sorted(i["SubnetId"] for i in instances) == sorted(network["subnets"] * 2)
    for instance in instances:
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["IamInstanceProfile"]["Arn"] == instance_profile["Arn"]
        assert tags_of(instance["Tags"])["Role"] == "role"


# --- Auto Scaling instance refreshes ----------------------------------------------------------


@pytest.fixture
def refreshed_group(aws, network, instance_profile) -> dict[str, Any]:
    """A group of 4 instances on image A whose template's latest version names image B."""
    ec2 = aws("ec2")
    image_a, image_b = (i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"][:2])
    name = unique("refresh")
    data = {"ImageId": image_a, "InstanceType": "t3.small"}
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=4,
        MaxSize=4,
        DesiredCapacity=4,
        HealthCheckGracePeriod=120,
        VPCZoneIdentifier=",".join(network["subnets"]),
    )
    ec2.create_launch_template_version(
        LaunchTemplateName=name, SourceVersion="1", LaunchTemplateData={"ImageId": image_b}
    )
    return {"name": name, "old": image_a, "new": image_b}


def group_images(aws, name: str) -> list[str]:
    ids = [i["InstanceId"] for i in describe_asg(aws, name)["Instances"]]
    reservations = aws("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return sorted(i["ImageId"] for r in reservations for i in r["Instances"])


def refreshes(aws, name: str) -> list[dict[str, Any]]:
    return aws("autoscaling").describe_instance_refreshes(AutoScalingGroupName=name)[
        "InstanceRefreshes"
    ]


def until(probe: Any, timeout: float = 30) -> Any:
    """Poll ``probe`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def test_instance_refresh_replaces_the_group_in_batches(aws, refreshed_group, emulator):
    """Pending, then InProgress a batch at a time (min healthy 50 % of 4: 2 at a time, each
    batch launch + 120 s warm-up, 6 s at 1/30), then Successful with every instance on the
    template's new image; one refresh at a time."""
    autoscaling, name = aws("autoscaling"), refreshed_group["name"]
    old, new = refreshed_group["old"], refreshed_group["new"]
    emulator.timing(1 / 30)
    try:
        refresh_id = autoscaling.start_instance_refresh(
            AutoScalingGroupName=name, Preferences={"MinHealthyPercentage": 50}
        )["InstanceRefreshId"]
        (refresh,) = refreshes(aws, name)
        assert refresh["InstanceRefreshId"] == refresh_id
        assert refresh["Status"] == "Pending" and refresh["InstancesToUpdate"] == 4
        assert refresh["Preferences"]["MinHealthyPercentage"] == 50
        assert refresh["Preferences"]["InstanceWarmup"] == 120  # the group's grace period
        with pytest.raises(ClientError) as err:
            autoscaling.start_instance_refresh(AutoScalingGroupName=name)
        assert err.value.response["Error"]["Code"] == "InstanceRefreshInProgress"
        # The first batch is replaced and warms up: half done, half of the group on each image.
        refresh = until(lambda: [r for r in refreshes(aws, name) if r["Status"] == "InProgress"])[0]
        if refresh["PercentageComplete"] == 0:
            refresh = until(
                lambda: [r for r in refreshes(aws, name) if r["PercentageComplete"] > 0]
            )[0]
        assert refresh["Status"] == "InProgress" and refresh["PercentageComplete"] == 50
        assert group_images(aws, name) == sorted([old, old, new, new])
        refresh = until(lambda: [r for r in refreshes(aws, name) if r["Status"] == "Successful"])[0]
    finally:
        emulator.timing(0)
    assert refresh["PercentageComplete"] == 100
    assert refresh["InstancesToUpdate"] == 0 and "EndTime" in refresh
    assert group_images(aws, name) == [new] * 4
    # Skip matching: nothing left to replace, Successful at once; newest first.
    autoscaling.start_instance_refresh(
        AutoScalingGroupName=name, Preferences={"SkipMatching": True, "MinHealthyPercentage": 50}
    )
    latest, first = refreshes(aws, name)
    assert first["InstanceRefreshId"] == refresh_id
    assert latest["Status"] == "Successful" and latest["InstancesToUpdate"] == 0
    assert group_images(aws, name) == [new] * 4


def test_instance_refresh_cancel(aws, refreshed_group, emulator):
    autoscaling, name = aws("autoscaling"), refreshed_group["name"]
    with pytest.raises(ClientError) as err:
        autoscaling.cancel_instance_refresh(AutoScalingGroupName=name)
    assert err.value.response["Error"]["Code"] == "ActiveInstanceRefreshNotFound"
    with pytest.raises(ClientError) as err:
        autoscaling.start_instance_refresh(
            AutoScalingGroupName=name, Preferences={"MinHealthyPercentage": 101}
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    emulator.timing(1 / 10)  # Pending for 3 s
    try:
        refresh_id = autoscaling.start_instance_refresh(AutoScalingGroupName=name)[
            "InstanceRefreshId"
        ]
        cancelled = autoscaling.cancel_instance_refresh(AutoScalingGroupName=name)
    finally:
        emulator.timing(0)
    assert cancelled["InstanceRefreshId"] == refresh_id
    (refresh,) = refreshes(aws, name)
    assert refresh["Status"] == "Cancelled"
    assert group_images(aws, name) == [refreshed_group["old"]] * 4
    autoscaling.start_instance_refresh(AutoScalingGroupName=name)  # no longer blocked


def test_asg_launches_from_a_new_template_version_with_user_data(aws, network):
    ec2, name = aws("ec2"), unique("userdata")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = base64.b64encode(b"#cloud-config\n").decode()
    data = {"ImageId": image, "InstanceType": "t3.small", "UserData": user_data}
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    ec2.create_launch_template_version(
        LaunchTemplateName=name, SourceVersion="1", LaunchTemplateData=data
    )
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=network["subnets"][0],
    )
    (instance,) = describe_asg(aws, name)["Instances"]
    attribute = ec2.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )
    assert attribute["UserData"]["Value"] == user_data


def test_launch_template_versions_are_deleted_but_not_the_default(aws):
    ec2, name = aws("ec2"), unique("versions")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image})
    for _ in range(2):
        ec2.create_launch_template_version(
            LaunchTemplateName=name, SourceVersion="1", LaunchTemplateData={"ImageId": image}
        )
    answer = ec2.delete_launch_template_versions(LaunchTemplateName=name, Versions=["2", "1", "9"])
    assert [v["VersionNumber"] for v in answer["SuccessfullyDeletedLaunchTemplateVersions"]] == [2]
    refused = {
        v["VersionNumber"]: v["ResponseError"]["Code"]
        for v in answer["UnsuccessfullyDeletedLaunchTemplateVersions"]
    }
    assert refused == {1: "unexpectedError", 9: "launchTemplateVersionDoesNotExist"}

    def numbers(*versions: str) -> list[int]:
        return [
            v["VersionNumber"]
            for v in ec2.describe_launch_template_versions(
                LaunchTemplateName=name, **({"Versions": list(versions)} if versions else {})
            )["LaunchTemplateVersions"]
        ]

    assert numbers() == [1, 3]
    ec2.delete_launch_template_versions(LaunchTemplateName=name, Versions=["3"])
    assert numbers("$Latest") == [1]
    ec2.delete_launch_template(LaunchTemplateName=name)


def test_instance_groups_are_its_primary_interfaces_groups(aws, network):
    ec2 = aws("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    (instance,) = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": network["subnets"][0], "Groups": [network["group_id"]]}
        ],
    )["Instances"]
    (described,) = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0][
        "Instances"
    ]
    assert [g["GroupId"] for g in described["SecurityGroups"]] == [network["group_id"]]


# --- Images -----------------------------------------------------------------------------------


def test_create_image_tags_image_and_snapshots_is_pending_and_names_are_unique(
    aws, network, aws_timings
):
    ec2 = aws("ec2")
    base = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    (instance,) = ec2.run_instances(
        ImageId=base, MinCount=1, MaxCount=1, SubnetId=network["subnets"][0]
    )["Instances"]
    name = unique("image")
    tags = [{"Key": "Role", "Value": "web"}]
    image_id = ec2.create_image(
        InstanceId=instance["InstanceId"],
        Name=name,
        TagSpecifications=[
            {"ResourceType": "image", "Tags": tags},
            {"ResourceType": "snapshot", "Tags": tags},
        ],
    )["ImageId"]
    (image,) = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert image["State"] == "pending" and image["Tags"] == tags
    snapshot_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]]
    snapshots = ec2.describe_snapshots(SnapshotIds=snapshot_ids)["Snapshots"]
    assert [s["Tags"] for s in snapshots] == [tags]
    ec2.get_waiter("image_available").wait(
        ImageIds=[image_id], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    with pytest.raises(ClientError) as err:
        ec2.create_image(InstanceId=instance["InstanceId"], Name=name)
    assert err.value.response["Error"]["Code"] == "InvalidAMIName.Duplicate"


# --- CloudFront -------------------------------------------------------------------------------


def public_key_pem() -> str:
    key = subprocess.run(
        ["openssl", "genrsa", "2048"], capture_output=True, text=True, check=True
    ).stdout
    return subprocess.run(
        ["openssl", "rsa", "-pubout"], input=key, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def key_group(aws) -> str:
    cloudfront = aws("cloudfront")
    key_id = cloudfront.create_public_key(
        PublicKeyConfig={
            "CallerReference": unique("pk"),
            "Name": unique("pk"),
            "EncodedKey": public_key_pem(),
            "Comment": "signing key",
        }
    )["PublicKey"]["Id"]
    return cloudfront.create_key_group(
        KeyGroupConfig={"Name": unique("kg"), "Items": [key_id], "Comment": "signers"}
    )["KeyGroup"]["Id"]


def sigv4_oac(cloudfront) -> str:
    return cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": unique("oac"),
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]


def with_media_origin(bucket: str, oac: str) -> dict[str, Any]:
    """minimal_distribution() with the bucket as a second origin, "media", read through oac."""
    config = minimal_distribution()
    config["Origins"]["Items"].append(
        {
            "Id": "media",
            "DomainName": f"{bucket}.s3.eu-west-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": oac,
        }
    )
    config["Origins"]["Quantity"] = 2
    return config


def behaviour(target: str, **extra: Any) -> dict[str, Any]:
    return {
        "TargetOriginId": target,
        "TrustedSigners": {"Enabled": False, "Quantity": 0},
        "TrustedKeyGroups": {"Enabled": False, "Quantity": 0},
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": {
            "Quantity": 2,
            "Items": ["HEAD", "GET"],
            "CachedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]},
        },
        "SmoothStreaming": False,
        "Compress": True,
        "LambdaFunctionAssociations": {"Quantity": 0},
        "FunctionAssociations": {"Quantity": 0},
        "FieldLevelEncryptionId": "",
        "CachePolicyId": CACHING_OPTIMIZED,
        **extra,
    }


def test_cloudfront_distribution_config_is_what_was_put(aws, key_group):
    cloudfront = aws("cloudfront")
    oac_id = sigv4_oac(cloudfront)
    common = {"OriginPath": "", "CustomHeaders": {"Quantity": 0}}
    common.update(ConnectionAttempts=3, ConnectionTimeout=10)
    config = {
        "CallerReference": unique("dist"),
        "Aliases": {"Quantity": 0},
        "DefaultRootObject": "",
        "Origins": {
            "Quantity": 2,
            "Items": [
                {
                    "Id": "media",
                    "DomainName": "fid-media.s3.eu-west-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                    "OriginShield": {"Enabled": True, "OriginShieldRegion": "eu-west-1"},
                    **common,
                },
                {
                    "Id": "api",
                    "DomainName": "api.example.com",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                        "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
                        "OriginReadTimeout": 30,
                        "OriginKeepaliveTimeout": 5,
                    },
                    "OriginShield": {"Enabled": False},
                    "OriginAccessControlId": "",
                    **common,
                },
            ],
        },
        "OriginGroups": {"Quantity": 0},
        "DefaultCacheBehavior": behaviour(
            "media",
            TrustedKeyGroups={"Enabled": True, "Quantity": 1, "Items": [key_group]},
            ResponseHeadersPolicyId=SECURITY_HEADERS,
        ),
        "CacheBehaviors": {
            "Quantity": 1,
            "Items": [behaviour("api", PathPattern="/api/*", ViewerProtocolPolicy="https-only")],
        },
        "CustomErrorResponses": {"Quantity": 0},
        "Comment": "fidelity",
        "Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""},
        "PriceClass": "PriceClass_100",
        "Enabled": True,
        "ViewerCertificate": {
            "CloudFrontDefaultCertificate": True,
            "SSLSupportMethod": "vip",
            "MinimumProtocolVersion": "TLSv1",
            "CertificateSource": "cloudfront",
        },
        "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
        "WebACLId": "",
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "Staging": False,
    }
    dist_id = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    got = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    assert got["Origins"] == config["Origins"]
    assert got["DefaultCacheBehavior"] == config["DefaultCacheBehavior"]
    assert got["CacheBehaviors"] == config["CacheBehaviors"]
    assert got["ViewerCertificate"] == config["ViewerCertificate"]
    assert got["Logging"] == config["Logging"]
    assert got["Comment"] == "fidelity"


def minimal_distribution(**default_behaviour: Any) -> dict[str, Any]:
    return {
        "CallerReference": unique("dist"),
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "web",
                    "DomainName": "origin.example.com",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": behaviour("web", **default_behaviour),
        "Comment": "fidelity",
        "Enabled": True,
    }


def test_cloudfront_response_headers_policies_are_managed_and_checked(aws):
    cloudfront = aws("cloudfront")
    name = unique("headers")
    hsts = {
        "Override": True,
        "IncludeSubdomains": True,
        "Preload": False,
        "AccessControlMaxAgeSec": 63072000,
    }
    config = {
        "Name": name,
        "Comment": "HSTS",
        "SecurityHeadersConfig": {"StrictTransportSecurity": hsts},
    }
    created = cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=config)
    policy_id, etag = created["ResponseHeadersPolicy"]["Id"], created["ETag"]
    assert created["Location"].endswith(f"/response-headers-policy/{policy_id}")
    got = cloudfront.get_response_headers_policy(Id=policy_id)
    assert got["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == config
    assert got["ETag"] == etag
    assert (
        cloudfront.get_response_headers_policy_config(Id=policy_id)["ResponseHeadersPolicyConfig"]
        == config
    )

    def listed(kind: str) -> dict[str, str]:
        items = cloudfront.list_response_headers_policies(Type=kind)["ResponseHeadersPolicyList"]
        return {
            i["ResponseHeadersPolicy"]["Id"]: i["ResponseHeadersPolicy"][
                "ResponseHeadersPolicyConfig"
            ]["Name"]
            for i in items.get("Items", [])
        }

    assert listed("custom")[policy_id] == name and SECURITY_HEADERS not in listed("custom")
    assert listed("managed")[SECURITY_HEADERS] == "Managed-SecurityHeadersPolicy"

    def refused(call, **kwargs) -> str:
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        return err.value.response["Error"]["Code"]

    assert refused(
        cloudfront.create_response_headers_policy, ResponseHeadersPolicyConfig=config
    ) == ("ResponseHeadersPolicyAlreadyExists")
    changed = dict(config, Comment="HSTS, two years")
    assert (
        refused(
            cloudfront.update_response_headers_policy,
            Id=policy_id,
            IfMatch="STALE",
            ResponseHeadersPolicyConfig=changed,
        )
        == "PreconditionFailed"
    )
    etag = cloudfront.update_response_headers_policy(
        Id=policy_id, IfMatch=etag, ResponseHeadersPolicyConfig=changed
    )["ETag"]
    assert refused(cloudfront.get_response_headers_policy, Id="nope") == (
        "NoSuchResponseHeadersPolicy"
    )
    # A distribution may name only a policy that exists; one it names is not deleted.
    assert (
        refused(
            cloudfront.create_distribution,
            DistributionConfig=minimal_distribution(ResponseHeadersPolicyId=str(uuid.uuid4())),
        )
        == "NoSuchResponseHeadersPolicy"
    )
    dist = cloudfront.create_distribution(
        DistributionConfig=minimal_distribution(ResponseHeadersPolicyId=policy_id)
    )
    assert refused(cloudfront.delete_response_headers_policy, Id=policy_id, IfMatch=etag) == (
        "ResponseHeadersPolicyInUse"
    )
    assert (
        refused(
            cloudfront.delete_response_headers_policy,
            Id=SECURITY_HEADERS,
            IfMatch=cloudfront.get_response_headers_policy(Id=SECURITY_HEADERS)["ETag"],
        )
        == "IllegalDelete"
    )
    dist_id = dist["Distribution"]["Id"]
    dist_config = cloudfront.get_distribution_config(Id=dist_id)
    dist_config["DistributionConfig"]["DefaultCacheBehavior"].pop("ResponseHeadersPolicyId")
    cloudfront.update_distribution(
        Id=dist_id,
        IfMatch=dist_config["ETag"],
        DistributionConfig=dist_config["DistributionConfig"],
    )
    cloudfront.delete_response_headers_policy(Id=policy_id, IfMatch=etag)
    assert policy_id not in listed("custom")


def test_cloudfront_web_acl_is_an_existing_cloudfront_web_acl_kept_while_used(aws):
    cloudfront, wafv2 = aws("cloudfront"), aws("wafv2", "us-east-1")
    visibility = {
        "SampledRequestsEnabled": False,
        "CloudWatchMetricsEnabled": False,
        "MetricName": "fid",
    }
    summary = wafv2.create_web_acl(
        Name=unique("acl"),
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
        Rules=[],
    )["Summary"]
    regional = aws("wafv2").create_web_acl(
        Name=unique("acl"),
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
        Rules=[],
    )["Summary"]
    for wrong in (regional["ARN"], summary["ARN"].replace(summary["Id"], str(uuid.uuid4()))):
        config = dict(minimal_distribution(), WebACLId=wrong)
        with pytest.raises(ClientError) as err:
            cloudfront.create_distribution(DistributionConfig=config)
        assert err.value.response["Error"]["Code"] == "InvalidWebACLId"
    dist = cloudfront.create_distribution(
        DistributionConfig=dict(minimal_distribution(), WebACLId=summary["ARN"])
    )
    with pytest.raises(ClientError) as err:
        wafv2.delete_web_acl(
            Name=summary["Name"],
            Scope="CLOUDFRONT",
            Id=summary["Id"],
            LockToken=summary["LockToken"],
        )
    assert err.value.response["Error"]["Code"] == "WAFAssociatedItemException"
    dist_id = dist["Distribution"]["Id"]
    got = cloudfront.get_distribution_config(Id=dist_id)
    cloudfront.update_distribution(
        Id=dist_id,
        IfMatch=got["ETag"],
        DistributionConfig=dict(got["DistributionConfig"], WebACLId=""),
    )
    wafv2.delete_web_acl(
        Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"], LockToken=summary["LockToken"]
    )


def test_cloudfront_origin_access_identities_are_listed_and_managed(aws):
    cloudfront = aws("cloudfront")
    listed = cloudfront.list_cloud_front_origin_access_identities()
    assert "Quantity" in listed["CloudFrontOriginAccessIdentityList"]
    ref = unique("oai")
    created = cloudfront.create_cloud_front_origin_access_identity(
        CloudFrontOriginAccessIdentityConfig={"CallerReference": ref, "Comment": "first"}
    )
    oai_id = created["CloudFrontOriginAccessIdentity"]["Id"]
    assert re.fullmatch(r"E[A-Z0-9]{13}", oai_id)
    assert created["Location"].endswith(f"/origin-access-identity/cloudfront/{oai_id}")
    items = cloudfront.list_cloud_front_origin_access_identities()[
        "CloudFrontOriginAccessIdentityList"
    ]["Items"]
    assert {"Id": oai_id, "Comment": "first"}.items() <= next(
        i for i in items if i["Id"] == oai_id
    ).items()
    etag = cloudfront.get_cloud_front_origin_access_identity(Id=oai_id)["ETag"]
    updated = cloudfront.update_cloud_front_origin_access_identity(
        Id=oai_id,
        IfMatch=etag,
        CloudFrontOriginAccessIdentityConfig={"CallerReference": ref, "Comment": "second"},
    )
    config = cloudfront.get_cloud_front_origin_access_identity_config(Id=oai_id)
    assert config["CloudFrontOriginAccessIdentityConfig"] == {
        "CallerReference": ref,
        "Comment": "second",
    }
    cloudfront.delete_cloud_front_origin_access_identity(Id=oai_id, IfMatch=updated["ETag"])
    with pytest.raises(ClientError) as err:
        cloudfront.get_cloud_front_origin_access_identity(Id=oai_id)
    assert err.value.response["Error"]["Code"] == "NoSuchCloudFrontOriginAccessIdentity"


def test_cloudfront_public_keys_and_key_groups_keep_comments_and_update(aws, key_group):
    cloudfront = aws("cloudfront")
    group = cloudfront.get_key_group(Id=key_group)
    assert group["KeyGroup"]["KeyGroupConfig"]["Comment"] == "signers"
    (key_id,) = group["KeyGroup"]["KeyGroupConfig"]["Items"]
    key = cloudfront.get_public_key(Id=key_id)
    assert key["PublicKey"]["PublicKeyConfig"]["Comment"] == "signing key"

    config = dict(key["PublicKey"]["PublicKeyConfig"], Comment="rotated")
    cloudfront.update_public_key(Id=key_id, IfMatch=key["ETag"], PublicKeyConfig=config)
    assert cloudfront.get_public_key(Id=key_id)["PublicKey"]["PublicKeyConfig"]["Comment"] == (
        "rotated"
    )
    group_config = dict(group["KeyGroup"]["KeyGroupConfig"], Comment="renamed")
    cloudfront.update_key_group(Id=key_group, IfMatch=group["ETag"], KeyGroupConfig=group_config)
    assert cloudfront.get_key_group(Id=key_group)["KeyGroup"]["KeyGroupConfig"]["Comment"] == (
        "renamed"
    )
    for call, code in (
        (lambda: cloudfront.get_public_key(Id="KNOPE"), "NoSuchPublicKey"),
        (lambda: cloudfront.get_key_group(Id="nope"), "NoSuchResource"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code


# --- RDS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("storage", "iops", "throughput"), [(20, 3000, 125), (400, 12000, 500)])
def test_rds_gp3_reports_baseline_iops_and_throughput(aws, storage, iops, throughput):
    rds = aws("rds")
    name = unique("db")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=storage,
        StorageType="gp3",
        MasterUsername="app",
        MasterUserPassword="fidelity-password",
    )
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert (instance["Iops"], instance["StorageThroughput"]) == (iops, throughput)


def test_rds_engine_versions_list_the_default_minor_of_a_major(aws):
    rds = aws("rds")
    (default,) = rds.describe_db_engine_versions(
        Engine="postgres", EngineVersion="16", DefaultOnly=True
    )["DBEngineVersions"]
    assert default["EngineVersion"] == "16.10"
    assert default["DBParameterGroupFamily"] == "postgres16"
    every = rds.describe_db_engine_versions(Engine="postgres", EngineVersion="16")
    assert [v["EngineVersion"] for v in every["DBEngineVersions"]] == ["16.9", "16.10", "16.11"]


def _db(rds, version: str | None, storage: int = 20) -> str:
    name = unique("db")
    kwargs = {"EngineVersion": version} if version else {}
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=storage,
        MasterUsername="app",
        MasterUserPassword="fidelity-password",
        **kwargs,
    )
    return name


def test_rds_refuses_to_create_a_retired_minor_version(aws):
    rds = aws("rds")
    with pytest.raises(ClientError) as err:
        _db(rds, "16.4")
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "Cannot find version 16.4 for postgres" in err.value.response["Error"]["Message"]
    name = _db(rds, "16")  # a major only: that major's default minor
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert db["EngineVersion"] == "16.10"


def test_rds_refuses_a_downgrade_a_silent_major_upgrade_and_a_shrink(aws):
    rds = aws("rds")
    name = _db(rds, "16.10", storage=20)
    # What RDS's maintenance window and storage autoscaling do by themselves.
    rds.modify_db_instance(
        DBInstanceIdentifier=name, EngineVersion="16.11", AllocatedStorage=24, ApplyImmediately=True
    )
    refused = [
        ({"EngineVersion": "16.10"}, "InvalidParameterCombination", "Cannot upgrade postgres"),
        ({"EngineVersion": "17.6"}, "InvalidParameterCombination", "AllowMajorVersionUpgrade"),
        ({"AllocatedStorage": 20}, "InvalidParameterValue", "can't be decreased"),
    ]
    for change, code, words in refused:
        with pytest.raises(ClientError) as err:
            rds.modify_db_instance(DBInstanceIdentifier=name, ApplyImmediately=True, **change)
        assert err.value.response["Error"]["Code"] == code, change
        assert words in err.value.response["Error"]["Message"], change
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert (db["EngineVersion"], db["AllocatedStorage"]) == ("16.11", 24)
    rds.modify_db_instance(
        DBInstanceIdentifier=name,
        EngineVersion="17",
        AllowMajorVersionUpgrade=True,
        ApplyImmediately=True,
    )
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert db["EngineVersion"] == "17.6"


@pytest.fixture
def aws_timings(emulator):
    """AWS's durations at 1/180 (RDS creating 4 s, a NAT gateway pending 0.5 s, DynamoDB backups
    unavailable 0.33 s) for one test; moto's instant resources again afterwards."""
    yield emulator.timing(1 / 180)
    emulator.timing(0)


def test_timings_are_one_table_with_their_sources(aws_timings):
    assert aws_timings["scale"] == pytest.approx(1 / 180)
    for kind, (seconds, source) in aws_timings["durations"].items():
        assert seconds > 0 and len(source) > 20, kind


def test_rds_instance_is_creating_without_an_endpoint_for_a_while(aws, aws_timings):
    rds = aws("rds")
    name = _db(rds, "16")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert db["DBInstanceStatus"] == "creating" and "Endpoint" not in db
    time.sleep(720 / 180 + 0.3)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    assert db["DBInstanceStatus"] == "available" and db["Endpoint"]["Address"]


def test_nat_gateway_is_pending_for_a_while(aws, network, aws_timings):
    ec2 = aws("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=network["subnets"][0], AllocationId=allocation)
    gateway_id = gateway["NatGateway"]["NatGatewayId"]

    def state() -> str:
        return ec2.describe_nat_gateways(NatGatewayIds=[gateway_id])["NatGateways"][0]["State"]

    assert state() == "pending"
    ec2.get_waiter("nat_gateway_available").wait(
        NatGatewayIds=[gateway_id], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    assert state() == "available"


def test_dynamodb_continuous_backups_are_unavailable_on_a_new_table(aws, aws_timings):
    ddb = aws("dynamodb")
    name = unique("table")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    spec = {"PointInTimeRecoveryEnabled": True}
    with pytest.raises(ClientError) as err:
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
    assert err.value.response["Error"]["Code"] == "ContinuousBackupsUnavailableException"
    time.sleep(60 / 180 + 0.2)
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)


def test_journal_records_what_clients_sent(aws, emulator):
    import urllib.request

    journal = f"{emulator.endpoint}/moto-api/fidelity/journal"
    urllib.request.urlopen(urllib.request.Request(journal, method="POST"), timeout=10).close()
    aws("rds").describe_db_engine_versions(Engine="postgres", EngineVersion="15")
    with urllib.request.urlopen(journal, timeout=10) as resp:
        entries = json.loads(resp.read())
    assert {"service": "rds", "action": "DescribeDBEngineVersions"}.items() <= entries[-1].items()
    assert entries[-1]["params"]["EngineVersion"] == ["15"]


# --- The realistic mode: AWS's durations, eventual consistency, seeded faults -----------------

# Every transition issue 17 names, in the one table.
REALISTIC_TRANSITIONS = [
    "rds.db_instance.creating",
    "rds.db_instance.modifying",
    "rds.db_instance.deleting",
    "cloudfront.distribution.deploying",
    "ec2.nat_gateway.pending",
    "elbv2.load_balancer.provisioning",
    "autoscaling.instance.pending",
]


@pytest.fixture
def realistic(emulator):
    """Turns the realistic mode on (emulator.realistic's arguments) for one test; off after."""
    yield emulator.realistic
    emulator.realistic(0, 0)


def first_answers(aws, service: str):
    """A client that shows the emulator's first answer (SDKs retry throttling and 5xx)."""
    import boto3
    from botocore.config import Config

    client = aws(service)
    return boto3.client(
        service,
        region_name=client.meta.region_name,
        endpoint_url=client.meta.endpoint_url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def answer_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int] | None:
    """The error code and HTTP status of ``call(*args, **kwargs)``, None if it succeeded."""
    try:
        call(*args, **kwargs)
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


def test_realistic_mode_is_one_switch_with_aws_durations_and_their_sources(realistic, emulator):
    state = realistic(1 / 60, 0.05, 7)
    assert (state["on"], state["scale"], state["fault_rate"], state["seed"]) == (
        True,
        pytest.approx(1 / 60),
        0.05,
        7,
    )
    for kind in REALISTIC_TRANSITIONS:
        seconds, source = state["durations"][kind]
        assert seconds >= 60 and len(source) > 40, kind
    for kind in ("iam.instance_profile", "ec2.new_resource_id"):
        seconds, source = state["consistency_windows"][kind]
        assert 0 < seconds <= 30 and len(source) > 40, kind
    assert emulator.realistic(0, 0)["on"] is False


# What each service answers when it throttles or fails (its API reference's error codes).
SERVICE_FAULTS = {
    "ec2": {("RequestLimitExceeded", 503), ("InternalError", 500), ("Unavailable", 503)},
    "iam": {("Throttling", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503)},
    "dynamodb": {
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    },
    "logs": {("ThrottlingException", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503)},
    "cloudfront": {("Throttling", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503)},
}
SERVICE_CALLS = {
    "ec2": lambda client: client.describe_vpcs(),
    "iam": lambda client: client.list_roles(),
    "dynamodb": lambda client: client.list_tables(),
    "logs": lambda client: client.describe_log_groups(),
    "cloudfront": lambda client: client.list_distributions(),
}


def test_realistic_faults_are_each_services_own_and_replay_from_the_seed(aws, emulator, realistic):
    def run() -> dict[str, list]:
        realistic(1 / 600, 0.3, 11)
        emulator.journal(clear=True)
        answers = {}
        for service, call in SERVICE_CALLS.items():
            client = first_answers(aws, service)
            answers[service] = [answer_of(call, client) for _ in range(20)]
        return answers

    first = run()
    state, journal = emulator.realistic_state(), emulator.journal()
    for service, answers in first.items():
        faults = [answer for answer in answers if answer]
        assert 2 <= len(faults) <= 12, (service, answers)  # 30 % of 20, give or take
        assert set(faults) <= SERVICE_FAULTS[service], service
    # Every fault is in the journal, with its code, and counted.
    faulted = [entry["fault"] for entry in journal if "fault" in entry]
    given = [answer[0] for answers in first.values() for answer in answers if answer]
    assert sorted(faulted) == sorted(given)
    assert sum(state["faults"].values()) == len(given)
    # The same seed replays the same faults, call for call; another seed does not.
    assert run() == first
    realistic(1 / 600, 0.3, 12)
    client = first_answers(aws, "iam")
    other = [answer_of(client.list_roles) for _ in range(20)]
    assert other != first["iam"]


def test_realistic_faults_are_what_sdks_retry(aws, emulator, realistic):
    """Each fault is one botocore retries (standard mode: 3 attempts, so a call fails at 5 %
    faults once in 8000: longer runs need the modules' own retries)."""
    realistic(1 / 600, 0.2, 11)  # this seed: no call is refused three times in a row
    retries = 0
    for service, call in SERVICE_CALLS.items():
        client = aws(service)
        for _ in range(10):
            retries += call(client)["ResponseMetadata"]["RetryAttempts"]
    assert retries == sum(emulator.realistic_state()["faults"].values()) > 0


def test_realistic_new_subnets_route_tables_and_groups_are_not_found_for_a_moment(aws, realistic):
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    realistic(1 / 600, 0, consistency=1.5)  # EC2's 1 s window: 1.5 s
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.93.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    group = ec2.create_security_group(GroupName=unique("sg"), Description="ec", VpcId=vpc_id)[
        "GroupId"
    ]
    rule = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": []}]
    attempts = {
        "InvalidSubnetID.NotFound": lambda: ec2.describe_subnets(SubnetIds=[subnet]),
        "InvalidRouteTableID.NotFound": lambda: ec2.associate_route_table(
            RouteTableId=table, SubnetId="subnet-0"
        ),
        "InvalidGroup.NotFound": lambda: ec2.authorize_security_group_ingress(
            GroupId=group, IpPermissions=rule
        ),
    }
    for code, attempt in attempts.items():
        assert answer_of(attempt) == (code, 400)
    # Filters list what exists (AWS may list fewer: nothing here relies on either).
    listed = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert subnet in {item["SubnetId"] for item in listed}
    time.sleep(1.6)
    later = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.93.2.0/24")["Subnet"]["SubnetId"]
    assert answer_of(ec2.describe_subnets, SubnetIds=[later]) == ("InvalidSubnetID.NotFound", 400)
    realistic(0, 0)  # off: known at once, as moto has it
    ec2.describe_subnets(SubnetIds=[later])
    ec2.describe_subnets(SubnetIds=[subnet])
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rule)


def test_realistic_new_instance_profile_cannot_launch_for_a_moment(aws, network, realistic):
    iam, ec2, autoscaling = aws("iam"), aws("ec2"), aws("autoscaling")
    realistic(1 / 600, 0, consistency=0.3)  # IAM's 10 s: 3 s
    name = unique("young")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    launch = {"ImageId": "ami-03cf127a", "MinCount": 1, "MaxCount": 1}
    launch["SubnetId"] = network["subnets"][0]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(IamInstanceProfile={"Name": name}, **launch)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert err.value.response["Error"]["Message"] == (
        f"Value ({name}) for parameter iamInstanceProfile.name is invalid. "
        "Invalid IAM Instance Profile name"
    )
    # A launch template takes it (CreateLaunchTemplate does not check it); launching does not.
    data = {"ImageId": "ami-03cf127a", "IamInstanceProfile": {"Name": name}}
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    template = {"LaunchTemplateName": name, "Version": "$Latest"}
    with pytest.raises(ClientError) as err:
        ec2.run_instances(LaunchTemplate=template, **launch)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    group = {"AutoScalingGroupName": name, "MinSize": 1, "MaxSize": 1, "LaunchTemplate": template}
    group["VPCZoneIdentifier"] = network["subnets"][0]
    with pytest.raises(ClientError) as err:
        autoscaling.create_auto_scaling_group(**group)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"].startswith(
        "You must use a valid fully-formed launch template. "
        f"Value ({name}) for parameter iamInstanceProfile.name is invalid."
    )
    assert not autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    time.sleep(3.1)
    ec2.run_instances(IamInstanceProfile={"Name": name}, **launch)
    autoscaling.create_auto_scaling_group(**group)


def test_realistic_rds_instance_is_modifying_then_deleting_for_a_while(aws, realistic):
    rds = aws("rds")
    name = _db(rds, "16")  # the mode is off: available at once
    realistic(1 / 100, 0)  # modifying 3 s, deleting 3.6 s

    def status() -> str:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
            "DBInstanceStatus"
        ]

    rds.modify_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t4g.small", ApplyImmediately=True
    )
    assert status() == "modifying"
    until(lambda: status() == "available", timeout=10)
    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    assert status() == "deleting"
    rds.get_waiter("db_instance_deleted").wait(
        DBInstanceIdentifier=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )


def test_realistic_rds_subnet_group_in_use_is_not_deleted(aws, network):
    rds = aws("rds")
    group = unique("dbsubnets")
    rds.create_db_subnet_group(
        DBSubnetGroupName=group, DBSubnetGroupDescription="fid", SubnetIds=network["subnets"]
    )
    name = unique("db")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="fidelity-password",
        DBSubnetGroupName=group,
    )
    with pytest.raises(ClientError) as err:
        rds.delete_db_subnet_group(DBSubnetGroupName=group)
    assert err.value.response["Error"]["Code"] == "InvalidDBSubnetGroupStateFault"
    rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    rds.delete_db_subnet_group(DBSubnetGroupName=group)


def test_realistic_distribution_deploys_and_is_deleted_only_when_deployed(aws, realistic):
    cloudfront = aws("cloudfront")
    realistic(1 / 100, 0)  # InProgress for 3 s
    created = cloudfront.create_distribution(DistributionConfig=minimal_distribution())
    dist_id = created["Distribution"]["Id"]
    assert created["Distribution"]["Status"] == "InProgress"
    cloudfront.get_waiter("distribution_deployed").wait(
        Id=dist_id, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    current = cloudfront.get_distribution_config(Id=dist_id)
    config = current["DistributionConfig"] | {"Enabled": False}
    updated = cloudfront.update_distribution(
        Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config
    )
    assert updated["Distribution"]["Status"] == "InProgress"
    with pytest.raises(ClientError) as err:
        cloudfront.delete_distribution(Id=dist_id, IfMatch=updated["ETag"])
    assert err.value.response["Error"]["Code"] == "DistributionNotDisabled"
    cloudfront.get_waiter("distribution_deployed").wait(
        Id=dist_id, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    cloudfront.delete_distribution(Id=dist_id, IfMatch=updated["ETag"])


def test_realistic_load_balancer_provisions_and_group_instances_pend(
    aws, network, launch_template, realistic
):
    elbv2, autoscaling = aws("elbv2"), aws("autoscaling")
    realistic(1 / 100, 0)  # provisioning 1.5 s, Pending 0.6 s
    balancer = elbv2.create_load_balancer(Name=unique("alb")[:32], Subnets=network["subnets"])
    arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]

    def state() -> str:
        return elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]["State"][
            "Code"
        ]

    assert state() == "provisioning"
    elbv2.get_waiter("load_balancer_available").wait(
        LoadBalancerArns=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    name = unique("asg")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=1,
        MaxSize=1,
        LaunchTemplate={"LaunchTemplateId": launch_template["id"], "Version": "$Latest"},
        VPCZoneIdentifier=network["subnets"][0],
    )

    def lifecycle() -> list[str]:
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]
        return [instance["LifecycleState"] for instance in group["Instances"]]

    assert lifecycle() == ["Pending"]
    until(lambda: lifecycle() == ["InService"], timeout=10)


# --- The upstream modules, twice --------------------------------------------------------------


def test_upstream_modules_second_run_changes_nothing(playbook):
    first = playbook(PLAYBOOK)
    assert first.ok, first.messages()
    second = playbook(PLAYBOOK)
    assert second.ok, second.messages()
    assert second.changed == 0, second.changed_tasks()


# ---------------------------------------------------------------------------------------------
# S3 policies and logging, ALB attributes, Debian's public AMI parameter
# ---------------------------------------------------------------------------------------------


def tls_only_policy(bucket: str, *extra: dict[str, Any]) -> str:
    deny_plain_http = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [deny_plain_http, *extra]})


def test_tls_only_bucket_policy_allows_https_object_requests(aws):
    s3, bucket = aws("s3"), unique("tls")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"x"
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a.txt"}]})
    assert deleted.get("Errors", []) == [] and len(deleted["Deleted"]) == 1


def test_anonymous_get_is_granted_only_by_a_statement_for_everyone(aws, emulator):
    """A grant to CloudFront's service principal (origin access control) or to a role makes no
    object public; "*" and {"AWS": "*"} do, as on AWS."""
    import urllib.error
    import urllib.request

    s3, bucket = aws("s3"), unique("anon")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="hls/a.m3u8", Body=b"#EXTM3U")

    def anonymous_get(*principals: Any) -> int:
        grants = [
            {
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/hls/*",
            }
            for principal in principals
        ]
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, *grants))
        try:
            with urllib.request.urlopen(f"{emulator.endpoint}/{bucket}/hls/a.m3u8", timeout=10):
                return 200
        except urllib.error.HTTPError as err:
            return err.code

    cloudfront = {"Service": "cloudfront.amazonaws.com"}
    role = {"AWS": "arn:aws:iam::123456789012:role/stream-local-web"}
    assert anonymous_get(cloudfront, role) == 403
    assert anonymous_get(cloudfront, "*") == 200
    assert anonymous_get({"AWS": ["arn:aws:iam::123456789012:root", "*"]}) == 200
    # The objects stay readable with credentials (the account's own keys).
    assert s3.get_object(Bucket=bucket, Key="hls/a.m3u8")["Body"].read() == b"#EXTM3U"


def test_cloudfront_reads_its_s3_origin_signed_as_the_service_for_its_distribution(aws, emulator):
    """The origin request of a behaviour with an OAC is signed as cloudfront.amazonaws.com for
    the distribution: the bucket policy's grant with that aws:SourceArn decides it (no public
    statement needed), another distribution's grant does not, a prefix outside the grant is
    refused, and without the OAC the request is anonymous (refused)."""
    import urllib.error
    import urllib.request

    s3, cloudfront, bucket = aws("s3"), aws("cloudfront"), unique("oac")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="hls/a/master.m3u8", Body=b"#EXTM3U")
    s3.put_object(Bucket=bucket, Key="sources/a/source.mp4", Body=b"private")
    oac_id = sigv4_oac(cloudfront)

    def distribution(oac: str) -> dict[str, str]:
        config = with_media_origin(bucket, oac)
        config["CacheBehaviors"] = {
            "Quantity": 2,
            "Items": [
                behaviour("media", PathPattern="/hls/*"),
                behaviour("media", PathPattern="/sources/*"),
            ],
        }
        return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]

    signed, unsigned = distribution(oac_id), distribution("")

    def grant(arn: str) -> None:
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/hls/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": arn}},
        }
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, statement))

    def get(dist: dict[str, str], path: str, **headers: str) -> tuple[int, bytes]:
        url = f"{emulator.endpoint}/moto-api/fidelity/cloudfront-origin/{dist['DomainName']}/{path}"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=30
            ) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as err:
            return err.code, b""

    grant(signed["ARN"])
    assert get(signed, "hls/a/master.m3u8") == (200, b"#EXTM3U")
    assert get(signed, "hls/a/master.m3u8", Range="bytes=1-3") == (206, b"EXT")
    assert get(signed, "sources/a/source.mp4")[0] == 403
    assert get(unsigned, "hls/a/master.m3u8")[0] == 403  # no OAC: an anonymous request
    grant(unsigned["ARN"])  # the grant names another distribution
    assert get(signed, "hls/a/master.m3u8")[0] == 403
    with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/fidelity/iam", timeout=10) as r:
        decisions = [d for d in json.loads(r.read()) if bucket in d["resource"]]
    assert {(d["principal"], d["allowed"]) for d in decisions} == {
        ("cloudfront.amazonaws.com", True),
        ("cloudfront.amazonaws.com", False),
    }


APP_ORIGIN = "https://app.example.com"  # the page's origin the edge's CORS config allows


@pytest.fixture(scope="module")
def signed_edge(aws, emulator) -> dict[str, Any]:
    """A distribution whose /hls/* (OPTIONS allowed) and /thumbs/* behaviours trust a key group
    of one public key and name a response headers policy (HSTS, nosniff, CORS for APP_ORIGIN);
    /public/* trusts none. Its private bucket is read through an origin access control."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    s3, cloudfront, bucket = aws("s3"), aws("cloudfront"), unique("edge")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key, body in (("hls/a/master.m3u8", b"#EXTM3U"), ("hls/a/v/seg1.ts", b"segment"),
                      ("hls/b/master.m3u8", b"#B"), ("thumbs/a.jpg", b"jpeg"),
                      ("public/a.txt", b"public")):  # fmt: skip
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    def pem(key) -> str:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_key(key) -> str:
        encoded = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cloudfront.create_public_key(
            PublicKeyConfig={
                "CallerReference": unique("pk"),
                "Name": unique("pk"),
                "EncodedKey": encoded,
            }
        )["PublicKey"]["Id"]

    trusted, foreign = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab"
    )
    trusted_id, foreign_id = public_key(trusted), public_key(foreign)
    group = cloudfront.create_key_group(
        KeyGroupConfig={"Name": unique("kg"), "Items": [trusted_id]}
    )["KeyGroup"]["Id"]

    def items(*values: str) -> dict[str, Any]:
        return {"Quantity": len(values), "Items": list(values)}

    headers_policy = cloudfront.create_response_headers_policy(
        ResponseHeadersPolicyConfig={
            "Name": unique("rhp"),
            "SecurityHeadersConfig": {
                "StrictTransportSecurity": {
                    "Override": True,
                    "AccessControlMaxAgeSec": 63072000,
                    "IncludeSubdomains": True,
                    "Preload": False,
                },
                "ContentTypeOptions": {"Override": True},
            },
            "CorsConfig": {
                "AccessControlAllowOrigins": items(APP_ORIGIN),
                "AccessControlAllowHeaders": items("Range"),
                "AccessControlAllowMethods": items("GET", "HEAD"),
                "AccessControlExposeHeaders": items("Content-Range"),
                "AccessControlAllowCredentials": False,
                "AccessControlMaxAgeSec": 600,
                "OriginOverride": True,
            },
        }
    )["ResponseHeadersPolicy"]["Id"]
    oac = sigv4_oac(cloudfront)
    config = with_media_origin(bucket, oac)
    signed_only = {
        "TrustedKeyGroups": {"Enabled": True, **items(group)},
        "ResponseHeadersPolicyId": headers_policy,
    }
    with_preflight = {"AllowedMethods": {**items("HEAD", "GET", "OPTIONS"),
                                         "CachedMethods": items("HEAD", "GET")}}  # fmt: skip
    config["CacheBehaviors"] = items(
        behaviour("media", PathPattern="/hls/*", **signed_only, **with_preflight),
        behaviour("media", PathPattern="/thumbs/*", **signed_only),
        behaviour("media", PathPattern="/public/*"),
    )
    dist = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": dist["ARN"]}},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, statement))
    return {
        "edge": f"{emulator.endpoint}/moto-api/fidelity/cloudfront-edge/{dist['DomainName']}",
        "trusted": (trusted_id, pem(trusted)),
        "foreign": (foreign_id, pem(foreign)),
    }


def edge_get(url: str, method: str = "GET", **headers: str) -> tuple[int, bytes, dict]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_cloudfront_serves_viewers_only_with_signed_urls_of_its_trusted_key_groups(signed_edge):
    """A behaviour trusting a key group serves the app's own signed URLs (canned for an object,
    custom with a wildcard for an HLS tree, the player's query on every file under it) and
    refuses an unsigned, expired, tampered or foreign-key URL and one outside the wildcard, as
    CloudFront does; the signing parameters never reach the origin; the response headers
    policy's HSTS is added."""
    from streamapp.signing import CloudFrontSigner

    edge, (trusted_id, trusted), (foreign_id, foreign) = (
        signed_edge[k] for k in ("edge", "trusted", "foreign")
    )
    signer = CloudFrontSigner(edge, trusted_id, trusted, ttl=300)
    thumb = signer.object_url("thumbs/a.jpg").url
    status, body, answer = edge_get(thumb)
    assert (status, body) == (200, b"jpeg")
    assert answer["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    grant = signer.hls_url("hls/a", "master.m3u8")
    assert edge_get(grant.url)[:2] == (200, b"#EXTM3U")
    assert edge_get(f"{edge}/hls/a/v/seg1.ts?{grant.query}")[:2] == (200, b"segment")  # player
    refused = {
        "unsigned": f"{edge}/hls/a/master.m3u8",
        "no signature": re.sub(r"&Signature=[^&]*", "", thumb),
        "outside the wildcard": f"{edge}/hls/b/master.m3u8?{grant.query}",
        "expired": signer.object_url("thumbs/a.jpg", now=time.time() - 600).url,
        "tampered": thumb.replace("thumbs/a.jpg", "thumbs/b.jpg"),
        "another key pair's signature": CloudFrontSigner(edge, trusted_id, foreign, 300)
        .object_url("thumbs/a.jpg")
        .url,
        "a key outside the key group": CloudFrontSigner(edge, foreign_id, foreign, 300)
        .object_url("thumbs/a.jpg")
        .url,
        "an unknown key pair id": thumb.replace(trusted_id, "K2NOSUCHKEY0000"),
    }
    answers = {name: edge_get(url) for name, url in refused.items()}
    assert {name: a[0] for name, a in answers.items()} == dict.fromkeys(refused, 403)
    assert b"<Code>MissingKey</Code>" in answers["unsigned"][1]
    assert b"<Code>MissingKey</Code>" in answers["no signature"][1]
    assert b"<Code>InvalidKey</Code>" in answers["a key outside the key group"][1]
    assert b"<Code>InvalidKey</Code>" in answers["an unknown key pair id"][1]
    assert b"<Code>AccessDenied</Code>" in answers["tampered"][1]


def test_cloudfront_edge_adds_its_cors_headers_and_checks_conditions_and_the_viewers_url(
    signed_edge,
):
    """The response headers policy's CORS headers for an allowed Origin only (a preflight
    answered by the edge where the behaviour allows OPTIONS, not sent on), nosniff, Range passed
    on; a behaviour trusting no key group serves unsigned; a custom policy's DateGreaterThan and
    IpAddress hold; a forged X-Forwarded-Uri naming another object changes nothing checked."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from streamapp.signing import CloudFrontSigner, _cf_b64

    edge, (trusted_id, trusted) = signed_edge["edge"], signed_edge["trusted"]
    grant = CloudFrontSigner(edge, trusted_id, trusted, ttl=300).hls_url("hls/a", "master.m3u8")
    segment = f"{edge}/hls/a/v/seg1.ts?{grant.query}"

    status, body, answer = edge_get(segment, Origin=APP_ORIGIN, Range="bytes=0-2")
    assert (status, body, answer["Content-Range"]) == (206, b"seg", "bytes 0-2/7")
    assert answer["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert answer["Access-Control-Expose-Headers"] == "Content-Range"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Methods" not in answer  # preflights only
    for headers in ({}, {"Origin": "https://elsewhere.example.com"}):
        assert "Access-Control-Allow-Origin" not in edge_get(segment, **headers)[2]

    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    status, body, answer = edge_get(segment, "OPTIONS", **preflight)
    assert (status, body) == (200, b"")
    assert answer["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert answer["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert answer["Access-Control-Allow-Headers"] == "Range"
    assert answer["Access-Control-Max-Age"] == "600"
    thumb = CloudFrontSigner(edge, trusted_id, trusted, 300).object_url("thumbs/a.jpg").url
    assert edge_get(thumb, "OPTIONS", **preflight)[0] == 403  # OPTIONS not allowed there
    assert edge_get(f"{edge}/hls/a/v/seg1.ts", "OPTIONS", **preflight)[0] == 403  # unsigned

    assert edge_get(f"{edge}/public/a.txt")[:2] == (200, b"public")

    key = serialization.load_pem_private_key(trusted.encode(), password=None)

    def custom(**condition: Any) -> str:
        condition.setdefault("DateLessThan", {"AWS:EpochTime": int(time.time()) + 300})
        policy = json.dumps(
            {"Statement": [{"Resource": f"{edge}/hls/a/*", "Condition": condition}]},
            separators=(",", ":"),
        ).encode()
        signature = _cf_b64(key.sign(policy, padding.PKCS1v15(), hashes.SHA1()))  # noqa: S303
        query = f"Policy={_cf_b64(policy)}&Signature={signature}&Key-Pair-Id={trusted_id}"
        return f"{edge}/hls/a/master.m3u8?{query}"

    later = {"AWS:EpochTime": int(time.time()) + 60}
    assert edge_get(custom(IpAddress={"AWS:SourceIp": "127.0.0.1/32"}))[0] == 200
    assert edge_get(custom(IpAddress={"AWS:SourceIp": "10.0.0.0/8"}))[0] == 403
    assert edge_get(custom(DateGreaterThan=later))[0] == 403

    # Signed for hls/a, asking for hls/b with a header claiming the viewer asked for hls/a.
    own_a = grant.url.split("?", 1)[0].split("://", 1)[1].split("/", 1)[1]
    forged = edge_get(f"{edge}/hls/b/master.m3u8?{grant.query}", **{"X-Forwarded-Uri": "/" + own_a})
    assert forged[0] == 403


def test_s3_logging_accepts_a_wildcard_grant_beside_a_star_principal(aws):
    s3, source, target = aws("s3"), unique("src"), unique("logs")
    for bucket in (source, target):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{target}/s3/*",
    }
    s3.put_bucket_policy(Bucket=target, Policy=tls_only_policy(target, grant))
    s3.put_bucket_logging(
        Bucket=source,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "s3/x/"}},
    )
    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]["TargetBucket"] == target


def test_logs_tagging_api_wants_the_log_group_arn_without_its_star(aws):
    logs, name = aws("logs"), f"/{unique('logs')}"
    logs.create_log_group(logGroupName=name, tags={"Project": "fid"})
    (group,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["arn"] == group["logGroupArn"] + ":*"
    with pytest.raises(ClientError) as star:
        logs.list_tags_for_resource(resourceArn=group["arn"])
    assert star.value.response["Error"]["Code"] == "ValidationException"
    assert star.value.response["Error"]["Message"] == "Invalid resourceArn"
    logs.tag_resource(resourceArn=group["logGroupArn"], tags={"Environment": "x"})
    tags = logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]
    assert tags == {"Project": "fid", "Environment": "x"}
    # A deleted group's tags go with it: a new group of that name starts with its own.
    logs.delete_log_group(logGroupName=name)
    for call in (
        lambda: logs.list_tags_for_resource(resourceArn=group["logGroupArn"]),
        lambda: logs.untag_resource(resourceArn=group["logGroupArn"], tagKeys=["Project"]),
    ):
        with pytest.raises(ClientError) as gone:
            call()
        assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    logs.create_log_group(logGroupName=name)
    assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"] == {}


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


@pytest.fixture
def cloudfront_delivery(aws) -> dict[str, Any]:
    """A CloudFront access-log delivery (us-east-1) into an S3 bucket."""
    logs, name = aws("logs", "us-east-1"), unique("cf")
    arn = f"arn:aws:cloudfront::123456789012:distribution/E{uuid.uuid4().hex[:12].upper()}"
    source = logs.put_delivery_source(name=name, resourceArn=arn, logType="ACCESS_LOGS")
    destination = logs.put_delivery_destination(
        name=name,
        deliveryDestinationConfiguration={"destinationResourceArn": f"arn:aws:s3:::{name}"},
    )["deliveryDestination"]
    delivery = logs.create_delivery(
        deliverySourceName=name, deliveryDestinationArn=destination["arn"]
    )["delivery"]
    return {"logs": logs, "name": name, "distribution": arn, "delivery": delivery, **source}


def test_logs_delivery_source_and_destination_in_use_are_not_deleted(cloudfront_delivery):
    logs, name = cloudfront_delivery["logs"], cloudfront_delivery["name"]
    for call in (
        lambda: logs.delete_delivery_source(name=name),
        lambda: logs.delete_delivery_destination(name=name),
    ):
        assert error_of(call)[0] == "ConflictException"
    logs.delete_delivery(id=cloudfront_delivery["delivery"]["id"])
    logs.delete_delivery_source(name=name)
    logs.delete_delivery_destination(name=name)


def test_logs_delivery_source_one_per_resource_and_cloudfront_in_us_east_1(
    aws, cloudfront_delivery
):
    logs, arn = cloudfront_delivery["logs"], cloudfront_delivery["distribution"]
    again = lambda: logs.put_delivery_source(  # noqa: E731
        name=unique("other"), resourceArn=arn, logType="ACCESS_LOGS"
    )
    assert error_of(again) == (
        "ConflictException",
        "This ResourceId has already been used in another Delivery Source in this account",
    )
    # The same name again is an update, as on AWS.
    logs.put_delivery_source(
        name=cloudfront_delivery["name"], resourceArn=arn, logType="ACCESS_LOGS"
    )
    elsewhere = lambda: aws("logs", "eu-west-1").put_delivery_source(  # noqa: E731
        name=unique("eu"), resourceArn=arn + "X", logType="ACCESS_LOGS"
    )
    assert error_of(elsewhere) == (
        "ValidationException",
        "PutDeliverySource action is not supported for this LogType in region eu-west-1",
    )


def test_logs_update_delivery_configuration(cloudfront_delivery):
    logs, delivery = cloudfront_delivery["logs"], cloudfront_delivery["delivery"]
    logs.update_delivery_configuration(
        id=delivery["id"],
        recordFields=["date", "time", "c-ip"],
        s3DeliveryConfiguration={"suffixPath": "cf/{DistributionId}/{yyyy}"},
    )
    updated = logs.get_delivery(id=delivery["id"])["delivery"]
    assert updated["recordFields"] == ["date", "time", "c-ip"]
    assert updated["s3DeliveryConfiguration"]["suffixPath"] == "cf/{DistributionId}/{yyyy}"
    assert updated["deliveryDestinationArn"] == delivery["deliveryDestinationArn"]
    assert (
        error_of(
            lambda: logs.update_delivery_configuration(id="nosuchdelivery", fieldDelimiter=",")
        )[0]
        == "ResourceNotFoundException"
    )


def test_alb_reports_aws_default_attributes(aws, network):
    elb = aws("elbv2")
    arn = elb.create_load_balancer(Name=unique("alb")[:32], Subnets=network["subnets"])[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    attributes = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    }
    assert attributes["idle_timeout.timeout_seconds"] == "60"
    assert attributes["routing.http2.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "false"
    assert attributes["routing.http.desync_mitigation_mode"] == "defensive"


def test_alb_access_logs_need_a_bucket_elb_may_write(aws, network):
    """Turning access logs on writes ELBAccessLogTestFile as Elastic Load Balancing (eu-west-1:
    the ELB account 156460612806): refused for a missing bucket, a bucket without the grant or
    one encrypted with KMS; the test object stays in the bucket."""
    elb, s3 = aws("elbv2"), aws("s3")
    arn = elb.create_load_balancer(Name=unique("alb")[:32], Subnets=network["subnets"])[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    bucket = unique("alb-logs")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def turn_on(name: str) -> str:
        try:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.bucket", "Value": name},
                    {"Key": "access_logs.s3.prefix", "Value": "alb"},
                ],
            )
        except ClientError as err:
            return f"{err.response['Error']['Code']}: {err.response['Error']['Message']}"
        return "on"

    assert turn_on(bucket) == (
        f"InvalidConfigurationRequest: Access Denied for bucket: {bucket}."
        " Please check S3bucket permission"
    )
    assert turn_on("no-such-bucket").startswith("InvalidConfigurationRequest: ")
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::156460612806:root"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/alb/AWSLogs/123456789012/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [grant]}))
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    assert turn_on(bucket).startswith("InvalidConfigurationRequest: Access Denied")
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert turn_on(bucket) == "on"
    s3.head_object(Bucket=bucket, Key="alb/AWSLogs/123456789012/ELBAccessLogTestFile")


def test_debian_public_ami_parameter_names_a_debian_image(aws):
    name = "/aws/service/debian/release/12/latest/amd64"
    ami_id = aws("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    image = aws("ec2").describe_images(ImageIds=[ami_id])["Images"][0]
    assert image["OwnerId"] == "136693071363"
    assert image["Name"].startswith("debian-12-amd64-")
    assert image["Architecture"] == "x86_64"


def test_deregistered_target_drains_for_the_deregistration_delay(aws, network):
    ec2, elb = aws("ec2"), aws("elbv2")
    instance_ids = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-03cf127a", MinCount=2, MaxCount=2, SubnetId=network["subnets"][0]
        )["Instances"]
    ]
    arn = elb.create_target_group(
        Name=unique("tg")[:32], Protocol="HTTP", Port=80, VpcId=network["vpc_id"]
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
    )
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in instance_ids])

    def states(**kwargs: Any) -> dict[str, tuple[str, str | None]]:
        found = elb.describe_target_health(TargetGroupArn=arn, **kwargs)
        return {
            d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
            for d in found["TargetHealthDescriptions"]
        }

    first, second = instance_ids
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": first}])
    draining = ("draining", "Target.DeregistrationInProgress")
    # Still listed while it drains, asked for by id or not.
    assert states() == {first: draining, second: ("healthy", None)}
    assert states(Targets=[{"Id": first}]) == {first: draining}
    # Registered again while draining: back in service at once.
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": first}])
    assert states()[first] == ("healthy", None)
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": first}])
    assert states()[first] == draining
    time.sleep(2.2)
    assert states() == {second: ("healthy", None)}
    assert states(Targets=[{"Id": first}]) == {first: ("unused", "Target.NotRegistered")}


# --- IAM enforced for instance roles, credentials from the instance's metadata ----------------


@pytest.fixture(scope="module")
def host_role(aws, network) -> dict[str, Any]:
    """An instance whose profile's role may read one table and write under one bucket prefix,
    launched IMDSv2-only: what a web host of the platform is, in small."""
    iam, ec2, s3, ddb = aws("iam"), aws("ec2"), aws("s3"), aws("dynamodb")
    name = unique("host")
    bucket = f"{name}-media"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    tables = []
    for table in (f"{name}-sessions", f"{name}-other"):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        tables.append(table)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{tables[0]}",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/hls/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": "hls/*"}},
            },
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    instance = ec2.run_instances(
        ImageId="ami-03cf127a",
        MinCount=1,
        MaxCount=1,
        SubnetId=network["subnets"][0],
        UserData="#cloud-config\n",
        IamInstanceProfile={"Name": name},
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
    )["Instances"][0]
    return {"name": name, "bucket": bucket, "tables": tables, "instance": instance["InstanceId"]}


def imds(emulator, instance_id: str, path: str, token: str | None = None, method: str = "GET"):
    import urllib.error
    import urllib.request

    url = f"{emulator.endpoint}/moto-api/fidelity/imds/{instance_id}/{path}"
    headers = {"X-aws-ec2-metadata-token": token} if token else {}
    if method == "PUT":
        headers = {"X-aws-ec2-metadata-token-ttl-seconds": "300"}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


@pytest.fixture(scope="module")
def host_session(emulator, host_role):
    """boto3 as a host gets it: botocore's own IMDS provider, pointed at the instance's endpoint."""
    import os

    import boto3
    import botocore.session

    endpoint = f"{emulator.endpoint}/moto-api/fidelity/imds/{host_role['instance']}"
    saved = {k: os.environ.pop(k, None) for k in list(os.environ) if k.startswith("AWS_")}
    os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = endpoint
    try:
        core = botocore.session.Session()
        credentials = core.get_credentials().get_frozen_credentials()
        assert core.get_credentials().method == "iam-role"
    finally:
        os.environ.pop("AWS_EC2_METADATA_SERVICE_ENDPOINT", None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        region_name="eu-west-1",
    )
    return lambda service: session.client(service, endpoint_url=emulator.endpoint)


def test_imds_requires_a_token_on_an_imdsv2_instance(emulator, host_role):
    instance = host_role["instance"]
    assert imds(emulator, instance, "latest/meta-data/instance-id")[0] == 401
    status, token = imds(emulator, instance, "latest/api/token", method="PUT")
    assert status == 200 and token
    assert imds(emulator, instance, "latest/meta-data/instance-id", token) == (200, instance)
    status, name = imds(emulator, instance, "latest/meta-data/iam/security-credentials/", token)
    assert (status, name) == (200, host_role["name"])
    status, body = imds(
        emulator, instance, f"latest/meta-data/iam/security-credentials/{name}", token
    )
    credentials = json.loads(body)
    assert credentials["AccessKeyId"].startswith("ASIA") and credentials["Token"]
    assert imds(emulator, instance, "latest/user-data", token) == (200, "#cloud-config\n")
    assert imds(emulator, instance, "latest/meta-data/instance-id", "forged")[0] == 401


def test_instance_role_calls_are_decided_by_its_policy(host_session, host_role):
    ddb, s3 = host_session("dynamodb"), host_session("s3")
    sessions, other = host_role["tables"]
    ddb.put_item(TableName=sessions, Item={"pk": {"S": "a"}})
    assert ddb.get_item(TableName=sessions, Key={"pk": {"S": "a"}})["Item"]
    with pytest.raises(ClientError) as err:
        ddb.get_item(TableName=other, Key={"pk": {"S": "a"}})
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"table/{other}" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        ddb.delete_item(TableName=sessions, Key={"pk": {"S": "a"}})  # not granted
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    bucket = host_role["bucket"]
    s3.put_object(Bucket=bucket, Key="hls/1/a.ts", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="sources/1/a.mp4", Body=b"x")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_dynamodb_batch_get_item_is_authorized_on_each_table(host_session, host_role):
    """BatchGetItem names no TableName: AWS checks dynamodb:BatchGetItem on every table of
    RequestItems (moto and our evaluator before this: on "table/None", refused for all)."""
    ddb = host_session("dynamodb")
    sessions, other = host_role["tables"]
    ddb.put_item(TableName=sessions, Item={"pk": {"S": "b"}})
    keys = {"Keys": [{"pk": {"S": "b"}}, {"pk": {"S": "missing"}}], "ConsistentRead": True}
    found = ddb.batch_get_item(RequestItems={sessions: keys})["Responses"][sessions]
    assert [item["pk"]["S"] for item in found] == ["b"]
    with pytest.raises(ClientError) as err:
        ddb.batch_get_item(RequestItems={sessions: keys, other: keys})
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        f"dynamodb:BatchGetItem on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/{other}"
        in (err.value.response["Error"]["Message"])
    )


def test_s3_list_and_head_bucket_are_list_bucket_with_its_prefix(host_session, host_role):
    """HeadBucket is authorized as s3:ListBucket with no s3:prefix (moto: s3:HeadBucket)."""
    s3, bucket = host_session("s3"), host_role["bucket"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="hls/", MaxKeys=1)["KeyCount"] >= 0
    for call in (
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix="sources/"),
        lambda: s3.list_objects_v2(Bucket=bucket),
        lambda: s3.head_bucket(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] in ("AccessDenied", "403")


def test_s3_delete_objects_refuses_key_by_key(host_session, host_role, aws):
    bucket = host_role["bucket"]
    aws("s3").put_object(Bucket=bucket, Key="sources/9/a.mp4", Body=b"x")
    s3 = host_session("s3")
    s3.put_object(Bucket=bucket, Key="hls/9/a.ts", Body=b"x")
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "hls/9/a.ts"}, {"Key": "sources/9/a.mp4"}]},
    )
    assert [d["Key"] for d in result.get("Deleted", [])] == ["hls/9/a.ts"]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [
        ("sources/9/a.mp4", "AccessDenied")
    ]
    left = aws("s3").list_objects_v2(Bucket=bucket, Prefix="sources/9/")["KeyCount"]
    assert left == 1


def test_the_operators_own_keys_are_not_checked(aws, host_role):
    """The account's own credentials (playbooks, tests) act as the account: no instance policy."""
    aws("dynamodb").delete_item(TableName=host_role["tables"][1], Key={"pk": {"S": "a"}})


# The ALB as CloudFront's origin: its certificate, its hosted zone, the alias record naming it.


@pytest.fixture(scope="module")
def origin_alb(aws, network) -> dict[str, Any]:
    """An ALB with a target group, an ISSUED certificate and a public hosted zone to name it."""
    elb = aws("elbv2")
    alb = elb.create_load_balancer(Name=unique("alb")[:32], Subnets=network["subnets"])[
        "LoadBalancers"
    ][0]
    group = elb.create_target_group(
        Name=unique("tg")[:32], Protocol="HTTP", Port=80, VpcId=network["vpc_id"]
    )["TargetGroups"][0]
    zone_name = f"{unique('zone')}.test"
    zone = aws("route53").create_hosted_zone(Name=zone_name, CallerReference=unique("ref"))
    certificate, key = self_signed([f"*.{zone_name}"])
    issued = aws("acm").import_certificate(Certificate=certificate, PrivateKey=key)
    return {
        "alb": alb,
        "forward": [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        "zone_id": zone["HostedZone"]["Id"].split("/")[-1],
        "zone_name": zone_name,
        "issued": issued["CertificateArn"],
    }


def test_alb_reports_its_regions_hosted_zone(origin_alb):
    # eu-west-1's Application Load Balancer zone (AWS General Reference, ELB endpoints).
    assert origin_alb["alb"]["CanonicalHostedZoneId"] == "Z32O12XQLNTSW2"


def test_https_listener_wants_an_issued_acm_certificate(aws, origin_alb):
    elb, acm = aws("elbv2"), aws("acm")
    pending = acm.request_certificate(DomainName=f"pending.{origin_alb['zone_name']}")
    missing = pending["CertificateArn"].rsplit("/", 1)[0] + f"/{uuid.uuid4()}"

    def listen(certificate_arn: str) -> dict[str, Any]:
        return elb.create_listener(
            LoadBalancerArn=origin_alb["alb"]["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": certificate_arn}],
            DefaultActions=origin_alb["forward"],
        )["Listeners"][0]

    for arn, code, words in [
        (missing, "CertificateNotFound", f"Certificate '{missing}' not found"),
        (pending["CertificateArn"], "UnsupportedCertificate", "must have a fully-qualified"),
    ]:
        with pytest.raises(ClientError) as refused:
            listen(arn)
        assert refused.value.response["Error"]["Code"] == code
        assert words in refused.value.response["Error"]["Message"]
    listener = listen(origin_alb["issued"])
    # Nor may a listener switch to a certificate that is not issued.
    with pytest.raises(ClientError) as refused:
        elb.modify_listener(
            ListenerArn=listener["ListenerArn"],
            Certificates=[{"CertificateArn": pending["CertificateArn"]}],
        )
    assert refused.value.response["Error"]["Code"] == "UnsupportedCertificate"
    elb.delete_listener(ListenerArn=listener["ListenerArn"])


def test_alias_record_wants_an_existing_target(aws, origin_alb):
    route53, alb = aws("route53"), origin_alb["alb"]

    def alias(name: str, dns_name: str, zone: str) -> None:
        record = {
            "Name": f"{name}.{origin_alb['zone_name']}.",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": zone,
                "DNSName": dns_name,
                "EvaluateTargetHealth": False,
            },
        }
        route53.change_resource_record_sets(
            HostedZoneId=origin_alb["zone_id"],
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
        )

    gone = "gone-alb-1.eu-west-1.elb.amazonaws.com"
    for dns_name, zone, why in [
        (gone, "Z32O12XQLNTSW2", "but that target was not found"),
        (alb["DNSName"], "Z35SXDOTRQ7X7K", "does not lie within the target zone"),  # us-east-1's
        (f"nothing.{origin_alb['zone_name']}", origin_alb["zone_id"], "target was not found"),
    ]:
        with pytest.raises(ClientError) as refused:
            alias("origin", dns_name, zone)
        assert refused.value.response["Error"]["Code"] == "InvalidChangeBatch"
        assert why in refused.value.response["Error"]["Message"]
    # The balancer itself, in either form, and a record of the zone are fine targets.
    alias("origin", f"dualstack.{alb['DNSName']}.", alb["CanonicalHostedZoneId"])
    alias("plain", alb["DNSName"], alb["CanonicalHostedZoneId"])
    alias("www", f"origin.{origin_alb['zone_name']}.", origin_alb["zone_id"])


# ---------------------------------------------------------------------------------------------
# Deletions AWS finishes later: what a teardown meets
# ---------------------------------------------------------------------------------------------


def interfaces_in(ec2, name: str, value: str) -> list[dict[str, Any]]:
    found = ec2.describe_network_interfaces(Filters=[{"Name": name, "Values": [value]}])
    return found["NetworkInterfaces"]


@pytest.fixture
def public_vpc(aws) -> dict[str, Any]:
    """A VPC of its own (its subnets are deleted) with two subnets, a group and an attached
    internet gateway."""
    ec2 = aws("ec2")
    vpc = _vpc(ec2, 93)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc["vpc_id"])
    return vpc | {"igw": igw}


def test_versioned_bucket_is_not_deleted_while_versions_or_delete_markers_remain(aws):
    """moto already answers as S3 does (no fix): DeleteBucket on a versioned bucket answers
    BucketNotEmpty while any object version or delete marker remains."""
    s3, name = aws("s3"), unique("versioned")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="a", Body=b"1")
    s3.delete_object(Bucket=name, Key="a")  # a delete marker over the version
    listing = s3.list_object_versions(Bucket=name)
    (version,), (marker,) = listing["Versions"], listing["DeleteMarkers"]
    for left in (version, marker):
        assert error_of(lambda: s3.delete_bucket(Bucket=name))[0] == "BucketNotEmpty"
        s3.delete_object(Bucket=name, Key="a", VersionId=left["VersionId"])
    s3.delete_bucket(Bucket=name)


def test_s3_access_logs_in_flight_land_after_logging_stops(aws, aws_timings):
    s3, source, target = aws("s3"), unique("src"), unique("logs")
    for bucket in (source, target):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{target}/s3/*",
    }
    s3.put_bucket_policy(Bucket=target, Policy=tls_only_policy(target, grant))
    logging_on = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "s3/"}}
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=logging_on)
    s3.put_object(Bucket=source, Key="k", Body=b"x")
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    s3.delete_object(Bucket=source, Key="k")

    def empty_and_delete() -> None:
        listing = s3.list_object_versions(Bucket=target)
        for item in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
            s3.delete_object(Bucket=target, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=target)

    # Logging is off, the source quiet: the records of its requests still arrive.
    assert error_of(empty_and_delete)[0] == "BucketNotEmpty"
    for _attempt in range(5):
        try:
            empty_and_delete()
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "BucketNotEmpty"
    assert target not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_instance_network_interface_is_deleted_with_the_instance(aws, network):
    ec2 = aws("ec2")
    (instance,) = ec2.run_instances(
        ImageId="ami-03cf127a", MinCount=1, MaxCount=1, SubnetId=network["subnets"][1]
    )["Instances"]
    (nic,) = instance["NetworkInterfaces"]
    assert nic["Attachment"]["DeleteOnTermination"] is True
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    assert interfaces_in(ec2, "network-interface-id", nic["NetworkInterfaceId"]) == []


def test_nat_gateway_is_deleting_while_it_holds_its_interface_and_address(
    aws, public_vpc, aws_timings
):
    ec2, subnet = aws("ec2"), public_vpc["subnets"][0]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway_id = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"][
        "NatGatewayId"
    ]
    (eni,) = interfaces_in(ec2, "subnet-id", subnet)
    assert eni["RequesterManaged"] is True and eni["Status"] == "in-use"
    assert (eni["InterfaceType"], eni["Description"]) == (
        "nat_gateway",
        f"Interface for NAT Gateway {gateway_id}",
    )

    def state() -> str:
        return ec2.describe_nat_gateways(NatGatewayIds=[gateway_id])["NatGateways"][0]["State"]

    ec2.delete_nat_gateway(NatGatewayId=gateway_id)
    ec2.delete_nat_gateway(NatGatewayId=gateway_id)  # again: still deleting
    assert state() == "deleting"
    refusals = {
        "delete subnet": lambda: ec2.delete_subnet(SubnetId=subnet),
        "detach gateway": lambda: ec2.detach_internet_gateway(
            InternetGatewayId=public_vpc["igw"], VpcId=public_vpc["vpc_id"]
        ),
        "release address": lambda: ec2.release_address(AllocationId=allocation),
    }
    assert {what: error_of(call)[0] for what, call in refusals.items()} == {
        "delete subnet": "DependencyViolation",
        "detach gateway": "DependencyViolation",
        "release address": "InvalidIPAddress.InUse",
    }
    time.sleep(60 / 180 + 0.2)
    assert state() == "deleted"
    assert interfaces_in(ec2, "subnet-id", subnet) == []
    for call in refusals.values():
        call()


def test_load_balancer_interfaces_linger_after_it_is_deleted(aws, public_vpc, aws_timings):
    ec2, elb = aws("ec2"), aws("elbv2")
    group, subnets = public_vpc["group_id"], public_vpc["subnets"]
    balancer = elb.create_load_balancer(
        Name=unique("alb")[:32], Subnets=subnets, SecurityGroups=[group]
    )["LoadBalancers"][0]
    enis = interfaces_in(ec2, "vpc-id", public_vpc["vpc_id"])
    name, balancer_id = balancer["LoadBalancerArn"].split("/")[-2:]
    assert sorted(e["SubnetId"] for e in enis) == sorted(subnets)
    for eni in enis:
        assert eni["RequesterManaged"] is True and eni["RequesterId"] == "amazon-elb"
        assert eni["Description"] == f"ELB app/{name}/{balancer_id}"
        assert [g["GroupId"] for g in eni["Groups"]] == [group]
        assert eni["Status"] == "in-use" and eni["Association"]["PublicIp"]

    elb.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
    refusals = {
        "delete subnet": lambda: ec2.delete_subnet(SubnetId=subnets[0]),
        "delete group": lambda: ec2.delete_security_group(GroupId=group),
        "detach gateway": lambda: ec2.detach_internet_gateway(
            InternetGatewayId=public_vpc["igw"], VpcId=public_vpc["vpc_id"]
        ),
    }
    codes = {what: error_of(call) for what, call in refusals.items()}
    assert codes == {
        "delete subnet": (
            "DependencyViolation",
            f"The subnet '{subnets[0]}' has dependencies and cannot be deleted.",
        ),
        "delete group": ("DependencyViolation", f"resource {group} has a dependent object"),
        "detach gateway": (
            "DependencyViolation",
            f"Network {public_vpc['vpc_id']} has some mapped public address(es). Please unmap"
            " those public address(es) before detaching the gateway.",
        ),
    }
    time.sleep(180 / 180 + 0.3)
    assert interfaces_in(ec2, "vpc-id", public_vpc["vpc_id"]) == []
    for call in refusals.values():
        call()


def test_sqs_queue_name_is_reusable_60_seconds_after_delete(aws, aws_timings):
    sqs, name = aws("sqs"), unique("queue")
    sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName=name)["QueueUrl"])
    code, message = error_of(lambda: sqs.create_queue(QueueName=name))
    assert code == "AWS.SimpleQueueService.QueueDeletedRecently"
    assert "wait 60 seconds" in message
    time.sleep(60 / 180 + 0.2)
    sqs.create_queue(QueueName=name)


# --- Target health from real health checks; Auto Scaling acting on it --------------------------


class HealthHost:
    """A host's health check endpoint on 127.0.0.1: answers ``status`` after ``delay`` s."""

    def __init__(self) -> None:
        import http.server
        import threading

        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(host.delay)
                self.send_response(host.status if self.path == "/healthz" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.status, self.delay = 200, 0.0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def health_host():
    host = HealthHost()
    yield host
    host.close()


def declare_hosts(emulator, hosts: dict[str, Any]) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/fidelity/hosts",
        data=json.dumps(hosts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def checked_target_group(elb, network, **settings: Any) -> str:
    """A target group checking GET /healthz every 5 s (AWS's shortest interval)."""
    return elb.create_target_group(
        Name=unique("tg")[:32],
        Protocol="HTTP",
        Port=80,
        VpcId=network["vpc_id"],
        HealthCheckPath="/healthz",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
        **settings,
    )["TargetGroups"][0]["TargetGroupArn"]


def target_health(elb, arn: str) -> dict[str, tuple[str, str | None, str | None]]:
    found = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {
        d["Target"]["Id"]: (
            d["TargetHealth"]["State"],
            d["TargetHealth"].get("Reason"),
            d["TargetHealth"].get("Description"),
        )
        for d in found
    }


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.25)
    return found


def test_hosts_endpoint_takes_loopback_addresses_only(emulator):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        declare_hosts(emulator, {"i-0123456789abcdef0": {"80": "10.1.2.3:80"}})
    assert refused.value.code == 400


def test_target_health_is_the_declared_hosts_real_health_check(aws, emulator, network, health_host):
    ec2, elb = aws("ec2"), aws("elbv2")
    checked, unchecked = (
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-03cf127a", MinCount=2, MaxCount=2, SubnetId=network["subnets"][0]
        )["Instances"]
    )
    arn = checked_target_group(elb, network)
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": checked}, {"Id": unchecked}])
    health_host.delay = 1.5  # the first check is still under way when we look
    declare_hosts(emulator, {checked: {"80": health_host.address}})
    try:
        states = target_health(elb, arn)
        assert states[checked][:2] == ("initial", "Elb.RegistrationInProgress")
        assert states[unchecked] == ("healthy", None, None)  # no host declared: moto's answer
        # One passed check makes a new target healthy.
        wait_until(lambda: target_health(elb, arn)[checked][0] == "healthy", 10, "healthy")
        health_host.delay, health_host.status = 0.0, 503
        # UnhealthyThresholdCount (2) failed checks, 5 s apart.
        state = wait_until(
            lambda: (s := target_health(elb, arn)[checked])[0] == "unhealthy" and s, 20, "unhealthy"
        )
        assert state == (
            "unhealthy",
            "Target.ResponseCodeMismatch",
            "Health checks failed with these codes: [503]",
        )
        health_host.status = 200
        # HealthyThresholdCount (2) passed checks.
        started = time.monotonic()
        wait_until(lambda: target_health(elb, arn)[checked][0] == "healthy", 20, "healthy again")
        assert time.monotonic() - started > 4, "healthy again after one check, not two"
    finally:
        declare_hosts(emulator, {checked: None})


def test_auto_scaling_replaces_what_its_target_group_finds_unhealthy_after_the_grace_period(
    aws, emulator, network, launch_template, health_host
):
    autoscaling, elb = aws("autoscaling"), aws("elbv2")
    arn = checked_target_group(elb, network)
    elb.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "60"}],
    )
    name, grace = unique("asg"), 12
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": launch_template["name"], "Version": "$Latest"},
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        VPCZoneIdentifier=",".join(network["subnets"]),
        TargetGroupARNs=[arn],
        HealthCheckType="ELB",
        HealthCheckGracePeriod=grace,
    )
    autoscaling.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["ReplaceUnhealthy"])
    launched = time.monotonic()

    def instances() -> dict[str, str]:
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]
        return {i["InstanceId"]: i["HealthStatus"] for i in group["Instances"]}

    (first,) = instances()
    health_host.status = 500  # the host never serves
    declare_hosts(emulator, {first: {"80": health_host.address}})
    try:
        wait_until(lambda: target_health(elb, arn)[first][0] == "unhealthy", 20, "unhealthy")
        if time.monotonic() - launched < grace - 1:
            assert instances() == {first: "Healthy"}, "marked Unhealthy within the grace period"
        # After the grace period: marked Unhealthy, but ReplaceUnhealthy is suspended.
        wait_until(lambda: instances() == {first: "Unhealthy"}, 20, "marked Unhealthy")
        assert time.monotonic() - launched >= grace - 1
        time.sleep(1.5)
        assert instances() == {first: "Unhealthy"}, "replaced while ReplaceUnhealthy is suspended"
        autoscaling.resume_processes(
            AutoScalingGroupName=name, ScalingProcesses=["ReplaceUnhealthy"]
        )
        replaced = wait_until(lambda: first not in instances() and instances(), 10, "replaced")
        assert len(replaced) == 1
        (state,) = aws("ec2").describe_instances(InstanceIds=[first])["Reservations"][0][
            "Instances"
        ]
        assert state["State"]["Name"] in ("shutting-down", "terminated")
        states = target_health(elb, arn)
        assert states[first][:2] == ("draining", "Target.DeregistrationInProgress")
        assert set(states) == {first, *replaced}
    finally:
        declare_hosts(emulator, {first: None})
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_auto_scaling_deregisters_the_instances_it_terminates(aws, network, launch_template):
    autoscaling, elb = aws("autoscaling"), aws("elbv2")
    arn = elb.create_target_group(
        Name=unique("tg")[:32], Protocol="HTTP", Port=80, VpcId=network["vpc_id"]
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "60"}],
    )
    name = unique("asg")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": launch_template["name"], "Version": "$Latest"},
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(network["subnets"]),
        TargetGroupARNs=[arn],
    )

    def members() -> set[str]:
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]
        return {i["InstanceId"] for i in group["Instances"]}

    try:
        first, second = sorted(members())
        autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=first, ShouldDecrementDesiredCapacity=False
        )
        (replacement,) = members() - {second}
        draining = ("draining", "Target.DeregistrationInProgress")
        states = target_health(elb, arn)
        assert states[first][:2] == draining
        assert states[second][0] == states[replacement][0] == "healthy"
        # Scale-in: the instance it removes leaves the target group too.
        autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
        (kept,) = members()
        (removed,) = {second, replacement} - {kept}
        states = target_health(elb, arn)
        assert states[removed][:2] == draining and states[kept][0] == "healthy"
    finally:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_secretsmanager_current_value_follows_the_awscurrent_label(aws):
    """A rotation's finish step moves AWSCURRENT: GetSecretValue then returns that version."""
    secrets = aws("secretsmanager")
    name = unique("rotation")
    secrets.create_secret(Name=name, SecretString="old")
    pending = secrets.put_secret_value(
        SecretId=name, SecretString="new", VersionStages=["AWSPENDING"]
    )["VersionId"]
    current = secrets.describe_secret(SecretId=name)["VersionIdsToStages"]
    (old,) = [v for v, stages in current.items() if "AWSCURRENT" in stages]
    secrets.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=old
    )
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "new"
    assert (
        secrets.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "old"
    )


def test_secretsmanager_lists_each_version_with_its_own_creation_date(aws):
    """ListSecretVersionIds dates each version as GetSecretValue does, not at the request's time:
    the rotation module dates the current login from it."""
    secrets = aws("secretsmanager")
    name = unique("versions")
    first = secrets.create_secret(Name=name, SecretString="old")["VersionId"]
    time.sleep(1.1)  # the API's dates have a resolution of one second
    second = secrets.put_secret_value(SecretId=name, SecretString="new")["VersionId"]
    time.sleep(1.1)
    listed = {
        v["VersionId"]: v["CreatedDate"]
        for v in secrets.list_secret_version_ids(SecretId=name)["Versions"]
    }
    for version in (first, second):
        got = secrets.get_secret_value(SecretId=name, VersionId=version)["CreatedDate"]
        assert listed[version] == got, version
    assert listed[first] < listed[second] < datetime.now(UTC) - timedelta(seconds=1)


# --- Web identity federation: AssumeRoleWithWebIdentity --------------------------------------


def test_web_identity_needs_the_provider_the_audience_and_the_trust_policy(aws):
    """A CI job's token buys the role's credentials only from a registered issuer, for one of
    its audiences, unexpired, within the role's session limit and as its trust policy says."""
    from tests.harness.web_identity import token

    iam, sts = aws("iam"), aws("sts")
    host = f"{unique('oidc')}.test"
    iam.create_open_id_connect_provider(
        Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{host}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{host}:sub": "repo:octo/app:environment:staging"},
                },
            }
        ],
    }
    role = iam.create_role(
        RoleName=unique("ci"), AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600
    )["Role"]["Arn"]

    def assume(jwt: str, **kwargs):
        return sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ci", WebIdentityToken=jwt, **kwargs
        )

    good = token(f"https://{host}", "repo:octo/app:environment:staging")
    assert assume(good)["Credentials"]["AccessKeyId"].startswith("ASIA")
    refusals = {
        "AccessDenied": [
            token(f"https://{host}", "repo:octo/app:environment:production"),
            token(f"https://{host}", "repo:other/app:environment:staging"),
            token(f"https://{host}", "repo:octo/app:pull_request"),
        ],
        "InvalidIdentityToken": [
            token(f"https://{host}", "repo:octo/app:environment:staging", audience="other"),
            token("https://unknown.test", "repo:octo/app:environment:staging"),
            "not-a-jwt",
        ],
        "ExpiredTokenException": [
            token(f"https://{host}", "repo:octo/app:environment:staging", ttl=-1)
        ],
    }
    for code, tokens in refusals.items():
        for jwt in tokens:
            with pytest.raises(ClientError) as refused:
                assume(jwt)
            assert refused.value.response["Error"]["Code"] == code, jwt
    with pytest.raises(ClientError) as too_long:
        assume(good, DurationSeconds=7200)
    assert too_long.value.response["Error"]["Code"] == "ValidationError"


ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "403"}


def test_iam_names_the_resources_a_deploy_role_calls_on_as_aws_does(aws, emulator):
    """A role scoped to its environment's name prefix is allowed its own queues, secrets,
    parameters, table tags and alarms, and refused another prefix's (the emulator named the
    resource of CreateQueue, CreateSecret, tagging and alarm calls wrongly, refusing what AWS
    allows, or failed on them)."""
    import boto3

    iam, sts = aws("iam"), aws("sts")
    mine, other = unique("dep"), unique("oth")
    region_account = "eu-west-1:123456789012"
    scoped = {
        "sqs:CreateQueue": f"arn:aws:sqs:{region_account}:{mine}-*",
        "secretsmanager:CreateSecret": f"arn:aws:secretsmanager:{region_account}:secret:{mine}/*",
        "secretsmanager:DescribeSecret": f"arn:aws:secretsmanager:{region_account}:secret:{mine}/*",
        "ssm:PutParameter": f"arn:aws:ssm:{region_account}:parameter/{mine}/*",
        "ssm:AddTagsToResource": f"arn:aws:ssm:{region_account}:parameter/{mine}/*",
        "dynamodb:ListTagsOfResource": f"arn:aws:dynamodb:{region_account}:table/{mine}-*",
        "cloudwatch:PutMetricAlarm": f"arn:aws:cloudwatch:{region_account}:alarm:{mine}-*",
        "cloudwatch:DeleteAlarms": f"arn:aws:cloudwatch:{region_account}:alarm:{mine}-*",
        "ssm:GetParameter": "arn:aws:ssm:*::parameter/aws/service/*",
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": action, "Resource": resource}
            for action, resource in scoped.items()
        ]
        + [
            {
                "Effect": "Allow",
                "Action": ["sqs:ListQueues", "logs:PutDeliverySource", "route53:ListHostedZones"],
                "Resource": "*",
            }
        ],
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=mine, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=mine, PolicyName="scoped", PolicyDocument=json.dumps(policy))
    for prefix in (mine, other):
        aws("dynamodb").create_table(
            TableName=f"{prefix}-t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        aws("ssm").put_parameter(Name=f"/{prefix}/p", Value="v", Type="String")
    credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ci")["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="eu-west-1",
    )

    def missing(call):
        """A call on a resource that is not there: allowed, it answers that it is not found."""
        try:
            call()
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def calls(prefix: str) -> dict[str, Any]:
        def client(service: str):
            return session.client(service, endpoint_url=emulator.endpoint)

        table = f"arn:aws:dynamodb:{region_account}:table/{prefix}-t"
        alarm = {
            "AlarmName": f"{prefix}-cpu",
            "Namespace": "AWS/EC2",
            "MetricName": "CPUUtilization",
            "Statistic": "Average",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 90.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        return {
            "CreateQueue": lambda: client("sqs").create_queue(QueueName=f"{prefix}-q"),
            "CreateSecret": lambda: client("secretsmanager").create_secret(
                Name=f"{prefix}/s", SecretString="x"
            ),
            "DescribeSecret": lambda: missing(
                lambda: client("secretsmanager").describe_secret(SecretId=f"{prefix}/none")
            ),
            "PutParameter": lambda: client("ssm").put_parameter(
                Name=f"/{prefix}/new", Value="v", Type="String"
            ),
            "AddTagsToResource": lambda: client("ssm").add_tags_to_resource(
                ResourceType="Parameter",
                ResourceId=f"/{prefix}/p",
                Tags=[{"Key": "a", "Value": "b"}],
            ),
            "ListTagsOfResource": lambda: client("dynamodb").list_tags_of_resource(
                ResourceArn=table
            ),
            "PutMetricAlarm": lambda: client("cloudwatch").put_metric_alarm(**alarm),
            "DeleteAlarms": lambda: client("cloudwatch").delete_alarms(
                AlarmNames=[f"{prefix}-cpu"]
            ),
        }

    for call in calls(mine).values():
        call()  # allowed: would raise otherwise
    for name, call in calls(other).items():
        with pytest.raises(ClientError) as refused:
            call()
        # CloudWatch's refusal comes back as XML, which botocore reads as the code 403.
        assert refused.value.response["Error"]["Code"] in ACCESS_DENIED, name
    public = session.client("ssm", endpoint_url=emulator.endpoint)
    debian = "/aws/service/debian/release/12/latest/amd64"
    assert public.get_parameter(Name=debian)["Parameter"]["Value"].startswith("ami-")
    session.client("sqs", endpoint_url=emulator.endpoint).list_queues()
    # A GET without a body (REST services) is checked against its empty payload's signature, a
    # query-protocol POST against its form.
    session.client("route53", endpoint_url=emulator.endpoint).list_hosted_zones()
    assert session.client("sts", endpoint_url=emulator.endpoint).get_caller_identity()["Arn"]


def test_oidc_provider_audiences_change_in_place(aws):
    iam = aws("iam")
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{unique('aud')}.test", ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="b")
    iam.remove_client_id_from_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com"
    )
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="c")
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert provider["ClientIDList"] == ["b"]


def test_iam_authorizes_create_distribution_with_tags_as_two_actions(aws, emulator):
    """CreateDistributionWithTags is no IAM action: AWS requires cloudfront:CreateDistribution
    and cloudfront:TagResource (moto's name of the call was all a policy could grant)."""
    import boto3

    iam, sts = aws("iam"), aws("sts")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    config = {
        "CallerReference": unique("tagged"),
        "Comment": "",
        "Enabled": False,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "o",
                    "DomainName": "fid-tagged.example.com",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": behaviour("o"),
    }
    tags = {"Items": [{"Key": "Environment", "Value": "fid"}]}
    outcomes = {}
    for granted in (
        ["cloudfront:CreateDistribution"],
        ["cloudfront:CreateDistribution", "cloudfront:TagResource"],
    ):
        name = unique("cf")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": granted, "Resource": "*"}],
        }
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        credentials = sts.assume_role(RoleArn=arn, RoleSessionName="ci")["Credentials"]
        cloudfront = boto3.client(
            "cloudfront",
            endpoint_url=emulator.endpoint,
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        try:
            created = cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={"DistributionConfig": config, "Tags": tags}
            )
            outcomes[len(granted)] = "created"
            aws("cloudfront").delete_distribution(
                Id=created["Distribution"]["Id"], IfMatch=created["ETag"]
            )
        except ClientError as err:
            outcomes[len(granted)] = err.response["ResponseMetadata"]["HTTPStatusCode"]
    assert outcomes[1] == 403, outcomes
    assert outcomes[2] == "created", outcomes
