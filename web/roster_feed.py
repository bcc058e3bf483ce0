"""Roster changes to everyone in a meeting, coalesced into one `participants` event per burst.

One event per join, sent to everyone already in the meeting, made n people joining cost n²/2
messages: at 1,000 people half a million, about two minutes of a core while a province
connects. Joins and leaves are instead sent at most every `interval` seconds, the first
after a quiet spell at once: `{meeting_id, joined: [entry], left: [{peer_id, key}]}`.

`joined` and `left` never name the same connection, so a client may apply them in any order;
an entry replaces one with the same peer_id, and a `left` for a connection the client never
saw changes nothing (a joiner's roster comes from its join_meeting ack, which may already
include changes that are still on their way here).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import socketio

from web.roster import RosterEntry, meeting_room

log = logging.getLogger("hoinghi.roster")
ROSTER_INTERVAL = 0.25  # seconds between two `participants` events of a meeting, at least


@dataclass
class _Pending:
    joined: dict[str, RosterEntry] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)  # peer id -> principal key
    due: asyncio.TimerHandle | None = None
    last_sent: float = float("-inf")


class RosterFeed:
    def __init__(self, sio: socketio.AsyncServer, interval: float = ROSTER_INTERVAL) -> None:
        self._sio = sio
        self._interval = interval
        self._meetings: dict[int, _Pending] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def joined(self, meeting_id: int, entry: RosterEntry) -> None:
        pending = self._pending(meeting_id)
        pending.left.pop(entry.peer_id, None)
        pending.joined[entry.peer_id] = entry

    def left(self, meeting_id: int, peer_id: str, key: str) -> None:
        pending = self._pending(meeting_id)
        pending.joined.pop(peer_id, None)
        pending.left[peer_id] = key

    def _pending(self, meeting_id: int) -> _Pending:
        pending = self._meetings.setdefault(meeting_id, _Pending())
        if pending.due is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, pending.last_sent + self._interval - loop.time())
            pending.due = loop.call_later(delay, self._flush, meeting_id)
        return pending

    def _flush(self, meeting_id: int) -> None:
        pending = self._meetings[meeting_id]
        pending.due = None
        pending.last_sent = asyncio.get_running_loop().time()
        data: dict[str, Any] = {
            "meeting_id": meeting_id,
            "joined": [e.as_dict() for e in pending.joined.values()],
            "left": [{"peer_id": p, "key": k} for p, k in pending.left.items()],
        }
        pending.joined, pending.left = {}, {}
        task = asyncio.create_task(self._send(meeting_id, data))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, meeting_id: int, data: dict[str, Any]) -> None:
        try:
            await self._sio.emit("participants", data, room=meeting_room(meeting_id))
        except Exception:
            log.exception("participants broadcast failed", extra={"meeting_id": meeting_id})

    def close(self) -> None:
        for pending in self._meetings.values():
            if pending.due is not None:
                pending.due.cancel()
        self._meetings.clear()
