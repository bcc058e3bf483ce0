"""Decoded audio of one participant for transcription, taken beside the forwarding path.

The forwarding path only copies each Opus payload into a bounded queue (no decoding, no
await); when the consumer falls behind, new packets are dropped and counted rather than
slowing forwarding or growing memory. The consumer decodes in a worker thread, in batches,
and gets 16 kHz (by default) mono s16 PCM with the loudest RFC 6464 level of the batch.

An RTP packet with an empty payload (a keep-alive, or padding only) is skipped before it
reaches the decoder: libavcodec takes an empty packet as "end of stream" and would decode
nothing more for the rest of the session.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import av

from .events import PcmChunk
from .packet import RtpView

OPUS_RATE = 48000
QUEUE_PACKETS = 250  # 5 s of 20 ms Opus packets
BATCH_WAIT_S = 0.1  # a partial batch is decoded after this long anyway (the microphone went quiet)


class AudioTap:
    """Async iterator of :class:`PcmChunk`; ends when the participant leaves or on
    :meth:`aclose`. ``batch_packets`` > 1 wakes the consumer only once that many packets
    (or ``BATCH_WAIT_S``) have gathered: one thread hop per batch instead of per packet."""

    def __init__(self, peer_id: str, sample_rate: int,
                 on_close: Callable[[AudioTap], None], batch_packets: int = 1) -> None:
        self.peer_id = peer_id
        self.sample_rate = sample_rate
        self.batch_packets = max(1, batch_packets)
        self.dropped = 0
        self.started_at: float | None = None  # time.time() of the first packet: the wall-clock of PcmChunk.time 0
        self._on_close = on_close
        self._queue: deque[tuple[bytes, int, int | None]] = deque()
        self._ready = asyncio.Event()
        self._decoder: av.CodecContext | None = None
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        self._first_ts: int | None = None
        self._ended = False

    # called by the forwarding path
    def push(self, view: RtpView) -> None:
        if not view.payload or self._ended:
            return
        if len(self._queue) >= QUEUE_PACKETS:
            self.dropped += 1
            return
        if self.started_at is None:
            self.started_at = time.time()
        self._queue.append((view.payload, view.timestamp, view.audio_level))
        if len(self._queue) >= self.batch_packets:
            self._ready.set()

    def end(self) -> None:
        """No more audio will come (the participant left)."""
        self._ended = True
        self._ready.set()

    # consumer side
    def __aiter__(self) -> AudioTap:
        return self

    async def __anext__(self) -> PcmChunk:
        while not self._queue:
            if self._ended:
                await self.aclose()
                raise StopAsyncIteration
            self._ready.clear()
            if self.batch_packets == 1:
                await self._ready.wait()
            else:
                try:
                    await asyncio.wait_for(self._ready.wait(), BATCH_WAIT_S)
                except asyncio.TimeoutError:
                    pass
        if len(self._queue) < self.batch_packets and not self._ended:
            try:
                self._ready.clear()
                await asyncio.wait_for(self._ready.wait(), BATCH_WAIT_S)
            except asyncio.TimeoutError:
                pass
        batch = list(self._queue)
        self._queue.clear()
        pcm = await asyncio.to_thread(self._decode, [payload for payload, _, _ in batch])
        if self._first_ts is None:
            self._first_ts = batch[0][1]
        start = ((batch[0][1] - self._first_ts) & 0xFFFFFFFF) / OPUS_RATE
        levels = [level for _, _, level in batch if level is not None]
        return PcmChunk(self.peer_id, pcm, self.sample_rate, start, min(levels) if levels else None)

    async def aclose(self) -> None:
        self._ended = True
        self._on_close(self)

    def _decode(self, payloads: list[bytes]) -> bytes:
        if self._decoder is None:
            self._decoder = av.CodecContext.create("libopus", "r")
            self._decoder.format = "s16"
            self._decoder.layout = "stereo"
            self._decoder.sample_rate = OPUS_RATE
        out = bytearray()
        for payload in payloads:
            try:
                frames = self._decoder.decode(av.Packet(payload))
            except av.FFmpegError:
                continue
            for frame in frames:
                for resampled in self._resampler.resample(frame):
                    out += bytes(resampled.planes[0])[: resampled.samples * 2]
        return bytes(out)
