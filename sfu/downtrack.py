"""A subscriber's view of a source: one sending transceiver on the subscriber's session.

The down-track rewrites every forwarded packet so that the subscriber sees one continuous
stream even when the SFU pauses it (Last-N, server-side mute) or switches it to another
publisher (the active-speaker video): SSRC and payload type of the subscriber's sender,
sequence numbers and timestamps shifted to continue where the previous packet left off (the
receiver's SRTP rollover counter and jitter buffer rely on that), VP8 picture ids likewise,
header extensions renumbered. After every start, resume or switch it forwards nothing until a
key frame begins, and asks the source for one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiortc import RTCRtpTransceiver

from .aiortc_hooks import RtpSink, SenderAccess, negotiated_codecs, negotiated_extensions
from .packet import ExtensionIds, RtpView, rtp_header, with_picture_id

if TYPE_CHECKING:
    from .uptrack import UpTrack


class DownTrack:
    """Forwards one source (switchable) to one subscriber transceiver."""

    def __init__(self, track_id: str, kind: str, mime_type: str,
                 transceiver: RTCRtpTransceiver) -> None:
        self.track_id = track_id
        self.kind = kind
        self.mime_type = mime_type
        self.transceiver = transceiver
        self.sender = SenderAccess(transceiver.sender)
        self._sink = RtpSink(transceiver.sender.transport)
        self.source: UpTrack | None = None
        self.paused = False
        self.packets = 0
        self.octets = 0
        self.retransmitted = 0
        self.keyframe_requests = 0
        # set when aiortc has started the sender (the subscriber answered and DTLS is up)
        self._ready = False
        self._ssrc = self.sender.ssrc
        self._payload_type = 0
        self._ext_ids = ExtensionIds()
        # rewriting state
        self._sync_needed = True
        self._switched = False
        self._seq_offset = 0
        self._ts_offset = 0
        self._pid_offset = 0
        self._first_seq = 0  # first forwarded source sequence number since the last sync
        self._last_seq: int | None = None  # highest sequence number sent (output space)
        self._last_ts = 0
        self._last_pid: int | None = None
        self._last_sent = 0.0
        self.sender.on_feedback(self._on_keyframe_request, self.handle_nack)

    # --- control -----------------------------------------------------------------------------

    def switch(self, source: UpTrack | None) -> None:
        """Forward ``source`` from its next key frame on (None: forward nothing). The source
        must use this down-track's codec."""
        if source is self.source:
            return
        if self.source is not None:
            self.source.detach(self)
        self.source = source
        self._switched = self._last_seq is not None
        self._sync_needed = True
        if source is not None:
            source.attach(self)
            if self._ready and not self.paused:
                source.keyframes.request()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.restart()

    def restart(self) -> None:
        """Continue the same source after a gap: resynchronise on the next key frame."""
        self._sync_needed = True
        if self.source is not None and self._ready:
            self.source.keyframes.request()

    def source_gone(self, source: UpTrack) -> None:
        if self.source is source:
            self.source = None
            self._sync_needed = True
            self._switched = self._last_seq is not None

    def close(self) -> None:
        if self.source is not None:
            self.source.detach(self)
            self.source = None

    # --- forwarding path ---------------------------------------------------------------------

    def forward(self, view: RtpView) -> None:
        if self.paused:
            return
        if not self._ready and not self._start():
            return
        if self._sync_needed:
            if self.kind == "video" and not view.keyframe:
                self.source.keyframes.request()  # type: ignore[union-attr]
                return
            self._sync(view)
        elif ((self._first_seq - view.sequence_number) & 0xFFFF) - 1 < 0x7FFF:
            return  # older than the packet this stream (re)started from
        elif ((view.sequence_number - self._first_seq) & 0xFFFF) > 0x4000:
            # keep the start marker within half the sequence space of the newest packet, or
            # serial-number comparison with it would flip after 32768 packets
            self._first_seq = (view.sequence_number - 0x4000) & 0xFFFF
        self._send(view)

    def _send(self, view: RtpView) -> bool:
        seq = (view.sequence_number + self._seq_offset) & 0xFFFF
        ts = (view.timestamp + self._ts_offset) & 0xFFFFFFFF
        tail = view.tail(self._ext_ids)
        pid = -1
        if view.picture_id_offset >= 0:
            pid = (view.picture_id + self._pid_offset) & 0x7FFF
            if self._pid_offset:
                tail = with_picture_id(view, tail, pid)
        header = rtp_header(view, tail, self._payload_type, seq, ts, self._ssrc)
        if not self._sink.send_parts(header, tail):
            return False
        self.packets += 1
        self.octets += len(tail)
        last = self._last_seq
        if last is None or ((seq - last) & 0xFFFF) < 0x8000:
            self._last_seq = seq
            self._last_ts = ts
            self._last_sent = time.monotonic()
            if pid >= 0:
                self._last_pid = pid
        return True

    def _start(self) -> bool:
        """Becomes ready once aiortc has started the sender; reads the negotiated payload
        type and extension ids and asks the source for a key frame."""
        if not self.sender.started or self.source is None:
            return False
        mime = self.mime_type.lower()
        for codec in negotiated_codecs(self.transceiver):
            if codec.mimeType.lower() == mime:
                self._payload_type = codec.payloadType
                break
        else:
            return False
        self._ext_ids = ExtensionIds.from_uris(negotiated_extensions(self.transceiver))
        self._ready = True
        if self.kind == "video":
            self.source.keyframes.request()
        return True

    def _sync(self, view: RtpView) -> None:
        """Choose offsets so that ``view`` directly follows the last packet sent."""
        if self._last_seq is not None:
            self._seq_offset = (self._last_seq + 1 - view.sequence_number) & 0xFFFF
            if self._switched:
                clock_rate = self.source.clock_rate  # type: ignore[union-attr]
                elapsed = max(1, int((time.monotonic() - self._last_sent) * clock_rate))
                self._ts_offset = (self._last_ts + elapsed - view.timestamp) & 0xFFFFFFFF
            if view.picture_id_offset >= 0 and self._last_pid is not None:
                self._pid_offset = (self._last_pid + 1 - view.picture_id) & 0x7FFF
        self._first_seq = view.sequence_number
        self._sync_needed = False
        self._switched = False
        self.update_sender_report()

    # --- feedback from the subscriber --------------------------------------------------------

    def _on_keyframe_request(self) -> None:
        self.keyframe_requests += 1
        if self.source is not None:
            self.source.keyframes.request()

    def handle_nack(self, lost: list[int]) -> None:
        """Resend what the subscriber lost from the source's history (same rewriting)."""
        source = self.source
        if source is None or self._sync_needed:
            return
        for seq in lost:
            src_seq = (seq - self._seq_offset) & 0xFFFF
            if ((src_seq - self._first_seq) & 0xFFFF) >= 0x8000:
                continue  # from before the current source or sync point
            view = source.replay(src_seq)
            if view is not None and self._send(view):
                self.retransmitted += 1

    def update_sender_report(self) -> None:
        """Fill the SR aiortc sends for this sender: the source's NTP/RTP pair mapped into
        this stream's timestamps (lip sync), and this stream's own counts."""
        source = self.source
        if source is None or source.sender_report is None:
            return
        ntp, rtp = source.sender_report
        self.sender.set_report(ntp, (rtp + self._ts_offset) & 0xFFFFFFFF,
                               self.packets & 0xFFFFFFFF, self.octets & 0xFFFFFFFF)
