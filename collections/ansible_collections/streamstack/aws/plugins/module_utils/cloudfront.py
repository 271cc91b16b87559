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

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# The CloudFront control plane throttles at a few requests per second per account.
RETRY_DECORATOR = AWSRetry.jittered_backoff(retries=10)

# An update or delete raced with someone else's change: the ETag we hold is stale.
STALE_ETAG_CODES = ("PreconditionFailed", "InvalidIfMatchVersion")


def cloudfront_client(module):
    """A client whose calls retry throttling when made with ``aws_retry=True``."""
    return module.client("cloudfront", retry_decorator=RETRY_DECORATOR)


def list_all(client, operation, list_key, item_key=None, **filters):
    """Every item of a Marker-paginated CloudFront list (most have no boto3 paginator);
    ``filters`` are the operation's own parameters (e.g. ``Type="custom"``)."""
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


def diff_result(module, before, after):
    """The ``diff`` key for exit_json, only when --diff was asked for."""
    if not module._diff:
        return {}
    return {"diff": {"before": before or {}, "after": after or {}}}
