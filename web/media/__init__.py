"""Media in the web app: the SFU's lifecycle, `media:*` signalling, the meeting page and TV screen.

`setup(app, state)` is the one call `web.app.create_app` makes.
"""
from __future__ import annotations

from aiohttp import web

from web.media.hub import MediaHub
from web.media.pages import add_routes
from web.media.signalling import register_media_events
from web.state import AppState

MEDIA = web.AppKey("hoinghi_media", MediaHub)


def setup(app: web.Application, state: AppState) -> MediaHub:
    hub = MediaHub(state)
    app[MEDIA] = hub
    register_media_events(state, hub)
    add_routes(app)

    async def start(_app: web.Application) -> None:
        await hub.start()

    async def stop(_app: web.Application) -> None:
        await hub.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)  # before the database closes and before connections are cut
    state.leave_hooks.append(hub.on_left_meeting)
    if hasattr(state, "media_floor"):  # set by the control plane (floor: server-side mute)
        state.media_floor = hub.floor
    return hub
