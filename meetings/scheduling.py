"""Scheduling before the day: a secretary creates, edits, cancels or copies a meeting.

Input arrives as a `MeetingDraft` (from the web form or the REST API alike). `validate` checks
every field and returns all the problems at once, each with the field it belongs to and a code
(plus parameters) that the pages translate; nothing is written unless there is none. Every
change is appended to the meeting's audit log in the same transaction, and bumps the meeting's
iCalendar SEQUENCE so invitations already sent are replaced (meetings/invitations.py).
"""
from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.audit import Actor
from meetings.control_models import AgendaItem, MeetingControl
from meetings.localtime import next_week_after
from meetings.meetings_service import MeetingError
from meetings.models import Account, BridgePoint, Meeting, MeetingPoint, MeetingRoom, MeetingRoomPoint, Participant

MAX_TITLE = 300
MAX_LOCATION = 300
MAX_REASON = 500
MAX_AGENDA_TITLE = 500
MAX_PRESENTER = 200
MAX_AGENDA_ITEMS = 200
MAX_PLANNED_MINUTES = 24 * 60
MAX_DURATION = timedelta(hours=24)
MAX_MEMBERS = 10_000


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field: `field` names it as the form does ("title", "agenda.2.title",
    "delegates.1"), `code` says what is wrong (translated by the pages), `params` fill the text."""

    field: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


class InvalidMeeting(MeetingError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("invalid", "; ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class AgendaDraft:
    title: str
    presenter: str = ""
    planned_minutes: int | None = None
    id: int | None = None  # an existing item when editing


@dataclass(frozen=True)
class DelegateDraft:
    account_id: int
    point_id: str | None = None  # the bridge point where the delegate sits; None: own browser


@dataclass(frozen=True)
class MeetingDraft:
    title: str
    room_id: str
    start: datetime | None
    end: datetime | None
    chair_id: int | None
    secretary_id: int | None
    location: str = ""
    point_ids: tuple[str, ...] | None = None  # None: the room's default points
    delegates: tuple[DelegateDraft, ...] = ()
    members_total: int | None = None
    agenda: tuple[AgendaDraft, ...] = ()


def _text(value: str) -> str:
    return unicodedata.normalize("NFC", value or "").strip()


def _check_text(problems: list[FieldProblem], name: str, value: str, limit: int, required: bool) -> None:
    if required and not value:
        problems.append(FieldProblem(name, "required"))
    elif len(value) > limit:
        problems.append(FieldProblem(name, "too_long", {"max": limit}))
    elif any(unicodedata.category(ch) == "Cc" for ch in value):
        problems.append(FieldProblem(name, "control_characters"))


def normalised(draft: MeetingDraft) -> MeetingDraft:
    return replace(
        draft, title=_text(draft.title), location=_text(draft.location),
        agenda=tuple(replace(a, title=_text(a.title), presenter=_text(a.presenter)) for a in draft.agenda),
    )


async def _active_account(session: AsyncSession, account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    account = await session.get(Account, account_id)
    return account if account is not None and not account.disabled else None


async def validate(
    session: AsyncSession, draft: MeetingDraft, now: datetime, existing: Meeting | None = None
) -> list[FieldProblem]:
    """Every problem of the draft; [] when it can be saved. `existing`: the meeting being edited."""
    problems: list[FieldProblem] = []
    _check_text(problems, "title", draft.title, MAX_TITLE, required=True)
    _check_text(problems, "location", draft.location, MAX_LOCATION, required=False)
    room = await session.get(MeetingRoom, draft.room_id) if draft.room_id else None
    if room is None or not room.active:
        problems.append(FieldProblem("room_id", "unknown_room" if draft.room_id else "required", {"id": draft.room_id}))
    start_unchanged = existing is not None and draft.start == existing.scheduled_start
    if draft.start is None:
        problems.append(FieldProblem("start", "required"))
    elif draft.start.tzinfo is None:
        problems.append(FieldProblem("start", "no_time_zone"))
    elif draft.start <= now and not start_unchanged:
        problems.append(FieldProblem("start", "start_in_past"))
    if draft.end is None:
        problems.append(FieldProblem("end", "required"))
    elif draft.end.tzinfo is None:
        problems.append(FieldProblem("end", "no_time_zone"))
    elif draft.start is not None and draft.start.tzinfo is not None:
        if draft.end <= draft.start:
            problems.append(FieldProblem("end", "end_before_start"))
        elif draft.end - draft.start > MAX_DURATION:
            problems.append(FieldProblem("end", "too_long_meeting", {"hours": int(MAX_DURATION.total_seconds() // 3600)}))
    for name in ("chair_id", "secretary_id"):
        account_id = getattr(draft, name)
        if account_id is None:
            problems.append(FieldProblem(name, "required"))
        elif await _active_account(session, account_id) is None:
            problems.append(FieldProblem(name, "unknown_account", {"id": account_id}))
    point_ids = await _point_ids(session, draft)
    seen_points: set[str] = set()
    for n, point_id in enumerate(point_ids):
        point = await session.get(BridgePoint, point_id)
        if point is None or not point.active:
            problems.append(FieldProblem(f"points.{n}", "unknown_point", {"id": point_id}))
        elif point_id in seen_points:
            problems.append(FieldProblem(f"points.{n}", "duplicate_point", {"name": point.name}))
        seen_points.add(point_id)
    seen_delegates: set[int] = set()
    for n, delegate in enumerate(draft.delegates):
        account = await _active_account(session, delegate.account_id)
        if account is None:
            problems.append(FieldProblem(f"delegates.{n}", "unknown_account", {"id": delegate.account_id}))
        elif delegate.account_id in seen_delegates:
            problems.append(FieldProblem(f"delegates.{n}", "duplicate_delegate", {"name": account.display_name}))
        elif delegate.point_id is not None and delegate.point_id not in seen_points:
            problems.append(FieldProblem(f"delegates.{n}.point_id", "point_not_invited", {"id": delegate.point_id}))
        seen_delegates.add(delegate.account_id)
    if draft.members_total is not None and not 1 <= draft.members_total <= MAX_MEMBERS:
        problems.append(FieldProblem("members_total", "out_of_range", {"min": 1, "max": MAX_MEMBERS}))
    if len(draft.agenda) > MAX_AGENDA_ITEMS:
        problems.append(FieldProblem("agenda", "too_many", {"max": MAX_AGENDA_ITEMS}))
    known_items = await _agenda_ids(session, existing.id) if existing is not None else set()
    for n, item in enumerate(draft.agenda):
        _check_text(problems, f"agenda.{n}.title", item.title, MAX_AGENDA_TITLE, required=True)
        _check_text(problems, f"agenda.{n}.presenter", item.presenter, MAX_PRESENTER, required=False)
        if item.planned_minutes is not None and not 1 <= item.planned_minutes <= MAX_PLANNED_MINUTES:
            problems.append(FieldProblem(f"agenda.{n}.planned_minutes", "out_of_range", {"min": 1, "max": MAX_PLANNED_MINUTES}))
        if item.id is not None and item.id not in known_items:
            problems.append(FieldProblem(f"agenda.{n}", "unknown_agenda_item", {"id": item.id}))
    return problems


async def _point_ids(session: AsyncSession, draft: MeetingDraft) -> tuple[str, ...]:
    if draft.point_ids is not None:
        return draft.point_ids
    rows = await session.execute(
        select(MeetingRoomPoint.point_id).where(MeetingRoomPoint.room_id == draft.room_id).order_by(MeetingRoomPoint.point_id)
    )
    return tuple(rows.scalars())


async def _agenda_ids(session: AsyncSession, meeting_id: int) -> set[int]:
    return set((await session.execute(select(AgendaItem.id).where(AgendaItem.meeting_id == meeting_id))).scalars())


async def _checked(session: AsyncSession, draft: MeetingDraft, now: datetime, existing: Meeting | None = None) -> MeetingDraft:
    draft = normalised(draft)
    problems = await validate(session, draft, now, existing)
    if problems:
        raise InvalidMeeting(problems)
    return replace(draft, point_ids=await _point_ids(session, draft))


def _summary(draft: MeetingDraft) -> dict[str, Any]:
    """What the audit log keeps of a draft: enough to see what changed, in plain values."""
    assert draft.start is not None and draft.end is not None
    return {
        "title": draft.title, "room_id": draft.room_id, "start": draft.start.isoformat(), "end": draft.end.isoformat(),
        "location": draft.location, "chair_id": draft.chair_id, "secretary_id": draft.secretary_id,
        "points": list(draft.point_ids or ()), "delegates": [[d.account_id, d.point_id] for d in draft.delegates],
        "members_total": draft.members_total,
        "agenda": [[a.title, a.presenter, a.planned_minutes] for a in draft.agenda],
    }


async def _write_invitees(session: AsyncSession, meeting_id: int, draft: MeetingDraft) -> None:
    await session.execute(delete(MeetingPoint).where(MeetingPoint.meeting_id == meeting_id))
    await session.execute(delete(Participant).where(Participant.meeting_id == meeting_id, Participant.invited.is_(True)))
    for point_id in draft.point_ids or ():
        session.add(MeetingPoint(meeting_id=meeting_id, point_id=point_id))
    for delegate in draft.delegates:
        session.add(Participant(meeting_id=meeting_id, account_id=delegate.account_id, point_id=delegate.point_id))
    control = await session.get(MeetingControl, meeting_id)
    if control is None:
        session.add(MeetingControl(meeting_id=meeting_id, members_total=draft.members_total))
    else:
        control.members_total = draft.members_total


async def _write_agenda(session: AsyncSession, meeting_id: int, agenda: tuple[AgendaDraft, ...]) -> None:
    """Items kept by id keep their documents; items left out of the draft are removed."""
    existing = {
        item.id: item
        for item in (await session.execute(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))).scalars()
    }
    kept = {a.id for a in agenda if a.id is not None}
    for item_id, item in existing.items():
        if item_id not in kept:
            await session.delete(item)
    for position, draft in enumerate(agenda, start=1):
        item = existing.get(draft.id) if draft.id is not None else None
        if item is None:
            item = AgendaItem(meeting_id=meeting_id, state="pending")
            session.add(item)
        item.position, item.title, item.presenter, item.planned_minutes = (
            position, draft.title, draft.presenter, draft.planned_minutes,
        )


async def schedule(session: AsyncSession, actor: Actor, draft: MeetingDraft, now: datetime) -> int:
    """Create a scheduled meeting from a valid draft (InvalidMeeting otherwise); commits."""
    draft = await _checked(session, draft, now)
    meeting = Meeting(
        room_id=draft.room_id, title=draft.title, scheduled_start=draft.start, scheduled_end=draft.end,
        location=draft.location, chair_id=draft.chair_id, secretary_id=draft.secretary_id,
        ical_uid=f"{uuid.uuid4()}@hoinghi", ical_sequence=0, status="scheduled",
    )
    session.add(meeting)
    await session.flush()
    await _write_invitees(session, meeting.id, draft)
    await _write_agenda(session, meeting.id, draft.agenda)
    await audit.append(session, meeting.id, actor, "meeting_schedule", **_summary(draft))
    await session.commit()
    return meeting.id


async def _scheduled_meeting(session: AsyncSession, meeting_id: int, what: str) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError("not_found", f"no meeting has id {meeting_id}")
    if meeting.status != "scheduled":
        raise MeetingError(
            "not_scheduled", f"a meeting that is {meeting.status} cannot be {what}ed",
            {"status": meeting.status, "title": meeting.title},
        )
    return meeting


async def update(session: AsyncSession, actor: Actor, meeting_id: int, draft: MeetingDraft, now: datetime) -> None:
    """Replace a scheduled meeting's details, invitees and agenda; the invitation SEQUENCE grows."""
    meeting = await _scheduled_meeting(session, meeting_id, "edit")
    draft = await _checked(session, draft, now, existing=meeting)
    meeting.title, meeting.room_id, meeting.location = draft.title, draft.room_id, draft.location
    meeting.scheduled_start, meeting.scheduled_end = draft.start, draft.end  # type: ignore[assignment]
    meeting.chair_id, meeting.secretary_id = draft.chair_id, draft.secretary_id  # type: ignore[assignment]
    meeting.ical_sequence += 1
    await _write_invitees(session, meeting_id, draft)
    await _write_agenda(session, meeting_id, draft.agenda)
    await audit.append(session, meeting_id, actor, "meeting_update", sequence=meeting.ical_sequence, **_summary(draft))
    await session.commit()


