"""The transcript page of a meeting, its JSON API, corrections and exports (WebVTT, text, JSON).

Everyone invited to a meeting may read its transcript; only the meeting's secretary corrects.
A live transcript page watches the meeting's `transcript:<id>` Socket.IO room (event
`transcript_watch`), so reading the transcript does not count as attending the meeting.
"""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Awaitable, Callable

import socketio
from aiohttp import web

from meetings import agenda, transcript
from meetings.accounts import Principal
from meetings.control_common import Caller
from meetings.meetings_service import MeetingError, attendance_role
from meetings.models import Meeting
from web.api.errors import ApiError, error_response
from web.api.models import ErrorOut
from web.auth import PASSWORD_CHANGE_PATHS, PRINCIPAL, principal_of, requires
from web.captions import exports
from web.captions.texts import TEXTS
from web.events import EventError, ok, on_event, principal_of_sid, validate
from web.payloads import InMeeting
from web.i18n import request_language
from web.path_ids import path_id, path_id_or_404
from web.pages import render
from web.state import AppState, app_state
from meetings.localtime import local

_STATUS = {"bad_request": 400, "forbidden": 403, "not_found": 404, "conflict": 409}
MAX_BODY = 64 * 1024
CAPTIONS_KEY: web.AppKey[Any] = web.AppKey("hoinghi_captions", object)  # the CaptionHub


def transcript_room(meeting_id: int) -> str:
    return f"transcript:{meeting_id}"


def _error(error: MeetingError) -> web.Response:
    """The REST API's error format (ErrorOut), with the domain's own detailed message."""
    body = ErrorOut(error=error.code, message=str(error))
    return web.Response(text=body.model_dump_json(), status=_STATUS.get(error.code, 400), content_type="application/json")


