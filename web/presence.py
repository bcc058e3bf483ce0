"""Presence writes in the order of the roster's changes.

After every join or leave the roster's current answer (is this principal connected to the
meeting?) is written, under a lock per (meeting, principal) and read inside it, so the last
write is always of the latest change: a leave whose hooks were slow is never committed after
the rejoin that followed it. A lock exists only while a write is under way or waiting.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from web.roster import Roster


class PresenceLocks:
    def __init__(self) -> None:
        self._locks: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}  # -> (lock, users)

    def __len__(self) -> int:
        return len(self._locks)

    async def sync(self, meeting_id: int, key: str, write: Callable[[bool], Awaitable[None]], roster: Roster) -> None:
        """write(whether `key` is connected to the meeting, as the roster says once the lock is held)."""
        slot = (meeting_id, key)
        lock, users = self._locks.get(slot, (asyncio.Lock(), 0))
        self._locks[slot] = (lock, users + 1)
        try:
            async with lock:
                await write(roster.connected(meeting_id, key))
        finally:
            lock, users = self._locks[slot]
            if users == 1:
                del self._locks[slot]
            else:
                self._locks[slot] = (lock, users - 1)
