"""Down-track rewriting, packet by packet: what one subscriber receives across sequence-number
wrap, source switches, pauses and NACKs. The subscriber's session is replaced by a real SRTP
link on loopback (tests/sfu/wire.py; a connected session is exercised in the other tests);
everything else is the real DownTrack, UpTrack and C writer on a real, unconnected aiortc
transceiver."""

from __future__ import annotations

import struct

from aiortc import RTCPeerConnection

from sfu.aiortc_hooks import RtpSink, SilentTrack
from sfu.downtrack import DownTrack
from sfu.packet import ExtensionIds, inspect_vp8, parse_rtp
from sfu.uptrack import UpTrack
from tests.sfu.clients import config
from tests.sfu.wire import Wire, WireSink


class Source:
    """Makes VP8 RTP packets for one UpTrack: 2 packets per frame, key frame every ``gop``."""

    def __init__(self, up: UpTrack, seq: int, ts: int, pid: int, gop: int = 30) -> None:
        self.up, self.seq, self.ts, self.pid, self.gop = up, seq, ts, pid, gop
        self.frame = 0

    def send_frame(self) -> None:
        key = self.frame % self.gop == 0
        for part in range(2):
            descriptor = bytes([0x90 if part == 0 else 0x80, 0x80]) + struct.pack("!H", 0x8000 | self.pid)
            vp8 = bytes([0x10 if key else 0x11]) if part == 0 else b""
            data = struct.pack("!BBHII", 0x80, 96 | (0x80 if part else 0), self.seq, self.ts, 7) \
                + descriptor + vp8 + b"data"
            view = parse_rtp(data, ExtensionIds())
            inspect_vp8(view)
            self.up.handle(view)
            self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + 3000) & 0xFFFFFFFF
        self.pid = (self.pid + 1) & 0x7FFF
        self.frame += 1


def make_up(name: str) -> UpTrack:
    return UpTrack(track_id=f"{name}:0", peer_id=name, kind="video", source="camera",
                   mime_type="video/VP8", clock_rate=90000, send_pli=lambda: None)


async def make_down() -> tuple[DownTrack, Wire, RTCPeerConnection]:
    pc = RTCPeerConnection(config())
    transceiver = pc.addTransceiver(SilentTrack("video", "v"), direction="sendonly")
    down = DownTrack("v", "video", "video/VP8", transceiver, RtpSink(transceiver.sender.transport))
    wire = Wire()
    down._sink = WireSink(wire, down.writer)  # the network
    down._ready, down.writer.payload_type, down.ext_ids = True, 97, ExtensionIds()  # as negotiated
    return down, wire, pc


def received(wire: Wire):
    views = [parse_rtp(d, ExtensionIds()) for d in wire.drain()]
    for v in views:
        inspect_vp8(v)
    return views


def assert_continuous(views, max_ts_step: int = 90000) -> None:
    for a, b in zip(views, views[1:]):
        assert b.sequence_number == (a.sequence_number + 1) & 0xFFFF
        assert ((b.timestamp - a.timestamp) & 0xFFFFFFFF) <= max_ts_step
        assert (b.picture_id - a.picture_id) & 0x7FFF in (0, 1)
    assert {v.ssrc for v in views} == {views[0].ssrc} and views[0].payload_type == 97


async def test_forwarding_continues_across_sequence_number_wrap():
    up = make_up("a")
    down, wire, pc = await make_down()
    down.switch(up)
    source = Source(up, seq=65000, ts=0xFFFF0000, pid=0x7FF0, gop=10_000)
    for frame in range(40_000):  # 80,000 packets: the sequence space wraps twice
        source.send_frame()
        if frame % 50 == 0:
            wire.drain()  # the receiver keeps up, as a subscriber would
    views = received(wire)
    assert len(views) == 80_000
    assert_continuous(views)
    await pc.close()
    wire.close()


async def test_switching_sources_waits_for_a_key_frame_and_stays_continuous():
    alice, bob = make_up("alice"), make_up("bob")
    down, wire, pc = await make_down()
    a = Source(alice, seq=100, ts=1000, pid=5, gop=30)
    b = Source(bob, seq=40_000, ts=3_000_000_000, pid=20_000, gop=30)
    down.switch(alice)
    for _ in range(45):
        a.send_frame()
        b.send_frame()
    assert len(wire.drain()) == 90  # alice only
    down.switch(bob)  # bob's next key frame is frame 60: 15 frames of bob are gated
    for _ in range(30):
        a.send_frame()
        b.send_frame()
    views = received(wire)
    assert len(views) == 90 + 30
    assert views[90].keyframe  # the switch happens on a key frame
    assert_continuous(views)
    await pc.close()
    wire.close()


async def test_pause_resume_and_nack_map_to_the_right_packets():
    up = make_up("a")
    down, wire, pc = await make_down()
    down.switch(up)
    source = Source(up, seq=500, ts=0, pid=0, gop=20)
    for _ in range(10):
        source.send_frame()
    down.pause()
    for _ in range(15):
        source.send_frame()
    down.resume()
    for _ in range(20):
        source.send_frame()
    views = received(wire)
    assert len(views) == 20 + 10  # resumed at the key frame of frame 40 (frames 40-44)
    assert_continuous(views, max_ts_step=31 * 3000)  # the same source: real time passed

    out = views[-3].sequence_number
    down.handle_nack([out, views[0].sequence_number])  # before the resume: not ours to resend
    resent = received(wire)[len(views):]
    assert [v.sequence_number for v in resent] == [out]
    assert resent[0].payload == views[-3].payload
    assert down.retransmitted == 1
    await pc.close()
    wire.close()
