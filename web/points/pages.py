"""HTTP side of the bridge points: the room's console, and the outage history of a meeting.

GET /point/console                       the console (a point's session, or an operator attached to a point)
GET /api/meetings/{meeting_id}/outages   chair, secretary, admin → {ok, outages: [...]}
"""
from __future__ import annotations

from aiohttp import web

from meetings import points as point_service
from meetings.meetings_service import MeetingError, attendance_role
from meetings.points import acting_point
from web.auth import PRINCIPAL, requires
from web.pages import render
from web.path_ids import path_id
from web.permissions import capacity_allows
from web.state import app_state

def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": code, "message": message}, status=status)


@requires("meeting.outages")
async def outages(request: web.Request) -> web.StreamResponse:
    meeting_id = path_id(request, "meeting_id")
    if meeting_id is None:
        return _error(404, "not_found", "no such meeting")
    principal = request[PRINCIPAL]
    async with app_state(request).sessions() as session:
        try:
            capacity = await attendance_role(session, meeting_id, principal)
        except MeetingError as error:
            return _error(404, error.code, str(error))
        if not capacity_allows(capacity, "outages_read"):  # an administrator's capacity is admin
            return _error(403, "forbidden", "only the chair, the secretary or an administrator reads the outages")
        return web.json_response({"ok": True, "outages": await point_service.outages(session, meeting_id)})


@requires("point.console")
async def console(request: web.Request) -> web.StreamResponse:
    async with app_state(request).sessions() as session:
        point = await acting_point(session, request[PRINCIPAL])
    # an operator attached to no point still gets the page: it says what to ask the administrator
    return render(request, "point_console", point_name=point.name if point else request[PRINCIPAL].name,
                  point_id=point.id if point else "")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/point/console", console)
    app.router.add_get("/api/meetings/{meeting_id}/outages", outages)
