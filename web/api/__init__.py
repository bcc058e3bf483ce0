"""The REST API under /api/ (docs/api.md): JSON, session-cookie authentication, one error format,
and its OpenAPI 3.1 document at /api/openapi.json generated from the same declarations."""
from __future__ import annotations

from aiohttp import web

from web.api import accounts, documented, meetings, points  # noqa: F401  (they declare the endpoints)
from web.api.openapi import openapi_document
from web.api.registry import add_routes


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    add_routes(app)
    app.router.add_get("/api/openapi.json", openapi_json)
