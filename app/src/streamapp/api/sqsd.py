"""The route Elastic Beanstalk's worker daemon (sqsd) POSTs each job of the queue to.

On a worker environment, sqsd receives the transcoding queue's messages and POSTs each body to
``STREAMAPP_SQSD_PATH`` on the instance; a 200 deletes the message, any other answer has it
delivered again after the environment's error visibility timeout (the queue's redrive policy
then dead-letters it). The route exists only when that path is set - on the worker
environment, which has no load balancer and admits no inbound traffic: the web tier never
runs jobs someone posts. The job is done inside the request (in a thread, so the event loop
keeps answering), as ``streamapp-worker`` does it (streamapp.worker.Worker.handle_delivered).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from streamapp.config import Settings
from streamapp.worker import Worker


def install(app: FastAPI, settings: Settings) -> None:
    if not settings.sqsd_path:
        return

    async def deliver(request: Request) -> JSONResponse:
        if not request.headers.get("user-agent", "").startswith("aws-sqsd"):
            return JSONResponse(
                {"code": "not_the_daemon", "message": "Only the worker daemon posts jobs."},
                status_code=403,
            )
        body = (await request.body()).decode("utf-8", errors="replace")
        try:
            attempt = max(1, int(request.headers.get("x-aws-sqsd-receive-count", "1")))
        except ValueError:
            attempt = 1
        done = await run_in_threadpool(Worker(settings).handle_delivered, body, attempt)
        if done:
            return JSONResponse({"status": "done"})
        return JSONResponse(
            {"code": "job_failed", "message": "The job failed; deliver it again."},
            status_code=500,
        )

    app.add_api_route(settings.sqsd_path, deliver, methods=["POST"], include_in_schema=False)
