"""RTP packets as bytes: the one parse per incoming packet, and the rewrites per subscriber.

Why not aiortc's ``RtpPacket``: it re-serialises every header extension and copies the payload
on every ``serialize()``, and the SFU sends each packet to many subscribers. Here a packet is
parsed once (offsets, the few header fields the SFU needs, the extensions it maps), its tail
(extensions + payload) is built once per set of extension ids (:meth:`RtpView.wire`), and
sfu/_rtpwrite.c writes the 12-byte header in front of it for each subscriber.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")
_ONE_BYTE_PROFILE = 0xBEDE

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


@dataclass(frozen=True, slots=True)
class ExtensionIds:
    """Negotiated ids of the header extensions the SFU reads or forwards (None: not used).

    Publisher and subscriber sessions negotiate ids independently (a browser offer numbers them
    its own way, aiortc's offers another), so every forwarded packet's extensions are re-encoded
    with the subscriber's ids; extensions the subscriber did not negotiate (transport-wide
    congestion control, the AV1 dependency descriptor…) are dropped, and so is ``mid``, since
    subscribers demultiplex by the SSRCs signalled in the SFU's offer.
    """

    audio_level: int | None = None
    abs_send_time: int | None = None

    @classmethod
    def from_uris(cls, uri_to_id: dict[str, int]) -> ExtensionIds:
        """One shared instance per mapping, so the per-packet check in :meth:`RtpView.tail`
        is an identity test."""
        key = (uri_to_id.get(URI_AUDIO_LEVEL), uri_to_id.get(URI_ABS_SEND_TIME))
        ids = _INTERNED.get(key)
        if ids is None:
            ids = _INTERNED[key] = cls(audio_level=key[0], abs_send_time=key[1])
        return ids


_INTERNED: dict[tuple[int | None, int | None], ExtensionIds] = {}


class RtpView:
    """One received RTP packet: header fields, payload offset and the mapped extensions.

    Duck-types the attributes aiortc's receive statistics and NACK generator read
    (``ssrc``, ``sequence_number``, ``timestamp``, ``payload_type``).
    """

    __slots__ = (
        "data",
        "ssrc",
        "payload_type",
        "sequence_number",
        "timestamp",
        "marker",
        "padding",
        "payload_offset",
        "audio_level",
        "voice",
        "abs_send_time",
        "_tail_ids",
        "_wire",
        "keyframe",
        "picture_id_offset",
        "picture_id",
        "picture_id_long",
    )

    def __init__(self, data: bytes, ssrc: int, payload_type: int, sequence_number: int,
                 timestamp: int, marker: bool, padding: bool, payload_offset: int) -> None:
        self.data = data
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.marker = marker
        self.padding = padding
        self.payload_offset = payload_offset
        self.audio_level: int | None = None
        self.voice = False
        self.abs_send_time: bytes | None = None
        self._tail_ids: ExtensionIds | None = None
        self._wire: WireFields | None = None
        self.keyframe = False
        self.picture_id_offset = -1
        self.picture_id = 0
        self.picture_id_long = False

    @property
    def payload(self) -> bytes:
        """The payload without RTP padding."""
        end = len(self.data) - (self.data[-1] if self.padding else 0)
        return self.data[self.payload_offset:max(self.payload_offset, end)]

    def wire(self, ids: ExtensionIds) -> WireFields:
        """What :meth:`sfu._rtpwrite.RtpWriter.write` needs to send this packet to a
        subscriber with extension ids ``ids``: the tail (extension block with those ids, then
        the payload) and the header fields. Built once per packet and set of ids, shared by
        every subscriber (all subscribe sessions are offered by the SFU, so their ids
        normally agree)."""
        if ids is self._tail_ids or ids == self._tail_ids:
            return self._wire  # type: ignore[return-value]
        extensions = build_extensions(ids, self.audio_level, self.voice, self.abs_send_time)
        tail = extensions + self.data[self.payload_offset:]
        first_byte = 0x80 | (0x20 if self.padding else 0) | (0x10 if extensions else 0)
        position = (len(extensions) + self.picture_id_offset
                    if self.picture_id_offset >= 0 else -1)
        self._tail_ids = ids
        self._wire = (tail, first_byte, self.marker, self.sequence_number, self.timestamp,
                      position, self.picture_id, self.picture_id_long)
        return self._wire


# (tail, first header byte, marker, sequence number, timestamp, picture-id position in tail
#  or -1, picture id, 15-bit picture id?): the arguments of RtpWriter.write after ``self``
WireFields = tuple[bytes, int, bool, int, int, int, int, bool]


def parse_rtp(data: bytes, ids: ExtensionIds) -> RtpView | None:
    """Parse an RTP packet's header and the extensions named in ``ids``; None if malformed."""
    if len(data) < 12:
        return None
    b0, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        return None
    offset = 12 + 4 * (b0 & 0x0F)
    view = RtpView(data, ssrc, b1 & 0x7F, seq, ts, bool(b1 & 0x80), bool(b0 & 0x20), offset)
    if b0 & 0x10:
        if len(data) < offset + 4:
            return None
        profile, words = struct.unpack_from("!HH", data, offset)
        start = offset + 4
        end = start + 4 * words
        if len(data) < end:
            return None
        _read_extensions(view, data, profile, start, end, ids)
        offset = end
    view.payload_offset = offset
    if offset > len(data):
        return None
    return view


