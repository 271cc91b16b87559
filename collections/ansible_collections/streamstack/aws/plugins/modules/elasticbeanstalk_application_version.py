#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elasticbeanstalk_application_version
version_added: 0.4.0
short_description: Register a source bundle in S3 as an Elastic Beanstalk application version
description:
  - Creates or deletes the application version O(version_label) of O(application) from a source
    bundle (a zip) in an S3 bucket of the application's Region; its description and tags are
    updated in place.
  - A version label names one bundle for good - AWS cannot point a version at another bundle -
    so a different O(s3_bucket) or O(s3_key) for an existing label fails; build a new label (for
    example from the bundle's content hash) instead.
author:
  - StreamStack contributors (@streamstack)
options:
  application:
    description: The application's name.
    type: str
    required: true
  version_label:
    description: The version's label (at most 100 characters).
    type: str
    required: true
  s3_bucket:
    description: Bucket of the source bundle (required to create the version).
    type: str
  s3_key:
    description: Key of the source bundle (required to create the version).
    type: str
  description:
    description: The version's description (at most 200 characters). V(null) leaves it alone.
    type: str
  process:
    description:
      - Have Elastic Beanstalk validate the bundle when the version is created. The version is
        V(Processing), then V(Processed), or V(Failed) for a bundle it cannot use (AWS deploys
        no Failed version).
      - With O(wait), the module waits for V(Processed) - an environment can be deployed to the
        version once it returns - and fails on V(Failed), also for an existing version.
    type: bool
    default: true
  wait:
    description: Wait for a version being processed to be V(Processed) (see O(process)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most for the processing.
    type: int
    default: 600
  wait_delay:
    description: Seconds between two looks at the version.
    type: int
    default: 5
  delete_source_bundle:
    description: With O(state=absent), delete the source bundle from S3 too.
    type: bool
    default: false
notes:
  - The caller needs C(s3:GetObject) on the bundle (Elastic Beanstalk reads it with the
    caller's permissions) besides C(elasticbeanstalk:CreateApplicationVersion).
extends_documentation_fragment:
  - amazon.aws.tags
  - streamstack.aws.state
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The bundle make bundle built, as a version
  streamstack.aws.elasticbeanstalk_application_version:
    application: stream-production
    version_label: streamapp-0.1.0-3f2a9c1e
    s3_bucket: stream-production-bundles-111122223333
    s3_key: streamapp-0.1.0-3f2a9c1e.zip
    tags: {Project: stream, Environment: production, ManagedBy: ansible}
"""

RETURN = r"""
application_version:
  description: The version (keys in snake case), empty when O(state=absent).
  returned: always
  type: dict
  contains:
    application_version_arn:
      description: Its ARN.
      type: str
    status:
      description: V(Processed), V(Unprocessed), V(Processing), V(Building) or V(Failed).
      type: str
    source_bundle:
      description: Its bundle, C(s3_bucket) and C(s3_key).
      type: dict
"""

import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.elasticbeanstalk import (
    retag,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result


def find(module, client, application, label):
    found = aws_call(
        f"describe version {label} of {application}",
        client.describe_application_versions,
        ApplicationName=application,
        VersionLabels=[label],
    )
    versions = found.get("ApplicationVersions", [])
    return versions[0] if versions else None


PROCESSING = ("Processing", "Building")


def processed(module, client, version):
    """The version once AWS has processed it (O(wait)); fails on Failed or the timeout."""
    params = module.params
    label = version["VersionLabel"]
    deadline = time.monotonic() + params["wait_timeout"]
    while params["wait"] and version.get("Status") in PROCESSING:
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=f"Version {label} of {params['application']} is still {version['Status']} "
                f"after {params['wait_timeout']} s.",
                application_version=camel_dict_to_snake_dict(version),
            )
        time.sleep(params["wait_delay"])
        version = find(module, client, params["application"], label) or version
    if version.get("Status") == "Failed":
        bundle = version.get("SourceBundle") or {}
        module.fail_json(
            msg=f"Elastic Beanstalk could not process the bundle of version {label} "
            f"(s3://{bundle.get('S3Bucket')}/{bundle.get('S3Key')}): its status is Failed and AWS "
            "deploys no Failed version. Is it a zip with valid configuration files? Fix the "
            "bundle and register it under a new label.",
            application_version=camel_dict_to_snake_dict(version),
        )
    return version


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            application=dict(type="str", required=True),
            version_label=dict(type="str", required=True),
            s3_bucket=dict(type="str"),
            s3_key=dict(type="str", no_log=False),
            description=dict(type="str"),
            process=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
            wait_delay=dict(type="int", default=5),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            delete_source_bundle=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["s3_bucket", "s3_key"])],
        supports_check_mode=True,
    )
    params, check = module.params, module.check_mode
    application, label = params["application"], params["version_label"]
    client = module.client("elasticbeanstalk", retry_decorator=AWSRetry.jittered_backoff())
    try:
        version = find(module, client, application, label)
        wanted_bundle = {"S3Bucket": params["s3_bucket"], "S3Key": params["s3_key"]}

        if params["state"] == "absent":
            if version and not check:
                aws_call(
                    f"delete version {label} of {application}",
                    client.delete_application_version,
                    ApplicationName=application,
                    VersionLabel=label,
                    DeleteSourceBundle=params["delete_source_bundle"],
                )
            module.exit_json(
                changed=version is not None,
                application_version={},
                **diff_result(module, {"version_label": label} if version else {}, {}),
            )

        after = {
            "source_bundle": wanted_bundle,
            "description": params["description"] or "",
            "tags": params["tags"] or {},
        }
        if version is None:
            if check:
                module.exit_json(
                    changed=True, application_version={}, **diff_result(module, {}, after)
                )
            request = {
                "ApplicationName": application,
                "VersionLabel": label,
                "SourceBundle": wanted_bundle,
                "Process": params["process"],
            }
            if params["description"]:
                request["Description"] = params["description"]
            if params["tags"]:
                request["Tags"] = [{"Key": k, "Value": v} for k, v in params["tags"].items()]
            version = aws_call(
                f"create version {label} of {application}",
                client.create_application_version,
                **request,
            )["ApplicationVersion"]
            version = processed(module, client, version)
            result = camel_dict_to_snake_dict(version)
            result["tags"] = params["tags"] or {}
            module.exit_json(
                changed=True, application_version=result, **diff_result(module, {}, after)
            )

        live_bundle = version.get("SourceBundle") or {}
        if live_bundle != wanted_bundle:
            module.fail_json(
                msg=f"Version {label} of {application} is the bundle"
                f" s3://{live_bundle.get('S3Bucket')}/{live_bundle.get('S3Key')}, not"
                f" s3://{wanted_bundle['S3Bucket']}/{wanted_bundle['S3Key']}: a version label"
                " cannot change its bundle; use a new label.",
            )
        if not check:
            version = processed(module, client, version)
        changed = False
        description = params["description"]
        if description is not None and description != version.get("Description", ""):
            changed = True
            if not check:
                aws_call(
                    f"update version {label} of {application}",
                    client.update_application_version,
                    ApplicationName=application,
                    VersionLabel=label,
                    Description=description,
                )
        tagged, tags_before, tags = retag(
            module, client, version["ApplicationVersionArn"], params["tags"], params["purge_tags"]
        )
        before = {
            "source_bundle": live_bundle,
            "description": version.get("Description", ""),
            "tags": tags_before,
        }
        after["description"] = description if description is not None else before["description"]
        after["tags"] = tags
        result = camel_dict_to_snake_dict(version)
        result["tags"] = tags
        module.exit_json(
            changed=changed or tagged,
            application_version=result,
            **diff_result(module, before, after),
        )
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
