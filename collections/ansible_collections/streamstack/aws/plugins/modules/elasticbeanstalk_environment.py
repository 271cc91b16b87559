#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elasticbeanstalk_environment
version_added: 0.4.0
short_description: Manage an Elastic Beanstalk environment, its settings and its deployed version
description:
  - Creates, updates or terminates an Elastic Beanstalk environment of an application - a web
    server (O(tier=web)) or a worker fed by an SQS queue (O(tier=worker)) - with its platform,
    option settings, application version, description and tags.
  - Only the option settings given are compared with the live ones (AWS reports its defaults
    for every other option); options differing are sent in one C(UpdateEnvironment) call,
    together with a new O(version_label) - a deployment, done with the environment's own
    deployment policy (for example C(RollingWithAdditionalBatch)).
  - The platform is chosen when the environment is created - O(platform_arn),
    O(solution_stack_name), or the newest version of O(platform_branch). Later runs keep the
    platform version the environment runs (managed platform updates move it within its
    branch); a different branch, or a different O(platform_arn), updates it.
  - AWS refuses to change an environment that is not C(Ready); the module waits for it first
    (O(wait)). With O(wait), it then waits for the environment to be C(Ready) and its health
    C(Green) after a change - the health gate of a deployment.
  - "The health gate's rule: while the environment is C(Launching) or C(Updating) its health is
    not judged (a rolling deployment takes a batch of instances out of service: C(Yellow) is
    normal then). Once it is C(Ready): C(Green) passes; C(Red) with errors among the events since
    the change fails at once (a deployment that failed); any other health - C(Yellow), C(Red)
    without errors yet, C(Grey) - that has not turned C(Green) within O(health_grace) seconds
    fails, the message giving enhanced health's causes (C(DescribeEnvironmentHealth)) and the
    warnings and errors among the events."
  - Tags are applied in one C(UpdateTagsForResource) call; AWS applies an environment's tags
    to its resources, which is an environment update of its own.
author:
  - StreamStack contributors (@streamstack)
options:
  application:
    description: The application's name.
    type: str
    required: true
  name:
    description: The environment's name (4-40 letters, digits and hyphens), unique in the Region.
    type: str
    required: true
    aliases: [environment_name]
  tier:
    description:
      - V(web), a load-balanced web server, or V(worker), an SQS daemon posting to the app.
    type: str
    choices: [web, worker]
    default: web
  platform_arn:
    description: The platform version's ARN.
    type: str
  solution_stack_name:
    description: The platform version's solution stack name.
    type: str
  platform_branch:
    description:
      - A platform branch, for example C(Python 3.13 running on 64bit Amazon Linux 2023); a new
        environment gets its newest version.
    type: str
  version_label:
    description: The application version to run. V(null) leaves the deployed version alone.
    type: str
  cname_prefix:
    description:
      - The web environment's CNAME prefix (C(PREFIX.REGION.elasticbeanstalk.com)); AWS picks
        one otherwise. Set at creation only.
    type: str
  description:
    description: The environment's description. V(null) leaves it alone.
    type: str
  option_settings:
    description:
      - Option settings, each C(namespace), C(option_name) and C(value) (booleans and numbers
        are sent as AWS reports them - V(true), V(300)); C(resource_name) for options that
        name one.
      - Comma-separated values (subnets, security groups) compare as sets.
    type: list
    elements: dict
    default: []
  wait:
    description:
      - Wait for the environment to be C(Ready) (and C(Green), see O(healthy)) after a change,
        C(Terminated) after O(state=absent).
    type: bool
    default: true
  healthy:
    description: With O(wait), also wait for the environment's health to be C(Green).
    type: bool
    default: true
  health_grace:
    description:
      - With O(healthy), seconds a C(Ready) environment may stay other than C(Green) after a
        change before the health gate fails (enhanced health refreshes every 10 seconds).
    type: int
    default: 120
  wait_timeout:
    description: Seconds to wait at most, each time.
    type: int
    default: 1800
  wait_delay:
    description: Seconds between two looks at the environment.
    type: int
    default: 15
  force_terminate:
    description: With O(state=absent), terminate even while an operation is in progress.
    type: bool
    default: false
