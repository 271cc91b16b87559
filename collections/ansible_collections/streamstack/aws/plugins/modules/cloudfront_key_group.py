#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_key_group
version_added: 0.1.0
short_description: Manage CloudFront key groups (trusted signers of signed URLs)
description:
  - Create, update and delete a CloudFront key group, the set of public keys whose signatures a
    cache behaviour with C(TrustedKeyGroups) accepts.
  - The key group is found by its O(name), which CloudFront keeps unique in an account.
  - Updates and deletes quote the ETag read just before (C(IfMatch)), so a concurrent change
    makes the task fail instead of being overwritten.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description:
      - Name of the key group, unique in the account (at most 128 characters).
    type: str
    required: true
  public_keys:
    description:
      - The public keys in the group, each given by its ID or by its name
        (see M(streamstack.aws.cloudfront_public_key)); the group holds exactly these.
      - CloudFront accepts 1 to 5 keys in a key group.
      - Required when O(state=present).
    type: list
    elements: str
  comment:
    description:
      - A comment.
    type: str
    default: ""
  state:
    description:
      - V(present) creates or updates the key group, V(absent) deletes it.
      - A key group still trusted by a distribution's cache behaviour cannot be deleted; the
        task fails with CloudFront's C(ResourceInUse) error.
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
- name: Key group that may sign media URLs
  streamstack.aws.cloudfront_key_group:
    name: stream-production-media-signers
    public_keys:
      - stream-production-media-signing
    comment: Keys the API signs HLS URLs with
  register: media_signers

- name: Rotation - trust the old and the new key during the switch
  streamstack.aws.cloudfront_key_group:
    name: stream-production-media-signers
    public_keys:
      - stream-production-media-signing
      - stream-production-media-signing-2026
"""

RETURN = r"""
key_group:
  description: The key group, empty when O(state=absent).
  returned: always
  type: dict
  contains:
    id:
      description:
        - ID of the key group, what a cache behaviour's C(TrustedKeyGroups) lists.
        - Not known in check mode before it exists.
      type: str
      sample: 4e7a2d8f-0a6b-4c1f-9d2e-EXAMPLE
    name:
      description: Its name.
      type: str
      sample: stream-production-media-signers
    public_key_ids:
      description: IDs of the public keys in the group, sorted.
      type: list
      elements: str
      sample: [K2JCJMDEHXQW5F]
    comment:
      description: Its comment.
      type: str
    etag:
      description: The configuration's current ETag.
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    ConfigResource,
    cloudfront_client,
    ensure_config,
    ensure_config_absent,
    find_named,
    list_all,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError


def resolve_public_keys(module, client, refs):
    """IDs for the given public key IDs or names; unknown ones fail with their names."""
    keys = list_all(client, "list_public_keys", "PublicKeyList")
    by_id = {key["Id"]: key["Id"] for key in keys}
    by_name = {key["Name"]: key["Id"] for key in keys}
    ids, unknown = [], []
    for ref in refs:
        key_id = by_id.get(ref) or by_name.get(ref)
        if key_id is None:
            unknown.append(ref)
        elif key_id not in ids:
            ids.append(key_id)
    if unknown:
        module.fail_json(
            msg=f"Unknown CloudFront public key(s) {', '.join(unknown)}: give the ID or the name"
            " of an uploaded public key (streamstack.aws.cloudfront_public_key)",
            unknown_public_keys=unknown,
        )
    return sorted(ids)


def view(config):
    return {
        "name": config.get("Name"),
        "public_key_ids": sorted(config.get("Items") or []),
        "comment": config.get("Comment") or "",
    }


def to_result(group_id, config, etag=None):
    result = view(config)
    result["id"] = group_id
    if etag:
        result["etag"] = etag
    return result


def desired_config(module, client):
    refs = module.params["public_keys"]
    if not 1 <= len(refs) <= 5:
        module.fail_json(msg=f"public_keys must list 1 to 5 keys, not {len(refs)}")
    return {
        "Name": module.params["name"],
        "Items": resolve_public_keys(module, client, refs),
        "Comment": module.params["comment"],
    }


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        public_keys=dict(type="list", elements="str"),
        comment=dict(type="str", default=""),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["public_keys"])],
    )
    client = cloudfront_client(module)
    resource = ConfigResource(
        client,
        "KeyGroup",
        "key group",
        missing_code="NoSuchResource",
        in_use_code="ResourceInUse",
        in_use_hint="is still trusted by a distribution's cache behaviour;"
        " remove it from trusted_key_groups first",
    )
    try:
        existing = find_named(
            client,
            "list_key_groups",
            "KeyGroupList",
            module.params["name"],
            item_key="KeyGroup",
            config_key="KeyGroupConfig",
        )
        existing_id = existing["Id"] if existing else None
        if module.params["state"] == "present":
            ensure_config(
                module,
                resource,
                existing_id,
                desired_config(module, client),
                key="key_group",
                view=view,
                result=to_result,
            )
        ensure_config_absent(module, resource, existing_id, key="key_group", view=view)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
