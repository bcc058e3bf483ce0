"""Fixtures for control-plane tests over real Socket.IO connections."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from sqlalchemy import text

from meetings.accounts import Principal, open_session
from meetings.models import BridgePoint, Participant
from meetings.point_tokens import hash_point_token, new_point_token
from meetings.sealed_ballots import BallotKeys
from tests.conftest import RunningServer
from tests.control.helpers import World, make_accounts, make_world
from web.auth import SESSION_COOKIE

POINT = "xa-ba-che"
# Tables whose content must not change when an event is refused.
STATE_TABLES = (
    "meeting", "meeting_point", "participant", "meeting_control", "agenda_item", "agenda_document",
    "speak_request", "vote", "vote_eligible", "vote_voter", "vote_count", "vote_open_choice", "vote_hands",
    "vote_sealed_ballot", "meeting_exclusion", "audit_log",
)


@pytest.fixture
def ballot_keys(tmp_path) -> BallotKeys:  # type: ignore[no-untyped-def]
    """Where secret votes opened by a test keep their ballot keys (as the server's data_dir/ballot-keys)."""
    return BallotKeys(tmp_path / "ballot-keys")


class Client(socketio.AsyncClient):
    def __init__(self) -> None:
        super().__init__(reconnection=False)
        self.received: list[tuple[str, Any]] = []

        @self.on("*")
        async def any_event(event: str, data: Any = None) -> None:
            self.received.append((event, data))

    def last(self, event: str) -> Any:
        return next((d for e, d in reversed(self.received) if e == event), None)

    async def wait_for(self, event: str, predicate=lambda d: True, timeout: float = 10.0) -> Any:  # type: ignore[no-untyped-def]
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for e, d in reversed(self.received):
                if e == event and predicate(d):
                    return d
            assert asyncio.get_running_loop().time() < deadline, f"no {event} in time"
            await asyncio.sleep(0.01)


async def cookie_for(server: RunningServer, account_id: int, name: str, role: str) -> str:
    async with server.state.sessions() as session:
        return await open_session(session, Principal("account", str(account_id), name, role))


async def connect_account(server: RunningServer, account_id: int, name: str = "", role: str = "delegate") -> Client:
    client = Client()
    cookie = await cookie_for(server, account_id, name, role)
    # (a loaded machine may take longer than the default second to answer the handshake)
    await client.connect(server.url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, transports=["websocket"], wait_timeout=10)
    return client


async def point_token(server: RunningServer, point_id: str) -> str:
    token = new_point_token()
    async with server.state.sessions() as session:
        (await session.get(BridgePoint, point_id)).token_hash = hash_point_token(token)
        await session.commit()
    return token


@dataclass
class Room:
    server: RunningServer
    world: World
    clients: dict[str, Client] = field(default_factory=dict)
    guest: int = 0

    @property
    def meeting_id(self) -> int:
        return self.world.meeting_id

    def key(self, who: str) -> str:
        return {"point": f"point:{POINT}"}.get(who) or f"account:{self.account(who)}"

    def account(self, who: str) -> int:
        w = self.world
        return {"chair": w.chair, "secretary": w.secretary, "delegate": w.delegates[0], "delegate2": w.delegates[1],
                "observer": w.observer, "admin": w.admin, "guest": self.guest}[who]

    async def call(self, who: str, event: str, payload: Any = None) -> Any:
        return await self.clients[who].call(event, payload if payload is not None else {}, timeout=30)

    async def fingerprint(self) -> dict[str, list[tuple[Any, ...]]]:
        async with self.server.state.sessions() as session:
            out = {}
            for table in STATE_TABLES:
                rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
                out[table] = sorted((tuple(map(str, r)) for r in rows))
            return out

    def memory(self) -> dict[str, Any]:
        """What the server holds in memory for meetings: roster, lobby, votes, timers, media peers,
        and the meetings' and transcripts' broadcast rooms."""
        from web.control import HUB
        from web.media import MEDIA

        state, hub = self.server.state, self.server.app[HUB]
        rooms = state.sio.manager.rooms.get("/", {})
        return {
            "roster": sorted((e.peer_id, e.key, e.role) for e in state.roster.entries(self.meeting_id)),
            "lobby": {m: sorted(w) for m, w in state.lobby.items() if w},
            "votes": sorted(hub.votes), "timers": sorted(hub.timers),
            "media": sorted(self.server.app[MEDIA].peers),
            "rooms": {name: sorted(sids) for name, sids in rooms.items() if name and name.startswith(("meeting", "transcript"))},
        }

    async def rejoin(self) -> None:
        """Every client back in the meeting (after a fuzzed call that left it)."""
        for who, client in self.clients.items():
            if self.server.state.roster.entry(client.get_sid()) is None:
                assert (await client.call("join_meeting", {"meeting_id": self.meeting_id}))["ok"], who

    async def close(self) -> None:
        for client in self.clients.values():
            if client.connected:
                await client.disconnect()


ROLES = ("chair", "secretary", "delegate", "point", "observer", "admin")


@pytest.fixture
async def room(server: RunningServer):  # type: ignore[no-untyped-def]
    """A meeting with one connection per capacity, all joined (the delegate sits at no point)."""
    r = await make_room(server)
    try:
        yield r
    finally:
        await r.close()


async def make_room(server: RunningServer) -> Room:
    world = await make_world(server.state.sessions, n_delegates=2, at_points=False)
    async with server.state.sessions() as session:
        session.add(Participant(meeting_id=world.meeting_id, account_id=world.observer, invited=False))
        await session.commit()
        (guest,) = await make_accounts(session, [("khachmoi", "delegate", "Khách Mời Chờ")])
    r = Room(server, world, guest=guest)
    token = await point_token(server, POINT)
    for who in ("chair", "secretary", "delegate", "delegate2", "observer", "admin"):
        r.clients[who] = await connect_account(server, r.account(who), world.names[r.account(who)])
    point = Client()
    await point.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    r.clients["point"] = point
    for who, client in r.clients.items():
        ack = await client.call("join_meeting", {"meeting_id": world.meeting_id})
        assert ack["ok"], (who, ack)
    return r
