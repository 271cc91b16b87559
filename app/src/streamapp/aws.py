"""boto3 clients built from the app's settings (endpoint, region, timeouts)."""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from streamapp.config import Settings

_lock = threading.Lock()
_clients: dict[tuple[str, str, str, int], Any] = {}

# Short timeouts: a dependency that hangs must turn into a clear error, not a stuck request.
# The connection pool covers every thread of the request thread pool (anyio's default: 40),
# since those threads share one client.
_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=64,
)
PROBE_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}, max_pool_connections=64
)
# Beyond a long poll's WaitTimeSeconds, the time SQS may take to answer once the wait is over.
LONG_POLL_MARGIN_SECONDS = 10


@lru_cache(maxsize=8)
def long_poll_config(wait_seconds: int) -> Config:
    """The client config for an SQS ReceiveMessage that waits up to ``wait_seconds``.

    The read timeout must outlast the wait: a receive the client gives up on still runs in SQS,
    and a message that arrives before its wait is over is handed to the closed connection and
    stays invisible (its receive count raised) for the visibility timeout; a few such receives
    and the redrive policy moves a job nobody ever saw to the dead-letter queue. One object per
    wait (cached), since ``client`` keys its clients by the config's identity."""
    return _CONFIG.merge(Config(read_timeout=wait_seconds + LONG_POLL_MARGIN_SECONDS))


class CallRecorder:
    """Appends each (service, operation) a process calls to a JSON-lines file, once per process
    (``STREAMAPP_AWS_CALL_LOG``): the tests compare them with the IAM call table
    (tests/iam/calls.yml), so a call the instance roles were not written for cannot ship."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, model: Any, **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        if key in self._seen:
            return
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            line = json.dumps({"service": key[0], "operation": key[1], "pid": os.getpid()})
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line + "\n")


# One recorder per log file, shared by the clients of a process (created under _lock).
_recorders: dict[str, CallRecorder] = {}


def client(settings: Settings, service: str, *, config: Config | None = None) -> Any:
    """One client per process, service, endpoint, region and config, shared by all threads.

    botocore clients are thread-safe (sessions are not, so each client gets its own session,
    made under a lock). Creating a client loads and parses the service model, tens of
    milliseconds of CPU: a client per thread was rebuilt whenever the request thread pool
    replaced an idle thread, on the request path.
    """
    key = (service, settings.aws_endpoint_url or "", settings.aws_region, id(config))
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                session = boto3.session.Session()
                found = session.client(
                    service,  # type: ignore[call-overload]
                    region_name=settings.aws_region,
                    endpoint_url=settings.aws_endpoint_url,
                    config=config or _CONFIG,
                )
                if settings.aws_call_log:
                    recorder = _recorders.get(settings.aws_call_log)
                    if recorder is None:
                        recorder = _recorders[settings.aws_call_log] = CallRecorder(
                            settings.aws_call_log
                        )
                    found.meta.events.register("before-call.*.*", recorder)
                _clients[key] = found
    return found


def reset_clients() -> None:
    with _lock:
        _clients.clear()
        _recorders.clear()
