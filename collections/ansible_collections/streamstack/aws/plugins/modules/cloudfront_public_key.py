#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_public_key
version_added: 0.1.0
short_description: Manage CloudFront public keys for signed URLs and cookies
description:
  - Upload, update and delete a CloudFront public key. Its ID is the C(Key-Pair-Id) that signed
    URLs and signed cookies carry, and what a key group (M(streamstack.aws.cloudfront_key_group))
    lists.
  - The public key is found by its O(name), which CloudFront keeps unique in an account.
  - Only the comment of an existing key can be changed in place. CloudFront does not allow
    changing the key material of a public key, so when O(public_key) differs from the stored key
    the module B(replaces) it with O(replace=true) (the default) - it deletes the old key and
    uploads the new one under the same name. The new key has a B(new ID), the result has
    RV(replaced=true) and RV(previous_id), and the key group and the application that signs URLs
    must use the new ID. With O(replace=false) the task fails instead.
  - A key still listed in a key group cannot be deleted, so the replacement fails before
    changing anything when the old key is in a key group, naming the groups. For rotation
    without downtime upload the new key under a B(new name), add it to the key group next to
    the old one, switch the signer, then remove the old key.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description:
      - Name of the public key, unique in the account (at most 128 characters).
    type: str
    required: true
  public_key:
    description:
      - The public key in PEM format (C(-----BEGIN PUBLIC KEY-----)), RSA 2048 bits as
        CloudFront requires, for example the RV(community.crypto.openssl_publickey#module:publickey)
        result.
      - Compared by its decoded content, so line endings and wrapping don't matter.
      - O(public_key) or O(private_key) is required when O(state=present).
    type: str
    aliases: [encoded_key]
  private_key:
    description:
      - The private key in PEM format (unencrypted RSA), as an alternative to O(public_key) - the
        module derives the public key from it (needs the C(cryptography) Python library where
        the module runs). Saves a separate task deriving the public key, for example from a
        private key kept in Secrets Manager.
      - Never logged nor returned.
    type: str
    version_added: 0.2.0
  comment:
    description:
      - A comment, changed in place.
    type: str
    default: ""
  replace:
    description:
      - Whether a different O(public_key) replaces the stored key (delete, then upload; the ID
        changes) or fails the task.
    type: bool
    default: true
  state:
    description:
      - V(present) uploads or updates the key, V(absent) deletes it.
      - A key still in a key group cannot be deleted; the task fails naming the key groups.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff). The diff shows the key's SHA-256 fingerprint, not the key.
  - CloudFront is a global service; the region only selects the API endpoint.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Signing key pair for media URLs
  community.crypto.openssl_privatekey:
    path: /etc/stream/media-signing.pem
    type: RSA
    size: 2048
  register: signing_key

- name: Its public half
  community.crypto.openssl_publickey:
    path: /etc/stream/media-signing.pub
    privatekey_path: /etc/stream/media-signing.pem
    return_content: true
  register: signing_pub

- name: Upload it to CloudFront
  streamstack.aws.cloudfront_public_key:
    name: stream-production-media-signing
    public_key: "{{ signing_pub.publickey }}"
    comment: Signs HLS media URLs
  register: media_key

- name: The Key-Pair-Id the application signs with
  ansible.builtin.debug:
    msg: "{{ media_key.public_key.id }}"

- name: Remove the key (after no key group lists it)
  streamstack.aws.cloudfront_public_key:
    name: stream-production-media-signing
    state: absent
"""

RETURN = r"""
public_key:
  description: The public key, empty when O(state=absent).
  returned: always
  type: dict
  contains:
    id:
      description:
        - ID of the public key, the C(Key-Pair-Id) of signed URLs and cookies.
        - Not known in check mode before the key is uploaded.
      type: str
      sample: K2JCJMDEHXQW5F
    name:
      description: Its name.
      type: str
      sample: stream-production-media-signing
    encoded_key:
      description: The PEM public key as stored.
      type: str
    comment:
      description: Its comment.
      type: str
      sample: Signs HLS media URLs
    created_time:
      description: When it was uploaded.
      type: str
      sample: "2026-05-09T07:36:57+00:00"
    etag:
      description: The current ETag of its configuration.
      type: str
    fingerprint:
      description: SHA-256 of the key's DER encoding, hex.
      type: str
replaced:
  description:
    - Whether the key material changed, so the key was deleted and uploaded again under a new ID.
  returned: always
  type: bool
  sample: false
previous_id:
  description:
    - The ID of the key that was replaced; key groups and signers still using it must move to
      RV(public_key.id).
  returned: when RV(replaced=true)
  type: str
  sample: K3EXAMPLEOLD12
"""

import hashlib
import time

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    ConfigResource,
    cloudfront_client,
    find_named,
    list_all,
    pem_fingerprint,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result


def fingerprint(pem):
    der = pem_fingerprint(pem)
    return hashlib.sha256(der).hexdigest() if der is not None else None


def public_half(module, private_pem):
    """The PEM public key (SubjectPublicKeyInfo) of a PEM private key."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        module.fail_json(msg=missing_required_lib("cryptography"))
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError):
        # The library's message could quote the key material: say nothing about its content.
        module.fail_json(msg="private_key is not an unencrypted PEM private key")
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_groups_using(client, key_id):
    groups = list_all(client, "list_key_groups", "KeyGroupList", item_key="KeyGroup")
    return sorted(
        group["KeyGroupConfig"]["Name"]
        for group in groups
        if key_id in (group["KeyGroupConfig"].get("Items") or [])
    )


