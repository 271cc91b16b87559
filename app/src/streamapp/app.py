"""The FastAPI application: routers, error handlers, middleware."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from streamapp import __version__, errors, jsonlog, web
from streamapp.api import accounts, catalog, ops, sqsd, uploads
from streamapp.config import Settings, get_settings, require_resources
from streamapp.guards import CrossSiteGuard, OpsEndpointsGuard
from streamapp.limits import BodyLimitMiddleware
from streamapp.metrics import ObserveMiddleware, Registry
from streamapp.ratelimit import Buckets
from streamapp.secrets import SecretMissing

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, configure_logging: bool = True) -> FastAPI:
    settings = settings or get_settings()
    require_resources(settings)
    if configure_logging:
        jsonlog.setup(settings.log_level, settings.log_file)
    app = FastAPI(
        title="StreamStack API",
        version=__version__,
        description="Accounts, catalog, upload, transcoding status and signed playback URLs. "
        "Errors are JSON objects with `code` and `message`.",
    )
    app.state.settings = settings
    app.state.signer = None
    app.state.metrics = Registry()
    app.state.search_budget = Buckets(settings.search_rate_per_minute)
    errors.install(app)
    _install_dependency_errors(app)
    app.include_router(ops.router)
    app.include_router(accounts.router)
    app.include_router(uploads.router)
    app.include_router(catalog.router)
    sqsd.install(app, settings)
    web.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    # The signed-media origin is the platform's public one (CloudFront serves the app and the
    # media; locally nginx on the page's origin does), which Host need not show behind them.
    public_origin = web.media_origin(settings)
    app.add_middleware(CrossSiteGuard, trusted_origins=frozenset(filter(None, [public_origin])))
    ops_paths = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.add_middleware(
        OpsEndpointsGuard,
        paths=frozenset(p for p in (*ops_paths, ops.METRICS_PATH) if p),
        mode=settings.ops_endpoints,
    )
    app.add_middleware(ObserveMiddleware, registry=app.state.metrics)
    return app


def _install_dependency_errors(app: FastAPI) -> None:
    """A dependency that is down is a 503 with a reason, never a bare 500."""

    def unavailable(code: str, message: str):  # type: ignore[no-untyped-def]
        async def handler(_: Request, exc: Exception) -> JSONResponse:
            log.warning("dependency unavailable", extra={"code": code, "error": str(exc)[:300]})
            return JSONResponse(
                {"code": code, "message": message}, status_code=503, headers={"Retry-After": "5"}
            )

        return handler

    db_down = unavailable("database_unavailable", "The database is unreachable; try again.")
    for exc_type in (OperationalError, PoolTimeout, DBAPIError):
        app.add_exception_handler(exc_type, db_down)
    aws_down = unavailable("aws_unavailable", "A storage or queue service is unreachable.")
    for exc_type in (BotoCoreError, ClientError):
        app.add_exception_handler(exc_type, aws_down)

    async def bad_value(_: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the schema let through: the input's fault, not ours.
        log.warning("value refused by the database", extra={"error": str(exc)[:300]})
        return JSONResponse(
            {"code": "invalid_value", "message": "A value is not acceptable."}, status_code=422
        )

    app.add_exception_handler(DataError, bad_value)
    app.add_exception_handler(
        SecretMissing, unavailable("signing_unavailable", "Playback signing is not configured.")
    )
