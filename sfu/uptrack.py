"""A published track: the one place each incoming packet of that track is handled.

An ``UpTrack`` owns what the publisher's side of forwarding needs: the packet history that
answers subscribers' NACKs, the throttled keyframe requests to the publisher, the latest
sender report, and the down-tracks the packet fans out to: steady ones as groups of writers
(one C call per group and packet), the others one by one, in Python, until they are steady.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._rtpwrite import RtpWriter, fan_out
from .packet import ExtensionIds, RtpView, inspect_h264, inspect_vp8, parse_rtp

if TYPE_CHECKING:
    from .downtrack import DownTrack

LOSS_WINDOW = 128  # packets per upstream-loss estimate (~1 s of video, ~2.5 s of audio)
HISTORY_SIZE = 1024  # packets; ~7 s of a 1.5 Mbit/s video track, a power of two for masking
PLI_INTERVAL = 0.5  # seconds: at most one keyframe request per source per interval


class PacketHistory:
    """The last :data:`HISTORY_SIZE` packets of one source, by sequence number.

    Keeps the packets' bytes, not their parsed views: bytes are invisible to the cyclic
    garbage collector, so a long history does not make every full collection (a pause of the
    whole forwarding path) longer; the rare NACK re-parses what it resends."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: list[bytes | None] = [None] * HISTORY_SIZE

    def put(self, view: RtpView) -> None:
        self._slots[view.sequence_number & (HISTORY_SIZE - 1)] = view.data

    def get(self, sequence_number: int) -> bytes | None:
        data = self._slots[sequence_number & (HISTORY_SIZE - 1)]
        if data is not None and (data[2] << 8 | data[3]) == sequence_number:
            return data
        return None


class KeyframeRequester:
    """Coalesces keyframe requests for one source into at most one PLI per
    :data:`PLI_INTERVAL`. A request inside the interval is not dropped but deferred to its
    end, so a subscriber that joins right after another still gets its keyframe promptly."""

    __slots__ = ("_send", "_last", "_pending", "sent")

    def __init__(self, send: Callable[[], None]) -> None:
        self._send = send
        self._last = -PLI_INTERVAL
        self._pending: asyncio.TimerHandle | None = None
        self.sent = 0

    def request(self) -> None:
        if self._pending is not None:
            return
        wait = self._last + PLI_INTERVAL - time.monotonic()
        if wait <= 0:
            self._fire()
        else:
            self._pending = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._last = time.monotonic()
        self.sent += 1
        self._send()

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


