"""Work AWS finishes some time after a request, run before the next request is answered."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix

# --------------------------------------------------------------------------------------------
# Deletions AWS finishes later: what a teardown meets on a real account
# --------------------------------------------------------------------------------------------

# Work AWS finishes some time after a request (AWS_DURATIONS, scaled): (monotonic time, action).
# Due work runs before the next request is answered (deferred_work_runs_before_each_request),
# so the emulator needs no thread of its own; at timing scale 0 it runs at once, as moto does.
_LATER: list[tuple[float, Callable[[], None]]] = []
_LATER_LOCK = threading.Lock()


def _later(at: float, action: Callable[[], None]) -> None:
    with _LATER_LOCK:
        _LATER.append((at, action))
    _settle()


def _settle() -> None:
    now = time.monotonic()
    with _LATER_LOCK:
        due = [action for at, action in _LATER if at <= now]
        _LATER[:] = [(at, action) for at, action in _LATER if at > now]
    for action in due:
        # The resource may have gone another way meanwhile (a reset, a deleted VPC).
        with contextlib.suppress(Exception):
            action()


@fix
def deferred_work_runs_before_each_request() -> None:
    """Not a moto gap: the work AWS finishes later (``_later``) is done before the first request
    answered after its time, so describe calls, waiters and refusals all see the same state."""
    from moto.core.responses import BaseResponse

    @_around(BaseResponse, "call_action")
    def call_action(original: Callable[..., Any], self: BaseResponse) -> Any:
        _settle()
        return original(self)
