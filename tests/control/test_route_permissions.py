"""Every HTTP route × every role, over real requests, against web/permissions.py.

Each route names its action (`web.auth.requires`, the REST registry) or is public; a role the
table refuses gets 403 with `X-Permission-Refused: <action>` (anonymous callers: 401 under
/api/, the login page elsewhere) and nothing changes. A role the table admits is let through
to the handler: for the pages and routes outside the REST registry the handler is replaced,
in this test only, by a recorder (so that admitting an administrator to "cancel meeting" does
not cancel it); the registry's GET endpoints are called for real.
"""
from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from meetings.accounts import Principal, open_session
from meetings.point_models import OperatorPoint
from tests.control.conftest import POINT, Room, cookie_for, point_token
from tests.control.helpers import make_accounts
from web.api.registry import ENDPOINTS
from web.auth import SESSION_COOKIE
from web.errors import REFUSED_HEADER
from web.permissions import PUBLIC_ROUTES, allowed

pytestmark = [pytest.mark.control, pytest.mark.security]
ROLES = ("admin", "secretary", "chair", "delegate", "operator", "observer", "point", "anonymous")


def _routes(app: web.Application) -> list[tuple[str, str, Any]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if path is None or route.method == "HEAD":  # static files
            continue
        out.append((route.method, path, route))
    return out


def _action(method: str, path: str, route: Any) -> str | None:
    registry = {(e.method, e.path): e.action for e in ENDPOINTS if e.handler is not None}
    return registry.get((method, path), getattr(route.handler, "permission", None))


def _url(room: Room, path: str) -> str:
    values = {"meeting_id": room.meeting_id, "item_id": 1, "document_id": 1, "account_id": room.account("delegate"),
              "point_id": POINT, "segment_id": 1, "format": "json", "sha256": "0" * 64}
    return room.server.url + path.format(**values)


async def _cookies(room: Room) -> dict[str, str | None]:
    token = await point_token(room.server, POINT)
    async with room.server.state.sessions() as session:
        (operator,) = await make_accounts(session, [("kythuat", "operator", "Kỹ Thuật Viên")])
        session.add(OperatorPoint(account_id=operator, point_id=POINT))
        await session.commit()
        point = await open_session(session, Principal("point", POINT, "Điểm cầu", "point"), point_token=token)
    cookies: dict[str, str | None] = {
        who: await cookie_for(room.server, room.account(who), who, who) for who in ("admin", "secretary", "chair", "delegate", "observer")}
    cookies["operator"] = await cookie_for(room.server, operator, "kythuat", "operator")
    return {**cookies, "point": point, "anonymous": None}


def test_every_route_names_its_action_or_is_public(room: Room) -> None:
    for method, path, route in _routes(room.server.app):
        assert (method, path) in PUBLIC_ROUTES or _action(method, path, route) is not None, (method, path)


async def test_every_route_for_every_role(room: Room) -> None:
    app = room.server.app
    reached: list[tuple[str, str]] = []
    registry_paths = {(e.method, e.path) for e in ENDPOINTS if e.handler is not None}
    routes = [(m, p, r, _action(m, p, r)) for m, p, r in _routes(app) if (m, p) not in PUBLIC_ROUTES]
    for method, path, route, _ in routes:
        if (method, path) in registry_paths:
            continue
        original = route._handler

        async def recorder(request: web.Request, method: str = method, path: str = path) -> web.Response:
            reached.append((method, path))
            return web.Response(status=204)

        recorder.login_required, recorder.permission = True, original.permission  # type: ignore[attr-defined]
        route._handler = recorder
    cookies = await _cookies(room)
    before = await room.fingerprint()
    checked = 0
    async with aiohttp.ClientSession() as http:
        for who in ROLES:
            headers = {"Cookie": f"{SESSION_COOKIE}={cookies[who]}"} if cookies[who] else {}
            for method, path, route, action in routes:
                admitted = who != "anonymous" and allowed(who, action)
                if admitted and (method, path) in registry_paths and method != "GET":
                    continue  # would change state for real: the registry's check is the one above
                reached.clear()
                async with http.request(method, _url(room, path), headers=headers, json={}, allow_redirects=False) as response:
                    refused = response.headers.get(REFUSED_HEADER)
                    if who == "anonymous":
                        assert response.status in (401, 303), (who, method, path, response.status)
                        if response.status == 401:
                            assert (await response.json())["error"] == "login_required"
                    elif admitted:
                        assert refused is None and response.status != 401, (who, method, path, response.status)
                        if (method, path) not in registry_paths:
                            assert reached == [(method, path)], (who, method, path, response.status)
                    else:
                        assert (response.status, refused) == (403, action), (who, method, path, response.status)
                        if path.startswith("/api/"):
                            body = await response.json()
                            assert (body["error"], body["params"]) == ("forbidden", {"action": action}), body
                        assert reached == []
                    checked += 1
    assert await room.fingerprint() == before
    assert checked > 8 * 40
