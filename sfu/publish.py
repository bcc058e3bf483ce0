"""The publish side of a peer: a session where the client offers and the SFU answers.

The client adds, replaces or stops sending tracks by sending a new offer (sendonly
transceivers; a stopped track's section turns inactive). Every decrypted packet of the session
arrives at :meth:`PublishSession._on_rtp`, which maps its SSRC to an :class:`UpTrack`,
unwraps RTX repairs, keeps the receiver statistics the publisher expects, and fans it out.
"""

from __future__ import annotations

from collections.abc import Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCDtlsTransport

from .drops import drop
from .aiortc_hooks import (
    ReceiverFeed,
    RtpSink,
    intercept_rtp,
    negotiated_codecs,
    negotiated_extensions,
    on_sender_report,
    restrict_codecs,
)
from .packet import ExtensionIds, RtpView, parse_rtp, rtx_original
from .sdp import MediaSection, media_sections
from .sequence import StreamSequence, Verdict
from .uptrack import HISTORY_SIZE, UpTrack

# What the SFU accepts from publishers, in order of preference: one codec per kind keeps every
# subscriber's offer simple and lets the active-speaker video switch between publishers.
ACCEPTED_CODECS = {"audio": ["audio/opus"], "video": ["video/VP8", "video/H264"]}
DEFAULT_SOURCE = {"audio": "microphone", "video": "camera"}
LOW_LAYER_SOURCE = "camera-low"  # the second, small track of the same camera (no simulcast)


class _Route:
    """One published track's receive side: its receiver, payload types and media SSRC."""

    __slots__ = ("up", "feed", "sink", "media_ssrc", "announced", "payload_type",
                 "rtx_payload_type", "sequence")

    def __init__(self, feed: ReceiverFeed, sink: RtpSink, media_ssrc: int | None) -> None:
        self.up: UpTrack
        self.feed = feed
        self.sink = sink
        self.media_ssrc = media_ssrc
        self.announced = media_ssrc is not None
        self.payload_type = -1
        self.rtx_payload_type: int | None = None
        self.sequence = StreamSequence(media_ssrc)

    def send_pli(self) -> None:
        if self.media_ssrc is not None:
            pli = self.feed.pli(self.media_ssrc)
            if pli is not None:
                self.sink.send_rtcp(pli)


