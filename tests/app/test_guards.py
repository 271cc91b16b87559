"""The request guards as ASGI middleware (app/src/streamapp/guards.py), without a server: a
refused state-changing request's body is read before the 403 goes out (a proxy streaming the
body would otherwise see the connection reset and answer 502), up to a bound."""

from __future__ import annotations

import asyncio

from streamapp.guards import DRAIN_LIMIT, CrossSiteGuard

CROSS_SITE_POST = {
    "type": "http",
    "method": "POST",
    "path": "/api/items",
    "headers": [(b"host", b"app.example"), (b"sec-fetch-site", b"same-site")],
}


def _refuse(chunks: list[bytes]) -> tuple[list[str], dict]:
    """Events in order: 'read' per body chunk taken, then the response start's status/headers."""
    events: list[str] = []
    pending = list(chunks)

    async def receive():
        chunk = pending.pop(0)
        events.append("read")
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    start: dict = {}

    async def send(message):
        if message["type"] == "http.response.start":
            events.append("answer")
            start.update(status=message["status"], headers=dict(message["headers"]))

    async def never(scope, receive, send):
        raise AssertionError("the route ran")

    asyncio.run(CrossSiteGuard(never, frozenset())(CROSS_SITE_POST, receive, send))
    return events, start


def test_a_refused_upload_is_read_to_its_end_before_the_answer():
    events, start = _refuse([b"x" * 65536] * 3)
    assert events == ["read", "read", "read", "answer"]
    assert start["status"] == 403
    assert b"connection" not in start["headers"]  # the connection stays usable


def test_a_refused_body_past_the_bound_is_left_and_the_connection_closed():
    chunk = 65536
    events, start = _refuse([b"x" * chunk] * (DRAIN_LIMIT // chunk + 10))
    assert events.count("read") == DRAIN_LIMIT // chunk + 1
    assert events[-1] == "answer"
    assert start["status"] == 403
    assert start["headers"][b"connection"] == b"close"
