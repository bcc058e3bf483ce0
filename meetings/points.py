"""Bridge points at work: operator accounts that act for a point, and the outage history.

An operator (kỹ thuật viên điểm cầu) attached to a point attends every meeting that invites the
point in the point's capacity (`point`): what they do there is done by the point. Outages are
the spans an invited point was offline during a meeting, kept for the minutes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.accounts import AccountError, Principal, normalise_username
from meetings.models import Account, BridgePoint, utcnow
from meetings.point_models import OperatorPoint, PointOutage


MERGE_GAP = timedelta(seconds=10)


@dataclass(frozen=True)
class ActingPoint:
    id: str
    name: str


async def attach_operator(session: AsyncSession, username: str, point_id: str | None) -> None:
    """Attach an operator account to a point (None detaches it)."""
    account = (
        await session.execute(select(Account).where(Account.username == normalise_username(username)))
    ).scalar_one_or_none()
    if account is None:
        raise AccountError(f"no account is named {username!r}")
    if account.role != "operator":
        raise AccountError(f"only an operator account can be attached to a point, not a {account.role}")
    row = await session.get(OperatorPoint, account.id)
    if point_id is None:
        if row is not None:
            await session.delete(row)
        await session.commit()
        return
    point = await session.get(BridgePoint, point_id)
    if point is None or not point.active:
        raise AccountError(f"no bridge point has id {point_id!r}")
    if row is None:
        session.add(OperatorPoint(account_id=account.id, point_id=point_id))
    else:
        row.point_id = point_id
    await session.commit()


async def acting_point(session: AsyncSession, principal: Principal) -> ActingPoint | None:
    """The point a principal acts for: the point itself, or the point an operator is attached to."""
    if principal.kind == "point":
        return ActingPoint(principal.id, principal.name)
    if principal.role != "operator" or principal.account_id is None:
        return None
    row = await session.get(OperatorPoint, principal.account_id)
    point = await session.get(BridgePoint, row.point_id) if row else None
    return ActingPoint(point.id, point.name) if point is not None and point.active else None


async def outage_started(session: AsyncSession, meeting_id: int, point_id: str, at: datetime) -> None:
    """Open an outage unless one is already open for the point (idempotent after a restart).

    An outage that ended less than MERGE_GAP ago is reopened instead: when a cut link comes
    back, the point's abandoned connection often delivers its last packets and closes just
    before the new one is up, and the minutes should show one outage, not two.
    """
    if await _open_outage(session, meeting_id, point_id) is None:
        last = await session.scalar(
            select(PointOutage)
            .where(PointOutage.meeting_id == meeting_id, PointOutage.point_id == point_id)
            .order_by(PointOutage.ended_at.desc())
            .limit(1)
        )
        if last is not None and last.ended_at is not None and at - last.ended_at < MERGE_GAP:
            last.ended_at = None
        else:
            session.add(PointOutage(meeting_id=meeting_id, point_id=point_id, started_at=at))
    await session.commit()


async def outage_ended(session: AsyncSession, meeting_id: int, point_id: str, at: datetime | None = None) -> None:
    row = await _open_outage(session, meeting_id, point_id)
    if row is not None:
        row.ended_at = at or utcnow()
    await session.commit()


async def _open_outage(session: AsyncSession, meeting_id: int, point_id: str) -> PointOutage | None:
    return await session.scalar(
        select(PointOutage).where(
            PointOutage.meeting_id == meeting_id, PointOutage.point_id == point_id, PointOutage.ended_at.is_(None)
        )
    )


async def outages(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    """Every outage of the meeting, oldest first; an open one has `ended_at` null."""
    rows = await session.execute(
        select(PointOutage, BridgePoint.name)
        .join(BridgePoint, BridgePoint.id == PointOutage.point_id)
        .where(PointOutage.meeting_id == meeting_id)
        .order_by(PointOutage.started_at, PointOutage.id)
    )
    out = []
    for outage, name in rows:
        end = outage.ended_at
        out.append({
            "point_id": outage.point_id, "name": name, "started_at": outage.started_at.isoformat(),
            "ended_at": end.isoformat() if end else None,
            "duration_s": round((end - outage.started_at).total_seconds()) if end else None,
        })
    return out
