"""Attendance: head-count per bridge point, presence of browser participants, live quorum.

Members of the meeting (those who vote by default) are the chair and the invited
participants, except accounts whose role is observer, operator or admin. Present members
= the head-counts reported by the points (members in each room) + members joined from their
own browser: those with no seat at a point, and those seated at a point that has reported no
head-count yet (once it has, they count in it, never twice). Quorum: at least two thirds of
the total members.
"""
from __future__ import annotations

import math
from typing import Any, Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.control_common import Caller, allow, get_meeting
from meetings.control_models import MeetingControl
from meetings.meetings_service import MeetingError
from meetings.models import Account, BridgePoint, MeetingPoint, Participant, utcnow

NON_MEMBER_ROLES = ("observer", "operator", "admin")
MAX_HEADCOUNT = 10_000


async def default_members(session: AsyncSession, meeting_id: int) -> dict[int, tuple[str | None, str]]:
    """account id -> (point id, name) of the meeting's members."""
    meeting = await get_meeting(session, meeting_id)
    rows = await session.execute(
        select(Participant.account_id, Participant.point_id, Account.display_name, Account.role)
        .join(Account, Account.id == Participant.account_id)
        .where(Participant.meeting_id == meeting_id, Participant.invited.is_(True))
        .order_by(Participant.account_id)
    )
    members = {a: (p, n) for a, p, n, role in rows if role not in NON_MEMBER_ROLES}
    if meeting.chair_id not in members:
        chair = await session.get(Account, meeting.chair_id)
        members[meeting.chair_id] = (None, chair.display_name if chair else "")
    if meeting.secretary_id != meeting.chair_id:
        members.pop(meeting.secretary_id, None)  # the secretary keeps the record, does not vote
    return members


async def members_total(session: AsyncSession, meeting_id: int) -> int | None:
    """The configured total of members, or None when it defaults to the invited members."""
    row = await session.get(MeetingControl, meeting_id)
    return row.members_total if row else None


async def set_members_total(session: AsyncSession, caller: Caller, meeting_id: int, total: int | None) -> None:
    allow(caller, "meeting_configure")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    if total is not None and not 1 <= total <= MAX_HEADCOUNT:
        raise MeetingError("bad_request", f"members_total: between 1 and {MAX_HEADCOUNT}")
    row = await session.get(MeetingControl, meeting_id)
    if row is None:
        row = MeetingControl(meeting_id=meeting_id)
        session.add(row)
    row.members_total = total
    await audit.append(session, meeting_id, caller.actor, "meeting_configure", members_total=total)


async def report_headcount(session: AsyncSession, caller: Caller, meeting_id: int, headcount: int) -> None:
    allow(caller, "headcount_report")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    if not 0 <= headcount <= MAX_HEADCOUNT:
        raise MeetingError("bad_request", f"headcount: between 0 and {MAX_HEADCOUNT}")
    row = await session.get(MeetingPoint, (meeting_id, caller.point_id))
    if row is None:
        raise MeetingError("forbidden", "this point is not invited to the meeting")
    row.headcount, row.headcount_reported_at = headcount, utcnow()
    await audit.append(session, meeting_id, caller.actor, "headcount_report", point_id=caller.point_id, headcount=headcount)


async def snapshot(session: AsyncSession, meeting_id: int, connected_keys: Collection[str] = ()) -> dict[str, Any]:
    """Attendance now; `connected_keys` are the principal keys connected to the meeting (roster)."""
    members = await default_members(session, meeting_id)
    total = (await members_total(session, meeting_id)) or len(members)
    points = (
        await session.execute(
            select(MeetingPoint, BridgePoint.name, BridgePoint.role)
            .join(BridgePoint, BridgePoint.id == MeetingPoint.point_id)
            .where(MeetingPoint.meeting_id == meeting_id)
            .order_by(BridgePoint.role.desc(), BridgePoint.id)
        )
    ).all()
    counted_by_room = {mp.point_id for mp, _, _ in points if mp.headcount is not None}
    browser_present = sum(1 for a, (p, _) in members.items()
                          if p not in counted_by_room and f"account:{a}" in connected_keys)
    in_rooms = sum(mp.headcount or 0 for mp, _, _ in points)
    present = min(total, in_rooms + browser_present)
    required = math.ceil(2 * total / 3)
    return {
        "meeting_id": meeting_id,
        "points": [
            {
                "id": mp.point_id, "name": name, "role": role, "headcount": mp.headcount,
                "connected": f"point:{mp.point_id}" in connected_keys or mp.connected,
                "reported_at": mp.headcount_reported_at.isoformat() if mp.headcount_reported_at else None,
            }
            for mp, name, role in points
        ],
        "browser_present": browser_present,
        "members_total": total,
        "present_members": present,
        "quorum_required": required,
        "quorum_met": present >= required,
    }
