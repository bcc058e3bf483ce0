"""Forwarding with real aiortc peers on loopback: media arrives decodable and promptly,
server-side mute, unpublishing by renegotiation, and a peer that leaves leaves nothing."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
import weakref

from aiortc import RTCSessionDescription

from sfu import SubscriberOffer, TrackPublished, TrackUnpublished
from tests.sfu.clients import (
    ColourTrack,
    DecodeErrors,
    Subscriber,
    ToneTrack,
    publish,
    wait_for,
)

RED = (200, 30, 30)


def near(colour: tuple[int, int, int], expected: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(colour, expected))


async def test_subscriber_decodes_video_and_hears_audio_first_frame_within_a_second(sfu, events):
    errors = DecodeErrors()
    logging.getLogger("aiortc").addHandler(errors)
    try:
        pub = await publish(sfu, "r", "alice", ColourTrack(RED), ToneTrack(0.3))
        tracks = {t.kind: t for t in sfu.tracks("r")}
        assert {t.source for t in tracks.values()} == {"camera", "microphone"}
        assert [type(e) for e in events if isinstance(e, TrackPublished)] == [TrackPublished] * 2
        await wait_for(lambda: all(t.packets > 10 for t in sfu._rooms["r"].tracks.values()))

        await sfu.join("r", "bob")
        sub = Subscriber(sfu, "r", "bob")
        subscribed_at = time.monotonic()
        await sub.subscribe(tracks["video"].track_id, tracks["audio"].track_id)
        video = lambda: sub.received.get(tracks["video"].track_id)  # noqa: E731
        audio = lambda: sub.received.get(tracks["audio"].track_id)  # noqa: E731
        await wait_for(lambda: video() is not None and video().frames >= 40
                       and audio() is not None and audio().frames >= 100)

        assert video().first_at - subscribed_at < 1.0
        assert all(near(c, RED) for _, c in video().colours)
        assert min(audio().energy[10:]) > 1000  # a 0.3 full-scale tone, not silence
        assert errors.count == 0
        # sender reports carry the forwarded counts (aiortc's own sender would report zero)
        sent = 0
        for _ in range(100):
            reports = [s for s in (await sub.pc.getStats()).values()
                       if s.type == "remote-outbound-rtp" and s.kind == "video"]
            sent = max([r.packetsSent for r in reports], default=0)
            if sent:
                break
            await asyncio.sleep(0.1)
        assert sent > 0
        await sub.close()
        await pub.close()
    finally:
        logging.getLogger("aiortc").removeHandler(errors)


async def test_server_side_mute_stops_and_resumes_video(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack(RED))
    [video] = sfu.tracks("r")
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(video.track_id)
    await wait_for(lambda: video.track_id in sub.received and sub.received[video.track_id].frames > 10)

    await sfu.set_forwarding("r", "alice", "video", False)
    assert sfu.tracks("r")[0].forwarding is False
    await asyncio.sleep(0.5)
    frozen = sub.received[video.track_id].frames
    await asyncio.sleep(1.0)
    assert sub.received[video.track_id].frames <= frozen + 1

    await sfu.set_forwarding("r", "alice", "video", True)
    await wait_for(lambda: sub.received[video.track_id].frames > frozen + 10)
    await sub.close()
    await pub.close()


async def test_unpublishing_a_track_renegotiates_subscribers(sfu, events):
    camera, mic = ColourTrack(RED), ToneTrack()
    pub = await publish(sfu, "r", "alice", camera, mic)
    video = next(t for t in sfu.tracks("r") if t.kind == "video")
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(video.track_id)
    await wait_for(lambda: video.track_id in sub.received)

    # the client stops sending its camera: a new offer with that section inactive
    transceiver = next(t for t in pub.getTransceivers() if t.kind == "video")
    transceiver.direction = "inactive"
    await pub.setLocalDescription(await pub.createOffer())
    answer = await sfu.publish("r", "alice", pub.localDescription.sdp, {})
    await pub.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    assert [t.kind for t in sfu.tracks("r")] == ["audio"]
    assert any(isinstance(e, TrackUnpublished) and e.track_id == video.track_id for e in events)
    offers = [e for e in events if isinstance(e, SubscriberOffer) and e.peer_id == "bob"]
    assert offers and video.track_id not in offers[-1].mids.values()
    await sub.accept(offers[-1].sdp)
    await sub.close()
    await pub.close()


async def test_a_peer_that_leaves_leaves_no_task_socket_or_thread_behind(sfu):
    async def settle(baseline: set[asyncio.Task]) -> set[asyncio.Task]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            extra = {t for t in asyncio.all_tasks() if not t.done()} - baseline
            extra.discard(asyncio.current_task())
            if not extra:
                return extra
            await asyncio.sleep(0.1)
        return extra

    def threads() -> set[str]:
        # the event loop's default executor keeps idle workers (aiortc's encoders in the
        # test clients, the tap's decoder): a pool, not something a peer owns
        return {t.name for t in threading.enumerate() if not t.name.startswith("asyncio_")}

    def descriptors() -> int:
        # the SFU's C writers send on duplicates of the ICE sockets' descriptors
        return len(os.listdir("/proc/self/fd"))

    baseline = {t for t in asyncio.all_tasks() if not t.done()}
    threads_before = threads()
    descriptors_before = descriptors()
    pub = await publish(sfu, "r", "alice", ColourTrack(RED), ToneTrack())
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(*[t.track_id for t in sfu.tracks("r")])
    tap = sfu.audio_tap("r", "alice")
    await wait_for(lambda: sum(r.frames for r in sub.received.values()) > 30)
    peer_ref = weakref.ref(sfu._rooms["r"].peers["alice"])

    await sfu.leave("r", "alice")
    await sfu.leave("r", "bob")
    await pub.close()
    await sub.close()
    assert [c async for c in tap] is not None  # the tap ends when its peer leaves
    del tap

    assert await settle(baseline) == set()
    gc.collect()
    assert peer_ref() is None
    assert sfu._rooms == {}
    deadline = time.monotonic() + 10
    while threads() != threads_before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert threads() == threads_before  # aiortc's per-receiver decoder threads are gone
    assert descriptors() <= descriptors_before  # every socket and duplicate closed
