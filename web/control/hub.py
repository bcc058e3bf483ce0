"""The control plane's run-time state in one server process.

- One asyncio lock per meeting: every change of a meeting (and its audit chain) is made,
  committed and broadcast in order.
- Ballots are written in batches (group commit): whatever arrived while the previous batch
  was being committed goes into the next transaction. Each ballot is acked after its batch
  commits. The tally is broadcast at most every `tally_interval_ms` (50 ms by default,
  HOINGHI_TALLY_INTERVAL_MS), never per ballot (DESIGN.md, "Control plane": per-ballot
  broadcasts cost p50 5.3 s at 500 voters). 0 restores that naive design — one tally
  broadcast per ballot applied, even within a batch — as bench/control.py's baseline.
- gc.freeze() while a vote is open keeps the collector from scanning long-lived objects
  during the burst of ballots.
- Speaking-time limits run as timers that end the turn (and mute the speaker) when due.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from meetings import attendance, speaking, voting
from meetings.control_common import Caller
from meetings.meetings_service import MeetingError
from meetings.models import Participant
from web.control.schema import not_joined
from web.membership import meeting_room
from web.state import AppState

log = logging.getLogger("hoinghi.control")
ATTENDANCE_INTERVAL = 1.0


class VoteBox:
    """An open vote: its in-memory tally, the ballots waiting to be written, the tally broadcaster."""

    def __init__(self, hub: "ControlHub", vote: voting.OpenVote) -> None:
        self.hub = hub
        self.vote = vote
        self.pending: list[tuple[voting.Ballot, asyncio.Future[int]]] = []
        self.in_flight: set[int] = set()
        self.closing = False
        self._writer: asyncio.Task[None] | None = None
        self._broadcast: asyncio.TimerHandle | None = None
        self._last_broadcast = 0.0
        self._sending: set[asyncio.Task[None]] = set()

    async def cast(self, caller: Caller, choice: Any) -> int:
        """Queue a ballot and wait until it is committed; returns the ballots counted by then."""
        if self.closing:
            raise MeetingError("conflict", "this vote is closing")
        voting.check_ballot(self.vote, caller, choice)
        assert caller.account_id is not None
        if caller.account_id in self.in_flight:
            raise MeetingError("conflict", "you have already voted")
        self.in_flight.add(caller.account_id)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending.append((voting.Ballot(caller.account_id, caller.name, choice), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        try:
            counted = await future
            if counted < 0:
                raise MeetingError("conflict", "you have already voted")
            return counted
        finally:
            self.in_flight.discard(caller.account_id)

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                async with self.hub.lock(self.vote.meeting_id):
                    async with self.hub.state.sessions() as session:
                        accepted = await voting.cast_ballots(session, self.vote, [b for b, _ in batch])
                        await session.commit()
                per_ballot = self.hub.tally_interval == 0
                if per_ballot:  # the naive design: one tally per ballot, each including just it
                    tallies = []
                    for ballot in accepted:
                        voting.apply_batch(self.vote, [ballot])
                        tallies.append(self._tally())
                else:
                    voting.apply_batch(self.vote, accepted)
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            counted = {b.account_id for b in accepted}
            total = len(self.vote.voted)
            for ballot, future in batch:
                if not future.done():
                    future.set_result(total if ballot.account_id in counted else -1)
                    counted.discard(ballot.account_id)  # a duplicate in the same batch is refused
            if per_ballot:
                for tally in tallies:  # each sent as soon as the loop can: the writer does not wait
                    self._emit_tally(tally)
            elif accepted:
                self.schedule_tally()

    async def drain(self) -> None:
        """Stop taking ballots and wait until every queued one is written."""
        self.closing = True
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    def schedule_tally(self) -> None:
        if self._broadcast is not None:
            return  # the next broadcast will carry this change too
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_broadcast + self.hub.tally_interval - loop.time())
        self._broadcast = loop.call_later(delay, self._send_tally)

    def _tally(self) -> dict[str, Any]:
        tally = self.vote.tally()
        tally["server_ms"] = int(time.time() * 1000)
        return tally

    def _send_tally(self) -> None:
        self._broadcast = None
        self._last_broadcast = asyncio.get_running_loop().time()
        self._emit_tally(self._tally())

    def _emit_tally(self, tally: dict[str, Any]) -> None:
        task = asyncio.create_task(self.hub.emit("vote_tally", tally, self.vote.meeting_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def stop(self) -> None:
        if self._broadcast is not None:
            self._broadcast.cancel()
            self._broadcast = None


@dataclass
class ControlHub:
    state: AppState
    locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    votes: dict[int, VoteBox] = field(default_factory=dict)  # meeting id -> its open vote
    timers: dict[int, asyncio.Task[None]] = field(default_factory=dict)  # meeting id -> turn timer
    _attendance_due: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    _frozen: int = 0

    @property
    def tally_interval(self) -> float:
        """Seconds between two tally broadcasts of an open vote, at most (0: after every ballot)."""
        return self.state.settings.tally_interval_ms / 1000

    def lobby_of(self, meeting_id: int) -> dict[str, dict[str, Any]]:
        """Browser users waiting to be admitted: peer id -> {peer_id, account_id, name}."""
        return self.state.lobby.setdefault(meeting_id, {})

    async def send_lobby(self, meeting_id: int) -> None:
        waiting = {"meeting_id": meeting_id, "waiting": list(self.lobby_of(meeting_id).values())}
        await self.emit_to_capacities("lobby", waiting, meeting_id, ("chair", "secretary"))

    def lock(self, meeting_id: int) -> asyncio.Lock:
        return self.locks.setdefault(meeting_id, asyncio.Lock())

    async def emit(self, event: str, data: Any, meeting_id: int) -> None:
        await self.state.sio.emit(event, data, room=meeting_room(meeting_id))

    async def emit_to_key(self, event: str, data: Any, meeting_id: int, key: str) -> list[str]:
        sids = [e.peer_id for e in self.state.roster.entries(meeting_id) if e.key == key]
        for sid in sids:
            await self.state.sio.emit(event, data, to=sid)
        return sids

    async def emit_to_capacities(self, event: str, data: Any, meeting_id: int, capacities: tuple[str, ...]) -> None:
        for entry in self.state.roster.entries(meeting_id):
            if entry.role in capacities:
                await self.state.sio.emit(event, data, to=entry.peer_id)

    # ------------------------------------------------------------ callers

    async def caller(self, sid: str) -> tuple[int, Caller]:
        """The meeting a connection is in and who it is there; refuses a connection in no meeting."""
        entry = self.state.roster.entry(sid)
        meeting_id = self.state.roster.meeting_of(sid)
        if entry is None or meeting_id is None:
            raise not_joined()
        kind, _, ident = entry.key.partition(":")
        if kind == "point":
            return meeting_id, Caller(entry.key, entry.name, entry.role, None, ident)
        return meeting_id, Caller(entry.key, entry.name, entry.role, int(ident), None)

    async def with_point(self, meeting_id: int, caller: Caller) -> Caller:
        """The caller with the bridge point a delegate sits at (looked up when it matters)."""
        if caller.point_id is not None or caller.account_id is None:
            return caller
        async with self.state.sessions() as session:
            point_id = await session.scalar(
                select(Participant.point_id).where(
                    Participant.meeting_id == meeting_id, Participant.account_id == caller.account_id
                )
            )
        return Caller(caller.key, caller.name, caller.capacity, caller.account_id, point_id)

    # ------------------------------------------------------------ votes

    def vote_opened(self, vote: voting.OpenVote) -> VoteBox:
        box = VoteBox(self, vote)
        self.votes[vote.meeting_id] = box
        if self._frozen == 0:
            gc.collect()
            gc.freeze()
        self._frozen += 1
        return box

    def vote_finished(self, meeting_id: int) -> None:
        box = self.votes.pop(meeting_id, None)
        if box is None:
            return
        box.stop()
        self._frozen -= 1
        if self._frozen == 0:
            gc.unfreeze()

    async def vote_box(self, meeting_id: int, vote_id: int | None = None) -> VoteBox:
        box = self.votes.get(meeting_id)
        if box is None:
            # After a restart the vote may still be open in the database.
            async with self.lock(meeting_id):
                box = self.votes.get(meeting_id)
                if box is None:
                    async with self.state.sessions() as session:
                        open_id = await voting.open_vote_id(session, meeting_id)
                        vote = await voting.load_open_vote(session, open_id) if open_id else None
                    if vote is not None:
                        box = self.vote_opened(vote)
        if box is None or (vote_id is not None and box.vote.id != vote_id):
            raise MeetingError("conflict" if box is None else "not_found", "no such open vote in this meeting")
        return box

    # ------------------------------------------------------------ floor

    async def floor(self, meeting_id: int, key: str, allowed: bool) -> None:
        hook = self.state.media_floor
        if hook is None:
            return
        try:
            await hook(meeting_id, key, allowed)
        except Exception:
            log.exception("media_floor failed", extra={"meeting_id": meeting_id, "key": key})

    def start_timer(self, meeting_id: int, turn: speaking.Turn) -> None:
        self.cancel_timer(meeting_id)
        if turn.deadline_ms is None:
            return
        self.timers[meeting_id] = asyncio.create_task(self._expire(meeting_id, turn))

    def cancel_timer(self, meeting_id: int) -> None:
        task = self.timers.pop(meeting_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _expire(self, meeting_id: int, turn: speaking.Turn) -> None:
        assert turn.deadline_ms is not None
        await asyncio.sleep(max(0.0, turn.deadline_ms / 1000 - time.time()))
        async with self.lock(meeting_id):
            async with self.state.sessions() as session:
                ended = await speaking.expire_turn(session, meeting_id, turn.request_id)
                await session.commit()
                snapshot = await speaking.snapshot(session, meeting_id)
        self.timers.pop(meeting_id, None)
        if ended is not None:
            await self.floor(meeting_id, ended.requester, False)
            await self.emit("speakers", snapshot, meeting_id)

    # ------------------------------------------------------------ attendance

    def connected_keys(self, meeting_id: int) -> set[str]:
        return {e.key for e in self.state.roster.entries(meeting_id)}

    async def attendance(self, meeting_id: int) -> dict[str, Any]:
        async with self.state.sessions() as session:
            return await attendance.snapshot(session, meeting_id, self.connected_keys(meeting_id))

    def attendance_changed(self, meeting_id: int) -> None:
        """Broadcast attendance soon, once for a burst of joins and leaves."""
        if meeting_id in self._attendance_due:
            return
        loop = asyncio.get_running_loop()
        self._attendance_due[meeting_id] = loop.call_later(
            ATTENDANCE_INTERVAL, lambda: asyncio.create_task(self._send_attendance(meeting_id))
        )

    async def _send_attendance(self, meeting_id: int) -> None:
        self._attendance_due.pop(meeting_id, None)
        try:
            await self.emit("attendance", await self.attendance(meeting_id), meeting_id)
        except Exception:
            log.exception("attendance broadcast failed", extra={"meeting_id": meeting_id})

    def close(self) -> None:
        for handle in self._attendance_due.values():
            handle.cancel()
        for task in self.timers.values():
            task.cancel()
        for meeting_id in list(self.votes):
            self.vote_finished(meeting_id)
