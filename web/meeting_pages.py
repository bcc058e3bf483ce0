"""Pages of meeting administration: the home page by role, the meeting form (new, edit, copy),
cancellation, and a meeting's details, which become its record once it has closed.

    GET  /home                         meetings of the caller: today's and upcoming, then past (paged)
    GET  /meetings/new[?copy=ID]       the form (secretaries, administrators); POST creates
    GET  /meetings/{id}/edit           the form filled in; POST saves (scheduled meetings only)
    POST /meetings/{id}/cancel         with a reason
    GET  /meetings/{id}/info           details; after the meeting: agenda, documents, attendance, votes
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select

from meetings import agenda, listing, scheduling
from meetings.accounts import Principal
from meetings.control_common import Caller
from meetings.localtime import format_datetime
from meetings.meeting_details import details, may_read
from meetings.meetings_service import MeetingError
from meetings.minutes.record import load_record
from meetings.models import Account, BridgePoint, MeetingRoom, MeetingRoomPoint, utcnow
from meetings.scheduling import FieldProblem, InvalidMeeting, MeetingDraft
from web import meeting_actions
from web.admin_texts import TEXTS as ADMIN_TEXTS
from web.auth import PRINCIPAL, requires
from web.control.documents import NotPdf, check_pdf, safe_filename, store_pdf
from web.error_texts import error_message, field_message
from web.i18n import request_language
from web.meeting_form import ParsedForm, empty_draft, form_values, parse
from web.path_ids import parse_id, path_id_or_404
from web.pages import render
from web.permissions import allowed
from web.state import app_state

DONE_MESSAGES = ("scheduled_ok", "saved", "cancelled_ok")
HOME_DONE_MESSAGES = ("password_changed",)


def texts(request: web.Request) -> dict[str, str]:
    return ADMIN_TEXTS[request_language(request)]


def say(request: web.Request, key: str, **params: Any) -> str:
    return texts(request)[key].format(**params)


def _meeting_id(request: web.Request) -> int:
    return path_id_or_404(request, "meeting_id")


# ------------------------------------------------------------------ home

@requires("session.home")
async def home(request: web.Request) -> web.StreamResponse:
    principal: Principal = request[PRINCIPAL]
    if principal.kind == "point":
        raise web.HTTPSeeOther("/point")
    page = parse_id(request.query.get("page", "1")) or 1  # digits only, and within what the database takes
    lang = request_language(request)
    async with app_state(request).sessions() as session:
        found = await listing.home_meetings(
            session, principal.account_id or 0, allowed(principal.role, "meeting.read_any"), utcnow(), page,
        )

    def row(item: listing.MeetingSummary) -> dict[str, Any]:
        return {
            "id": item.id, "title": item.title, "room": item.room_name, "status": item.status,
            "start_text": format_datetime(item.start, lang), "location": item.location,
            "cancel_reason": item.cancel_reason, "joinable": item.joinable,
        }

    return render(
        request, "home", a=texts(request), upcoming=[row(i) for i in found.upcoming], past=[row(i) for i in found.past],
        page=found.page, pages=found.pages, can_schedule=allowed(principal.role, "meeting.create"),
        is_admin=allowed(principal.role, "account.create"),
        done=texts(request)[done] if (done := request.query.get("done", "")) in HOME_DONE_MESSAGES else "",
    )


# ------------------------------------------------------------------ the form

async def _choices(request: web.Request) -> dict[str, Any]:
    async with app_state(request).sessions() as session:
        rooms = (await session.execute(select(MeetingRoom).where(MeetingRoom.active.is_(True)).order_by(MeetingRoom.name))).scalars().all()
        members = (await session.execute(select(MeetingRoomPoint).order_by(MeetingRoomPoint.point_id))).scalars().all()
        points = (await session.execute(
            select(BridgePoint).where(BridgePoint.active.is_(True)).order_by(BridgePoint.role.desc(), BridgePoint.name)
        )).scalars().all()
        accounts = (await session.execute(
            select(Account).where(Account.disabled.is_(False)).order_by(Account.display_name)
        )).scalars().all()
    room_points = {r.id: [m.point_id for m in members if m.room_id == r.id] for r in rooms}
    return {
        "rooms": [{"id": r.id, "name": r.name, "points": " ".join(room_points[r.id])} for r in rooms],
        "room_points": room_points,
        "points": [{"id": p.id, "name": p.name} for p in points],
        "accounts": [
            {"id": a.id, "name": a.display_name, "position": a.position, "role": a.role}
            for a in accounts if a.role not in ("operator",)
        ],
    }


def _errors(request: web.Request, problems: list[FieldProblem]) -> dict[str, str]:
    lang = request_language(request)
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(problem.field, field_message(lang, problem.code, problem.params))
    return errors


async def _form_page(
    request: web.Request, draft: MeetingDraft, *, action: str, heading: str, problems: list[FieldProblem] = (),  # type: ignore[assignment]
    notice: str = "", documents: dict[int, list[dict[str, Any]]] | None = None, status: int = 200,
) -> web.Response:
    choices = await _choices(request)
    return render(
        request, "meeting_form", status=status, a=texts(request), action=action, heading=heading, notice=notice,
        values=form_values(draft, choices["room_points"]), errors=_errors(request, list(problems)),
        documents=documents or {}, mail_configured=meeting_actions.mail_configured(request.app), **choices,
    )


@requires("meeting.create")
async def new_meeting(request: web.Request) -> web.StreamResponse:
    principal = request[PRINCIPAL]
    draft, notice = empty_draft(int(principal.id) if principal.role == "secretary" else None), ""
    source = request.query.get("copy", "")
    if source.isdigit():
        async with app_state(request).sessions() as session:
            if not await may_read(session, int(source), request[PRINCIPAL], True):
                raise web.HTTPNotFound()
            draft = await scheduling.copy_draft(session, int(source), utcnow())
        notice = say(request, "copy_of", title=draft.title)
    return await _form_page(request, draft, action="/meetings/new", heading=texts(request)["new_meeting"], notice=notice)


async def _problems(request: web.Request, parsed: ParsedForm, meeting_id: int | None) -> list[FieldProblem]:
    """The form's own problems (dates, numbers, files) and the domain's, all at once."""
    from meetings.models import Meeting

    async with app_state(request).sessions() as session:
        existing = await session.get(Meeting, meeting_id) if meeting_id is not None else None
        domain = await scheduling.validate(session, scheduling.normalised(parsed.draft), utcnow(), existing)
    named = {p.field for p in parsed.problems}
    problems = parsed.problems + [p for p in domain if p.field not in named]
    for index, upload in list(parsed.files.items()):
        try:  # pyHanko reads it: a file that only starts with %PDF- is refused too
            await asyncio.get_running_loop().run_in_executor(None, check_pdf, upload.data)
        except NotPdf:
            problems.append(FieldProblem(f"agenda.{index}.file", "not_pdf", {"filename": upload.filename}))
    return problems


async def _attach_files(request: web.Request, meeting_id: int, parsed: ParsedForm) -> None:
    if not parsed.files:
        return
    principal: Principal = request[PRINCIPAL]
    caller = Caller(f"account:{principal.id}", principal.name, "secretary", principal.account_id)
    state = app_state(request)
    async with state.sessions() as session:
        items = (await scheduling.draft_of(session, meeting_id)).agenda
        for index, upload in parsed.files.items():
            digest = await store_pdf(state, upload.data)
            await agenda.add_document(
                session, caller, meeting_id, items[index].id or 0, safe_filename(upload.filename), digest, len(upload.data),
            )
        await session.commit()


@requires("meeting.create")
async def create_meeting(request: web.Request) -> web.StreamResponse:
    parsed = parse(await request.post())
    problems = await _problems(request, parsed, None)
    if problems:
        return await _form_page(request, parsed.draft, action="/meetings/new", heading=texts(request)["new_meeting"],
                                problems=problems, status=422)
    meeting_id = await meeting_actions.schedule(request, request[PRINCIPAL], parsed.draft)
    await _attach_files(request, meeting_id, parsed)
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}/info?done=scheduled_ok")


async def _documents_by_item(request: web.Request, meeting_id: int) -> dict[int, list[dict[str, Any]]]:
    async with app_state(request).sessions() as session:
        return {item["id"]: item["documents"] for item in (await agenda.snapshot(session, meeting_id))["items"]}


@requires("meeting.edit")
async def edit_meeting(request: web.Request) -> web.StreamResponse:
    meeting_id = _meeting_id(request)
    async with app_state(request).sessions() as session:
        try:
            draft = await scheduling.draft_of(session, meeting_id)
        except MeetingError:
            raise web.HTTPNotFound() from None
    return await _form_page(
        request, draft, action=f"/meetings/{meeting_id}/edit", heading=texts(request)["edit_meeting"],
        documents=await _documents_by_item(request, meeting_id),
    )


@requires("meeting.edit")
async def save_meeting(request: web.Request) -> web.StreamResponse:
    meeting_id = _meeting_id(request)
    parsed = parse(await request.post())
    try:
        problems = await _problems(request, parsed, meeting_id)
        if not problems:
            await meeting_actions.update(request, request[PRINCIPAL], meeting_id, parsed.draft)
    except InvalidMeeting as error:
        problems = error.problems
    except MeetingError as error:
        if error.code == "not_found":
            raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther(f"/meetings/{meeting_id}/info?error={error.code}") from None
    if problems:
        return await _form_page(
            request, parsed.draft, action=f"/meetings/{meeting_id}/edit", heading=texts(request)["edit_meeting"],
            problems=problems, documents=await _documents_by_item(request, meeting_id), status=422,
        )
    await _attach_files(request, meeting_id, parsed)
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}/info?done=saved")


@requires("meeting.cancel")
async def cancel_meeting(request: web.Request) -> web.StreamResponse:
    meeting_id = _meeting_id(request)
    reason = (await request.post()).get("reason", "")
    try:
        await meeting_actions.cancel(request, request[PRINCIPAL], meeting_id, reason if isinstance(reason, str) else "")
    except InvalidMeeting as error:
        return await info_page(request, cancel_errors=_errors(request, error.problems), status=422)
    except MeetingError as error:
        if error.code == "not_found":
            raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther(f"/meetings/{meeting_id}/info?error={error.code}") from None
    raise web.HTTPSeeOther(f"/meetings/{meeting_id}/info?done=cancelled_ok")


# ------------------------------------------------------------------ details and record

def _vote_rows(votes: list[Any]) -> list[dict[str, Any]]:
    return [{"title": v.title, **{k: v.result.get(k) for k in ("yes", "no", "abstain", "total_members", "passed")}} for v in votes]


@requires("meeting.read")
async def info_page(request: web.Request, cancel_errors: dict[str, str] | None = None, status: int = 200) -> web.StreamResponse:
    principal: Principal = request[PRINCIPAL]
    if principal.kind == "point":
        raise web.HTTPSeeOther("/point")
    meeting_id = _meeting_id(request)
    lang = request_language(request)
    async with app_state(request).sessions() as session:
        try:
            if not await may_read(session, meeting_id, principal, allowed(principal.role, "meeting.read_any")):
                raise web.HTTPNotFound()
            meeting = await details(session, meeting_id)
            record = await load_record(session, meeting_id) if meeting.status == "closed" else None
        except MeetingError:
            raise web.HTTPNotFound() from None
    scheduler = allowed(principal.role, "meeting.edit")
    outbox = await meeting_actions.invitation_status(request, meeting_id) if scheduler else None
    done = request.query.get("done", "")
    error = request.query.get("error", "")
    points = {p.id: p.name for p in meeting.points}
    return render(
        request, "meeting_info", status=status, a=texts(request), meeting=meeting, points=points,
        start_text=format_datetime(meeting.start, lang), end_text=format_datetime(meeting.end, lang) if meeting.end else "",
        opened_text=format_datetime(meeting.opened_at, lang) if meeting.opened_at else "",
        closed_text=format_datetime(meeting.closed_at, lang) if meeting.closed_at else "",
        joinable=listing.joinable(meeting.status, meeting.start, utcnow()), scheduler=scheduler, outbox=outbox,
        mail_configured=meeting_actions.mail_configured(request.app),
        done=texts(request)[done] if done in DONE_MESSAGES else "",
        error=error_message(lang, error, {"title": meeting.title, "status": meeting.status}) if error else "",
        cancel_errors=cancel_errors or {}, record=record,
        record_votes=_vote_rows([v for item in record.items for v in item.votes] + record.votes_outside_items) if record else [],
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/home", home)
    app.router.add_get("/meetings/new", new_meeting)
    app.router.add_post("/meetings/new", create_meeting)
    app.router.add_get(r"/meetings/{meeting_id:\d+}/edit", edit_meeting)
    app.router.add_post(r"/meetings/{meeting_id:\d+}/edit", save_meeting)
    app.router.add_post(r"/meetings/{meeting_id:\d+}/cancel", cancel_meeting)
    app.router.add_get(r"/meetings/{meeting_id:\d+}/info", info_page)
