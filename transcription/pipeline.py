"""Live recognition of every microphone of a server, off the event loop, never in media's way.

`feed()` is called on the event loop for each decoded chunk and only appends to the
source's backlog; a task per source hands batches to a bounded thread pool (one batch per
source at a time, since a recogniser is not thread-safe) and delivers what was heard to
`on_event`. When a backlog exceeds `max_backlog_s` (recognition fell behind), new audio
is dropped and reported once per stretch as a `Dropped` event. At most `max_recognizers`
sources are recognised at once; above that, a louder source takes the recogniser of the
quietest one (one silent at the moment first). A recogniser is freed after `idle_s` without
voice and created again when the source speaks.

Partials are what viewers read while someone speaks, so they go out at most once per
`partial_interval_s` per source (the latest text wins), except that a new text is sent at
once when the source has just gone quiet: the end of a sentence shows without waiting for
the limiter or for the model's endpoint (which makes the final).
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import vosk

from transcription.recognizer import Heard, StreamRecognizer, Utterance

log = logging.getLogger("hoinghi.transcription")

VOICE_LEVEL = 60  # RFC 6464 level (-dBov) at or above which a packet counts as voice (lower = louder)
VOICE_DBFS = -50.0  # the same threshold on decoded audio, for sources that send no levels
LOUDER_DB = 6.0  # a source takes a recogniser from one at least this much quieter
DROP_QUIET_S = 1.0  # a stretch of dropped audio ends after this long without a drop


@dataclass(frozen=True)
class Partial:
    source: str
    text: str


@dataclass(frozen=True)
class Final:
    source: str
    utterance: Utterance


@dataclass(frozen=True)
class Dropped:
    """Audio not recognised: `reason` is "behind" (the pool could not keep up) or "busy"
    (more sources spoke than there are recognisers)."""

    source: str
    start_s: float
    seconds: float
    reason: str


TranscriptEvent = Partial | Final | Dropped


def default_workers() -> int:
    """One recognition thread per core but one, so forwarding keeps a core (at least one)."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class _Source:
    name: str
    backlog: deque[tuple[bytes, float]] = field(default_factory=deque)
    backlog_s: float = 0.0
    recognizer: StreamRecognizer | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    ended: bool = False
    loudness: float | None = None  # smoothed, 127 - level: larger is louder
    last_voice: float = 0.0  # monotonic time of the last voiced chunk
    drop: dict[str, list[float]] = field(default_factory=dict)  # reason -> [start_s, seconds, last drop]
    release: bool = False  # a louder source wants this one's recogniser
    partial: str = ""
    partial_sent_at: float = 0.0
    partial_due: bool = False


