"""Meeting lifecycle (scheduled → open → closed) and moderation: mute requests, removal,
lock, and the lobby through which uninvited browser users are admitted."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit, speaking
from meetings.agenda import finish_current
from meetings.control_common import Caller, allow, get_meeting
from meetings.control_models import MeetingExclusion, Vote
from meetings.meetings_service import MeetingError
from meetings.models import Account, Meeting, Participant, utcnow


async def open_meeting(session: AsyncSession, caller: Caller, meeting_id: int) -> None:
    allow(caller, "meeting_open")
    meeting = await get_meeting(session, meeting_id, states=("scheduled",))
    meeting.status, meeting.opened_at = "open", utcnow()
    await audit.append(session, meeting_id, caller.actor, "meeting_open")


async def close_meeting(session: AsyncSession, caller: Caller, meeting_id: int) -> speaking.Turn | None:
    """Close the meeting; refuses while a vote is open. Returns the turn it ended, if any."""
    allow(caller, "meeting_close")
    meeting = await get_meeting(session, meeting_id, states=("open",))
    if await session.scalar(select(Vote.id).where(Vote.meeting_id == meeting_id, Vote.state == "open")):
        raise MeetingError("conflict", "close or cancel the open vote first")
    ended = await speaking.end_all(session, meeting_id, caller.actor)
    await finish_current(session, meeting_id)
    meeting.status, meeting.closed_at = "closed", utcnow()
    await audit.append(session, meeting_id, caller.actor, "meeting_close")
    return ended


async def set_lock(session: AsyncSession, caller: Caller, meeting_id: int, locked: bool) -> None:
    allow(caller, "meeting_lock")
    meeting = await get_meeting(session, meeting_id, states=("scheduled", "open"))
    if meeting.locked == locked:
        raise MeetingError("conflict", "the meeting is already " + ("locked" if locked else "unlocked"))
    meeting.locked = locked
    await audit.append(session, meeting_id, caller.actor, "meeting_lock", locked=locked)


async def is_locked(session: AsyncSession, meeting_id: int) -> bool:
    meeting = await session.get(Meeting, meeting_id)
    return bool(meeting and meeting.locked)


async def ask_mute(session: AsyncSession, caller: Caller, meeting_id: int, target: str) -> None:
    allow(caller, "moderate_mute")
    await get_meeting(session, meeting_id, states=("open",))
    await audit.append(session, meeting_id, caller.actor, "moderate_mute", target=target)


async def remove(session: AsyncSession, caller: Caller, meeting_id: int, target: str, target_capacity: str | None) -> None:
    """Remove someone for the rest of the meeting. The chair cannot be removed."""
    allow(caller, "moderate_remove")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    if target == caller.key or target_capacity == "chair":
        raise MeetingError("conflict", "the chair cannot be removed")
    if await session.get(MeetingExclusion, (meeting_id, target)) is not None:
        raise MeetingError("conflict", "already removed")
    session.add(MeetingExclusion(meeting_id=meeting_id, principal_key=target, removed_at=utcnow()))
    await audit.append(session, meeting_id, caller.actor, "moderate_remove", target=target)


async def is_excluded(session: AsyncSession, meeting_id: int, key: str) -> bool:
    return await session.get(MeetingExclusion, (meeting_id, key)) is not None


async def admit_guest(session: AsyncSession, caller: Caller, meeting_id: int, account_id: int) -> None:
    """Admit a browser user from the lobby: an uninvited participant (an observer) of this meeting."""
    allow(caller, "lobby_admit")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    account = await session.get(Account, account_id)
    if account is None:
        raise MeetingError("not_found", f"no account has id {account_id}")
    row = (
        await session.execute(
            select(Participant).where(Participant.meeting_id == meeting_id, Participant.account_id == account_id)
        )
    ).scalar_one_or_none()
    if row is None:
        session.add(Participant(meeting_id=meeting_id, account_id=account_id, invited=False))
    await audit.append(session, meeting_id, caller.actor, "lobby_admit", target=f"account:{account_id}",
                       name=account.display_name)


async def reject_guest(session: AsyncSession, caller: Caller, meeting_id: int, account_id: int) -> None:
    allow(caller, "lobby_reject")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    await audit.append(session, meeting_id, caller.actor, "lobby_reject", target=f"account:{account_id}")


async def is_admitted_guest(session: AsyncSession, meeting_id: int, account_id: int) -> bool:
    row = (
        await session.execute(
            select(Participant).where(Participant.meeting_id == meeting_id, Participant.account_id == account_id)
        )
    ).scalar_one_or_none()
    return row is not None and not row.invited
