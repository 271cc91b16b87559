"""Request guards in front of every route, as pure ASGI middleware.

``CrossSiteGuard``: a browser attaches the session cookie to requests that other pages make
(SameSite=Lax still sends it from any page of the same site, e.g. another port or a sibling
subdomain, and on top-level form posts), so a state-changing request must come from a page of
the app itself. Browsers say where a request comes from: ``Sec-Fetch-Site`` (every current
browser) and ``Origin`` (older ones, on every non-GET). A request with neither is not a
browser's (curl, scripts): its credentials are its own, nothing to forge.

``OpsEndpointsGuard``: the operations endpoints (metrics, the OpenAPI schema and its docs)
describe the service to whoever asks; by default only someone on the host itself may. A
request counts as internal when it comes from a loopback address without any forwarding
header: nginx always adds ``X-Forwarded-For`` (and ``X-Real-IP``), so nothing that reached the
app through the proxy, whatever its origin, is internal.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

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


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_ORIGIN = frozenset({b"same-origin", b"none"})  # none: typed, bookmarked, the user's own


def cross_site(scope: Scope, trusted_origins: frozenset[str]) -> bool:
    """A browser sent this request from a page that is not the app's (another site, or
    another origin of the same site)."""
    headers = dict(scope.get("headers", []))
    fetch_site = headers.get(b"sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in _SAME_ORIGIN
    origin = headers.get(b"origin")
    if origin is None:
        return False
    text = origin.decode("latin-1").lower()
    if text in trusted_origins:
        return False
    # The page's own origin as the request names it ("null" from sandboxed or privacy-sensitive
    # contexts names none and is refused).
    host = headers.get(b"host", b"").decode("latin-1").lower()
    return not host or urlsplit(text).netloc != host


class CrossSiteGuard:
    """State-changing requests (any method but GET, HEAD, OPTIONS) from another site or
    origin answer 403 ``cross_site_request`` before any route runs. ``trusted_origins``: the
    platform's public origin(s), which the Host header behind a CDN or proxy may not show."""

    def __init__(self, app: ASGIApp, trusted_origins: frozenset[str]) -> None:
        self.app = app
        self.trusted = frozenset(o.lower().rstrip("/") for o in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in _SAFE_METHODS
            and cross_site(scope, self.trusted)
        ):
            message = "Requests from other sites or pages are refused."
            body = {"code": "cross_site_request", "message": message}
            if await drain(receive, DRAIN_LIMIT):
                await send_json(send, 403, body)
            else:
                await send_json(send, 403, body, connection="close")
            return
        await self.app(scope, receive, send)


# A refused request's body is read up to this much before the answer (a form, a small upload).
DRAIN_LIMIT = 1024 * 1024


async def drain(receive: Receive, limit: int) -> bool:
    """Read and drop the request body, at most ``limit`` bytes; False when more was left.

    Answering before the body is read leaves the client's bytes unread, and closing a socket
    with unread data resets the connection: a proxy streaming the body (nginx with
    proxy_request_buffering off) then reports 502 instead of the answer."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return True  # the client left
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False