class PublishSession:
    """One client-offered peer connection carrying a peer's published tracks."""

    def __init__(self, *, peer_id: str, configuration: RTCConfiguration,
                 make_track: Callable[..., UpTrack]) -> None:
        self.peer_id = peer_id
        self.pc = RTCPeerConnection(configuration)
        self._make_track = make_track
        self.tracks: dict[str, UpTrack] = {}  # by mid
        self._routes: dict[int, tuple[_Route, bool]] = {}  # SSRC -> (route, is RTX)
        self._all_routes: list[_Route] = []
        self._hooked: set[RTCDtlsTransport] = set()
        self._sinks: dict[RTCDtlsTransport, RtpSink] = {}
        self._ext_ids: dict[RTCDtlsTransport, ExtensionIds] = {}

    async def negotiate(self, offer_sdp: str, sources: dict[str, str]
                        ) -> tuple[str, list[UpTrack], list[UpTrack]]:
        """Apply the client's offer. Returns (answer SDP, tracks added, tracks removed).

        ``sources`` maps a mid or the offer's msid track id to 'camera', 'microphone' or
        'screen'; unnamed audio is a microphone and unnamed video a camera.
        """
        sections = {s.mid: s for s in media_sections(offer_sdp)}
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        transceivers = {t.mid: t for t in self.pc.getTransceivers()}
        chosen: dict[str, str] = {}
        for mid, section in sections.items():
            transceiver = transceivers.get(mid)
            if transceiver is None or section.kind not in ACCEPTED_CODECS:
                continue
            mime = restrict_codecs(transceiver, ACCEPTED_CODECS[section.kind])
            if mime is None:
                transceiver.direction = "inactive"
            else:
                chosen[mid] = mime
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        self._update_extension_ids()

        added: list[UpTrack] = []
        removed: list[UpTrack] = []
        for mid, section in sections.items():
            current = self.tracks.get(mid)
            sending = section.sending and mid in chosen
            if current is not None and not sending:
                removed.append(self._remove(mid))
            elif current is None and sending:
                source = (sources.get(mid) or sources.get(section.msid_track or "")
                          or DEFAULT_SOURCE[section.kind])
                added.append(self._add(transceivers[mid], section, chosen[mid], source))
        return self.pc.localDescription.sdp, added, removed

    def _add(self, transceiver: RTCRtpTransceiver, section: MediaSection, mime: str,
             source: str) -> UpTrack:
        receiver = transceiver.receiver
        dtls = receiver.transport
        codecs = negotiated_codecs(transceiver)
        codec = next(c for c in codecs if c.mimeType == mime)
        rtx_pt = next((c.payloadType for c in codecs if c.mimeType.lower().endswith("/rtx")),
                      None)
        feed = ReceiverFeed(receiver)
        sink = self._sinks.get(dtls)
        if sink is None:
            sink = self._sinks[dtls] = RtpSink(dtls)  # one descriptor per transport
        route = _Route(feed=feed, sink=sink,
                       media_ssrc=section.ssrcs[0] if section.ssrcs else None)
        layer = "high"
        if source == LOW_LAYER_SOURCE and section.kind == "video":
            source, layer = "camera", "low"
        up = self._make_track(
            track_id=f"{self.peer_id}:{section.mid}", peer_id=self.peer_id,
            kind=section.kind, source=source, mime_type=mime,
            clock_rate=codec.clockRate, send_pli=route.send_pli, layer=layer)
        route.up = up
        route.payload_type = codec.payloadType
        route.rtx_payload_type = rtx_pt
        for ssrc in section.ssrcs:
            self._routes[ssrc] = (route, False)
        for rtx_ssrc in section.rtx:
            self._routes[rtx_ssrc] = (route, True)
        self.tracks[section.mid] = up
        self._all_routes.append(route)

        def sender_report(ssrc: int, ntp: int, rtp: int) -> None:
            if ssrc == route.media_ssrc:
                up.on_sender_report(ntp, rtp)

        on_sender_report(receiver, sender_report)
        if dtls not in self._hooked:
            self._hooked.add(dtls)
            intercept_rtp(dtls, lambda data, arrival_ms, dtls=dtls: self._on_rtp(
                dtls, data, arrival_ms))
        return up

    def _remove(self, mid: str) -> UpTrack:
        up = self.tracks.pop(mid)
        self._routes = {k: v for k, v in self._routes.items() if v[0].up is not up}
        self._all_routes = [r for r in self._all_routes if r.up is not up]
        return up

    def _update_extension_ids(self) -> None:
        uris: dict[RTCDtlsTransport, dict[str, int]] = {}
        for transceiver in self.pc.getTransceivers():
            uris.setdefault(transceiver.receiver.transport, {}).update(
                negotiated_extensions(transceiver))
        self._ext_ids = {dtls: ExtensionIds.from_uris(m) for dtls, m in uris.items()}

    def _learn(self, view: RtpView) -> tuple[_Route, bool] | None:
        """An SSRC the offer did not announce: accept it if its payload type names exactly
        one track (aiortc's own rule), as media or as that track's RTX."""
        media = [r for r in self._all_routes if r.payload_type == view.payload_type]
        rtx = [r for r in self._all_routes if r.rtx_payload_type == view.payload_type]
        if len(media) + len(rtx) != 1:
            return None
        entry = (media[0], False) if media else (rtx[0], True)
        if media and media[0].media_ssrc is not None:
            return entry  # another stream on a track that has one: on probation, not kept
        if media:
            media[0].media_ssrc = view.ssrc
        elif any(r is rtx[0] and is_rtx for r, is_rtx in self._routes.values()):
            return entry  # the track has its RTX stream: not kept (repairs are checked)
        self._routes[view.ssrc] = entry
        return entry

    def _restart(self, route: _Route, ssrc: int) -> None:
        """The track's stream restarted (new SSRC or a jump in sequence): subscribers
        resynchronise on it, and its SSRC is the one keyframe requests and SRs name."""
        if route.media_ssrc != ssrc:
            if not route.announced and route.media_ssrc is not None:
                self._routes.pop(route.media_ssrc, None)
            route.media_ssrc = ssrc
            route.announced = False
            self._routes[ssrc] = (route, False)
        route.up.resynchronise()

    def _on_rtp(self, dtls: RTCDtlsTransport, data: bytes, arrival_time_ms: int) -> None:
        view = parse_rtp(data, self._ext_ids.get(dtls) or ExtensionIds())
        if view is None:
            drop("rtp_malformed")
            return
        entry = self._routes.get(view.ssrc) or self._learn(view)
        if entry is None:
            drop("rtp_unknown_ssrc")
            return
        route, is_rtx = entry
        up = route.up
        if not is_rtx:
            if view.payload_type != route.payload_type:
                drop("rtp_wrong_payload_type")
                return
            verdict = route.sequence.check(view.ssrc, view.sequence_number)
            if verdict is Verdict.DROP:
                drop("rtp_out_of_stream")
                return
            if verdict is Verdict.RESTART:
                self._restart(route, view.ssrc)
            up.handle(view)
            for feedback in route.feed.feed(view, up.clock_rate, arrival_time_ms):
                route.sink.send_rtcp(feedback)
            return
        route.feed.count_retransmission(view, up.clock_rate)
        if route.media_ssrc is None:
            return
        original = rtx_original(view, route.payload_type, route.media_ssrc)
        repaired = parse_rtp(original, ExtensionIds()) if original else None
        if repaired is not None:
            if not route.sequence.recent(repaired.sequence_number, HISTORY_SIZE):
                drop("rtx_out_of_stream")  # a repair of nothing the stream has sent lately
                return
            route.feed.repaired(repaired.sequence_number)
            up.handle_repair(repaired)

    async def close(self) -> None:
        for up in self.tracks.values():
            up.close()
        self.tracks.clear()
        self._routes.clear()
        self._all_routes.clear()
        await self.pc.close()
        for sink in self._sinks.values():
            sink.close()
        self._sinks.clear()
