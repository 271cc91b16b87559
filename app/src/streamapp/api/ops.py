"""Operations endpoints for the load balancer and monitoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from streamapp import __version__, health
from streamapp.api.deps import SettingsDep

router = APIRouter(tags=["operations"])
METRICS_PATH = "/metrics"  # internal by default (streamapp.guards, ops_endpoints)


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness: the process serves requests (no dependency checks, so no restart storms)."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable"}})
def readyz(settings: SettingsDep) -> JSONResponse:
    """Readiness: database, DynamoDB, S3 and SQS all answer (a failure names the dependency,
    never the error: that goes to the log)."""
    ok, checks = health.readiness(settings)
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


@router.get(METRICS_PATH, response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Request metrics in the Prometheus text format."""
    return PlainTextResponse(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
    )