class Transcriber:
    def __init__(
        self, model: vosk.Model, on_event: Callable[[TranscriptEvent], Awaitable[None]], *,
        workers: int | None = None, max_recognizers: int = 16, max_backlog_s: float = 2.0,
        idle_s: float = 10.0, partial_interval_s: float = 0.25,
    ) -> None:
        if max_recognizers < 1 or max_backlog_s <= 0 or idle_s <= 0 or partial_interval_s < 0:
            raise ValueError("max_recognizers >= 1, max_backlog_s > 0, idle_s > 0, partial_interval_s >= 0")
        self.model = model
        self.on_event = on_event
        self.workers = workers or default_workers()
        self.max_recognizers = max_recognizers
        self.max_backlog_s = max_backlog_s
        self.idle_s = idle_s
        self.partial_interval_s = partial_interval_s
        self.dropped_s: dict[str, float] = {"behind": 0.0, "busy": 0.0}
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hoinghi-asr")
        self._sources: dict[str, _Source] = {}
        self._reserved_for: str | None = None
        self._freed_model_cpu_s = 0.0

    @property
    def active(self) -> int:
        return sum(1 for s in self._sources.values() if s.recognizer is not None)

    @property
    def model_cpu_s(self) -> float:
        """CPU seconds spent inside libvosk so far (all recognisers, freed ones too)."""
        live = sum(s.recognizer.model_cpu_s for s in list(self._sources.values()) if s.recognizer is not None)
        return self._freed_model_cpu_s + live

    # --- event-loop side: cheap ---------------------------------------------------------------

    def feed(self, source: str, pcm: bytes, time_s: float, level: int | None = None) -> None:
        """One decoded chunk (16 kHz mono s16) of `source`; `level` as in RFC 6464."""
        src = self._sources.get(source)
        if src is None:
            src = self._sources[source] = _Source(source)
            src.task = asyncio.get_running_loop().create_task(self._run(src), name=f"hoinghi-asr-{source}")
        if src.ended:
            return
        now = time.monotonic()
        if level is None or level <= VOICE_LEVEL:
            src.last_voice = now
        loudness = 127 - (level if level is not None else 40)
        src.loudness = loudness if src.loudness is None else src.loudness + 0.3 * (loudness - src.loudness)
        seconds = len(pcm) / 2 / 16000
        if src.backlog_s + seconds > self.max_backlog_s:
            self._count_drop(src, "behind", time_s, seconds)
            return
        src.backlog.append((pcm, time_s))
        src.backlog_s += seconds
        src.wake.set()

    def end(self, source: str) -> None:
        """The microphone is gone: finish its utterance and forget it."""
        src = self._sources.get(source)
        if src is not None:
            src.ended = True
            src.wake.set()

    async def finish(self, source: str) -> None:
        """`end` and wait until the source's last result has been delivered."""
        src = self._sources.get(source)
        self.end(source)
        if src is not None and src.task is not None:
            await asyncio.gather(src.task, return_exceptions=True)

    async def aclose(self) -> None:
        for src in list(self._sources.values()):
            src.ended = True
            src.wake.set()
        tasks = [s.task for s in self._sources.values() if s.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pool.shutdown(wait=True)

    def _count_drop(self, src: _Source, reason: str, start_s: float, seconds: float) -> None:
        self.dropped_s[reason] += seconds
        stretch = src.drop.get(reason)
        if stretch is None:
            src.drop[reason] = [start_s, seconds, time.monotonic()]
            log.warning("transcription dropped audio", extra={"source": src.name, "reason": reason})
        else:
            stretch[1] += seconds
            stretch[2] = time.monotonic()

    # --- per-source task ----------------------------------------------------------------------

    def _may_recognise(self, src: _Source) -> bool:
        if src.recognizer is not None:
            return True
        if self._reserved_for not in (None, src.name) and self._reserved_for in self._sources:
            return False  # a freed recogniser waits for the louder source that asked for it
        holders = [s for s in self._sources.values() if s.recognizer is not None]
        if len(holders) < self.max_recognizers:
            self._reserved_for = None
            return True
        now = time.monotonic()
        # a holder silent at the moment goes first, then the quietest, if clearly quieter than src
        quieter = [s for s in holders if (s.loudness or 0.0) + LOUDER_DB < (src.loudness or 0.0) or now - s.last_voice > 0.5]
        if not quieter or any(s.release for s in holders):
            return False
        victim = min(quieter, key=lambda s: (now - s.last_voice <= 0.5, s.loudness or 0.0))
        victim.release = True
        victim.wake.set()
        self._reserved_for = src.name
        return False  # a later batch gets the freed recogniser

    async def _run(self, src: _Source) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                timeout = self.partial_interval_s if src.partial_due else DROP_QUIET_S if src.drop else self.idle_s
                try:
                    async with asyncio.timeout(timeout):  # unlike wait_for, starts no task (10 times a second)
                        await src.wake.wait()
                except TimeoutError:
                    pass
                src.wake.clear()
                await self._flush_partial(src)
                if src.release:
                    src.release = False
                    await self._free(src, loop)
                allowed = bool(src.backlog) and self._may_recognise(src)
                if src.backlog and not allowed and self._reserved_for == src.name:
                    continue  # keep the audio: the recogniser being freed is ours
                batch = list(src.backlog)
                src.backlog.clear()
                src.backlog_s = 0.0
                if batch and allowed:
                    heard = await loop.run_in_executor(self._pool, self._accept, src, batch)
                    await self._deliver(src, heard)
                elif batch and time.monotonic() - src.last_voice < self.idle_s:
                    self._count_drop(src, "busy", batch[0][1], sum(len(p) for p, _ in batch) / 32000)
                await self._report_drops(src)
                idle = time.monotonic() - src.last_voice > self.idle_s
                if src.recognizer is not None and (idle or src.ended):
                    await self._free(src, loop)
                if src.ended:
                    break
        except Exception:
            log.exception("transcription of a source failed", extra={"source": src.name})
        finally:
            self._sources.pop(src.name, None)

    def _accept(self, src: _Source, batch: list[tuple[bytes, float]]) -> Heard:
        if src.recognizer is None:
            src.recognizer = StreamRecognizer(self.model)
        return src.recognizer.accept(batch)

    async def _free(self, src: _Source, loop: asyncio.AbstractEventLoop) -> None:
        recognizer, src.recognizer = src.recognizer, None
        if recognizer is None:
            return
        claimant = self._sources.get(self._reserved_for or "")
        if claimant is not None:
            claimant.wake.set()
        last = await loop.run_in_executor(self._pool, recognizer.finish)
        self._freed_model_cpu_s += recognizer.model_cpu_s
        src.partial, src.partial_due = "", False
        if last is not None:
            await self.on_event(Final(src.name, last))

    async def _deliver(self, src: _Source, heard: Heard) -> None:
        if heard.rms_dbfs >= VOICE_DBFS:
            src.last_voice = max(src.last_voice, time.monotonic())
        for utterance in heard.finals:
            src.partial, src.partial_due = "", False
            await self.on_event(Final(src.name, utterance))
        if heard.partial != src.partial:
            src.partial, src.partial_due = heard.partial, bool(heard.partial)
            await self._flush_partial(src, trailing=heard.rms_dbfs < VOICE_DBFS)

    async def _flush_partial(self, src: _Source, trailing: bool = False) -> None:
        """At most one partial per `partial_interval_s` per source, the latest text winning; at
        once when `trailing` (the batch that produced it was quiet: the speaker paused)."""
        if not src.partial_due:
            return
        now = time.monotonic()
        if trailing or now - src.partial_sent_at >= self.partial_interval_s:
            src.partial_sent_at, src.partial_due = now, False
            await self.on_event(Partial(src.name, src.partial))

    async def _report_drops(self, src: _Source) -> None:
        """A stretch of dropped audio is reported once nothing was dropped for a while (or at the end)."""
        now = time.monotonic()
        for reason, (start_s, seconds, last) in list(src.drop.items()):
            if src.ended or now - last >= DROP_QUIET_S:
                del src.drop[reason]
                await self.on_event(Dropped(src.name, start_s, round(seconds, 3), reason))
