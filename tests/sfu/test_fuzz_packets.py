"""Fuzzing the SFU's parsers with hypothesis: RTP (parse, codec inspection, RTX unwrap),
RTCP through the guarded aiortc entry point, STUN through aioice's, and the sequence guard.
Structured packets (valid headers, hostile lengths and fields) reach further than random
bytes; both are generated. Bounded: a fixed number of examples, no deadline (shared box)."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfu.aiortc_hooks import HOSTILE_REMB, install_guards
from sfu.drops import DROPS
from sfu.packet import ExtensionIds, inspect_h264, inspect_vp8, parse_rtp, rtx_original
from sfu.sequence import StreamSequence, Verdict

pytestmark = pytest.mark.security
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IDS = ExtensionIds(audio_level=1, abs_send_time=3)


@st.composite
def rtp_packets(draw: st.DrawFn) -> bytes:
    """A version-2 RTP header with hostile CSRC counts, extension blocks and padding."""
    csrc = draw(st.integers(0, 15))
    extension = draw(st.booleans())
    padding = draw(st.booleans())
    b0 = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | csrc
    header = struct.pack("!BBHII", b0, draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFF)),
                         draw(st.integers(0, 0xFFFFFFFF)), draw(st.integers(0, 0xFFFFFFFF)))
    body = draw(st.binary(max_size=4 * csrc + 4))[: draw(st.integers(0, 4 * csrc))]
    if extension:
        profile = draw(st.sampled_from([0xBEDE, 0x1000, 0x1001, 0x0000]))
        words = draw(st.integers(0, 8))
        elements = draw(st.binary(max_size=4 * words + 4))
        body += struct.pack("!HH", profile, words) + elements
    body += draw(st.binary(max_size=40))
    return header + body


def _exercise(data: bytes) -> None:
    view = parse_rtp(data, IDS)
    if view is None:
        return
    assert view.payload_offset <= len(data)
    view.payload  # noqa: B018  (padding larger than the payload must not raise)
    inspect_vp8(view)
    inspect_h264(view)
    original = rtx_original(view, 96, 42)
    if original is not None:
        assert parse_rtp(original, IDS) is not None
    view.wire(IDS)


@FUZZ
@given(rtp_packets())
def test_structured_rtp_never_raises(data: bytes) -> None:
    _exercise(data)


@FUZZ
@given(st.binary(max_size=64))
def test_random_bytes_as_rtp_never_raise(data: bytes) -> None:
    _exercise(data)


def test_extension_element_header_at_the_end_of_the_block_is_not_read_past():
    # one-byte header block of one word: padding, padding, padding, then an element header
    # (id 1, one byte of data) with nothing after it: the packet ends there.
    packet = struct.pack("!BBHII", 0x90, 111, 1, 1, 1) + b"\xbe\xde\x00\x01" + b"\x00\x00\x00\x10"
    view = parse_rtp(packet, IDS)
    assert view is not None and view.audio_level is None and view.payload == b""
    two_byte = struct.pack("!BBHII", 0x90, 111, 1, 1, 1) + b"\x10\x00\x00\x01" + b"\x00\x00\x01\x05"
    assert parse_rtp(two_byte, IDS) is not None


@st.composite
def rtcp_packets(draw: st.DrawFn) -> bytes:
    """Compound RTCP of packets whose length fields, counts and FCI lie."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        packet_type = draw(st.sampled_from([200, 201, 202, 203, 205, 206, 207]))
        count = draw(st.integers(0, 31))
        body = draw(st.binary(max_size=48))
        if packet_type == 206 and draw(st.booleans()):  # REMB: claims SSRCs it may not carry
            count = 15
            body = bytes(8) + b"REMB" + bytes([draw(st.integers(0, 255))]) + body[:7]
        words = draw(st.one_of(st.just(len(body) // 4), st.integers(0, 0xFFFF)))
        parts.append(struct.pack("!BBH", 0x80 | count, packet_type, words) + body)
    return b"".join(parts)


def _guarded_transport():  # type: ignore[no-untyped-def]
    install_guards()
    pc = RTCPeerConnection()
    return pc, pc.addTransceiver("video").receiver.transport


async def test_rtcp_through_the_guarded_transport_never_raises():
    pc, dtls = _guarded_transport()
    pending: list[bytes] = []

    @FUZZ
    @given(rtcp_packets())
    def collect(data: bytes) -> None:
        pending.append(data)

    collect()
    before = DROPS["rtcp_malformed"]
    for data in pending + [HOSTILE_REMB]:
        await dtls._handle_rtcp_data(data)  # the guard lets nothing out
    assert DROPS["rtcp_malformed"] > before
    await pc.close()


async def test_stun_like_datagrams_never_raise_out_of_aioice():
    pc, dtls = _guarded_transport()
    protocol = StunProtocol(dtls.transport._connection)
    pending: list[bytes] = []

    @FUZZ
    @given(st.integers(0, 0x3FFF), st.binary(max_size=12),
           st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=24)), max_size=4))
    def collect(message_type: int, transaction: bytes, attributes: list[tuple[int, bytes]]) -> None:
        body = b"".join(struct.pack("!HH", t, len(v)) + v + bytes(-len(v) % 4)
                        for t, v in attributes)
        pending.append(struct.pack("!HHI12s", message_type, len(body), 0x2112A442, transaction)
                       + body)

    collect()
    for data in pending:
        protocol.datagram_received(data, ("127.0.0.1", 9))
    await pc.close()


def test_a_stray_packet_is_dropped_and_a_restarted_stream_is_taken_after_probation():
    seq = StreamSequence(ssrc=1111)
    assert seq.check(1111, 100) is Verdict.ACCEPT
    assert seq.check(1111, 101) is Verdict.ACCEPT
    assert seq.check(1111, 99) is Verdict.ACCEPT  # reordered
    assert seq.check(2222, 5000) is Verdict.DROP  # unannounced SSRC, one packet
    assert seq.check(1111, 20101) is Verdict.DROP  # far jump, one packet
    assert seq.check(1111, 102) is Verdict.ACCEPT  # the real stream is not gated
    assert seq.check(2222, 7000) is Verdict.DROP
    assert seq.check(2222, 7001) is Verdict.RESTART  # a new stream, confirmed
    assert (seq.ssrc, seq.max_seq) == (2222, 7001)
    assert seq.check(1111, 103) is Verdict.DROP  # the old one is now the stray
    assert seq.recent(6990, 1024) and not seq.recent(7001 - 2000, 1024)
    wrap = StreamSequence()
    assert wrap.check(5, 0xFFFF) is Verdict.ACCEPT and wrap.check(5, 0) is Verdict.ACCEPT


def test_an_announced_ssrc_is_not_displaced_by_a_stranger_arriving_first():
    seq = StreamSequence(ssrc=1111)
    assert seq.check(2222, 10) is Verdict.DROP
    assert seq.check(1111, 500) is Verdict.ACCEPT
