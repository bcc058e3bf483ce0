"""The C end of the forwarding path (sfu/_rtpwrite.c): what a subscriber decrypts after a
writer rewrote, protected and sent a packet, over a real SRTP link on loopback."""

from __future__ import annotations

import socket
import struct

import pytest

import sfu.aiortc_hooks  # noqa: F401  (hands pylibsrtp's srtp_protect to the writer)
from sfu._rtpwrite import RtpRoute, RtpWriter, fan_out
from sfu.packet import ExtensionIds, inspect_vp8, parse_rtp
from tests.sfu.wire import Wire, srtp_address


def vp8(seq: int, ts: int, picture_id: int, long_pid: bool = True, marker: bool = False,
        keyframe: bool = True) -> bytes:
    descriptor = bytes([0x90, 0x80])
    descriptor += struct.pack("!H", 0x8000 | picture_id) if long_pid else bytes([picture_id])
    return (struct.pack("!BBHII", 0x80, 96 | (0x80 if marker else 0), seq, ts, 1234)
            + descriptor + bytes([0x10 if keyframe else 0x11, 0, 0]) + b"frame-data")


def write(writer: RtpWriter, data: bytes) -> bool:
    view = parse_rtp(data, ExtensionIds())
    inspect_vp8(view)
    return writer.write(*view.wire(ExtensionIds()))


def received(wire: Wire):
    views = [parse_rtp(d, ExtensionIds()) for d in wire.drain()]
    for view in views:
        inspect_vp8(view)
    return views


@pytest.fixture
def wire():
    link = Wire()
    yield link
    link.close()


def routed_writer(wire: Wire, ssrc: int = 0xCAFE, payload_type: int = 97) -> RtpWriter:
    writer = RtpWriter()
    writer.ssrc, writer.payload_type = ssrc, payload_type
    wire.route(writer)
    return writer


def test_an_opus_payload_that_looks_like_an_extension_header_stays_a_payload(wire):
    """The extension bit comes from how the tail was built, not from its first bytes: an
    Opus TOC byte 0xBE followed by 0xDE must not turn into an RFC 8285 header."""
    writer = routed_writer(wire)
    data = struct.pack("!BBHII", 0x80, 111, 1, 960, 5) + b"\xbe\xde\x00\x01opus"
    view = parse_rtp(data, ExtensionIds())
    assert writer.write(*view.wire(ExtensionIds()))
    [out] = received(wire)
    assert out.payload == b"\xbe\xde\x00\x01opus"


def test_header_fields_offsets_and_picture_ids_are_rewritten(wire):
    writer = routed_writer(wire)
    writer.seq_offset = 65530  # wraps
    writer.ts_offset = 0xFFFFFF00
    writer.pid_offset = 0x7FFF  # i.e. minus one
    assert write(writer, vp8(10, 1000, 300, marker=True))
    assert write(writer, vp8(11, 4000, 5, long_pid=False))
    first, second = received(wire)
    assert (first.ssrc, first.payload_type, first.marker) == (0xCAFE, 97, True)
    assert first.sequence_number == (10 + 65530) & 0xFFFF
    assert first.timestamp == (1000 + 0xFFFFFF00) & 0xFFFFFFFF
    assert first.picture_id == 299 and first.picture_id_long and first.keyframe
    assert first.payload.endswith(b"frame-data")
    assert second.picture_id == 4 and not second.picture_id_long and not second.marker
    assert writer.packets == 2 and writer.drops == 0
    assert writer.last_seq == second.sequence_number and writer.last_ts == second.timestamp
    assert writer.last_pid == 4


def test_packets_older_than_the_start_are_not_sent(wire):
    writer = routed_writer(wire)
    writer.first_seq = 100
    assert write(writer, vp8(100, 0, 1))
    assert not write(writer, vp8(99, 0, 1))  # reordered, from before the key frame
    assert not write(writer, vp8(65000, 0, 1))
    assert write(writer, vp8(101, 0, 1))
    assert [v.sequence_number for v in received(wire)] == [100, 101]
    # the start marker follows the stream so that serial comparison never flips
    assert write(writer, vp8(100 + 0x5000, 0, 1))
    assert writer.first_seq == 100 + 0x1000


