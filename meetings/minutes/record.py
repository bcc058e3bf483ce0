"""The meeting record the minutes are drafted from, read from the database into plain values.

Kept apart from the drafting rules (meetings.minutes.drafting) so those stay pure functions a
benchmark or a test can feed a 3-hour meeting without a database.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.attendance import default_members, members_total
from meetings.control_common import get_meeting
from meetings.control_models import AgendaItem, SpeakRequest, Vote
from meetings.minutes_models import ItemConclusion
from meetings.models import Account, BridgePoint, MeetingPoint, Participant, ProvinceRow
from meetings.transcript_models import TranscriptSegment


class Segment(Protocol):
    """A final transcript segment: which microphone (principal key), when, and the words."""

    speaker: str
    item_id: int | None
    start: datetime
    end: datetime
    text: str


@dataclass(frozen=True)
class TextSegment:
    speaker: str
    item_id: int | None
    start: datetime
    end: datetime
    text: str


@dataclass(frozen=True)
class Person:
    name: str
    position: str = ""


@dataclass(frozen=True)
class PointRecord:
    id: str
    name: str
    level: str
    role: str  # main / end
    connected: bool
    headcount: int | None


@dataclass(frozen=True)
class TurnRecord:
    """A speaking turn the chair granted (đăng ký phát biểu that reached the floor)."""

    speaker_key: str
    speaker: Person
    point_name: str
    topic: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class VoteRecord:
    title: str
    opened_at: datetime
    result: dict[str, Any]  # meetings.voting.compute_result, stored at close


@dataclass(frozen=True)
class ItemRecord:
    id: int
    title: str
    presenter: str
    start: datetime | None
    end: datetime | None
    turns: list[TurnRecord] = field(default_factory=list)
    votes: list[VoteRecord] = field(default_factory=list)
    conclusion: str = ""


@dataclass(frozen=True)
class MeetingRecord:
    meeting_id: int
    title: str
    province: str  # "Tỉnh Quảng Ninh"
    agency: str
    location: str
    scheduled_start: datetime
    start: datetime | None
    end: datetime | None
    chair: Person
    secretary: Person
    points: list[PointRecord]
    members_total: int
    present: list[Person]  # members who joined from their own browser
    absent: list[Person]
    at_points: dict[str, list[Person]]  # point id -> members seated there
    items: list[ItemRecord]
    votes_outside_items: list[VoteRecord] = field(default_factory=list)
    chair_in_person: bool = False  # the chair counts among those present, not in a room's head-count


def person(account: Account | None) -> Person:
    """Name and position as the minutes print them: "Giám đốc" + "Sở Tài chính"."""
    if account is None:
        return Person("")
    return Person(account.display_name, " ".join(x for x in (account.position, account.unit) if x))


async def load_segments(session: AsyncSession, meeting_id: int) -> list[TextSegment]:
    """The meeting's recognised speech (the secretary's corrections included), by microphone."""
    rows = await session.execute(
        select(TranscriptSegment.source, TranscriptSegment.item_id, TranscriptSegment.started_at,
               TranscriptSegment.ended_at, TranscriptSegment.text)
        .where(TranscriptSegment.meeting_id == meeting_id, TranscriptSegment.kind == "speech")
        .order_by(TranscriptSegment.started_at, TranscriptSegment.id)
    )
    return [TextSegment(*row) for row in rows]


async def load_record(session: AsyncSession, meeting_id: int) -> MeetingRecord:
    meeting = await get_meeting(session, meeting_id)
    province = (await session.execute(select(ProvinceRow))).scalars().first()
    accounts = {a.id: a for a in (await session.execute(select(Account))).scalars()}
    points = [
        PointRecord(bp.id, bp.name, bp.level, bp.role, mp.connected, mp.headcount)
        for mp, bp in (
            await session.execute(
                select(MeetingPoint, BridgePoint).join(BridgePoint, BridgePoint.id == MeetingPoint.point_id)
                .where(MeetingPoint.meeting_id == meeting_id).order_by(BridgePoint.role.desc(), BridgePoint.id)
            )
        ).all()
    ]
    point_names = {p.id: p.name for p in points}
    members = await default_members(session, meeting_id)
    joined = {
        p.account_id for p in (await session.execute(select(Participant).where(Participant.meeting_id == meeting_id))).scalars()
        if p.present or p.joined_at is not None
    }
    # as in the live attendance (meetings/attendance.py): a member seated at a point is in its
    # head-count once it has reported one; until then her own browser is what shows she came
    counted_by_room = {p.id for p in points if p.headcount is not None}
    present, absent, at_points = [], [], {}
    chair_in_person = False
    for account_id, (point_id, _name) in members.items():
        if account_id == meeting.chair_id:  # presides: present, in a room's head-count or in person
            chair_in_person = point_id not in counted_by_room
            continue
        who = person(accounts.get(account_id))
        if point_id is not None and (point_id in counted_by_room or account_id not in joined):
            at_points.setdefault(point_id, []).append(who)
        else:
            (present if account_id in joined else absent).append(who)
    items = list(
        (await session.execute(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)
        )).scalars()
    )
    conclusions = {
        c.item_id: c.text
        for c in (await session.execute(select(ItemConclusion).where(ItemConclusion.meeting_id == meeting_id))).scalars()
    }
    turns: dict[int | None, list[TurnRecord]] = {}
    for r in (await session.execute(
        select(SpeakRequest).where(SpeakRequest.meeting_id == meeting_id, SpeakRequest.granted_at.is_not(None))
        .order_by(SpeakRequest.granted_at, SpeakRequest.id)
    )).scalars():
        speaker = Person(r.speaker_name)
        if r.requester.startswith("account:"):
            account = accounts.get(int(r.requester.split(":", 1)[1]))
            speaker = Person(r.speaker_name, person(account).position) if account else speaker
        turns.setdefault(r.item_id, []).append(
            TurnRecord(r.requester, speaker, point_names.get(r.point_id or "", ""), r.topic, r.granted_at, r.ended_at)
        )
    votes: dict[int | None, list[VoteRecord]] = {}
    for v in (await session.execute(
        select(Vote).where(Vote.meeting_id == meeting_id, Vote.state == "closed").order_by(Vote.opened_at, Vote.id)
    )).scalars():
        if v.result:
            votes.setdefault(v.item_id, []).append(VoteRecord(v.title, v.opened_at, json.loads(v.result)))
    return MeetingRecord(
        meeting_id=meeting_id, title=meeting.title, province=province.name if province else "",
        agency=province.agency if province else "", location=meeting.location,
        scheduled_start=meeting.scheduled_start, start=meeting.opened_at, end=meeting.closed_at,
        chair=person(accounts.get(meeting.chair_id)), secretary=person(accounts.get(meeting.secretary_id)),
        points=points, members_total=(await members_total(session, meeting_id)) or len(members),
        present=present, absent=absent, at_points=at_points, chair_in_person=chair_in_person,
        items=[
            ItemRecord(i.id, i.title, i.presenter, i.started_at, i.ended_at, turns.get(i.id, []), votes.get(i.id, []),
                       conclusions.get(i.id, ""))
            for i in items
        ],
        votes_outside_items=votes.get(None, []),
    )


def turn_segments(turn: TurnRecord, segments: Sequence[Segment]) -> list[Segment]:
    """What the floor-holder's microphone recorded during the turn (a point's speech is the
    delegate's when the point asked for the floor: meetings/transcript.py attributes it)."""
    end = turn.end or datetime.max.replace(tzinfo=turn.start.tzinfo)
    return [s for s in segments if s.speaker == turn.speaker_key and s.end > turn.start and s.start < end]
