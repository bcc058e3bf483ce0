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
    client.events: list[tuple[str, Any]] = []  # type: ignore[misc]
    for name in ("participant_joined", "participant_left"):
        client.on(name, lambda data, name=name: client.events.append((name, data)))
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

        await _wait_for(lambda: len([e for e in chair.events if e[0] == "participant_joined"]) == 2)
        assert len(server.state.roster.entries(meeting_id)) == 3

        assert (await delegate.call("leave_meeting", {}))["ok"]
        await point.disconnect()
        await _wait_for(lambda: len([e for e in chair.events if e[0] == "participant_left"]) == 2)
        left_keys = {data["key"] for name, data in chair.events if name == "participant_left"}
        assert left_keys == {f"account:{ids['daibieu']}", "point:xa-ba-che"}
        assert [e.role for e in server.state.roster.entries(meeting_id)] == ["chair"]
    finally:
        for client in (chair, delegate, point, outsider):
            await client.disconnect()
