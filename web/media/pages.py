"""The meeting page (`/meetings/{id}`), the bridge-point TV screen and its meeting look-up."""
from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from meetings.accounts import Principal
from meetings.minutes import service as minutes_service
from meetings.models import Meeting, MeetingPoint, utcnow
from meetings.points import acting_point
from web.auth import PRINCIPAL, requires
from web.i18n import request_language
from web.media.texts import TEXTS
from web.minutes.texts import texts as minutes_texts
from web.pages import render
from web.path_ids import path_id_or_404
from web.state import app_state

# A scheduled (not yet opened) meeting counts as the point's current one from this long before its start.
EARLY_JOIN = timedelta(hours=1)
LATE_JOIN = timedelta(hours=12)


def _media_texts(request: web.Request) -> dict[str, str]:
    """The meeting client's texts: `m` in the templates, and JSON for its script."""
    return TEXTS[request_language(request)]


@requires("meeting.join")
async def meeting_page(request: web.Request) -> web.StreamResponse:
    principal: Principal = request[PRINCIPAL]
    if principal.kind == "point":
        raise web.HTTPSeeOther("/point")
    if principal.role == "operator":
        raise web.HTTPSeeOther("/point/console")  # an operator works a room: from its console
    meeting_id = path_id_or_404(request, "meeting_id")
    async with app_state(request).sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise web.HTTPNotFound(text="no such meeting")
        title, status = meeting.title, meeting.status
        published_minutes = await minutes_service.published(session, meeting_id)
    if status == "cancelled":
        raise web.HTTPSeeOther(f"/meetings/{meeting_id}/info")  # says why, and when it would have been
    # Anyone logged in gets the page: the uninvited wait in the lobby (docs/protocol.md, join_meeting).
    return render(request, "meeting", title=title, meeting_id=meeting_id, m=_media_texts(request),
                  mt=minutes_texts(request), published_minutes=published_minutes)


async def point_screen(request: web.Request, principal: Principal) -> web.StreamResponse:
    """The TV screen of a logged-in bridge point (called by web.auth.point_page)."""
    return render(
        request, "point_screen", point_name=principal.name, point_id=principal.id,
        province=app_state(request).config.province.name, m=_media_texts(request),
    )


async def current_meeting_of_point(request: web.Request, point_id: str) -> dict[str, object] | None:
    """The meeting a point's screen should be in: an open one, else one scheduled about now."""
    now = utcnow()
    async with app_state(request).sessions() as session:
        rows = (
            await session.execute(
                select(Meeting)
                .join(MeetingPoint, MeetingPoint.meeting_id == Meeting.id)
                .where(MeetingPoint.point_id == point_id, Meeting.status != "closed")
            )
        ).scalars().all()
    open_ = sorted((m for m in rows if m.status == "open"), key=lambda m: m.opened_at or m.scheduled_start, reverse=True)
    soon = sorted(
        (m for m in rows if m.status == "scheduled" and now - LATE_JOIN <= m.scheduled_start <= now + EARLY_JOIN),
        key=lambda m: abs((m.scheduled_start - now).total_seconds()),
    )
    chosen = (open_ or soon or [None])[0]
    if chosen is None:
        return None
    return {"id": chosen.id, "title": chosen.title, "status": chosen.status, "scheduled_start": chosen.scheduled_start.isoformat()}


@requires("point.current_meeting")
async def point_meeting(request: web.Request) -> web.StreamResponse:
    principal: Principal = request[PRINCIPAL]
    async with app_state(request).sessions() as session:
        point = await acting_point(session, principal)
    if point is None:
        raise web.HTTPForbidden(text="this operator account is attached to no bridge point")
    return web.json_response({"meeting": await current_meeting_of_point(request, point.id)},
                             headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/meetings/{meeting_id:\d+}", meeting_page)
    app.router.add_get("/api/point/meeting", point_meeting)
