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
from collections.abc import Callable

import av

from .events import PcmChunk
from .packet import RtpView

OPUS_RATE = 48000
QUEUE_PACKETS = 250  # 5 s of 20 ms Opus packets


class AudioTap:
    """Async iterator of :class:`PcmChunk`; ends when the participant leaves or on
    :meth:`aclose`."""

    def __init__(self, peer_id: str, sample_rate: int,
                 on_close: Callable[[AudioTap], None]) -> None:
        self.peer_id = peer_id
        self.sample_rate = sample_rate
        self.dropped = 0
        self._on_close = on_close
        self._queue: asyncio.Queue[tuple[bytes, int, int | None] | None] = asyncio.Queue(QUEUE_PACKETS)
        self._decoder: av.CodecContext | None = None
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        self._first_ts: int | None = None
        self._ended = False

    # called by the forwarding path
    def push(self, view: RtpView) -> None:
        if not view.payload:
            return
        try:
            self._queue.put_nowait((view.payload, view.timestamp, view.audio_level))
        except asyncio.QueueFull:
            self.dropped += 1

    def end(self) -> None:
        """No more audio will come (the participant left)."""
        if self._ended:
            return
        self._ended = True
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    # consumer side
    def __aiter__(self) -> AudioTap:
        return self

    async def __anext__(self) -> PcmChunk:
        item = await self._queue.get()
        if item is None:
            await self.aclose()
            raise StopAsyncIteration
        batch = [item]
        while not self._queue.empty():
            nxt = self._queue.get_nowait()
            if nxt is None:
                self._queue.put_nowait(None)  # end after this batch
                break
            batch.append(nxt)
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
