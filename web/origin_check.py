"""State-changing requests only from this server's own pages (besides the CSRF token).

A browser names the page a POST comes from in ``Origin`` (or, failing that, ``Referer``);
one from another site, or from an opaque origin (``null``), is refused before any handler
runs. Browsers send ``Origin`` with every cross-site POST; requests with neither header come
from programs (command-line clients, bridge-point agents), which the CSRF token and the
SameSite cookie still cover, and keep working.

Behind a TLS-terminating reverse proxy the request this server sees is the proxy's (http, its
own host); `behind_proxies` takes the browser's scheme, host and address from the
X-Forwarded-* headers, but only from the configured proxies (aiohttp-remotes' strict mode,
which refuses any other peer), so a browser cannot forge them. docs/deploy.md has the setup.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_remotes import XForwardedStrict

from web.pages import text

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# read by monitoring straight from the server, not through the proxy
UNPROXIED_PATHS = ("/healthz", "/metrics")


def behind_proxies(trusted: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """The middleware that makes requests relayed by one of these proxies look as the browser sent them."""
    return XForwardedStrict([list(trusted)], white_paths=UNPROXIED_PATHS).middleware


def own_origin(request: web.Request) -> str:
    return f"{'https' if request.secure else 'http'}://{request.host}"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@web.middleware
async def check_origin(request: web.Request, handler):  # type: ignore[no-untyped-def]
    if request.method not in SAFE_METHODS and not request.path.startswith("/socket.io/"):
        claimed = request.headers.get("Origin")
        if claimed is None and request.headers.get("Referer"):
            claimed = _origin_of(request.headers["Referer"])
        if claimed is not None and claimed != own_origin(request):
            return web.json_response(
                {"ok": False, "error": "forbidden", "message": text(request, "error_cross_origin")}, status=403)
    return await handler(request)
