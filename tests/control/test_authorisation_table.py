"""Every Socket.IO event × every role, over real connections, against web/permissions.py.

The rule of an event is checked before its payload, so a payload with one unknown field
tells the two apart: a role the table refuses gets `forbidden` (or `conflict` before joining a
meeting, for events inside one), a role it admits gets `bad_request` from the validation
that comes next. Every refused call leaves the database and the server's memory as they were.
"""
from __future__ import annotations


import pytest
import socketio

from meetings.point_models import OperatorPoint
from tests.control.conftest import POINT, Client, Room, connect_account
from tests.control.helpers import make_accounts
from web.permissions import SOCKET_EVENTS, allowed, capacity_allows

pytestmark = [pytest.mark.control, pytest.mark.security]

# The role of each connection, and its capacity in the room's meeting once joined.
CAPACITY = {"chair": "chair", "secretary": "secretary", "delegate": "delegate", "observer": "observer",
            "admin": "admin", "point": "point", "operator": "point"}
ROLE = {**{who: who for who in CAPACITY}, "point": "point"}
BAD = {"unknown_field_from_the_test": 1}


async def _operator(room: Room) -> int:
    """An operator account attached to the invited point: it takes part as the point."""
    async with room.server.state.sessions() as session:
        (operator,) = await make_accounts(session, [("kythuat", "operator", "Kỹ Thuật Viên")])
        session.add(OperatorPoint(account_id=operator, point_id=POINT))
        await session.commit()
    return operator


def expected(event: str, role: str, joined: bool) -> str:
    rule = SOCKET_EVENTS[event]
    if not allowed(ROLE[role], rule.action):
        return "forbidden"
    if rule.in_meeting is None:
        return "bad_request"
    if not joined:
        return "conflict"
    return "bad_request" if capacity_allows(CAPACITY[role], rule.in_meeting) else "forbidden"


def test_every_registered_event_is_in_the_table(room: Room) -> None:
    handlers = set(room.server.state.sio.handlers["/"]) - {"connect", "disconnect"}
    assert handlers == set(SOCKET_EVENTS)


async def test_every_event_for_every_role(room: Room) -> None:
    operator = await _operator(room)
    room.clients["operator"] = await connect_account(room.server, operator, "Kỹ Thuật Viên", role="operator")
    # a second connection of each account, in no meeting
    fresh = {who: await connect_account(room.server, room.account(who), "x", role=who)
             for who in ("chair", "secretary", "delegate", "observer", "admin")}
    fresh["operator"] = await connect_account(room.server, operator, "Kỹ Thuật Viên", role="operator")
    try:
        assert (await room.call("operator", "join_meeting", {"meeting_id": room.meeting_id}))["ok"]
        db, mem = await room.fingerprint(), room.memory()
        for event in sorted(SOCKET_EVENTS):
            for who in CAPACITY:
                for joined, client in ((True, room.clients[who]), (False, fresh.get(who))):
                    if client is None:
                        continue
                    ack = await client.call(event, BAD, timeout=30)
                    want = expected(event, who, joined)
                    assert ack["ok"] is False and ack["error"] == want, (event, who, joined, ack)
                    assert isinstance(ack["message"], str) and ack["message"], ack
        assert await room.fingerprint() == db
        assert room.memory() == mem
    finally:
        for client in fresh.values():
            await client.disconnect()


async def test_anonymous_cannot_connect(room: Room) -> None:
    anonymous = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await anonymous.connect(room.server.url, transports=["websocket"], wait_timeout=10)
    bad_token = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await bad_token.connect(room.server.url, auth={"token": "hnp_not-a-token"}, transports=["websocket"], wait_timeout=10)


async def test_a_password_to_change_first_refuses_every_event(room: Room) -> None:
    from sqlalchemy import update

    from meetings.models import Account

    async with room.server.state.sessions() as session:
        await session.execute(update(Account).where(Account.id == room.account("delegate2")).values(must_change_password=True))
        await session.commit()
    from tests.control.conftest import cookie_for
    from web.auth import SESSION_COOKIE

    client = Client()
    cookie = await cookie_for(room.server, room.account("delegate2"), "x", "delegate")
    await client.connect(room.server.url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, transports=["websocket"])
    try:
        before = await room.fingerprint()
        for event in SOCKET_EVENTS:
            ack = await client.call(event, {"meeting_id": room.meeting_id}, timeout=30)
            assert ack["error"] == "must_change_password", (event, ack)
        assert await room.fingerprint() == before
    finally:
        await client.disconnect()


async def test_acks_speak_the_connections_language(room: Room) -> None:
    from tests.control.conftest import cookie_for
    from web.auth import SESSION_COOKIE
    from web.i18n import LANG_COOKIE

    cookie = await cookie_for(room.server, room.account("delegate2"), "x", "delegate")
    english = Client()
    await english.connect(room.server.url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}; {LANG_COOKIE}=en"},
                          transports=["websocket"])
    try:
        ack = await english.call("join_meeting", {"meeting_id": "12"})
        assert ack["error"] == "bad_request" and ack["message"] == "The request is not valid."
        assert ack["fields"] == [{"field": "meeting_id", "code": "invalid_value", "params": {}, "message": "Not a valid value."}]
        vi = await room.call("delegate", "meeting_open")
        assert vi["error"] == "forbidden" and vi["message"] == "Bạn không có quyền làm việc này."
        assert vi["detail"] == "meeting_open is not allowed for delegate"
    finally:
        await english.disconnect()

