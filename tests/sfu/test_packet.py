"""RTP parsing on bytes, and the extension block rebuilt with a subscriber's ids (the
per-subscriber header rewriting is in tests/sfu/test_rtpwrite.py)."""

from __future__ import annotations

import struct

from aiortc.rtp import RtpPacket, HeaderExtensionsMap
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

from sfu.packet import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    ExtensionIds,
    inspect_h264,
    inspect_vp8,
    parse_rtp,
    rtx_original,
)


def aiortc_packet(ext_ids: dict[str, int], payload: bytes, **fields) -> bytes:
    """A packet serialised by aiortc itself, with mid, audio level and abs-send-time."""
    ext_map = HeaderExtensionsMap()
    ext_map.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=i, uri=u) for u, i in ext_ids.items()]))
    packet = RtpPacket(payload_type=111, sequence_number=fields.get("seq", 1000),
                       timestamp=fields.get("ts", 123456), ssrc=fields.get("ssrc", 42),
                       marker=1)
    packet.payload = payload
    packet.extensions.mid = "0"
    packet.extensions.audio_level = (True, 30)
    packet.extensions.abs_send_time = 0x123456
    return packet.serialize(ext_map)


def parse_with_aiortc(data: bytes, ext_ids: dict[str, int]) -> RtpPacket:
    ext_map = HeaderExtensionsMap()
    ext_map.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=i, uri=u) for u, i in ext_ids.items()]))
    return RtpPacket.parse(data, ext_map)


def test_parse_and_tail_map_extension_ids():
    publisher = {URI_MID: 4, URI_AUDIO_LEVEL: 1, URI_ABS_SEND_TIME: 2}
    subscriber = {URI_MID: 1, URI_AUDIO_LEVEL: 2, URI_ABS_SEND_TIME: 3}
    data = aiortc_packet(publisher, b"opus-payload")
    view = parse_rtp(data, ExtensionIds.from_uris(publisher))
    assert (view.ssrc, view.sequence_number, view.timestamp, view.payload_type) == (42, 1000, 123456, 111)
    assert view.audio_level == 30 and view.voice and view.payload == b"opus-payload"

    ids = ExtensionIds.from_uris(subscriber)
    tail, first_byte, *_ = view.wire(ids)
    assert first_byte == 0x90  # RTP version 2 with extensions
    out = struct.pack("!BBHII", first_byte, 0x80 | 109, 7, 99, 0xABCDEF) + tail
    again = parse_with_aiortc(out, subscriber)
    assert again.extensions.audio_level == (True, 30)
    assert again.extensions.abs_send_time == 0x123456
    assert again.extensions.mid is None  # subscribers demultiplex by SSRC
    assert again.payload == b"opus-payload"
    assert view.wire(ids) is view.wire(ids)  # built once per packet, shared by subscribers


def vp8_packet(picture_id: int, keyframe: bool, start: bool = True, long_pid: bool = True) -> bytes:
    descriptor = bytes([0x90 if start else 0x80, 0x80])
    descriptor += struct.pack("!H", 0x8000 | picture_id) if long_pid else bytes([picture_id & 0x7F])
    vp8_header = bytes([0x10 if keyframe else 0x11, 0, 0])
    header = struct.pack("!BBHII", 0x80, 96, 5, 9000, 1)
    return header + descriptor + vp8_header + b"frame-data"


def test_vp8_keyframe_and_picture_id_detection():
    key = parse_rtp(vp8_packet(300, keyframe=True), ExtensionIds())
    inspect_vp8(key)
    assert key.keyframe and key.picture_id == 300 and key.picture_id_long
    delta = parse_rtp(vp8_packet(301, keyframe=False), ExtensionIds())
    inspect_vp8(delta)
    assert not delta.keyframe
    middle = parse_rtp(vp8_packet(301, keyframe=True, start=False), ExtensionIds())
    inspect_vp8(middle)
    assert not middle.keyframe  # only the first packet of a key frame starts one
    short = parse_rtp(vp8_packet(100, keyframe=True, long_pid=False), ExtensionIds())
    inspect_vp8(short)
    assert short.picture_id == 100 and not short.picture_id_long


def test_h264_idr_detection():
    header = struct.pack("!BBHII", 0x80, 102, 5, 9000, 1)
    for payload, key in ((b"\x65abc", True), (b"\x41abc", False),
                         (b"\x18\x00\x02\x67\x00\x00\x02\x68\x00", True),  # STAP-A with SPS
                         (b"\x7c\x85abc", True), (b"\x7c\x05abc", False)):  # FU-A start / middle
        view = parse_rtp(header + payload, ExtensionIds())
        inspect_h264(view)
        assert view.keyframe is key, payload


def test_rtx_unwrap_restores_the_original_packet():
    rtx = struct.pack("!BBHII", 0x80, 97, 77, 9000, 555) + struct.pack("!H", 1234) + b"media"
    view = parse_rtp(rtx, ExtensionIds())
    original = parse_rtp(rtx_original(view, 96, 42), ExtensionIds())
    assert (original.ssrc, original.sequence_number, original.payload_type) == (42, 1234, 96)
    assert original.timestamp == 9000 and original.payload == b"media"


def test_rtx_padding_only_probes_are_ignored_and_padding_is_stripped():
    probe = struct.pack("!BBHII", 0xA0, 97, 78, 9000, 555) + b"\x00" * 255 + b"\xff"
    assert rtx_original(parse_rtp(probe, ExtensionIds()), 96, 42) is None
    padded = struct.pack("!BBHII", 0xA0, 97, 79, 9000, 555) + b"\x04\xd2media" + b"\x00\x00\x03"
    original = parse_rtp(rtx_original(parse_rtp(padded, ExtensionIds()), 96, 42), ExtensionIds())
    assert original.sequence_number == 1234 and original.payload == b"media" and not original.padding


def test_malformed_packets_are_rejected():
    assert parse_rtp(b"\x80\x60", ExtensionIds()) is None
    assert parse_rtp(b"\x40" + b"\x00" * 11, ExtensionIds()) is None  # version 1
    truncated_ext = struct.pack("!BBHII", 0x90, 96, 1, 1, 1) + b"\xbe\xde\x00\x05"
    assert parse_rtp(truncated_ext, ExtensionIds()) is None
