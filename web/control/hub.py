"""The control plane's run-time state in one server process.

- One asyncio lock per meeting: every change of a meeting (and its audit chain) is made,
  committed and broadcast in order. The locks are held weakly: one exists while someone uses
  or waits for it (an open vote's box keeps its meeting's), so an idle meeting keeps none.
- What else a meeting holds here (attendance broadcaster) goes when it empties.
- An open vote is a VoteBox (web.control.vote_box): ballots written in batches, tally
  broadcasts coalesced.
- gc.freeze() while a vote is open keeps the collector from scanning long-lived objects
  during the burst of ballots. No gc.collect() first: with 1,000 connections it held the
  loop (and the media it forwards) for half a second; garbage frozen with the rest is
  collected after the vote.
- Speaking-time limits run as timers that end the turn (and mute the speaker) when due.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import attendance, audit, speaking, voting
from meetings.control_common import Caller
from meetings.meetings_service import MeetingError
from meetings.models import Participant
from meetings.sealed_ballots import BallotKeys
from web.coalesce import Coalescer
from web.control.vote_box import VoteBox
from web.events import not_joined
from web.membership import send_lobby
from web.roster import meeting_room
from web.state import AppState

log = logging.getLogger("hoinghi.control")
ATTENDANCE_INTERVAL = 1.0


@dataclass
class ControlHub:
    state: AppState
    locks: weakref.WeakValueDictionary[int, asyncio.Lock] = field(default_factory=weakref.WeakValueDictionary)
    votes: dict[int, VoteBox] = field(default_factory=dict)  # meeting id -> its open vote
    timers: dict[int, asyncio.Task[None]] = field(default_factory=dict)  # meeting id -> turn timer
    _attendance: dict[int, Coalescer] = field(default_factory=dict)  # meeting id -> its broadcasts
    _frozen: int = 0

    def __post_init__(self) -> None:
        self.ballot_keys = BallotKeys(self.state.settings.data_dir / "ballot-keys")

    @property
    def tally_interval(self) -> float:
        """Seconds between two tally broadcasts of an open vote, at most (0: after every ballot)."""
        return self.state.settings.tally_interval_ms / 1000

    def lobby_of(self, meeting_id: int) -> dict[str, dict[str, Any]]:
        """Browser users waiting to be admitted: peer id -> {peer_id, account_id, name}."""
        return self.state.lobby.setdefault(meeting_id, {})

    async def send_lobby(self, meeting_id: int) -> None:
        await send_lobby(self.state, meeting_id)

    def lock(self, meeting_id: int) -> asyncio.Lock:
        lock = self.locks.get(meeting_id)
        if lock is None:
            lock = self.locks[meeting_id] = asyncio.Lock()
        return lock

    async def emit(self, event: str, data: Any, meeting_id: int) -> None:
        await self.state.sio.emit(event, data, room=meeting_room(meeting_id))

    async def emit_to_key(self, event: str, data: Any, meeting_id: int, key: str) -> list[str]:
        sids = [e.peer_id for e in self.state.roster.entries(meeting_id) if e.key == key]
        for sid in sids:
            await self.state.sio.emit(event, data, to=sid)
        return sids

    async def snapshot(self, meeting_id: int, build: Callable[[AsyncSession], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """A broadcast's state, read under the meeting's lock and stamped `seq` with the audit
        sequence it reflects: however the broadcasts of two quick changes overtake each other on
        the way, a client keeps the one with the higher `seq` (docs/protocol.md, "Ordering")."""
        async with self.lock(meeting_id):
            async with self.state.sessions() as session:
                seq = (await audit.head(session, meeting_id)).seq
                return {**await build(session), "seq": seq}

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
        meeting_id = vote.meeting_id

        async def emit(event: str, data: Any) -> None:
            await self.emit(event, data, meeting_id)

        box = VoteBox(vote, self.state.sessions, self.lock(meeting_id), emit, self.tally_interval)
        self.votes[vote.meeting_id] = box
        if self._frozen == 0:
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
                        vote = await voting.load_open_vote(session, open_id, self.ballot_keys) if open_id else None
                        seq = (await audit.head(session, meeting_id)).seq
                    if vote is not None:
                        box = self.vote_opened(vote)
                        box.seq = seq
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
                snapshot = {**await speaking.snapshot(session, meeting_id), "seq": (await audit.head(session, meeting_id)).seq}
        self.timers.pop(meeting_id, None)
        if ended is not None:
            await self.floor(meeting_id, ended.requester, False)
            await self.emit("speakers", snapshot, meeting_id)

    async def resume(self) -> None:
        """After a start: re-arm the speaking turns' time limits (each with the time it has left;
        one already due ends now) and erase the ballot keys of votes a crash left closed."""
        async with self.state.sessions() as session:
            turns = await speaking.open_turns(session)
            open_votes = await voting.open_vote_ids(session)
        for meeting_id, turn in turns:
            self.start_timer(meeting_id, turn)
        erased = await asyncio.to_thread(self.ballot_keys.erase_all_but, open_votes)
        if turns or erased:
            log.info("resumed", extra={"turns": len(turns), "ballot_keys_erased": erased})

    # ------------------------------------------------------------ attendance

    def connected_keys(self, meeting_id: int) -> set[str]:
        return {e.key for e in self.state.roster.entries(meeting_id)}

    async def attendance(self, meeting_id: int) -> dict[str, Any]:
        async with self.state.sessions() as session:
            return await attendance.snapshot(session, meeting_id, self.connected_keys(meeting_id))

    def attendance_changed(self, meeting_id: int) -> None:
        """Broadcast attendance soon, once for a burst of joins and leaves."""
        if meeting_id not in self._attendance:

            async def send() -> None:
                await self.emit("attendance", await self.attendance(meeting_id), meeting_id)

            self._attendance[meeting_id] = Coalescer(send, ATTENDANCE_INTERVAL)
        self._attendance[meeting_id].changed()

    def release(self, meeting_id: int) -> None:
        """Nobody is in the meeting any more: drop its attendance broadcaster (an open vote and a
        running turn's timer stay: they still end on time, and the vote is rebuilt if needed)."""
        sender = self._attendance.pop(meeting_id, None)
        if sender is not None:
            sender.close()

    def close(self) -> None:
        for sender in self._attendance.values():
            sender.close()
        for task in self.timers.values():
            task.cancel()
        for meeting_id in list(self.votes):
            self.vote_finished(meeting_id)
