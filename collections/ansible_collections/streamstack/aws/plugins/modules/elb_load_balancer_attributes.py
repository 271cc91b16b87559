#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elb_load_balancer_attributes
version_added: 0.3.0
short_description: Set attributes of an Elastic Load Balancing v2 load balancer by key
description:
  - Sets the given attributes of an Application, Network or Gateway Load Balancer
    (C(ModifyLoadBalancerAttributes)) by their AWS keys, for those that
    M(amazon.aws.elb_application_lb) has no option for, for example
    C(routing.http.xff_header_processing.mode).
  - Only the attributes given are read and compared; the others are left as they are, so this
    module and M(amazon.aws.elb_application_lb) can share a load balancer.
  - Idempotent - reads the attributes (C(DescribeLoadBalancerAttributes)) and sends only those
    that differ.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description: Name of the load balancer.
    type: str
    required: true
  attributes:
    description:
      - "Attribute keys and their values, for example
        C(routing.http.xff_header_processing.mode) V(preserve). Booleans and numbers are sent
        as AWS writes them (C(true), C(60))."
    type: dict
    required: true
notes:
  - Supports C(check_mode) and C(diff). In check mode a load balancer that does not exist yet is
    reported as changed (an earlier task creates it).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Targets see the X-Forwarded-For CloudFront sent, not the ALB's own addition
  streamstack.aws.elb_load_balancer_attributes:
    name: stream-production-alb
    attributes:
      routing.http.xff_header_processing.mode: preserve
"""

RETURN = r"""
attributes:
  description: The attributes given, with their values after the task.
  returned: always
  type: dict
  sample: {routing.http.xff_header_processing.mode: preserve}
load_balancer_arn:
  description: ARN of the load balancer (empty in check mode before it exists).
  returned: always
  type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result

ELB_ERRORS = error_handler("LoadBalancerNotFound")


def as_aws(value):
    """A value as AWS writes attribute values: booleans lower case, everything a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            attributes=dict(type="dict", required=True),
        ),
        supports_check_mode=True,
    )
    name = module.params["name"]
    wanted = {key: as_aws(value) for key, value in module.params["attributes"].items()}
    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        arn = load_balancer_arn(client, name)
        if arn is None:
            if module.check_mode:
                module.exit_json(
                    changed=True,
                    attributes=wanted,
                    load_balancer_arn="",
                    **diff_result(module, {}, wanted),
                )
            module.fail_json(msg=f"No load balancer named {name}")
        live = {
            item["Key"]: item["Value"]
            for item in aws_call(
                f"read the attributes of {name}",
                client.describe_load_balancer_attributes,
                LoadBalancerArn=arn,
            )["Attributes"]
        }
        before = {key: live.get(key) for key in wanted}
        differing = {key: value for key, value in wanted.items() if live.get(key) != value}
        if differing and not module.check_mode:
            aws_call(
                f"set the attributes of {name}",
                client.modify_load_balancer_attributes,
                LoadBalancerArn=arn,
                Attributes=[{"Key": key, "Value": value} for key, value in differing.items()],
            )
        module.exit_json(
            changed=bool(differing),
            attributes=wanted,
            load_balancer_arn=arn,
            **diff_result(module, before, wanted),
        )
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


@ELB_ERRORS.list_error_handler("find load balancer {name}")
def load_balancer_arn(client, name):
    """The load balancer's ARN, or None when there is none of that name."""
    found = client.describe_load_balancers(aws_retry=True, Names=[name])
    return found["LoadBalancers"][0]["LoadBalancerArn"]


if __name__ == "__main__":
    main()
