"""Roster changes to everyone in a meeting, coalesced into one `participants` event per burst.

One event per join, sent to everyone already in the meeting, made n people joining cost n²/2
messages: at 1,000 people half a million, about two minutes of a core while a province
connects. Joins and leaves are instead sent at most every `interval` seconds, the first
after a quiet spell at once, and paced like every coalesced broadcast (web.coalesce):
`{meeting_id, joined: [entry], left: [{peer_id, key}]}`.

`joined` and `left` never name the same connection, so a client may apply them in any order;
an entry replaces one with the same peer_id, and a `left` for a connection the client never
saw changes nothing (a joiner's roster comes from its join_meeting ack, which may already
include changes that are still on their way here).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import socketio

from web.coalesce import Coalescer
from web.roster import RosterEntry, meeting_room

ROSTER_INTERVAL = 0.25  # seconds between two `participants` events of a meeting, at least


@dataclass
class _Pending:
    joined: dict[str, RosterEntry] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)  # peer id -> principal key


class RosterFeed:
    def __init__(self, sio: socketio.AsyncServer, interval: float = ROSTER_INTERVAL) -> None:
        self._sio = sio
        self._interval = interval
        self._pending: dict[int, _Pending] = {}
        self._senders: dict[int, Coalescer] = {}

    def joined(self, meeting_id: int, entry: RosterEntry) -> None:
        pending = self._pending.setdefault(meeting_id, _Pending())
        pending.left.pop(entry.peer_id, None)
        pending.joined[entry.peer_id] = entry
        self._sender(meeting_id).changed()

    def left(self, meeting_id: int, peer_id: str, key: str) -> None:
        pending = self._pending.setdefault(meeting_id, _Pending())
        pending.joined.pop(peer_id, None)
        pending.left[peer_id] = key
        self._sender(meeting_id).changed()

    def _sender(self, meeting_id: int) -> Coalescer:
        if meeting_id not in self._senders:
            self._senders[meeting_id] = Coalescer(lambda: self._send(meeting_id), self._interval)
        return self._senders[meeting_id]

    async def _send(self, meeting_id: int) -> None:
        pending = self._pending.pop(meeting_id, _Pending())
        data: dict[str, Any] = {
            "meeting_id": meeting_id,
            "joined": [e.as_dict() for e in pending.joined.values()],
            "left": [{"peer_id": p, "key": k} for p, k in pending.left.items()],
        }
        await self._sio.emit("participants", data, room=meeting_room(meeting_id))

    def release(self, meeting_id: int) -> None:
        """The meeting emptied: nobody is left to tell, so nothing of it is kept."""
        self._pending.pop(meeting_id, None)
        sender = self._senders.pop(meeting_id, None)
        if sender is not None:
            sender.close()

    def close(self) -> None:
        for sender in self._senders.values():
            sender.close()
