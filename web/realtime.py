"""The Socket.IO server: authenticates every connection before any event is handled.

A browser presents its session cookie; a headless bridge-point agent may instead pass
`auth={"token": "hnp_..."}`. Event handlers find the principal with `web.events.principal_of_sid`.
"""
from __future__ import annotations

import logging
from typing import Any

import socketio

from meetings.accounts import Principal, authenticate_point_token, resolve_session
from web.auth import SESSION_COOKIE
from web.i18n import request_language
from web.membership import leave_current_meeting
from web.origin_check import own_origin
from web.socket_guard import GuardedServer
from web.state import AppState

log = logging.getLogger("hoinghi.realtime")


def same_origin(origin: str, environ: dict[str, Any]) -> bool:
    """A browser's connection comes from a page of this server. (engine.io's own check takes the
    scheme of every aiohttp request to be http, so it refused every page served over HTTPS.)
    The request is the one the middlewares handed on: behind a trusted proxy, the browser's."""
    request = environ.get("aiohttp.request")
    return request is not None and origin == own_origin(request)


def create_socket_server() -> GuardedServer:
    return GuardedServer(async_mode="aiohttp", logger=False, engineio_logger=False, cors_allowed_origins=same_origin)


async def _authenticate(state: AppState, environ: dict[str, Any], auth: Any) -> Principal | None:
    request = environ.get("aiohttp.request")
    session_id = request.cookies.get(SESSION_COOKIE, "") if request is not None else ""
    async with state.sessions() as session:
        if session_id:
            principal = await resolve_session(session, session_id)
            if principal is not None:
                return principal
        if isinstance(auth, dict) and isinstance(auth.get("token"), str):
            # the same growing delays as /point/login, per address
            address = f"point-address:{request.remote if request is not None else ''}"
            if state.login_limits.retry_after(None, address):
                return None
            principal = await authenticate_point_token(session, auth["token"])
            if principal is None:
                state.login_limits.failed(None, address)
            return principal
    return None


def principal_room(kind: str, principal_id: str) -> str:
    """The Socket.IO room holding every connection of one account or bridge point."""
    return f"principal:{kind}:{principal_id}"


async def disconnect_principal(state: AppState, kind: str, principal_id: str) -> int:
    """Close every connection of an account or point (deactivated, token revoked); their pages
    reconnect, are refused, and go to the login page. Returns the connections closed."""
    room = principal_room(kind, principal_id)
    sids = [sid for sid, _ in state.sio.manager.get_participants("/", room)]
    for sid in sids:
        await state.sio.disconnect(sid)
    return len(sids)


def register_connection_events(state: AppState) -> None:
    sio = state.sio
    if isinstance(sio, GuardedServer):
        sio.on_refused = lambda reason: state.metrics.socket_refused.labels(reason).inc()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        principal = await _authenticate(state, environ, auth)
        if principal is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        request = environ.get("aiohttp.request")
        lang = request_language(request) if request is not None else "vi"  # of the acks' messages
        await sio.save_session(sid, {"principal": principal, "lang": lang})
        await sio.enter_room(sid, principal_room(principal.kind, principal.id))  # to end them all at once
        state.metrics.socket_connections.inc()
        await sio.emit("welcome", {"name": principal.name, "role": principal.role, "kind": principal.kind}, to=sid)

    @sio.event
    async def disconnect(sid: str, *args: Any) -> None:
        state.metrics.socket_connections.dec()
        await leave_current_meeting(state, sid)
