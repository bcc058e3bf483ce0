"""An open vote in this server process: ballots queued, written in batches, acked, tallied.

- Group commit: whatever arrives while a batch is being committed goes into the next
  transaction (meetings.ballots: a fixed handful of statements per batch, whatever its
  size). Each ballot is acked after the commit of its batch, never before; a ballot the
  database refuses (a second ballot of a voter) fails alone.
- Each batch is written under the meeting's lock, which keeps its audit chain in order;
  the box remembers the chain's head after its own commits so that it need not read it
  again (if anything else was appended meanwhile, the write is refused and retried).
- The tally is broadcast at most every `tally_interval` seconds (50 ms by default,
  HOINGHI_TALLY_INTERVAL_MS), less often in a meeting too large for that (web.coalesce),
  never per ballot (docs/architecture.md, "Measured facts": per-ballot broadcasts cost p50 5.3 s at 500
  voters). 0 restores that naive design — one tally broadcast per ballot applied, even
  within a batch — as bench/control.py's baseline.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meetings import audit, ballots, voting
from meetings.control_common import Caller
from meetings.meetings_service import MeetingError
from web.coalesce import Coalescer

Pending = tuple[ballots.Ballot, "asyncio.Future[int]"]


class VoteBox:
    def __init__(
        self, vote: voting.OpenVote, sessions: async_sessionmaker[AsyncSession], lock: asyncio.Lock,
        emit: Callable[[str, Any], Awaitable[None]], tally_interval: float,
    ) -> None:
        self.vote = vote
        self.closing = False
        self.seq = 0  # the audit sequence the in-memory tally reflects (its broadcasts carry it)
        self._sessions = sessions
        self._lock = lock
        self._emit = emit
        self._tally_interval = tally_interval
        self._pending: list[Pending] = []
        self._in_flight: set[int] = set()
        self._audit_head: audit.Head | None = None
        self._writer: asyncio.Task[None] | None = None
        self._tallies = Coalescer(lambda: self._emit("vote_tally", self._tally()), tally_interval)
        self._sending: set[asyncio.Task[None]] = set()  # per-ballot tallies (interval 0)

    async def cast(self, caller: Caller, choice: Any) -> int:
        """Queue a ballot and wait until it is committed; returns the ballots counted by then."""
        if self.closing:
            raise MeetingError("conflict", "this vote is closing")
        ballots.check_ballot(self.vote, caller, choice)
        assert caller.account_id is not None
        if caller.account_id in self._in_flight:
            raise MeetingError("conflict", ballots.ALREADY_VOTED)
        self._in_flight.add(caller.account_id)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((ballots.Ballot(caller.account_id, caller.name, choice), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        try:
            return await future
        finally:
            self._in_flight.discard(caller.account_id)

    async def drain(self) -> None:
        """Stop taking ballots and wait until every queued one is written."""
        self.closing = True
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._commit(batch)
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)

    async def _commit(self, batch: list[Pending]) -> None:
        """Write one batch; once more, reading the audit head, if the head it remembered had moved on."""
        async with self._lock:
            try:
                await self._commit_once(batch)
            except audit.StaleHead:
                self._audit_head = None
                await self._commit_once(batch)

    async def _commit_once(self, batch: list[Pending]) -> None:
        async with self._sessions() as session:
            result = await ballots.cast_ballots(session, self.vote, [b for b, _ in batch], self._audit_head)
            await session.commit()
            if result.audit_head is not None:
                self._audit_head = result.audit_head
                self.seq = result.audit_head.seq
            # Acked before the session goes back to the pool: its reset is one more round trip.
            self._settle(batch, result)

    def _settle(self, batch: list[Pending], result: ballots.BatchResult) -> None:
        """Apply a committed batch to the in-memory tally, answer each ballot, schedule the tally."""
        per_ballot = self._tally_interval == 0
        tallies = []
        if per_ballot:  # the naive design: one tally per ballot, each including just it
            for ballot in result.accepted:
                ballots.apply_batch(self.vote, [ballot])
                tallies.append(self._tally())
        else:
            ballots.apply_batch(self.vote, result.accepted)
        counted = len(self.vote.voted)
        for (_, future), refused in zip(batch, result.refusals):
            if future.done():
                continue
            if refused is None:
                future.set_result(counted)
            else:
                future.set_exception(refused)
        for tally in tallies:  # each sent as soon as the loop can: the writer does not wait
            self._emit_tally(tally)
        if result.accepted and not per_ballot:
            self.schedule_tally()

    def schedule_tally(self) -> None:
        self._tallies.changed()

    def _tally(self) -> dict[str, Any]:
        tally = self.vote.tally()
        tally["server_ms"] = int(time.time() * 1000)
        tally["seq"] = self.seq
        return tally

    def _emit_tally(self, tally: dict[str, Any]) -> None:
        task = asyncio.create_task(self._emit("vote_tally", tally))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def stop(self) -> None:
        self._tallies.close()
