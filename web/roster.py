"""Who is connected to which meeting, per Socket.IO connection (one process's view)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def meeting_room(meeting_id: int) -> str:
    """The Socket.IO room every connection in a meeting is in."""
    return f"meeting:{meeting_id}"


@dataclass(frozen=True)
class RosterEntry:
    peer_id: str  # the Socket.IO sid; also the SFU peer id of this connection
    key: str  # "account:12" or "point:ubnd-tinh": the same person or point across reconnections
    name: str
    kind: str  # "account" or "point"
    role: str  # capacity in this meeting: chair, secretary, delegate, point, admin
    console: bool = False  # a point's console: in the meeting to act for the room, no media, no tile

    def as_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies, and a join lists the whole roster (O(n) per join).
        entry = {"peer_id": self.peer_id, "key": self.key, "name": self.name, "kind": self.kind, "role": self.role}
        if self.console:
            entry["console"] = True
        return entry


class Roster:
    def __init__(self) -> None:
        self._meetings: dict[int, dict[str, RosterEntry]] = {}
        self._meeting_of: dict[str, int] = {}

    def add(self, meeting_id: int, entry: RosterEntry) -> None:
        self._meetings.setdefault(meeting_id, {})[entry.peer_id] = entry
        self._meeting_of[entry.peer_id] = meeting_id

    def remove(self, sid: str) -> tuple[int, RosterEntry] | None:
        meeting_id = self._meeting_of.pop(sid, None)
        if meeting_id is None:
            return None
        members = self._meetings[meeting_id]
        entry = members.pop(sid)
        if not members:
            del self._meetings[meeting_id]
        return meeting_id, entry

    def meeting_of(self, sid: str) -> int | None:
        return self._meeting_of.get(sid)

    def entry(self, sid: str) -> RosterEntry | None:
        meeting_id = self._meeting_of.get(sid)
        return None if meeting_id is None else self._meetings[meeting_id][sid]

    def entries(self, meeting_id: int) -> list[RosterEntry]:
        return list(self._meetings.get(meeting_id, {}).values())

    def connected(self, meeting_id: int, key: str) -> bool:
        return any(entry.key == key for entry in self._meetings.get(meeting_id, {}).values())
