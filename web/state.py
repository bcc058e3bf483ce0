"""What one server process holds: settings, configuration, database and Socket.IO server."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from meetings.config import RoomsConfig
from web.metrics import Metrics
from web.roster import Roster
from web.settings import Settings


@dataclass
class AppState:
    settings: Settings
    config: RoomsConfig
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sio: socketio.AsyncServer
    metrics: Metrics
    roster: Roster = field(default_factory=Roster)
    # Run when a connection leaves a meeting (explicitly or by disconnecting): (meeting_id, sid).
    leave_hooks: list[Callable[[int, str], Awaitable[None]]] = field(default_factory=list)


STATE = web.AppKey("hoinghi_state", AppState)


def app_state(request: web.Request) -> AppState:
    return request.app[STATE]
