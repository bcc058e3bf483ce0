"""Mirror rooms.toml into the database, so meetings can refer to points and rooms by key.

Points and rooms removed from the file are marked inactive, never deleted: past meetings
and their minutes keep referring to them.
"""
from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.config import RoomsConfig
from meetings.models import BridgePoint, MeetingRoom, MeetingRoomPoint, ProvinceRow


async def sync_rooms_config(session: AsyncSession, config: RoomsConfig) -> None:
    province = config.province
    await session.merge(ProvinceRow(id=province.id, name=province.name, agency=province.agency))
    await session.execute(update(BridgePoint).values(active=False))
    for point in config.points:
        await session.merge(
            BridgePoint(
                id=point.id, province_id=province.id, name=point.name, level=point.level,
                role=point.role, address=point.address, token_hash=point.token_hash, active=True,
            )
        )
    await session.execute(update(MeetingRoom).values(active=False))
    for room in config.rooms:
        await session.merge(MeetingRoom(id=room.id, name=room.name, active=True))
    await session.flush()
    await session.execute(delete(MeetingRoomPoint))
    for room in config.rooms:
        for point_id in room.points:
            session.add(MeetingRoomPoint(room_id=room.id, point_id=point_id))
    await session.commit()

