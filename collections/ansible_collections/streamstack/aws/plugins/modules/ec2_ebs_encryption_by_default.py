#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_ebs_encryption_by_default
version_added: 0.1.0
short_description: Turn EBS encryption by default on or off in an account's region
description:
  - Manages the account's EBS encryption by default in one region, which no amazon.aws or
    community.aws module covers. Turned on, every EBS volume created in the region from then on
    is encrypted (with the account's default EBS key, AWS's C(aws/ebs) unless changed), including
    the root volumes of instances whose launch settings cannot ask for encryption (Elastic
    Beanstalk's); volumes that exist are left as they are.
  - An account-wide setting of the region, not a resource - nothing deletes it.
  - Idempotent - reads C(GetEbsEncryptionByDefault) and calls C(EnableEbsEncryptionByDefault) or
    C(DisableEbsEncryptionByDefault) only when the state differs.
author:
  - StreamStack contributors
options:
  enabled:
    description:
      - Whether new EBS volumes in the region are encrypted by default.
    type: bool
    default: true
notes:
  - Supports C(check_mode) and C(diff).
  - IAM - C(ec2:GetEbsEncryptionByDefault), and C(ec2:EnableEbsEncryptionByDefault) or
    C(ec2:DisableEbsEncryptionByDefault) to change it (resource C(*)).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: New volumes in the region are encrypted
  streamstack.aws.ec2_ebs_encryption_by_default:
    enabled: true

- name: Only check that they are (change nothing)
  streamstack.aws.ec2_ebs_encryption_by_default:
    enabled: true
  check_mode: true
  register: ebs_default
  failed_when: ebs_default is changed
"""

RETURN = r"""
enabled:
  description: Whether EBS encryption by default is on in the region after the task.
  returned: always
  type: bool
  sample: true
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(enabled=dict(type="bool", default=True)),
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    wanted = module.params["enabled"]
    try:
        current = aws_call("read EBS encryption by default", client.get_ebs_encryption_by_default)[
            "EbsEncryptionByDefault"
        ]
        changed = current != wanted
        if changed and not module.check_mode:
            if wanted:
                aws_call(
                    "turn EBS encryption by default on", client.enable_ebs_encryption_by_default
                )
            else:
                aws_call(
                    "turn EBS encryption by default off", client.disable_ebs_encryption_by_default
                )
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    module.exit_json(
        changed=changed,
        enabled=wanted if changed and not module.check_mode else current,
        **diff_result(module, {"enabled": current}, {"enabled": wanted}),
    )


if __name__ == "__main__":
    main()
