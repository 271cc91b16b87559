# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The *set* modules' reconciler: one call manages a list of resources of one type (alarms, log
groups, subnets, security groups, buckets, queues) and reports them alike - which were created,
updated, deleted, and a diff keyed by resource name (only under --diff).

A module gives the names of the set, what exists (keyed by name) and per resource how to apply
it; the reconciler refuses a name given twice, deletes for the absent state, keeps check mode
from changing anything while showing the resources as they would be, and exits.
"""

from __future__ import annotations

try:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    AWS_ERRORS = (BotoCoreError, ClientError)
    WAITER_ERRORS = (WaiterError,)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing botocore
    WAITER_ERRORS = ()


def diff_result(module, before, after):
    """The ``diff`` key for exit_json, only when --diff was asked for (every module's way)."""
    if not module._diff:
        return {}
    return {"diff": {"before": before or {}, "after": after or {}}}


def require_unique(module, names, what):
    """Fails naming the ones given more than once, before any call: ``what`` says which."""
    twice = sorted({name for name in names if names.count(name) > 1}, key=str)
    if twice:
        module.fail_json(msg=f"{what} given more than once: {', '.join(map(str, twice))}")


def exit_set(
    module, key, items, *, before, after, created=(), updated=(), deleted=(), changed=None
):
    """Exit with the set's resources under ``key`` and what changed (or would, in check mode)."""
    module.exit_json(
        changed=bool(created or updated or deleted) if changed is None else changed,
        created=list(created),
        updated=list(updated),
        deleted=list(deleted),
        **diff_result(module, before, after),
        **{key: items},
    )


def exit_absent(module, key, deleted, delete, *, before=None, items=(), batch=None):
    """The absent state: ``delete(name)`` for each of ``deleted`` (the named ones that exist),
    or ``delete(names)`` for each ``batch`` of them where the API deletes several in a call;
    none in check mode. Exits with them as deleted (``before``: their views, else empty)."""
    if not module.check_mode:
        if batch:
            for start in range(0, len(deleted), batch):
                delete(deleted[start : start + batch])
        else:
            for name in deleted:
                delete(name)
    exit_set(
        module,
        key,
        list(items),
        deleted=deleted,
        before={name: {} for name in deleted} if before is None else before,
        after={},
    )


def exit_present(module, key, names, live, *, apply, view, wanted_view, result, planned, refresh):
    """The present state for the set ``names``, of which ``live`` (keyed by name) exist.

    ``apply(name, current)`` creates (current None) or updates one resource, calling AWS only
    outside check mode, and returns whether it changes; ``view(current)`` and
    ``wanted_view(name, current)`` are the diff's before and after of one; ``refresh()`` reads
    the set again after a change; ``result(current)`` is one as returned, ``planned(name,
    wanted_view)`` one that check mode would change, as it would be.
    """
    before = {name: view(live[name]) for name in names if name in live}
    after = {name: wanted_view(name, live.get(name)) for name in names}
    created, updated = [], []
    for name in names:
        if apply(name, live.get(name)):
            (updated if name in live else created).append(name)
    if (created or updated) and not module.check_mode:
        live = refresh()
    # In check mode the resources that would change are shown as they would be.
    pending = set(created + updated) if module.check_mode else set()
    items = [
        planned(name, after[name]) if name in pending else result(live[name]) for name in names
    ]
    exit_set(module, key, items, created=created, updated=updated, before=before, after=after)