notes:
  - The caller needs C(iam:PassRole) on the instance profile's role and the service role.
extends_documentation_fragment:
  - amazon.aws.tags
  - streamstack.aws.state
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The web environment, deployed to a version with an additional batch
  streamstack.aws.elasticbeanstalk_environment:
    application: stream-production
    name: stream-production-web
    platform_branch: Python 3.13 running on 64bit Amazon Linux 2023
    version_label: streamapp-0.1.0-3f2a9c1e
    option_settings:
      - namespace: "aws:elasticbeanstalk:command"
        option_name: DeploymentPolicy
        value: RollingWithAdditionalBatch
      - {namespace: "aws:autoscaling:launchconfiguration", option_name: DisableIMDSv1, value: true}
    tags: {Project: stream, Environment: production, ManagedBy: ansible}
"""

RETURN = r"""
environment:
  description: The environment (keys in snake case), empty when it does not exist.
  returned: always
  type: dict
  contains:
    environment_id:
      description: Its id.
      type: str
    status:
      description: V(Launching), V(Updating), V(Ready), V(Terminating) or V(Terminated).
      type: str
    health:
      description: V(Green), V(Yellow), V(Red) or V(Grey).
      type: str
    cname:
      description: The web environment's domain name.
      type: str
    endpoint_url:
      description: Its load balancer's domain name.
      type: str
    version_label:
      description: The version it runs.
      type: str
    platform_arn:
      description: Its platform version.
      type: str
    tags:
      description: Its tags.
      type: dict
    resources:
      description:
        - What Elastic Beanstalk made for it (C(DescribeEnvironmentResources), which reads its
          stack with the caller's permissions), by name; for example the Auto Scaling group an
          alarm on the tier's CPU names.
      returned: when the environment exists
      type: dict
      contains:
        auto_scaling_groups:
          description: Its Auto Scaling groups' names.
          type: list
          elements: str
        instances:
          description: Its instances' ids.
          type: list
          elements: str
        load_balancers:
          description: Its load balancers (a shared one by ARN).
          type: list
          elements: str
events:
  description: The environment's warnings and errors since the module started it changing.
  returned: when waiting failed
  type: list
  elements: str
causes:
  description: Enhanced health's causes of the environment's health (C(DescribeEnvironmentHealth)).
  returned: when the health gate failed
  type: list
  elements: str
"""

from datetime import UTC, datetime

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.elasticbeanstalk import (
    environment_by_id,
    find_environment,
    live_tags,
    option_value,
    retag,
    same_value,
    wait_for_status,
    warning_events,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import planned_tags

LAUNCH = "aws:autoscaling:launchconfiguration"
TIERS = {
    "web": {"Name": "WebServer", "Type": "Standard"},
    "worker": {"Name": "Worker", "Type": "SQS/HTTP"},
}


class Environment:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = module.client("elasticbeanstalk", retry_decorator=AWSRetry.jittered_backoff())

    # -- reading ---------------------------------------------------------------------------
    def find(self):
        return find_environment(self.client, self.params["application"], self.params["name"])

    def by_id(self, env_id):
        return environment_by_id(self.client, env_id)

    def settings(self, env):
        found = aws_call(
            f"read the settings of {env['EnvironmentName']}",
            self.client.describe_configuration_settings,
            ApplicationName=env["ApplicationName"],
            EnvironmentName=env["EnvironmentName"],
        )
        return found["ConfigurationSettings"][0]["OptionSettings"]

    def newest_platform(self, branch):
        found = aws_call(
            f"list the platform versions of {branch}",
            self.client.list_platform_versions,
            Filters=[
                {"Type": "PlatformBranchName", "Operator": "=", "Values": [branch]},
                {"Type": "PlatformVersion", "Operator": "=", "Values": ["latest"]},
            ],
        )["PlatformSummaryList"]
        if not found:
            self.module.fail_json(
                msg=f"No platform version of the branch '{branch}' in this Region."
            )

        def version(summary):
            return tuple(int(p) for p in summary["PlatformVersion"].split(".") if p.isdigit())

        return max(found, key=version)["PlatformArn"]

    def events(self, env_id, since):
        return warning_events(self.client, env_id, since)

    # -- what is wanted ---------------------------------------------------------------------
    def wanted_options(self):
        wanted = []
        for setting in self.params["option_settings"]:
            missing = [k for k in ("namespace", "option_name", "value") if k not in setting]
            if missing:
                self.module.fail_json(
                    msg=f"option_settings entry {setting} lacks {', '.join(missing)}"
                )
            entry = {
                "Namespace": setting["namespace"],
                "OptionName": setting["option_name"],
                "Value": option_value(setting["value"]),
            }
            if setting.get("resource_name"):
                entry["ResourceName"] = setting["resource_name"]
            wanted.append(entry)
        return wanted

    @staticmethod
    def key(entry):
        return f"{entry['Namespace']}:{entry['OptionName']}"

    def option_changes(self, live_settings, wanted):
        changes, before = [], {}
        # Unless DisableDefaultEC2SecurityGroup is true, AWS adds the environment's own group
        # (awseb-<id>-stack-AWSEBSecurityGroup-...) to the instances' SecurityGroups it reports:
        # the groups given are then compared as a subset.
        own_group = not any(
            self.key(e) == f"{LAUNCH}:DisableDefaultEC2SecurityGroup" and e["Value"] == "true"
            for e in wanted
        )
        for entry in wanted:
            live = [
                s
                for s in live_settings
                if s["Namespace"] == entry["Namespace"]
                and s["OptionName"] == entry["OptionName"]
                and ("ResourceName" not in entry or s.get("ResourceName") == entry["ResourceName"])
            ]
            value = live[0].get("Value") if live else None
            before[self.key(entry)] = value
            if own_group and self.key(entry) == f"{LAUNCH}:SecurityGroups" and value:
                given = {g.strip() for g in entry["Value"].split(",")}
                if given <= {g.strip() for g in value.split(",")}:
                    continue
            if not same_value(value, entry["Value"]):
                changes.append(entry)
        return changes, before

    def platform_change(self, env):
        params = self.params
        if params["platform_arn"]:
            return (
                params["platform_arn"] if params["platform_arn"] != env.get("PlatformArn") else None
            )
        if params["solution_stack_name"]:
            if params["solution_stack_name"] != env.get("SolutionStackName"):
                return {"SolutionStackName": params["solution_stack_name"]}
            return None
        if params["platform_branch"]:
            branch = (env.get("PlatformArn") or "").split(":platform/", 1)[-1].rsplit("/", 1)[0]
            if branch != params["platform_branch"]:
                return self.newest_platform(params["platform_branch"])
        return None

    # -- waiting ----------------------------------------------------------------------------
    def wait(self, env_id, status, since, healthy):
        """Wait for ``status`` and, with ``healthy``, the health gate (see DOCUMENTATION)."""
        return wait_for_status(self.module, self.client, env_id, status, since, healthy)

    def ready_first(self, env, since):
        """AWS changes only a Ready environment: wait for a running operation to end."""
        if env["Status"] == "Ready":
            return env
        if not self.params["wait"]:
            self.module.fail_json(
                msg=f"Environment {self.params['name']} is {env['Status']}; AWS changes it only "
                "when it is Ready (wait: true waits for that)."
            )
        return self.wait(env["EnvironmentId"], "Ready", since, healthy=False)

    # -- the states -------------------------------------------------------------------------
    def absent(self):
        params, check = self.params, self.module.check_mode
        env = self.find()
        if env is not None and env["Status"] == "Terminating":
            # Already going (another run, the console): nothing to ask, only to wait for.
            if params["wait"]:
                self.wait(env["EnvironmentId"], "Terminated", datetime.now(UTC), healthy=False)
            env = None
        if env is None:
            self.module.exit_json(changed=False, environment={}, **diff_result(self.module, {}, {}))
        before = {"name": env["EnvironmentName"], "status": env["Status"]}
        if check:
            self.module.exit_json(
                changed=True, environment={}, **diff_result(self.module, before, {})
            )
        since = datetime.now(UTC)
        if env["Status"] != "Ready" and not params["force_terminate"]:
            env = self.ready_first(env, since)
        aws_call(
            f"terminate environment {params['name']}",
            self.client.terminate_environment,
            EnvironmentId=env["EnvironmentId"],
            ForceTerminate=params["force_terminate"],
        )
        if params["wait"]:
            self.wait(env["EnvironmentId"], "Terminated", since, healthy=False)
        self.module.exit_json(changed=True, environment={}, **diff_result(self.module, before, {}))

    def create(self, wanted):
        params = self.params
        request = {
            "ApplicationName": params["application"],
            "EnvironmentName": params["name"],
            "Tier": TIERS[params["tier"]],
            "OptionSettings": wanted,
        }
        if params["platform_arn"]:
            request["PlatformArn"] = params["platform_arn"]
        elif params["solution_stack_name"]:
            request["SolutionStackName"] = params["solution_stack_name"]
        elif params["platform_branch"]:
            request["PlatformArn"] = self.newest_platform(params["platform_branch"])
        else:
            self.module.fail_json(
                msg="A new environment needs platform_arn, solution_stack_name or platform_branch."
            )
        for key, param in (
            ("VersionLabel", "version_label"),
            ("Description", "description"),
            ("CNAMEPrefix", "cname_prefix"),
        ):
            if params[param]:
                request[key] = params[param]
        if params["tags"]:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in params["tags"].items()]
        after = {
            "options": {self.key(e): e["Value"] for e in wanted},
            "version_label": params["version_label"],
            "tags": params["tags"] or {},
        }
        if self.module.check_mode:
            self.module.exit_json(
                changed=True, environment={}, **diff_result(self.module, {}, after)
            )
        since = datetime.now(UTC)
        env = aws_call(
            f"create environment {params['name']}", self.client.create_environment, **request
        )
        if params["wait"]:
            env = self.wait(env["EnvironmentId"], "Ready", since, healthy=params["healthy"])
        self.exit(env, True, {}, after)

    def present(self):
        params, check = self.params, self.module.check_mode
        wanted = self.wanted_options()
        env = self.find()
        if env is not None and env["Status"] == "Terminating":
            # AWS changes no terminating environment and keeps its name until it has gone.
            if not params["wait"]:
                self.module.fail_json(
                    msg=f"Environment {params['name']} is Terminating; wait: true waits for it "
                    "to end and creates it anew."
                )
            self.wait(env["EnvironmentId"], "Terminated", datetime.now(UTC), healthy=False)
            env = None
        if env is None:
            self.create(wanted)
        if env["Tier"]["Name"] != TIERS[params["tier"]]["Name"]:
            self.module.fail_json(
                msg=f"Environment {params['name']} is a {env['Tier']['Name']} environment; AWS "
                "cannot change an environment's tier: terminate it, or choose another name."
            )
        since = datetime.now(UTC)
        changes, options_before = self.option_changes(self.settings(env), wanted)
        request = {}
        if changes:
            request["OptionSettings"] = changes
        version = params["version_label"]
        if version and version != env.get("VersionLabel"):
            request["VersionLabel"] = version
        description = params["description"]
        if description is not None and description != env.get("Description", ""):
            request["Description"] = description
        platform = self.platform_change(env)
        if isinstance(platform, dict):
            request.update(platform)
        elif platform:
            request["PlatformArn"] = platform
        tags_before = live_tags(self.client, env["EnvironmentArn"])
        before = {
            "options": options_before,
            "version_label": env.get("VersionLabel"),
            "description": env.get("Description", ""),
            "platform_arn": env.get("PlatformArn"),
            "tags": tags_before,
        }
        changed_keys = {self.key(e) for e in changes}
        after = dict(
            before,
            options={
                self.key(e): e["Value"]
                if self.key(e) in changed_keys
                else options_before[self.key(e)]
                for e in wanted
            },
        )
        after["version_label"] = request.get("VersionLabel", before["version_label"])
        after["description"] = request.get("Description", before["description"])
        after["platform_arn"] = request.get("PlatformArn", before["platform_arn"])
        changed = bool(request)
        if request and not check:
            env = self.ready_first(env, since)
            env = aws_call(
                f"update environment {params['name']}",
                self.client.update_environment,
                EnvironmentId=env["EnvironmentId"],
                **request,
            )
            if params["wait"]:
                env = self.wait(env["EnvironmentId"], "Ready", since, healthy=params["healthy"])
                if "VersionLabel" in request and env.get("VersionLabel") != request["VersionLabel"]:
                    # A rolling deployment that failed leaves the environment on its old version.
                    self.module.fail_json(
                        msg=f"Environment {params['name']} runs {env.get('VersionLabel')}, not "
                        f"{request['VersionLabel']}: the deployment did not take.",
                        environment=camel_dict_to_snake_dict(env),
                        events=self.events(env["EnvironmentId"], since),
                    )
        retagging = planned_tags(tags_before, params["tags"], params["purge_tags"]) != tags_before
        if retagging and not check:
            env = self.ready_first(env, since)
        tagged, _tags_before, tags = retag(
            self.module, self.client, env["EnvironmentArn"], params["tags"], params["purge_tags"]
        )
        if tagged and not check and params["wait"]:
            env = self.wait(env["EnvironmentId"], "Ready", since, healthy=params["healthy"])
        after["tags"] = tags
        self.exit(env, changed or tagged, before, after)

    def resources(self, env):
        found = aws_call(
            f"read the resources of {env['EnvironmentName']}",
            self.client.describe_environment_resources,
            EnvironmentId=env["EnvironmentId"],
        )["EnvironmentResources"]
        return {
            "auto_scaling_groups": [g["Name"] for g in found.get("AutoScalingGroups", [])],
            "instances": [i["Id"] for i in found.get("Instances", [])],
            "load_balancers": [b["Name"] for b in found.get("LoadBalancers", [])],
        }

    def exit(self, env, changed, before, after):
        result = camel_dict_to_snake_dict(env)
        result["tags"] = after.get("tags", {})
        if env.get("Status") not in ("Terminating", "Terminated"):
            result["resources"] = self.resources(env)
        self.module.exit_json(
            changed=changed, environment=result, **diff_result(self.module, before, after)
        )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            application=dict(type="str", required=True),
            name=dict(type="str", required=True, aliases=["environment_name"]),
            tier=dict(type="str", default="web", choices=["web", "worker"]),
            platform_arn=dict(type="str"),
            solution_stack_name=dict(type="str"),
            platform_branch=dict(type="str"),
            version_label=dict(type="str"),
            cname_prefix=dict(type="str"),
            description=dict(type="str"),
            option_settings=dict(type="list", elements="dict", default=[]),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            healthy=dict(type="bool", default=True),
            health_grace=dict(type="int", default=120),
            wait_timeout=dict(type="int", default=1800),
            wait_delay=dict(type="int", default=15),
            force_terminate=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        mutually_exclusive=[("platform_arn", "solution_stack_name", "platform_branch")],
        supports_check_mode=True,
    )
    environment = Environment(module)
    try:
        if module.params["state"] == "absent":
            environment.absent()
        environment.present()
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
