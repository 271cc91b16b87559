"""What a teardown meets on AWS, and a provisioning right after it, module by module
(streamstack.aws set modules): a versioned bucket with versions, delete markers, a ``null``
version and access logs still arriving; a queue name SQS refuses for 60 s after its deletion;
subnets and a security group a deleted load balancer's network interfaces still hold. The
emulator behaves as AWS does on each point at AWS's timings, scaled (the fidelity layer,
local/emulator/)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "teardown_modules.yml"
SCALE = 1 / 60  # S3 access logs in flight for 60 s instead of an hour


@pytest.fixture
def scaled(emulator):
    emulator.timing(SCALE)
    yield
    emulator.timing(0)


@pytest.fixture
def run(playbook):
    def run(**variables):
        return playbook(PLAYBOOK, extra_vars=variables)

    return run


def unique(prefix: str) -> str:
    return f"td-{prefix}-{uuid.uuid4().hex[:8]}"


def test_versioned_buckets_are_emptied_of_every_version_while_logs_keep_arriving(aws, run, scaled):
    s3, logs, media = aws("s3"), unique("logs"), unique("media")
    for bucket in (logs, media):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    # A "null" version from before versioning, which a delete by key alone would only hide.
    s3.put_object(Bucket=media, Key="before-versioning", Body=b"0")
    for bucket in (logs, media):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{logs}/*",
    }
    s3.put_bucket_policy(Bucket=logs, Policy=json.dumps({"Statement": [grant]}))
    # Versions under delete markers, and more than a page (1000 per ListObjectVersions page).
    keys = [f"hls/{i}.ts" for i in range(1200)]
    for key in keys[:3]:
        s3.put_object(Bucket=media, Key=key, Body=b"x")
    for page in (keys[:1000], keys[1000:]):
        s3.delete_objects(Bucket=media, Delete={"Objects": [{"Key": key} for key in page]})
    s3.put_bucket_logging(
        Bucket=media,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "s3/"}},
    )
    for key in keys[:3]:
        s3.put_object(Bucket=media, Key=key, Body=b"y")
    # The access logs of those requests are in flight to the log bucket: they land while it is
    # emptied and deleted.

    deleted = run(td_buckets=[media, logs])
    assert deleted.ok, deleted.messages()
    assert deleted.changed == 1
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {media, logs} & names == set()
    again = run(td_buckets=[media, logs])
    assert again.ok and again.changed == 0, again.messages()


# SQS refuses a deleted queue's name for 60 s; here 30 s, more than a playbook's start-up takes
# on a loaded machine.
NAME_REUSE_SCALE = 1 / 2


def test_a_queue_deleted_moments_ago_is_created_again_once_sqs_allows_it(aws, run, emulator):
    names = [unique("dlq"), unique("jobs")]
    assert run(td_queues=names).ok
    emulator.timing(NAME_REUSE_SCALE)
    try:
        assert run(td_queues=names, td_state="absent").changed == 1
        emulator.journal(clear=True)
        again = run(td_queues=names)  # at once, while SQS still refuses the names
    finally:
        emulator.timing(0)
    assert again.ok, again.messages()
    assert again.changed == 1
    # SQS refused the first name at least once: CreateQueue was sent more than once per queue.
    creates = [e for e in emulator.journal() if e["action"] == "CreateQueue"]
    assert len(creates) > len(names)
    for name in names:
        aws("sqs").get_queue_url(QueueName=name)


@pytest.fixture
def network(aws) -> dict:
    """A VPC with two subnets and a security group."""
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.95.0.0/16")["Vpc"]["VpcId"]
    cidrs = ["10.95.0.0/24", "10.95.1.0/24"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in zip(cidrs, ["eu-west-1a", "eu-west-1b"], strict=True)
    ]
    group = unique("alb")
    group_id = ec2.create_security_group(GroupName=group, Description="alb", VpcId=vpc_id)[
        "GroupId"
    ]
    return {"vpc_id": vpc_id, "cidrs": cidrs, "subnets": subnets, "group": group, "id": group_id}


def test_a_subnet_still_in_use_fails_naming_the_interfaces_left(aws, run, network):
    eni = aws("ec2").create_network_interface(
        SubnetId=network["subnets"][0], Description="left by someone"
    )["NetworkInterface"]["NetworkInterfaceId"]
    refused = run(td_vpc_id=network["vpc_id"], td_subnets=network["cidrs"][:1], td_timeout=0)
    assert not refused.ok
    assert f"network interfaces left: {eni} (left by someone, available)" in refused.messages()
    aws("ec2").delete_network_interface(NetworkInterfaceId=eni)


# A load balancer's interfaces stay 180 s on AWS; here 30 s, more than a playbook's start-up
# takes on a loaded machine.
LINGER_SCALE = 1 / 6


def test_subnets_and_groups_wait_until_aws_releases_a_deleted_load_balancers_interfaces(
    aws, run, emulator, network
):
    elb = aws("elbv2")
    emulator.timing(LINGER_SCALE)
    try:
        balancer = elb.create_load_balancer(
            Name=unique("lb")[:32],
            Subnets=network["subnets"],
            SecurityGroups=[network["id"]],
            Scheme="internal",
        )["LoadBalancers"][0]
        elb.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
        emulator.journal(clear=True)
        deleted = run(
            td_vpc_id=network["vpc_id"],
            td_subnets=network["cidrs"],
            td_groups=[network["group"]],
            td_timeout=120,
        )
    finally:
        emulator.timing(0)
    assert deleted.ok, deleted.messages()
    assert deleted.changed == 2
    # AWS refused while the interfaces were there: the first subnet was tried more than once.
    calls = [e["action"] for e in emulator.journal()]
    assert calls.count("DeleteSubnet") > 2 and calls.count("DeleteSecurityGroup") == 1
    ec2 = aws("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [network["vpc_id"]]}]
    assert ec2.describe_subnets(Filters=in_vpc)["Subnets"] == []
    groups = ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]
