#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_security_groups
version_added: 0.2.0
short_description: Manage a set of VPC security groups that may refer to each other in one task
description:
  - Creates security groups in one VPC, sets their inbound and outbound rules and tags, or
    deletes them - several groups in one module call, where M(amazon.aws.ec2_security_group)
    needs one call (one Python start-up, one boto3 import) per group.
  - A rule may name another group of the same VPC by O(security_groups[].rules[].group_name),
    so a chain such as load balancer -> app hosts -> database is declared in one task; the
    groups are created first, then the rules are set.
  - A rule may name a managed prefix list by id or by name
    (O(security_groups[].rules[].prefix_list_name)); names are looked up once per task.
  - Idempotent - reads the groups (C(DescribeSecurityGroups)) and changes only what differs.
    Rules are compared one permission at a time (protocol, port range, source or
    destination); a rule whose description alone differs gets the new description, without
    being revoked.
author:
  - StreamStack contributors (@streamstack)
options:
  vpc_id:
    description: The VPC of every group.
    type: str
    required: true
  security_groups:
    description: The groups.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Group name, unique in the VPC.
        type: str
        required: true
      description:
        description:
          - Group description, required to create a group. AWS cannot change it afterwards; a
            different description of an existing group fails the task.
        type: str
      rules:
        description:
          - Inbound rules, the whole set (rules not listed are revoked). V(null) leaves them
            alone, V([]) revokes them all.
        type: list
        elements: dict
        suboptions: &rule_options
          proto:
            description: Protocol, V(tcp), V(udp), V(icmp), a protocol number, or V(all) (V(-1)).
            type: str
            required: true
          ports:
            description:
              - Ports, each a number or a range C(FROM-TO); for V(icmp) the C(TYPE-CODE). Not
                used with V(all).
            type: list
            elements: str
            default: []
          cidr_ip:
            description: IPv4 networks.
            type: list
            elements: str
            default: []
          cidr_ipv6:
            description: IPv6 networks.
            type: list
            elements: str
            default: []
          group_id:
            description: Id of a security group (peer).
            type: str
          group_name:
            description: Name of a group of the same VPC, one of this task's or an existing one.
            type: str
          prefix_list_id:
            description: Id of a managed prefix list (C(pl-...)).
            type: str
          prefix_list_name:
            description:
              - Name of a managed prefix list, found with C(DescribeManagedPrefixLists), for
                example the AWS-managed V(com.amazonaws.global.cloudfront.origin-facing)
                (CloudFront's origin-facing addresses, kept current by AWS; its id differs by
                region).
              - AWS counts a prefix list against the rules quota of the group (60 by default)
                with its weight, not as one rule - the CloudFront list weighs 55.
            type: str
          rule_desc:
            description: Description of the rule.
            type: str
      rules_egress:
        description:
          - Outbound rules, the whole set, like O(security_groups[].rules). V([]) leaves the
            group no outbound rule (a new group's default allow-all rule is revoked).
        type: list
        elements: dict
        suboptions: *rule_options
      tags:
        description: Tags of the group. V(null) leaves the tags alone.
        type: dict
        aliases: [resource_tags]
  purge_tags:
    description: Whether tags not in O(security_groups[].tags) are removed.
    type: bool
    default: true
  state:
    description:
      - V(present) creates or updates the groups, V(absent) deletes them (the rules of the
        listed groups first, so groups that refer to each other can go in one task).
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description:
      - With O(state=absent), seconds to retry deleting groups AWS still counts as in use
        (C(DependencyViolation)) - the network interfaces of a load balancer, instance or database
        just deleted stay for a while. The task then fails naming the interfaces left (none when
        a group outside the task refers to the group in its rules).
    type: int
    default: 300
notes:
  - Supports C(check_mode) and C(diff) (rules and tags of each group, keyed by name).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Load balancer -> app hosts -> database
  streamstack.aws.ec2_security_groups:
    vpc_id: vpc-0123456789abcdef0
    security_groups:
      - name: stream-production-alb
        description: load balancer
        rules:
          - proto: tcp
            ports: [443]
            prefix_list_name: com.amazonaws.global.cloudfront.origin-facing
            rule_desc: HTTPS from CloudFront only
        rules_egress: [{proto: tcp, ports: [8000], cidr_ip: [10.0.10.0/24, 10.0.11.0/24]}]
        tags: {Name: stream-production-alb}
      - name: stream-production-app
        description: web and worker hosts
        rules: [{proto: tcp, ports: [8000], group_name: stream-production-alb}]
        rules_egress: [{proto: tcp, ports: [443], cidr_ip: [0.0.0.0/0]}]
      - name: stream-production-db
        description: PostgreSQL
        rules: [{proto: tcp, ports: [5432], group_name: stream-production-app}]
        rules_egress: []
"""

RETURN = r"""
security_groups:
  description: The groups after the task, in the order given (absent ones are left out).
  returned: always
  type: list
  elements: dict
  contains:
    group_name:
      description: Name.
      type: str
      sample: stream-production-db
    group_id:
      description: Id (not known in check mode before the group exists).
      type: str
      sample: sg-0123456789abcdef0
    ingress:
      description:
        - Inbound permissions, one per protocol, port range and source, sorted; groups and
          prefix lists are shown by name (C(sg:<name>), C(pl:<name>)) where known.
      type: list
      elements: str
      sample: ["tcp 5432-5432 from sg:stream-production-app (from the app hosts)"]
    egress:
      description: Outbound permissions, as O(security_groups[].rules).
      type: list
      elements: str
    tags:
      description: Tags.
      type: dict
created:
  description: Names of the groups created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the groups whose rules or tags changed (or would).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the groups deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
    boto3_tag_specifications,
)
from ansible_collections.streamstack.aws.plugins.module_utils.ec2_in_use import (
    retry_while_in_use,
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
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    ec2_tag_calls,
    planned_tags,
    sync_tags,
)

