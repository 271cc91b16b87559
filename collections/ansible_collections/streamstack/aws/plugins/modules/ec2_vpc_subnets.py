#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_subnets
version_added: 0.2.0
short_description: Manage a set of subnets of one VPC in one task
description:
  - Creates subnets, sets their tags and public-IP mapping, or deletes them - several subnets in
    one module call, where M(amazon.aws.ec2_vpc_subnet) needs one call (one Python start-up, one
    boto3 import) per subnet.
  - A subnet is identified by its VPC and CIDR block. Idempotent - reads the VPC's subnets with
    one C(DescribeSubnets) request and changes only what differs.
  - The zone of an existing subnet cannot change; the task fails naming the subnet instead.
author:
  - StreamStack contributors (@streamstack)
options:
  vpc_id:
    description: ID of the VPC.
    type: str
    required: true
  subnets:
    description: The subnets.
    type: list
    elements: dict
    required: true
    suboptions:
      cidr:
        description: IPv4 CIDR block of the subnet, inside the VPC's block.
        type: str
        required: true
      az:
        description: Availability zone; AWS picks one when omitted.
        type: str
      map_public:
        description: Whether instances launched in the subnet get a public IPv4 address.
        type: bool
        default: false
      tags:
        description: Tags of the subnet. V(null) leaves the tags alone.
        type: dict
        aliases: [resource_tags]
  purge_tags:
    description: Whether tags not in O(subnets[].tags) are removed.
    type: bool
    default: true
  wait:
    description: Whether to wait until new subnets are C(available).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for new subnets, or with O(state=absent), to retry deleting subnets AWS
        still counts as in use (C(DependencyViolation)) - the network interfaces of a load
        balancer or NAT gateway just deleted stay for minutes. The task then fails naming the
        interfaces left.
    type: int
    default: 300
  state:
    description:
      - V(present) creates or updates the subnets, V(absent) deletes them (nothing may run in
        them any more).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff) (zone, public-IP mapping and tags, keyed by CIDR).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Public and private subnets in two zones
  streamstack.aws.ec2_vpc_subnets:
    vpc_id: vpc-0123456789abcdef0
    subnets:
      - {cidr: 10.40.0.0/24, az: eu-west-1a, tags: {Name: stream-public-a, Tier: public}}
      - {cidr: 10.40.1.0/24, az: eu-west-1b, tags: {Name: stream-public-b, Tier: public}}
      - {cidr: 10.40.10.0/24, az: eu-west-1a, tags: {Name: stream-private-a, Tier: private}}
      - {cidr: 10.40.11.0/24, az: eu-west-1b, tags: {Name: stream-private-b, Tier: private}}
  register: subnets

- name: Their IDs, in the order given
  ansible.builtin.debug:
    msg: "{{ subnets.subnets | map(attribute='id') }}"
"""

RETURN = r"""
subnets:
  description:
    - The subnets after the task, in the order given (empty with O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Subnet ID (not known in check mode before the subnet exists).
      type: str
      sample: subnet-0123456789abcdef0
    subnet_id:
      description: The same ID, under the name C(DescribeSubnets) uses.
      type: str
    cidr_block:
      description: IPv4 CIDR block.
      type: str
      sample: 10.40.0.0/24
    availability_zone:
      description: Zone.
      type: str
      sample: eu-west-1a
    map_public_ip_on_launch:
      description: Whether instances get a public IPv4 address.
      type: bool
    tags:
      description: Tags.
      type: dict
created:
  description: CIDR blocks of the subnets created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: CIDR blocks of the subnets whose tags or public-IP mapping changed (or would).
  returned: always
  type: list
  elements: str
deleted:
  description: CIDR blocks of the subnets deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.amazon.aws.plugins.module_utils.waiters import get_waiter
from ansible_collections.streamstack.aws.plugins.module_utils.ec2_in_use import (
    retry_while_in_use,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import (
    exit_absent,
    exit_present,
    require_unique,
)
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    ec2_tag_calls,
    planned_tags,
    sync_tags,
)

EC2_ERRORS = error_handler("InvalidSubnetID.NotFound")


@EC2_ERRORS.common_error_handler("describe the subnets of {vpc_id}")
def describe(client, vpc_id):
    """The VPC's subnets keyed by CIDR block, tags as a dict."""
    pages = client.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    found = {}
    for subnet in pages.build_full_result()["Subnets"]:
        subnet["Tags"] = boto3_tag_list_to_ansible_dict(subnet.get("Tags") or [])
        found[subnet["CidrBlock"]] = subnet
    return found


def view(subnet):
    return {
        "az": subnet.get("AvailabilityZone"),
        "map_public": bool(subnet.get("MapPublicIpOnLaunch")),
        "tags": subnet.get("Tags", {}),
    }


def wanted_view(module, spec, current):
    tags = planned_tags((current or {}).get("Tags", {}), spec["tags"], module.params["purge_tags"])
    az = spec["az"] or (current or {}).get("AvailabilityZone")
    return {"az": az, "map_public": spec["map_public"], "tags": tags}


def to_result(subnet):
    result = camel_dict_to_snake_dict(subnet, ignore_list=["Tags"])
    result["id"] = subnet.get("SubnetId")
    return result


def create(client, vpc_id, spec):
    request = {"VpcId": vpc_id, "CidrBlock": spec["cidr"]}
    if spec["az"]:
        request["AvailabilityZone"] = spec["az"]
    if spec["tags"]:
        request["TagSpecifications"] = [
            {"ResourceType": "subnet", "Tags": ansible_dict_to_boto3_tag_list(spec["tags"])}
        ]
    subnet = client.create_subnet(aws_retry=True, **request)["Subnet"]
    if spec["map_public"]:
        client.modify_subnet_attribute(
            aws_retry=True, SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True}
        )
    return subnet["SubnetId"]


