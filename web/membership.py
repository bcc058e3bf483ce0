"""Socket.IO `join_meeting` / `leave_meeting`: admission, the meeting's room, presence.

A connection is in at most one meeting. Leaving (explicitly, by joining another meeting,
or by disconnecting) runs the leave hooks so media and other services free what they hold;
a meeting nobody is in any more keeps nothing in this process's memory.
Presence in the database follows the roster, written in the order of its changes (web.presence).
Uninvited browser users wait in the meeting's lobby (ack error `in_lobby`) until the chair or
the secretary admits them (web.control); removed principals, and uninvited ones while the
meeting is locked, are refused.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from socketio import AsyncServer

from meetings.accounts import Principal
from meetings.meetings_service import attendance_role, meeting_info, set_presence
from meetings.moderation import is_excluded, is_locked
from meetings.points import acting_point
from web.events import Ack, EventError, ok, on_event, principal_of_sid, validate
from web.payloads import JoinMeeting, NoFields
from web.permissions import capacity_allows
from web.roster import RosterEntry, meeting_room
from web.state import AppState

log = logging.getLogger("hoinghi.membership")


def principal_key(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def _present_as(entry: RosterEntry) -> Principal:
    """Whose presence a roster entry records: a person, or a point (its screen, agent or operator)."""
    kind, _, ident = entry.key.partition(":")
    return Principal(kind, ident, entry.name, "point" if kind == "point" else entry.role)




async def _sync_presence(state: AppState, meeting_id: int, entry: RosterEntry) -> None:
    """Record in the database whether entry's principal is connected, as the roster says (web.presence)."""

    async def write(present: bool) -> None:
        async with state.sessions() as session:
            await set_presence(session, meeting_id, _present_as(entry), present)

    await state.presence.sync(meeting_id, entry.key, write, state.roster)


def _require_connected(sio: AsyncServer, sid: str) -> None:
    """A client that hung up while its join was looked up in the database must not be seated
    as a ghost. Nothing awaits between this check and the seating, so its disconnect handler
    either ran before (refused here) or runs after and frees the seat."""
    if not sio.manager.is_connected(sid, "/"):
        raise EventError("conflict", "the connection closed while joining")


async def leave_current_meeting(state: AppState, sid: str) -> None:
    for meeting_id, waiting in list(state.lobby.items()):
        if waiting.pop(sid, None) is not None:
            if not waiting:
                del state.lobby[meeting_id]
            await send_lobby(state, meeting_id)
    removed = state.roster.remove(sid)
    if removed is None:
        return
    meeting_id, entry = removed
    await state.sio.leave_room(sid, meeting_room(meeting_id))
    for hook in state.leave_hooks:
        try:
            await hook(meeting_id, sid)
        except Exception:
            log.exception("leave hook failed", extra={"meeting_id": meeting_id, "sid": sid})
    await _sync_presence(state, meeting_id, entry)
    if not entry.console:
        state.roster_feed.left(meeting_id, sid, entry.key)
    if not state.roster.entries(meeting_id):  # the meeting emptied: its per-meeting state goes
        state.roster_feed.release(meeting_id)
        if not state.lobby.get(meeting_id, True):
            del state.lobby[meeting_id]


async def send_lobby(state: AppState, meeting_id: int) -> None:
    """Tell those who admit (the chair and the secretary) who is waiting in the lobby."""
    waiting = {"meeting_id": meeting_id, "waiting": list(state.lobby.get(meeting_id, {}).values())}
    for entry in state.roster.entries(meeting_id):
        if capacity_allows(entry.role, "lobby_read"):
            await state.sio.emit("lobby", waiting, to=entry.peer_id)


def register_membership_events(state: AppState) -> None:
    sio = state.sio

    @on_event(state, "join_meeting")
    async def join_meeting(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(JoinMeeting, payload)
        meeting_id, console = request.meeting_id, request.console
        principal = await principal_of_sid(sio, sid)
        key, name, kind = principal_key(principal), principal.name, principal.kind
        async with state.sessions() as session:
            role = await attendance_role(session, meeting_id, principal)
            if role == "point" and principal.kind == "account":
                point = await acting_point(session, principal)  # an operator: acts as the point
                assert point is not None
                key, name, kind = f"point:{point.id}", point.name, "point"
            info = await meeting_info(session, meeting_id)
            if info.status == "closed":
                raise EventError("conflict", "this meeting is closed")
            if await is_excluded(session, meeting_id, key):
                raise EventError("forbidden", "you were removed from this meeting")
            if role is None:
                if principal.kind != "account":
                    raise EventError("forbidden", "you are not invited to this meeting")
                if await is_locked(session, meeting_id):
                    raise EventError("forbidden", "the meeting is locked")
                await leave_current_meeting(state, sid)
                _require_connected(sio, sid)
                state.lobby.setdefault(meeting_id, {})[sid] = {
                    "peer_id": sid, "account_id": principal.account_id, "name": principal.name,
                }
                await send_lobby(state, meeting_id)
                raise EventError("in_lobby", "you are waiting in the lobby for the chair to admit you")
            if console and role != "point":
                raise EventError("bad_request", "console: only a bridge point has a console")
            entry = RosterEntry(peer_id=sid, key=key, name=name, kind=kind, role=role, console=console)
        await leave_current_meeting(state, sid)
        _require_connected(sio, sid)
        await sio.enter_room(sid, meeting_room(meeting_id))  # (does not yield: the manager is in memory)
        state.roster.add(meeting_id, entry)
        await _sync_presence(state, meeting_id, entry)
        if not console:  # a point's console is there to act for the room, not to be seen: no tile, no roster line
            state.roster_feed.joined(meeting_id, entry)
        log.info("joined meeting", extra={"meeting_id": meeting_id, "key": entry.key, "sid": sid})
        for hook in state.join_hooks:
            try:
                await hook(meeting_id, sid)
            except Exception:
                log.exception("join hook failed", extra={"meeting_id": meeting_id, "sid": sid})
        return ok(
            meeting=asdict(info), me=entry.as_dict(),
            roster=[e.as_dict() for e in state.roster.entries(meeting_id) if not e.console or e.peer_id == sid],
        )

    @on_event(state, "leave_meeting")
    async def leave_meeting(sid: str, payload: dict[str, Any]) -> Ack:
        validate(NoFields, payload)
        if state.roster.meeting_of(sid) is None:
            raise EventError("conflict", "you are not in a meeting")
        await leave_current_meeting(state, sid)
        return ok()
