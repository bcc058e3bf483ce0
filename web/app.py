"""Build the aiohttp application with Socket.IO attached on the same port."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from meetings.config import RoomsConfig
from meetings.config_sync import sync_rooms_config
from meetings.meetings_service import reset_presence
from meetings.db import create_engine, session_factory, upgrade_schema
from web import (
    admin_pages, api, auth, captions, csrf, errors, health, loop_lag, media, meeting_actions, meeting_pages, memory,
    minutes, origin_check, pages,
    security_headers,
)
from web.control import register as register_control_plane, resume as resume_control_plane
from web.membership import register_membership_events
from web.points import register as register_points
from web.metrics import Metrics
from web.realtime import create_socket_server, register_connection_events
from web.settings import Settings
from web.state import STATE, AppState

STATIC_DIR = Path(__file__).with_name("static")


async def _prepare_database(app: web.Application) -> None:
    """Upgrade the schema in place, then mirror rooms.toml into it."""
    state = app[STATE]
    await upgrade_schema(state.engine)
    async with state.sessions() as session:
        await sync_rooms_config(session, state.config)
        await reset_presence(session)  # a crashed process never ran its leaves


async def _close_database(app: web.Application) -> None:
    app[STATE].roster_feed.close()
    await app[STATE].engine.dispose()


def create_app(settings: Settings, config: RoomsConfig) -> web.Application:
    """The whole server; the config has already been validated by the caller."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    forwarded = [origin_check.behind_proxies(settings.trusted_proxies)] if settings.trusted_proxies else []
    app = web.Application(
        middlewares=[*forwarded, health.count_requests, errors.product_error_pages, origin_check.check_origin, csrf.check_csrf,
                     auth.require_login],
        client_max_size=50 * 1024 * 1024,
    )
    pages.setup(app)  # Jinja2 templates
    csrf.setup(app, settings.data_dir)
    sio = create_socket_server()
    state = AppState(
        settings=settings, config=config, engine=engine, sessions=session_factory(engine), sio=sio, metrics=Metrics()
    )
    app[STATE] = state
    sio.attach(app)
    register_connection_events(state)
    register_membership_events(state)
    register_control_plane(app)  # agenda, documents, speaking, votes, attendance, moderation, audit
    register_points(app)  # health of the bridge points, their dashboard and console
    minutes.setup(app, settings.data_dir)  # minutes: editor, signing, publishing, /verify
    media_hub = media.setup(app, state)  # SFU, media:* signalling, meeting page, bridge-point screen
    captions.setup(app, state, media_hub)  # microphones -> Vosk -> captions and the transcript
    auth.add_routes(app)
    meeting_pages.add_routes(app)  # home by role, meeting form, details and record
    admin_pages.add_routes(app)  # accounts, bridge points, own password
    health.add_routes(app)
    security_headers.setup(app)  # CSP, frame-ancestors, nosniff, Referrer-Policy, HSTS under TLS
    loop_lag.setup(app)  # event-loop lag in /metrics
    memory.setup(app)  # freed memory back to the system every few minutes
    api.setup(app)  # REST under /api/ and its OpenAPI document
    app.router.add_static("/static/", STATIC_DIR, append_version=True)
    app.on_startup.append(_prepare_database)
    app.on_startup.append(resume_control_plane)  # speaking-time limits, ballot keys left by a crash
    meeting_actions.setup(app, state)  # the invitation mailer, after the schema is ready
    app.on_cleanup.append(_close_database)
    return app
