"""Media signalling to the clients of one meeting: in order, bounded, with what only the
latest value of matters coalesced.

One unbounded queue for all meetings let one busy meeting (or one client toggling its camera
in a loop: ``media:state`` has no other limit) delay every other meeting's offers and grow
without bound. Here each meeting has its own outbox and sender task, which ends when the
outbox is empty (an idle meeting holds nothing). Messages with a coalescing key (a peer's
``media:state``, the active speaker) keep their place in the order but carry the newest value
when they are sent; other messages (offers to one client, forwarding changes) beyond
:data:`MAX_QUEUED` are dropped and counted (a client that far behind reconnects anyway).
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

log = logging.getLogger("hoinghi.media")
MAX_QUEUED = 512
Send = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[None]]
Message = tuple[str, dict[str, Any], dict[str, Any]]  # event, data, Socket.IO target


class MeetingOutbox:
    def __init__(self, meeting_id: int, send: Send, on_idle: Callable[[int], None]) -> None:
        self.meeting_id = meeting_id
        self._send = send
        self._on_idle = on_idle
        self._queue: deque[Hashable | Message] = deque()  # a key, or a message to send as is
        self._latest: dict[Hashable, Message] = {}
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def post(self, message: Message, key: Hashable | None = None) -> None:
        if key is not None and key in self._latest:
            self._latest[key] = message  # the queued entry sends this newer value
            return
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("media outbox full: dropping", extra={"meeting_id": self.meeting_id, "event": message[0]})
            return
        if key is None:
            self._queue.append(message)
        else:
            self._latest[key] = message
            self._queue.append(("key", key))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name=f"hoinghi-media-outbox-{self.meeting_id}")

    async def _drain(self) -> None:
        try:
            while self._queue:
                entry = self._queue.popleft()
                if len(entry) == 2 and entry[0] == "key":  # type: ignore[arg-type]
                    message = self._latest.pop(entry[1])  # type: ignore[index]
                else:
                    message = entry  # type: ignore[assignment]
                event, data, target = message
                try:
                    await self._send(event, data, target)
                except Exception:
                    log.exception("media broadcast failed", extra={"event": event})
        finally:
            self._task = None
            if not self._queue:
                self._on_idle(self.meeting_id)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


class Outboxes:
    """The meetings' outboxes, made on first use and released when idle."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.boxes: dict[int, MeetingOutbox] = {}

    def post(self, meeting_id: int, message: Message, key: Hashable | None = None) -> None:
        box = self.boxes.get(meeting_id)
        if box is None:
            box = self.boxes[meeting_id] = MeetingOutbox(meeting_id, self._send, self._release)
        box.post(message, key)

    def _release(self, meeting_id: int) -> None:
        self.boxes.pop(meeting_id, None)

    def close(self) -> None:
        for box in list(self.boxes.values()):
            box.cancel()
        self.boxes.clear()
