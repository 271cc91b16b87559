"""The web UI: server-rendered page shells plus a small static app over the JSON API.

Every page is the same HTML shell (``templates/page.html``) with the signed-in user, if any,
in a ``data-`` attribute; ``static/app.js`` (an ES module, no inline script) renders the page
from the JSON API. hls.js is vendored under ``static/vendor/hls/`` by ``app/web/vendor.sh``
from the npm registry: nothing is loaded from a CDN. Pages carry a strict
Content-Security-Policy that allows scripts, styles and workers from the app's own origin only,
and media/XHR from the app and the signed-media origin (nginx locally, CloudFront on AWS).
"""

from __future__ import annotations

import html
import json
import uuid
from pathlib import Path
from string import Template
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

from streamapp import __version__
from streamapp.api.deps import OptionalUserDep
from streamapp.config import Settings
from streamapp.models import User
from streamapp.signing import cloudfront_base

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
_SHELL = Template((HERE / "templates" / "page.html").read_text(encoding="utf-8"))

# Pages a visitor may see without logging in; the others redirect to /login?next=...
PUBLIC_PAGES = {"browse", "login", "signup"}
TITLES = {
    "browse": "Browse",
    "login": "Log in",
    "signup": "Sign up",
    "watch": "Watch",
    "upload": "Upload",
    "history": "History",
    "preferences": "Preferences",
}


def media_origin(settings: Settings) -> str | None:
    """The origin signed playback URLs point at, for the CSP (None when it is unusable)."""
    if settings.signing_mode == "cloudfront":
        if not settings.cloudfront_domain:
            return None
        # The signer's own base: a local stand-in's http:// one included.
        parts = urlsplit(cloudfront_base(settings.cloudfront_domain))
    else:
        parts = urlsplit(settings.public_media_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    media = media_origin(settings)
    extra = f" {media}" if media else ""
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data:{extra}",
        # MediaSource objects are attached to <video>/<audio> through blob: URLs.
        f"media-src 'self' blob:{extra}",
        f"connect-src 'self'{extra}",
        "worker-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def security_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def _user_json(user: User | None) -> str:
    if user is None:
        return "null"
    return json.dumps(
        {
            "id": str(user.id),
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role.value,
        }
    )


class CachedStatic(StaticFiles):
    """Static files; the vendored libraries are immutable per version, the app revalidates."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def,override]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            immutable = path.startswith("vendor/")
            response.headers["Cache-Control"] = "public, max-age=86400" if immutable else "no-cache"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def render(settings: Settings, page: str, user: User | None, **data: str) -> HTMLResponse:
    attrs = "".join(
        f' data-{name.replace("_", "-")}="{html.escape(value, quote=True)}"'
        for name, value in data.items()
    )
    body = _SHELL.substitute(
        title=html.escape(TITLES.get(page, "StreamStack")),
        page=html.escape(page, quote=True),
        user=html.escape(_user_json(user), quote=True),
        extra_attrs=attrs,
        version=html.escape(__version__, quote=True),
    )
    return HTMLResponse(body, headers=security_headers(settings))


def _page(page: str):  # type: ignore[no-untyped-def]
    def handler(request: Request, user: OptionalUserDep) -> Response:
        settings: Settings = request.app.state.settings
        if page not in PUBLIC_PAGES and user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if page in ("login", "signup") and user is not None:
            return RedirectResponse("/", status_code=303)
        return render(settings, page, user)

    handler.__name__ = f"page_{page}"
    return handler


def _watch(request: Request, item_id: uuid.UUID, user: OptionalUserDep) -> Response:
    settings: Settings = request.app.state.settings
    if user is None:
        return RedirectResponse(
            f"/login?next={quote(f'/watch/{item_id}', safe='')}", status_code=303
        )
    return render(settings, "watch", user, item_id=str(item_id))


def install(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/", _page("browse"), methods=["GET"])
    for page in ("login", "signup", "upload", "history", "preferences"):
        router.add_api_route(f"/{page}", _page(page), methods=["GET"])
    router.add_api_route("/watch/{item_id}", _watch, methods=["GET"])
    app.include_router(router)
    app.mount("/static", CachedStatic(directory=STATIC_DIR), name="static")
