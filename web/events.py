"""Shared shape of Socket.IO event handlers: authorise, validate, act, and answer with an ack.

Acks are `{"ok": true, ...}` or, like the REST error format (web/api/errors.py),
`{"ok": false, "error": CODE, "message": TEXT, "params": {...}, "fields": [...], "detail": TEXT}`:
`message` (and each field's) in the connection's language, `detail` the English technical
reason for developers (docs/protocol.md, "Errors"). A handler raises EventError for any
refusal; nothing has been changed when it does.
"""
from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import socketio
from pydantic import BaseModel, ValidationError

from meetings.accounts import AccountError, Principal
from meetings.meetings_service import MeetingError
from meetings.scheduling import FieldProblem
from web.error_texts import error_message, field_message
from web.permissions import allowed, capacity_allows, event_rule

if TYPE_CHECKING:
    from web.state import AppState

log = logging.getLogger("hoinghi.events")
Ack = dict[str, Any]
Handler = Callable[[str, dict[str, Any]], Awaitable[Ack]]


class EventError(Exception):
    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None,
                 problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params or {}
        self.problems = problems or []


def field_error(field: str, code: str, detail: str, **params: Any) -> EventError:
    """`bad_request` naming one field's problem (docs/protocol.md's field codes), for a rule
    between fields that a payload model does not state."""
    return EventError("bad_request", detail, problems=[FieldProblem(field, code, params)])


def not_joined() -> EventError:
    return EventError("conflict", "join the meeting first (join_meeting)")


def ok(**result: Any) -> Ack:
    return {"ok": True, **result}


def failure(code: str, detail: str, lang: str = "vi", params: dict[str, Any] | None = None,
            problems: list[FieldProblem] | None = None) -> Ack:
    """An error ack: the code, its sentence in `lang`, parameters, field problems, English detail."""
    params = params or {}
    return {
        "ok": False, "error": code, "message": error_message(lang, code, params), "params": params,
        "fields": [{"field": p.field, "code": p.code, "params": p.params, "message": field_message(lang, p.code, p.params)}
                   for p in problems or []],
        "detail": detail,
    }


async def connection_language(sio: socketio.AsyncServer, sid: str) -> str:
    try:
        return (await sio.get_session(sid)).get("lang", "vi")
    except KeyError:  # the connection is gone
        return "vi"


def event_handler(function: Handler, sio: socketio.AsyncServer | None = None) -> Callable[..., Awaitable[Ack]]:
    """Wrap `handler(sid, payload)`: the payload must be an object; refusals become error acks
    in the connection's language (Vietnamese when `sio` is not given)."""

    @functools.wraps(function)
    async def wrapper(sid: str, payload: Any = None, *extra: Any) -> Ack:
        lang = await connection_language(sio, sid) if sio is not None else "vi"
        if payload is None:
            payload = {}
        if not isinstance(payload, dict) or extra:
            return failure("bad_request", "the payload must be one JSON object", lang)
        try:
            return await function(sid, payload)
        except EventError as error:
            return failure(error.code, error.message, lang, error.params, error.problems)
        except (MeetingError, AccountError) as error:
            return failure(error.code, str(error), lang, dict(getattr(error, "params", {})))
        except Exception:
            log.exception("event handler failed", extra={"event": function.__name__, "sid": sid})
            return failure("internal_error", "the server could not handle this event", lang)

    return wrapper


async def authorise(state: "AppState", sid: str, event: str) -> None:
    """web/permissions.py's rule for `event`: the connection's role, then its capacity in the
    meeting it joined. Raises EventError; checks nothing of the payload."""
    rule = event_rule(event)
    try:
        principal: Principal | None = (await state.sio.get_session(sid)).get("principal")
    except KeyError:
        principal = None
    if principal is None:
        raise EventError("login_required", "the connection is not logged in")
    if principal.must_change_password:
        raise EventError("must_change_password", "change your password first: POST /api/me/password")
    if not allowed(principal.role, rule.action):
        raise EventError("forbidden", f"{event} is not allowed for {principal.role}", {"action": event})
    if rule.in_meeting is not None:
        entry = state.roster.entry(sid)
        if entry is None:
            raise not_joined()
        if not capacity_allows(entry.role, rule.in_meeting):
            raise EventError("forbidden", f"{event} is not allowed for {entry.role}", {"action": event})


def on_event(state: "AppState", event: str) -> Callable[[Handler], Handler]:
    """Register a Socket.IO event handler: its rule in web/permissions.SOCKET_EVENTS (which must
    exist) is checked before it runs, and its refusals are answered in the caller's language."""
    event_rule(event)  # fail at start-up, not at the first call

    def decorate(function: Handler) -> Handler:
        @functools.wraps(function)
        async def checked(sid: str, payload: dict[str, Any]) -> Ack:
            await authorise(state, sid, event)
            return await function(sid, payload)

        state.sio.on(event)(event_handler(checked, state.sio))
        return function

    return decorate


def validate(model: type[BaseModel], payload: dict[str, Any]) -> Any:
    """Parse a payload with a pydantic model; every invalid field is named in the error."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise invalid_fields(error) from None


def invalid_fields(error: ValidationError) -> EventError:
    from web.api.errors import validation_error  # the REST API's reading of pydantic's errors

    problems = validation_error(error).problems
    summary = "; ".join(f"{p.field}: {p.code}" for p in problems)[:300]
    return EventError("bad_request", summary, {"fields": len(problems)}, problems)


async def principal_of_sid(sio: socketio.AsyncServer, sid: str) -> Principal:
    """Who is behind a connection (saved by web.realtime at connect)."""
    return (await sio.get_session(sid))["principal"]
