"""Refuse request bodies over the upload limit before they are parsed or spooled to disk."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamapp.guards import send_json

# Multipart framing and form fields around the file itself.
_OVERHEAD = 64 * 1024


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.limit = app, max_bytes + _OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            # No body at all (HTTP/1.1: neither length nor chunking), e.g. every GET.
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, self.limit)
            return
        seen = 0
        exceeded = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # chunked bodies carry no Content-Length
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            # Whatever the app made of the cut-off body (e.g. a multipart parse error), the
            # client learns the real reason.
            if exceeded:
                if not refused and message["type"] == "http.response.start":
                    refused = True
                    await _refuse(send, self.limit)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not refused:
                await _refuse(send, self.limit)


async def _refuse(send: Send, limit: int) -> None:
    body = {"code": "file_too_large", "message": f"The request body exceeds {limit} bytes."}
    await send_json(send, 413, body, connection="close")
