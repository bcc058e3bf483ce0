"""Which meetings a person's home page lists: today's and upcoming first, then past ones, paged.

Administrators and secretaries see every meeting; everyone else the meetings they chair, keep
the minutes of, are invited to, were admitted to from the lobby, or whose bridge point they operate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.localtime import start_of_local_day
from meetings.models import Meeting, MeetingPoint, MeetingRoom, Participant
from meetings.point_models import OperatorPoint

JOIN_EARLY = timedelta(minutes=30)  # "Vào họp" shows from this long before the start
PAGE_SIZE = 20


@dataclass(frozen=True)
class MeetingSummary:
    id: int
    title: str
    room_name: str
    status: str
    start: datetime
    end: datetime | None
    location: str
    cancel_reason: str
    joinable: bool


@dataclass(frozen=True)
class HomeListing:
    upcoming: list[MeetingSummary]
    past: list[MeetingSummary]
    page: int
    pages: int


def joinable(status: str, start: datetime, now: datetime) -> bool:
    return status == "open" or (status == "scheduled" and now >= start - JOIN_EARLY)


def visible_to(account_id: int) -> object:
    """SQL condition: the meetings this account takes part in (any capacity)."""
    return or_(
        Meeting.chair_id == account_id,
        Meeting.secretary_id == account_id,
        Meeting.id.in_(select(Participant.meeting_id).where(Participant.account_id == account_id)),
        Meeting.id.in_(
            select(MeetingPoint.meeting_id)
            .join(OperatorPoint, OperatorPoint.point_id == MeetingPoint.point_id)
            .where(OperatorPoint.account_id == account_id)
        ),
    )


def _base(account_id: int, see_all: bool) -> Select:  # type: ignore[type-arg]
    query = select(Meeting, MeetingRoom.name).join(MeetingRoom, MeetingRoom.id == Meeting.room_id)
    return query if see_all else query.where(visible_to(account_id))  # type: ignore[arg-type]


def _summary(meeting: Meeting, room_name: str, now: datetime) -> MeetingSummary:
    return MeetingSummary(
        id=meeting.id, title=meeting.title, room_name=room_name, status=meeting.status,
        start=meeting.scheduled_start, end=meeting.scheduled_end, location=meeting.location,
        cancel_reason=meeting.cancel_reason, joinable=joinable(meeting.status, meeting.scheduled_start, now),
    )


async def home_meetings(
    session: AsyncSession, account_id: int, see_all: bool, now: datetime, page: int = 1, page_size: int = PAGE_SIZE
) -> HomeListing:
    today = start_of_local_day(now)
    is_upcoming = or_(Meeting.status == "open", and_(Meeting.status != "closed", Meeting.scheduled_start >= today))
    upcoming_rows = await session.execute(
        _base(account_id, see_all).where(is_upcoming).order_by(Meeting.scheduled_start, Meeting.id)
    )
    past_query = _base(account_id, see_all).where(~is_upcoming)
    past_total = (await session.execute(select(func.count()).select_from(past_query.subquery()))).scalar_one()
    pages = max(1, -(-past_total // page_size))
    page = min(max(page, 1), pages)
    past_rows = await session.execute(
        past_query.order_by(Meeting.scheduled_start.desc(), Meeting.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return HomeListing(
        upcoming=[_summary(m, room, now) for m, room in upcoming_rows],
        past=[_summary(m, room, now) for m, room in past_rows],
        page=page, pages=pages,
    )
