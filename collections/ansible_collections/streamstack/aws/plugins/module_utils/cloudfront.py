# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the streamstack.aws CloudFront modules.

CloudFront is a global service with its own API conventions: lists wrapped in
``{"Quantity": n, "Items": [...]}``, Marker pagination without boto3 paginators for most
resources, and optimistic locking through ETag / IfMatch on every update and delete.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    AWSErrorHandler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result

# The CloudFront control plane throttles at a few requests per second per account.
RETRY_DECORATOR = AWSRetry.jittered_backoff(retries=10)

# An update or delete raced with someone else's change: the ETag we hold is stale.
STALE_ETAG_CODES = ("PreconditionFailed", "InvalidIfMatchVersion")


def cloudfront_client(module):
    """A client whose calls retry throttling when made with ``aws_retry=True``."""
    return module.client("cloudfront", retry_decorator=RETRY_DECORATOR)


def list_all(client, operation, list_key, item_key=None, **filters):
    """Every item of a Marker-paginated CloudFront list (most have no boto3 paginator);
    ``filters`` are the operation's own parameters (e.g. ``Type="custom"``). An error says
    what failed: "Failed to list key groups" for ``list_key_groups``."""
    return _list_pages(client, operation, list_key, item_key, operation.replace("_", " "), filters)


@AWSErrorHandler.common_error_handler("{what}")
def _list_pages(client, operation, list_key, item_key, what, filters):
    items = []
    marker = None
    method = getattr(client, operation)
    while True:
        params = {"Marker": marker} if marker else {}
        page = method(aws_retry=True, **filters, **params).get(list_key) or {}
        items.extend(page.get("Items") or [])
        marker = page.get("NextMarker")
        if not marker:
            break
    if item_key:
        items = [item[item_key] for item in items]
    return items


def to_cf_list(items, *, keep_empty_items=False):
    """A Python list as CloudFront's Quantity/Items wrapper."""
    items = list(items or [])
    wrapped = {"Quantity": len(items)}
    if items or keep_empty_items:
        wrapped["Items"] = items
    return wrapped


def from_cf_list(wrapped):
    return list((wrapped or {}).get("Items") or [])


def normalize(value):
    """A comparable form: drop None, Quantity/Items lists of scalars sorted, empty Items dropped.

    Lists of scalars (methods, aliases, key group ids) are sets to CloudFront; lists of dicts
    (origins, cache behaviours) keep their order, which is their precedence.
    """
    if isinstance(value, dict):
        out = {key: normalize(item) for key, item in value.items() if item is not None}
        if "Quantity" in out:
            items = out.get("Items") or []
            if items and not isinstance(items[0], dict):
                items = sorted(items, key=str)
            if items:
                out["Items"] = items
            else:
                out.pop("Items", None)
        return out
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


def prune(value):
    """Drop None and "" recursively: AWS and its emulators differ in returning or omitting them."""
    if isinstance(value, dict):
        return {key: prune(item) for key, item in value.items() if item is not None and item != ""}
    if isinstance(value, list):
        return [prune(item) for item in value]
    return value


_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")


