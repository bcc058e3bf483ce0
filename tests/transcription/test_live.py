"""The whole chain on a running server: aiortc microphones → SFU → tap → Vosk (tiny model) →
transcript segment (committed) → `caption` events, with the right speaker and agenda item."""
from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from meetings import agenda, moderation, speaking
from meetings.config import load_rooms_config
from tests.conftest import SAMPLE_ROOMS
from tests.control.conftest import Client, connect_account, point_token
from tests.control.helpers import World, make_world
from tests.ports import free_port
from tests.transcription.live import BurstTrack, publish_microphone
from transcription.tiny_model import WORD
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.settings import Settings
from web.state import STATE

pytestmark = pytest.mark.slow
POINT = "ubnd-tinh"  # make_world seats delegates[0] here


class Server:
    """The app on a loopback port, which a test can stop and start again on the same database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return self.settings.base_url

    @property
    def state(self):  # type: ignore[no-untyped-def]
        assert self.runner is not None
        return self.runner.app[STATE]

    async def start(self) -> None:
        app = create_app(self.settings, load_rooms_config(self.settings.config_path))
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.settings.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def asr_server(tmp_path: Path, database_url: str, tiny_model_dir: Path) -> AsyncIterator[Server]:
    settings = Settings.build(config_path=SAMPLE_ROOMS, data_dir=tmp_path / "data", database_url=database_url,
                              port=free_port(), vosk_model=tiny_model_dir)
    server = Server(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _world(server: Server) -> tuple[World, int]:
    world = await make_world(server.state.sessions)
    async with server.state.sessions() as session:
        await moderation.open_meeting(session, world.caller(world.chair), world.meeting_id)
        item = await agenda.add_item(session, world.caller(world.secretary), world.meeting_id, "Kế hoạch đầu tư công 2027")
        await agenda.set_current(session, world.caller(world.chair), world.meeting_id, item)
        await session.commit()
    return world, item


async def _join(server: Server, world: World, who: int | str) -> Client:
    if isinstance(who, str):
        client = Client()
        await client.connect(server.url, auth={"token": await point_token(server, who)}, transports=["websocket"])  # type: ignore[arg-type]
    else:
        client = await connect_account(server, who, world.names[who])  # type: ignore[arg-type]
    ack = await client.call("join_meeting", {"meeting_id": world.meeting_id}, timeout=30)
    assert ack["ok"], ack
    return client


def _finals(client: Client, source: str) -> list[dict[str, Any]]:
    return [d for e, d in client.received if e == "caption" and d["final"] and d["source"] == source]


async def _say(track: BurstTrack, seconds: float) -> None:
    while not track.started:
        await asyncio.sleep(0.02)
    track.say(seconds)
    await asyncio.sleep(seconds + 0.1)


async def test_captions_and_segments_carry_the_right_speaker(asr_server: Server) -> None:
    world, item = await _world(asr_server)
    seated, alice, bob = world.delegates[0], world.delegates[1], world.delegates[3]
    watcher = await _join(asr_server, world, world.secretary)
    clients = {f"account:{alice}": await _join(asr_server, world, alice),
               f"account:{bob}": await _join(asr_server, world, bob),
               f"point:{POINT}": await _join(asr_server, world, POINT)}
    tracks = {key: BurstTrack(hz=440 + 110 * n) for n, key in enumerate(clients)}
    pcs = [await publish_microphone(clients[key], world.meeting_id, tracks[key]) for key in clients]
    try:
        # alice and bob at the same time; the point with nobody given the floor
        await asyncio.gather(*(_say(tracks[key], 0.4) for key in clients))
        await watcher.wait_for("caption", lambda d: d["final"] and d["source"] == f"point:{POINT}", timeout=20)
        for key in clients:
            await watcher.wait_for("caption", lambda d, key=key: d["final"] and d["source"] == key, timeout=20)
        # the chair gives the floor to the delegate sitting at the point
        async with asr_server.state.sessions() as session:
            request = await speaking.request(session, world.caller(seated), world.meeting_id, "đầu tư")
            await speaking.grant(session, world.caller(world.chair), world.meeting_id, request)
            await session.commit()
        await _say(tracks[f"point:{POINT}"], 0.5)
        await watcher.wait_for("caption", lambda d: d["final"] and d["speaker"] == world.names[seated], timeout=20)
        partials = [d for e, d in watcher.received if e == "caption" and not d["final"]]
        assert any(p["text"] == WORD for p in partials)

        point_finals = _finals(watcher, f"point:{POINT}")
        assert [f["speaker"] for f in point_finals] == ["Hội trường Ủy ban nhân dân tỉnh", world.names[seated]]
        assert point_finals[1]["segment"]["speaker_account_id"] == seated
        for key, who in ((f"account:{alice}", alice), (f"account:{bob}", bob)):
            (final,) = _finals(watcher, key)
            assert final["speaker"] == world.names[who] and final["text"] == WORD
            segment = final["segment"]
            assert segment["item_id"] == item and segment["speaker_account_id"] == who
            (word,) = segment["words"]
            # the word lasts as long as the burst on the microphone's own clock (0.1 s, as the pipeline
            # test checks exactly), and its wall-clock start is when the burst was sent, give or take
            # the loopback, the tap's batching and a loaded machine's scheduling
            burst_start, burst_end = tracks[key].bursts[0]
            assert abs((word["end_s"] - word["start_s"]) - (burst_end - burst_start)) <= 0.1, (word, burst_start, burst_end)
            heard_start = datetime.fromisoformat(segment["started_at"]).timestamp() + word["start_s"]
            assert abs(heard_start - tracks[key].burst_walls[0][0]) < 0.3
    finally:
        for pc in pcs:
            await pc.close()
        for client in (watcher, *clients.values()):
            await client.disconnect()

    # a restart loses no committed segment
    async def listing() -> list[dict[str, Any]]:
        cookie = await connect_cookie(asr_server, world)
        async with aiohttp.ClientSession(headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}) as http:
            async with http.get(f"{asr_server.url}/api/meetings/{world.meeting_id}/transcript") as response:
                assert response.status == 200
                return (await response.json())["segments"]

    before = await listing()
    await asr_server.stop()
    await asr_server.start()
    after = await listing()
    assert len([s for s in before if s["kind"] == "speech"]) == 4
    assert [s["id"] for s in after] == [s["id"] for s in before] and after == before


async def connect_cookie(server: Server, world: World) -> str:
    from tests.control.conftest import cookie_for

    return await cookie_for(server, world.secretary, world.names[world.secretary], "secretary")  # type: ignore[arg-type]


async def test_a_microphone_the_chair_muted_is_not_transcribed(asr_server: Server) -> None:
    world, _ = await _world(asr_server)
    muted, other = world.delegates[1], world.delegates[3]
    watcher = await _join(asr_server, world, world.secretary)
    clients = {who: await _join(asr_server, world, who) for who in (muted, other)}
    tracks = {who: BurstTrack() for who in clients}
    pcs = [await publish_microphone(clients[who], world.meeting_id, tracks[who]) for who in clients]
    try:
        from web.media import MEDIA

        hub = asr_server.runner.app[MEDIA]  # type: ignore[union-attr]
        await hub.floor(world.meeting_id, f"account:{muted}", False)
        await _say(tracks[muted], 0.4)
        await _say(tracks[other], 0.4)  # heard after the muted one's burst
        await watcher.wait_for("caption", lambda d: d["final"] and d["source"] == f"account:{other}", timeout=20)
        assert not [d for e, d in watcher.received if e == "caption" and d["source"] == f"account:{muted}"]
        await hub.floor(world.meeting_id, f"account:{muted}", True)
        await _say(tracks[muted], 0.4)
        await watcher.wait_for("caption", lambda d: d["final"] and d["source"] == f"account:{muted}", timeout=20)
    finally:
        for pc in pcs:
            await pc.close()
        for client in (watcher, *clients.values()):
            await client.disconnect()
