"""Transcript segments committed in groups, each before it is broadcast.

A final result must be in the database before anyone sees it (a restart loses no segment
that was shown). One transaction per segment made the database the largest cost of
transcription beyond recognition itself (bench/asr.py: a session, the attribution queries and
a commit for every final of every speaker). Here the finals that arrive while a transaction
runs wait for the next one and share it, with one attribution lookup per microphone: no
timer, so a lone final is committed at once, and with many speakers the transactions stay
few. One bad segment does not cost the others: a group that fails is retried one by one.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from meetings import transcript


@dataclass(frozen=True)
class Draft:
    """A segment to store; `source` is the microphone's principal key."""

    meeting_id: int
    source: str
    started: datetime
    ended: datetime
    text: str
    words: list[transcript.Word]
    kind: str = "speech"


Stored = tuple[dict[str, Any], transcript.Speaker]  # the committed segment and whose name it carries


class SegmentCommitter:
    def __init__(self, sessions: Callable[[], Any]) -> None:
        self._sessions = sessions
        self._queue: list[tuple[Draft, asyncio.Future[Stored]]] = []
        self._task: asyncio.Task[None] | None = None

    async def commit(self, draft: Draft) -> Stored:
        """Store `draft` (attributed now) and return it once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._queue.append((draft, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="hoinghi-transcript-commits")
        return await future

    async def _run(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue, []
                try:
                    stored = await self._store([draft for draft, _ in group])
                except Exception as error:
                    if len(group) == 1:
                        _settle(group[0][1], error=error)
                        continue
                    for draft, future in group:  # find the bad one: each alone
                        try:
                            _settle(future, (await self._store([draft]))[0])
                        except Exception as alone:
                            _settle(future, error=alone)
                    continue
                for (_, future), result in zip(group, stored):
                    _settle(future, result)
        finally:  # cancelled (shutdown): nobody waits forever
            for _, future in self._queue:
                future.cancel()

    async def _store(self, drafts: list[Draft]) -> list[Stored]:
        session: AsyncSession
        async with self._sessions() as session:
            speakers: dict[tuple[int, str], transcript.Speaker] = {}
            stored: list[Stored] = []
            for d in drafts:
                key = (d.meeting_id, d.source)
                if key not in speakers:
                    speakers[key] = await transcript.attribute(session, d.meeting_id, d.source)
                segment = await transcript.commit_segment(session, d.meeting_id, d.source, speakers[key], d.started,
                                                          d.ended, d.text, d.words, kind=d.kind)
                stored.append((segment, speakers[key]))
            await session.commit()
        return stored


def _settle(future: asyncio.Future[Stored], result: Stored | None = None, error: BaseException | None = None) -> None:
    if future.done():  # its waiter was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
