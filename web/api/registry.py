"""REST endpoints declared once: route, permission, request and response models, documentation.

`@endpoint(...)` wraps a handler `async (request, principal, body, **path) -> (status, model)`:
it checks the session cookie (401) and web/permissions.py (403), parses path parameters, the
query and the JSON body with pydantic (422 with every invalid field), turns refusals of the
domain into the one error format (web/api/errors.py), and records everything `web/api/openapi.py`
needs, so the OpenAPI document is generated from the same declarations that run.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, ValidationError

from meetings.accounts import AccountError, Principal
from meetings.meetings_service import MeetingError
from meetings.scheduling import InvalidMeeting
from web.api.errors import ApiError, domain_error, error_response, validation_error
from web.auth import PASSWORD_CHANGE_PATHS, PRINCIPAL, principal_of
from web.errors import refused_by_table
from web.path_ids import MAX_ID, parse_id
from web.permissions import allowed

Handler = Callable[..., Awaitable[tuple[int, BaseModel]]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # aiohttp's form: /api/meetings/{meeting_id}
    name: str
    summary: str
    description: str
    tag: str
    action: str | None  # web/permissions.py; None: anyone (e.g. /login)
    path_params: dict[str, type]
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    responses: dict[int, type[BaseModel]]  # success status -> model
    errors: tuple[int, ...]  # error statuses this endpoint can answer
    request_example: dict[str, Any] | None = None
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = field(default=None, compare=False)
    # For routes served elsewhere (multipart upload, PDF download): documented, not wrapped.
    raw_request: dict[str, Any] | None = None
    raw_responses: dict[int, dict[str, Any]] | None = None


ENDPOINTS: list[Endpoint] = []


def _path_value(name: str, kind: type, raw: str) -> Any:
    if kind is int:
        value = parse_id(raw)
        if value is None:
            raise ApiError(404, "not_found", f"{name}: {raw[:30]!r} is no id (1 to {MAX_ID})", {"field": name})
        return value
    return raw


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        raw = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    return model.model_validate(raw)


def endpoint(
    method: str, path: str, *, summary: str, tag: str, action: str | None,
    body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel]], errors: tuple[int, ...] = (), description: str = "",
    path_params: dict[str, type] | None = None, request_example: dict[str, Any] | None = None,
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    def decorate(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                principal: Principal | None = None
                if action is not None:
                    principal = await principal_of(request)
                    if principal is None:
                        raise ApiError(401, "login_required", "log in first: POST /login")
                    request[PRINCIPAL] = principal
                    if principal.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
                        raise ApiError(403, "must_change_password", "change your password first: POST /api/me/password")
                    if not allowed(principal.role, action):
                        return refused_by_table(request, action, principal.role)
                values = {
                    name: _path_value(name, kind, request.match_info[name]) for name, kind in (path_params or {}).items()
                }
                if query is not None:
                    values["query"] = query.model_validate(dict(request.query))
                parsed = await _body(request, body) if body is not None else None
                status, result = await handler(request, principal, parsed, **values)
            except ApiError as error:
                return error_response(request, error)
            except ValidationError as error:
                return error_response(request, validation_error(error))
            except (InvalidMeeting, MeetingError, AccountError) as error:
                return error_response(request, domain_error(error))
            return web.Response(
                text=result.model_dump_json(), status=status, content_type="application/json",
                headers={"Cache-Control": "no-store"},
            )

        ENDPOINTS.append(Endpoint(
            method=method, path=path, name=handler.__name__, summary=summary, description=description, tag=tag,
            action=action, path_params=path_params or {}, query=query, body=body, responses=responses,
            errors=tuple(sorted(set(errors) | ({401, 403} if action else set()) | ({422} if body or query else set()))),
            request_example=request_example, handler=wrapper,
        ))
        return wrapper

    return decorate


def document(endpoint_: Endpoint) -> None:
    """Describe a route another module serves (so the OpenAPI document lists every /api/ route)."""
    ENDPOINTS.append(endpoint_)


def add_routes(app: web.Application) -> None:
    for item in ENDPOINTS:
        if item.handler is not None:
            app.router.add_route(item.method, item.path, item.handler)
