"""One meeting as its pages and the REST API show it: people with their position and unit,
invited points, delegates with their seat, agenda with documents, and who may see it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import agenda
from meetings.accounts import Principal
from meetings.control_models import MeetingControl
from meetings.meetings_service import MeetingError, PointInfo, attendance_role, meeting_info
from meetings.models import Account, Meeting, MeetingRoom, Participant


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    position: str
    unit: str
    email: str | None


@dataclass(frozen=True)
class Delegate:
    person: Person
    point_id: str | None
    invited: bool  # False: a browser user admitted from the lobby
    present: bool


@dataclass(frozen=True)
class MeetingDetails:
    id: int
    title: str
    room_id: str
    room_name: str
    status: str
    start: datetime
    end: datetime | None
    location: str
    chair: Person
    secretary: Person
    points: tuple[PointInfo, ...]  # main points first
    delegates: list[Delegate]
    members_total: int | None
    agenda: list[dict[str, Any]]  # meetings.agenda.snapshot's items
    cancel_reason: str
    ical_uid: str | None
    ical_sequence: int
    opened_at: datetime | None
    closed_at: datetime | None

    def invitees(self) -> list[Person]:
        """Everyone invited by name (chair, secretary, delegates), once each."""
        people: dict[int, Person] = {self.chair.id: self.chair, self.secretary.id: self.secretary}
        for delegate in self.delegates:
            if delegate.invited:
                people.setdefault(delegate.person.id, delegate.person)
        return list(people.values())


def _person(account: Account | None, account_id: int) -> Person:
    if account is None:
        return Person(account_id, "", "", "", None)
    return Person(account.id, account.display_name, account.position, account.unit, account.email)


async def person_of(session: AsyncSession, account_id: int) -> Person:
    return _person(await session.get(Account, account_id), account_id)


async def details(session: AsyncSession, meeting_id: int) -> MeetingDetails:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError("not_found", f"no meeting has id {meeting_id}")
    room = await session.get(MeetingRoom, meeting.room_id)
    rows = await session.execute(
        select(Participant, Account)
        .join(Account, Account.id == Participant.account_id)
        .where(Participant.meeting_id == meeting_id)
        .order_by(Participant.id)
    )
    control = await session.get(MeetingControl, meeting_id)
    return MeetingDetails(
        id=meeting.id, title=meeting.title, room_id=meeting.room_id, room_name=room.name if room else meeting.room_id,
        status=meeting.status, start=meeting.scheduled_start, end=meeting.scheduled_end, location=meeting.location,
        chair=_person(await session.get(Account, meeting.chair_id), meeting.chair_id),
        secretary=_person(await session.get(Account, meeting.secretary_id), meeting.secretary_id),
        points=(await meeting_info(session, meeting_id)).points,
        delegates=[Delegate(_person(a, a.id), p.point_id, p.invited, p.present) for p, a in rows],
        members_total=control.members_total if control else None,
        agenda=(await agenda.snapshot(session, meeting_id))["items"],
        cancel_reason=meeting.cancel_reason, ical_uid=meeting.ical_uid, ical_sequence=meeting.ical_sequence,
        opened_at=meeting.opened_at, closed_at=meeting.closed_at,
    )


async def may_read(session: AsyncSession, meeting_id: int, principal: Principal, read_any: bool) -> bool:
    """Administrators and secretaries read every meeting; others the meetings they take part in."""
    if read_any:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise MeetingError("not_found", f"no meeting has id {meeting_id}")
        return True
    return await attendance_role(session, meeting_id, principal) is not None
