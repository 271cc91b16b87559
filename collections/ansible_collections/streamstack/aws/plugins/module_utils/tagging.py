# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One tag sync for the streamstack.aws modules, whatever the service's tagging API: the
module gives the tags a resource has, the wanted ones (None: leave them) and purge_tags, and
how its service adds and removes tags; compare_aws_tags (amazon.aws) decides, so ``aws:`` tags
are never purged."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    compare_aws_tags,
)


def planned_tags(live, wanted, purge):
    """The tags the resource will have: ``live`` brought to ``wanted`` (None leaves them)."""
    live = dict(live or {})
    if wanted is None:
        return live
    add, remove = compare_aws_tags(live, wanted, purge)
    return {key: value for key, value in {**live, **add}.items() if key not in remove}


def sync_tags(module, live, wanted, purge, *, tag=None, untag=None, update=None, check_mode=None):
    """Brings a resource's tags from ``live`` to ``wanted`` (None leaves them alone) and returns
    whether they change; in check mode nothing is called (``check_mode=False``: the calls given
    take care of check mode themselves, e.g. to record what they would do).

    The service's calls: ``untag(keys)`` then ``tag(tags)``, each only when needed, or one
    ``update(tags_to_add, keys_to_remove)`` for an API that does both at once.
    """
    if wanted is None:
        return False
    add, remove = compare_aws_tags(live or {}, wanted, purge)
    if not (add or remove):
        return False
    if module.check_mode if check_mode is None else check_mode:
        return True
    if update is not None:
        update(add, remove)
        return True
    if remove:
        untag(remove)
    if add:
        tag(add)
    return True


def ec2_tag_calls(client, resource_id):
    """sync_tags' calls for an EC2 resource (CreateTags, DeleteTags)."""
    return {
        "tag": lambda add: client.create_tags(
            aws_retry=True, Resources=[resource_id], Tags=ansible_dict_to_boto3_tag_list(add)
        ),
        "untag": lambda keys: client.delete_tags(
            aws_retry=True, Resources=[resource_id], Tags=[{"Key": key} for key in keys]
        ),
    }
