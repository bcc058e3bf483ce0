"""403, 404 and refused forms as pages of the product (in the user's language, with a way back)."""
from __future__ import annotations

from aiohttp import web

from web.pages import render, text

_PAGE_CODES = {403: "forbidden", 404: "not_found"}


def error_page(request: web.Request, status: int, code: str) -> web.Response:
    """A page saying what went wrong (`error_<code>` in web/i18n.py) with links home and back."""
    return render(request, "error", status=status, code=code, message=text(request, f"error_{code}"))


def _is_page(request: web.Request) -> bool:
    """API clients, Socket.IO and static files keep aiohttp's plain answers."""
    return not request.path.startswith(("/api/", "/socket.io/", "/static/"))


@web.middleware
async def product_error_pages(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status in _PAGE_CODES and _is_page(request):
            return error_page(request, error.status, _PAGE_CODES[error.status])
        raise