def test_a_retransmission_does_not_move_the_last_packet_sent(wire):
    writer = routed_writer(wire)
    for seq in (1, 2, 3):
        assert write(writer, vp8(seq, seq * 100, seq))
    assert write(writer, vp8(2, 200, 2))  # a NACK answered
    assert [v.sequence_number for v in received(wire)] == [1, 2, 3, 2]
    assert (writer.last_seq, writer.last_ts, writer.last_pid) == (3, 300, 3)
    assert writer.packets == 4


def test_fan_out_sends_one_packet_to_every_writer_with_its_own_rewrite(wire):
    other = Wire()
    try:
        writers = (routed_writer(wire, ssrc=1), routed_writer(other, ssrc=2))
        writers[1].seq_offset = 1000
        view = parse_rtp(vp8(7, 70, 9), ExtensionIds())
        inspect_vp8(view)
        sent = fan_out(writers, *view.wire(ExtensionIds()))
        assert sent == 2
        [a], [b] = received(wire), received(other)
        assert (a.ssrc, a.sequence_number) == (1, 7) and (b.ssrc, b.sequence_number) == (2, 1007)
        assert a.payload == b.payload
    finally:
        other.close()


def test_what_cannot_be_sent_is_dropped_and_counted(wire):
    unrouted = RtpWriter()
    assert not write(unrouted, vp8(1, 0, 1))
    assert unrouted.drops == 1 and not unrouted.routed
    writer = routed_writer(wire)
    too_big = struct.pack("!BBHII", 0x80, 96, 1, 0, 1) + bytes(1400)
    assert not writer.write(too_big[12:], 0x80, False, 1, 0, -1, 0, False)
    assert writer.drops == 1 and writer.packets == 0
    writer.route.clear()
    assert not writer.routed and not write(writer, vp8(2, 0, 1))
    assert received(wire) == []


def test_the_route_survives_the_original_socket_being_closed(wire):
    """The writer sends on its own duplicate of the descriptor: a number the original had
    is never reused under it by another socket."""
    writer = routed_writer(wire)
    wire.sender.close()
    assert write(writer, vp8(1, 0, 1))
    assert len(received(wire)) == 1


def test_bad_arguments_are_refused_with_a_clear_error(wire):
    writer = RtpWriter()
    route = RtpRoute()
    writer.route = route
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(ValueError, match="not a numeric IPv4 or IPv6 address"):
            route.set(sock.fileno(), "example.org", 5000, srtp_address(wire.tx), wire.tx)
        with pytest.raises(ValueError, match="port 0 is out of range"):
            route.set(sock.fileno(), "127.0.0.1", 0, srtp_address(wire.tx), wire.tx)
        with pytest.raises(OSError):
            route.set(-1, "127.0.0.1", 5000, srtp_address(wire.tx), wire.tx)
        assert not writer.routed and not route.routed
        with pytest.raises(TypeError, match="route must be an RtpRoute"):
            writer.route = sock
        with pytest.raises(TypeError, match="tail must be bytes"):
            writer.write("text", 0x80, False, 1, 0, -1, 0, False)
        with pytest.raises(ValueError, match="RTP version 2"):
            writer.write(b"abc", 0x40, False, 1, 0, -1, 0, False)
        with pytest.raises(ValueError, match="pid_position is outside tail"):
            writer.write(b"abc", 0x80, False, 1, 0, 3, 0, False)
        with pytest.raises(TypeError, match="not an RtpWriter"):
            fan_out((writer, object()), b"abc", 0x80, False, 1, 0, -1, 0, False)
    finally:
        sock.close()