def view(config):
    """What --diff shows: the fingerprint stands in for the key itself."""
    return {
        "name": config.get("Name"),
        "comment": config.get("Comment") or "",
        "fingerprint": fingerprint(config.get("EncodedKey")),
    }


def to_result(key_id, config, etag=None, created=None):
    result = view(config)
    result.update(id=key_id, encoded_key=config.get("EncodedKey"))
    if etag:
        result["etag"] = etag
    if created:
        result["created_time"] = created.isoformat() if hasattr(created, "isoformat") else created
    return result


def create(resource, config):
    key, etag = resource.create(config)
    return to_result(key["Id"], key["PublicKeyConfig"], etag, key.get("CreatedTime"))


def fail_if_in_key_groups(module, client, key_id, action):
    groups = key_groups_using(client, key_id)
    if groups:
        module.fail_json(
            msg=f"Cannot {action} public key {module.params['name']} ({key_id}): it is in"
            f" key group(s)"
            f" {', '.join(groups)}. Remove it from them first, or upload the new key under a new"
            " name, add it to the key group(s) and remove the old key afterwards.",
            key_groups=groups,
        )


def ensure_present(module, client, resource, key_id):
    name = module.params["name"]
    pem = module.params["public_key"]
    if pem_fingerprint(pem) is None:
        module.fail_json(
            msg="public_key is not a PEM encoded public key (-----BEGIN PUBLIC KEY-----)"
        )
    # CallerReference only guards against duplicate uploads on a retried request.
    desired = {
        "CallerReference": f"ansible-{name}-{int(time.time())}"[:128],
        "Name": name,
        "EncodedKey": pem.strip() + "\n",
        "Comment": module.params["comment"],
    }
    key, etag = resource.get(key_id) if key_id else (None, None)
    if key is None:
        if module.check_mode:
            module.exit_json(
                changed=True,
                replaced=False,
                public_key=to_result(None, desired),
                **diff_result(module, {}, view(desired)),
            )
        result = create(resource, desired)
        module.exit_json(
            changed=True,
            replaced=False,
            public_key=result,
            **diff_result(module, {}, view(desired)),
        )

    current = key["PublicKeyConfig"]
    before, after = view(current), view(desired)
    if before == after:
        module.exit_json(
            changed=False,
            replaced=False,
            public_key=to_result(key_id, current, etag, key.get("CreatedTime")),
        )

    if before["fingerprint"] != after["fingerprint"]:
        if not module.params["replace"]:
            module.fail_json(
                msg=f"Public key {name} ({key_id}) holds different key material, which CloudFront"
                " cannot change in place; set replace=true to delete and upload it again (its ID"
                " changes) or use a new name"
            )
        fail_if_in_key_groups(module, client, key_id, "replace")
        module.warn(
            f"CloudFront cannot change a public key's key material: public key {name} is replaced"
            f" and gets a new ID (was {key_id}); signers must use the new Key-Pair-Id"
        )
        if module.check_mode:
            module.exit_json(
                changed=True,
                replaced=True,
                previous_id=key_id,
                public_key=to_result(None, desired),
                **diff_result(module, before, after),
            )
        resource.delete(key_id, etag)
        result = create(resource, desired)
        module.exit_json(
            changed=True,
            replaced=True,
            previous_id=key_id,
            public_key=result,
            **diff_result(module, before, after),
        )

    # Only the comment differs: UpdatePublicKey takes the whole config, the rest unchanged.
    update = dict(current, Comment=module.params["comment"])
    if module.check_mode:
        module.exit_json(
            changed=True,
            replaced=False,
            public_key=to_result(key_id, update, etag),
            **diff_result(module, before, after),
        )
    key, etag = resource.update(key_id, etag, update)
    module.exit_json(
        changed=True,
        replaced=False,
        public_key=to_result(key_id, key["PublicKeyConfig"], etag, key.get("CreatedTime")),
        **diff_result(module, before, after),
    )


def ensure_absent(module, client, resource, key_id):
    key, etag = resource.get(key_id) if key_id else (None, None)
    if key is None:
        module.exit_json(changed=False, replaced=False, public_key={})
    fail_if_in_key_groups(module, client, key_id, "delete")
    if not module.check_mode:
        resource.delete(key_id, etag)
    module.exit_json(
        changed=True,
        replaced=False,
        public_key={},
        **diff_result(module, view(key["PublicKeyConfig"]), {}),
    )


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        public_key=dict(type="str", aliases=["encoded_key"]),
        private_key=dict(type="str", no_log=True),
        comment=dict(type="str", default=""),
        replace=dict(type="bool", default=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["public_key", "private_key"], True)],
        mutually_exclusive=[("public_key", "private_key")],
    )
    if module.params["private_key"]:
        module.params["public_key"] = public_half(module, module.params["private_key"])
    client = cloudfront_client(module)
    resource = ConfigResource(
        client,
        "PublicKey",
        "public key",
        missing_code="NoSuchPublicKey",
        in_use_code="PublicKeyInUse",
        in_use_hint="is still in a key group; remove it there first",
    )
    try:
        existing = find_named(client, "list_public_keys", "PublicKeyList", module.params["name"])
        key_id = existing["Id"] if existing else None
        if module.params["state"] == "present":
            ensure_present(module, client, resource, key_id)
        ensure_absent(module, client, resource, key_id)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
