"""Fixtures shared by every test: database URLs on both engines, a running server, accounts."""
from __future__ import annotations

import contextlib
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web

from meetings.config import load_rooms_config
from meetings.db import create_engine, session_factory, sqlite_url, upgrade_schema
from meetings.config_sync import sync_rooms_config
from tests.pg_server import PostgresServer, PostgresUnavailable
from tests.ports import free_port
from web.app import create_app
from web.settings import Settings
from web.state import STATE, AppState

REPO = Path(__file__).resolve().parent.parent
SAMPLE_ROOMS = REPO / "rooms.toml"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL here: {error}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each engine: SQLite in a temp dir, a new PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "test.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"t{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.build(config_path=SAMPLE_ROOMS, data_dir=tmp_path / "data", database_url=database_url, port=free_port())


@dataclass
class RunningServer:
    url: str
    app: web.Application

    @property
    def state(self) -> AppState:
        return self.app[STATE]


@contextlib.asynccontextmanager
async def serving_in_process(settings: Settings) -> AsyncIterator[RunningServer]:
    """The whole app served in-process on settings.port; stopped (as at a shutdown) on leaving."""
    app = create_app(settings, load_rooms_config(settings.config_path))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.port)
    await site.start()
    try:
        yield RunningServer(url=settings.base_url, app=app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    """The whole app served in-process on a free loopback port; stopped after the test."""
    async with serving_in_process(settings) as running:
        yield running


@pytest.fixture
async def db_sessions(database_url: str):  # type: ignore[no-untyped-def]
    """A migrated database with the sample rooms.toml synced, for service-level tests."""
    engine = create_engine(database_url)
    await upgrade_schema(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        await sync_rooms_config(session, load_rooms_config(SAMPLE_ROOMS))
    yield sessions
    await engine.dispose()


CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


async def form_token(http: aiohttp.ClientSession, page_url: str) -> str:
    """The CSRF token of the form on a page, as a browser would send it back (see web/csrf.py)."""
    async with http.get(page_url) as response:
        found = CSRF_FIELD.search(await response.text())
    assert found, f"no csrf_token field on {page_url}"
    return found.group(1)


async def login(url: str, username: str, password: str) -> aiohttp.CookieJar:
    """Log in over HTTP and return the cookie jar holding the session cookie."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(f"{url}/login", json={"username": username, "password": password}) as response:
            assert response.status == 200, await response.text()
    return jar
