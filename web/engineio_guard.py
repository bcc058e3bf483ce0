"""The layer below Socket.IO: Engine.IO packets that do not decode close their connection.

python-engineio decodes each websocket frame outside any error handling (a frame such as
``x``, an empty one, ``b!`` or ``4[[[[…`` raises out of its reader and aiohttp logs a
traceback) and logs a traceback for every long-polling body that does not decode, then keeps
the session. :class:`GuardedEngineIO` checks every frame and body before engineio reads it:
a malformed one is counted (`hoinghi_socket_refused_total{reason="engineio_malformed"}`),
logged once, and ends that connection (websocket closed; polling answered 400, session ended).
The check decodes with engineio's own classes, so what passes is exactly what engineio reads.
"""
from __future__ import annotations

import binascii
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import engineio
from engineio import exceptions, packet, payload

log = logging.getLogger("hoinghi.socket")
DECODE_ERRORS = (ValueError, RecursionError, TypeError, IndexError, KeyError, binascii.Error, UnicodeDecodeError)


class MalformedPacket(exceptions.EngineIOError):
    """Raised from a polling body's read: engineio answers 400 and ends the session."""


def _frame_error(frame: Any) -> str | None:
    try:
        packet.Packet(encoded_packet=frame)
    except DECODE_ERRORS as error:
        return f"{type(error).__name__}: {str(error)[:100]}"
    return None


def _body_error(body: bytes) -> str | None:
    try:
        payload.Payload(encoded_payload=body.decode("utf-8"))
    except DECODE_ERRORS as error:
        return f"{type(error).__name__}: {str(error)[:100]}"
    return None


class _CheckedFrames:
    """A websocket whose `wait()` ends the connection (returns None, as on a close) at the first
    frame engineio could not decode."""

    def __init__(self, ws: Any, report: Callable[[str], None]) -> None:
        self._ws, self._report = ws, report

    async def wait(self) -> Any:
        frame = await self._ws.wait()
        if frame is None:
            return None
        problem = _frame_error(frame)
        if problem is not None:
            self._report(problem)
            return None
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


class _CheckedBody:
    """A polling POST's body, checked whole before engineio decodes it."""

    def __init__(self, stream: Any, refuse: Callable[[str], Awaitable[None]]) -> None:
        self._stream, self._refuse = stream, refuse

    async def read(self, length: int = -1) -> bytes:
        body = await self._stream.read(length)
        problem = _body_error(body)
        if problem is not None:
            await self._refuse(problem)
            raise MalformedPacket(problem)
        return body


class GuardedEngineIO(engineio.AsyncServer):
    """engineio's server with every websocket frame and polling body checked (see above)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_malformed: Callable[[str], None] = lambda detail: None
        drivers = dict(self._async)  # the driver module's dict is shared: change a copy
        websocket, translate = drivers["websocket"], drivers["translate_request"]

        def checked_websocket(handler: Callable[[Any], Any], server: Any) -> Any:
            sid = getattr(getattr(handler, "__self__", None), "sid", "?")

            async def checked_handler(ws: Any) -> Any:
                return await handler(_CheckedFrames(ws, lambda problem: self._malformed(sid, problem)))

            return websocket(checked_handler, server)

        def checked_request(*args: Any, **kw: Any) -> dict[str, Any]:
            environ = translate(*args, **kw)
            if environ.get("REQUEST_METHOD") == "POST":
                sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", ["?"])[0][:40]

                async def refuse(problem: str) -> None:
                    self._malformed(sid, problem)
                    socket = self.sockets.get(sid)
                    if socket is not None:
                        # closed without waiting for a poll to drain its queue (engineio's own
                        # disconnect, which follows, would wait for the next GET that never comes)
                        await socket.close(wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)

                environ["wsgi.input"] = _CheckedBody(environ["wsgi.input"], refuse)
            return environ

        drivers["websocket"], drivers["translate_request"] = checked_websocket, checked_request
        self._async = drivers

    def _malformed(self, sid: str, problem: str) -> None:
        """Once per connection: it ends here."""
        self.on_malformed(problem)
        log.warning("socket connection closed: engineio_malformed",
                    extra={"eio_sid": sid, "reason": "engineio_malformed", "detail": problem})
