"""Meetings: creation, lookup, and who may attend in which capacity."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.accounts import Principal
from meetings.models import Account, BridgePoint, Meeting, MeetingPoint, MeetingRoom, MeetingRoomPoint, Participant, utcnow
from meetings.points import acting_point


class MeetingError(ValueError):
    """A refused meeting operation; `code` is the wire error code (see docs/protocol.md), `params`
    the values a translated message needs (a meeting's title, a limit), the message is for logs."""

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.params = params or {}


@dataclass(frozen=True)
class PointInfo:
    id: str
    name: str
    level: str
    role: str


@dataclass(frozen=True)
class MeetingInfo:
    id: int
    title: str
    room_id: str
    status: str
    scheduled_start: str  # ISO 8601
    location: str
    chair_id: int
    chair_name: str
    secretary_id: int
    secretary_name: str
    points: tuple[PointInfo, ...]


async def create_meeting(
    session: AsyncSession,
    *,
    room_id: str,
    title: str,
    scheduled_start: datetime,
    chair_id: int,
    secretary_id: int,
    location: str = "",
    point_ids: Sequence[str] | None = None,
    delegates: Sequence[tuple[int, str | None]] = (),
) -> int:
    """Create a scheduled meeting; points default to the room's. delegates: (account id, point id or None)."""
    room = await session.get(MeetingRoom, room_id)
    if room is None or not room.active:
        raise MeetingError("not_found", f"no meeting room has id {room_id!r}")
    title = unicodedata.normalize("NFC", title).strip()
    if not title:
        raise MeetingError("bad_request", "title must not be empty")
    if scheduled_start.tzinfo is None:
        raise MeetingError("bad_request", "scheduled_start must carry a time zone")
    for role, account_id in (("chair", chair_id), ("secretary", secretary_id)):
        if await session.get(Account, account_id) is None:
            raise MeetingError("not_found", f"{role}: no account has id {account_id}")
    if point_ids is None:
        rows = await session.execute(
            select(MeetingRoomPoint.point_id).where(MeetingRoomPoint.room_id == room_id).order_by(MeetingRoomPoint.point_id)
        )
        point_ids = list(rows.scalars())
    for point_id in point_ids:
        point = await session.get(BridgePoint, point_id)
        if point is None or not point.active:
            raise MeetingError("not_found", f"no bridge point has id {point_id!r}")
    meeting = Meeting(
        room_id=room_id, title=title, scheduled_start=scheduled_start, location=location,
        chair_id=chair_id, secretary_id=secretary_id,
    )
    session.add(meeting)
    await session.flush()
    for point_id in point_ids:
        session.add(MeetingPoint(meeting_id=meeting.id, point_id=point_id))
    for account_id, point_id in delegates:
        if await session.get(Account, account_id) is None:
            raise MeetingError("not_found", f"delegate: no account has id {account_id}")
        session.add(Participant(meeting_id=meeting.id, account_id=account_id, point_id=point_id))
    await session.commit()
    return meeting.id


async def meeting_info(session: AsyncSession, meeting_id: int) -> MeetingInfo:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError("not_found", f"no meeting has id {meeting_id}")
    chair = await session.get(Account, meeting.chair_id)
    secretary = await session.get(Account, meeting.secretary_id)
    points = await session.execute(
        select(BridgePoint)
        .join(MeetingPoint, MeetingPoint.point_id == BridgePoint.id)
        .where(MeetingPoint.meeting_id == meeting_id)
        .order_by(BridgePoint.role.desc(), BridgePoint.id)  # main points first
    )
    return MeetingInfo(
        id=meeting.id, title=meeting.title, room_id=meeting.room_id, status=meeting.status,
        scheduled_start=meeting.scheduled_start.isoformat(), location=meeting.location,
        chair_id=meeting.chair_id, chair_name=chair.display_name if chair else "",
        secretary_id=meeting.secretary_id, secretary_name=secretary.display_name if secretary else "",
        points=tuple(PointInfo(p.id, p.name, p.level, p.role) for p in points.scalars()),
    )


async def attendance_role(session: AsyncSession, meeting_id: int, principal: Principal) -> str | None:
    """In which capacity the principal attends: chair, secretary, delegate, point (the point itself or its
    attached operator), observer, admin; None if not invited."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError("not_found", f"no meeting has id {meeting_id}")
    if principal.kind == "point":
        invited = await session.get(MeetingPoint, (meeting_id, principal.id))
        return "point" if invited is not None else None
    account_id = principal.account_id
    if account_id == meeting.chair_id:
        return "chair"
    if account_id == meeting.secretary_id:
        return "secretary"
    participant = (
        await session.execute(
            select(Participant).where(Participant.meeting_id == meeting_id, Participant.account_id == account_id)
        )
    ).scalar_one_or_none()
    if participant is not None and participant.invited:
        return "delegate"
    if participant is not None:
        return "observer"  # a browser user the chair or secretary admitted from the lobby
    if principal.role == "operator":
        point = await acting_point(session, principal)
        if point is not None and await session.get(MeetingPoint, (meeting_id, point.id)) is not None:
            return "point"  # an operator attached to an invited point acts for it
        return None
    if principal.role == "admin":
        return "admin"
    return None


async def set_presence(session: AsyncSession, meeting_id: int, principal: Principal, present: bool) -> None:
    """Record that a point or an invited person is (or no longer is) connected to the meeting."""
    now = utcnow()
    if principal.kind == "point":
        row = await session.get(MeetingPoint, (meeting_id, principal.id))
        if row is not None:
            row.connected = present
    else:
        row = (
            await session.execute(
                select(Participant).where(
                    Participant.meeting_id == meeting_id, Participant.account_id == principal.account_id
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            row.present = present
            if present:
                row.joined_at = row.joined_at or now
                row.left_at = None
            else:
                row.left_at = now
    await session.commit()


async def reset_presence(session: AsyncSession) -> int:
    """At start-up nobody is connected yet: a point or a person marked connected by the
    previous process (a crash never ran their leave) would otherwise stay so for good. Those
    still in the room reconnect within seconds and are marked again; a person's leave time
    becomes now. Returns how many rows were reset."""
    now = utcnow()
    points = await session.execute(update(MeetingPoint).where(MeetingPoint.connected.is_(True)).values(connected=False))
    people = await session.execute(
        update(Participant).where(Participant.present.is_(True)).values(present=False, left_at=now))
    await session.commit()
    return (points.rowcount or 0) + (people.rowcount or 0)
