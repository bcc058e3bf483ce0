"""Bridge points at work over real Socket.IO: operator accounts, head-counts and hands, health and outages."""
from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from meetings.point_models import PointOutage
from meetings.points import attach_operator
from tests.control.conftest import POINT, Client, Room, connect_account, cookie_for
from tests.control.helpers import make_accounts
from web.auth import SESSION_COOKIE

pytestmark = pytest.mark.control
HEALTH = {"client": "agent", "media": True, "bitrate_in_kbps": 812.5, "bitrate_out_kbps": 1203, "loss_pct": 0.4,
          "rtt_ms": 23, "fps": 24.8}


async def _operator(room: Room, attach_to: str | None) -> Client:
    async with room.server.state.sessions() as session:
        (account,) = await make_accounts(session, [("kythuat", "operator", "Phạm Kỹ Thuật")])
        if attach_to:
            await attach_operator(session, "kythuat", attach_to)
    return await connect_account(room.server, account, "Phạm Kỹ Thuật", "operator")


async def test_an_attached_operator_acts_for_the_point(room: Room) -> None:
    operator = await _operator(room, POINT)
    try:
        ack = await operator.call("join_meeting", {"meeting_id": room.meeting_id})
        assert ack["ok"] and ack["me"]["key"] == f"point:{POINT}" and ack["me"]["role"] == "point"
        assert ack["me"]["name"] == "Điểm cầu UBND xã Ba Chẽ"
        await room.call("chair", "meeting_open")
        asked = await operator.call("speak_request", {"on_behalf_of": "Bà Hoàng Thị Lan", "topic": "Thủy lợi"})
        assert asked["ok"]
        queue = await room.clients["chair"].wait_for("speakers", lambda d: d["queue"])
        request = queue["queue"][0]
        assert (request["name"], request["point_id"], request["topic"]) == ("Bà Hoàng Thị Lan", POINT, "Thủy lợi")
        assert (await operator.call("headcount_report", {"headcount": 3}))["ok"]
        await room.clients["delegate"].wait_for("attendance", lambda d: any(p["headcount"] == 3 for p in d["points"]))
    finally:
        await operator.disconnect()


async def test_an_unattached_operator_waits_in_the_lobby_not_a_plain_refusal(room: Room) -> None:
    operator = await _operator(room, None)
    try:
        ack = await operator.call("join_meeting", {"meeting_id": room.meeting_id})
        assert ack["error"] == "in_lobby"
        before = await room.fingerprint()
        assert (await operator.call("headcount_report", {"headcount": 3}))["error"] == "conflict"
        assert await room.fingerprint() == before
    finally:
        await operator.disconnect()


async def test_head_count_changes_quorum_and_hands_stay_within_it(room: Room) -> None:
    await room.call("chair", "meeting_configure", {"members_total": 9})
    await room.call("chair", "meeting_open")
    assert (await room.call("point", "headcount_report", {"headcount": 5}))["ok"]
    # the chair and two delegates on their own browsers + 5 in the room = 8 of 9; quorum ⌈2/3 × 9⌉ = 6
    attendance = await room.clients["observer"].wait_for("attendance", lambda d: d["present_members"] == 8)
    assert attendance["quorum_required"] == 6 and attendance["quorum_met"]
    vote = (await room.call("chair", "vote_open", {"title": "Thông qua nghị quyết", "hand_seats": {POINT: 6}}))["vote"]
    before = await room.fingerprint()
    refused = await room.call("point", "vote_hands", {"vote_id": vote["id"], "counts": {"yes": 4, "no": 1, "abstain": 1}})
    assert refused["error"] == "above_headcount" and "5" in refused["detail"] and "(5)" in refused["message"]
    assert await room.fingerprint() == before
    assert (await room.call("point", "vote_hands", {"vote_id": vote["id"], "counts": {"yes": 4, "no": 1, "abstain": 0}}))["ok"]
    assert (await room.call("chair", "vote_cast", {"vote_id": vote["id"], "choice": "yes"}))["ok"]
    result = (await room.call("chair", "vote_close", {"vote_id": vote["id"]}))["result"]
    assert (result["yes"], result["no"], result["participated"]) == (5, 1, 6)
    at_point = next(g for g in result["by_point"] if g["point_id"] == POINT)
    assert at_point["hands"] == {"yes": 4, "no": 1, "abstain": 0} and at_point["hand_seats"] == 6


async def test_health_reaches_the_dashboard_and_bad_reports_are_refused(room: Room) -> None:
    assert (await room.call("point", "point_health", HEALTH))["ok"]
    status = await room.clients["chair"].wait_for(
        "points_status", lambda d: any(p["id"] == POINT and p["online"] for p in d["points"]))
    point = next(p for p in status["points"] if p["id"] == POINT)
    assert (point["client"], point["bitrate_out_kbps"], point["rtt_ms"], point["fps"]) == ("agent", 1203, 23, 24.8)
    others = [p for p in status["points"] if p["id"] != POINT]
    assert others and not any(p["online"] for p in others)
    snapshot = await room.call("secretary", "points_status")
    assert snapshot["ok"] and next(p for p in snapshot["points"] if p["id"] == POINT)["online"]
    assert (await room.call("delegate", "points_status"))["error"] == "forbidden"
    assert (await room.call("delegate", "point_health", HEALTH))["error"] == "forbidden"
    for bad in ({**HEALTH, "loss_pct": 101}, {**HEALTH, "client": "tv"}, {**HEALTH, "fps": True}, {**HEALTH, "x": 1}):
        ack = await room.call("point", "point_health", bad)
        assert ack["error"] == "bad_request", (bad, ack)


