"""Liveness and metrics endpoints for the province's monitoring."""
from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from meetings.db import ping
from web.state import app_state

log = logging.getLogger("hoinghi.health")


async def healthz(request: web.Request) -> web.Response:
    """200 while the database answers, 503 otherwise."""
    try:
        await ping(app_state(request).engine)
    except Exception as error:  # any driver error means "not healthy", and says why
        log.warning("health check failed", extra={"error": repr(error)})
        return web.json_response({"status": "error", "database": str(error)[:200]}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(app_state(request).metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def count_requests(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Count and time requests by route pattern (not raw path, to keep label sets small)."""
    state = app_state(request)
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    with state.metrics.http_seconds.labels(route).time():
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            state.metrics.http_requests.labels(request.method, route, str(status)).inc()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
