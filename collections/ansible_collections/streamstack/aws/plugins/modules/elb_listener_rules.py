#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elb_listener_rules
version_added: 0.3.0
short_description: Manage the rules of an ALB listener, header values kept out of the output
description:
  - Sets the rules (not the default action) of one listener of an Application Load Balancer -
    conditions on request headers, paths, host names, methods or source addresses, and a
    forward or fixed-response action - the whole set in one call.
  - Made for a listener that answers only requests carrying a secret header, for example
    the one CloudFront adds to every request it sends its origin - the listener's default
    action answers 403 and a rule forwards the requests whose header matches. The header
    values (O(rules[].conditions[].http_header.values)) are a secret - Ansible masks them in
    every output, C(--diff) and C(-v) included; M(amazon.aws.elb_application_lb) would print
    them.
  - Idempotent - reads the listener's rules (C(DescribeRules)) and creates, modifies,
    re-prioritises or deletes only what differs. Rules are matched by priority.
  - Leave O(rules) out of the listeners of M(amazon.aws.elb_application_lb) (no C(Rules) key)
    so that the two modules do not fight over them.
author:
  - StreamStack contributors (@streamstack)
options:
  listener_arn:
    description: ARN of the listener. Either this or O(load_balancer_name) and O(port).
    type: str
  load_balancer_name:
    description: Name of the load balancer whose listener on O(port) is meant.
    type: str
  port:
    description: Port of the listener on O(load_balancer_name).
    type: int
  listener_required:
    description:
      - When V(false) and the load balancer or its listener does not exist (yet), the task
        changes nothing and returns an empty RV(listener_arn) - for a task that runs before the
        one creating the listener, so that the rules exist before its default action changes.
    type: bool
    default: true
  rules:
    description: The rules. Each needs a unique priority.
    type: list
    elements: dict
    required: true
    suboptions:
      priority:
        description: Priority, 1-50000 (lower is evaluated first).
        type: int
        required: true
      conditions:
        description: What a request must match (all conditions of a rule; any value of one).
        type: list
        elements: dict
        required: true
        suboptions:
          http_header:
            description:
              - A request header and the values it may have (C(*) and C(?) are wildcards).
                The values are kept out of every output.
            type: dict
            suboptions:
              name:
                description: Header name (matched case-insensitively).
                type: str
                required: true
              values:
                description: Values, 1 to 5, each at most 128 characters (secret).
                type: list
                elements: str
                required: true
          path_pattern:
            description: Path patterns (C(*) and C(?) are wildcards).
            type: list
            elements: str
          host_header:
            description: Host names (C(*) and C(?) are wildcards).
            type: list
            elements: str
          http_request_method:
            description: Methods, for example V(GET).
            type: list
            elements: str
          source_ip:
            description: Client address ranges (CIDRs).
            type: list
            elements: str
      actions:
        description: What the rule does with a matching request (one action).
        type: list
        elements: dict
        required: true
        suboptions:
          type:
            description: V(forward) to a target group or a V(fixed-response).
            type: str
            choices: [forward, fixed-response]
            required: true
          target_group_arn:
            description: With V(forward) - the target group, by ARN.
            type: str
          target_group_name:
            description: With V(forward) - the target group, by name.
            type: str
          status_code:
            description: With V(fixed-response) - the HTTP status (2XX, 4XX or 5XX).
            type: str
          content_type:
            description: With V(fixed-response) - C(text/plain) and others.
            type: str
            default: text/plain
          message_body:
            description: With V(fixed-response) - the body (at most 1024 characters).
            type: str
            default: ""
  purge_rules:
    description: Whether rules of the listener not in O(rules) are deleted.
    type: bool
    default: true
