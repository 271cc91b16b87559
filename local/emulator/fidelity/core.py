"""The fidelity layer's machinery: the ``fix`` registry and the helpers fixes patch moto with.

``_around`` wraps moto's own methods instead of copying them, so that a moto upgrade keeps its
behaviour and only our delta is ours; ``_settling`` holds a state moto sets at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

FIXES: list[Callable[[], None]] = []


def fix(func: Callable[[], None]) -> Callable[[], None]:
    FIXES.append(func)
    return func


def _settling(owner: Any, name: str, *, settled: str, settling: str) -> None:
    """Make ``owner.name`` read ``settling`` while moto has set it to ``settled`` and the
    object's ``fidelity_ready_at`` (a monotonic time) has not come; any other value moto sets
    (e.g. deleting) reads as set."""
    key = f"fidelity_{name}"

    def get(self: Any) -> str:
        value = self.__dict__.get(key, settled)
        if value == settled and time.monotonic() < self.__dict__.get("fidelity_ready_at", 0):
            return settling
        return value

    def put(self: Any, value: str) -> None:
        self.__dict__[key] = value

    setattr(owner, name, property(get, put))


def _around(owner: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replace ``owner.name`` by the decorated function, which gets the original as first arg."""
    original = getattr(owner, name, None)

    def install(new: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(new)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return new(original, *args, **kwargs)

        setattr(owner, name, wrapper)
        return wrapper

    return install


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"
