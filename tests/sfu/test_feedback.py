"""RTCP between subscribers, SFU and publisher: keyframe requests relayed at most once per
source per 500 ms, and lost packets repaired from the SFU's history."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from sfu.packet import ExtensionIds, parse_rtp
from sfu.sdp import media_sections
from tests.sfu.clients import ColourTrack, DecodeErrors, LossyLink, Subscriber, publish, wait_for

pytestmark = pytest.mark.slow  # real peers, several seconds of media each

RED = (200, 30, 30)


async def test_keyframe_requests_are_relayed_at_most_every_500_ms(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack(RED))
    # count the PLIs reaching the publisher (aiortc's sender turns each into _send_keyframe)
    sender = pub.getTransceivers()[0].sender
    relayed: list[float] = []
    original = sender._send_keyframe

    def send_keyframe() -> None:
        relayed.append(time.monotonic())
        original()

    sender._send_keyframe = send_keyframe
    [video] = sfu.tracks("r")
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(video.track_id)
    await wait_for(lambda: video.track_id in sub.received and sub.received[video.track_id].frames > 5)

    receiver = sub.pc.getTransceivers()[0].receiver
    media_ssrc = media_sections(sub.pc.remoteDescription.sdp)[0].ssrcs[0]
    await asyncio.sleep(0.6)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < 3.0:
        await receiver._send_rtcp_pli(media_ssrc)  # a subscriber asking far too often
        sent += 1
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)
    in_window = [t for t in relayed if t >= start]
    down = sfu._rooms["r"].peers["bob"].subscribe.down[video.track_id]

    assert down.keyframe_requests >= sent * 0.9
    assert 4 <= len(in_window) <= 3.0 / 0.5 + 2
    gaps = [b - a for a, b in zip(relayed, relayed[1:])]
    assert min(gaps) >= 0.45
    await sub.close()
    await pub.close()


async def red_camera_watched_by_bob(sfu):
    """Alice publishes a red camera; Bob subscribes and has decoded a few frames."""
    pub = await publish(sfu, "r", "alice", ColourTrack(RED))
    [video] = sfu.tracks("r")
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(video.track_id)
    await wait_for(lambda: video.track_id in sub.received
                   and sub.received[video.track_id].frames > 5)
    return pub, video, sub


async def test_nack_repair_from_the_packet_history(sfu):
    errors = DecodeErrors()
    logging.getLogger("aiortc").addHandler(errors)
    try:
        pub, video, sub = await red_camera_watched_by_bob(sfu)
        down = sfu._rooms["r"].peers["bob"].subscribe.down[video.track_id]
        media_ssrc = media_sections(sub.pc.remoteDescription.sdp)[0].ssrcs[0]
        lossy = LossyLink(sub.pc, media_ssrc, nth=8)
        frames = sub.received[video.track_id].frames
        await wait_for(lambda: len(lossy.dropped) >= 15)
        await asyncio.sleep(0.5)
        assert len(lossy.resent) >= 0.9 * len(lossy.dropped)
        assert down.retransmitted >= len(lossy.resent)
        assert sub.received[video.track_id].frames > frames + 20
        assert errors.count == 0
        await sub.close()
        await pub.close()
    finally:
        logging.getLogger("aiortc").removeHandler(errors)


async def test_packets_lost_from_the_publisher_are_recovered_over_rtx(sfu):
    """The SFU's receive side NACKs the publisher, which answers on its RTX stream; the SFU
    unwraps the repair and forwards it, so the subscriber never notices the loss."""
    errors = DecodeErrors()
    logging.getLogger("aiortc").addHandler(errors)
    try:
        pub, video, sub = await red_camera_watched_by_bob(sfu)

        # test hook standing in for a lossy uplink: drop every 8th media packet on arrival
        publish_session = sfu._rooms["r"].peers["alice"].publish
        forward = publish_session._on_rtp
        media_ssrc = pub.getTransceivers()[0].sender._ssrc
        dropped: set[int] = set()
        repaired: set[int] = set()
        count = 0

        def lossy(dtls, data: bytes, arrival_time_ms: int) -> None:
            nonlocal count
            view = parse_rtp(data, ExtensionIds())
            if view.ssrc == media_ssrc:
                count += 1
                if count % 8 == 0:
                    dropped.add(view.sequence_number)
                    return
            elif len(view.payload) >= 2:  # RTX: original sequence number first
                repaired.add(int.from_bytes(view.payload[:2], "big"))
            forward(dtls, data, arrival_time_ms)

        publish_session._on_rtp = lossy
        await wait_for(lambda: len(dropped) >= 10)
        await asyncio.sleep(0.5)
        del publish_session._on_rtp  # the class's handler again
        assert len(dropped & repaired) >= 0.8 * len(dropped)
        lost = sum(s.packetsLost for s in (await sub.pc.getStats()).values()
                   if s.type == "inbound-rtp")
        assert lost <= 2
        assert errors.count == 0
        await sub.close()
        await pub.close()
    finally:
        logging.getLogger("aiortc").removeHandler(errors)
