"""End-to-end control flows over Socket.IO and HTTP: broadcasts, floor, documents, moderation, audit."""
from __future__ import annotations

import hashlib

import aiohttp
import pytest

from tests.control.conftest import POINT, Room, connect_account, cookie_for
from web.auth import SESSION_COOKIE
from web.csrf import token_for_session

pytestmark = pytest.mark.control


async def test_changes_reach_every_page_after_the_ack(room: Room) -> None:
    assert (await room.call("chair", "meeting_open"))["ok"]
    ack = await room.call("secretary", "agenda_add", {"title": "Báo cáo kinh tế – xã hội quý IV", "presenter": "Sở Tài chính"})
    for who, client in room.clients.items():
        agenda = await client.wait_for("agenda", lambda d: d["items"])
        assert agenda["items"][0]["title"] == "Báo cáo kinh tế – xã hội quý IV", who
        events = [e for e, _ in client.received]
        assert "meeting_state" in events
    assert (await room.call("chair", "agenda_set_current", {"item_id": ack["item_id"]}))["ok"]
    await room.clients["delegate"].wait_for("agenda", lambda d: d["current_item_id"] == ack["item_id"])
    state = await room.call("observer", "control_state")
    assert state["ok"] and state["meeting"]["status"] == "open" and state["agenda"]["current_item_id"] == ack["item_id"]
    assert state["me"]["capacity"] == "observer"


async def test_floor_unmutes_through_the_media_hook_and_times_out(room: Room) -> None:
    calls: list[tuple[int, str, bool]] = []

    async def media_floor(meeting_id: int, key: str, allowed: bool) -> None:
        calls.append((meeting_id, key, allowed))

    room.server.state.media_floor = media_floor
    await room.call("chair", "meeting_open")
    r1 = (await room.call("point", "speak_request", {"on_behalf_of": "Ông Nguyễn Văn Dân", "topic": "Giao thông"}))["request_id"]
    r2 = (await room.call("delegate", "speak_request", {}))["request_id"]
    queue = await room.clients["observer"].wait_for("speakers", lambda d: len(d["queue"]) == 2)
    assert [q["name"] for q in queue["queue"]][0] == "Ông Nguyễn Văn Dân"
    granted = await room.call("chair", "speak_grant", {"request_id": r1, "time_limit_s": 1})
    assert granted["ok"] and granted["deadline_ms"]
    floor = await room.clients["delegate"].wait_for("speakers", lambda d: d["floor"] is not None)
    assert floor["floor"]["requester"] == f"point:{POINT}" and floor["floor"]["deadline_ms"] == granted["deadline_ms"]
    # The time limit ends the turn and mutes the point again.
    room.clients["delegate"].received.clear()
    await room.clients["delegate"].wait_for("speakers", lambda d: d["floor"] is None and len(d["queue"]) == 1, timeout=5)
    assert calls == [(room.meeting_id, f"point:{POINT}", True), (room.meeting_id, f"point:{POINT}", False)]
    assert (await room.call("chair", "speak_grant", {"request_id": r2, "time_limit_s": 0}))["ok"]
    assert (await room.call("delegate", "speak_end", {}))["ok"]  # the speaker yields
    assert calls[-2:] == [(room.meeting_id, room.key("delegate"), True), (room.meeting_id, room.key("delegate"), False)]


def one_page_pdf(text: str) -> bytes:
    """A real PDF (reportlab): uploads are parsed, so a file that merely starts with %PDF- fails."""
    import io

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.save()
    return out.getvalue()


