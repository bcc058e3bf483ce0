"""REST: bridge points, their tokens and when each was last seen (docs/api.md, "Bridge points")."""
from __future__ import annotations

from aiohttp import web

from meetings import point_admin
from meetings.accounts import Principal
from web.api import models as m
from web.api.registry import endpoint
from web.realtime import disconnect_principal
from web.state import app_state

_ID = {"point_id": str}


@endpoint("GET", "/api/points", summary="Configured bridge points (rooms.toml), tokens and last-seen times",
          tag="points", action="point.list", responses={200: m.PointsOut})
async def list_points(request: web.Request, principal: Principal, _: None) -> tuple[int, m.PointsOut]:
    async with app_state(request).sessions() as session:
        points = await point_admin.list_points(session)
    return 200, m.PointsOut(points=[
        m.PointOut(id=p.id, name=p.name, level=p.level, role=p.role, address=p.address,  # type: ignore[arg-type]
                   token_in_config=p.token_in_config, token_issued=p.token_issued, last_seen_at=p.last_seen_at)
        for p in points
    ])


@endpoint("POST", "/api/points/{point_id}/token", summary="Issue a new token for a point (shown once)", tag="points",
          action="point.token_issue", path_params=_ID, responses={201: m.PointTokenOut}, errors=(404,),
          description="Only its SHA-256 is stored. A token issued earlier stops working; rooms.toml's keeps working.")
async def issue_token(request: web.Request, principal: Principal, _: None, point_id: str) -> tuple[int, m.PointTokenOut]:
    async with app_state(request).sessions() as session:
        token = await point_admin.issue_token(session, point_id, f"{principal.kind}:{principal.id}")
    return 201, m.PointTokenOut(point_id=point_id, token=token)


@endpoint("DELETE", "/api/points/{point_id}/token", summary="Revoke every token of a point", tag="points",
          action="point.token_revoke", path_params=_ID, responses={200: m.OkOut}, errors=(404,),
          description="The issued token and rooms.toml's both stop working; the point's screen is logged out at once.")
async def revoke_token(request: web.Request, principal: Principal, _: None, point_id: str) -> tuple[int, m.OkOut]:
    state = app_state(request)
    async with state.sessions() as session:
        await point_admin.revoke_tokens(session, point_id)
    await disconnect_principal(state, "point", point_id)
    return 200, m.OkOut()