def _api(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A JSON route: not logged in, not invited or no such meeting answer in the REST API's
    error format (as documented in /api/openapi.json, web/captions/api_doc.py), not as pages."""
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        principal = await principal_of(request)
        if principal is None:
            return error_response(request, ApiError(401, "login_required", "log in first: POST /login"))
        if principal.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
            return error_response(request, ApiError(403, "must_change_password", "change your password first"))
        request[PRINCIPAL] = principal
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return error_response(request, ApiError(404, "not_found", "no such meeting"))
        except web.HTTPForbidden:
            return error_response(request, ApiError(403, "forbidden", "not invited to this meeting"))

    return wrapper


def _meeting_id(request: web.Request) -> int:
    return path_id_or_404(request, "meeting_id")


async def _caller(state: AppState, meeting_id: int, principal: Principal) -> tuple[Meeting, Caller]:
    """The meeting and who asks, in their capacity there; 404 / 403 for others."""
    async with state.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise web.HTTPNotFound()
        capacity = await attendance_role(session, meeting_id, principal)
    if capacity is None:
        raise web.HTTPForbidden()
    caller = Caller(f"{principal.kind}:{principal.id}", principal.name, capacity, principal.account_id,
                    principal.id if principal.kind == "point" else None)
    return meeting, caller


async def _load(state: AppState, meeting_id: int, query: str = "") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    async with state.sessions() as session:
        rows = await transcript.search(session, meeting_id, query) if query else await transcript.segments(session, meeting_id)
        items = await agenda.snapshot(session, meeting_id)
    return rows, items


@requires("meeting.transcript")
async def transcript_page(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    meeting_id = _meeting_id(request)
    meeting, caller = await _caller(state, meeting_id, request[PRINCIPAL])
    lang = request_language(request)
    query = request.query.get("q", "").strip()
    try:
        rows, items = await _load(state, meeting_id, query)
    except MeetingError as error:
        rows, items, query = [], await _agenda(state, meeting_id), ""
        request["search_error"] = str(error)
    captions = request.app[CAPTIONS_KEY]
    titles = exports.item_titles(items, lang)
    groups = [
        {"item_id": item_id, "title": titles[item_id],
         "segments": [dict(s, shown=exports.segment_text(s, lang),
                           clock=f"{local(datetime.fromisoformat(s['started_at'])):%H:%M:%S}") for s in segments]}
        for item_id, segments in exports.grouped(rows, items)
    ]
    return render(
        request, "transcript", title=meeting.title, meeting_id=meeting_id, groups=groups, query=query,
        result_count=len(rows), c=TEXTS[lang], can_correct=caller.capacity == "secretary",
        off_reason=captions.off_reason, live=meeting.status == "open",
        speakers=await _speakers(state, meeting_id),
    )


async def _agenda(state: AppState, meeting_id: int) -> dict[str, Any]:
    async with state.sessions() as session:
        return await agenda.snapshot(session, meeting_id)


async def _speakers(state: AppState, meeting_id: int) -> list[dict[str, Any]]:
    """The invited accounts, for the secretary's speaker correction."""
    from sqlalchemy import select

    from meetings.models import Account, Participant

    async with state.sessions() as session:
        rows = await session.execute(
            select(Account.id, Account.display_name).join(Participant, Participant.account_id == Account.id)
            .where(Participant.meeting_id == meeting_id).order_by(Account.display_name)
        )
        return [{"id": r[0], "name": r[1]} for r in rows]


@_api
@requires("meeting.transcript")
async def transcript_json(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    meeting_id = _meeting_id(request)
    await _caller(state, meeting_id, request[PRINCIPAL])
    item = request.query.get("item")
    try:
        if item is not None:
            async with state.sessions() as session:
                rows = await transcript.segments(session, meeting_id, item_id=None if item == "none" else int(item))
        else:
            rows, _ = await _load(state, meeting_id, request.query.get("q", "").strip())
    except ValueError:
        return _error(MeetingError("bad_request", "item: an agenda item id or 'none'"))
    except MeetingError as error:
        return _error(error)
    return web.json_response({"ok": True, "segments": rows}, headers={"Cache-Control": "no-store"})


@_api
@requires("meeting.transcript")
async def correct_segment(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    meeting_id = _meeting_id(request)
    _, caller = await _caller(state, meeting_id, request[PRINCIPAL])
    try:
        segment_id = path_id(request, "segment_id")
        if segment_id is None:
            raise ValueError("segment id")
        body = await request.json() if request.content_length and request.content_length <= MAX_BODY else None
    except ValueError:
        return _error(MeetingError("bad_request", "expected a JSON object and a numeric segment id"))
    if not isinstance(body, dict):
        return _error(MeetingError("bad_request", f"expected a JSON object of at most {MAX_BODY} bytes"))
    text, account_id, name = body.get("text"), body.get("speaker_account_id"), body.get("speaker_name")
    if text is not None and not isinstance(text, str) or name is not None and not isinstance(name, str):
        return _error(MeetingError("bad_request", "text and speaker_name: strings"))
    if account_id is not None and (not isinstance(account_id, int) or isinstance(account_id, bool)):
        return _error(MeetingError("bad_request", "speaker_account_id: an account id"))
    try:
        async with state.sessions() as session:
            speaker = None
            if account_id is not None:
                speaker = await transcript.attribute(session, meeting_id, f"account:{account_id}")
            elif name is not None:
                speaker = transcript.Speaker(name)
            segment = await transcript.correct(session, caller, meeting_id, segment_id, text=text, speaker=speaker)
            await session.commit()
    except MeetingError as error:
        return _error(error)
    data = {"meeting_id": meeting_id, "segment": segment}
    await state.sio.emit("transcript_corrected", data, room=[f"meeting:{meeting_id}", transcript_room(meeting_id)])
    return web.json_response({"ok": True, "segment": segment})


@_api
@requires("meeting.transcript")
async def export(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    meeting_id = _meeting_id(request)
    meeting, _ = await _caller(state, meeting_id, request[PRINCIPAL])
    rows, items = await _load(state, meeting_id)
    fmt = request.match_info["format"]
    lang = request_language(request)
    name = f"bien-ban-loi-noi-{meeting_id}"
    if fmt == "vtt":
        body, content_type = exports.webvtt(rows), "text/vtt"
    elif fmt == "txt":
        body, content_type = exports.plain_text(meeting.title, rows, items, lang), "text/plain"
    else:
        info = {"id": meeting.id, "title": meeting.title, "opened_at": meeting.opened_at.isoformat() if meeting.opened_at else None}
        body, content_type = exports.as_json(info, rows, items), "application/json"
    return web.Response(text=body, content_type=content_type, charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@_api
@requires("transcription.status")
async def status(request: web.Request) -> web.StreamResponse:
    """Whether transcription runs; the pages show `off_reason` to the secretary."""
    captions = request.app[CAPTIONS_KEY]
    return web.json_response({"enabled": captions.off_reason is None, "off_reason": captions.off_reason},
                             headers={"Cache-Control": "no-store"})


def register_watch_event(state: AppState) -> None:
    sio: socketio.AsyncServer = state.sio

    @on_event(state, "transcript_watch")
    async def transcript_watch(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        meeting_id = validate(InMeeting, payload).meeting_id
        principal = await principal_of_sid(sio, sid)
        async with state.sessions() as session:
            capacity = await attendance_role(session, meeting_id, principal)
        if capacity is None:
            raise EventError("forbidden", "not invited to this meeting")
        await sio.enter_room(sid, transcript_room(meeting_id))
        return ok()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/meetings/{meeting_id}/transcript", transcript_page)
    app.router.add_get("/api/meetings/{meeting_id}/transcript", transcript_json)
    app.router.add_post("/api/meetings/{meeting_id}/transcript/{segment_id}", correct_segment)
    app.router.add_get(r"/api/meetings/{meeting_id}/transcript.{format:vtt|txt|json}", export)
    app.router.add_get("/api/transcription", status)
