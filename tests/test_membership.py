"""join_meeting / leave_meeting over real Socket.IO connections."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest
import socketio

from meetings.accounts import add_account
from meetings.meetings_service import create_meeting
from meetings.models import BridgePoint
from meetings.point_tokens import hash_point_token, new_point_token
from tests.conftest import RunningServer, login


async def _people(server: RunningServer) -> dict[str, int]:
    ids = {}
    async with server.state.sessions() as session:
        for name, role in [("chutoa", "chair"), ("thuky", "secretary"), ("daibieu", "delegate"), ("khach", "delegate")]:
            ids[name] = (await add_account(session, name, role, "mat-khau-123", name.title())).id
    return ids


async def _meeting(server: RunningServer, ids: dict[str, int]) -> int:
    async with server.state.sessions() as session:
        return await create_meeting(
            session, room_id="phong-hop-ubnd", title="Họp thường kỳ tháng 11",
            scheduled_start=datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc),
            chair_id=ids["chutoa"], secretary_id=ids["thuky"], delegates=[(ids["daibieu"], None)],
        )


async def _client(server: RunningServer, username: str | None = None, token: str | None = None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    client.events: list[dict[str, Any]] = []  # type: ignore[misc]
    client.on("participants", client.events.append)
    if username:
        jar = await login(server.url, username, "mat-khau-123")
        cookie = "; ".join(f"{c.key}={c.value}" for c in jar)
        await client.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"])
    else:
        await client.connect(server.url, auth={"token": token}, transports=["websocket"])
    return client


async def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "event did not arrive in time"
        await asyncio.sleep(0.02)


async def test_connection_without_credentials_is_refused(server: RunningServer) -> None:
    for auth in (None, {"token": "hnp_forged"}):
        client = socketio.AsyncClient(reconnection=False)
        reasons: list[Any] = []
        client.on("connect_error", reasons.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, auth=auth, transports=["websocket"])
        assert reasons == [{"message": "unauthorized"}]


async def test_join_roster_and_leave(server: RunningServer) -> None:
    ids = await _people(server)
    meeting_id = await _meeting(server, ids)
    token = new_point_token()
    async with server.state.sessions() as session:
        (await session.get(BridgePoint, "xa-ba-che")).token_hash = hash_point_token(token)
        await session.commit()

    chair = await _client(server, "chutoa")
    delegate = await _client(server, "daibieu")
    point = await _client(server, token=token)
    outsider = await _client(server, "khach")
    try:
        joined = await chair.call("join_meeting", {"meeting_id": meeting_id})
        assert joined["ok"] and joined["me"]["role"] == "chair"
        assert joined["meeting"]["title"] == "Họp thường kỳ tháng 11"
        assert joined["meeting"]["points"][0]["role"] == "main"

        assert (await delegate.call("join_meeting", {"meeting_id": meeting_id}))["me"]["role"] == "delegate"
        point_ack = await point.call("join_meeting", {"meeting_id": meeting_id})
        assert point_ack["me"] == {**point_ack["me"], "kind": "point", "key": "point:xa-ba-che", "role": "point"}
        assert len(point_ack["roster"]) == 3

        refused = await outsider.call("join_meeting", {"meeting_id": meeting_id})
        assert refused["ok"] is False and refused["error"] == "in_lobby"  # uninvited: waits in the lobby
        assert (await outsider.call("join_meeting", {"meeting_id": 999}))["error"] == "not_found"
        assert (await outsider.call("join_meeting", {"meeting_id": "1"}))["error"] == "bad_request"
        assert (await outsider.call("join_meeting", [1]))["error"] == "bad_request"
        assert (await outsider.call("leave_meeting", {}))["error"] == "conflict"

        def seen(kind: str) -> dict[str, str]:  # peer id -> key, over every `participants` the chair got
            return {e["peer_id"]: e["key"] for msg in chair.events for e in msg[kind]}

        await _wait_for(lambda: len(seen("joined")) == 3)
        assert sorted(seen("joined").values()) == sorted(
            [f"account:{ids['chutoa']}", f"account:{ids['daibieu']}", "point:xa-ba-che"])
        assert all(msg["meeting_id"] == meeting_id and not msg["left"] for msg in chair.events)
        assert len(server.state.roster.entries(meeting_id)) == 3

        assert (await delegate.call("leave_meeting", {}))["ok"]
        await point.disconnect()
        await _wait_for(lambda: len(seen("left")) == 2)
        assert set(seen("left").values()) == {f"account:{ids['daibieu']}", "point:xa-ba-che"}
        assert [e.role for e in server.state.roster.entries(meeting_id)] == ["chair"]
    finally:
        for client in (chair, delegate, point, outsider):
            await client.disconnect()


async def test_roster_changes_are_coalesced_and_add_up(server: RunningServer) -> None:
    """A burst of joins reaches the others as a few `participants` events (at most one per
    interval), and applying them to one's join roster gives the server's roster."""
    from tests.control.conftest import Client, connect_account
    from tests.control.helpers import make_world
    from web.roster_feed import RosterFeed

    interval = 0.5
    server.state.roster_feed = RosterFeed(server.state.sio, interval=interval)
    world = await make_world(server.state.sessions, n_delegates=20, at_points=False)
    chair = await connect_account(server, world.chair, role="chair")
    others: list[Client] = []
    try:
        others = [await connect_account(server, d) for d in world.delegates]
        started = asyncio.get_running_loop().time()
        ack = await chair.call("join_meeting", {"meeting_id": world.meeting_id})
        roster = {e["peer_id"]: e["key"] for e in ack["roster"]}
        joined = await asyncio.gather(*(c.call("join_meeting", {"meeting_id": world.meeting_id}) for c in others))
        assert all(a["ok"] for a in joined)
        assert (await others[0].call("leave_meeting", {}))["ok"]  # a leave right after the joins
        elapsed = asyncio.get_running_loop().time() - started

        expected = {e.peer_id: e.key for e in server.state.roster.entries(world.meeting_id)}
        assert len(expected) == 20

        def applied() -> dict[str, str]:
            view = dict(roster)
            for event, msg in chair.received:
                if event == "participants":
                    assert not {e["peer_id"] for e in msg["joined"]} & {e["peer_id"] for e in msg["left"]}
                    for gone in msg["left"]:
                        view.pop(gone["peer_id"], None)
                    view.update({e["peer_id"]: e["key"] for e in msg["joined"]})
            return view

        await _wait_for(lambda: applied() == expected)
        events = [msg for event, msg in chair.received if event == "participants"]
        assert len(events) <= 2 + elapsed / interval, (len(events), elapsed)
        assert not any(event in ("participant_joined", "participant_left") for event, _ in chair.received)
    finally:
        for client in (chair, *others):
            await client.disconnect()