class UpTrack:
    """One track a peer publishes (camera, microphone or screen) and its subscribers."""

    def __init__(self, *, track_id: str, peer_id: str, kind: str, source: str, mime_type: str, clock_rate: int, send_pli: Callable[[], None],
                 on_audio_level: Callable[[UpTrack, int], None] | None = None,
                 layer: str = "high") -> None:
        self.track_id = track_id
        self.peer_id = peer_id
        self.kind = kind
        self.source = source
        self.layer = layer  # a camera's 'high' or 'low' track (two tracks: no simulcast)
        self.needed: bool | None = None  # whether a subscriber receives it, as last announced
        self.unneeded_since: float | None = None  # loop time it lost its last receiver
        self.mime_type = mime_type
        self.clock_rate = clock_rate
        self.forwarding = True
        self._muted: set[str] = set()
        self.packets = 0
        self.highest_seq = -1  # extended (wraps counted): with packets, what arrived of what was sent
        # what the publisher's link lost (recent fraction): subscribers' reports include it
        self.upstream_loss = 0.0
        self._window_start: int | None = None  # sequence number LOSS_WINDOW packets ago
        self.history = PacketHistory() if kind == "video" else None
        self.keyframes = KeyframeRequester(send_pli)
        self.sender_report: tuple[int, int] | None = None  # (NTP, RTP) from the publisher
        self.audio_listeners: list[Callable[[RtpView], None]] = []
        self._on_audio_level = on_audio_level
        self._down: tuple[DownTrack, ...] = ()
        # steady down-tracks' writers, grouped by the extension ids their tail is built with
        self._groups: tuple[tuple[ExtensionIds, tuple[RtpWriter, ...]], ...] = ()
        self._waiting: tuple[DownTrack, ...] = ()  # neither steady nor paused
        mime = mime_type.lower()
        self._inspect: Callable[[RtpView], None] | None = (
            inspect_vp8 if mime == "video/vp8" else inspect_h264 if mime == "video/h264"
            else None)

    def attach(self, down: DownTrack) -> None:
        self._down = (*self._down, down)
        self.regroup()

    def detach(self, down: DownTrack) -> None:
        self._down = tuple(d for d in self._down if d is not down)
        self.regroup()

    def receivers(self) -> int:
        """Down-tracks that forward this track (paused ones do not count)."""
        return sum(1 for d in self._down if not d.paused)

    def regroup(self) -> None:
        """Sort the down-tracks again after one became steady, waiting or paused."""
        groups: dict[ExtensionIds, list[RtpWriter]] = {}
        waiting = []
        for down in self._down:
            if down.steady:
                groups.setdefault(down.ext_ids, []).append(down.writer)
            elif not down.paused:
                waiting.append(down)
        self._groups = tuple((ids, tuple(writers)) for ids, writers in groups.items())
        self._waiting = tuple(waiting)

    def handle(self, view: RtpView) -> None:
        """Forward one packet from the publisher to every attached down-track."""
        self.packets += 1
        if self.highest_seq < 0:
            self.highest_seq = view.sequence_number
        else:
            ahead = (view.sequence_number - self.highest_seq) & 0xFFFF
            if ahead < 0x8000:
                self.highest_seq += ahead
        if self.packets % LOSS_WINDOW == 0:
            self._measure_loss(view.sequence_number)
        if self._inspect is not None:
            self._inspect(view)
            self.history.put(view)  # type: ignore[union-attr]
        elif self.kind == "audio":
            # a publisher muted by the chair cannot become the active speaker
            if (view.audio_level is not None and self._on_audio_level is not None
                    and "server" not in self._muted):
                self._on_audio_level(self, view.audio_level)
            for listener in self.audio_listeners:
                listener(view)
        if self.forwarding:
            self._fan_out(view)

    def _fan_out(self, view: RtpView) -> None:
        for ids, writers in self._groups:
            fan_out(writers, *view.wire(ids))
        for down in self._waiting:
            down.forward(view)

    def _measure_loss(self, sequence_number: int) -> None:
        if self._window_start is not None:
            expected = (sequence_number - self._window_start) & 0xFFFF
            if 0 < expected < 0x8000:
                self.upstream_loss = max(0.0, 1 - LOSS_WINDOW / expected)
        self._window_start = sequence_number

    def handle_repair(self, view: RtpView) -> None:
        """A packet the SFU had lost, recovered from the publisher's RTX stream."""
        if self._inspect is not None:
            self._inspect(view)
            self.history.put(view)  # type: ignore[union-attr]
        if self.forwarding:
            self._fan_out(view)

    def replay(self, sequence_number: int) -> RtpView | None:
        """A packet from the history, parsed again, for a retransmission."""
        if self.history is None:
            return None
        data = self.history.get(sequence_number)
        if data is None:
            return None
        view = parse_rtp(data, ExtensionIds())
        if view is not None and self._inspect is not None:
            self._inspect(view)
        return view

    def resynchronise(self) -> None:
        """The publisher's stream restarted (new SSRC, or a jump in sequence): its history
        is of the old stream, and every down-track continues from the next usable packet
        with new offsets, its subscriber seeing one unbroken stream."""
        if self.history is not None:
            self.history = PacketHistory()
        self.highest_seq = -1
        for down in self._down:
            down.restart(discontinuity=True)

    def muted_by(self, reason: str) -> bool:
        return reason in self._muted

    def on_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        self.sender_report = (ntp_timestamp, rtp_timestamp)
        for down in self._down:
            down.update_sender_report()

    def mute(self, reason: str, muted: bool) -> None:
        """Stop or resume forwarding for ``reason`` ('server': floor control, 'last-n': not
        among the loudest). Packets still arrive and feed statistics and audio taps; the
        track forwards while no reason holds, and every down-track then resynchronises."""
        if muted:
            self._muted.add(reason)
        else:
            self._muted.discard(reason)
        forwarding = not self._muted
        if forwarding == self.forwarding:
            return
        self.forwarding = forwarding
        if forwarding:
            for down in self._down:
                down.restart()

    def close(self) -> None:
        self.keyframes.close()
        for down in self._down:
            down.source_gone(self)
        self._down = ()
        self.regroup()
        self.audio_listeners.clear()
