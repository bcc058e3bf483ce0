"""The Socket.IO front door (web/socket_guard.py) over real connections: reserved and unknown
events, values no handler can store, packets that do not decode, refused connections, and a
flood from one delegate while another member keeps working."""
from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp
import pytest

from tests.conftest import RunningServer
from tests.control.conftest import Room, cookie_for
from web.auth import SESSION_COOKIE

pytestmark = [pytest.mark.control, pytest.mark.security]


async def _raw(server: RunningServer, cookie: str | None) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """A websocket speaking Engine.IO/Socket.IO by hand, as a hostile client would."""
    http = aiohttp.ClientSession()
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    ws = await http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket", headers=headers)
    opened = await ws.receive_str(timeout=10)
    assert opened.startswith("0{")
    return http, ws


async def _connected(server: RunningServer, room: Room, who: str = "delegate2"):  # type: ignore[no-untyped-def]
    cookie = await cookie_for(server, room.account(who), who, "delegate")
    http, ws = await _raw(server, cookie)
    await ws.send_str("40")
    while not (await ws.receive_str(timeout=10)).startswith("40"):
        pass
    return http, ws


async def _ack(ws: aiohttp.ClientWebSocketResponse, ack_id: int) -> dict:
    while True:
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        if message.data.startswith(f"43{ack_id}["):
            return json.loads(message.data[len(f"43{ack_id}"):])[0]


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> bool:
    """Whether the server closes the websocket (skipping what it sends before)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = await ws.receive(timeout=10)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return True
    return False


async def test_reserved_unknown_and_unstorable_events_get_clear_errors(server: RunningServer, room: Room):
    before = await room.fingerprint()
    gauge = server.state.metrics.socket_connections._value.get()
    http, ws = await _connected(server, room)
    payloads = {
        1: ["disconnect", {}],
        2: ["connect", {}, {}],
        3: ["no_such_event", {}],
        4: ["control_state", {"meeting_id": 10**20}],
        5: ["agenda_add", {"meeting_id": room.meeting_id, "title": "\ud800"}],
        6: ["agenda_add", {"meeting_id": room.meeting_id, "title": "a\x00b"}],
        7: ["control_state", {"x": _nested(20)}],
    }
    expected = {1: "bad_request", 2: "bad_request", 3: "unknown_event", 4: "bad_request", 5: "bad_request",
                6: "bad_request", 7: "bad_request"}
    for ack_id, data in payloads.items():
        # json.dumps keeps the lone surrogate as \ud800, as a hostile client would send it
        await ws.send_str(f"42{ack_id}" + json.dumps(data))
        answer = await _ack(ws, ack_id)
        assert answer["ok"] is False and answer["error"] == expected[ack_id], (data, answer)
        assert answer["message"]
    out_of_range = await _send_and_ack(ws, 8, ["control_state", {"meeting_id": -(2**63)}])
    assert "integer out of range" in out_of_range["detail"] and out_of_range["message"] == "Yêu cầu không hợp lệ."
    # the connection still works, the connections gauge never went down, nothing changed
    assert (await _send_and_ack(ws, 9, ["control_state", {"meeting_id": room.meeting_id}]))["ok"] is False  # not joined
    assert server.state.metrics.socket_connections._value.get() == gauge + 1
    assert await room.fingerprint() == before
    await ws.close()
    await http.close()


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


async def _send_and_ack(ws: aiohttp.ClientWebSocketResponse, ack_id: int, data: list) -> dict:
    await ws.send_str(f"42{ack_id}" + json.dumps(data))
    return await _ack(ws, ack_id)


@pytest.mark.parametrize("packet", [
    '42["control_state", {',           # broken JSON
    "42[" + "1" * 4400 + "]",          # an integer Python refuses to parse
    "42" + "[" * 50000 + "]" * 50000,  # nesting deeper than the parser's stack
    "451-[\"control_state\",{\"_placeholder\":true,\"num\":0}]",  # binary event
    "49",                              # no such Socket.IO packet type
])
async def test_undecodable_packets_close_that_connection_and_are_logged_once(server: RunningServer, room: Room,
                                                                             packet: str, caplog):
    http, ws = await _connected(server, room)
    caplog.set_level(logging.WARNING, logger="hoinghi.socket")
    await ws.send_str(packet)
    await ws.send_str(packet)  # the second is never read: the connection is gone
    assert await _closed(ws)
    assert len([r for r in caplog.records if r.name == "hoinghi.socket"]) == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback
    # the others are unaffected
    assert (await room.call("delegate", "control_state", {"meeting_id": room.meeting_id}))["ok"]
    await http.close()


@pytest.mark.parametrize("frame", [
    "",                      # an empty frame
    "x",                     # no Engine.IO packet type
    "bQ",                    # base64 with broken padding
    "4" + "[" * 50000,       # a message nested deeper than the parser's stack
])
async def test_engineio_frames_that_do_not_decode_close_that_connection(server: RunningServer, room: Room,
                                                                        frame: str, caplog):
    """Below Socket.IO: the frame is counted, logged once without a traceback, the websocket closed."""
    refused = server.state.metrics.socket_refused.labels("engineio_malformed")
    before = refused._value.get()
    http, ws = await _connected(server, room)
    caplog.set_level(logging.INFO)
    await ws.send_str(frame)
    await ws.send_str(frame)
    assert await _closed(ws)
    assert refused._value.get() == before + 1
    assert len([r for r in caplog.records if r.name == "hoinghi.socket"]) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.records
    assert (await room.call("delegate", "control_state", {"meeting_id": room.meeting_id}))["ok"]
    await http.close()


async def test_a_polling_body_that_does_not_decode_ends_the_session(server: RunningServer, room: Room, caplog):
    refused = server.state.metrics.socket_refused.labels("engineio_malformed")
    before = refused._value.get()
    cookie = await cookie_for(server, room.account("delegate2"), "delegate2", "delegate")
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession(headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}) as http:
        base = f"{server.url}/socket.io/?EIO=4&transport=polling"
        async with http.get(base) as response:
            sid = json.loads((await response.text())[1:])["sid"]
        for body in (b"\xff\xfe4", b"4" + b"[" * 50000):
            async with http.post(f"{base}&sid={sid}", data=body, headers={"Content-Type": "text/plain"}) as response:
                assert response.status == 400
            async with http.get(f"{base}&sid={sid}") as response:
                assert response.status == 400  # the session is gone
            async with http.get(base) as response:
                sid = json.loads((await response.text())[1:])["sid"]
    assert refused._value.get() == before + 2
    assert len([r for r in caplog.records if r.name == "hoinghi.socket"]) == 2
    # no traceback (engineio itself logs the test's GET on the ended session once, as "Invalid session")
    assert not [r for r in caplog.records if r.exc_info or "handler error" in r.getMessage()], caplog.records


async def test_a_refused_connection_is_closed_at_once(server: RunningServer, room: Room):
    http, ws = await _raw(server, cookie=None)
    await ws.send_str("40")
    refused = await ws.receive_str(timeout=10)
    assert refused.startswith("44") and "unauthorized" in refused
    assert await _closed(ws)
    await http.close()


async def test_a_flood_from_one_delegate_leaves_other_members_and_the_pool_alone(server: RunningServer,
                                                                                room: Room, caplog):
    caplog.set_level(logging.WARNING)
    http, ws = await _connected(server, room, "delegate2")
    await ws.send_str("420" + json.dumps(["join_meeting", {"meeting_id": room.meeting_id}]))
    assert (await _ack(ws, 0))["ok"]
    frame = json.dumps(["control_state", {"meeting_id": room.meeting_id}])

    async def flood() -> int:
        sent = 0
        try:
            for _ in range(20000):
                await ws.send_str("42" + frame)
                sent += 1
        except (ConnectionResetError, aiohttp.ClientError, RuntimeError):
            pass
        return sent

    flooding = asyncio.create_task(flood())
    answers = []
    for _ in range(20):  # another member keeps working meanwhile
        ack = await asyncio.wait_for(room.call("delegate", "control_state", {"meeting_id": room.meeting_id}), 10)
        answers.append(ack["ok"])
        async with aiohttp.ClientSession() as health:
            async with health.get(f"{server.url}/healthz", timeout=aiohttp.ClientTimeout(total=10)) as response:
                assert response.status == 200
    await flooding
    assert all(answers)
    assert await _closed(ws)  # the flooder was cut off
    refused = server.state.metrics.socket_refused
    assert refused.labels("flood")._value.get() == 1
    assert not [r for r in caplog.records if "QueuePool" in r.getMessage() or "internal_error" in r.getMessage()]
    await http.close()
