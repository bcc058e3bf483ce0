"""Requests to speak (đăng ký phát biểu): an ordered queue, the chair's floor, time limits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.agenda import current_item_id
from meetings.control_common import Caller, allow, clean_text, get_meeting
from meetings.control_models import SpeakRequest
from meetings.meetings_service import MeetingError
from meetings.models import utcnow

DEFAULT_TIME_LIMIT_S = 300
MAX_TIME_LIMIT_S = 3600
MAX_QUEUED_PER_REQUESTER = 5  # a point may ask for several people in its room


@dataclass(frozen=True)
class Turn:
    request_id: int
    requester: str  # principal key whose media is unmuted
    speaker_name: str
    deadline_ms: int | None


def _epoch_ms(value) -> int:  # type: ignore[no-untyped-def]
    return int(value.timestamp() * 1000)


def _as_dict(r: SpeakRequest) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": r.id, "requester": r.requester, "name": r.speaker_name, "point_id": r.point_id,
        "topic": r.topic, "state": r.state, "item_id": r.item_id,
        "requested_at_ms": _epoch_ms(r.created_at),
    }
    if r.state == "speaking" and r.granted_at is not None:
        data["started_at_ms"] = _epoch_ms(r.granted_at)
        data["time_limit_s"] = r.time_limit_s
        data["deadline_ms"] = _epoch_ms(r.granted_at + timedelta(seconds=r.time_limit_s)) if r.time_limit_s else None
    return data


async def snapshot(session: AsyncSession, meeting_id: int) -> dict[str, Any]:
    rows = (
        await session.execute(
            select(SpeakRequest)
            .where(SpeakRequest.meeting_id == meeting_id, SpeakRequest.state.in_(("queued", "speaking")))
            .order_by(SpeakRequest.created_at, SpeakRequest.id)
        )
    ).scalars().all()
    floor = next((_as_dict(r) for r in rows if r.state == "speaking"), None)
    return {"meeting_id": meeting_id, "queue": [_as_dict(r) for r in rows if r.state == "queued"], "floor": floor}


async def _request(session: AsyncSession, meeting_id: int, request_id: int) -> SpeakRequest:
    row = await session.get(SpeakRequest, request_id)
    if row is None or row.meeting_id != meeting_id:
        raise MeetingError("not_found", f"no request to speak {request_id} in this meeting")
    return row


async def _speaking(session: AsyncSession, meeting_id: int) -> SpeakRequest | None:
    return (
        await session.execute(
            select(SpeakRequest).where(SpeakRequest.meeting_id == meeting_id, SpeakRequest.state == "speaking")
        )
    ).scalar_one_or_none()


async def request(
    session: AsyncSession, caller: Caller, meeting_id: int, topic: str = "", on_behalf_of: str | None = None
) -> int:
    allow(caller, "speak_request")
    await get_meeting(session, meeting_id, states=("open",))
    topic = clean_text(topic, "topic", 500, required=False)
    if on_behalf_of is not None:
        if caller.capacity != "point":
            raise MeetingError("forbidden", "only a bridge point asks on behalf of someone in its room")
        name = clean_text(on_behalf_of, "on_behalf_of", 200)
    else:
        name = caller.name
    mine = (
        await session.execute(
            select(SpeakRequest).where(
                SpeakRequest.meeting_id == meeting_id, SpeakRequest.requester == caller.key,
                SpeakRequest.state == "queued",
            )
        )
    ).scalars().all()
    limit = MAX_QUEUED_PER_REQUESTER if caller.capacity == "point" else 1
    if len(mine) >= limit or any(r.speaker_name == name for r in mine):
        raise MeetingError("conflict", "this request to speak is already in the queue")
    row = SpeakRequest(
        meeting_id=meeting_id, item_id=await current_item_id(session, meeting_id), requester=caller.key,
        speaker_name=name, point_id=caller.point_id, topic=topic, state="queued", created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await audit.append(session, meeting_id, caller.actor, "speak_request", request_id=row.id, name=name, topic=topic)
    return row.id


async def withdraw(session: AsyncSession, caller: Caller, meeting_id: int, request_id: int) -> None:
    allow(caller, "speak_withdraw")
    row = await _request(session, meeting_id, request_id)
    if row.requester != caller.key:
        raise MeetingError("forbidden", "only the one who asked can withdraw a request")
    if row.state != "queued":
        raise MeetingError("conflict", f"the request is {row.state}")
    row.state, row.ended_at = "withdrawn", utcnow()
    await audit.append(session, meeting_id, caller.actor, "speak_withdraw", request_id=request_id)


async def grant(
    session: AsyncSession, caller: Caller, meeting_id: int, request_id: int, time_limit_s: int | None = None
) -> tuple[Turn, Turn | None]:
    """Give the floor; returns the new turn and the turn it ended, if someone was speaking."""
    allow(caller, "speak_grant")
    await get_meeting(session, meeting_id, states=("open",))
    limit = DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    if not 0 <= limit <= MAX_TIME_LIMIT_S:
        raise MeetingError("bad_request", f"time_limit_s: between 0 (no limit) and {MAX_TIME_LIMIT_S}")
    row = await _request(session, meeting_id, request_id)
    if row.state != "queued":
        raise MeetingError("conflict", f"the request is {row.state}")
    ended = await _end(session, meeting_id, caller.actor, reason="next_speaker")
    now = utcnow()
    row.state, row.granted_at, row.time_limit_s = "speaking", now, limit or None
    await audit.append(session, meeting_id, caller.actor, "speak_grant", request_id=request_id,
                       name=row.speaker_name, time_limit_s=limit)
    deadline = _epoch_ms(now + timedelta(seconds=limit)) if limit else None
    return Turn(row.id, row.requester, row.speaker_name, deadline), ended


async def deny(session: AsyncSession, caller: Caller, meeting_id: int, request_id: int) -> None:
    allow(caller, "speak_deny")
    row = await _request(session, meeting_id, request_id)
    if row.state != "queued":
        raise MeetingError("conflict", f"the request is {row.state}")
    row.state, row.ended_at = "denied", utcnow()
    await audit.append(session, meeting_id, caller.actor, "speak_deny", request_id=request_id)


async def _end(session: AsyncSession, meeting_id: int, actor: audit.Actor, reason: str) -> Turn | None:
    row = await _speaking(session, meeting_id)
    if row is None:
        return None
    row.state, row.ended_at = "done", utcnow()
    await audit.append(session, meeting_id, actor, "speak_end", request_id=row.id, reason=reason)
    return Turn(row.id, row.requester, row.speaker_name, None)


async def end_turn(session: AsyncSession, caller: Caller, meeting_id: int, request_id: int | None = None) -> Turn:
    """The chair ends the current turn, or the speaker yields the floor."""
    allow(caller, "speak_end")
    row = await _speaking(session, meeting_id)
    if row is None or (request_id is not None and row.id != request_id):
        raise MeetingError("conflict", "nobody has the floor" if row is None else "that turn has already ended")
    if caller.capacity != "chair" and row.requester != caller.key:
        raise MeetingError("forbidden", "only the chair or the speaker can end a turn")
    ended = await _end(session, meeting_id, caller.actor, reason="chair" if caller.capacity == "chair" else "yielded")
    assert ended is not None
    return ended


async def expire_turn(session: AsyncSession, meeting_id: int, request_id: int) -> Turn | None:
    """Called by the server's timer when the time limit is reached (no-op if the turn already ended)."""
    row = await _speaking(session, meeting_id)
    if row is None or row.id != request_id:
        return None
    return await _end(session, meeting_id, audit.SYSTEM, reason="time_limit")


