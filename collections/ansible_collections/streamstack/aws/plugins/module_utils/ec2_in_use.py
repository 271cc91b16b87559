# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting EC2 network resources that AWS still counts as in use.

After a load balancer, NAT gateway, instance or database is deleted, AWS releases its network
interfaces a little later (a load balancer's after minutes, a NAT gateway's once it is
``deleted``). Meanwhile DeleteSubnet, DeleteSecurityGroup and DetachInternetGateway answer
DependencyViolation: the set modules retry until a deadline, then fail naming the interfaces
still there.
"""

from __future__ import annotations

import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

# Seconds between two attempts.
IN_USE_RETRY_DELAY = 5


def interfaces_left(client, filters):
    """The network interfaces a filter finds, as a short text for an error message."""
    found = client.describe_network_interfaces(aws_retry=True, Filters=filters)
    return (
        ", ".join(
            f"{eni['NetworkInterfaceId']} ({eni.get('Description') or eni.get('InterfaceType')},"
            f" {eni.get('Status')})"
            for eni in found["NetworkInterfaces"]
        )
        or "none listed"
    )


def retry_while_in_use(module, client, delete, *, what, filters, deadline):
    """Calls ``delete()`` until AWS no longer answers DependencyViolation; at ``deadline`` (a
    time.monotonic() value) fails naming ``what`` and the interfaces ``filters`` finds."""
    while True:
        try:
            return delete()
        except is_boto3_error_code("DependencyViolation") as e:
            if time.monotonic() >= deadline:
                module.fail_json_aws(
                    e,
                    msg=f"{what} is still in use after waiting {module.params['wait_timeout']} s;"
                    f" network interfaces left: {interfaces_left(client, filters)}. AWS releases"
                    " those of a deleted load balancer or NAT gateway within minutes: run again"
                    " later, or remove what else still uses it.",
                )
            time.sleep(IN_USE_RETRY_DELAY)
