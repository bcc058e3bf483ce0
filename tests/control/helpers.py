"""Shared set-up for control-plane tests: people, a meeting, callers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from meetings.control_common import Caller
from meetings.meetings_service import create_meeting
from meetings.models import Account

POINTS = ["ubnd-tinh", "khu-vuc-uong-bi", "phuong-ha-long", "phuong-cam-pha", "xa-ba-che", "dac-khu-van-don"]


@dataclass
class World:
    meeting_id: int
    chair: int
    secretary: int
    delegates: list[int]  # delegates[i] sits at DELEGATE_POINTS[i] (None: own browser)
    observer: int
    admin: int
    names: dict[int, str] = field(default_factory=dict)
    points: dict[int, str | None] = field(default_factory=dict)

    def caller(self, who: int | str) -> Caller:
        if isinstance(who, str):
            return Caller(f"point:{who}", f"Điểm cầu {who}", "point", None, who)
        capacity = "chair" if who == self.chair else "secretary" if who == self.secretary else (
            "delegate" if who in self.delegates else "admin" if who == self.admin else "observer")
        return Caller(f"account:{who}", self.names[who], capacity, who, self.points.get(who))


async def make_accounts(session, specs):  # type: ignore[no-untyped-def]
    """Accounts without Argon2 (fast): [(username, role, display name)] -> ids."""
    rows = [Account(username=u, display_name=n, role=r, password_hash="!") for u, r, n in specs]
    session.add_all(rows)
    await session.commit()
    return [r.id for r in rows]


async def make_world(sessions, n_delegates: int = 6, at_points: bool = True) -> World:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        specs = [("chutoa", "chair", "Nguyễn Văn Chủ Tọa"), ("thuky", "secretary", "Trần Thị Thư Ký"),
                 ("khach", "observer", "Lê Khách"), ("quantri", "admin", "Quản Trị")]
        specs += [(f"daibieu{i}", "delegate", f"Đại biểu số {i}") for i in range(n_delegates)]
        ids = await make_accounts(session, specs)
        chair, secretary, observer, admin, *delegates = ids
        places = {d: (POINTS[i % len(POINTS)] if at_points and i % 2 == 0 else None) for i, d in enumerate(delegates)}
        meeting_id = await create_meeting(
            session, room_id="phong-hop-ubnd", title="Kỳ họp thường lệ tháng 11",
            scheduled_start=datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc), chair_id=chair,
            secretary_id=secretary, delegates=[(d, places[d]) for d in delegates],
        )
    world = World(meeting_id, chair, secretary, delegates, observer, admin)
    world.names = {i: n for i, (_, _, n) in zip(ids, specs)}
    world.points = dict(places)
    return world
