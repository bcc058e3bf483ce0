"""REST: meetings with their agenda, documents and invitees (docs/api.md, "Meetings")."""
from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from sqlalchemy import select

from meetings import listing, scheduling
from meetings.accounts import Principal
from meetings.localtime import format_datetime
from meetings.meeting_details import MeetingDetails, Person, details, may_read
from meetings.models import MeetingRoom, MeetingRoomPoint, utcnow
from meetings.scheduling import AgendaDraft, DelegateDraft, MeetingDraft
from web import meeting_actions
from web.api import models as m
from web.api.errors import ApiError
from web.api.registry import endpoint
from web.i18n import request_language
from web.permissions import allowed
from web.state import app_state

_ID = {"meeting_id": int}
_EXAMPLE = {
    "title": "Giao ban UBND tỉnh tháng 12/2026",
    "room_id": "phong-hop-ubnd",
    "start": "2026-12-08T14:00:00+07:00",
    "end": "2026-12-08T16:30:00+07:00",
    "location": "Hội trường tầng 3, trụ sở UBND tỉnh",
    "chair_id": 3,
    "secretary_id": 2,
    "delegates": [{"account_id": 5, "point_id": "xa-ba-che"}, {"account_id": 6}],
    "members_total": 35,
    "agenda": [
        {"title": "Báo cáo tình hình kinh tế - xã hội tháng 11", "presenter": "Sở Kế hoạch và Đầu tư", "planned_minutes": 30},
        {"title": "Thảo luận", "planned_minutes": 60},
    ],
}


def draft_from(body: m.MeetingIn) -> MeetingDraft:
    return MeetingDraft(
        title=body.title, room_id=body.room_id, start=body.start, end=body.end, chair_id=body.chair_id,
        secretary_id=body.secretary_id, location=body.location,
        point_ids=tuple(body.point_ids) if body.point_ids is not None else None,
        delegates=tuple(DelegateDraft(d.account_id, d.point_id) for d in body.delegates),
        members_total=body.members_total,
        agenda=tuple(AgendaDraft(a.title, a.presenter, a.planned_minutes, a.id) for a in body.agenda),
    )


def _person(person: Person) -> m.PersonOut:
    return m.PersonOut(id=person.id, name=person.name, position=person.position, unit=person.unit)


async def meeting_out(request: web.Request, principal: Principal, meeting: MeetingDetails) -> m.MeetingOut:
    invitations = None
    if allowed(principal.role, "meeting.read_any"):
        outbox = await meeting_actions.invitation_status(request, meeting.id)
        invitations = m.InvitationsOut(
            mail_configured=meeting_actions.mail_configured(request.app), pending=outbox.pending, sent=outbox.sent,
            failed=outbox.failed, last_error=outbox.last_error,
        )
    return m.MeetingOut(
        id=meeting.id, title=meeting.title, room_id=meeting.room_id, room_name=meeting.room_name, status=meeting.status,
        start=meeting.start, end=meeting.end, start_text=format_datetime(meeting.start, request_language(request)),
        location=meeting.location, chair=_person(meeting.chair), secretary=_person(meeting.secretary),
        points=[m.PointRefOut(id=p.id, name=p.name, level=p.level, role=p.role) for p in meeting.points],
        delegates=[m.DelegateOut(account=_person(d.person), point_id=d.point_id) for d in meeting.delegates if d.invited],
        members_total=meeting.members_total,
        agenda=[
            m.AgendaItemOut(
                id=item["id"], position=item["position"], title=item["title"], presenter=item["presenter"],
                planned_minutes=item["planned_minutes"], state=item["state"],
                documents=[m.DocumentOut(**doc) for doc in item["documents"]],
            )
            for item in meeting.agenda
        ],
        cancel_reason=meeting.cancel_reason, ical_uid=meeting.ical_uid, ical_sequence=meeting.ical_sequence,
        invitations=invitations, page_url=f"/meetings/{meeting.id}",
    )


async def readable(request: web.Request, principal: Principal, meeting_id: int) -> MeetingDetails:
    """The meeting, if this caller may read it (404 for one they take no part in, so ids do not leak)."""
    async with app_state(request).sessions() as session:
        if not await may_read(session, meeting_id, principal, allowed(principal.role, "meeting.read_any")):
            raise ApiError(404, "not_found", f"no meeting has id {meeting_id}")
        return await details(session, meeting_id)


async def _answer(request: web.Request, principal: Principal, meeting_id: int, status: int = 200) -> tuple[int, m.MeetingResponse]:
    meeting = await readable(request, principal, meeting_id)
    return status, m.MeetingResponse(meeting=await meeting_out(request, principal, meeting))


def _summary(request: web.Request, item: listing.MeetingSummary) -> m.MeetingSummaryOut:
    return m.MeetingSummaryOut(
        id=item.id, title=item.title, room_name=item.room_name, status=item.status, start=item.start, end=item.end,
        start_text=format_datetime(item.start, request_language(request)), location=item.location,
        cancel_reason=item.cancel_reason, joinable=item.joinable, page_url=f"/meetings/{item.id}",
    )