async def cancel(session: AsyncSession, actor: Actor, meeting_id: int, reason: str, now: datetime) -> None:
    """Cancel a meeting not yet opened, with the reason every invitee will read."""
    meeting = await _scheduled_meeting(session, meeting_id, "cancel")
    reason = _text(reason)
    problems: list[FieldProblem] = []
    _check_text(problems, "reason", reason, MAX_REASON, required=True)
    if problems:
        raise InvalidMeeting(problems)
    meeting.status, meeting.cancel_reason, meeting.cancelled_at = "cancelled", reason, now
    meeting.ical_sequence += 1
    await audit.append(session, meeting_id, actor, "meeting_cancel", reason=reason, sequence=meeting.ical_sequence)
    await session.commit()


async def draft_of(session: AsyncSession, meeting_id: int) -> MeetingDraft:
    """A meeting as a draft: what the edit form starts from."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError("not_found", f"no meeting has id {meeting_id}")
    points = (await session.execute(
        select(MeetingPoint.point_id).where(MeetingPoint.meeting_id == meeting_id).order_by(MeetingPoint.point_id)
    )).scalars()
    delegates = (await session.execute(
        select(Participant).where(Participant.meeting_id == meeting_id, Participant.invited.is_(True)).order_by(Participant.id)
    )).scalars()
    items = (await session.execute(
        select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)
    )).scalars()
    control = await session.get(MeetingControl, meeting_id)
    return MeetingDraft(
        title=meeting.title, room_id=meeting.room_id, start=meeting.scheduled_start, end=meeting.scheduled_end,
        chair_id=meeting.chair_id, secretary_id=meeting.secretary_id, location=meeting.location,
        point_ids=tuple(points), delegates=tuple(DelegateDraft(d.account_id, d.point_id) for d in delegates),
        members_total=control.members_total if control else None,
        agenda=tuple(AgendaDraft(i.title, i.presenter, i.planned_minutes, i.id) for i in items),
    )


async def copy_draft(session: AsyncSession, meeting_id: int, now: datetime) -> MeetingDraft:
    """A new meeting like an earlier one (weekly and monthly "giao ban" repeat the same list):
    same people, points and agenda (without documents), at the same weekday and time after `now`."""
    draft = await draft_of(session, meeting_id)
    assert draft.start is not None
    start = next_week_after(draft.start, now)
    end = start + (draft.end - draft.start) if draft.end is not None else None
    return replace(draft, start=start, end=end, agenda=tuple(replace(a, id=None) for a in draft.agenda))
