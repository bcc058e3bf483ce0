"""media:* signalling (docs/protocol.md, "Media signalling") with aiortc clients, no browser."""
from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime, timezone
from typing import Any

import socketio
from aiohttp import web as aiohttp_web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from meetings.accounts import add_account
from meetings.config import NetworkConfig, load_rooms_config
from meetings.meetings_service import create_meeting
from tests.conftest import RunningServer, form_token, login
from tests.sfu.test_port_range import free_udp_range
from web.app import create_app
from web.media import MEDIA
from web.media.sdp import announce_public_address

PASSWORD = "mat-khau-123"


async def _setup(server: RunningServer) -> tuple[int, dict[str, int]]:
    ids = {}
    async with server.state.sessions() as session:
        for name, role in [("chutoa", "chair"), ("thuky", "secretary"), ("daibieu", "delegate")]:
            ids[name] = (await add_account(session, name, role, PASSWORD, name.title())).id
        meeting_id = await create_meeting(
            session, room_id="phong-hop-ubnd", title="Họp thử tín hiệu",
            scheduled_start=datetime.now(timezone.utc), chair_id=ids["chutoa"], secretary_id=ids["thuky"],
            delegates=[(ids["daibieu"], None)],
        )
    return meeting_id, ids


class Client:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        for name in ("media:tracks", "media:offer", "media:forwarding", "media:state", "media:active_speaker"):
            self.sio.on(name, lambda data, name=name: self.events.append((name, data)))

    async def connect(self, server: RunningServer, username: str) -> "Client":
        jar = await login(server.url, username, PASSWORD)
        cookie = "; ".join(f"{c.key}={c.value}" for c in jar)
        await self.sio.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"])
        return self

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.sio.call(event, payload, timeout=20)

    def last(self, name: str) -> Any:
        return next((data for event, data in reversed(self.events) if event == name), None)


async def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def test_media_events_need_the_meeting_and_valid_payloads(server: RunningServer) -> None:
    meeting_id, _ = await _setup(server)
    client = await Client().connect(server, "daibieu")
    try:
        refused = await client.call("media:join", {"meeting_id": meeting_id})
        assert refused["ok"] is False and refused["error"] == "conflict"
        assert (await client.call("join_meeting", {"meeting_id": meeting_id}))["ok"]
        assert (await client.call("media:publish", {"meeting_id": meeting_id, "sdp": "v=0\r\n"}))["error"] == "conflict"
        joined = await client.call("media:join", {"meeting_id": meeting_id})
        assert joined["ok"] and joined["peer_id"] == client.sio.get_sid()
        assert joined["ice_servers"] == [] and joined["tracks"] == []
        assert "point:ubnd-tinh" in joined["main_points"]
        for payload in (
            {"meeting_id": meeting_id, "sdp": "hello"},
            {"meeting_id": meeting_id, "sdp": "v=0\r\n" + "a" * 70000},
            {"meeting_id": meeting_id, "sdp": 12},
            {"meeting_id": meeting_id, "sdp": "v=0\r\n", "sources": {"0": "projector"}},
        ):
            answer = await client.call("media:publish", payload)
            assert answer["ok"] is False and answer["error"] == "bad_request", answer
        garbled = await client.call("media:publish", {"meeting_id": meeting_id, "sdp": "v=0\r\nm=garbage\r\n"})
        assert garbled["ok"] is False
        other = await client.call("media:subscribe", {"meeting_id": meeting_id + 1, "track_ids": []})
        assert other["error"] == "conflict"
        assert (await client.call("media:subscribe", {"meeting_id": meeting_id, "track_ids": [1]}))["error"] == "bad_request"
        assert (await client.call("media:leave", {"meeting_id": meeting_id}))["ok"]
        assert (await client.call("media:leave", {"meeting_id": meeting_id}))["error"] == "conflict"
    finally:
        await client.sio.disconnect()


