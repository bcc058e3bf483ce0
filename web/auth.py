"""Login and logout for people (password) and bridge points (token), with session cookies."""
from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from meetings.accounts import (
    POINT_SESSION_LIFETIME,
    SESSION_LIFETIME,
    AccountError,
    Principal,
    authenticate_password,
    authenticate_point_token,
    close_all_sessions,
    close_session,
    normalise_username,
    open_session,
    resolve_session,
)
from meetings.passwords import PasswordCheckBusy
from web.csrf import token_for_session
from web.errors import api_error, refused_by_table
from web.permissions import allowed
from web.pages import render, text
from web.state import app_state

SESSION_COOKIE = "hoinghi_session"
PRINCIPAL = web.RequestKey("hoinghi_principal", Principal)
PASSWORD_CHANGE_PATHS = ("/password", "/logout", "/api/me", "/api/me/password")
log = logging.getLogger("hoinghi.auth")


async def principal_of(request: web.Request) -> Principal | None:
    """The logged-in principal of a request, from its session cookie."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if not session_id:
        return None
    async with app_state(request).sessions() as session:
        return await resolve_session(session, session_id)


def _logged_in(
    request: web.Request, session_id: str, page: str, lifetime: timedelta, summary: dict[str, str]
) -> web.Response:
    """JSON clients get the summary (with the CSRF token their multipart uploads need), forms
    go to the page; both get the session cookie."""
    summary = {**summary, "csrf_token": token_for_session(request.app, session_id)}
    response = web.json_response({"ok": True, **summary}) if _wants_json(request) else _see_other(page)
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=int(lifetime.total_seconds()), httponly=True, samesite="Strict",
        secure=app_state(request).settings.browsers_use_https, path="/",
    )
    return response


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="body is not valid JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return {k: v for k, v in body.items() if isinstance(v, str)}
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


def _see_other(location: str) -> web.Response:
    """A redirect that can still carry Set-Cookie (raising HTTPSeeOther cannot, cleanly)."""
    return web.Response(status=303, headers={"Location": location})


def _wants_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def login_page(request: web.Request) -> web.StreamResponse:
    if await principal_of(request) is not None:
        raise web.HTTPSeeOther("/home")
    return render(request, "login", province=app_state(request).config.province.name, error="", username="")


def _limited(request: web.Request, wait: int, template: str, **context: object) -> web.Response:
    """429 with Retry-After and a message saying how long: nothing was checked."""
    message = text(request, "login_rate_limited").format(seconds=wait)
    headers = {"Retry-After": str(wait)}
    if _wants_json(request):
        return web.json_response({"ok": False, "error": "rate_limited", "retry_after": wait, "message": message},
                                 status=429, headers=headers)
    response = render(request, template, status=429, province=app_state(request).config.province.name,
                      error=message, **context)
    response.headers.update(headers)
    return response


def _refused_busy(request: web.Request, kind: str, template: str, **context: object) -> web.Response:
    """503 "busy, try again": too many logins are being checked (counted; not logged each time,
    a flood would fill the log)."""
    app_state(request).metrics.logins.labels(kind, "busy").inc()
    message = text(request, "login_busy")
    if _wants_json(request):
        return web.json_response({"ok": False, "error": "busy", "message": message}, status=503,
                                 headers={"Retry-After": "2"})
    response = render(request, template, status=503, province=app_state(request).config.province.name,
                      error=message, **context)
    response.headers["Retry-After"] = "2"
    return response


def _account_key(username: str) -> str | None:
    try:
        return "account:" + normalise_username(username)
    except AccountError:
        return None


async def login(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    form = await _read_form(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    account_key, address = _account_key(username), f"address:{request.remote}"
    wait = state.login_limits.retry_after(account_key, address)
    if wait:
        state.metrics.logins.labels("password", "rate_limited").inc()
        log.warning("login rate limited", extra={"username": username[:100], "remote": request.remote, "retry_after": wait})
        return _limited(request, wait, "login", username=username)
    principal = None
    if username and password:
        if not state.login_limits.admit():
            return _refused_busy(request, "password", "login", username=username)
        try:
            async with state.sessions() as session:
                principal = await authenticate_password(session, username, password)
                session_id = await open_session(session, principal) if principal else ""
                previous = request.cookies.get(SESSION_COOKIE, "")
                if principal and previous:  # rotated: a cookie planted before login dies here
                    await close_session(session, previous)
        except PasswordCheckBusy:
            return _refused_busy(request, "password", "login", username=username)
        finally:
            state.login_limits.done()
    state.metrics.logins.labels("password", "ok" if principal else "rejected").inc()
    if principal is None:
        wait = state.login_limits.failed(account_key, address) if username and password else 0
        log.info("login rejected", extra={"username": username[:100], "remote": request.remote, "retry_after": wait})
        error = text(request, "login_failed" if username and password else "login_missing")
        if _wants_json(request):
            return web.json_response({"ok": False, "error": "invalid_credentials", "message": error}, status=401)
        return render(request, "login", status=401, province=state.config.province.name, error=error, username=username)
    state.login_limits.succeeded(account_key)
    log.info("login", extra={"account_id": principal.id, "remote": request.remote})
    return _logged_in(request, session_id, "/home", SESSION_LIFETIME, {"name": principal.name, "role": principal.role})


async def point_login(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    token = (await _read_form(request)).get("token", "").strip()
    address = f"point-address:{request.remote}"
    wait = state.login_limits.retry_after(None, address)
    if wait:
        state.metrics.logins.labels("point", "rate_limited").inc()
        log.warning("point login rate limited", extra={"remote": request.remote, "retry_after": wait})
        return _limited(request, wait, "point_login")
    async with state.sessions() as session:
        principal = await authenticate_point_token(session, token) if token else None
        session_id = await open_session(session, principal, point_token=token) if principal else ""
    state.metrics.logins.labels("point", "ok" if principal else "rejected").inc()
    if principal is None:
        wait = state.login_limits.failed(None, address)
        log.info("point login rejected", extra={"remote": request.remote, "retry_after": wait})
        if _wants_json(request):
            return web.json_response({"ok": False, "error": "invalid_token", "message": text(request, "point_login_failed")},
                                     status=401)
        return render(
            request, "point_login", status=401, province=state.config.province.name,
            error=text(request, "point_login_failed"),
        )
    log.info("point login", extra={"point_id": principal.id, "remote": request.remote})
    return _logged_in(request, session_id, "/point", POINT_SESSION_LIFETIME, {"point": principal.id, "name": principal.name})


async def logout(request: web.Request) -> web.StreamResponse:
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        async with app_state(request).sessions() as session:
            await close_session(session, session_id)
    response = _see_other("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    principal = await principal_of(request)
    if principal is not None:
        async with app_state(request).sessions() as session:
            closed = await close_all_sessions(session, principal)
        log.info("logged out everywhere", extra={"principal": f"{principal.kind}:{principal.id}", "sessions": closed})
    response = _see_other("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@web.middleware
async def require_login(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Handlers marked with `requires(action)` get the principal (or the login page, 401 under /api/),
    and only when web/permissions.py gives the caller's role that action."""
    if getattr(handler, "login_required", False):
        principal = await principal_of(request)
        if principal is None:
            if request.path.startswith("/api/"):
                raise web.HTTPUnauthorized(text="login required")
            raise web.HTTPSeeOther("/point" if request.path.startswith("/point") else "/")
        request[PRINCIPAL] = principal
        if principal.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
            # after an administrator's reset, nothing but choosing a new password (web/admin_pages.py)
            if request.path.startswith("/api/"):
                return api_error(request, 403, "must_change_password", "change your password first: POST /api/me/password")
            raise web.HTTPSeeOther("/password")
        action = getattr(handler, "permission", None)
        if action is not None and not allowed(principal.role, action):
            return refused_by_table(request, action, principal.role)
    return await handler(request)


def requires(action: str):  # type: ignore[no-untyped-def]
    """Mark a handler: logged in, and `allowed(role, action)` (web/permissions.py)."""

    def decorate(handler):  # type: ignore[no-untyped-def]
        handler.login_required = True
        handler.permission = action
        return handler

    return decorate


async def point_page(request: web.Request) -> web.StreamResponse:
    principal = await principal_of(request)
    if principal is None or principal.kind != "point":
        return render(request, "point_login", province=app_state(request).config.province.name, error="")
    from web.media.pages import point_screen  # the TV screen lives with the media client

    return await point_screen(request, principal)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_post("/logout/everywhere", logout_everywhere)
    app.router.add_get("/point", point_page)
    app.router.add_post("/point/login", point_login)
