"""A microphone that says what the test tells it to (tone bursts), published to the server like a browser."""
from __future__ import annotations

import asyncio
import fractions
import time
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame

RATE = 48000
FRAME = RATE // 50


class BurstTrack(MediaStreamTrack):
    """Silence (faint noise) in 20 ms frames; `say(seconds)` puts a tone burst in the next frames.
    `bursts` keeps each burst as (start, end) in seconds of the track's own clock, which is the
    audio tap's clock (both start at the first packet)."""

    kind = "audio"

    def __init__(self, hz: float = 440.0) -> None:
        super().__init__()
        self.hz = hz
        self.bursts: list[tuple[float, float]] = []
        self.burst_walls: list[tuple[float, float]] = []  # the same, as time.time() when sent
        self._n = 0
        self._start: float | None = None
        self._burst_frames = 0
        self._rng = np.random.default_rng(3)

    def say(self, seconds: float) -> None:
        self._burst_frames = int(seconds * 50)

    @property
    def started(self) -> bool:
        return self._start is not None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._n * 0.02 - time.monotonic()))
        signal = 20 * self._rng.standard_normal(FRAME)
        if self._burst_frames > 0:
            if not self.bursts or self.bursts[-1][1] < self._n * 0.02 - 1e-9:
                self.bursts.append((self._n * 0.02, self._n * 0.02))
                self.burst_walls.append((time.time(), time.time()))
            t = (np.arange(FRAME) + self._n * FRAME) / RATE
            signal += 0.3 * 32767 * np.sin(2 * np.pi * self.hz * t)
            self._burst_frames -= 1
            self.bursts[-1] = (self.bursts[-1][0], (self._n + 1) * 0.02)
            self.burst_walls[-1] = (self.burst_walls[-1][0], time.time() + 0.02)
        frame = AudioFrame.from_ndarray(signal.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._n * FRAME, fractions.Fraction(1, RATE)
        self._n += 1
        return frame


async def publish_microphone(client: Any, meeting_id: int, track: BurstTrack) -> RTCPeerConnection:
    """media:join and media:publish one microphone over a real peer connection (loopback)."""
    joined = await client.call("media:join", {"meeting_id": meeting_id}, timeout=30)
    assert joined["ok"], joined
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sources = {pc.getTransceivers()[0].mid: "microphone"}
    ack = await client.call("media:publish", {"meeting_id": meeting_id, "sdp": pc.localDescription.sdp,
                                              "sources": sources}, timeout=30)
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
    return pc
