"""Fidelity layer: make moto answer the way AWS does where the upstream modules depend on it.

Each fix is a function named after the AWS behaviour it restores, registered with ``@fix``
(core.py); ``apply()`` installs them all into the moto server process before it starts serving.
One module per AWS service, plus the machinery the services share: core.py (the registry,
``_around``, ``_settling``), timing.py (AWS_DURATIONS), journal.py (the request journal),
realistic.py (durations, eventual consistency and faults), deferred.py (work AWS finishes later).
Every fix has a test in tests/local/test_moto_fidelity.py showing the AWS-shaped response.
Production playbooks never carry emulator workarounds: they belong here.

Written against moto 5.2.5. Fixes wrap moto's own methods (``_around``) instead of copying them,
so that a moto upgrade keeps its behaviour and only the delta is ours.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from local.emulator.fidelity.core import FIXES

# The order fixes are installed in: where two fixes wrap the same moto method, the later one is
# the outer wrapper (e.g. BaseResponse.call_action: the journal, then the realistic mode's
# faults, then the deferred work; FakeLoadBalancer.__init__: realistic, then elbv2's).
MODULES = (
    "timing",
    "journal",
    "realistic",
    "deferred",
    "dynamodb",
    "ec2",
    "autoscaling",
    "cloudfront",
    "logs",
    "secretsmanager",
    "rds",
    "elbv2",
    "s3",
    "ssm",
    "iam",
    "sts",
    "imds",
    "route53",
    "sqs",
    "hosts",
    "elasticbeanstalk",
)
_applied = False


def fixes() -> list[Callable[[], None]]:
    """Every fix, in the order ``apply()`` installs them (MODULES' order, then each module's)."""
    rank = {
        importlib.import_module(f"{__name__}.{name}").__name__: i for i, name in enumerate(MODULES)
    }
    return sorted(FIXES, key=lambda func: rank[func.__module__])


def apply() -> None:
    """Install every fix once (a second call is a no-op, so wrappers never stack)."""
    global _applied
    if _applied:
        return
    for func in fixes():
        func()
    _applied = True