def pem_fingerprint(pem):
    """The DER bytes inside a PEM block, so whitespace and line endings don't count as changes."""
    body = "".join(_PEM_ARMOUR.sub("", pem or "").split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def find_named(client, operation, list_key, name, *, item_key=None, config_key=None, **filters):
    """The listed item whose name (in its ``config_key`` when the list nests it) is ``name``."""
    for item in list_all(client, operation, list_key, item_key=item_key, **filters):
        if (item.get(config_key) if config_key else item).get("Name") == name:
            return item
    return None


class ConfigResource:
    """A CloudFront resource that is one ``<Kind>Config`` under optimistic locking (key group,
    origin access control, public key, response headers policy): read with the ETag that an
    update or delete must quote (``IfMatch``), created, updated and deleted.

    Errors are AnsibleAWSError naming the resource (``label`` and its ID); a stale ETag (someone
    else changed it since we read it) fails asking to run again, never overwrites.
    """

    def __init__(self, client, kind, label, *, missing_code, in_use_code, in_use_hint):
        self.client, self.kind, self.label = client, kind, label
        self.missing_code, self.in_use_code, self.in_use_hint = (
            missing_code,
            in_use_code,
            in_use_hint,
        )
        self._snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()  # KeyGroup: key_group

    def _call(self, action, **params):
        return getattr(self.client, f"{action}_{self._snake}")(aws_retry=True, **params)

    @AWSErrorHandler.common_error_handler("read {self.label} {resource_id}")
    def get(self, resource_id):
        """(the resource as CloudFront returns it, with ``<Kind>Config``; its ETag), or (None,
        None) when it was deleted since it was listed."""
        try:
            response = self._call("get", Id=resource_id)
        except is_boto3_error_code(self.missing_code):
            return None, None
        return response[self.kind], response["ETag"]

    @AWSErrorHandler.common_error_handler("create {self.label} {config[Name]}")
    def create(self, config):
        """(the new resource, its ETag)."""
        response = self._call("create", **{f"{self.kind}Config": config})
        return response[self.kind], response.get("ETag")

    @AWSErrorHandler.common_error_handler("update {self.label} {resource_id}")
    def update(self, resource_id, etag, config):
        """(the resource after the update, its new ETag)."""
        try:
            response = self._call(
                "update", Id=resource_id, IfMatch=etag, **{f"{self.kind}Config": config}
            )
        except is_boto3_error_code(STALE_ETAG_CODES) as e:
            raise AnsibleAWSError(
                message=f"{self.label.capitalize()} {resource_id} changed while updating it;"
                " run again",
                exception=e,
            ) from e
        return response[self.kind], response.get("ETag")

    @AWSErrorHandler.common_error_handler("delete {self.label} {resource_id}")
    def delete(self, resource_id, etag):
        try:
            self._call("delete", Id=resource_id, IfMatch=etag)
        except is_boto3_error_code(self.missing_code):
            pass  # deleted meanwhile: the goal is reached
        except is_boto3_error_code(self.in_use_code) as e:  # pylint: disable=duplicate-except
            raise AnsibleAWSError(
                message=f"{self.label.capitalize()} {resource_id} {self.in_use_hint}", exception=e
            ) from e

    def config(self, resource):
        return resource[f"{self.kind}Config"]


def ensure_config(module, resource, existing_id, desired, *, key, view, result, merge=None):
    """The present state of a ConfigResource: created from ``desired``, or updated when its
    ``view`` differs (``merge(live config)`` is what an update sends, else ``desired``); check
    mode changes nothing and returns it as it would be. Exits."""

    def exit_with(changed, resource_id, config, etag, before=None, after=None):
        diff = diff_result(module, before, after) if changed else {}
        module.exit_json(changed=changed, **{key: result(resource_id, config, etag)}, **diff)

    current, etag = resource.get(existing_id) if existing_id else (None, None)
    if current is None:
        after = view(desired)
        if module.check_mode:
            exit_with(True, None, desired, None, {}, after)
        created, etag = resource.create(desired)
        exit_with(True, created["Id"], resource.config(created), etag, {}, after)
    live = resource.config(current)
    wanted = merge(live) if merge else desired
    before, after = view(live), view(wanted)
    if before == after:
        exit_with(False, existing_id, live, etag)
    if module.check_mode:
        exit_with(True, existing_id, wanted, etag, before, after)
    updated, etag = resource.update(existing_id, etag, wanted)
    exit_with(True, existing_id, resource.config(updated), etag, before, after)


def ensure_config_absent(module, resource, existing_id, *, key, view):
    """The absent state of a ConfigResource: deleted quoting its ETag (none in check mode)."""
    current, etag = resource.get(existing_id) if existing_id else (None, None)
    if current is None:
        module.exit_json(changed=False, **{key: {}})
    if not module.check_mode:
        resource.delete(existing_id, etag)
    module.exit_json(
        changed=True, **{key: {}}, **diff_result(module, view(resource.config(current)), {})
    )
