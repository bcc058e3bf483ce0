"""Media signalling stays inside the meeting one is admitted to (web/permissions.py, "media").

Real aiortc peers on loopback: alice publishes a camera in meeting A; bob, admitted to meeting
B only, and carol, waiting in A's lobby, try every way to reach A's track — signalling for
meeting A, A's track id in B's signalling, a keyframe request — and get refusals, no offer,
no media; bob in B never hears of A's tracks.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from aiortc import RTCSessionDescription, VideoStreamTrack

from meetings.accounts import add_account
from meetings.meetings_service import create_meeting
from tests.conftest import RunningServer
from tests.test_media_signalling import PASSWORD, Client, _pc, _wait_for
from web.media import MEDIA

pytestmark = pytest.mark.security


async def _two_meetings(server: RunningServer) -> tuple[int, int]:
    async with server.state.sessions() as session:
        ids = {name: (await add_account(session, name, role, PASSWORD, name.title())).id
               for name, role in [("chutoa", "chair"), ("thuky", "secretary"), ("bob", "delegate"), ("carol", "delegate")]}
        start = datetime.now(timezone.utc)
        a = await create_meeting(session, room_id="phong-hop-ubnd", title="Họp A", scheduled_start=start,
                                 chair_id=ids["chutoa"], secretary_id=ids["thuky"], delegates=[])
        b = await create_meeting(session, room_id="phong-hop-ubnd", title="Họp B", scheduled_start=start,
                                 chair_id=ids["chutoa"], secretary_id=ids["thuky"], delegates=[(ids["bob"], None)])
    return a, b


async def test_tracks_of_another_meeting_are_out_of_reach(server: RunningServer) -> None:
    a, b = await _two_meetings(server)
    alice = await Client().connect(server, "chutoa")
    bob = await Client().connect(server, "bob")
    carol = await Client().connect(server, "carol")
    publish, snoop = _pc(), _pc()
    try:
        assert (await alice.call("join_meeting", {"meeting_id": a}))["ok"]
        assert (await alice.call("media:join", {"meeting_id": a}))["ok"]
        publish.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await publish.setLocalDescription(await publish.createOffer())
        ack = await alice.call("media:publish", {"meeting_id": a, "sdp": publish.localDescription.sdp,
                                                 "sources": {publish.getTransceivers()[0].mid: "camera"}})
        assert ack["ok"], ack
        await publish.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
        await _wait_for(lambda: alice.last("media:tracks") and alice.last("media:tracks")["tracks"])
        track_id = alice.last("media:tracks")["tracks"][0]["track_id"]

        # bob: admitted to B, not to A
        assert (await bob.call("join_meeting", {"meeting_id": b}))["ok"]
        joined = await bob.call("media:join", {"meeting_id": b})
        assert joined["ok"] and joined["tracks"] == []
        for event, payload in [
            ("media:join", {"meeting_id": a}),
            ("media:subscribe", {"meeting_id": a, "track_ids": [track_id]}),
            ("media:keyframe", {"meeting_id": a, "track_id": track_id}),
            ("media:answer", {"meeting_id": a, "sdp": "v=0\r\n"}),
        ]:
            refused = await bob.call(event, payload)
            assert refused["error"] == "conflict", (event, refused)
        into_b = await bob.call("media:subscribe", {"meeting_id": b, "track_ids": [track_id]})
        assert into_b == {"ok": True, "track_ids": [], "offer": None}
        assert (await bob.call("media:keyframe", {"meeting_id": b, "track_id": track_id}))["error"] == "not_found"
        # and nothing was set up for bob on A's side: no down-track, no offer, no media
        assert server.app[MEDIA].peers[bob.sio.get_sid()].subscribed == set()
        assert bob.last("media:offer") is None
        assert all(not t["tracks"] for e, t in bob.events if e == "media:tracks")

        # carol: uninvited to A, waiting in its lobby — not in the meeting, so no media at all
        waiting = await carol.call("join_meeting", {"meeting_id": a})
        assert waiting["error"] == "in_lobby"
        for event, payload in [("media:join", {"meeting_id": a}),
                               ("media:subscribe", {"meeting_id": a, "track_ids": [track_id]})]:
            refused = await carol.call(event, payload)
            assert refused["error"] == "conflict", (event, refused)
        assert carol.sio.get_sid() not in server.app[MEDIA].peers
        assert (await carol.call("leave_meeting", {}))["error"] == "conflict"  # in the lobby, not the meeting

        # the same subscription from a participant of A works, so the refusals above were not chance
        frames: list[object] = []

        @snoop.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            async def pull() -> None:
                while True:
                    frames.append(await track.recv())

            asyncio.ensure_future(pull())

        secretary = await Client().connect(server, "thuky")
        try:
            assert (await secretary.call("join_meeting", {"meeting_id": a}))["ok"]
            assert (await secretary.call("media:join", {"meeting_id": a}))["ok"]
            ack = await secretary.call("media:subscribe", {"meeting_id": a, "track_ids": [track_id]})
            assert ack["track_ids"] == [track_id]
            await snoop.setRemoteDescription(RTCSessionDescription(ack["offer"]["sdp"], "offer"))
            await snoop.setLocalDescription(await snoop.createAnswer())
            assert (await secretary.call("media:answer", {"meeting_id": a, "sdp": snoop.localDescription.sdp}))["ok"]
            await _wait_for(lambda: len(frames) > 3, 30)
        finally:
            await secretary.sio.disconnect()
    finally:
        for pc in (publish, snoop):
            await pc.close()
        for client in (alice, bob, carol):
            await client.sio.disconnect()
