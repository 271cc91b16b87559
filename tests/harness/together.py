"""Independent runs started together: the parametrized cases of one test that each run a
playbook expected to stop in preflight. Such a run waits far more than it computes (start-up,
the fork server, the emulator), so a module fixture starts the session's selected cases at once
(bounded) and each case's test asserts its own result, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

# Runs at once: each is mostly waiting, a few CPU-seconds apiece (measured on 2 cores).
WORKERS = 4

T = TypeVar("T")


def selected(request: pytest.FixtureRequest, test: str) -> list[dict[str, Any]]:
    """The parameters of ``test``'s cases (in the requesting module) this session runs, so
    that `-k` selecting one case runs that case only."""
    return [
        item.callspec.params
        for item in request.session.items
        if item.path == request.path and getattr(item, "originalname", None) == test
    ]


def together(calls: dict[Hashable, Callable[[], T]]) -> dict[Hashable, Future[T]]:
    """Every call run, at most WORKERS at once; returns when all are done. A call's error is
    raised by its own ``result()``, i.e. in its own test."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return {key: pool.submit(call) for key, call in calls.items()}