@endpoint("GET", "/api/meetings", summary="The caller's meetings: upcoming, then past (paged)", tag="meetings",
          action="meeting.list", query=m.MeetingListQuery, responses={200: m.MeetingListOut},
          description="Administrators and secretaries see every meeting; others those they take part in.")
async def list_meetings(request: web.Request, principal: Principal, _: None, query: m.MeetingListQuery) -> tuple[int, m.MeetingListOut]:
    async with app_state(request).sessions() as session:
        found = await listing.home_meetings(
            session, principal.account_id or 0, allowed(principal.role, "meeting.read_any"), utcnow(), query.page,
        )
    return 200, m.MeetingListOut(
        upcoming=[_summary(request, i) for i in found.upcoming], past=[_summary(request, i) for i in found.past],
        page=found.page, pages=found.pages,
    )


@endpoint("POST", "/api/meetings", summary="Schedule a meeting", tag="meetings", action="meeting.create",
          body=m.MeetingIn, responses={201: m.MeetingResponse}, request_example=_EXAMPLE,
          description="Every invalid field is listed in `fields`; nothing is saved then. Invitations are queued.")
async def create_meeting(request: web.Request, principal: Principal, body: m.MeetingIn) -> tuple[int, m.MeetingResponse]:
    meeting_id = await meeting_actions.schedule(request, principal, draft_from(body))
    return await _answer(request, principal, meeting_id, 201)


@endpoint("GET", "/api/meetings/{meeting_id}", summary="One meeting with agenda, documents and invitees", tag="meetings",
          action="meeting.read", path_params=_ID, responses={200: m.MeetingResponse}, errors=(404,))
async def get_meeting(request: web.Request, principal: Principal, _: None, meeting_id: int) -> tuple[int, m.MeetingResponse]:
    return await _answer(request, principal, meeting_id)


@endpoint("PUT", "/api/meetings/{meeting_id}", summary="Replace a scheduled meeting's details, invitees and agenda",
          tag="meetings", action="meeting.edit", path_params=_ID, body=m.MeetingIn, responses={200: m.MeetingResponse},
          errors=(404, 409), request_example=_EXAMPLE,
          description="Agenda items sent with their `id` keep their documents; items left out are removed. "
                      "Refused (409 not_scheduled) once the meeting is open. An updated invitation is queued.")
async def update_meeting(
    request: web.Request, principal: Principal, body: m.MeetingIn, meeting_id: int,
) -> tuple[int, m.MeetingResponse]:
    await readable(request, principal, meeting_id)
    await meeting_actions.update(request, principal, meeting_id, draft_from(body))
    return await _answer(request, principal, meeting_id)


@endpoint("POST", "/api/meetings/{meeting_id}/cancel", summary="Cancel a scheduled meeting, with a reason",
          tag="meetings", action="meeting.cancel", path_params=_ID, body=m.CancelIn, responses={200: m.MeetingResponse},
          errors=(404, 409), request_example={"reason": "Trùng lịch họp Ban Thường vụ Tỉnh ủy"})
async def cancel_meeting(
    request: web.Request, principal: Principal, body: m.CancelIn, meeting_id: int,
) -> tuple[int, m.MeetingResponse]:
    await readable(request, principal, meeting_id)
    await meeting_actions.cancel(request, principal, meeting_id, body.reason)
    return await _answer(request, principal, meeting_id)


@endpoint("POST", "/api/meetings/{meeting_id}/copy", summary="Schedule a new meeting like an earlier one", tag="meetings",
          action="meeting.copy", path_params=_ID, body=m.CopyIn, responses={201: m.MeetingResponse}, errors=(404,),
          request_example={"start": "2026-12-15T14:00:00+07:00", "end": "2026-12-15T16:30:00+07:00"},
          description="Same title, room, people, points and agenda (without documents); by default at the "
                      "same weekday and time in the first week to come.")
async def copy_meeting(request: web.Request, principal: Principal, body: m.CopyIn, meeting_id: int) -> tuple[int, m.MeetingResponse]:
    await readable(request, principal, meeting_id)
    async with app_state(request).sessions() as session:
        draft = await scheduling.copy_draft(session, meeting_id, utcnow())
    if body.start is not None:
        assert draft.start is not None and draft.end is not None
        draft = replace(draft, start=body.start, end=body.end or body.start + (draft.end - draft.start))
    new_id = await meeting_actions.schedule(request, principal, draft)
    return await _answer(request, principal, new_id, 201)


@endpoint("GET", "/api/rooms", summary="Meeting rooms and the bridge points each invites by default", tag="meetings",
          action="meeting.create", responses={200: m.RoomsOut})
async def list_rooms(request: web.Request, principal: Principal, _: None) -> tuple[int, m.RoomsOut]:
    async with app_state(request).sessions() as session:
        rooms = (await session.execute(select(MeetingRoom).where(MeetingRoom.active.is_(True)).order_by(MeetingRoom.id))).scalars().all()
        members = (await session.execute(select(MeetingRoomPoint))).scalars().all()
    return 200, m.RoomsOut(rooms=[
        m.RoomOut(id=r.id, name=r.name, point_ids=sorted(x.point_id for x in members if x.room_id == r.id)) for r in rooms
    ])