EC2_ERRORS = error_handler("InvalidGroup.NotFound")

PROTOCOLS = {"all": "-1", "-1": "-1", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
DIRECTIONS = (
    ("rules", "ingress", "IpPermissions"),
    ("rules_egress", "egress", "IpPermissionsEgress"),
)


# A permission is a tuple (protocol, from port, to port, kind, peer): kind "cidr", "cidr6", "sg"
# (peer: a group id) or "pl" (peer: a prefix list id); each maps to the description of its rule.


def port_range(value, proto):
    text = str(value).strip()
    low, _, high = text.partition("-") if not text.startswith("-") else (text, "", "")
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        raise ValueError(f"port {value!r} is neither a number nor a range FROM-TO") from None
    if proto in ("tcp", "udp") and not (0 <= low <= high <= 65535):
        raise ValueError(f"port range {value!r} is outside 0-65535 or reversed")
    return low, high


def wanted_permissions(rules, ids, prefix_lists=None):
    """{permission: description} for the given rules; ids maps group names to ids and
    prefix_lists prefix list names to ids (an unknown name stays pl:<name>)."""
    wanted = {}
    for rule in rules:
        proto = PROTOCOLS.get(str(rule["proto"]).lower(), str(rule["proto"]).lower())
        if proto == "-1":
            ranges = [(None, None)]
        elif rule["ports"]:
            ranges = [port_range(port, proto) for port in rule["ports"]]
        elif proto in ("tcp", "udp"):
            raise ValueError(f"a {proto} rule needs ports")
        else:
            ranges = [(-1, -1)]
        peers = [("cidr", cidr) for cidr in rule["cidr_ip"]]
        peers += [("cidr6", cidr) for cidr in rule["cidr_ipv6"]]
        if rule["group_id"]:
            peers.append(("sg", rule["group_id"]))
        if rule["group_name"]:
            peers.append(("sg", ids.get(rule["group_name"], "sg:" + rule["group_name"])))
        if rule["prefix_list_id"]:
            peers.append(("pl", rule["prefix_list_id"]))
        if rule["prefix_list_name"]:
            name = rule["prefix_list_name"]
            peers.append(("pl", (prefix_lists or {}).get(name, "pl:" + name)))
        if not peers:
            raise ValueError(
                "a rule needs cidr_ip, cidr_ipv6, group_id, group_name, prefix_list_id"
                " or prefix_list_name"
            )
        for low, high in ranges:
            for kind, peer in peers:
                wanted[(proto, low, high, kind, peer)] = rule["rule_desc"] or None
    return wanted


def live_permissions(ip_permissions):
    live = {}
    for perm in ip_permissions:
        proto = PROTOCOLS.get(str(perm["IpProtocol"]), str(perm["IpProtocol"]))
        low, high = perm.get("FromPort"), perm.get("ToPort")
        if proto == "-1":
            low = high = None
        for item in perm.get("IpRanges", []):
            live[(proto, low, high, "cidr", item["CidrIp"])] = item.get("Description") or None
        for item in perm.get("Ipv6Ranges", []):
            live[(proto, low, high, "cidr6", item["CidrIpv6"])] = item.get("Description") or None
        for item in perm.get("UserIdGroupPairs", []):
            live[(proto, low, high, "sg", item["GroupId"])] = item.get("Description") or None
        for item in perm.get("PrefixListIds", []):
            live[(proto, low, high, "pl", item["PrefixListId"])] = item.get("Description") or None
    return live


def to_ip_permissions(permissions):
    """Boto3 IpPermissions for {permission: description}."""
    request = []
    for (proto, low, high, kind, peer), description in sorted(
        permissions.items(), key=lambda item: str(item[0])
    ):
        perm = {"IpProtocol": proto}
        if low is not None:
            perm.update(FromPort=low, ToPort=high)
        entry = {"Description": description} if description else {}
        if kind == "cidr":
            perm["IpRanges"] = [dict(entry, CidrIp=peer)]
        elif kind == "cidr6":
            perm["Ipv6Ranges"] = [dict(entry, CidrIpv6=peer)]
        elif kind == "pl":
            perm["PrefixListIds"] = [dict(entry, PrefixListId=peer)]
        else:
            perm["UserIdGroupPairs"] = [dict(entry, GroupId=peer)]
        request.append(perm)
    return request


def show(permissions, names, list_names=None):
    """Readable, sorted permissions (group and prefix list ids shown by name where known)."""
    shown = []
    for (proto, low, high, kind, peer), description in permissions.items():
        ports = "all" if low is None else f"{low}-{high}"
        if kind == "sg" and peer in names:
            peer = f"sg:{names[peer]}"  # a new group in check mode is sg:<name> already
        elif kind == "pl" and peer in (list_names or {}):
            peer = f"pl:{list_names[peer]}"
        text = f"{proto} {ports} {peer}"
        shown.append(f"{text} ({description})" if description else text)
    return sorted(shown)


@EC2_ERRORS.common_error_handler("describe the security groups")
def describe(client, vpc_id, names=None):
    """Groups of the VPC (only the named ones when names is given), keyed by name."""
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    if names:
        filters.append({"Name": "group-name", "Values": list(names)})
    paginator = client.get_paginator("describe_security_groups")
    groups = paginator.paginate(Filters=filters).build_full_result()["SecurityGroups"]
    return {group["GroupName"]: group for group in groups}


@EC2_ERRORS.common_error_handler("describe the managed prefix lists")
def describe_prefix_lists(client, names):
    paginator = client.get_paginator("describe_managed_prefix_lists")
    return paginator.paginate(
        Filters=[{"Name": "prefix-list-name", "Values": names}]
    ).build_full_result()["PrefixLists"]


def prefix_list_ids(module, client, specs):
    """{name: id} of the managed prefix lists the rules name; fails naming a missing one."""
    names = sorted(
        {
            rule["prefix_list_name"]
            for spec in specs
            for option in ("rules", "rules_egress")
            for rule in spec[option] or []
            if rule["prefix_list_name"]
        }
    )
    if not names:
        return {}
    found = describe_prefix_lists(client, names)
    ids = {pl["PrefixListName"]: pl["PrefixListId"] for pl in found}
    missing = [name for name in names if name not in ids]
    if missing:
        module.fail_json(msg=f"no managed prefix list named {', '.join(missing)} in this region")
    return ids


def apply_rules(client, group_id, direction, wanted, live, check):
    """Revokes, authorizes and re-describes one direction's rules; returns whether it changed."""
    revoke = {perm: desc for perm, desc in live.items() if perm not in wanted}
    add = {perm: desc for perm, desc in wanted.items() if perm not in live}
    describe_only = {
        perm: desc for perm, desc in wanted.items() if perm in live and live[perm] != desc
    }
    if check or not (revoke or add or describe_only):
        return bool(revoke or add or describe_only)
    if add:
        getattr(client, f"authorize_security_group_{direction}")(
            aws_retry=True, GroupId=group_id, IpPermissions=to_ip_permissions(add)
        )
    if describe_only:
        getattr(client, f"update_security_group_rule_descriptions_{direction}")(
            aws_retry=True, GroupId=group_id, IpPermissions=to_ip_permissions(describe_only)
        )
    if revoke:
        getattr(client, f"revoke_security_group_{direction}")(
            aws_retry=True, GroupId=group_id, IpPermissions=to_ip_permissions(revoke)
        )
    return True


RULE_OPTIONS = dict(
    proto=dict(type="str", required=True),
    ports=dict(type="list", elements="str", default=[]),
    cidr_ip=dict(type="list", elements="str", default=[]),
    cidr_ipv6=dict(type="list", elements="str", default=[]),
    group_id=dict(type="str"),
    group_name=dict(type="str"),
    prefix_list_id=dict(type="str"),
    prefix_list_name=dict(type="str"),
    rule_desc=dict(type="str"),
)


@EC2_ERRORS.common_error_handler("delete the security groups")
def revoke_all_rules(client, groups):
    """Every rule of the groups: the groups being deleted may refer to each other."""
    for group in groups:
        for key, direction in (("IpPermissions", "ingress"), ("IpPermissionsEgress", "egress")):
            if group.get(key):
                getattr(client, f"revoke_security_group_{direction}")(
                    aws_retry=True, GroupId=group["GroupId"], IpPermissions=group[key]
                )


@EC2_ERRORS.deletion_error_handler("delete the security groups")
def delete_group(module, client, name, group_id, deadline):
    retry_while_in_use(
        module,
        client,
        lambda: client.delete_security_group(aws_retry=True, GroupId=group_id),
        what=f"Security group {name} ({group_id})",
        filters=[{"Name": "group-id", "Values": [group_id]}],
        deadline=deadline,
    )


def delete_groups(module, client, vpc_id, names):
    live = describe(client, vpc_id, names)
    deleted = [name for name in names if name in live]
    if not module.check_mode:
        revoke_all_rules(client, [live[name] for name in deleted])
    deadline = time.monotonic() + module.params["wait_timeout"]
    exit_absent(
        module,
        "security_groups",
        deleted,
        lambda name: delete_group(module, client, name, live[name]["GroupId"], deadline),
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            vpc_id=dict(type="str", required=True),
            security_groups=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str", required=True),
                    description=dict(type="str"),
                    rules=dict(type="list", elements="dict", options=RULE_OPTIONS),
                    rules_egress=dict(type="list", elements="dict", options=RULE_OPTIONS),
                    tags=dict(type="dict", aliases=["resource_tags"]),
                ),
            ),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    vpc_id = module.params["vpc_id"]
    specs = module.params["security_groups"]
    names = [spec["name"] for spec in specs]
    require_unique(module, names, "security groups")
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if module.params["state"] == "absent":
            delete_groups(module, client, vpc_id, names)
        ensure_present(module, client, vpc_id, specs, names)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


