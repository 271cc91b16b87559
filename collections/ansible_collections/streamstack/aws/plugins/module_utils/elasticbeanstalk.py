# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the streamstack.aws Elastic Beanstalk modules: tags (one
UpdateTagsForResource call for what is added and removed) and option values as AWS reports them.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import aws_call
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)


def live_tags(client, arn):
    found = aws_call(f"list the tags of {arn}", client.list_tags_for_resource, ResourceArn=arn)
    return boto3_tag_list_to_ansible_dict(found.get("ResourceTags", []))


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
