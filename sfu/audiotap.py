"""Decoded audio of one participant for transcription, taken beside the forwarding path.

The forwarding path only copies each Opus payload into a bounded queue (no decoding, no
await); when the consumer falls behind, new packets are dropped and counted rather than
slowing forwarding or growing memory. Two ways to consume it:
- iterate: PCM chunks (16 kHz by default, mono s16, with the loudest RFC 6464 level of the
  batch), decoded in the default executor;
- `deliver(on_batch)`: undecoded `OpusBatch`es handed over on the event loop as soon as a
  batch is full, for a consumer that decodes elsewhere: transcription decodes and recognises
  in its own process (transcription/worker.py), so this process neither decodes nor wakes a
  thread or a task per batch (on this project's VMs each wake-up costs ~0.1 ms of CPU, more
  than decoding a batch).

Decoding is opuscodec's (libopus asked for 16 kHz mono).

An RTP packet with an empty payload (a keep-alive, or padding only) is skipped before it
reaches the decoder: libavcodec takes an empty packet as "end of stream" and would decode
nothing more for the rest of the session.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from opuscodec import OPUS_RATE, OpusDecoder, packets_seconds

from .events import PcmChunk
from .packet import RtpView

QUEUE_PACKETS = 250  # 5 s of 20 ms Opus packets
BATCH_WAIT_S = 0.1  # a partial batch is decoded after this long anyway (the microphone went quiet)


@dataclass(frozen=True)
class OpusBatch:
    """Undecoded packets of one tap (`AudioTap.deliver`), for one decoder to take in order."""

    peer_id: str
    time: float  # seconds on the RTP clock since the tap's first packet, as PcmChunk.time
    seconds: float
    level: int | None  # the loudest RFC 6464 level of the packets (None: not sent)
    payloads: tuple[bytes, ...]


async def wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """`event.wait()`, giving up after `seconds`: asyncio.timeout, unlike wait_for, starts no
    task, and this runs ten times a second per tapped microphone."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass


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
        self._decoder: OpusDecoder | None = None  # iterating only (deliver hands packets over undecoded)
        self._first_ts: int | None = None
        self._ended = False
        self._on_batch: Callable[[OpusBatch], None] | None = None  # push mode (deliver)
        self._flush_timer: asyncio.TimerHandle | None = None

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
        if self._on_batch is not None:
            if len(self._queue) >= self.batch_packets:
                self._hand_over()
            elif self._flush_timer is None:
                self._flush_timer = asyncio.get_running_loop().call_later(BATCH_WAIT_S, self._hand_over)
        elif len(self._queue) >= self.batch_packets:
            self._ready.set()

    def end(self) -> None:
        """No more audio will come (the participant left)."""
        self._ended = True
        self._ready.set()

    # push mode
    async def deliver(self, on_batch: Callable[[OpusBatch], None]) -> None:
        """Hand each batch (``batch_packets`` packets, or what came within ``BATCH_WAIT_S``)
        undecoded to ``on_batch``, called on the event loop from the forwarding path (so it must
        only hand over); returns when the tap ends, after the last batch."""
        self._on_batch = on_batch
        try:
            self._hand_over()  # what came before
            while not self._ended:
                self._ready.clear()
                await self._ready.wait()
            self._hand_over()
        finally:
            self._on_batch = None
            await self.aclose()

    def _hand_over(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._queue or self._on_batch is None:
            return
        batch = tuple(self._queue)
        self._queue.clear()
        payloads = tuple(payload for payload, _, _ in batch)
        levels = [level for _, _, level in batch if level is not None]
        self._on_batch(OpusBatch(self.peer_id, self._clock(batch[0][1]), packets_seconds(payloads),
                                 min(levels) if levels else None, payloads))

    def _clock(self, timestamp: int) -> float:
        if self._first_ts is None:
            self._first_ts = timestamp
        return ((timestamp - self._first_ts) & 0xFFFFFFFF) / OPUS_RATE

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
                await wait_at_most(self._ready, BATCH_WAIT_S)
        if len(self._queue) < self.batch_packets and not self._ended:
            self._ready.clear()
            await wait_at_most(self._ready, BATCH_WAIT_S)
        batch = list(self._queue)
        self._queue.clear()
        payloads = [payload for payload, _, _ in batch]
        self._decoder = self._decoder or OpusDecoder(self.sample_rate)
        pcm = await asyncio.get_running_loop().run_in_executor(None, self._decoder.decode, payloads)
        start = self._clock(batch[0][1])
        levels = [level for _, _, level in batch if level is not None]
        return PcmChunk(self.peer_id, pcm, self.sample_rate, start, min(levels) if levels else None)

    async def aclose(self) -> None:
        self._ended = True
        self._on_close(self)
