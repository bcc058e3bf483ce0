"""Liveness and metrics endpoints for the province's monitoring."""
from __future__ import annotations

import hmac
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


def metrics_allowed(request: web.Request) -> bool:
    """Prometheus figures say who is connected and how busy the server is: only for the
    configured addresses (default: this machine) or a bearer token (HOINGHI_METRICS_TOKEN)."""
    settings = app_state(request).settings
    if request.remote in settings.metrics_addresses:
        return True
    token = settings.metrics_token
    offered = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())


async def metrics(request: web.Request) -> web.Response:
    if not metrics_allowed(request):
        return web.json_response({"ok": False, "error": "forbidden",
                                  "message": "/metrics: not from a configured address and no valid bearer token"},
                                 status=403)
    state = app_state(request)
    body = generate_latest(state.metrics.registry)
    state.metrics.loop_lag_max.set(0)  # the gauge is the worst since the previous scrape
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
