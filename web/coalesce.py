"""One broadcast for a burst of changes, paced to what the event loop can afford.

A change only marks the state as changed; the broadcast, built when it is sent, carries every
change since the previous one. Broadcasts start at most every `interval` seconds (the first
after a quiet spell at once), never while the previous one is still being handed to the
connections, and no sooner than `1 / share` times the previous one's duration after its
start: a broadcast to n connections costs n writes on the loop that also forwards media,
so with 1,000 connections one every 50 ms would take the whole loop (measured: 50–100 ms per
tally), starving acks, commits and media. The broadcast's duration rises with the loop's
load, so a busy loop gets fewer broadcasts. At 500 voters half the loop gave the lowest p99
from cast to tally at every client (bench/control.py, interleaved runs: median p99 ~180 ms
with a share of 1/2 or 0.65, ~235 ms with 0.4, ~290 ms with 1/3, ~270 ms with 1/3 when the
writers' turns are not counted).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger("hoinghi.coalesce")
LOOP_SHARE = 1 / 2  # of the loop's time that one kind of broadcast may take, at most
# Sending hands the packet to each connection's queue; its engine.io writer wakes and writes it
# within the next three turns of the loop, so the duration is measured until then.
WRITER_TURNS = 3


class Coalescer:
    def __init__(self, send: Callable[[], Awaitable[None]], interval: float, share: float = LOOP_SHARE) -> None:
        self._send = send
        self._interval = interval
        self._share = share
        self._gap = interval  # from one broadcast's start to the next's, at least
        self._last_start = float("-inf")
        self._due: asyncio.TimerHandle | None = None
        self._sending: asyncio.Task[None] | None = None
        self._changed = False
        self._closed = False

    def changed(self) -> None:
        """Something the broadcast carries has changed: send it soon."""
        self._changed = True
        if self._due is None and self._sending is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._due = loop.call_at(max(loop.time(), self._last_start + self._gap), self._start)

    def _start(self) -> None:
        self._due = None
        self._changed = False
        self._last_start = asyncio.get_running_loop().time()
        self._sending = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self._send()
        except Exception:
            log.exception("broadcast failed")
        for _ in range(WRITER_TURNS):
            await asyncio.sleep(0)
        self._gap = max(self._interval, (loop.time() - self._last_start) / self._share)
        self._sending = None
        if self._changed:
            self.changed()

    def close(self) -> None:
        """Send nothing more (a broadcast under way is finished)."""
        self._closed = True
        if self._due is not None:
            self._due.cancel()
            self._due = None