async def test_publish_subscribe_floor_and_leave(server: RunningServer) -> None:
    meeting_id, ids = await _setup(server)
    alice = await Client().connect(server, "chutoa")
    bob = await Client().connect(server, "daibieu")
    pcs: list[RTCPeerConnection] = []
    try:
        for client in (alice, bob):
            assert (await client.call("join_meeting", {"meeting_id": meeting_id}))["ok"]
            assert (await client.call("media:join", {"meeting_id": meeting_id}))["ok"]

        # alice publishes a camera
        publish = _pc()
        pcs.append(publish)
        publish.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await publish.setLocalDescription(await publish.createOffer())
        sources = {publish.getTransceivers()[0].mid: "camera"}
        ack = await alice.call("media:publish", {"meeting_id": meeting_id, "sdp": publish.localDescription.sdp, "sources": sources})
        assert ack["ok"], ack
        await publish.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))

        await _wait_for(lambda: bob.last("media:tracks") and bob.last("media:tracks")["tracks"])
        tracks = bob.last("media:tracks")["tracks"]
        assert [(t["peer_id"], t["kind"], t["source"]) for t in tracks] == [(alice.sio.get_sid(), "video", "camera")]
        assert alice.last("media:tracks")["tracks"] == tracks  # the publisher hears of its own tracks too

        # bob subscribes to everything; the ack carries the SFU's offer and the mid labels
        subscribe = _pc()
        pcs.append(subscribe)
        frames: list[Any] = []

        @subscribe.on("track")
        def on_track(track: Any) -> None:
            async def pull() -> None:
                while True:
                    frames.append(await track.recv())

            asyncio.ensure_future(pull())

        ack = await bob.call("media:subscribe", {"meeting_id": meeting_id, "track_ids": [t["track_id"] for t in tracks] + ["nope"]})
        assert ack["ok"] and ack["track_ids"] == [tracks[0]["track_id"]]
        assert list(ack["offer"]["mids"].values()) == [tracks[0]["track_id"]]
        await subscribe.setRemoteDescription(RTCSessionDescription(ack["offer"]["sdp"], "offer"))
        await subscribe.setLocalDescription(await subscribe.createAnswer())
        assert (await bob.call("media:answer", {"meeting_id": meeting_id, "sdp": subscribe.localDescription.sdp}))["ok"]
        await _wait_for(lambda: len(frames) > 10, 30)

        # asking again for the same set changes nothing
        again = await bob.call("media:subscribe", {"meeting_id": meeting_id, "track_ids": [tracks[0]["track_id"]]})
        assert again["ok"] and again["offer"] is None

        # mute state is relayed to the others
        assert (await alice.call("media:state", {"meeting_id": meeting_id, "audio": False, "video": True}))["ok"]
        await _wait_for(lambda: bob.last("media:state") is not None)
        assert bob.last("media:state") == {"meeting_id": meeting_id, "peer_id": alice.sio.get_sid(), "audio": False, "video": True}

        # floor control: the chair's side closes alice's floor through state.media_floor
        assert server.state.media_floor is not None
        await server.state.media_floor(meeting_id, f"account:{ids['chutoa']}", False)
        await _wait_for(lambda: alice.last("media:forwarding") is not None)
        assert alice.last("media:forwarding") == {"meeting_id": meeting_id, "kind": "audio", "enabled": False}
        rejoined = await alice.call("media:join", {"meeting_id": meeting_id})
        assert rejoined["floor"] == {"audio": False}  # remembered across a media restart
        await server.state.media_floor(meeting_id, f"account:{ids['chutoa']}", True)

        # alice's rejoin dropped her old peer: bob hears that the track is gone, and gets an offer
        await _wait_for(lambda: bob.last("media:tracks")["tracks"] == [])
        await _wait_for(lambda: bob.last("media:offer") is not None)

        # leaving the meeting frees the SFU peer
        assert (await bob.call("leave_meeting", {}))["ok"]
        hub_peers = server.app[MEDIA].peers
        await _wait_for(lambda: bob.sio.get_sid() not in hub_peers)
    finally:
        for pc in pcs:
            await pc.close()
        for client in (alice, bob):
            await client.sio.disconnect()


def test_public_address_is_announced_next_to_host_candidates() -> None:
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n"
        "a=candidate:2 1 udp 1694498815 198.51.100.7 40000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
        "a=end-of-candidates\r\n"
    )
    out = announce_public_address(sdp, "203.0.113.10")
    assert "a=candidate:19 1 udp 2130706430 203.0.113.10 40000 typ host\r\n" in out
    assert out.count("203.0.113.10") == 1  # srflx candidates are left alone
    assert announce_public_address(sdp, None) == sdp


