"""The Socket.IO server's front door: what any connection may send before a handler runs.

python-socketio runs every event in a task of its own as soon as it is decoded, answers a
packet it cannot decode with nothing (and logs a traceback per packet), runs the real
``connect``/``disconnect`` handlers for events a client names so, and keeps a refused
connection's websocket open. :class:`GuardedServer` closes those doors for every event:

* a packet that does not decode (broken JSON, a 4,301-digit integer, deep nesting), binary
  packets (hoinghi uses none) and malformed event frames: counted, logged once, and the
  connection is closed;
* payloads are checked before any handler sees them: nesting depth, integers beyond
  ±2**53 (what a JavaScript client can represent), strings with NUL or lone surrogates
  (PostgreSQL and UTF-8 refuse them later, as internal errors): ``bad_request``;
* reserved names (``connect``, ``disconnect``...) and unknown events: ``bad_request`` /
  ``unknown_event``;
* a token bucket and a cap on handlers in flight per connection: past them ``rate_limited``
  (so one connection takes at most :data:`MAX_IN_FLIGHT` database connections); a connection
  that keeps sending after :data:`FLOOD_REFUSALS` refusals is closed;
* a refused ``connect`` closes the websocket at once;
* below Socket.IO, Engine.IO frames and polling bodies that do not decode: web.engineio_guard.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import socketio
from socketio import packet

from web.engineio_guard import GuardedEngineIO
from web.events import connection_language, failure

log = logging.getLogger("hoinghi.socket")

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "message"})
MAX_DEPTH = 16
MAX_SAFE_INT = 2**53
EVENT_RATE = 20.0  # events per second, sustained, per connection
EVENT_BURST = 60  # events a connection may send at once
MAX_IN_FLIGHT = 4  # handlers running at once per connection
FLOOD_REFUSALS = 200  # refused events before the connection is closed
MAX_MESSAGE_BYTES = 128 * 1024  # one Socket.IO message (an SDP answer is under 64 KiB)


class PayloadRefused(ValueError):
    """What is wrong with a payload, and where (a JSON-pointer-like path)."""


def check_payload(value: Any, path: str = "", depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise PayloadRefused(f"{path or '/'}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise PayloadRefused(f"{path or '/'}: integer out of range (beyond ±2^53)")
    elif isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_payload(item, f"{path}/{index}", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{path}/{key!r}")
            check_payload(item, f"{path}/{key}", depth + 1)


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise PayloadRefused(f"{path or '/'}: text contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadRefused(f"{path or '/'}: text contains a lone surrogate") from None


class _Budget:
    """Token bucket and in-flight count of one connection."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "in_flight", "refusals")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.in_flight = 0
        self.refusals = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1 or self.in_flight >= MAX_IN_FLIGHT:
            self.refusals += 1
            return False
        self.tokens -= 1
        return True


class GuardedServer(socketio.AsyncServer):
    """python-socketio's AsyncServer with the checks above on every packet."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_http_buffer_size=MAX_MESSAGE_BYTES, **kwargs)
        self.on_refused: Callable[[str], None] = lambda reason: None
        self.eio.on_malformed = lambda detail: self.on_refused("engineio_malformed")
        self.event_rate, self.event_burst = EVENT_RATE, EVENT_BURST  # tests of handlers raise them
        self._budgets: dict[str, _Budget] = {}
        self._closing: set[str] = set()  # refused: nothing more is read from them

    def _engineio_server_class(self) -> type[GuardedEngineIO]:
        return GuardedEngineIO

    def _budget(self, eio_sid: str) -> _Budget:
        budget = self._budgets.get(eio_sid)
        if budget is None:
            budget = self._budgets[eio_sid] = _Budget(self.event_rate, self.event_burst)
        return budget

    async def _refuse_connection(self, eio_sid: str, reason: str, detail: str) -> None:
        if eio_sid in self._closing:
            return
        self.on_refused(reason)
        log.warning("socket connection closed: %s", reason,
                    extra={"eio_sid": eio_sid, "reason": reason, "detail": detail[:200]})
        await self._close(eio_sid)

    async def _close(self, eio_sid: str) -> None:
        """Close the connection and its websocket now. engineio's disconnect() sends its CLOSE
        packet but leaves the websocket to the client; a None in the socket's queue (its own
        end-of-queue mark) makes its writer close the websocket as well."""
        self._closing.add(eio_sid)
        try:
            socket = self.eio._get_socket(eio_sid)
        except KeyError:
            return
        await self.eio.disconnect(eio_sid)
        await socket.queue.put(None)

    async def _answer(self, eio_sid: str, namespace: str | None, id: int | None, code: str, message: str) -> None:
        """Refuse one event with an error ack in the connection's language (web/events.py)."""
        self.on_refused(code)
        if id is not None:
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
            lang = await connection_language(self, sid) if sid is not None else "vi"
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=namespace, id=id, data=[failure(code, message, lang)]))

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if eio_sid in self._closing:
            return
        if not isinstance(data, str):
            await self._refuse_connection(eio_sid, "binary_packet", "binary packets are not used")
            return
        try:
            pkt = self.packet_class(encoded_packet=data)
        except (ValueError, RecursionError, TypeError, IndexError) as error:
            await self._refuse_connection(eio_sid, "undecodable", f"{type(error).__name__}: {error}")
            return
        if pkt.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK, packet.CONNECT_ERROR):
            await self._refuse_connection(eio_sid, "unexpected_packet", f"packet type {pkt.packet_type}")
            return
        if pkt.packet_type == packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif pkt.packet_type == packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif pkt.packet_type == packet.EVENT:
            await self._guarded_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif pkt.packet_type == packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)
        else:
            await self._refuse_connection(eio_sid, "unexpected_packet", f"packet type {pkt.packet_type}")

    async def _guarded_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        if not (isinstance(data, list) and data and isinstance(data[0], str)):
            await self._refuse_connection(eio_sid, "malformed_event", "an event is [name, payload...]")
            return
        name = data[0]
        budget = self._budget(eio_sid)
        if not budget.take():
            if budget.refusals >= FLOOD_REFUSALS:
                await self._refuse_connection(eio_sid, "flood", f"{budget.refusals} events refused")
            else:
                await self._answer(eio_sid, namespace, id, "rate_limited",
                                   f"too many events: at most {self.event_rate:g}/s and {MAX_IN_FLIGHT} at once")
            return
        if name in RESERVED_EVENTS:
            await self._answer(eio_sid, namespace, id, "bad_request", f"{name!r} is a reserved event name")
            return
        if name not in self.handlers.get(namespace or "/", {}):
            await self._answer(eio_sid, namespace, id, "unknown_event", f"no event named {name[:60]!r}")
            return
        try:
            check_payload(data[1:])
        except PayloadRefused as error:
            await self._answer(eio_sid, namespace, id, "bad_request", str(error))
            return
        await self._handle_event(eio_sid, namespace, id, data)

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):  # type: ignore[no-untyped-def]
        budget = self._budget(eio_sid)
        budget.in_flight += 1
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        finally:
            budget.in_flight -= 1

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        if self.manager.sid_from_eio_sid(eio_sid, namespace or "/") is None:
            self.on_refused("connect_refused")
            await self._close(eio_sid)  # after the CONNECT_ERROR already queued

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._budgets.pop(eio_sid, None)
        if eio_sid in self._closing:  # its reader may still hand over what was in flight
            asyncio.get_running_loop().call_later(60, self._closing.discard, eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)
