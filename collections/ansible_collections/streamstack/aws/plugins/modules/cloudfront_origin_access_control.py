#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_origin_access_control
version_added: 0.1.0
short_description: Manage CloudFront origin access controls (OAC)
description:
  - Create, update and delete a CloudFront origin access control, the successor of origin
    access identities that lets CloudFront sign its requests to a private S3 bucket (or a
    MediaStore container, MediaPackage v2 endpoint or Lambda function URL) with SigV4.
  - The origin access control is found by its O(name), which CloudFront keeps unique in an
    account.
  - Updates and deletes use the ETag of the configuration read just before (C(IfMatch)), so a
    concurrent change makes the task fail instead of being overwritten.
  - Attach it to an origin with
    O(streamstack.aws.cloudfront_distribution#module:origins[].origin_access_control_id),
    and allow the C(cloudfront.amazonaws.com) service principal with an C(AWS:SourceArn)
    condition in the bucket policy.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description:
      - Name of the origin access control, unique in the account (at most 64 characters).
    type: str
    required: true
  description:
    description:
      - Free-form description.
    type: str
    default: ""
  origin_type:
    description:
      - The type of origin the control is used with.
      - CloudFront does not allow an origin access control to be used with a different type of
        origin, so choose the type of the origins it will sign for.
    type: str
    choices: [s3, mediastore, mediapackagev2, lambda]
    default: s3
  signing_behavior:
    description:
      - V(always) signs every origin request (recommended), V(never) signs none,
        V(no-override) signs unless the viewer request already has an C(Authorization) header.
    type: str
    choices: [always, never, no-override]
    default: always
  signing_protocol:
    description:
      - How requests are signed. CloudFront supports only SigV4.
    type: str
    choices: [sigv4]
    default: sigv4
  state:
    description:
      - V(present) creates or updates the origin access control, V(absent) deletes it.
      - An origin access control still used by a distribution cannot be deleted; the task fails
        with CloudFront's C(OriginAccessControlInUse) error.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff).
  - CloudFront is a global service; the region only selects the API endpoint.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Origin access control for the media bucket
  streamstack.aws.cloudfront_origin_access_control:
    name: stream-production-media
    description: CloudFront reads the private media bucket
    origin_type: s3
    signing_behavior: always
  register: media_oac

- name: Use it on an S3 origin
  streamstack.aws.cloudfront_distribution:
    caller_reference: stream-production-media
    origins:
      - id: media
        domain_name: stream-production-media.s3.eu-west-1.amazonaws.com
        origin_access_control_id: "{{ media_oac.origin_access_control.id }}"
    default_cache_behavior:
      target_origin_id: media

- name: Remove it (after no distribution uses it)
  streamstack.aws.cloudfront_origin_access_control:
    name: stream-production-media
    state: absent
"""

RETURN = r"""
origin_access_control:
  description: The origin access control, empty when O(state=absent).
  returned: always
  type: dict
  contains:
    id:
      description:
        - ID of the origin access control, the value of an origin's C(OriginAccessControlId).
      type: str
      sample: E2QWRUHAPOMQZL
    name:
      description: Its name.
      type: str
      sample: stream-production-media
    description:
      description: Its description.
      type: str
      sample: CloudFront reads the private media bucket
    origin_access_control_origin_type:
      description: The type of origin.
      type: str
      sample: s3
    signing_behavior:
      description: When requests are signed.
      type: str
      sample: always
    signing_protocol:
      description: The signing protocol.
      type: str
      sample: sigv4
    etag:
      description: The configuration's current ETag (not returned in check mode for a new control).
      type: str
      sample: E2QWRUHEXAMPLE
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    ConfigResource,
    cloudfront_client,
    ensure_config,
    ensure_config_absent,
    find_named,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError

CONFIG_KEYS = (
    "Name",
    "Description",
    "OriginAccessControlOriginType",
    "SigningBehavior",
    "SigningProtocol",
)


def comparable(config):
    return {key: config.get(key, "") or "" for key in CONFIG_KEYS}


def to_result(control_id, config, etag=None):
    result = camel_dict_to_snake_dict(comparable(config))
    result["id"] = control_id
    if etag:
        result["etag"] = etag
    return result


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        description=dict(type="str", default=""),
        origin_type=dict(
            type="str", default="s3", choices=["s3", "mediastore", "mediapackagev2", "lambda"]
        ),
        signing_behavior=dict(
            type="str", default="always", choices=["always", "never", "no-override"]
        ),
        signing_protocol=dict(type="str", default="sigv4", choices=["sigv4"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = cloudfront_client(module)
    resource = ConfigResource(
        client,
        "OriginAccessControl",
        "origin access control",
        missing_code="NoSuchOriginAccessControl",
        in_use_code="OriginAccessControlInUse",
        in_use_hint="is still used by a distribution; remove it from the distribution's"
        " origins first",
    )
    desired = {
        "Name": module.params["name"],
        "Description": module.params["description"],
        "OriginAccessControlOriginType": module.params["origin_type"],
        "SigningBehavior": module.params["signing_behavior"],
        "SigningProtocol": module.params["signing_protocol"],
    }
    key = "origin_access_control"
    try:
        existing = find_named(
            client, "list_origin_access_controls", "OriginAccessControlList", desired["Name"]
        )
        existing_id = existing["Id"] if existing else None
        if module.params["state"] == "present":
            ensure_config(
                module, resource, existing_id, desired, key=key, view=comparable, result=to_result
            )
        ensure_config_absent(module, resource, existing_id, key=key, view=comparable)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