async def test_a_point_that_stops_reporting_goes_offline_with_an_outage(room: Room) -> None:
    await room.call("chair", "meeting_open")
    assert (await room.call("point", "point_health", HEALTH))["ok"]
    await room.clients["chair"].wait_for("points_status", lambda d: any(p["id"] == POINT and p["online"] for p in d["points"]))
    room.clients["chair"].received.clear()
    # silence (a cut link sends nothing): offline after the stale time, with an outage open
    status = await room.clients["chair"].wait_for(
        "points_status", lambda d: any(p["id"] == POINT and not p["online"] for p in d["points"]), timeout=12)
    assert next(p for p in status["points"] if p["id"] == POINT)["offline_since"]
    assert (await room.call("point", "point_health", HEALTH))["ok"]
    status = await room.clients["chair"].wait_for(
        "points_status", lambda d: any(p["id"] == POINT and p["online"] and p["outages"] == 1 for p in d["points"]))
    assert status["outages"][0]["point_id"] == POINT and status["outages"][0]["duration_s"] >= 5
    # leaving the meeting is noticed at once (so soon after the outage, it is the same one again),
    # and the history is served for the minutes
    room.clients["chair"].received.clear()
    await room.clients["point"].disconnect()
    await room.clients["chair"].wait_for("points_status", lambda d: d["outages"] and d["outages"][0]["ended_at"] is None)
    async with room.server.state.sessions() as session:
        rows = (await session.execute(select(PointOutage).order_by(PointOutage.id))).scalars().all()
    assert [r.ended_at is None for r in rows] == [True]
    for who, status_code in (("secretary", 200), ("delegate", 403)):
        cookie = await cookie_for(room.server, room.account(who), who, "delegate")
        async with aiohttp.ClientSession(headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}) as http:
            async with http.get(f"{room.server.url}/api/meetings/{room.meeting_id}/outages") as response:
                assert response.status == status_code
                if status_code == 200:
                    body = await response.json()
                    assert [o["name"] for o in body["outages"]] == ["Điểm cầu UBND xã Ba Chẽ"]


async def test_the_console_and_the_screen_of_a_point_talk_through_the_server(room: Room) -> None:
    from tests.control.conftest import point_token

    console = Client()
    await console.connect(room.server.url, auth={"token": await point_token(room.server, POINT)}, transports=["websocket"], wait_timeout=10)
    try:
        joined = await console.call("join_meeting", {"meeting_id": room.meeting_id, "console": True})
        assert joined["ok"] and joined["me"]["console"] is True
        # a join after the console's: once the delegate hears of it, it has heard of everything before
        assert (await room.call("point", "leave_meeting"))["ok"]
        assert (await room.call("point", "join_meeting", {"meeting_id": room.meeting_id}))["ok"]
        screen = room.clients["point"].get_sid()
        await room.clients["delegate"].wait_for("participants", lambda d: any(e["peer_id"] == screen for e in d["joined"]))
        heard = [e["peer_id"] for event, d in room.clients["delegate"].received if event == "participants" for e in d["joined"]]
        assert console.get_sid() not in heard
        refused = await room.clients["delegate"].call("join_meeting", {"meeting_id": room.meeting_id, "console": True})
        assert refused["error"] == "bad_request"
        ack = await console.call("point_command", {"command": "mic", "on": False})
        assert ack == {"ok": True, "delivered": 1}
        command = await room.clients["point"].wait_for("point_command")
        assert command == {"meeting_id": room.meeting_id, "command": "mic", "on": False}
        devices = {"devices": [{"kind": "audioinput", "device_id": "d1", "label": "Micrô phòng họp"}], "mic": False, "camera": True}
        assert (await room.call("point", "point_devices", devices))["ok"]
        assert (await console.wait_for("point_devices"))["devices"][0]["label"] == "Micrô phòng họp"
        assert (await console.call("point_command", {"command": "device", "kind": "audio"}))["error"] == "bad_request"
        assert (await room.call("delegate", "point_command", {"command": "report"}))["error"] == "forbidden"
        assert not any(e == "point_command" for e, _ in room.clients["delegate"].received)
    finally:
        await console.disconnect()


async def test_an_outage_right_after_another_is_the_same_outage(db_sessions) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta, timezone

    from meetings.points import outage_ended, outage_started, outages
    from tests.control.helpers import make_world

    world = await make_world(db_sessions)
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    async with db_sessions() as session:
        await outage_started(session, world.meeting_id, POINT, t0)
        await outage_ended(session, world.meeting_id, POINT, t0 + timedelta(seconds=20))
        await outage_started(session, world.meeting_id, POINT, t0 + timedelta(seconds=21))  # the old link's last gasp
        await outage_ended(session, world.meeting_id, POINT, t0 + timedelta(seconds=25))
        await outage_started(session, world.meeting_id, POINT, t0 + timedelta(seconds=60))  # a new cut
        history = await outages(session, world.meeting_id)
    assert [(o["duration_s"], o["ended_at"] is None) for o in history] == [(25, False), (None, True)]