async def test_meeting_page_in_both_languages_for_everyone_logged_in(server: RunningServer) -> None:
    """The uninvited get the page too: its join waits in the lobby (docs/protocol.md), no HTTP 403."""
    import aiohttp

    meeting_id, _ = await _setup(server)
    async with server.state.sessions() as session:
        await add_account(session, "khach", "delegate", PASSWORD, "Khách")
    for username, status in (("daibieu", 200), ("khach", 200)):
        jar = await login(server.url, username, PASSWORD)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{server.url}/meetings/{meeting_id}", allow_redirects=False) as response:
                assert response.status == status
                if status == 200:
                    page = await response.text()
                    assert "Tắt micrô" in page and 'id="control-panel"' in page and "/static/control.js" in page
                    assert 'data-meeting-id="%d"' % meeting_id in page
            if status == 200:
                async with http.get(f"{server.url}/meetings/{meeting_id}?lang=en") as response:
                    assert "Mute microphone" in await response.text()
                async with http.get(f"{server.url}/meetings/999") as response:
                    assert response.status == 404
                async with http.get(f"{server.url}/api/point/meeting") as response:
                    assert response.status == 403
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/meetings/{meeting_id}", allow_redirects=False) as response:
            assert response.status == 303  # to the login page


async def test_point_screen_finds_its_current_meeting(server: RunningServer) -> None:
    import aiohttp

    from meetings.models import BridgePoint
    from meetings.point_tokens import hash_point_token, new_point_token

    meeting_id, _ = await _setup(server)
    token = new_point_token()
    async with server.state.sessions() as session:
        (await session.get(BridgePoint, "xa-ba-che")).token_hash = hash_point_token(token)
        await session.commit()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{server.url}/point") as response:
            assert 'name="token"' in await response.text()  # the login form first
        csrf = await form_token(http, f"{server.url}/point")
        async with http.post(f"{server.url}/point/login", data={"token": token, "csrf_token": csrf}) as response:
            page = await response.text()  # redirected to /point: now the TV screen
            assert 'class="point-screen"' in page and "/static/js/point.js" in page
        async with http.get(f"{server.url}/api/point/meeting") as response:
            answer = await response.json()
        assert answer["meeting"]["id"] == meeting_id and answer["meeting"]["title"] == "Họp thử tín hiệu"
        async with http.get(f"{server.url}/meetings/{meeting_id}", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/point"


async def test_rooms_toml_udp_ports_reach_the_sfu(settings) -> None:  # type: ignore[no-untyped-def]
    """[network] udp_ports bounds the ports in the SFU's answers to browsers."""
    ports = free_udp_range(32)
    config = load_rooms_config(settings.config_path)
    config = dataclasses.replace(config, network=NetworkConfig(udp_ports=ports))
    app = create_app(settings, config)
    runner = aiohttp_web.AppRunner(app, access_log=None)
    await runner.setup()
    await aiohttp_web.TCPSite(runner, "127.0.0.1", settings.port).start()
    server = RunningServer(url=settings.base_url, app=app)
    try:
        meeting_id, _ = await _setup(server)
        alice = await Client().connect(server, "chutoa")
        publish = _pc()
        try:
            assert (await alice.call("join_meeting", {"meeting_id": meeting_id}))["ok"]
            assert (await alice.call("media:join", {"meeting_id": meeting_id}))["ok"]
            publish.addTransceiver(VideoStreamTrack(), direction="sendonly")
            await publish.setLocalDescription(await publish.createOffer())
            ack = await alice.call("media:publish", {"meeting_id": meeting_id, "sdp": publish.localDescription.sdp,
                                                     "sources": {publish.getTransceivers()[0].mid: "camera"}})
            assert ack["ok"], ack
            answered = [int(p) for p in re.findall(r"^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", ack["sdp"], re.M | re.I)]
            assert answered and all(port in ports for port in answered), answered
        finally:
            await publish.close()
            await alice.sio.disconnect()
    finally:
        await runner.cleanup()
