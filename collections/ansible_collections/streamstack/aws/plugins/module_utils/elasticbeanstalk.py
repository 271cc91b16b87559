# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the streamstack.aws Elastic Beanstalk modules: tags (one
UpdateTagsForResource call for what is added and removed), option values as AWS reports them,
and waiting for an environment's status with the deployments' health gate.
"""

from __future__ import annotations

import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import aws_call
from ansible_collections.streamstack.aws.plugins.module_utils.sets import AWS_ERRORS
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)


def live_tags(client, arn):
    """The resource's own tags: without the ones AWS puts on every environment and lets nobody
    change (elasticbeanstalk:environment-name and -id, Name), which a purge must not touch."""
    found = aws_call(f"list the tags of {arn}", client.list_tags_for_resource, ResourceArn=arn)
    tags = boto3_tag_list_to_ansible_dict(found.get("ResourceTags", []))
    environment = ":environment/" in arn
    return {
        k: v
        for k, v in tags.items()
        if not k.startswith("elasticbeanstalk:") and not (environment and k == "Name")
    }


def retag(module, client, arn, wanted, purge):
    """Bring the resource's tags to ``wanted`` (None: leave them) in one call.

    Returns (changed, tags before, tags after)."""
    before = live_tags(client, arn)

    def update(add, remove):
        request = {"ResourceArn": arn}
        if add:
            request["TagsToAdd"] = ansible_dict_to_boto3_tag_list(add)
        if remove:
            request["TagsToRemove"] = list(remove)
        aws_call(f"tag {arn}", client.update_tags_for_resource, **request)

    changed = sync_tags(module, before, wanted, purge, update=update)
    return changed, before, planned_tags(before, wanted, purge)


def option_value(value):
    """An option's value as AWS reports it: booleans in lower case, numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def same_value(live, wanted):
    """Whether a live option value is the wanted one; comma-separated lists (subnets, security
    groups, instance types) compare as sets, whatever their order and spacing."""
    if live == wanted:
        return True
    if live is None:
        return False
    if "," in live or "," in wanted:
        return sorted(p.strip() for p in live.split(",")) == sorted(
            p.strip() for p in wanted.split(",")
        )
    return False


def find_environment(client, application, name):
    """The application's environment ``name`` unless it is Terminated, or None."""
    found = aws_call(
        f"describe environment {name}",
        client.describe_environments,
        ApplicationName=application,
        EnvironmentNames=[name],
        IncludeDeleted=False,
    )["Environments"]
    live = [e for e in found if e["Status"] != "Terminated"]
    return live[0] if live else None


def environment_by_id(client, env_id):
    found = aws_call(
        f"describe environment {env_id}", client.describe_environments, EnvironmentIds=[env_id]
    )
    return found["Environments"][0] if found["Environments"] else None


def warning_events(client, env_id, since):
    """The environment's warnings and errors since ``since`` (none when they cannot be read:
    they only explain a failure)."""
    try:
        found = client.describe_events(
            aws_retry=True, EnvironmentId=env_id, StartTime=since, Severity="WARN"
        )["Events"]
    except AWS_ERRORS:
        return []
    return [f"{e['Severity']}: {e['Message']}" for e in found]


def health_causes(client, env):
    """Enhanced health's causes (basic health has none to give)."""
    if "HealthStatus" not in env:
        return []
    try:
        found = client.describe_environment_health(
            aws_retry=True, EnvironmentId=env["EnvironmentId"], AttributeNames=["Causes"]
        )
    except AWS_ERRORS:
        return []
    return found.get("Causes", [])


def wait_for_status(module, client, env_id, status, since, healthy):
    """Waits for the environment ``env_id`` to be ``status`` (None once Terminated and gone) and,
    with ``healthy``, passes the health gate: while it is Launching or Updating its health is not
    judged (Yellow during a rolling deployment is normal); once it is ``status``, Green passes, Red
    with errors among the events since ``since`` fails at once, any other health that has not
    turned Green within ``health_grace`` seconds fails with enhanced health's causes. Reads the
    module's name, wait_timeout, wait_delay and health_grace."""
    params = module.params
    deadline = time.monotonic() + params["wait_timeout"]
    unhealthy_since = None
    while True:
        env = environment_by_id(client, env_id)
        if env is None and status == "Terminated":
            return None
        if env and env["Status"] == status:
            if not healthy or env.get("Health") == "Green":
                return env
            unhealthy_since = unhealthy_since or time.monotonic()
            failed = env.get("Health") == "Red" and any(
                e.startswith("ERROR") for e in warning_events(client, env_id, since)
            )
            if failed or time.monotonic() - unhealthy_since >= params["health_grace"]:
                causes = health_causes(client, env)
                health = f"{env.get('Health')}" + (
                    f" ({env['HealthStatus']})" if env.get("HealthStatus") else ""
                )
                reason = (
                    "the change failed"
                    if failed
                    else f"still so {params['health_grace']} s after the change"
                )
                module.fail_json(
                    msg=f"Environment {params['name']} is {status} but {health}: {reason}."
                    + (f" Causes: {'; '.join(causes)}" if causes else ""),
                    environment=camel_dict_to_snake_dict(env),
                    causes=causes,
                    events=warning_events(client, env_id, since),
                )
        else:
            unhealthy_since = None
        if time.monotonic() >= deadline:
            state = f"{env['Status']}, health {env.get('Health')}" if env else "gone"
            module.fail_json(
                msg=f"Environment {params['name']} is not {status}"
                f"{' and Green' if healthy else ''} after {params['wait_timeout']} s ({state}).",
                environment=camel_dict_to_snake_dict(env or {}),
                events=warning_events(client, env_id, since),
            )
        time.sleep(params["wait_delay"])
