"""Bridge points seen by an administrator: which exist (rooms.toml stays the source), whether a
token is set, when each was last seen; issuing a token from the web and revoking it.

An issued token is shown once and only its SHA-256 is stored (table `issued_point_token`). It
works beside a `token_hash` in rooms.toml; revoking ends both, and every session of the point.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.accounts import AccountError
from meetings.admin_models import IssuedPointToken
from meetings.models import AuthSession, BridgePoint, RevokedPointToken, utcnow
from meetings.point_tokens import hash_point_token, new_point_token


@dataclass(frozen=True)
class PointView:
    id: str
    name: str
    level: str
    role: str
    address: str
    token_in_config: bool  # rooms.toml has a token_hash that is not revoked
    token_issued: bool  # a token issued from the web
    last_seen_at: datetime | None


async def _config_token_live(session: AsyncSession, point: BridgePoint) -> bool:
    return point.token_hash is not None and await session.get(RevokedPointToken, point.token_hash) is None


async def list_points(session: AsyncSession) -> list[PointView]:
    points = (
        await session.execute(
            select(BridgePoint).where(BridgePoint.active.is_(True)).order_by(BridgePoint.role.desc(), BridgePoint.id)
        )
    ).scalars()
    issued = set((await session.execute(select(IssuedPointToken.point_id))).scalars())
    return [
        PointView(p.id, p.name, p.level, p.role, p.address, await _config_token_live(session, p), p.id in issued, p.last_seen_at)
        for p in points
    ]


async def _point(session: AsyncSession, point_id: str) -> BridgePoint:
    point = await session.get(BridgePoint, point_id)
    if point is None or not point.active:
        raise AccountError(f"no bridge point has id {point_id!r}", "unknown_point", {"id": point_id})
    return point


async def issue_token(session: AsyncSession, point_id: str, issued_by: str) -> str:
    """A new token for the point (returned once); a token issued earlier stops working."""
    await _point(session, point_id)
    token = new_point_token()
    row = await session.get(IssuedPointToken, point_id)
    if row is not None:
        await session.execute(
            delete(AuthSession).where(AuthSession.point_id == point_id, AuthSession.point_token_hash == row.token_hash)
        )
        await session.delete(row)
        await session.flush()
    session.add(IssuedPointToken(point_id=point_id, token_hash=hash_point_token(token), issued_at=utcnow(), issued_by=issued_by))
    await session.commit()
    return token


async def revoke_tokens(session: AsyncSession, point_id: str) -> int:
    """Every token of the point stops working now (issued or in rooms.toml); returns sessions ended."""
    point = await _point(session, point_id)
    if point.token_hash is not None and await session.get(RevokedPointToken, point.token_hash) is None:
        session.add(RevokedPointToken(token_hash=point.token_hash, point_id=point_id))
    issued = await session.get(IssuedPointToken, point_id)
    if issued is not None:
        session.add(RevokedPointToken(token_hash=issued.token_hash, point_id=point_id))
        await session.delete(issued)
    ended = await session.execute(delete(AuthSession).where(AuthSession.point_id == point_id))
    await session.commit()
    return ended.rowcount or 0
