"""Real aiortc peers for the SFU tests: publishers with synthetic media, subscribers that
decode what they receive and keep score.

Synthetic media (a flat colour per publisher, a sine tone of settable loudness) is not a
mock: aiortc encodes it to VP8 and Opus and sends it over ICE/DTLS/SRTP on loopback like any
client would.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from sfu import Sfu

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


class ColourTrack(MediaStreamTrack):
    """Frames of one colour (with a moving bar, so frames differ) at ``fps``, 320x240
    unless ``size`` says otherwise (a low layer)."""

    kind = "video"

    def __init__(self, rgb: tuple[int, int, int], fps: int = 20,
                 size: tuple[int, int] = (320, 240)) -> None:
        super().__init__()
        self.rgb = rgb
        self.fps = fps
        self.size = size
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._n / self.fps
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        width, height = self.size
        img = np.empty((height, width, 3), np.uint8)
        img[:] = self.rgb
        x = (self._n * 8) % width
        img[:, x:x + 16] = 255 - np.array(self.rgb, np.uint8)
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self._n * VIDEO_CLOCK // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._n += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames; ``amplitude`` (0..1) sets the RFC 6464 level aiortc
    writes into every packet."""

    kind = "audio"

    def __init__(self, amplitude: float = 0.3) -> None:
        super().__init__()
        self.amplitude = amplitude
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        samples = AUDIO_RATE // 50
        target = self._start + self._n * 0.02
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        t = (np.arange(samples) + self._n * samples) / AUDIO_RATE
        pcm = (np.sin(2 * math.pi * 440 * t) * self.amplitude * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._n * samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._n += 1
        return frame


async def publish(sfu: Sfu, room: str, peer: str, *tracks: MediaStreamTrack,
                  sources: dict[str, str] | None = None) -> RTCPeerConnection:
    """Join and publish ``tracks`` as a client would (the client offers)."""
    await sfu.join(room, peer)
    pc = RTCPeerConnection(config())
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await sfu.publish(room, peer, pc.localDescription.sdp, sources or {})
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


@dataclass
class Received:
    """What a subscriber got on one track."""

    kind: str
    frames: int = 0
    first_at: float | None = None
    colours: list[tuple[float, tuple[int, int, int]]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)


class DecodeErrors(logging.Handler):
    """Counts aiortc's "failed to decode" warnings (its decoder thread only logs them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "decode" in record.getMessage():
            self.count += 1


class Subscriber:
    """A client's subscribe session: answers the SFU's offers and decodes what arrives."""

    def __init__(self, sfu: Sfu, room: str, peer: str) -> None:
        self.sfu = sfu
        self.room = room
        self.peer = peer
        self.pc = RTCPeerConnection(config())
        self.received: dict[str, Received] = {}  # by msid track id
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def accept(self, offer: str | None) -> None:
        if offer is None:
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.sfu.answer(self.room, self.peer, self.pc.localDescription.sdp)

    async def subscribe(self, *track_ids: str) -> None:
        await self.accept(await self.sfu.subscribe(self.room, self.peer, list(track_ids)))

    def spy_rtp(self) -> list[bytes]:
        """Record every decrypted RTP packet this client receives (wraps aiortc's private
        ``RTCDtlsTransport._handle_rtp_data``; call after the first offer was accepted)."""
        dtls = self.pc.getTransceivers()[0].receiver.transport
        original = dtls._handle_rtp_data
        packets: list[bytes] = []

        async def spy(data: bytes, arrival_time_ms: int) -> None:
            packets.append(data)
            await original(data, arrival_time_ms=arrival_time_ms)

        dtls._handle_rtp_data = spy
        return packets

    async def _consume(self, track: MediaStreamTrack) -> None:
        got = self.received.setdefault(track.id, Received(track.kind))
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                got.frames += 1
                if got.first_at is None:
                    got.first_at = now
                if track.kind == "video":
                    img = frame.to_ndarray(format="rgb24")
                    background = np.median(img[::8, ::8].reshape(-1, 3), axis=0)
                    got.colours.append((now, tuple(int(c) for c in background)))
                    got.widths.append(img.shape[1])
                else:
                    pcm = frame.to_ndarray().astype(np.float64)
                    got.energy.append(float(np.sqrt(np.mean(pcm ** 2))))
        except MediaStreamError:
            pass

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class LossyLink:
    """Test double standing in for a lossy network (no netem on these machines): drops every
    ``nth`` packet of one SSRC on its first arrival at the subscriber's socket, before SRTP
    (whose header is in clear); a retransmission of a dropped sequence number passes."""

    def __init__(self, pc: RTCPeerConnection, ssrc: int, nth: int) -> None:
        self.dropped: set[int] = set()
        self.resent: set[int] = set()
        self._count = 0
        wanted = ssrc.to_bytes(4, "big")
        pair = pc.getTransceivers()[0].receiver.transport.transport._connection._nominated[1]
        original = pair.protocol.datagram_received

        def datagram_received(data: bytes, addr: Any) -> None:
            if len(data) >= 12 and 127 < data[0] < 192 and data[8:12] == wanted:
                seq = (data[2] << 8) | data[3]
                if seq in self.dropped:
                    self.resent.add(seq)
                else:
                    self._count += 1
                    if self._count % nth == 0:
                        self.dropped.add(seq)
                        return
            original(data, addr)

        pair.protocol.datagram_received = datagram_received


async def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true; generous timeouts (this box is shared and slow)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
