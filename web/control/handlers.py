"""Socket.IO events of the control plane (docs/protocol.md, "Meeting control").

Every handler: validate the payload → find the sender's capacity in the meeting it joined →
call a `meetings` service under the meeting's lock, which checks the role and commits →
ack → broadcast the new state to the meeting's room (after the ack, in commit order).
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from meetings import agenda, attendance, audit, moderation, speaking, voting
from meetings.control_common import Caller
from meetings.models import Meeting
from web.control import payloads as m
from web.control.hub import ControlHub
from web.events import Ack, EventError, ok, on_event, validate
from web.membership import leave_current_meeting
from web.permissions import CONTROL_EVENTS, capacity_allows

_background: set[asyncio.Task[Any]] = set()
P = TypeVar("P", bound=m.ControlPayload)


def later(coro: Awaitable[Any]) -> None:
    """Run a broadcast after the ack has been sent (tasks run in the order they were created)."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def meeting_state(session: AsyncSession, meeting_id: int) -> dict[str, Any]:
    meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    return {"meeting_id": meeting_id, "status": meeting.status, "locked": meeting.locked}


def register_events(hub: ControlHub) -> None:
    sio = hub.state.sio
    sessions = hub.state.sessions

    def on(name: str) -> Callable[[Callable[[str, dict[str, Any]], Awaitable[Ack]]], Any]:
        return on_event(hub.state, name)  # web/permissions.py's rule is checked before the handler

    async def enter(sid: str, payload: dict[str, Any], model: type[P]) -> tuple[P, int, Caller]:
        """The payload as `model` (else `bad_request`), the meeting joined and who is in it."""
        parsed = validate(model, payload)
        meeting_id, caller = await hub.caller(sid)
        parsed.check_meeting(meeting_id)
        return parsed, meeting_id, caller

    # Each broadcast reads its state under the meeting's lock, stamped with its audit `seq` (hub.snapshot).
    async def broadcast_agenda(meeting_id: int) -> None:
        await hub.emit("agenda", await hub.snapshot(meeting_id, lambda s: agenda.snapshot(s, meeting_id)), meeting_id)

    async def broadcast_speakers(meeting_id: int) -> None:
        await hub.emit("speakers", await hub.snapshot(meeting_id, lambda s: speaking.snapshot(s, meeting_id)), meeting_id)

    async def broadcast_state(meeting_id: int) -> None:
        await hub.emit("meeting_state", await hub.snapshot(meeting_id, lambda s: meeting_state(s, meeting_id)), meeting_id)

    # ------------------------------------------------------------------ snapshot

    @on("control_state")
    async def control_state(sid: str, payload: dict[str, Any]) -> Ack:
        _, meeting_id, caller = await enter(sid, payload, m.ControlPayload)
        box = hub.votes.get(meeting_id)
        if box is None:
            try:
                box = await hub.vote_box(meeting_id)
            except Exception:
                box = None
        async def everything(session: AsyncSession) -> dict[str, Any]:
            return {
                "meeting": await meeting_state(session, meeting_id),
                "agenda": await agenda.snapshot(session, meeting_id),
                "speakers": await speaking.snapshot(session, meeting_id),
                "attendance": await attendance.snapshot(session, meeting_id, hub.connected_keys(meeting_id)),
                "results": await voting.vote_results(session, meeting_id),
            }

        result = await hub.snapshot(meeting_id, everything)
        vote = None
        if box is not None:
            vote = {**box.vote.public(), "tally": box.vote.tally()}
            if caller.account_id is not None:
                vote["you_may_vote"] = caller.account_id in box.vote.eligible
                vote["you_voted"] = caller.account_id in box.vote.voted
        lobby = list(hub.lobby_of(meeting_id).values()) if capacity_allows(caller.capacity, "lobby_read") else []
        return ok(**result, vote=vote, lobby=lobby,
                  me={"key": caller.key, "name": caller.name, "capacity": caller.capacity})

    # ------------------------------------------------------------------ meeting

    async def lifecycle(sid: str, payload: dict[str, Any], action: str) -> Ack:
        _, meeting_id, caller = await enter(sid, payload, m.ControlPayload)
        ended = None
        async with hub.lock(meeting_id):
            async with sessions() as session:
                if action == "open":
                    await moderation.open_meeting(session, caller, meeting_id)
                else:
                    ended = await moderation.close_meeting(session, caller, meeting_id)
                await session.commit()
        if ended is not None:
            hub.cancel_timer(meeting_id)
            later(hub.floor(meeting_id, ended.requester, False))
        later(broadcast_state(meeting_id))
        if action == "close":
            later(broadcast_agenda(meeting_id))
            later(broadcast_speakers(meeting_id))
        return ok()

    @on("meeting_open")
    async def meeting_open(sid: str, payload: dict[str, Any]) -> Ack:
        return await lifecycle(sid, payload, "open")

    @on("meeting_close")
    async def meeting_close(sid: str, payload: dict[str, Any]) -> Ack:
        return await lifecycle(sid, payload, "close")

    @on("meeting_lock")
    async def meeting_lock(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.MeetingLock)
        async with hub.lock(meeting_id):
            async with sessions() as session:
                await moderation.set_lock(session, caller, meeting_id, p.locked)
                await session.commit()
        later(broadcast_state(meeting_id))
        return ok(locked=p.locked)

    @on("meeting_configure")
    async def meeting_configure(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.MeetingConfigure)
        async with hub.lock(meeting_id):
            async with sessions() as session:
                await attendance.set_members_total(session, caller, meeting_id, p.members_total)
                await session.commit()
        later(_send_attendance(meeting_id))
        return ok()

    async def _send_attendance(meeting_id: int) -> None:
        await hub.emit("attendance", await hub.attendance(meeting_id), meeting_id)

    # ------------------------------------------------------------------ agenda

    async def agenda_change(sid: str, payload: dict[str, Any], model: type[P],
                            act: Callable[[Any, Caller, int, P], Awaitable[Any]]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, model)
        async with hub.lock(meeting_id):
            async with sessions() as session:
                result = await act(session, caller, meeting_id, p)
                await session.commit()
        later(broadcast_agenda(meeting_id))
        return ok(**(result or {}))

    @on("agenda_add")
    async def agenda_add(sid: str, payload: dict[str, Any]) -> Ack:
        async def act(s: Any, c: Caller, meeting_id: int, p: m.AgendaAdd) -> dict[str, Any]:
            return {"item_id": await agenda.add_item(s, c, meeting_id, p.title, p.presenter, p.planned_minutes)}

        return await agenda_change(sid, payload, m.AgendaAdd, act)

    @on("agenda_update")
    async def agenda_update(sid: str, payload: dict[str, Any]) -> Ack:
        async def act(s: Any, c: Caller, meeting_id: int, p: m.AgendaUpdate) -> None:
            await agenda.update_item(s, c, meeting_id, p.item_id, title=p.title, presenter=p.presenter,
                                     planned_minutes=p.planned_minutes)

        return await agenda_change(sid, payload, m.AgendaUpdate, act)

    @on("agenda_remove")
    async def agenda_remove(sid: str, payload: dict[str, Any]) -> Ack:
        async def act(s: Any, c: Caller, meeting_id: int, p: m.AgendaItem) -> None:
            await agenda.remove_item(s, c, meeting_id, p.item_id)

        return await agenda_change(sid, payload, m.AgendaItem, act)

    @on("agenda_reorder")
    async def agenda_reorder(sid: str, payload: dict[str, Any]) -> Ack:
        async def act(s: Any, c: Caller, meeting_id: int, p: m.AgendaReorder) -> None:
            await agenda.reorder(s, c, meeting_id, p.order)

        return await agenda_change(sid, payload, m.AgendaReorder, act)

    @on("agenda_set_current")
    async def agenda_set_current(sid: str, payload: dict[str, Any]) -> Ack:
        async def act(s: Any, c: Caller, meeting_id: int, p: m.AgendaSetCurrent) -> None:
            await agenda.set_current(s, c, meeting_id, p.item_id)

        return await agenda_change(sid, payload, m.AgendaSetCurrent, act)

    # ------------------------------------------------------------------ requests to speak

    @on("speak_request")
    async def speak_request(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.SpeakRequest)
        caller = await hub.with_point(meeting_id, caller)
        async with hub.lock(meeting_id):
            async with sessions() as session:
                request_id = await speaking.request(session, caller, meeting_id, p.topic, p.on_behalf_of)
                await session.commit()
        later(broadcast_speakers(meeting_id))
        return ok(request_id=request_id)

    async def speak_change(sid: str, payload: dict[str, Any], action: str) -> Ack:
        model = {"grant": m.SpeakGrant, "end": m.SpeakEnd}.get(action, m.SpeakRequestId)
        p, meeting_id, caller = await enter(sid, payload, model)
        granted = ended = None
        async with hub.lock(meeting_id):
            async with sessions() as session:
                if isinstance(p, m.SpeakGrant):
                    granted, ended = await speaking.grant(session, caller, meeting_id, p.request_id, p.time_limit_s)
                elif isinstance(p, m.SpeakEnd):
                    ended = await speaking.end_turn(session, caller, meeting_id, p.request_id)
                elif action == "deny":
                    await speaking.deny(session, caller, meeting_id, p.request_id)
                else:
                    await speaking.withdraw(session, caller, meeting_id, p.request_id)
                await session.commit()
            if ended is not None:
                hub.cancel_timer(meeting_id)
            if granted is not None:
                hub.start_timer(meeting_id, granted)
        if ended is not None:
            later(hub.floor(meeting_id, ended.requester, False))
        if granted is not None:
            later(hub.floor(meeting_id, granted.requester, True))
        later(broadcast_speakers(meeting_id))
        return ok(deadline_ms=granted.deadline_ms) if granted else ok()

    @on("speak_withdraw")
    async def speak_withdraw(sid: str, payload: dict[str, Any]) -> Ack:
        return await speak_change(sid, payload, "withdraw")

    @on("speak_grant")
    async def speak_grant(sid: str, payload: dict[str, Any]) -> Ack:
        return await speak_change(sid, payload, "grant")

    @on("speak_deny")
    async def speak_deny(sid: str, payload: dict[str, Any]) -> Ack:
        return await speak_change(sid, payload, "deny")

    @on("speak_end")
    async def speak_end(sid: str, payload: dict[str, Any]) -> Ack:
        return await speak_change(sid, payload, "end")

    # ------------------------------------------------------------------ votes

    @on("vote_open")
    async def vote_open(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.VoteOpen)
        async with hub.lock(meeting_id):
            if meeting_id in hub.votes:
                raise EventError("conflict", "another vote is open in this meeting")
            async with sessions() as session:
                vote = await voting.open_vote(
                    session, caller, meeting_id, title=p.title, secret=p.secret, threshold=p.threshold,
                    quorum=p.quorum, voters=p.voters, hand_seats=p.hand_seats, total_members=p.total_members,
                    item_id=p.item_id, keys=hub.ballot_keys,
                )
                await session.commit()
                seq = (await audit.head(session, meeting_id)).seq
            hub.vote_opened(vote).seq = seq
        announcement = {**vote.public(), "tally": vote.tally(), "seq": seq}
        later(hub.emit("vote_opened", announcement, meeting_id))
        return ok(vote=announcement)

    @on("vote_cast")
    async def vote_cast(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.VoteCast)
        box = await hub.vote_box(meeting_id, p.vote_id)
        ballots = await box.cast(caller, p.choice)
        return ok(vote_id=p.vote_id, ballots=ballots)

    @on("vote_hands")
    async def vote_hands(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.VoteHands)
        box = await hub.vote_box(meeting_id, p.vote_id)
        async with hub.lock(meeting_id):
            if box.closing:
                raise EventError("conflict", "this vote is closing")
            async with sessions() as session:
                counts = await voting.record_hands(session, caller, box.vote, p.counts)
                await session.commit()
                box.seq = (await audit.head(session, meeting_id)).seq
            assert caller.point_id is not None
            box.vote.hands[caller.point_id] = counts
        box.schedule_tally()
        return ok(counts=counts)

    async def finish_vote(sid: str, payload: dict[str, Any], cancel: bool) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.VoteId)
        box = await hub.vote_box(meeting_id, p.vote_id)
        await box.drain()  # ballots already cast are written before the count
        try:
            async with hub.lock(meeting_id):
                async with sessions() as session:
                    result = await voting.close_vote(
                        session, caller, meeting_id, p.vote_id, cancel=cancel, keys=hub.ballot_keys)
                    await session.commit()
                    seq = (await audit.head(session, meeting_id)).seq
                hub.vote_finished(meeting_id)
                if box.vote.secret:  # counted and committed: nothing may open its ballots again
                    await asyncio.to_thread(hub.ballot_keys.erase, p.vote_id)
        except Exception:
            box.closing = False
            raise
        later(hub.emit("vote_closed", {**result, "seq": seq}, meeting_id))
        return ok(result=result)

    @on("vote_close")
    async def vote_close(sid: str, payload: dict[str, Any]) -> Ack:
        return await finish_vote(sid, payload, cancel=False)

    @on("vote_cancel")
    async def vote_cancel(sid: str, payload: dict[str, Any]) -> Ack:
        return await finish_vote(sid, payload, cancel=True)

    # ------------------------------------------------------------------ attendance

    @on("headcount_report")
    async def headcount_report(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.HeadcountReport)
        async with hub.lock(meeting_id):
            async with sessions() as session:
                await attendance.report_headcount(session, caller, meeting_id, p.headcount)
                await session.commit()
        later(_send_attendance(meeting_id))
        return ok()

    # ------------------------------------------------------------------ moderation

    def target_entries(meeting_id: int, target: str) -> list[Any]:
        return [e for e in hub.state.roster.entries(meeting_id) if e.key == target]

    @on("moderate_mute")
    async def moderate_mute(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.Moderate)
        if not target_entries(meeting_id, p.target):
            raise EventError("not_found", "nobody with that key is in the meeting")
        async with hub.lock(meeting_id):
            async with sessions() as session:
                await moderation.ask_mute(session, caller, meeting_id, p.target)
                await session.commit()
        later(hub.emit_to_key("mute_requested", {"meeting_id": meeting_id, "by": caller.name}, meeting_id, p.target))
        return ok()

    @on("moderate_remove")
    async def moderate_remove(sid: str, payload: dict[str, Any]) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.Moderate)
        entries = target_entries(meeting_id, p.target)
        if not entries:
            raise EventError("not_found", "nobody with that key is in the meeting")
        async with hub.lock(meeting_id):
            async with sessions() as session:
                await moderation.remove(session, caller, meeting_id, p.target, entries[0].role)
                await session.commit()

        async def expel() -> None:
            for entry in entries:
                await sio.emit("removed", {"meeting_id": meeting_id}, to=entry.peer_id)
                await leave_current_meeting(hub.state, entry.peer_id)

        later(expel())
        return ok()

    async def lobby_decision(sid: str, payload: dict[str, Any], admit: bool) -> Ack:
        p, meeting_id, caller = await enter(sid, payload, m.LobbyDecision)
        guest = hub.lobby_of(meeting_id).get(p.peer_id)
        if guest is None:
            raise EventError("not_found", "nobody with that peer_id is waiting in the lobby")
        async with hub.lock(meeting_id):
            async with sessions() as session:
                if admit:
                    await moderation.admit_guest(session, caller, meeting_id, guest["account_id"])
                else:
                    await moderation.reject_guest(session, caller, meeting_id, guest["account_id"])
                await session.commit()
        hub.lobby_of(meeting_id).pop(p.peer_id, None)
        later(sio.emit("lobby_admitted" if admit else "lobby_rejected", {"meeting_id": meeting_id}, to=p.peer_id))
        later(hub.send_lobby(meeting_id))
        return ok()

    @on("lobby_admit")
    async def lobby_admit(sid: str, payload: dict[str, Any]) -> Ack:
        return await lobby_decision(sid, payload, True)

    @on("lobby_reject")
    async def lobby_reject(sid: str, payload: dict[str, Any]) -> Ack:
        return await lobby_decision(sid, payload, False)


EVENTS = CONTROL_EVENTS
