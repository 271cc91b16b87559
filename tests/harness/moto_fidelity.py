"""Fidelity layer: make moto answer the way AWS does where the upstream modules depend on it.

Each fix is a function named after the AWS behaviour it restores, registered with ``@fix``;
``apply()`` installs them all into the moto server process before it starts serving. Every fix
has a test in tests/test_moto_fidelity.py showing the AWS-shaped response. Production playbooks
never carry emulator workarounds: they belong here.
"""

from __future__ import annotations

from collections.abc import Callable

FIXES: list[Callable[[], None]] = []


def fix(func: Callable[[], None]) -> Callable[[], None]:
    FIXES.append(func)
    return func


def apply() -> None:
    for func in FIXES:
        func()
