"""Permission matrix: every control event × every capacity, over real Socket.IO connections.

For each event the preconditions are made (by the events themselves), then every capacity
that must be refused sends a valid payload: the ack is `forbidden` and no table changes.
Then the capacities that may send it do, and succeed.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest

from tests.control.conftest import POINT, ROLES, Client, Room, connect_account

pytestmark = [pytest.mark.control, pytest.mark.security]


async def _ok(room: Room, who: str, event: str, payload: Any = None) -> Any:
    ack = await room.call(who, event, payload)
    assert ack["ok"], (who, event, ack)
    return ack


async def _opened(room: Room) -> dict[str, Any]:
    await _ok(room, "chair", "meeting_open")
    return {}


async def _items(room: Room) -> dict[str, Any]:
    await _opened(room)
    a = (await _ok(room, "secretary", "agenda_add", {"title": "Mục 1"}))["item_id"]
    b = (await _ok(room, "secretary", "agenda_add", {"title": "Mục 2"}))["item_id"]
    return {"a": a, "b": b}


async def _queued(room: Room) -> dict[str, Any]:
    await _opened(room)
    return {"r": (await _ok(room, "delegate", "speak_request", {"topic": "Góp ý"}))["request_id"]}


async def _speaking(room: Room) -> dict[str, Any]:
    ctx = await _queued(room)
    await _ok(room, "chair", "speak_grant", {"request_id": ctx["r"], "time_limit_s": 60})
    return ctx


async def _vote(room: Room) -> dict[str, Any]:
    await _opened(room)
    ack = await _ok(room, "chair", "vote_open", {"title": "Biểu quyết", "hand_seats": {POINT: 5}})
    return {"v": ack["vote"]["id"]}


async def _lobby(room: Room) -> dict[str, Any]:
    guest = await connect_account(room.server, room.guest, "Khách Mời Chờ")
    room.clients["guest"] = guest
    ack = await guest.call("join_meeting", {"meeting_id": room.meeting_id})
    assert ack["error"] == "in_lobby"
    waiting = await room.clients["chair"].wait_for("lobby", lambda d: d["waiting"])
    assert waiting["waiting"][0]["peer_id"] == guest.get_sid()
    return {"peer": guest.get_sid()}


Setup = Callable[[Room], Awaitable[dict[str, Any]]]


async def _none(room: Room) -> dict[str, Any]:
    return {}


# event: (setup, payload from context, capacities that may send it with this payload)
MATRIX: dict[str, tuple[Setup, Callable[[dict[str, Any], Room], Any], tuple[str, ...]]] = {
    "control_state": (_none, lambda c, r: {}, ROLES),
    "meeting_open": (_none, lambda c, r: {}, ("chair", "secretary")),
    "meeting_close": (_opened, lambda c, r: {}, ("chair",)),
    "meeting_lock": (_none, lambda c, r: {"locked": True}, ("chair",)),
    "meeting_configure": (_none, lambda c, r: {"members_total": 12}, ("chair", "secretary")),
    "agenda_add": (_none, lambda c, r: {"title": "Báo cáo tình hình", "planned_minutes": 15}, ("chair", "secretary")),
    "agenda_update": (_items, lambda c, r: {"item_id": c["a"], "title": "Mục một"}, ("chair", "secretary")),
    "agenda_remove": (_items, lambda c, r: {"item_id": c["a"]}, ("chair", "secretary")),
    "agenda_reorder": (_items, lambda c, r: {"order": [c["b"], c["a"]]}, ("chair", "secretary")),
    "agenda_set_current": (_items, lambda c, r: {"item_id": c["a"]}, ("chair",)),
    "speak_request": (_opened, lambda c, r: {"topic": "Ý kiến"}, ("delegate", "point")),
    "speak_withdraw": (_queued, lambda c, r: {"request_id": c["r"]}, ("delegate",)),
    "speak_grant": (_queued, lambda c, r: {"request_id": c["r"]}, ("chair",)),
    "speak_deny": (_queued, lambda c, r: {"request_id": c["r"]}, ("chair",)),
    "speak_end": (_speaking, lambda c, r: {"request_id": c["r"]}, ("chair", "delegate")),
    "vote_open": (_opened, lambda c, r: {"title": "Thông qua", "secret": True}, ("chair",)),
    "vote_cast": (_vote, lambda c, r: {"vote_id": c["v"], "choice": "yes"}, ("chair", "delegate")),
    "vote_hands": (_vote, lambda c, r: {"vote_id": c["v"], "counts": {"yes": 3, "no": 1, "abstain": 0}}, ("point",)),
    "vote_close": (_vote, lambda c, r: {"vote_id": c["v"]}, ("chair",)),
    "vote_cancel": (_vote, lambda c, r: {"vote_id": c["v"]}, ("chair",)),
    "headcount_report": (_none, lambda c, r: {"headcount": 7}, ("point",)),
    "moderate_mute": (_opened, lambda c, r: {"target": r.key("delegate2")}, ("chair",)),
    "moderate_remove": (_none, lambda c, r: {"target": r.key("delegate2")}, ("chair",)),
    "lobby_admit": (_lobby, lambda c, r: {"peer_id": c["peer"]}, ("chair", "secretary")),
    "lobby_reject": (_lobby, lambda c, r: {"peer_id": c["peer"]}, ("chair", "secretary")),
}


def test_the_matrix_covers_every_event() -> None:
    from web.control.handlers import EVENTS

    assert set(MATRIX) == set(EVENTS)


@pytest.mark.parametrize("event", sorted(MATRIX))
async def test_permission_matrix(room: Room, event: str) -> None:
    setup, make_payload, allowed = MATRIX[event]
    context = await setup(room)
    payload = make_payload(context, room)
    before = await room.fingerprint()
    for who in ROLES:
        if who in allowed:
            continue
        ack = await room.call(who, event, payload)
        assert (ack["ok"], ack["error"]) == (False, "forbidden"), (who, event, ack)
        assert ack["message"] == "Bạn không có quyền làm việc này.", ack  # the connection's language
        assert await room.fingerprint() == before, (who, event)
    first, *others = allowed
    ack = await room.call(first, event, payload)
    assert ack["ok"], (first, event, ack)
    for who in others:  # the state has moved on: the others may get conflict, never forbidden
        ack = await room.call(who, event, payload)
        assert ack["ok"] or ack["error"] not in ("forbidden", "bad_request"), (who, event, ack)


async def test_events_need_a_joined_meeting(room: Room) -> None:
    outsider = Client()
    from tests.control.conftest import cookie_for
    from web.auth import SESSION_COOKIE

    cookie = await cookie_for(room.server, room.guest, "x", "delegate")
    await outsider.connect(room.server.url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, transports=["websocket"])
    try:
        before = await room.fingerprint()
        for event in MATRIX:
            ack = await outsider.call(event, {}, timeout=10)
            assert not ack["ok"] and ack["error"] in ("conflict", "bad_request"), (event, ack)
        assert await room.fingerprint() == before
    finally:
        await outsider.disconnect()
