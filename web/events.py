"""Shared shape of Socket.IO event handlers: validate, act, and answer with an ack.

Acks are `{"ok": true, ...}` or `{"ok": false, "error": CODE, "message": text}` (docs/protocol.md).
A handler raises EventError for any refusal; nothing has been changed when it does.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable

import socketio

from meetings.accounts import Principal
from meetings.meetings_service import MeetingError

log = logging.getLogger("hoinghi.events")
Ack = dict[str, Any]


class EventError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def ok(**result: Any) -> Ack:
    return {"ok": True, **result}


def failure(code: str, message: str) -> Ack:
    return {"ok": False, "error": code, "message": message}


def event_handler(function: Callable[[str, dict[str, Any]], Awaitable[Ack]]) -> Callable[..., Awaitable[Ack]]:
    """Wrap `handler(sid, payload)`: the payload must be an object; refusals become error acks."""

    @functools.wraps(function)
    async def wrapper(sid: str, payload: Any = None, *extra: Any) -> Ack:
        if payload is None:
            payload = {}
        if not isinstance(payload, dict) or extra:
            return failure("bad_request", "the payload must be one JSON object")
        try:
            return await function(sid, payload)
        except EventError as error:
            return failure(error.code, error.message)
        except MeetingError as error:
            return failure(error.code, str(error))
        except Exception:
            log.exception("event handler failed", extra={"event": function.__name__, "sid": sid})
            return failure("internal_error", "the server could not handle this event")

    return wrapper


def require(payload: dict[str, Any], key: str, kind: type, *, optional: bool = False) -> Any:
    """Read one field of a payload, refusing a missing or mistyped value with its name."""
    if key not in payload or payload[key] is None:
        if optional:
            return None
        raise EventError("bad_request", f"{key}: missing")
    value = payload[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EventError("bad_request", f"{key}: must be {kind.__name__}, not {type(value).__name__}")
    return value


async def principal_of_sid(sio: socketio.AsyncServer, sid: str) -> Principal:
    """Who is behind a connection (saved by web.realtime at connect)."""
    return (await sio.get_session(sid))["principal"]
