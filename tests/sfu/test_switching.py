"""Active speaker and the video that follows it: the forwarded source switches without
renegotiation, and the subscriber decodes across the switch without errors or a sequence
gap (sequence numbers, timestamps and VP8 picture ids are rewritten)."""

from __future__ import annotations

import logging

import pytest

from sfu import ACTIVE_SPEAKER, ActiveSpeakerChanged
from sfu.packet import ExtensionIds, inspect_vp8, parse_rtp
from tests.sfu.clients import ColourTrack, DecodeErrors, Subscriber, ToneTrack, publish, wait_for

pytestmark = pytest.mark.slow  # real peers, several seconds of media each

RED, BLUE = (200, 30, 30), (30, 30, 200)


def near(colour, expected, tol=40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(colour, expected))


async def inbound_lost(sub: Subscriber) -> int:
    stats = await sub.pc.getStats()
    return sum(s.packetsLost for s in stats.values() if s.type == "inbound-rtp")


async def test_active_speaker_video_switches_source_without_decode_errors(sfu, events):
    errors = DecodeErrors()
    logging.getLogger("aiortc").addHandler(errors)
    try:
        alice_voice, bob_voice = ToneTrack(0.5), ToneTrack(0.0)
        alice = await publish(sfu, "r", "alice", ColourTrack(RED), alice_voice)
        bob = await publish(sfu, "r", "bob", ColourTrack(BLUE), bob_voice)
        speakers = lambda: [e.peer_id for e in events if isinstance(e, ActiveSpeakerChanged)]  # noqa: E731
        await wait_for(lambda: speakers() == ["alice"])

        await sfu.join("r", "carol")
        carol = Subscriber(sfu, "r", "carol")
        await carol.subscribe(ACTIVE_SPEAKER)
        received = carol.spy_rtp()
        seen = lambda: carol.received.get(ACTIVE_SPEAKER)  # noqa: E731
        await wait_for(lambda: seen() is not None and seen().frames >= 10)
        assert near(seen().colours[-1][1], RED)

        for voice_on, voice_off, speaker, colour in (
                (bob_voice, alice_voice, "bob", BLUE), (alice_voice, bob_voice, "alice", RED)):
            voice_on.amplitude, voice_off.amplitude = 0.5, 0.0
            await wait_for(lambda: speakers()[-1] == speaker)
            start = seen().frames
            await wait_for(lambda: seen().frames >= start + 20
                           and near(seen().colours[-1][1], colour))

        colours = [c for _, c in seen().colours]
        assert all(near(c, RED) or near(c, BLUE) for c in colours), "a frame mixed sources"
        assert speakers() == ["alice", "bob", "alice"]
        assert errors.count == 0
        assert await inbound_lost(carol) <= 2  # no sequence jump at the switches
        down = sfu._rooms["r"].peers["carol"].subscribe.down[ACTIVE_SPEAKER]
        assert down.retransmitted == 0
        assert_one_continuous_vp8_stream(received)
        for pc in (alice, bob):
            await pc.close()
        await carol.close()
    finally:
        logging.getLogger("aiortc").removeHandler(errors)


def assert_one_continuous_vp8_stream(packets: list[bytes]) -> None:
    """One SSRC; sequence numbers without gaps; VP8 picture ids +1 per frame (wrapping) —
    across both source switches."""
    views = [v for v in (parse_rtp(p, ExtensionIds()) for p in packets) if v is not None]
    assert len({v.ssrc for v in views}) == 1
    views.sort(key=lambda v: v.sequence_number)  # loopback: no wrap within this test's span
    seqs = [v.sequence_number for v in views]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "sequence gap"
    pids = []
    for v in views:
        inspect_vp8(v)
        assert v.picture_id_offset >= 0
        pids.append(v.picture_id)
    steps = {(b - a) & 0x7FFF for a, b in zip(pids, pids[1:])}
    assert steps <= {0, 1}, f"picture id jumps: {sorted(steps)[:5]}"
    timestamps = [v.timestamp for v in views]
    assert all(((b - a) & 0xFFFFFFFF) < 90000 for a, b in zip(timestamps, timestamps[1:]))