def update(module, client, spec, current):
    """Changes the tags and mapping of one subnet; returns whether anything changed."""
    changed = False
    subnet_id = current["SubnetId"]
    if bool(current.get("MapPublicIpOnLaunch")) != spec["map_public"]:
        changed = True
        if not module.check_mode:
            client.modify_subnet_attribute(
                aws_retry=True,
                SubnetId=subnet_id,
                MapPublicIpOnLaunch={"Value": spec["map_public"]},
            )
    return (
        sync_tags(
            module,
            current.get("Tags", {}),
            spec["tags"],
            module.params["purge_tags"],
            **ec2_tag_calls(client, subnet_id),
        )
        or changed
    )


@EC2_ERRORS.common_error_handler("create or update subnet {cidr} of {vpc_id}")
def apply(module, client, vpc_id, cidr, spec, current, new_ids):
    if current is None:
        if not module.check_mode:
            new_ids.append(create(client, vpc_id, spec))
        return True
    return update(module, client, spec, current)


@EC2_ERRORS.common_error_handler("wait for subnets {subnet_ids}")
def wait_available(module, client, subnet_ids):
    if not (subnet_ids and module.params["wait"]):
        return
    delay = 5
    # EC2 is eventually consistent: DescribeSubnets may not know a new subnet for a moment
    # (InvalidSubnetID.NotFound), which fails subnet_available at once; subnet_exists retries.
    get_waiter(client, "subnet_exists").wait(
        SubnetIds=subnet_ids,
        WaiterConfig={"Delay": 2, "MaxAttempts": max(1, module.params["wait_timeout"] // 2)},
    )
    client.get_waiter("subnet_available").wait(
        SubnetIds=subnet_ids,
        WaiterConfig={
            "Delay": delay,
            "MaxAttempts": max(1, module.params["wait_timeout"] // delay),
        },
    )


@EC2_ERRORS.common_error_handler("delete subnet {cidr} of {vpc_id}")
def delete_subnet(module, client, vpc_id, cidr, subnet_id, deadline):
    retry_while_in_use(
        module,
        client,
        lambda: client.delete_subnet(aws_retry=True, SubnetId=subnet_id),
        what=f"Subnet {cidr} ({subnet_id}) of {vpc_id}",
        filters=[{"Name": "subnet-id", "Values": [subnet_id]}],
        deadline=deadline,
    )


def run(module, client):
    vpc_id = module.params["vpc_id"]
    specs = {spec["cidr"]: spec for spec in module.params["subnets"]}
    cidrs = [spec["cidr"] for spec in module.params["subnets"]]
    require_unique(module, cidrs, "subnets")
    live = describe(client, vpc_id)
    if module.params["state"] == "absent":
        deadline = time.monotonic() + module.params["wait_timeout"]
        deleted = [cidr for cidr in cidrs if cidr in live]
        exit_absent(
            module,
            "subnets",
            deleted,
            lambda cidr: delete_subnet(
                module, client, vpc_id, cidr, live[cidr]["SubnetId"], deadline
            ),
            before={cidr: view(live[cidr]) for cidr in deleted},
        )

    moved = [
        f"{cidr} is in {live[cidr]['AvailabilityZone']}, not {specs[cidr]['az']}"
        for cidr in cidrs
        if cidr in live
        and specs[cidr]["az"]
        and live[cidr]["AvailabilityZone"] != specs[cidr]["az"]
    ]
    if moved:
        module.fail_json(
            msg="The zone of an existing subnet cannot change (delete it first): "
            + "; ".join(moved)
        )

    new_ids = []

    def refresh():
        wait_available(module, client, new_ids)
        return describe(client, vpc_id)

    def planned(cidr, wanted):
        subnet_id = live.get(cidr, {}).get("SubnetId")
        return {
            "id": subnet_id,
            "subnet_id": subnet_id,
            "vpc_id": vpc_id,
            "cidr_block": cidr,
            "availability_zone": wanted["az"],
            "map_public_ip_on_launch": wanted["map_public"],
            "tags": wanted["tags"],
        }

    exit_present(
        module,
        "subnets",
        cidrs,
        live,
        apply=lambda cidr, current: apply(
            module, client, vpc_id, cidr, specs[cidr], current, new_ids
        ),
        view=view,
        wanted_view=lambda cidr, current: wanted_view(module, specs[cidr], current),
        result=to_result,
        planned=planned,
        refresh=refresh,
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            vpc_id=dict(type="str", required=True),
            subnets=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    cidr=dict(type="str", required=True),
                    az=dict(type="str"),
                    map_public=dict(type="bool", default=False),
                    tags=dict(type="dict", aliases=["resource_tags"]),
                ),
            ),
            purge_tags=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    # EC2 is eventually consistent: a subnet just created may be unknown for a moment to the
    # next call on it (ModifySubnetAttribute, CreateTags); those calls retry on NotFound.
    client = module.client(
        "ec2",
        retry_decorator=AWSRetry.jittered_backoff(
            catch_extra_error_codes=["InvalidSubnetID.NotFound"]
        ),
    )
    try:
        run(module, client)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