notes:
  - Supports C(check_mode) and C(diff) (header values as fingerprints, never in clear).
  - A rule that forwards to a target group needs the group to exist.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Only requests with CloudFront's secret header reach the app (the default action is 403)
  streamstack.aws.elb_listener_rules:
    load_balancer_name: stream-production-alb
    port: 443
    rules:
      - priority: 1
        conditions:
          - http_header:
              name: X-Origin-Verify
              # During a rotation both the old and the new value.
              values: ["{{ origin_secret.current }}", "{{ origin_secret.previous }}"]
        actions:
          - type: forward
            target_group_name: stream-production-web
"""

RETURN = r"""
listener_arn:
  description: ARN of the listener; empty when it does not exist and O(listener_required=false).
  returned: always
  type: str
rules:
  description:
    - The listener's rules after the task (default rule left out); header values are shown as
      fingerprints (C(sha256:) and 12 hex digits of their SHA-256).
  returned: always
  type: list
  elements: dict
  contains:
    priority:
      description: Priority.
      type: int
    conditions:
      description: Conditions, as C(field name=value,...) strings.
      type: list
      elements: str
    actions:
      description: Actions, as strings.
      type: list
      elements: str
created:
  description: Priorities of the rules created (or that would be).
  returned: always
  type: list
  elements: int
updated:
  description: Priorities of the rules modified or moved (or that would be).
  returned: always
  type: list
  elements: int
deleted:
  description: Priorities of the rules deleted (or that would be).
  returned: always
  type: list
  elements: int
"""

import hashlib

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import is_ansible_aws_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result

ELB_ERRORS = error_handler("LoadBalancerNotFound")
CONDITION_FIELDS = {
    "path_pattern": ("path-pattern", "PathPatternConfig"),
    "host_header": ("host-header", "HostHeaderConfig"),
    "http_request_method": ("http-request-method", "HttpRequestMethodConfig"),
    "source_ip": ("source-ip", "SourceIpConfig"),
}


@ELB_ERRORS.list_error_handler("find load balancer {name}")
def find_load_balancer(client, name):
    return client.describe_load_balancers(aws_retry=True, Names=[name])["LoadBalancers"][0]


@ELB_ERRORS.common_error_handler("describe the listeners")
def describe_listeners(client, balancer_arn):
    paginator = client.get_paginator("describe_listeners")
    return paginator.paginate(LoadBalancerArn=balancer_arn).build_full_result()["Listeners"]


@ELB_ERRORS.common_error_handler("describe the rules of {listener_arn}")
def describe_rules(client, listener_arn):
    paginator = client.get_paginator("describe_rules")
    return paginator.paginate(ListenerArn=listener_arn).build_full_result()["Rules"]


@ELB_ERRORS.common_error_handler("set the rules of {listener_arn}")
def set_rules(client, listener_arn, live, wanted, created, updated, deleted):
    # Deletions first: a rule moved to a freed priority needs it.
    for prio in deleted:
        client.delete_rule(aws_retry=True, RuleArn=live[prio]["RuleArn"])
    for prio in updated:
        conditions, actions = wanted[prio]
        client.modify_rule(
            aws_retry=True, RuleArn=live[prio]["RuleArn"], Conditions=conditions, Actions=actions
        )
    for prio in created:
        conditions, actions = wanted[prio]
        client.create_rule(
            aws_retry=True,
            ListenerArn=listener_arn,
            Priority=prio,
            Conditions=conditions,
            Actions=actions,
        )


def find_listener(module, client):
    """ARN of the listener the options name, or None when it does not exist."""
    params = module.params
    if params["listener_arn"]:
        return params["listener_arn"]
    balancer = find_load_balancer(client, params["load_balancer_name"])
    if balancer is None:
        return None
    listeners = describe_listeners(client, balancer["LoadBalancerArn"])
    return next((li["ListenerArn"] for li in listeners if li["Port"] == params["port"]), None)


def target_group_arns(module, client, rules):
    names = sorted(
        {
            action["target_group_name"]
            for rule in rules
            for action in rule["actions"]
            if action["target_group_name"]
        }
    )
    if not names:
        return {}
    try:
        groups = aws_call("describe the target groups", client.describe_target_groups, Names=names)[
            "TargetGroups"
        ]
    except is_ansible_aws_error_code("TargetGroupNotFound") as e:
        raise AnsibleAWSError(
            message=f"No target group named {', '.join(names)}", exception=e.exception
        ) from e
    return {group["TargetGroupName"]: group["TargetGroupArn"] for group in groups}


def wanted_rule(module, rule, arns):
    """(conditions, actions) in the API's shape for one rule of the options."""
    label = f"rule {rule['priority']}"
    conditions = []
    for condition in rule["conditions"]:
        given = [key for key, value in condition.items() if value]
        if len(given) != 1:
            module.fail_json(
                msg=f"{label}: each condition needs exactly one of {sorted(condition)}"
            )
        if condition["http_header"]:
            header = condition["http_header"]
            if not 1 <= len(header["values"]) <= 5 or any(
                not v or len(v) > 128 for v in header["values"]
            ):
                module.fail_json(msg=f"{label}: http_header needs 1-5 values of 1-128 characters")
            conditions.append(
                {
                    "Field": "http-header",
                    "HttpHeaderConfig": {
                        "HttpHeaderName": header["name"],
                        "Values": list(header["values"]),
                    },
                }
            )
            continue
        key = given[0]
        field, config = CONDITION_FIELDS[key]
        conditions.append({"Field": field, config: {"Values": list(condition[key])}})
    if len(rule["actions"]) != 1:
        module.fail_json(msg=f"{label}: give exactly one action")
    action = rule["actions"][0]
    if action["type"] == "forward":
        arn = action["target_group_arn"] or arns.get(action["target_group_name"] or "")
        if not arn:
            module.fail_json(msg=f"{label}: forward needs target_group_arn or target_group_name")
        actions = [{"Type": "forward", "TargetGroupArn": arn}]
    else:
        if not (action["status_code"] or "").isdigit():
            module.fail_json(msg=f"{label}: fixed-response needs a status_code such as 403")
        actions = [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": action["status_code"],
                    "ContentType": action["content_type"],
                    "MessageBody": action["message_body"],
                },
            }
        ]
    return conditions, actions


