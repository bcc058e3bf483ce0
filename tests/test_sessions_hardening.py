"""Cross-site posts, session rotation at login, "log out everywhere", and presence reset when
the server starts (a crashed process never ran its leaves)."""
from __future__ import annotations

from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from meetings.accounts import Principal, add_account, open_session, resolve_session
from meetings.config import load_rooms_config
from meetings.meetings_service import create_meeting, set_presence
from meetings.models import AuthSession, MeetingPoint, Participant
from tests.conftest import RunningServer
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.csrf import token_for_session
from web.settings import Settings

pytestmark = pytest.mark.security


async def test_state_changing_requests_from_another_site_are_refused(server: RunningServer) -> None:
    async with server.state.sessions() as session:
        await add_account(session, "daibieu", "delegate", "mat-khau-123", "Lê Văn Cường")
    login = {"username": "daibieu", "password": "mat-khau-123"}
    async with aiohttp.ClientSession() as http:
        for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Referer": "https://evil.example/page"}):
            async with http.post(f"{server.url}/login", json=login, headers=headers) as response:
                body = await response.json()
                assert response.status == 403 and "trang khác" in body["message"], headers
        async with http.post(f"{server.url}/login", json=login, headers={"Origin": server.url}) as response:
            assert response.status == 200
        async with http.get(f"{server.url}/healthz", headers={"Origin": "https://evil.example"}) as response:
            assert response.status == 200  # reading is not changing


async def test_login_rotates_the_session_and_logout_everywhere_ends_all(server: RunningServer) -> None:
    async with server.state.sessions() as session:
        account = await add_account(session, "thuky", "secretary", "mat-khau-456", "Trần Thị Bình")
        planted = await open_session(session, Principal("account", str(account.id), "x", "secretary"))
        other_device = await open_session(session, Principal("account", str(account.id), "x", "secretary"))
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({SESSION_COOKIE: planted})
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(f"{server.url}/login", json={"username": "thuky", "password": "mat-khau-456"}) as response:
            assert response.status == 200
            fresh = response.cookies[SESSION_COOKIE].value
        assert fresh != planted
        async with server.state.sessions() as session:
            assert await resolve_session(session, planted) is None  # the cookie from before login is dead
            assert await resolve_session(session, other_device) is not None
        csrf = token_for_session(server.app, fresh)
        async with http.post(f"{server.url}/logout/everywhere", allow_redirects=False,
                             headers={"X-CSRF-Token": csrf}) as response:
            assert response.status == 303
    async with server.state.sessions() as session:
        assert await resolve_session(session, fresh) is None and await resolve_session(session, other_device) is None
        count = (await session.execute(select(func.count()).select_from(AuthSession)
                                       .where(AuthSession.account_id == account.id))).scalar_one()
        assert count == 0


async def test_presence_is_reset_when_the_server_starts(settings: Settings, server: RunningServer) -> None:
    async with server.state.sessions() as session:
        chair = await add_account(session, "chutoa", "chair", "mat-khau-789", "Nguyễn Văn An")
        delegate = await add_account(session, "daibieu", "delegate", "mat-khau-789", "Lê Văn Cường")
        meeting_id = await create_meeting(session, room_id="phong-hop-ubnd", title="Họp",
                                          scheduled_start=datetime.now(timezone.utc), chair_id=chair.id,
                                          secretary_id=chair.id, delegates=[(delegate.id, None)])
        point_id = (await session.execute(select(MeetingPoint.point_id).where(
            MeetingPoint.meeting_id == meeting_id))).scalars().first()
        await set_presence(session, meeting_id, Principal("point", point_id, "p", "point"), True)
        await set_presence(session, meeting_id, Principal("account", str(delegate.id), "d", "delegate"), True)
        assert (await session.get(MeetingPoint, (meeting_id, point_id))).connected is True
    # a second process on the same database (the first "crashed": nothing ran its leaves)
    app = create_app(settings, load_rooms_config(settings.config_path))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        async with server.state.sessions() as session:
            assert (await session.get(MeetingPoint, (meeting_id, point_id))).connected is False
            person = (await session.execute(select(Participant).where(
                Participant.meeting_id == meeting_id, Participant.account_id == delegate.id))).scalar_one()
            assert person.present is False and person.left_at is not None
    finally:
        await runner.cleanup()
