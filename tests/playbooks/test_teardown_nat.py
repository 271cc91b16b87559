"""The teardown's NAT gateway tasks (playbooks/teardown/ec2_vpc_nat_gateway.yml) against the
emulator at AWS's timings, scaled (the modules a teardown runs are tested in
collections/ansible_collections/streamstack/aws/tests/integration/test_teardown_modules.py)."""

from __future__ import annotations

import uuid

from tests.conftest import ROOT


def unique(prefix: str) -> str:
    return f"td-{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_nat_gateway_left_deleting_by_an_interrupted_teardown_gives_its_address_back(
    aws, playbook, emulator
):
    """The gateway is deleting (a teardown was interrupted): the next teardown finds no gateway
    to delete, and releases the address once AWS has disassociated it."""
    emulator.timing(1 / 10)  # deleting for 6 s: the release is refused meanwhile
    ec2 = aws("ec2")
    tags = {"Project": unique("nat")}
    tagging = [{"Key": key, "Value": value} for key, value in tags.items()]
    vpc_id = ec2.create_vpc(CidrBlock="10.96.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.96.0.0/24")["Subnet"]["SubnetId"]
    allocation_id = ec2.allocate_address(
        Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tagging}]
    )["AllocationId"]
    nat_id = ec2.create_nat_gateway(
        SubnetId=subnet_id,
        AllocationId=allocation_id,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": tagging}],
    )["NatGateway"]["NatGatewayId"]
    try:
        ec2.delete_nat_gateway(NatGatewayId=nat_id)
        result = playbook(
            ROOT / "tests" / "playbooks" / "teardown_nat.yml",
            extra_vars={
                # retried every second, as the plan derives it, for up to 60 s
                "platform_tags": tags,
                "_teardown_retry_delay": 1,
                "teardown_dependency_timeout": 60,
            },
        )
    finally:
        emulator.timing(0)
    assert result.ok, result.messages()
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    assert ec2.describe_addresses(Filters=filters)["Addresses"] == []
