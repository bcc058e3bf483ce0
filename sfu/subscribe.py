"""The subscribe side of a peer: a session where the SFU offers and the client answers.

One sendonly transceiver per subscribed track, each driven by a :class:`DownTrack`. An
unsubscribed transceiver turns inactive and is reused by the next subscription of the same
kind and codec (aiortc cannot remove m-sections, and reuse keeps the SDP from growing).
Only one offer is outstanding at a time: changes made meanwhile are collected and offered
when the answer arrives (the caller learns of that offer through ``on_offer``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from aiortc.rtcdtlstransport import RTCDtlsTransport

from .aiortc_hooks import RtpSink, SenderReports, SilentTrack
from .downlink import Downlink
from .downtrack import DownTrack
from .uptrack import UpTrack


_idle_numbers = itertools.count(1)


def _capability(kind: str, mime: str) -> RTCRtpCodecCapability:
    for codec in RTCRtpSender.getCapabilities(kind).codecs:
        if codec.mimeType.lower() == mime.lower():
            return codec
    raise ValueError(f"aiortc cannot send {mime}")


class SessionClosed(KeyError):
    """The session's connection is closed while its peer is still in the room. aiortc closes a
    connection by itself once every DTLS transport is closed, i.e. when the client ends its side
    (it may do so before its signalling connection is seen to drop, and even while an answer is
    being applied), so this is an expected state, not a fault. A KeyError, like any other
    command for a peer that is gone."""


class SubscribeSession:
    """One SFU-offered peer connection carrying what a peer subscribed to."""

    def __init__(self, *, peer_id: str, configuration: RTCConfiguration) -> None:
        self.peer_id = peer_id
        self.pc = RTCPeerConnection(configuration)
        self.down: dict[str, DownTrack] = {}  # by subscribed track id
        self._idle: list[tuple[DownTrack, str]] = []  # (inactive down-track, its codec)
        self._dirty = False
        self._sinks: dict[RTCDtlsTransport, RtpSink] = {}
        self._reports = SenderReports(self.sink_of)
        self.on_link_change: Callable[[], None] | None = None  # the room re-fills the slots
        self.downlink = Downlink(self._link_changed, self._sent_octets)

    def _sent_octets(self) -> int:
        return sum(d.writer.octets for d in self.down.values())

    def _link_changed(self) -> None:
        if self.on_link_change is not None:
            self.on_link_change()

    def sink_of(self, transport: RTCDtlsTransport) -> RtpSink:
        """The session's one way out on ``transport`` (max-bundle: one for all its streams)."""
        sink = self._sinks.get(transport)
        if sink is None:
            sink = self._sinks[transport] = RtpSink(transport)
        return sink

    def add(self, track_id: str, kind: str, mime: str, source: UpTrack | None,
            stream_id: str) -> DownTrack:
        """Start forwarding ``source`` as ``track_id`` (an offer is needed afterwards)."""
        for i, (down, idle_mime) in enumerate(self._idle):
            if down.kind == kind and idle_mime.lower() == mime.lower():
                del self._idle[i]
                down.transceiver.direction = "sendonly"
                down.transceiver.sender.replaceTrack(SilentTrack(kind, track_id))
                down.track_id = track_id
                break
        else:
            try:
                transceiver = self.pc.addTransceiver(SilentTrack(kind, track_id),
                                                     direction="sendonly")
            except InvalidStateError:
                raise SessionClosed(f"the subscribe session of {self.peer_id!r} is closed") from None
            transceiver.setCodecPreferences([_capability(kind, mime)])
            down = DownTrack(track_id, kind, mime, transceiver,
                             self.sink_of(transceiver.sender.transport), self.downlink)
            self._reports.adopt(transceiver.sender, down.update_sender_report)
        down.sender.set_stream_id(stream_id)
        down.switch(source)
        self.down[track_id] = down
        self._dirty = True
        return down

    def remove(self, track_id: str) -> bool:
        down = self.down.pop(track_id, None)
        if down is None:
            return False
        down.switch(None)
        down.transceiver.direction = "inactive"
        # an idle section keeps no subscribed track's id: were that track subscribed again on
        # another transceiver, the offer would carry its a=msid twice (Chromium refuses it)
        down.transceiver.sender.replaceTrack(SilentTrack(down.kind, f"idle-{next(_idle_numbers)}"))
        self._idle.append((down, down.mime_type))
        self._dirty = True
        return True

    async def offer(self) -> str | None:
        """An offer for the pending changes, or None (nothing changed, or an offer is still
        waiting for its answer: the changes go into the next one)."""
        if not self._dirty or self.pc.signalingState != "stable":
            return None
        self._dirty = False
        try:
            await self.pc.setLocalDescription(await self.pc.createOffer())
        except InvalidStateError:
            return None  # closed: a closed session has nothing to offer (see SessionClosed)
        return self.pc.localDescription.sdp

    async def answer(self, answer_sdp: str) -> str | None:
        """Apply the client's answer; return the next offer if changes piled up meanwhile."""
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        return await self.offer()

    def mids(self) -> dict[str, str]:
        """Transceiver mid -> subscribed track id, for the client to label what it receives."""
        return {d.transceiver.mid: tid for tid, d in self.down.items()
                if d.transceiver.mid is not None}

    async def close(self) -> None:
        for down in self.down.values():
            down.close()
        for down, _ in self._idle:
            down.close()
        self.down.clear()
        self._idle.clear()
        await self.pc.close()
        self._reports.close()
        for sink in self._sinks.values():
            sink.close()
        self._sinks.clear()

