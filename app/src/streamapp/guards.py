"""Request guards in front of every route, as pure ASGI middleware.

``OpsEndpointsGuard``: the operations endpoints (metrics, the OpenAPI schema and its docs)
describe the service to whoever asks; by default only someone on the host itself may. A
request counts as internal when it comes from a loopback address without any forwarding
header: nginx always adds ``X-Forwarded-For`` (and ``X-Real-IP``), so nothing that reached the
app through the proxy, whatever its origin, is internal.
"""

from __future__ import annotations

import ipaddress
import json

from starlette.types import ASGIApp, Receive, Scope, Send

_FORWARDING = (b"x-forwarded-for", b"x-real-ip", b"forwarded")


def is_internal(scope: Scope) -> bool:
    """The request was made on this host, straight to the app (not through a proxy)."""
    if any(name in _FORWARDING for name, _ in scope.get("headers", [])):
        return False
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def send_json(send: Send, status: int, body: dict[str, str], **headers: str) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class OpsEndpointsGuard:
    """``mode`` "internal": the ``paths`` answer 404 (as a missing route) unless the request
    is internal; "off": always 404; "public": no guard."""

    def __init__(self, app: ASGIApp, paths: frozenset[str], mode: str) -> None:
        self.app, self.paths, self.mode = app, paths, mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.mode != "public"
            and scope["path"] in self.paths
            and not (self.mode == "internal" and is_internal(scope))
        ):
            await send_json(send, 404, {"code": "not_found", "message": "Not Found"})
            return
        await self.app(scope, receive, send)
