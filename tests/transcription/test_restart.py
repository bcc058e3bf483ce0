"""A `hoinghi serve` process killed (SIGKILL, no shutdown at all) right after broadcasting a final
caption loses no committed segment: a final is committed before it is broadcast, so whatever a
client saw is in the database when the server comes back. On SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from tests.e2e.harness import PASSWORD, Deployment
from tests.transcription.live import BurstTrack, publish_microphone
from transcription.tiny_model import WORD

pytestmark = pytest.mark.slow
BURSTS = 3


async def _login(http: aiohttp.ClientSession, url: str, username: str) -> str:
    async with http.post(f"{url}/login", json={"username": username, "password": PASSWORD}) as response:
        assert response.status == 200, await response.text()
    return "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)


async def _member(url: str, cookie: str, meeting_id: int) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, headers={"Cookie": cookie}, transports=["websocket"])
    assert (await client.call("join_meeting", {"meeting_id": meeting_id}, timeout=30))["ok"]
    return client


async def _transcript(http: aiohttp.ClientSession, url: str, meeting_id: int) -> list[dict[str, Any]]:
    async with http.get(f"{url}/api/meetings/{meeting_id}/transcript") as response:
        assert response.status == 200, await response.text()
        return (await response.json())["segments"]


async def test_a_killed_server_keeps_every_segment_it_broadcast(
    tmp_path: Path, database_url: str, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOINGHI_VOSK_MODEL", str(tiny_model_dir))
    deployment = Deployment(root=tmp_path / "hoinghi", db_url=database_url)
    await asyncio.to_thread(deployment.prepare)
    await asyncio.to_thread(deployment.start)
    url, meeting_id = deployment.url, deployment.meeting_id
    finals: list[dict[str, Any]] = []
    last_final = asyncio.Event()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as secretary_http, \
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as delegate_http:
            watcher = await _member(url, await _login(secretary_http, url, "thuky"), meeting_id)
            speaker = await _member(url, await _login(delegate_http, url, "daibieu"), meeting_id)

            def on_caption(data: dict[str, Any]) -> None:
                if data["final"]:
                    finals.append(data["segment"])
                    if len(finals) == BURSTS:
                        assert deployment.process is not None
                        deployment.process.kill()  # at once, from the event handler: no shutdown
                        last_final.set()

            watcher.on("caption", on_caption)
            track = BurstTrack()
            pc = await publish_microphone(speaker, meeting_id, track)
            try:
                while not track.started:
                    await asyncio.sleep(0.02)
                for _ in range(BURSTS):
                    track.say(0.4)
                    await asyncio.sleep(1.2)  # the burst and the model's endpoint (0.3 s of silence)
                await asyncio.wait_for(last_final.wait(), 30)
            finally:
                await pc.close()
                for client in (watcher, speaker):
                    await client.disconnect()
            assert deployment.process is not None and deployment.process.wait(10) == -9
            deployment.process = None

            await asyncio.to_thread(deployment.start)
            after = await _transcript(secretary_http, url, meeting_id)
    finally:
        deployment.stop()
    assert [s["text"] for s in finals] == [WORD] * BURSTS
    by_id = {s["id"]: s for s in after}
    for segment in finals:
        assert by_id.get(segment["id"]) == segment, segment
