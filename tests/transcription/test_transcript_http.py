"""The transcript over HTTP and Socket.IO on a server without a model: page, search, corrections, exports."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import aiohttp
from yarl import URL

from meetings import agenda, moderation, transcript
from meetings.models import utcnow
from tests.api_client import ApiClient
from tests.conftest import RunningServer
from tests.control.conftest import connect_account, cookie_for
from tests.control.helpers import World, make_accounts, make_world
from web.auth import SESSION_COOKIE


async def _world(server: RunningServer) -> tuple[World, int, int]:
    world = await make_world(server.state.sessions)
    async with server.state.sessions() as session:
        await moderation.open_meeting(session, world.caller(world.chair), world.meeting_id)
        item = await agenda.add_item(session, world.caller(world.secretary), world.meeting_id, "Kế hoạch đầu tư công")
        await agenda.set_current(session, world.caller(world.chair), world.meeting_id, item)
        source = f"account:{world.delegates[1]}"
        speaker = await transcript.attribute(session, world.meeting_id, source)
        start = utcnow()
        seg = await transcript.commit_segment(
            session, world.meeting_id, source, speaker, start, start + timedelta(seconds=2.5),
            "Về kế hoạch đầu tư công năm 2027", [transcript.Word("Về", 0.1, 0.3, 0.9)])
        await transcript.commit_segment(session, world.meeting_id, source, speaker, start + timedelta(seconds=3),
                                        start + timedelta(seconds=4.5), "behind", kind="gap")
        await session.commit()
    return world, item, seg["id"]


async def _http(server: RunningServer, account_id: int, name: str, role: str) -> aiohttp.ClientSession:
    cookie = await cookie_for(server, account_id, name, role)
    return aiohttp.ClientSession(headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})


async def test_transcription_is_off_without_a_model_and_the_page_says_so(server: RunningServer) -> None:
    world, _, _ = await _world(server)
    async with await _http(server, world.secretary, "Thư ký", "secretary") as http:
        async with http.get(f"{server.url}/api/transcription") as response:
            assert await response.json() == {"enabled": False, "off_reason": "no_model"}
        async with http.get(f"{server.url}/meetings/{world.meeting_id}/transcript") as response:
            page = await response.text()
    assert "máy chủ chưa cài mô hình nhận dạng giọng nói" in page


async def test_the_off_notice_is_logged_once(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    from meetings.config import load_rooms_config
    from tests.conftest import SAMPLE_ROOMS
    from web.app import create_app
    from web.settings import Settings
    from aiohttp import web

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("hoinghi.captions").addHandler(handler)
    try:
        settings = Settings.build(config_path=SAMPLE_ROOMS, data_dir=tmp_path / "d", database_url=database_url)
        runner = web.AppRunner(create_app(settings, load_rooms_config(SAMPLE_ROOMS)))
        await runner.setup()
        await runner.cleanup()
    finally:
        logging.getLogger("hoinghi.captions").removeHandler(handler)
    off = [r for r in records if "transcription off" in r.getMessage()]
    assert len(off) == 1 and "hoinghi model install vi-small" in off[0].getMessage()


async def test_page_search_and_permissions(server: RunningServer) -> None:
    world, item, seg_id = await _world(server)
    async with server.state.sessions() as session:
        (outsider,) = await make_accounts(session, [("ngoai", "delegate", "Người Ngoài")])
    base = f"{server.url}/meetings/{world.meeting_id}/transcript"
    async with await _http(server, world.delegates[2], world.names[world.delegates[2]], "delegate") as http:
        async with http.get(base) as response:
            assert response.status == 200
            page = await response.text()
        assert "Mục 1. Kế hoạch đầu tư công" in page and "Về kế hoạch đầu tư công năm 2027" in page
        assert "Không nhận dạng 1,5 giây âm thanh" in page
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript", params={"q": "KE HOACH dau tu"}) as response:
            found = (await response.json())["segments"]
        assert [s["id"] for s in found] == [seg_id]
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript", params={"item": str(item)}) as response:
            assert len((await response.json())["segments"]) == 2
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript", params={"item": "x"}) as response:
            assert response.status == 400 and "item:" in (await response.json())["message"]
        async with http.get(f"{base}?q=khong+co+gi") as response:
            assert "0 đoạn khớp" in await response.text()
    async with await _http(server, outsider, "Người Ngoài", "delegate") as http:
        async with http.get(base) as response:
            assert response.status == 403
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript.txt") as response:
            assert response.status == 403


async def test_the_secretary_corrects_and_watchers_hear_of_it(server: RunningServer) -> None:
    world, _, seg_id = await _world(server)
    url = f"{server.url}/api/meetings/{world.meeting_id}/transcript/{seg_id}"
    watcher = await connect_account(server, world.delegates[2], world.names[world.delegates[2]])
    assert (await watcher.call("transcript_watch", {"meeting_id": world.meeting_id}))["ok"]
    assert (await watcher.call("transcript_watch", {"meeting_id": "1"}))["error"] == "bad_request"
    try:
        async with await _http(server, world.delegates[1], "x", "delegate") as http:
            async with http.post(url, json={"text": "sửa"}) as response:
                assert response.status == 403
        async with await _http(server, world.secretary, world.names[world.secretary], "secretary") as http:
            for body, message in (({"text": 5}, "strings"), ({"speaker_account_id": "3"}, "account id"),
                                  ({}, "nothing to change"), ({"text": " "}, "must not be empty")):
                async with http.post(url, json=body) as response:
                    assert response.status == 400 and message in (await response.json())["message"], body
            async with http.post(url, data=b"[1]", headers={"Content-Type": "application/json"}) as response:
                assert response.status == 400
            async with http.post(url, json={"text": "Về kế hoạch đầu tư công năm 2028",
                                            "speaker_account_id": world.delegates[3]}) as response:
                assert response.status == 200
                segment = (await response.json())["segment"]
        assert segment["original_text"] == "Về kế hoạch đầu tư công năm 2027"
        assert segment["speaker"] == world.names[world.delegates[3]]
        event = await watcher.wait_for("transcript_corrected", lambda d: d["segment"]["id"] == seg_id)
        assert event["segment"]["text"].endswith("2028")
    finally:
        await watcher.disconnect()


async def test_exports(server: RunningServer) -> None:
    world, _, _ = await _world(server)
    name = world.names[world.delegates[1]]
    async with await _http(server, world.secretary, "Thư ký", "secretary") as http:
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript.vtt") as response:
            vtt = await response.text()
            assert response.content_type == "text/vtt"
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript.txt?lang=en") as response:
            txt = await response.text()
        async with http.get(f"{server.url}/api/meetings/{world.meeting_id}/transcript.json") as response:
            data = json.loads(await response.text())
    lines = vtt.splitlines()
    assert lines[0] == "WEBVTT" and lines[2] == "1"
    start, arrow, end = lines[3].split()
    assert arrow == "-->" and start < end and len(start) == len("00:00:00.000")
    assert lines[4] == f"<v {name}>Về kế hoạch đầu tư công năm 2027" and "behind" not in vtt
    assert "Item 1. Kế hoạch đầu tư công" in txt and f"] {name}: Về kế hoạch" in txt
    assert "[1.5 s of audio not recognised: the server was overloaded]" in txt
    assert [s["kind"] for s in data["segments"]] == ["speech", "gap"] and data["agenda"][0]["title"] == "Kế hoạch đầu tư công"


async def _api(server: RunningServer, account_id: int | None = None, name: str = "", role: str = "") -> ApiClient:
    """A client that validates every answer against /api/openapi.json (tests/api_client.py)."""
    client = await ApiClient.open(server.url)
    if account_id is not None:
        client.jar.update_cookies({SESSION_COOKIE: await cookie_for(server, account_id, name, role)}, URL(server.url))
    return client


async def test_every_transcript_answer_is_as_the_openapi_document_says(server: RunningServer) -> None:
    world, item, seg_id = await _world(server)
    async with server.state.sessions() as session:
        (outsider,) = await make_accounts(session, [("ngoai2", "delegate", "Người Ngoài")])
    base = f"/api/meetings/{world.meeting_id}/transcript"
    secretary = await _api(server, world.secretary, world.names[world.secretary], "secretary")
    delegate = await _api(server, world.delegates[2], world.names[world.delegates[2]], "delegate")
    stranger = await _api(server, outsider, "Người Ngoài", "delegate")
    anonymous = await _api(server)

    status, body = await delegate.call("GET", base)
    assert status == 200 and [s["kind"] for s in body["segments"]] == ["speech", "gap"]
    assert body["segments"][0]["words"][0]["word"] == "Về" and body["segments"][0]["item_id"] == item
    status, body = await delegate.call("GET", base, query={"q": "ve KE HOACH"})
    assert status == 200 and [s["id"] for s in body["segments"]] == [seg_id]
    assert (await delegate.call("GET", base, query={"item": "none"}))[1]["segments"] == []
    assert (await delegate.call("GET", base, query={"item": "x"}))[0] == 400
    assert (await stranger.call("GET", base))[0] == 403
    assert (await anonymous.call("GET", base))[0] == 401
    assert (await delegate.call("GET", "/api/meetings/999999/transcript"))[0] == 404

    assert (await delegate.call("POST", f"{base}/{seg_id}", json_body={"text": "sửa"}))[0] == 403
    assert (await secretary.call("POST", f"{base}/{seg_id}", json_body={"text": 5}))[0] == 400
    assert (await secretary.call("POST", f"{base}/999999", json_body={"text": "sửa"}))[0] == 404
    status, body = await secretary.call("POST", f"{base}/{seg_id}", json_body={"speaker_name": "Khách mời"})
    assert status == 200 and body["segment"]["speaker"] == "Khách mời"
    assert body["segment"]["corrections"][0]["field"] == "speaker"

    for fmt in ("vtt", "txt", "json"):
        status, body = await delegate.call("GET", f"{base}.{fmt}")
        assert status == 200 and body, fmt
        assert (await stranger.call("GET", f"{base}.{fmt}"))[0] == 403
    status, body = await delegate.call("GET", "/api/transcription")
    assert (status, body) == (200, {"enabled": False, "off_reason": "no_model"})
    assert (await anonymous.call("GET", "/api/transcription"))[0] == 401