async def end_all(session: AsyncSession, meeting_id: int, actor: audit.Actor) -> Turn | None:
    """At the close of a meeting: end the turn and drop the queue."""
    ended = await _end(session, meeting_id, actor, reason="meeting_closed")
    for r in (
        await session.execute(
            select(SpeakRequest).where(SpeakRequest.meeting_id == meeting_id, SpeakRequest.state == "queued")
        )
    ).scalars():
        r.state, r.ended_at = "withdrawn", utcnow()
    return ended


def _turn(row: SpeakRequest) -> Turn:
    deadline = (
        _epoch_ms(row.granted_at + timedelta(seconds=row.time_limit_s)) if row.time_limit_s and row.granted_at else None
    )
    return Turn(row.id, row.requester, row.speaker_name, deadline)


async def current_turn(session: AsyncSession, meeting_id: int) -> Turn | None:
    row = await _speaking(session, meeting_id)
    return None if row is None else _turn(row)


async def open_turns(session: AsyncSession) -> list[tuple[int, Turn]]:
    """Every turn still speaking, in every meeting: (meeting id, turn). At start-up the server
    re-arms their time limits, whose timers lived in the memory of the process that stopped."""
    rows = (await session.execute(select(SpeakRequest).where(SpeakRequest.state == "speaking"))).scalars()
    return [(r.meeting_id, _turn(r)) for r in rows]
