"""Request metrics and access logs, as one pure-ASGI middleware.

Counters and latency histograms per method, route template and status, served at ``/metrics`` in
the Prometheus text format; each request also logs one JSON line (the CloudWatch agent can turn
those into metrics too).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamapp.jsonlog import request_id

log = logging.getLogger("streamapp.access")

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count: dict[tuple[str, str, int], int] = defaultdict(int)
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.observed: dict[tuple[str, str], int] = defaultdict(int)
        self.in_flight = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.count[(method, route, status)] += 1
            self.seconds[(method, route)] += seconds
            self.observed[(method, route)] += 1
            counts = self.buckets[(method, route)]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1

    def render(self) -> str:
        lines = [
            "# TYPE streamapp_http_requests_total counter",
            *(
                f'streamapp_http_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}'
                for (m, r, s), n in sorted(self.count.items())
            ),
            "# TYPE streamapp_http_request_duration_seconds histogram",
        ]
        for (m, r), counts in sorted(self.buckets.items()):
            labels = f'method="{m}",route="{r}"'
            for bound, n in zip(BUCKETS, counts, strict=True):
                lines.append(
                    f'streamapp_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}'
                )
            total = self.observed[(m, r)]
            lines.append(
                f'streamapp_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total}'
            )
            seconds = self.seconds[(m, r)]
            lines.append(f"streamapp_http_request_duration_seconds_sum{{{labels}}} {seconds:.6f}")
            lines.append(f"streamapp_http_request_duration_seconds_count{{{labels}}} {total}")
        lines += [
            "# TYPE streamapp_http_requests_in_flight gauge",
            f"streamapp_http_requests_in_flight {self.in_flight}",
        ]
        return "\n".join(lines) + "\n"


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, registry: Registry) -> None:
        self.app, self.registry = app, registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _header(scope, b"x-request-id") or uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        self.registry.in_flight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.registry.in_flight -= 1
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.registry.observe(scope["method"], route, status, elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text: Any = value.decode("latin-1")[:64]
            return text if text.replace("-", "").isalnum() else None
    return None
