"""The meeting control plane on the wire: Socket.IO events and REST routes (docs/protocol.md).

`register(app)` is the one call web.app.create_app makes.
"""
from __future__ import annotations

from aiohttp import web

from web.control.hub import ControlHub
from web.state import STATE

HUB = web.AppKey("hoinghi_control_hub", ControlHub)


def register(app: web.Application) -> None:
    from web.control import documents, handlers

    state = app[STATE]
    hub = ControlHub(state)
    app[HUB] = hub

    async def joined(meeting_id: int, sid: str) -> None:
        hub.attendance_changed(meeting_id)

    async def left(meeting_id: int, sid: str) -> None:
        if state.roster.entries(meeting_id):
            hub.attendance_changed(meeting_id)
        else:
            hub.release(meeting_id)

    state.join_hooks.append(joined)
    state.leave_hooks.append(left)
    handlers.register_events(hub)
    documents.add_routes(app)

    async def stop(_: web.Application) -> None:
        hub.close()

    app.on_shutdown.append(stop)


async def resume(app: web.Application) -> None:
    """On start-up, once the schema is ready: what the previous process left running (ControlHub.resume)."""
    await app[HUB].resume()
