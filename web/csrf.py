"""CSRF tokens for HTML forms, bound to the session (or, before login, to a random cookie).

The token is an HMAC of the session cookie's value under a key kept in the data directory, so it
survives restarts and is worthless for any other session. A POST needs it (form field
`csrf_token` or header `X-CSRF-Token`) unless its body is JSON: a page on another site cannot
send a JSON body without a CORS preflight, which this server never grants. Engine.IO's polling
requests are left to the Socket.IO layer.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from aiohttp import web

ANON_COOKIE = "hoinghi_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_KEY = web.AppKey("hoinghi_csrf_key", bytes)
_NEW_ANON = web.RequestKey("hoinghi_new_anonymous_csrf", str)
_EXEMPT_PREFIXES = ("/socket.io/",)


def load_or_create_key(data_dir: Path) -> bytes:
    """32 random bytes in DATA_DIR/csrf.key (mode 0600), created on first start."""
    path = data_dir / "csrf.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) < 32:
        raise ValueError(f"{path}: shorter than 32 bytes; delete it to have a new one made")
    return key


def setup(app: web.Application, data_dir: Path) -> None:
    """Load the key; the app lists `check_csrf` among its middlewares."""
    app[_KEY] = load_or_create_key(data_dir)


def _binding(request: web.Request) -> str:
    """What the token is bound to: the session cookie, else this browser's anonymous cookie."""
    from web.auth import SESSION_COOKIE

    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        return "session:" + session_id
    anonymous = request.cookies.get(ANON_COOKIE) or request.get(_NEW_ANON)
    if not anonymous:
        anonymous = request[_NEW_ANON] = secrets.token_urlsafe(24)
    return "anonymous:" + anonymous


def csrf_token(request: web.Request) -> str:
    return hmac.new(request.app[_KEY], _binding(request).encode(), hashlib.sha256).hexdigest()


def token_for_session(app: web.Application, session_id: str) -> str:
    """The token a page will carry right after a login that set this session cookie."""
    return hmac.new(app[_KEY], ("session:" + session_id).encode(), hashlib.sha256).hexdigest()


def remember_anonymous_token(request: web.Request, response: web.StreamResponse) -> None:
    """Set the anonymous cookie a rendered form's token was bound to, if it was made just now."""
    if request.get(_NEW_ANON):
        response.set_cookie(ANON_COOKIE, request[_NEW_ANON], httponly=True, samesite="Strict", path="/")


def _needs_token(request: web.Request) -> bool:
    if request.method != "POST" or request.path.startswith(_EXEMPT_PREFIXES):
        return False
    return request.content_type != "application/json"


@web.middleware
async def check_csrf(request: web.Request, handler):  # type: ignore[no-untyped-def]
    if _needs_token(request):
        sent = request.headers.get(HEADER, "")
        if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            field = (await request.post()).get(FIELD, "")
            sent = field if isinstance(field, str) else ""
        if not hmac.compare_digest(sent, csrf_token(request)):
            if request.path.startswith("/api/"):
                return web.json_response(
                    {"ok": False, "error": "csrf_failed", "message": f"send the session's token in the {HEADER} header"},
                    status=403,
                )
            from web.errors import error_page

            return error_page(request, 403, "csrf_failed")
    return await handler(request)
