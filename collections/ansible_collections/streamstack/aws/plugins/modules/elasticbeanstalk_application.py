#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elasticbeanstalk_application
version_added: 0.4.0
short_description: Manage an Elastic Beanstalk application
description:
  - Creates, updates or deletes an Elastic Beanstalk application - its description, its
    application version lifecycle (how many versions, or how old, Elastic Beanstalk keeps, and
    whether it deletes their source bundles) and its tags.
  - Why not C(community.aws.elasticbeanstalk_app) - it has no tags, no version lifecycle and no
    diff.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description: The application's name.
    type: str
    required: true
    aliases: [app_name]
  description:
    description: Its description. V(null) leaves it alone; an empty string removes it.
    type: str
  version_lifecycle:
    description:
      - Which application versions Elastic Beanstalk deletes by itself when a new one is
        created (never one an environment runs). V(null) leaves the lifecycle alone.
      - An account holds at most 1000 versions per Region; a count rule keeps a deployment
        pipeline from reaching that.
    type: dict
    suboptions:
      max_count:
        description: Keep at most this many versions (off when not given).
        type: int
      max_age_days:
        description: Delete versions older than this (off when not given).
        type: int
      delete_source_from_s3:
        description: Delete a deleted version's source bundle too.
        type: bool
        default: false
      service_role:
        description: Role (name or ARN) Elastic Beanstalk assumes to delete versions.
        type: str
  terminate_by_force:
    description:
      - With O(state=absent), terminate the application's running environments first (AWS
        refuses to delete an application that has any otherwise).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.tags
  - streamstack.aws.state
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The platform's application, keeping its last 50 versions
  streamstack.aws.elasticbeanstalk_application:
    name: stream-production
    description: StreamStack app server
    version_lifecycle:
      max_count: 50
      delete_source_from_s3: true
    tags: {Project: stream, Environment: production, ManagedBy: ansible}
"""

RETURN = r"""
application:
  description: The application (keys in snake case), empty when O(state=absent).
  returned: always
  type: dict
  contains:
    application_arn:
      description: Its ARN.
      type: str
    application_name:
      description: Its name.
      type: str
    versions:
      description: Labels of its versions, newest first.
      type: list
      elements: str
    tags:
      description: Its tags.
      type: dict
"""

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


def find(module, client, name):
    found = aws_call(
        f"describe application {name}", client.describe_applications, ApplicationNames=[name]
    )
    apps = found.get("Applications", [])
    return apps[0] if apps else None


def wanted_lifecycle(params):
    spec = params["version_lifecycle"]
    if spec is None:
        return None
    delete = spec["delete_source_from_s3"]
    config = {
        "VersionLifecycleConfig": {
            "MaxCountRule": {
                "Enabled": spec["max_count"] is not None,
                "DeleteSourceFromS3": delete,
            },
            "MaxAgeRule": {
                "Enabled": spec["max_age_days"] is not None,
                "DeleteSourceFromS3": delete,
            },
        }
    }
    if spec["max_count"] is not None:
        config["VersionLifecycleConfig"]["MaxCountRule"]["MaxCount"] = spec["max_count"]
    if spec["max_age_days"] is not None:
        config["VersionLifecycleConfig"]["MaxAgeRule"]["MaxAgeInDays"] = spec["max_age_days"]
    if spec["service_role"]:
        config["ServiceRole"] = spec["service_role"]
    return config


def lifecycle_view(config):
    """What matters of a lifecycle: a disabled rule's numbers do not."""
    config = config or {}
    rules = config.get("VersionLifecycleConfig") or {}
    view = {"service_role": config.get("ServiceRole") or ""}
    for rule, number in (("MaxCountRule", "MaxCount"), ("MaxAgeRule", "MaxAgeInDays")):
        spec = rules.get(rule) or {}
        enabled = bool(spec.get("Enabled"))
        view[rule] = {
            "enabled": enabled,
            "limit": spec.get(number) if enabled else None,
            "delete_source_from_s3": bool(spec.get("DeleteSourceFromS3")) if enabled else None,
        }
    return view


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True, aliases=["app_name"]),
            description=dict(type="str"),
            version_lifecycle=dict(
                type="dict",
                options=dict(
                    max_count=dict(type="int"),
                    max_age_days=dict(type="int"),
                    delete_source_from_s3=dict(type="bool", default=False),
                    service_role=dict(type="str"),
                ),
            ),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            terminate_by_force=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    params, check = module.params, module.check_mode
    name = params["name"]
    client = module.client("elasticbeanstalk", retry_decorator=AWSRetry.jittered_backoff())
    try:
        app = find(module, client, name)

        if params["state"] == "absent":
            if app and not check:
                aws_call(
                    f"delete application {name}",
                    client.delete_application,
                    ApplicationName=name,
                    TerminateEnvByForce=params["terminate_by_force"],
                )
            module.exit_json(
                changed=app is not None,
                application={},
                **diff_result(module, {"name": name} if app else {}, {}),
            )

        lifecycle = wanted_lifecycle(params)
        before = {}
        changed = False
        if app is None:
            changed = True
            if not check:
                request = {"ApplicationName": name}
                if params["description"]:
                    request["Description"] = params["description"]
                if lifecycle:
                    request["ResourceLifecycleConfig"] = lifecycle
                if params["tags"]:
                    request["Tags"] = [{"Key": k, "Value": v} for k, v in params["tags"].items()]
                app = aws_call(f"create application {name}", client.create_application, **request)[
                    "Application"
                ]
        else:
            before = {
                "description": app.get("Description", ""),
                "version_lifecycle": lifecycle_view(app.get("ResourceLifecycleConfig")),
            }
            description = params["description"]
            if description is not None and description != app.get("Description", ""):
                changed = True
                if not check:
                    aws_call(
                        f"update application {name}",
                        client.update_application,
                        ApplicationName=name,
                        Description=description,
                    )
            if lifecycle and lifecycle_view(lifecycle) != before["version_lifecycle"]:
                changed = True
                if not check:
                    aws_call(
                        f"set the version lifecycle of {name}",
                        client.update_application_resource_lifecycle,
                        ApplicationName=name,
                        ResourceLifecycleConfig=lifecycle,
                    )

        tags_before, tags = {}, params["tags"] or {}
        if app is not None and "ApplicationArn" in app and before:
            tagged, tags_before, tags = retag(
                module, client, app["ApplicationArn"], params["tags"], params["purge_tags"]
            )
            changed = changed or tagged
        after = {
            "description": params["description"]
            if params["description"] is not None
            else before.get("description", ""),
            "version_lifecycle": lifecycle_view(lifecycle)
            if lifecycle
            else before.get("version_lifecycle", lifecycle_view(None)),
            "tags": tags,
        }
        if before:
            before["tags"] = tags_before
        if app is not None and not check:
            app = find(module, client, name) or app
        result = camel_dict_to_snake_dict(app or {"ApplicationName": name})
        result["tags"] = tags
        module.exit_json(changed=changed, application=result, **diff_result(module, before, after))
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
