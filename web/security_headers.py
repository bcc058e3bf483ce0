"""Response headers that keep pages from being framed, sniffed, scripted from elsewhere or
leaking their addresses, on every response (pages, API, static files, downloads).

The Content-Security-Policy allows scripts and styles from this server only: templates carry
no inline script or style (the JSON data blocks pages read are not executed), so an injected
``<script>`` or ``onclick`` does not run. Media elements play streams the client builds
(``blob:``, ``mediastream:``). HSTS only under TLS (on loopback the server speaks HTTP).
"""
from __future__ import annotations

from aiohttp import web

from web.state import app_state

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An on_response_prepare hook: also reaches error responses and file downloads."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if app_state(request).settings.browsers_use_https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