def ensure_present(module, client, vpc_id, specs, names):
    live = describe(client, vpc_id)  # the whole VPC: rules may name other groups
    ids = {name: group["GroupId"] for name, group in live.items()}
    # Every rule must be valid and name known groups before anything changes.
    known = set(ids) | set(names)
    for spec in specs:
        for option in ("rules", "rules_egress"):
            try:
                wanted_permissions(spec[option] or [], {})
            except ValueError as e:
                module.fail_json(msg=f"security group {spec['name']}, {option}: {e}")
            unknown = sorted(
                {r["group_name"] for r in spec[option] or [] if r["group_name"]} - known
            )
            if unknown:
                module.fail_json(
                    msg=f"security group {spec['name']}, {option}: no group {', '.join(unknown)}"
                    f" in {vpc_id} or in this task"
                )
    lists = prefix_list_ids(module, client, specs)
    created, updated, before, after, result = apply_groups(
        module, client, vpc_id, specs, live, ids, lists
    )
    exit_set(
        module,
        "security_groups",
        result,
        created=created,
        updated=updated,
        before=before,
        after=after,
    )


@EC2_ERRORS.common_error_handler("create or update the security groups")
def apply_groups(module, client, vpc_id, specs, live, ids, lists):
    check, purge = module.check_mode, module.params["purge_tags"]
    list_names = {list_id: name for name, list_id in lists.items()}
    created, updated = [], []
    # 1. Create the missing groups, so rules can refer to them.
    for spec in specs:
        name = spec["name"]
        if name in live:
            if spec["description"] is not None and spec["description"] != live[name]["Description"]:
                module.fail_json(
                    msg=f"security group {name}: AWS cannot change a group's description"
                    f" ({live[name]['Description']!r} -> {spec['description']!r});"
                    " create a group under a new name instead"
                )
            continue
        if not spec["description"]:
            module.fail_json(msg=f"security group {name}: a description is needed to create it")
        created.append(name)
        if check:
            continue
        request = {"GroupName": name, "Description": spec["description"], "VpcId": vpc_id}
        if spec["tags"]:
            request["TagSpecifications"] = boto3_tag_specifications(
                spec["tags"], types="security-group"
            )
        ids[name] = client.create_security_group(aws_retry=True, **request)["GroupId"]
    if created and not check:
        client.get_waiter("security_group_exists").wait(GroupIds=[ids[name] for name in created])
        live.update(describe(client, vpc_id, created))
    names_by_id = {group_id: name for name, group_id in ids.items()}

    # 2. Rules and tags.
    before, after, result = {}, {}, []
    for spec in specs:
        name = spec["name"]
        group = live.get(name, {})
        group_id = ids.get(name)
        view_before, view_after = {}, {}
        changed = False
        for option, direction, key in DIRECTIONS:
            live_perms = live_permissions(group.get(key, []))
            if name not in created or check:
                view_before[direction] = show(live_perms, names_by_id, list_names) if group else []
            if spec[option] is None:
                view_after[direction] = show(live_perms, names_by_id, list_names)
                continue
            # Validated above; in check mode a new group is shown as sg:<name>.
            wanted = wanted_permissions(spec[option], ids, lists)
            view_after[direction] = show(wanted, names_by_id, list_names)
            if group_id is None:
                continue  # check mode, a new group: created above
            if apply_rules(client, group_id, direction, wanted, live_perms, check):
                changed = True
        tags_live = boto3_tag_list_to_ansible_dict(group.get("Tags", []))
        tags = planned_tags(tags_live, spec["tags"], purge)
        if name not in created and sync_tags(
            module,
            tags_live,
            spec["tags"],
            purge,
            **ec2_tag_calls(client, group_id),
        ):
            changed = True
        if changed and name not in created:
            updated.append(name)
        view_before["tags"] = tags_live if name in live else {}
        view_after["tags"] = tags
        before[name] = view_before if name not in created else {}
        after[name] = view_after
        result.append(
            {
                "group_name": name,
                "group_id": group_id,
                "ingress": view_after["ingress"],
                "egress": view_after["egress"],
                "tags": tags,
            }
        )
    return created, updated, before, after, result


if __name__ == "__main__":
    main()
