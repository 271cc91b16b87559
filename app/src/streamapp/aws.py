"""boto3 clients built from the app's settings (endpoint, region, timeouts)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from streamapp.config import Settings

_local = threading.local()

# Short timeouts: a dependency that hangs must turn into a clear error, not a stuck request.
_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)
PROBE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})


def client(settings: Settings, service: str, *, config: Config | None = None) -> Any:
    """A client per thread and service (boto3 sessions are not thread-safe to create from)."""
    cache: dict[tuple[str, str, str, int], Any] = getattr(_local, "clients", None) or {}
    _local.clients = cache
    key = (service, settings.aws_endpoint_url or "", settings.aws_region, id(config))
    if key not in cache:
        session = boto3.session.Session()
        cache[key] = session.client(
            service,  # type: ignore[call-overload]
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            config=config or _CONFIG,
        )
    return cache[key]


def reset_clients() -> None:
    _local.clients = {}
