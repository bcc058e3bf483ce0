"""Which bridge points are online in each meeting, with the link figures they report.

A point is *online* while its TV screen or its headless agent reports health (`point_health`)
at least every STALE_AFTER_S seconds. That beats waiting for the Socket.IO connection to time
out: with the default ping interval and timeout a cut link is noticed only after up to 45 s.
Going offline while the meeting is open opens an outage (meetings.points), coming back closes
it. Changes are broadcast as `points_status` to the chair, the secretary, admins and the points,
coalesced to one a second per meeting.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from meetings import points as point_service
from meetings.models import BridgePoint, Meeting, MeetingPoint
from web.coalesce import Coalescer
from web.permissions import capacity_allows
from web.state import AppState

log = logging.getLogger("hoinghi.points")
STALE_AFTER_S = 6.0  # three missed reports at the clients' 2 s interval
BROADCAST_INTERVAL_S = 1.0


@dataclass
class Health:
    """One report of a point's screen or agent (docs/protocol.md, "Bridge points")."""

    client: str  # "screen" (browser TV) or "agent" (hoinghi bridge)
    media: bool  # its WebRTC connections are up
    bitrate_in_kbps: float
    bitrate_out_kbps: float
    loss_pct: float
    rtt_ms: float
    fps: float
    received_at: float = 0.0  # time.monotonic()
    received_ms: int = 0  # wall clock, for the clients


def _wall(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


class PointMonitor:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._reports: dict[tuple[int, str], dict[str, Health]] = {}  # (meeting, point) -> sid -> latest
        self._online: set[tuple[int, str]] = set()
        self._last_seen_ms: dict[tuple[int, str], int] = {}
        self._broadcasts: dict[int, Coalescer] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ input

    async def report(self, meeting_id: int, point_id: str, sid: str, health: Health) -> None:
        health.received_at, health.received_ms = time.monotonic(), int(time.time() * 1000)
        key = (meeting_id, point_id)
        reports = self._reports.setdefault(key, {})
        reports[sid] = health
        self._last_seen_ms[key] = health.received_ms
        await self._drop_stale_twins(reports, sid, health)
        await self._update(key)
        self.changed(meeting_id)

    async def _drop_stale_twins(self, reports: dict[str, Health], sid: str, health: Health) -> None:
        """Disconnect the point's silent connections of the same kind: the old ones of a client that
        came back over a new connection after its link was cut, which the server would otherwise
        keep (with their SFU peers and dead tracks) until Socket.IO's ping timeout."""
        for other, old in list(reports.items()):
            if other != sid and old.client == health.client and health.received_at - old.received_at >= STALE_AFTER_S:
                del reports[other]
                log.info("dropping a stale connection of a point", extra={"sid": other})
                await self.state.sio.disconnect(other)

    async def left(self, meeting_id: int, sid: str) -> None:
        for key in [k for k, by_sid in self._reports.items() if k[0] == meeting_id and sid in by_sid]:
            del self._reports[key][sid]
            await self._update(key)
        self.changed(meeting_id)

    # ------------------------------------------------------------ state

    def _fresh(self, key: tuple[int, str]) -> Health | None:
        now = time.monotonic()
        fresh = [h for h in self._reports.get(key, {}).values() if now - h.received_at < STALE_AFTER_S]
        return max(fresh, key=lambda h: h.received_at) if fresh else None

    async def _update(self, key: tuple[int, str]) -> None:
        """Record a change between online and offline (an outage starts or ends)."""
        online = self._fresh(key) is not None
        if online == (key in self._online):
            return
        meeting_id, point_id = key
        async with self.state.sessions() as session:
            if online:
                self._online.add(key)
                await point_service.outage_ended(session, meeting_id, point_id)
                log.info("point online", extra={"meeting_id": meeting_id, "point_id": point_id, "sids": list(self._reports.get(key, {}))})
                return
            self._online.discard(key)
            meeting = await session.get(Meeting, meeting_id)
            if meeting is not None and meeting.status == "open":
                await point_service.outage_started(session, meeting_id, point_id, _wall(self._last_seen_ms[key]))
            log.info("point offline", extra={"meeting_id": meeting_id, "point_id": point_id, "sids": list(self._reports.get(key, {}))})

    async def snapshot(self, meeting_id: int) -> dict[str, Any]:
        """Every invited point with its state and latest figures, and the meeting's outages."""
        async with self.state.sessions() as session:
            rows = (
                await session.execute(
                    select(MeetingPoint, BridgePoint)
                    .join(BridgePoint, BridgePoint.id == MeetingPoint.point_id)
                    .where(MeetingPoint.meeting_id == meeting_id)
                    .order_by(BridgePoint.role.desc(), BridgePoint.id)
                )
            ).all()
            outages = await point_service.outages(session, meeting_id)
        open_since = {o["point_id"]: o["started_at"] for o in outages if o["ended_at"] is None}
        counts: dict[str, int] = {}
        for outage in outages:
            counts[outage["point_id"]] = counts.get(outage["point_id"], 0) + 1
        points = []
        for mp, bp in rows:
            key = (meeting_id, bp.id)
            health = self._fresh(key)
            figures = {k: v for k, v in asdict(health).items() if k not in ("received_at", "received_ms")} if health else {}
            points.append({
                "id": bp.id, "name": bp.name, "role": bp.role, "level": bp.level, "online": health is not None,
                "last_seen_ms": self._last_seen_ms.get(key), "offline_since": open_since.get(bp.id),
                "headcount": mp.headcount, "outages": counts.get(bp.id, 0), "client": None, "media": False,
                "bitrate_in_kbps": None, "bitrate_out_kbps": None, "loss_pct": None, "rtt_ms": None, "fps": None,
                **figures,
            })
        return {
            "meeting_id": meeting_id, "server_ms": int(time.time() * 1000), "stale_after_s": STALE_AFTER_S,
            "points": points, "outages": outages,
        }

    # ------------------------------------------------------------ output

    def changed(self, meeting_id: int) -> None:
        if meeting_id not in self._broadcasts:

            async def send() -> None:
                data = await self.snapshot(meeting_id)
                for entry in self.state.roster.entries(meeting_id):
                    if capacity_allows(entry.role, "points_status"):
                        await self.state.sio.emit("points_status", data, to=entry.peer_id)

            self._broadcasts[meeting_id] = Coalescer(send, BROADCAST_INTERVAL_S)
        self._broadcasts[meeting_id].changed()

    async def _watch(self) -> None:
        """Notice points whose reports stopped (a cut link sends no goodbye)."""
        while True:
            await asyncio.sleep(1.0)
            for key in list(self._online):
                try:
                    await self._update(key)
                except Exception:
                    log.exception("point state update failed", extra={"meeting_id": key[0], "point_id": key[1]})
                if key not in self._online:
                    self.changed(key[0])
            for key in [k for k, by_sid in self._reports.items() if not by_sid and k not in self._online]:
                del self._reports[key]

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for sender in self._broadcasts.values():
            sender.close()
