# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the streamstack.aws modules, above all the *set* modules: one call
manages a list of resources of one type (alarms, log groups, subnets, security groups,
buckets, queues) and reports them alike - which were created, updated, deleted, and a diff
keyed by resource name.
"""

from __future__ import annotations

try:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    AWS_ERRORS = (BotoCoreError, ClientError)
    WAITER_ERRORS = (WaiterError,)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing botocore
    WAITER_ERRORS = ()


def exit_set(
    module, key, items, *, before, after, created=(), updated=(), deleted=(), changed=None
):
    """Exit with the set's resources under ``key`` and what changed (or would, in check mode)."""
    module.exit_json(
        changed=bool(created or updated or deleted) if changed is None else changed,
        created=list(created),
        updated=list(updated),
        deleted=list(deleted),
        diff={"before": before, "after": after},
        **{key: items},
    )