def _read_extensions(view: RtpView, data: bytes, profile: int, pos: int, end: int,
                     ids: ExtensionIds) -> None:
    one_byte = profile == _ONE_BYTE_PROFILE
    if not one_byte and profile & 0xFFF0 != 0x1000:
        return
    while pos < end:
        if one_byte:
            head = data[pos]
            if head == 0:  # padding
                pos += 1
                continue
            ext_id, length = head >> 4, (head & 0x0F) + 1
            if ext_id == 15:
                return
            pos += 1
        else:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            if pos + 1 >= end:
                return
            length = data[pos + 1]
            pos += 2
        if pos + length > end:  # an element running past its block: ignore the rest
            return
        if ext_id == ids.audio_level and length >= 1:
            view.audio_level = data[pos] & 0x7F
            view.voice = bool(data[pos] & 0x80)
        elif ext_id == ids.abs_send_time and length == 3:
            view.abs_send_time = data[pos:pos + 3]
        pos += length


def build_extensions(ids: ExtensionIds, audio_level: int | None, voice: bool,
                     abs_send_time: bytes | None) -> bytes:
    """A one-byte-header extension block (RFC 8285), or b"" when nothing is to be sent."""
    body = b""
    if audio_level is not None and ids.audio_level:
        body += bytes(((ids.audio_level << 4), (0x80 if voice else 0) | audio_level))
    if abs_send_time is not None and ids.abs_send_time:
        body += bytes(((ids.abs_send_time << 4) | 2,)) + abs_send_time
    if not body:
        return b""
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", _ONE_BYTE_PROFILE, len(body) // 4) + body


def inspect_vp8(view: RtpView) -> None:
    """Set ``keyframe`` (first packet of a key frame) and the picture-id location.

    RFC 7741: payload descriptor (X, S, PID; then I/L/T/K and the picture id), followed on the
    first packet of a frame by the VP8 payload header whose P bit is 0 on key frames.
    """
    data, pos = view.data, view.payload_offset
    end = len(data)
    if view.padding and end > pos:
        end -= data[-1]
    if pos >= end:
        return
    b0 = data[pos]
    start = bool(b0 & 0x10) and (b0 & 0x07) == 0
    pos += 1
    if b0 & 0x80:
        if pos >= end:
            return
        x = data[pos]
        pos += 1
        if x & 0x80:
            if pos >= end:
                return
            view.picture_id_offset = pos - view.payload_offset
            if data[pos] & 0x80:
                if pos + 1 >= end:
                    return
                view.picture_id_long = True
                view.picture_id = _U16.unpack_from(data, pos)[0] & 0x7FFF
                pos += 2
            else:
                view.picture_id = data[pos]
                pos += 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    if start and pos < end:
        view.keyframe = (data[pos] & 0x01) == 0


def inspect_h264(view: RtpView) -> None:
    """Set ``keyframe`` on packets that start an IDR access unit (RFC 6184: single NAL,
    STAP-A with an SPS or IDR inside, or the first FU-A fragment of an IDR slice)."""
    data, pos = view.data, view.payload_offset
    if pos >= len(data):
        return
    nal = data[pos] & 0x1F
    if nal in (5, 7):
        view.keyframe = True
    elif nal == 24:  # STAP-A
        pos += 1
        while pos + 2 < len(data):
            size = _U16.unpack_from(data, pos)[0]
            if data[pos + 2] & 0x1F in (5, 7):
                view.keyframe = True
                return
            pos += 2 + size
    elif nal == 28 and pos + 1 < len(data):  # FU-A
        fu = data[pos + 1]
        view.keyframe = bool(fu & 0x80) and (fu & 0x1F) == 5


def rtx_original(view: RtpView, payload_type: int, ssrc: int) -> bytes | None:
    """The original packet carried in an RTX retransmission (RFC 4588), without padding or
    header extensions (the forwarding path re-creates the ones it maps); None for the
    padding-only packets senders use to probe bandwidth."""
    payload = view.payload
    if len(payload) <= 2:
        return None
    seq = _U16.unpack_from(payload)[0]
    b0 = 0x80
    b1 = payload_type | (0x80 if view.marker else 0)
    return RTP_HEADER.pack(b0, b1, seq, view.timestamp, ssrc) + payload[2:]
