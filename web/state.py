"""What one server process holds: settings, configuration, database and Socket.IO server."""
from __future__ import annotations

from dataclasses import dataclass

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from meetings.config import RoomsConfig
from web.metrics import Metrics
from web.settings import Settings


@dataclass
class AppState:
    settings: Settings
    config: RoomsConfig
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sio: socketio.AsyncServer
    metrics: Metrics


STATE = web.AppKey("hoinghi_state", AppState)


def app_state(request: web.Request) -> AppState:
    return request.app[STATE]
