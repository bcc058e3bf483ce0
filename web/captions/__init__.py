"""Live captions and the searchable transcript: wiring of transcription/ into the web app.

`setup(app, state, media)` is the one call `web.app.create_app` makes, after the media setup.
"""
from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from web.captions import api_doc  # noqa: F401  (documents the transcript routes in /api/openapi.json)
from web.captions.live import CaptionHub
from web.captions.pages import CAPTIONS_KEY, add_routes, register_watch_event, transcript_room
from web.captions.texts import TEXTS
from web.media.hub import MediaHub
from web.state import AppState

__all__ = ["CaptionHub", "setup", "transcript_room"]


def setup(app: web.Application, state: AppState, media: MediaHub) -> CaptionHub:
    hub = CaptionHub(state, media)
    app[CAPTIONS_KEY] = hub
    add_routes(app)
    register_watch_event(state)
    # templates/captions.html (included by the meeting page and the TV screen) words itself with these
    aiohttp_jinja2.get_env(app).globals["caption_texts"] = lambda lang: TEXTS[lang]

    async def start(_app: web.Application) -> None:
        await hub.start()

    async def stop(_app: web.Application) -> None:
        await hub.close()

    app.on_startup.append(start)
    app.on_shutdown.insert(0, stop)  # before the SFU closes: the taps end first
    return hub
