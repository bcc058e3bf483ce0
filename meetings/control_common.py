"""What every control-plane service shares: the caller, the permission table, meeting checks.

Capacities (who someone is *in this meeting*) come from `meetings_service.attendance_role`:
chair, secretary, delegate, point (a bridge point, i.e. its operator), admin, and observer
(a browser user admitted from the lobby). Services check permissions themselves, before
changing anything, so a refused call leaves the database untouched.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from meetings.audit import Actor
from meetings.meetings_service import MeetingError
from meetings.models import Meeting

CAPACITIES = ("chair", "secretary", "delegate", "point", "admin", "observer")

# Who may send each control action (a few add a condition, noted in docs/protocol.md).
PERMISSIONS: dict[str, frozenset[str]] = {
    "control_state": frozenset(CAPACITIES),
    "media": frozenset(CAPACITIES),  # media signalling of the meeting one joined: its tracks only
    "lobby_read": frozenset({"chair", "secretary"}),  # who waits in the lobby
    "outages_read": frozenset({"chair", "secretary", "admin"}),
    "meeting_open": frozenset({"chair", "secretary"}),
    "meeting_close": frozenset({"chair"}),
    "meeting_lock": frozenset({"chair"}),
    "meeting_configure": frozenset({"chair", "secretary"}),
    "agenda_add": frozenset({"chair", "secretary"}),
    "agenda_update": frozenset({"chair", "secretary"}),
    "agenda_remove": frozenset({"chair", "secretary"}),
    "agenda_reorder": frozenset({"chair", "secretary"}),
    "agenda_set_current": frozenset({"chair"}),
    "document_upload": frozenset({"chair", "secretary"}),
    "speak_request": frozenset({"delegate", "point"}),
    "speak_withdraw": frozenset({"delegate", "point"}),  # only one's own request
    "speak_grant": frozenset({"chair"}),
    "speak_deny": frozenset({"chair"}),
    "speak_end": frozenset({"chair", "delegate", "point"}),  # delegates and points: their own turn
    "vote_open": frozenset({"chair"}),
    "vote_cast": frozenset({"chair", "secretary", "delegate"}),  # and only if eligible for that vote
    "vote_hands": frozenset({"point"}),  # and only for a point given seats in that vote
    "vote_close": frozenset({"chair"}),
    "vote_cancel": frozenset({"chair"}),
    "headcount_report": frozenset({"point"}),
    "moderate_mute": frozenset({"chair"}),
    "moderate_remove": frozenset({"chair"}),
    "lobby_admit": frozenset({"chair", "secretary"}),
    "lobby_reject": frozenset({"chair", "secretary"}),
    "audit_read": frozenset({"chair", "secretary", "admin"}),
    "transcript_correct": frozenset({"secretary"}),
    "point_health": frozenset({"point"}),  # a point's screen or agent reports its link
    "point_command": frozenset({"point"}),  # the point's console drives its screen, and back
    "points_status": frozenset({"chair", "secretary", "admin", "point"}),  # the dashboard of points
    # the minutes (meetings/minutes/service.py); signing itself follows the meeting's own secretary and chair
    "minutes_conclusion": frozenset({"chair", "secretary"}),  # an agenda item's conclusion
    "minutes_edit": frozenset({"secretary"}),  # draft from the record, edit
    "minutes_comment": frozenset({"chair", "secretary"}),
    "minutes_send": frozenset({"secretary"}),  # freeze for signing, publish
    "minutes_read": frozenset({"chair", "secretary", "admin"}),  # drafts, versions, files being signed
    "minutes_seal": frozenset({"secretary", "admin"}),  # the agency's seal, after the chair
}


@dataclass(frozen=True)
class Caller:
    """Who sends a control action, in which capacity, from which bridge point."""

    key: str  # "account:12" or "point:ubnd-tinh"
    name: str
    capacity: str
    account_id: int | None = None
    point_id: str | None = None  # the point itself, or where a delegate sits

    @property
    def actor(self) -> Actor:
        return Actor(self.key, self.name)


def allow(caller: Caller, action: str) -> None:
    if caller.capacity not in PERMISSIONS[action]:
        raise MeetingError("forbidden", f"{action} is not allowed for {caller.capacity}")


def clean_text(value: str, field: str, max_length: int, *, required: bool = True) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise MeetingError("bad_request", f"{field}: control characters are not allowed")
    if required and not text:
        raise MeetingError("bad_request", f"{field}: must not be empty")
    if len(text) > max_length:
        raise MeetingError("bad_request", f"{field}: at most {max_length} characters")
    return text


async def get_meeting(session: AsyncSession, meeting_id: int, *, states: tuple[str, ...] | None = None) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise MeetingError("not_found", f"no meeting has id {meeting_id}")
    if states is not None and meeting.status not in states:
        raise MeetingError("conflict", f"the meeting is {meeting.status}, not {' or '.join(states)}")
    return meeting