async def test_documents_upload_hash_and_download(room: Room, tmp_path) -> None:  # type: ignore[no-untyped-def]
    item = (await room.call("secretary", "agenda_add", {"title": "Tờ trình"}))["item_id"]
    pdf = one_page_pdf("Tờ trình")
    url = f"{room.server.url}/api/meetings/{room.meeting_id}/agenda/{item}/documents"

    async def http(who_id: int) -> aiohttp.ClientSession:
        cookie = await cookie_for(room.server, who_id, "x", "secretary")
        csrf = token_for_session(room.server.app, cookie)  # a multipart POST needs the session's token
        return aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie}, headers={"X-CSRF-Token": csrf})

    async with await http(room.account("secretary")) as s:
        form = aiohttp.FormData()
        form.add_field("file", pdf, filename="Tờ trình số 12.pdf", content_type="application/pdf")
        async with s.post(url, data=form) as response:
            body = await response.json()
            assert response.status == 200, body
        doc = body["document"]
        assert doc["sha256"] == hashlib.sha256(pdf).hexdigest()
        form = aiohttp.FormData()
        form.add_field("file", b"<html>not a pdf", filename="x.pdf")
        async with s.post(url, data=form) as response:
            assert response.status == 400
    async with await http(room.account("delegate")) as s:
        form = aiohttp.FormData()
        form.add_field("file", pdf, filename="x.pdf")
        async with s.post(url, data=form) as response:
            assert response.status == 403
        async with s.get(f"{room.server.url}{doc['url']}") as response:
            assert response.status == 200 and await response.read() == pdf
            assert response.headers["X-Content-SHA256"] == doc["sha256"]
    async with await http(room.guest) as s:  # not in the meeting
        async with s.get(f"{room.server.url}{doc['url']}") as response:
            assert response.status == 403
    agenda = await room.clients["delegate"].wait_for("agenda", lambda d: d["items"] and d["items"][0]["documents"])
    assert agenda["items"][0]["documents"][0]["filename"] == "Tờ trình số 12.pdf"


async def test_remove_lock_lobby_and_audit(room: Room) -> None:
    await room.call("chair", "meeting_open")
    assert (await room.call("chair", "moderate_mute", {"target": room.key("delegate2")}))["ok"]
    await room.clients["delegate2"].wait_for("mute_requested")
    assert (await room.call("chair", "moderate_remove", {"target": room.key("delegate2")}))["ok"]
    await room.clients["delegate2"].wait_for("removed")
    again = await room.clients["delegate2"].call("join_meeting", {"meeting_id": room.meeting_id})
    assert again["error"] == "forbidden"
    assert (await room.call("chair", "moderate_remove", {"target": room.key("chair")}))["error"] in ("conflict",)
    assert (await room.call("chair", "meeting_lock", {"locked": True}))["ok"]
    guest = await connect_account(room.server, room.guest, "Khách Mời Chờ")
    try:
        refused = await guest.call("join_meeting", {"meeting_id": room.meeting_id})
        assert refused["error"] == "forbidden" and "locked" in refused["detail"]
        assert (await room.call("chair", "meeting_lock", {"locked": False}))["ok"]
        assert (await guest.call("join_meeting", {"meeting_id": room.meeting_id}))["error"] == "in_lobby"
        waiting = await room.clients["secretary"].wait_for("lobby", lambda d: d["waiting"])
        assert (await room.call("secretary", "lobby_admit", {"peer_id": waiting["waiting"][0]["peer_id"]}))["ok"]
        await guest.wait_for("lobby_admitted")
        joined = await guest.call("join_meeting", {"meeting_id": room.meeting_id})
        assert joined["ok"] and joined["me"]["role"] == "observer"
    finally:
        await guest.disconnect()
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: await cookie_for(room.server, room.account("chair"), "c", "chair")}) as s:
        async with s.get(f"{room.server.url}/api/meetings/{room.meeting_id}/audit") as response:
            log = await response.json()
    assert log["verified"] and [e["action"] for e in log["entries"]][:3] == ["meeting_open", "moderate_mute", "moderate_remove"]
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: await cookie_for(room.server, room.account("delegate"), "d", "delegate")}) as s:
        async with s.get(f"{room.server.url}/api/meetings/{room.meeting_id}/audit") as response:
            assert response.status == 403


async def test_headcount_and_attendance_broadcast(room: Room) -> None:
    assert (await room.call("point", "headcount_report", {"headcount": 2}))["ok"]
    attendance = await room.clients["chair"].wait_for(
        "attendance", lambda d: any(p["id"] == POINT and p["headcount"] == 2 for p in d["points"]))
    # Members: chair + 2 delegates; present: 2 at the point + chair and delegates in browsers, capped.
    assert attendance["members_total"] == 3 and attendance["quorum_met"]
