"""403, 404 and refused forms as pages of the product (in the user's language, with a way back);
under /api/ every refusal, aiohttp's own too (no such route, wrong method), in the REST API's
JSON error format."""
from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from web.pages import render, text

_PAGE_CODES = {403: "forbidden", 404: "not_found"}
_API_CODES = {
    400: "bad_request", 401: "login_required", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "too_large", 415: "unsupported_media_type", 429: "rate_limited",
}
# Names the web/permissions.py action that refused a request (tests and operators read it).
REFUSED_HEADER = "X-Permission-Refused"


def error_page(request: web.Request, status: int, code: str) -> web.Response:
    """A page saying what went wrong (`error_<code>` in web/i18n.py) with links home and back."""
    return render(request, "error", status=status, code=code, message=text(request, f"error_{code}"))


def _is_page(request: web.Request) -> bool:
    """API clients, Socket.IO and static files keep aiohttp's plain answers."""
    return not request.path.startswith(("/api/", "/socket.io/", "/static/"))


def api_error(request: web.Request, status: int, code: str, detail: str, params: dict | None = None) -> web.Response:
    from web.api.errors import ApiError, error_response

    return error_response(request, ApiError(status, code, detail, params))


def refused_by_table(request: web.Request, action: str, role: str) -> web.Response:
    """403 because web/permissions.py does not give `role` the `action`."""
    if request.path.startswith("/api/"):
        response = api_error(request, 403, "forbidden", f"{action} is not allowed for {role}", {"action": action})
    else:
        response = error_page(request, 403, "forbidden")
    response.headers[REFUSED_HEADER] = action
    return response


@web.middleware
async def product_error_pages(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status in _PAGE_CODES and _is_page(request):
            return error_page(request, error.status, _PAGE_CODES[error.status])
        if error.status >= 400 and request.path.startswith("/api/"):
            return api_error(request, error.status, _API_CODES.get(error.status, "bad_request"), error.text or error.reason)
        raise
    except HttpProcessingError as error:
        # a body aiohttp cannot parse (a form part with a control character in its header…),
        # wherever a handler or middleware reads it: the sender's fault, not the server's
        if request.path.startswith("/api/"):
            return api_error(request, 400, "bad_request", f"the body does not parse: {error.message}"[:300])
        return error_page(request, 400, "bad_form")