def condition_key(condition):
    field = condition["Field"]
    if field == "http-header":
        config = condition["HttpHeaderConfig"]
        return (field, config["HttpHeaderName"].lower(), tuple(sorted(config["Values"])))
    config = next((v for k, v in condition.items() if k.endswith("Config")), None)
    values = (config or {}).get("Values") or condition.get("Values") or []
    if field in ("host-header", "http-request-method"):
        values = [v.lower() if field == "host-header" else v.upper() for v in values]
    return (field, "", tuple(sorted(values)))


def action_key(action):
    if action["Type"] == "forward":
        arn = action.get("TargetGroupArn")
        if not arn:
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            arn = groups[0]["TargetGroupArn"] if len(groups) == 1 else tuple(groups)
        return ("forward", arn)
    if action["Type"] == "fixed-response":
        config = action["FixedResponseConfig"]
        return (
            "fixed-response",
            config["StatusCode"],
            config.get("ContentType") or "",
            config.get("MessageBody") or "",
        )
    return (action["Type"], repr(sorted(action.items())))


def rule_key(conditions, actions):
    return (
        tuple(sorted(condition_key(c) for c in conditions)),
        tuple(action_key(a) for a in sorted(actions, key=lambda a: a.get("Order", 0))),
    )


def fingerprint(value):
    """A short digest that tells header values apart without showing them."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def show(key, group_names):
    """Readable rule; header values only as fingerprints (a live value that is no longer
    given is not a no_log value of this run: it must not be printed either)."""
    conditions, actions = key
    shown_conditions = [
        f"{field} {name}={','.join(fingerprint(v) for v in values)}"
        if name
        else f"{field}={','.join(values)}"
        for field, name, values in conditions
    ]
    shown_actions = []
    for action in actions:
        if action[0] == "forward":
            shown_actions.append(f"forward {group_names.get(action[1], action[1])}")
        else:
            shown_actions.append(" ".join(str(part) for part in action))
    return {"conditions": shown_conditions, "actions": shown_actions}


def main():
    condition_options = dict(
        http_header=dict(
            type="dict",
            options=dict(
                name=dict(type="str", required=True),
                values=dict(type="list", elements="str", required=True, no_log=True),
            ),
        ),
        path_pattern=dict(type="list", elements="str"),
        host_header=dict(type="list", elements="str"),
        http_request_method=dict(type="list", elements="str"),
        source_ip=dict(type="list", elements="str"),
    )
    action_options = dict(
        type=dict(type="str", required=True, choices=["forward", "fixed-response"]),
        target_group_arn=dict(type="str"),
        target_group_name=dict(type="str"),
        status_code=dict(type="str"),
        content_type=dict(type="str", default="text/plain"),
        message_body=dict(type="str", default=""),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            listener_arn=dict(type="str"),
            load_balancer_name=dict(type="str"),
            port=dict(type="int"),
            listener_required=dict(type="bool", default=True),
            rules=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    priority=dict(type="int", required=True),
                    conditions=dict(
                        type="list", elements="dict", required=True, options=condition_options
                    ),
                    actions=dict(
                        type="list", elements="dict", required=True, options=action_options
                    ),
                ),
            ),
            purge_rules=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
        required_one_of=[("listener_arn", "load_balancer_name")],
        mutually_exclusive=[("listener_arn", "load_balancer_name")],
        required_together=[("load_balancer_name", "port")],
    )
    params, check = module.params, module.check_mode
    priorities = [rule["priority"] for rule in params["rules"]]
    duplicates = sorted({p for p in priorities if priorities.count(p) > 1})
    if duplicates or any(not 1 <= p <= 50000 for p in priorities):
        module.fail_json(msg=f"rule priorities must be unique and 1-50000 (got {priorities})")
    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        listener_arn = find_listener(module, client)
        if listener_arn is None:
            if params["listener_required"]:
                module.fail_json(
                    msg=f"load balancer {params['load_balancer_name']} has no listener on port"
                    f" {params['port']}"
                )
            module.exit_json(
                changed=False, listener_arn="", rules=[], created=[], updated=[], deleted=[]
            )

        arns = target_group_arns(module, client, params["rules"])
        group_names = {arn: name for name, arn in arns.items()}
        wanted = {}
        for rule in params["rules"]:
            wanted[rule["priority"]] = wanted_rule(module, rule, arns)
        live_rules = describe_rules(client, listener_arn)
        live = {int(rule["Priority"]): rule for rule in live_rules if not rule.get("IsDefault")}
        live_keys = {prio: rule_key(r["Conditions"], r["Actions"]) for prio, r in live.items()}
        wanted_keys = {prio: rule_key(*spec) for prio, spec in wanted.items()}

        created = sorted(p for p in wanted if p not in live)
        updated = sorted(p for p in wanted if p in live and live_keys[p] != wanted_keys[p])
        deleted = sorted(p for p in live if p not in wanted) if params["purge_rules"] else []
        if not check:
            set_rules(client, listener_arn, live, wanted, created, updated, deleted)

        before = {str(p): show(k, group_names) for p, k in sorted(live_keys.items())}
        after = {
            str(p): show(k, group_names)
            for p, k in sorted(
                {**({} if params["purge_rules"] else live_keys), **wanted_keys}.items()
            )
        }
        module.exit_json(
            changed=bool(created or updated or deleted),
            listener_arn=listener_arn,
            rules=[dict(priority=int(p), **view) for p, view in after.items()],
            created=created,
            updated=updated,
            deleted=deleted,
            **diff_result(module, before, after),
        )
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
