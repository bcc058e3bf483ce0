"""Decoded audio of one participant for transcription, taken beside the forwarding path.

The forwarding path only copies each Opus payload into a bounded queue (no decoding, no
await); when the consumer falls behind, new packets are dropped and counted rather than
slowing forwarding or growing memory. The consumer decodes in a worker thread, in batches,
and gets 16 kHz (by default) mono s16 PCM with the loudest RFC 6464 level of the batch.

Decoding calls libopus itself (the library PyAV's decoder wraps) asking for 16 kHz mono:
Opus decodes natively at that rate, so there is no 48 kHz stereo frame, no resampler and no
per-packet Python object; it costs about half of PyAV's decode-then-resample (bench/asr.py).

An RTP packet with an empty payload (a keep-alive, or padding only) is skipped before it
reaches the decoder: libavcodec takes an empty packet as "end of stream" and would decode
nothing more for the rest of the session.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import time
from collections import deque
from collections.abc import Callable

from .events import PcmChunk
from .packet import RtpView

OPUS_RATE = 48000
QUEUE_PACKETS = 250  # 5 s of 20 ms Opus packets
BATCH_WAIT_S = 0.1  # a partial batch is decoded after this long anyway (the microphone went quiet)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # what libopus decodes to natively
MAX_FRAME_S = 0.12  # the longest Opus packet


def _libopus() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus")
    if name is None:
        raise RuntimeError("libopus not found (Debian package libopus0)")
    lib = ctypes.CDLL(name)
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_void_p,
                                ctypes.c_int, ctypes.c_int]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


_LIB: ctypes.CDLL | None = None


class OpusDecoder:
    """One mono libopus decoder at `sample_rate`; used by one thread at a time."""

    def __init__(self, sample_rate: int) -> None:
        global _LIB
        if sample_rate not in OPUS_RATES:
            raise ValueError(f"Opus decodes to {OPUS_RATES} Hz, not {sample_rate}")
        self._lib = _LIB = _LIB or _libopus()
        error = ctypes.c_int()
        self._state = self._lib.opus_decoder_create(sample_rate, 1, ctypes.byref(error))
        if error.value != 0 or not self._state:
            raise RuntimeError(f"opus_decoder_create failed ({error.value})")
        self._max_samples = int(sample_rate * MAX_FRAME_S)
        self._out = ctypes.create_string_buffer(self._max_samples * 2)

    def decode(self, payloads: list[bytes]) -> bytes:
        """The PCM of the payloads in order; a corrupt one is skipped."""
        out = bytearray()
        for payload in payloads:
            samples = self._lib.opus_decode(self._state, payload, len(payload), self._out, self._max_samples, 0)
            if samples > 0:
                out += ctypes.string_at(self._out, samples * 2)
        return bytes(out)

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib.opus_decoder_destroy(self._state)
            self._state = None


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
        self._decoder = OpusDecoder(sample_rate)
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
                await wait_at_most(self._ready, BATCH_WAIT_S)
        if len(self._queue) < self.batch_packets and not self._ended:
            self._ready.clear()
            await wait_at_most(self._ready, BATCH_WAIT_S)
        batch = list(self._queue)
        self._queue.clear()
        payloads = [payload for payload, _, _ in batch]
        pcm = await asyncio.get_running_loop().run_in_executor(None, self._decoder.decode, payloads)
        if self._first_ts is None:
            self._first_ts = batch[0][1]
        start = ((batch[0][1] - self._first_ts) & 0xFFFFFFFF) / OPUS_RATE
        levels = [level for _, _, level in batch if level is not None]
        return PcmChunk(self.peer_id, pcm, self.sample_rate, start, min(levels) if levels else None)

    async def aclose(self) -> None:
        self._ended = True
        self._on_close(self)
