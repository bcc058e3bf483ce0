"""What one server process holds: settings, configuration, database and Socket.IO server."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from meetings.config import RoomsConfig
from web.login_limits import LoginLimits
from web.metrics import Metrics
from web.presence import PresenceLocks
from web.roster import Roster
from web.roster_feed import RosterFeed
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
    roster_feed: RosterFeed = field(init=False)  # joins and leaves to the meeting, coalesced
    # Run when a connection leaves a meeting (explicitly or by disconnecting): (meeting_id, sid).
    leave_hooks: list[Callable[[int, str], Awaitable[None]]] = field(default_factory=list)
    # Run after a connection joined a meeting: (meeting_id, sid).
    join_hooks: list[Callable[[int, str], Awaitable[None]]] = field(default_factory=list)
    # Set by the media side: open (True) or close (False) the floor of a participant, by principal
    # key ("account:12", "point:ubnd-tinh"): unmute and spotlight them, or mute them again.
    media_floor: Callable[[int, str, bool], Awaitable[None]] | None = None
    # Browser users waiting in a meeting's lobby: meeting id -> peer id -> {peer_id, account_id, name}.
    lobby: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    presence: PresenceLocks = field(default_factory=PresenceLocks)  # web.presence: writes in roster order

    login_limits: LoginLimits = field(init=False)

    def __post_init__(self) -> None:
        self.roster_feed = RosterFeed(self.sio)
        self.login_limits = LoginLimits(self.settings.login_free_attempts)


STATE = web.AppKey("hoinghi_state", AppState)


def app_state(request: web.Request) -> AppState:
    return request.app[STATE]
