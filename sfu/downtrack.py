"""A subscriber's view of a source: one sending transceiver on the subscriber's session.

The down-track decides how every forwarded packet is rewritten so that the subscriber sees one
continuous stream even when the SFU pauses it (Last-N, server-side mute) or switches it to
another publisher (the active-speaker video): SSRC and payload type of the subscriber's
sender, sequence numbers and timestamps shifted to continue where the previous packet left off
(the receiver's SRTP rollover counter and jitter buffer rely on that), VP8 picture ids
likewise, header extensions renumbered. After every start, resume or switch it forwards
nothing until a key frame begins, and asks the source for one.

The rewriting itself is done by its :class:`RtpWriter` (sfu/_rtpwrite.c). While the stream
waits for a key frame or a route, the source hands it each packet (:meth:`forward`); once the
stream is *steady* the source fans packets out to its writer directly, with the writers of all
other steady subscribers, in one C call.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiortc import RTCRtpTransceiver

from ._rtpwrite import RtpWriter
from .aiortc_hooks import RtpSink, SenderAccess, negotiated_codecs, negotiated_extensions
from .downlink import Downlink
from .packet import ExtensionIds, RtpView

if TYPE_CHECKING:
    from .uptrack import UpTrack


class DownTrack:
    """Forwards one source (switchable) to one subscriber transceiver."""

    def __init__(self, track_id: str, kind: str, mime_type: str,
                 transceiver: RTCRtpTransceiver, sink: RtpSink,
                 downlink: Downlink | None = None) -> None:
        """``sink``: the subscriber session's way out, shared with its other down-tracks;
        ``downlink``: its link estimate, fed with this stream's receiver reports."""
        self.track_id = track_id
        self.kind = kind
        self.mime_type = mime_type
        self.transceiver = transceiver
        self.sender = SenderAccess(transceiver.sender)
        self._sink = sink
        self.writer = RtpWriter()
        self.writer.route = sink.route
        self.writer.ssrc = self.sender.ssrc
        self.ext_ids = ExtensionIds()
        self.source: UpTrack | None = None
        self.paused = False
        # steady: synchronised and routed, so the source fans out to the writer directly
        self.steady = False
        self.retransmitted = 0
        self.keyframe_requests = 0
        # set when aiortc has started the sender (the subscriber answered and DTLS is up)
        self._ready = False
        self._sync_needed = True
        self._switched = False
        self._downlink = downlink
        self.sender.on_feedback(self._on_keyframe_request, self.handle_nack,
                                self._on_loss if downlink else None,
                                downlink.remb if downlink else None)

    @property
    def packets(self) -> int:
        return self.writer.packets

    @property
    def octets(self) -> int:
        return self.writer.octets

    # --- control -----------------------------------------------------------------------------

    def switch(self, source: UpTrack | None) -> None:
        """Forward ``source`` from its next key frame on (None: forward nothing). The source
        must use this down-track's codec."""
        if source is self.source:
            return
        if self.source is not None:
            self.source.detach(self)
        self.source = source
        self.steady = False
        self._switched = self.writer.last_seq >= 0
        self._sync_needed = True
        if source is not None:
            source.attach(self)
            if self._ready and not self.paused:
                source.keyframes.request()

    def pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._regroup(steady=False)

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.restart()

    def restart(self, *, discontinuity: bool = False) -> None:
        """Continue the same source after a gap: resynchronise on the next key frame.
        ``discontinuity``: the source's stream itself restarted (timestamps rebased too)."""
        self._sync_needed = True
        if discontinuity:
            self._switched = self.writer.last_seq >= 0
        self._regroup(steady=False)
        if self.source is not None and self._ready:
            self.source.keyframes.request()

    def source_gone(self, source: UpTrack) -> None:
        if self.source is source:
            self.source = None
            self.steady = False
            self._sync_needed = True
            self._switched = self.writer.last_seq >= 0

    def close(self) -> None:
        if self.source is not None:
            self.source.detach(self)
            self.source = None
        self.steady = False
        self.writer.route = None

    def _regroup(self, *, steady: bool) -> None:
        """Tell the source this stream's place changed (steady, waiting, or paused)."""
        self.steady = steady
        if self.source is not None:
            self.source.regroup()

    # --- forwarding path (until steady) ------------------------------------------------------

    def forward(self, view: RtpView) -> None:
        """A packet of the source while this stream is not steady."""
        if self.paused:
            return
        if not self._ready and not self._start():
            return
        if self._sync_needed:
            if self.kind == "video" and not view.keyframe:
                self.source.keyframes.request()  # type: ignore[union-attr]
                return
            self._sync(view)
        if self._send(view):
            self._regroup(steady=True)

    def _send(self, view: RtpView) -> bool:
        if not self._sink.ready():
            return False
        return self.writer.write(*view.wire(self.ext_ids))

    def _start(self) -> bool:
        """Becomes ready once aiortc has started the sender; reads the negotiated payload
        type and extension ids and asks the source for a key frame."""
        if not self.sender.started or self.source is None:
            return False
        mime = self.mime_type.lower()
        for codec in negotiated_codecs(self.transceiver):
            if codec.mimeType.lower() == mime:
                self.writer.payload_type = codec.payloadType
                break
        else:
            return False
        self.ext_ids = ExtensionIds.from_uris(negotiated_extensions(self.transceiver))
        self._ready = True
        if self.kind == "video":
            self.source.keyframes.request()
        return True

    def _sync(self, view: RtpView) -> None:
        """Choose offsets so that ``view`` directly follows the last packet sent."""
        writer = self.writer
        if writer.last_seq >= 0:
            writer.seq_offset = (writer.last_seq + 1 - view.sequence_number) & 0xFFFF
            if self._switched:
                clock_rate = self.source.clock_rate  # type: ignore[union-attr]
                elapsed = max(1, int((time.monotonic() - writer.last_sent) * clock_rate))
                writer.ts_offset = (writer.last_ts + elapsed - view.timestamp) & 0xFFFFFFFF
            if view.picture_id_offset >= 0 and writer.last_pid >= 0:
                writer.pid_offset = (writer.last_pid + 1 - view.picture_id) & 0x7FFF
        writer.first_seq = view.sequence_number  # the writer sends nothing older
        self._sync_needed = False
        self._switched = False
        self.update_sender_report()

    # --- feedback from the subscriber --------------------------------------------------------

    def _on_loss(self, fraction_lost: float) -> None:
        """The subscriber's report counts what never reached the SFU too: only the rest is
        its own link's (a lossy commune must not push every viewer to the low layer)."""
        upstream = self.source.upstream_loss if self.source is not None else 0.0
        self._downlink.report(max(0.0, fraction_lost - upstream))  # type: ignore[union-attr]

    def _on_keyframe_request(self) -> None:
        self.keyframe_requests += 1
        if self.source is not None:
            self.source.keyframes.request()

    def handle_nack(self, lost: list[int]) -> None:
        """Resend what the subscriber lost from the source's history (same rewriting; the
        writer refuses packets from before the current source or sync point)."""
        source = self.source
        if source is None or self._sync_needed:
            return
        for seq in lost:
            view = source.replay((seq - self.writer.seq_offset) & 0xFFFF)
            if view is not None and self._send(view):
                self.retransmitted += 1

    def update_sender_report(self) -> None:
        """Fill the SR aiortc sends for this sender: the source's NTP/RTP pair mapped into
        this stream's timestamps (lip sync), and this stream's own counts."""
        source = self.source
        if source is None or source.sender_report is None:
            return
        ntp, rtp = source.sender_report
        writer = self.writer
        self.sender.set_report(ntp, (rtp + writer.ts_offset) & 0xFFFFFFFF,
                               writer.packets & 0xFFFFFFFF, writer.octets & 0xFFFFFFFF)
