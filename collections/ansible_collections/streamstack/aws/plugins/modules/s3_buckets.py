#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: s3_buckets
version_added: 0.2.0
short_description: Manage a set of S3 buckets and their settings in one task
description:
  - Creates S3 buckets and sets their default encryption, versioning, Block Public Access,
    object ownership, policy, tags, lifecycle rules and access logging - several buckets and
    every setting in one module call, where M(amazon.aws.s3_bucket),
    M(community.aws.s3_lifecycle) and M(community.aws.s3_logging) need one call (one Python
    start-up, one boto3 import) per bucket and per setting.
  - Idempotent - reads each setting that is given (C(GetBucketEncryption),
    C(GetBucketVersioning), C(GetPublicAccessBlock), C(GetBucketOwnershipControls),
    C(GetBucketPolicy), C(GetBucketTagging), C(GetBucketLifecycleConfiguration),
    C(GetBucketLogging)) and writes only those that differ. A setting left out (V(null)) is
    neither read nor changed.
  - Buckets are handled in the order given, so a log bucket listed first can be the logging
    target of a bucket listed after it.
author:
  - StreamStack contributors (@streamstack)
options:
  buckets:
    description: The buckets.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Bucket name.
        type: str
        required: true
      encryption:
        description: Default server-side encryption.
        type: str
        choices: [AES256, aws:kms]
      encryption_key_id:
        description: KMS key for O(buckets[].encryption=aws:kms); the AWS-managed key when left out.
        type: str
      bucket_key_enabled:
        description:
          - Whether S3 Bucket Keys reduce the KMS requests (with
            O(buckets[].encryption=aws:kms)).
        type: bool
        default: false
      versioning:
        description:
          - V(true) enables versioning, V(false) suspends it (once enabled it cannot be
            switched off).
        type: bool
      public_access:
        description: Block Public Access settings of the bucket.
        type: dict
        suboptions:
          block_public_acls:
            description: Reject requests that set public ACLs.
            type: bool
            default: false
          ignore_public_acls:
            description: Ignore public ACLs.
            type: bool
            default: false
          block_public_policy:
            description: Reject bucket policies that make the bucket public.
            type: bool
            default: false
          restrict_public_buckets:
            description:
              - Restrict access to a bucket with a public policy to AWS services and the
                owner.
            type: bool
            default: false
      object_ownership:
        description: Object ownership rule (V(BucketOwnerEnforced) turns ACLs off).
        type: str
        choices: [BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter]
      policy:
        description:
          - Bucket policy (JSON string or dict), compared with the live one semantically (order of
            statements and of list items does not matter). V({}) deletes the policy.
        type: json
      tags:
        description: Tags of the bucket. V(null) leaves the tags alone.
        type: dict
        aliases: [resource_tags]
      purge_tags:
        description: Whether tags not in O(buckets[].tags) are removed.
        type: bool
        default: true
      lifecycle_rules:
        description:
          - The bucket's lifecycle rules, the whole configuration (rules not listed are removed);
            V([]) deletes the configuration.
        type: list
        elements: dict
        suboptions:
          rule_id:
            description: Rule id, unique within the bucket.
            type: str
            required: true
          prefix:
            description: Key prefix the rule applies to; the whole bucket when empty.
            type: str
            default: ""
          status:
            description: Whether the rule is in force.
            type: str
            choices: [enabled, disabled]
            default: enabled
          expiration_days:
            description: Days after which current versions expire.
            type: int
          transitions:
            description: Storage class transitions of current versions.
            type: list
            elements: dict
            default: []
            suboptions:
              transition_days:
                description: Days after creation.
                type: int
                required: true
              storage_class:
                description: Target storage class.
                type: str
                required: true
                choices:
                  [STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE]
          noncurrent_version_expiration_days:
            description: Days after which noncurrent versions expire.
            type: int
          abort_incomplete_multipart_upload_days:
            description: Days after which incomplete multipart uploads are aborted.
            type: int
      logging:
        description:
          - Server access logging to another bucket; V({}) turns logging off.
        type: dict
        suboptions:
          target_bucket:
            description: The bucket the access logs go to.
            type: str
          target_prefix:
            description: Key prefix of the log objects.
            type: str
            default: ""
  state:
    description:
      - V(present) creates or updates the buckets, V(absent) deletes them (without O(force), only
        empty buckets; a bucket with objects fails the task and is kept).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), empty each bucket before deleting it - every object version and
        delete marker, page by page (version V(null) included, which a key alone would only
        hide behind a new delete marker in a versioned bucket) - after turning the bucket's own
        access logging off, so that emptying it writes no more logs into another bucket.
      - S3 delivers server access logs best effort, for up to hours after the requests, even
        after logging was turned off (other services' log deliveries too); when C(DeleteBucket)
        answers C(BucketNotEmpty) because such objects arrived meanwhile, the bucket is emptied
        again and the deletion retried, for up to O(force_timeout) seconds.
    type: bool
    default: false
  force_timeout:
    description:
      - Seconds to keep emptying a bucket that objects keep arriving in (with O(force)); the task
        fails naming the bucket after that, and keeps it.
    type: int
    default: 600
notes:
  - Supports C(check_mode) and C(diff) (each given setting of each bucket, keyed by name).
  - AWS applies a new bucket's settings within seconds; the module does not wait for every
    endpoint to show them (as M(community.aws.s3_lifecycle) with
    O(community.aws.s3_lifecycle#module:wait=false)).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log bucket and media bucket, private and encrypted, in one call
  streamstack.aws.s3_buckets:
    buckets:
      - name: stream-production-logs-123456789012
        encryption: AES256
        versioning: true
        public_access: &block_all
          block_public_acls: true
          ignore_public_acls: true
          block_public_policy: true
          restrict_public_buckets: true
        object_ownership: BucketOwnerEnforced
        policy: "{{ lookup('ansible.builtin.template', 'log_bucket_policy.json.j2') }}"
        tags: {Project: stream, Environment: production}
        lifecycle_rules:
          - {rule_id: expire-logs, expiration_days: 90, abort_incomplete_multipart_upload_days: 1}
      - name: stream-production-media-123456789012
        encryption: AES256
        versioning: true
        public_access: *block_all
        object_ownership: BucketOwnerEnforced
        tags: {Project: stream, Environment: production}
        lifecycle_rules:
          - rule_id: sources-to-infrequent-access
            prefix: sources/
            transitions: [{transition_days: 30, storage_class: STANDARD_IA}]
        logging:
          target_bucket: stream-production-logs-123456789012
          target_prefix: s3/stream-production-media-123456789012/

- name: Empty and delete them, the log bucket last (it receives the other's access logs)
  streamstack.aws.s3_buckets:
    buckets:
      - name: stream-production-media-123456789012
      - name: stream-production-logs-123456789012
    state: absent
    force: true

- name: Only the policy of a bucket (every other setting is left alone)
  streamstack.aws.s3_buckets:
    buckets:
      - name: stream-production-media-123456789012
        policy: "{{ lookup('ansible.builtin.template', 'media_bucket_policy.json.j2') }}"
"""

RETURN = r"""
buckets:
  description: The buckets after the task (as they would be in check mode), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Bucket name.
      type: str
      sample: stream-production-media-123456789012
    settings:
      description:
        - The given settings, as the module compares them (lifecycle rules and policy in the
          S3 API's form).
      type: dict
      sample: {versioning: true, object_ownership: BucketOwnerEnforced}
created:
  description: Names of the buckets created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description:
    - The settings changed (or that would be) of existing buckets, each as
      C(<bucket name>:<setting>).
  returned: always
  type: list
  elements: str
  sample: ["stream-production-media-123456789012:tags"]
deleted:
  description: Names of the buckets deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

import json
import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import (
    exit_absent,
    exit_set,
    require_unique,
)

S3_ERRORS = error_handler("404", "NoSuchBucket")

SETTINGS = (
    "encryption",
    "versioning",
    "public_access",
    "object_ownership",
    "policy",
    "tags",
    "lifecycle_rules",
    "logging",
)
PUBLIC_ACCESS_KEYS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}


# --- the wanted settings, in the form they are compared in -------------------------------------


def wanted_lifecycle_rule(rule):
    wanted = {
        "ID": rule["rule_id"],
        "Filter": {"Prefix": rule["prefix"] or ""},
        "Status": rule["status"].capitalize(),
    }
    if rule["expiration_days"] is not None:
        wanted["Expiration"] = {"Days": rule["expiration_days"]}
    if rule["transitions"]:
        wanted["Transitions"] = [
            {"Days": t["transition_days"], "StorageClass": t["storage_class"]}
            for t in rule["transitions"]
        ]
    if rule["noncurrent_version_expiration_days"] is not None:
        wanted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["noncurrent_version_expiration_days"]
        }
    if rule["abort_incomplete_multipart_upload_days"] is not None:
        wanted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": rule["abort_incomplete_multipart_upload_days"]
        }
    return wanted


def wanted_settings(spec):
    """The given settings of one bucket (None: not managed)."""
    wanted = {}
    if spec["encryption"] is not None:
        wanted["encryption"] = {
            "algorithm": spec["encryption"],
            "key_id": spec["encryption_key_id"] if spec["encryption"] == "aws:kms" else None,
            "bucket_key_enabled": bool(spec["bucket_key_enabled"])
            if spec["encryption"] == "aws:kms"
            else False,
        }
    if spec["versioning"] is not None:
        wanted["versioning"] = spec["versioning"]
    if spec["public_access"] is not None:
        wanted["public_access"] = {
            key: bool(spec["public_access"][key]) for key in PUBLIC_ACCESS_KEYS
        }
    if spec["object_ownership"] is not None:
        wanted["object_ownership"] = spec["object_ownership"]
    if spec["policy"] is not None:
        policy = json.loads(spec["policy"]) if spec["policy"].strip() else {}
        wanted["policy"] = policy
    if spec["tags"] is not None:
        wanted["tags"] = spec["tags"]
    if spec["lifecycle_rules"] is not None:
        wanted["lifecycle_rules"] = [wanted_lifecycle_rule(r) for r in spec["lifecycle_rules"]]
    if spec["logging"] is not None:
        target = spec["logging"].get("target_bucket")
        wanted["logging"] = (
            {"target_bucket": target, "target_prefix": spec["logging"].get("target_prefix") or ""}
            if target
            else {}
        )
    return wanted


# --- reading the live settings ----------------------------------------------------------------


@S3_ERRORS.common_error_handler("look for bucket {name}")
def bucket_exists(module, client, name):
    try:
        client.head_bucket(aws_retry=True, Bucket=name)
        return True
    except is_boto3_error_code(["404", "NoSuchBucket", "NotFound"]):
        return False
    except is_boto3_error_code(["403", "AccessDenied"]):  # pylint: disable=duplicate-except
        module.fail_json(msg=f"Bucket {name} exists but is not ours (access denied)")


def normalise_lifecycle_rule(rule):
    """A live rule in the form wanted_lifecycle_rule builds (drops what AWS adds by default)."""
    prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
    live = {"ID": rule.get("ID", ""), "Filter": {"Prefix": prefix or ""}, "Status": rule["Status"]}
    if rule.get("Expiration", {}).get("Days") is not None:
        live["Expiration"] = {"Days": rule["Expiration"]["Days"]}
    if rule.get("Transitions"):
        live["Transitions"] = [
            {"Days": t.get("Days"), "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
        ]
    if rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") is not None:
        live["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    if rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") is not None:
        live["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        }
    return live


def read_setting(client, name, setting):
    """The live value of one setting, in the form wanted_settings builds."""
    if setting == "encryption":
        try:
            config = client.get_bucket_encryption(aws_retry=True, Bucket=name)
        except is_boto3_error_code("ServerSideEncryptionConfigurationNotFoundError"):
            return None
        rule = config["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        kms = default.get("SSEAlgorithm") == "aws:kms"
        return {
            "algorithm": default.get("SSEAlgorithm"),
            "key_id": default.get("KMSMasterKeyID") if kms else None,
            "bucket_key_enabled": bool(rule.get("BucketKeyEnabled")) if kms else False,
        }
    if setting == "versioning":
        status = client.get_bucket_versioning(aws_retry=True, Bucket=name).get("Status")
        return {"Enabled": True, "Suspended": False}.get(status)
    if setting == "public_access":
        try:
            config = client.get_public_access_block(aws_retry=True, Bucket=name)
        except is_boto3_error_code("NoSuchPublicAccessBlockConfiguration"):
            return None
        config = config["PublicAccessBlockConfiguration"]
        return {key: bool(config.get(api)) for key, api in PUBLIC_ACCESS_KEYS.items()}
    if setting == "object_ownership":
        try:
            controls = client.get_bucket_ownership_controls(aws_retry=True, Bucket=name)
        except is_boto3_error_code("OwnershipControlsNotFoundError"):
            return None
        return controls["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
    if setting == "policy":
        try:
            return json.loads(client.get_bucket_policy(aws_retry=True, Bucket=name)["Policy"])
        except is_boto3_error_code("NoSuchBucketPolicy"):
            return {}
    if setting == "tags":
        try:
            tag_set = client.get_bucket_tagging(aws_retry=True, Bucket=name)["TagSet"]
        except is_boto3_error_code("NoSuchTagSet"):
            return {}
        return boto3_tag_list_to_ansible_dict(tag_set)
    if setting == "lifecycle_rules":
        try:
            rules = client.get_bucket_lifecycle_configuration(aws_retry=True, Bucket=name)["Rules"]
        except is_boto3_error_code("NoSuchLifecycleConfiguration"):
            return []
        return [normalise_lifecycle_rule(rule) for rule in rules]
    if setting == "logging":
        enabled = client.get_bucket_logging(aws_retry=True, Bucket=name).get("LoggingEnabled")
        if not enabled:
            return {}
        return {
            "target_bucket": enabled["TargetBucket"],
            "target_prefix": enabled.get("TargetPrefix", ""),
        }
    raise ValueError(setting)


def differs(setting, live, wanted):
    if setting == "policy":
        if not wanted or not live:
            return bool(wanted) != bool(live)
        return compare_policies(live, wanted)
    if setting == "lifecycle_rules":
        key = lambda rule: rule["ID"]  # noqa: E731
        return sorted(live or [], key=key) != sorted(wanted, key=key)
    return live != wanted


# --- writing ----------------------------------------------------------------------------------


def write_setting(client, name, setting, wanted):
    """Writes one setting; wanted is in the form wanted_settings builds."""
    if setting == "encryption":
        default = {"SSEAlgorithm": wanted["algorithm"]}
        if wanted["key_id"]:
            default["KMSMasterKeyID"] = wanted["key_id"]
        rule = {"ApplyServerSideEncryptionByDefault": default}
        if wanted["algorithm"] == "aws:kms":
            rule["BucketKeyEnabled"] = wanted["bucket_key_enabled"]
        client.put_bucket_encryption(
            aws_retry=True, Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]}
        )
    elif setting == "versioning":
        client.put_bucket_versioning(
            aws_retry=True,
            Bucket=name,
            VersioningConfiguration={"Status": "Enabled" if wanted else "Suspended"},
        )
    elif setting == "public_access":
        client.put_public_access_block(
            aws_retry=True,
            Bucket=name,
            PublicAccessBlockConfiguration={
                api: wanted[key] for key, api in PUBLIC_ACCESS_KEYS.items()
            },
        )
    elif setting == "object_ownership":
        client.put_bucket_ownership_controls(
            aws_retry=True,
            Bucket=name,
            OwnershipControls={"Rules": [{"ObjectOwnership": wanted}]},
        )
    elif setting == "policy":
        if wanted:
            client.put_bucket_policy(aws_retry=True, Bucket=name, Policy=json.dumps(wanted))
        else:
            client.delete_bucket_policy(aws_retry=True, Bucket=name)
    elif setting == "tags":
        # Without purge_tags, main() has merged the live tags into wanted already.
        tags = wanted
        if tags:
            client.put_bucket_tagging(
                aws_retry=True,
                Bucket=name,
                Tagging={"TagSet": ansible_dict_to_boto3_tag_list(tags)},
            )
        else:
            client.delete_bucket_tagging(aws_retry=True, Bucket=name)
    elif setting == "lifecycle_rules":
        if wanted:
            client.put_bucket_lifecycle_configuration(
                aws_retry=True, Bucket=name, LifecycleConfiguration={"Rules": wanted}
            )
        else:
            client.delete_bucket_lifecycle(aws_retry=True, Bucket=name)
    elif setting == "logging":
        status = {}
        if wanted:
            status["LoggingEnabled"] = {
                "TargetBucket": wanted["target_bucket"],
                "TargetPrefix": wanted["target_prefix"],
            }
        client.put_bucket_logging(aws_retry=True, Bucket=name, BucketLoggingStatus=status)


def create_bucket(client, name, region):
    request = {"Bucket": name}
    if region and region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(aws_retry=True, **request)
    client.get_waiter("bucket_exists").wait(Bucket=name)


# Seconds between two attempts to empty and delete a bucket that objects keep arriving in.
FORCE_RETRY_DELAY = 5


def stop_access_logging(client, name):
    if client.get_bucket_logging(aws_retry=True, Bucket=name).get("LoggingEnabled"):
        client.put_bucket_logging(aws_retry=True, Bucket=name, BucketLoggingStatus={})


def empty_bucket(module, client, name):
    """Deletes every object version and delete marker, a page (up to 1000) at a time."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if not objects:
            continue
        errors = client.delete_objects(
            aws_retry=True, Bucket=name, Delete={"Objects": objects, "Quiet": True}
        ).get("Errors")
        if errors:
            module.fail_json(
                msg=f"Bucket {name}: {len(errors)} object versions could not be deleted (kept),"
                f" e.g. {errors[0].get('Key')}: {errors[0].get('Code')} {errors[0].get('Message')}",
                errors=errors,
            )


@S3_ERRORS.deletion_error_handler("delete bucket {name}")
def delete_bucket(module, client, name):
    force, timeout = module.params["force"], module.params["force_timeout"]
    deadline = time.monotonic() + timeout
    if force:
        stop_access_logging(client, name)
    while True:
        if force:
            empty_bucket(module, client, name)
        try:
            client.delete_bucket(aws_retry=True, Bucket=name)
            return
        except is_boto3_error_code("BucketNotEmpty"):
            if not force:
                module.fail_json(
                    msg=f"Bucket {name} is not empty: delete its objects and versions first, or"
                    " set force (kept)"
                )
            if time.monotonic() >= deadline:
                module.fail_json(
                    msg=f"Bucket {name} is still not empty after {timeout} s of emptying it:"
                    " objects keep arriving (access logs still delivered into it?); kept. Run"
                    " again later or raise force_timeout."
                )
            time.sleep(FORCE_RETRY_DELAY)


# --- main -------------------------------------------------------------------------------------

LIFECYCLE_RULE = dict(
    rule_id=dict(type="str", required=True),
    prefix=dict(type="str", default=""),
    status=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
    expiration_days=dict(type="int"),
    transitions=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(
            transition_days=dict(type="int", required=True),
            storage_class=dict(
                type="str",
                required=True,
                choices=[
                    "STANDARD_IA",
                    "ONEZONE_IA",
                    "INTELLIGENT_TIERING",
                    "GLACIER_IR",
                    "GLACIER",
                    "DEEP_ARCHIVE",
                ],
            ),
        ),
    ),
    noncurrent_version_expiration_days=dict(type="int"),
    abort_incomplete_multipart_upload_days=dict(type="int"),
)

ARGUMENT_SPEC = dict(
    buckets=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            name=dict(type="str", required=True),
            encryption=dict(type="str", choices=["AES256", "aws:kms"]),
            encryption_key_id=dict(type="str", no_log=False),
            bucket_key_enabled=dict(type="bool", default=False),
            versioning=dict(type="bool"),
            public_access=dict(
                type="dict",
                options={key: dict(type="bool", default=False) for key in PUBLIC_ACCESS_KEYS},
            ),
            object_ownership=dict(
                type="str", choices=["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"]
            ),
            policy=dict(type="json"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            lifecycle_rules=dict(type="list", elements="dict", options=LIFECYCLE_RULE),
            logging=dict(
                type="dict",
                options=dict(
                    target_bucket=dict(type="str"),
                    target_prefix=dict(type="str", default=""),
                ),
            ),
        ),
    ),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    force=dict(type="bool", default=False),
    force_timeout=dict(type="int", default=600),
)


def validate(module, specs):
    if module.params["force_timeout"] < 0:
        module.fail_json(
            msg=f"force_timeout must be 0 or more (got {module.params['force_timeout']})"
        )
    require_unique(module, [spec["name"] for spec in specs], "buckets")
    for spec in specs:
        if spec["encryption_key_id"] and spec["encryption"] != "aws:kms":
            module.fail_json(
                msg=f"bucket {spec['name']}: encryption_key_id needs encryption: aws:kms"
            )
        ids = [rule["rule_id"] for rule in spec["lifecycle_rules"] or []]
        twice = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if twice:
            module.fail_json(
                msg=f"bucket {spec['name']}: lifecycle rule ids given more than once:"
                f" {', '.join(twice)}"
            )
        for rule in spec["lifecycle_rules"] or []:
            actions = (
                rule["expiration_days"],
                rule["transitions"] or None,
                rule["noncurrent_version_expiration_days"],
                rule["abort_incomplete_multipart_upload_days"],
            )
            if all(action is None for action in actions):
                module.fail_json(
                    msg=f"bucket {spec['name']}: lifecycle rule {rule['rule_id']} has no action"
                    " (expiration_days, transitions, noncurrent_version_expiration_days or"
                    " abort_incomplete_multipart_upload_days)"
                )


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    specs = module.params["buckets"]
    validate(module, specs)
    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if module.params["state"] == "absent":
            deleted = [
                spec["name"] for spec in specs if bucket_exists(module, client, spec["name"])
            ]
            exit_absent(
                module, "buckets", deleted, lambda name: delete_bucket(module, client, name)
            )
        ensure_present(module, client, specs)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


def ensure_present(module, client, specs):
    created, updated, result = [], [], []
    before, after = {}, {}
    for spec in specs:
        name = spec["name"]
        wanted = wanted_settings(spec)
        exists = bucket_exists(module, client, name)
        live = apply_bucket(module, client, name, spec, wanted, exists, created, updated)
        before[name] = {setting: live.get(setting) for setting in wanted} if exists else {}
        after[name] = wanted
        result.append({"name": name, "settings": wanted})

    exit_set(
        module,
        "buckets",
        result,
        created=created,
        updated=updated,
        before=before,
        after=after,
    )


@S3_ERRORS.common_error_handler("create or update bucket {name}")
def apply_bucket(module, client, name, spec, wanted, exists, created, updated):
    """Creates or updates one bucket; returns its live settings (what a check run can read)."""
    check = module.check_mode
    if not exists:
        created.append(name)
        if not check:
            create_bucket(client, name, module.region)
    live = {}
    if exists:
        live = {setting: read_setting(client, name, setting) for setting in wanted}
    elif not check:
        # A new bucket has AWS's defaults; read only what a write depends on.
        live = {setting: read_setting(client, name, setting) for setting in wanted}
    if "tags" in wanted and not spec["purge_tags"]:
        wanted["tags"] = dict(live.get("tags") or {}, **wanted["tags"])
    for setting in SETTINGS:
        if setting not in wanted:
            continue
        if (exists or not check) and not differs(setting, live.get(setting), wanted[setting]):
            continue
        if exists:
            updated.append(f"{name}:{setting}")
        if not check:
            write_setting(client, name, setting, wanted[setting])
    return live


if __name__ == "__main__":
    main()
