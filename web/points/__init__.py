"""Bridge points at work: health reports and the dashboard of points, the room's console.

`register(app)` is the one call web.app.create_app makes (after the control plane's).
"""
from __future__ import annotations

from aiohttp import web

from web.points.monitor import PointMonitor
from web.state import STATE

MONITOR = web.AppKey("hoinghi_point_monitor", PointMonitor)


def register(app: web.Application) -> None:
    from web.control import HUB
    from web.points import events, pages

    state = app[STATE]
    monitor = PointMonitor(state)
    app[MONITOR] = monitor

    async def left(meeting_id: int, sid: str) -> None:
        await monitor.left(meeting_id, sid)

    state.leave_hooks.append(left)
    events.register_events(app[HUB], monitor)
    pages.add_routes(app)

    async def start(_: web.Application) -> None:
        monitor.start()

    async def stop(_: web.Application) -> None:
        monitor.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
