"""Live recognition of every microphone of a server, off the event loop, never in media's way.

`feed()` (PCM) and `feed_batch()` (audio the worker decodes itself, e.g. an Opus batch of the
SFU's tap) are called on the event loop and only append to the source's backlog. The first
chunk of an idle source hands the source to a bounded thread pool, where one job drains its
backlog in order (one job per source at a time: a recogniser is not thread-safe and a decoder
keeps state) and comes back to the event loop only when there is something to tell: a new
partial text, a final, a freed recogniser. So a 100 ms batch costs one thread hand-off and no
task wake-up on the loop: on this project's VMs each thread wake-up costs about 0.1 ms of CPU,
which was most of the pipeline's own cost (docs/transcription.md).

When a backlog exceeds `max_backlog_s` (recognition fell behind), new audio is dropped and
reported once per stretch as a `Dropped` event. At most `max_recognizers` sources are
recognised at once; above that, a louder source takes the recogniser of the quietest one (one
silent at the moment first). A recogniser is freed after `idle_s` without voice and created
again when the source speaks (silence alone starts none).

Partials are what viewers read while someone speaks, so they go out at most once per
`partial_interval_s` per source (the latest text wins), except that a new text is sent at
once when the source has just gone quiet: the end of a sentence shows without waiting for
the limiter or for the model's endpoint (which makes the final).
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
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
BACKGROUND_NICE = 10  # recognition threads run this much nicer than the thread that forwards media


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


Audio = bytes | Callable[[], bytes]  # PCM, or what makes it in the worker thread (a decoder's batch)
_FREE = None  # a backlog entry: free the recogniser here (after the audio before it)


@dataclass(frozen=True)
class _Freed:
    """A worker freed the source's recogniser; `last` is what its end still produced."""

    last: Utterance | None


def _background_thread() -> None:
    """Pool initializer: recognition yields the CPU to forwarding. Recognition runs in the
    media server's process; on a 2-core machine its threads competed with the event loop for a
    core and the forwarding tail grew (bench/sfu.py, p99 +25-45 % with 8 speakers). Linux keeps
    nice per thread (and compares threads of one process within its scheduling group), so the
    loop wins whenever both want a core, and recognition still gets every idle cycle."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except OSError:  # not Linux-like: no per-thread priority, nothing to do
        pass


@dataclass
class _Source:
    name: str
    # shared with the worker thread, under `lock`
    lock: threading.Lock = field(default_factory=threading.Lock)
    backlog: deque[tuple[Audio | None, float]] = field(default_factory=deque)
    backlog_s: float = 0.0
    draining: bool = False  # a job for this source is queued or running
    # worker side only
    recognizer: StreamRecognizer | None = None
    heard_partial: str = ""  # the last partial text told to the event loop
    # event-loop side
    holds: bool = False  # recognised: it has a recogniser, or will at its next job
    frees: int = 0  # recogniser frees asked for and not yet reported back
    results: deque[Heard | _Freed] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    ended: bool = False
    loudness: float | None = None  # smoothed, 127 - level: larger is louder
    last_voice: float = 0.0  # monotonic time of the last voiced chunk (also set by the worker)
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
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hoinghi-asr", initializer=_background_thread)
        self._sources: dict[str, _Source] = {}
        self._reserved_for: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cpu_lock = threading.Lock()
        self._freed_model_cpu_s = 0.0

    @property
    def active(self) -> int:
        return sum(1 for s in self._sources.values() if s.holds)

    @property
    def model_cpu_s(self) -> float:
        """CPU seconds spent inside libvosk so far (all recognisers, freed ones too)."""
        with self._cpu_lock:
            live = [s.recognizer for s in list(self._sources.values()) if s.recognizer is not None]
            return self._freed_model_cpu_s + sum(r.model_cpu_s for r in live)

    # --- event-loop side: cheap ---------------------------------------------------------------

    def feed(self, source: str, pcm: bytes, time_s: float, level: int | None = None) -> None:
        """One decoded chunk (16 kHz mono s16) of `source`; `level` as in RFC 6464."""
        self.feed_batch(source, pcm, len(pcm) / 2 / 16000, time_s, level)

    def feed_batch(self, source: str, audio: Audio, seconds: float, time_s: float, level: int | None = None) -> None:
        """`seconds` of audio of `source` starting at `time_s`: PCM, or a callable that makes
        the PCM (16 kHz mono s16) and is called in the worker thread, in feeding order."""
        src = self._sources.get(source)
        if src is None:
            self._loop = asyncio.get_running_loop()
            src = self._sources[source] = _Source(source)
            src.task = self._loop.create_task(self._run(src), name=f"hoinghi-asr-{source}")
        if src.ended:
            return
        voiced = level is None or level <= VOICE_LEVEL
        if voiced:
            src.last_voice = time.monotonic()
        loudness = 127 - (level if level is not None else 40)
        src.loudness = loudness if src.loudness is None else src.loudness + 0.3 * (loudness - src.loudness)
        if not src.holds:
            if not voiced:
                return  # silence starts no recogniser (and nothing of it is lost)
            if self._may_recognise(src):
                src.holds = True
            elif self._reserved_for != src.name:
                self._count_drop(src, "busy", time_s, seconds)
                return
            # otherwise the audio waits (bounded below) for the recogniser being freed for it
        with src.lock:
            behind = start = False
            if src.backlog_s + seconds > self.max_backlog_s:
                behind = True
            else:
                src.backlog.append((audio, time_s))
                src.backlog_s += seconds
                start = src.holds and not src.draining
                src.draining = src.draining or start
        if behind:
            self._count_drop(src, "behind", time_s, seconds)
        elif start:
            self._pool.submit(self._drain, src)

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
            src.wake.set()  # its task now waits for the end of the stretch to report it
            log.warning("transcription dropped audio", extra={"source": src.name, "reason": reason})
        else:
            stretch[1] += seconds
            stretch[2] = time.monotonic()

    def _may_recognise(self, src: _Source) -> bool:
        if self._reserved_for not in (None, src.name) and self._reserved_for in self._sources:
            return False  # a freed recogniser waits for the louder source that asked for it
        holders = [s for s in self._sources.values() if s.holds]
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
        return False  # a later chunk gets the freed recogniser

    def _free(self, src: _Source) -> None:
        """Ask the source's job to free its recogniser after the audio already given to it."""
        src.holds, src.frees = False, src.frees + 1
        claimant = self._sources.get(self._reserved_for or "")
        if claimant is not None:
            claimant.wake.set()
        with src.lock:
            src.backlog.append((_FREE, 0.0))
            start, src.draining = not src.draining, True
        if start:
            self._pool.submit(self._drain, src)

    # --- per-source task: timers, results, freeing --------------------------------------------

    async def _run(self, src: _Source) -> None:
        try:
            while True:
                now = time.monotonic()
                timeout = self.partial_interval_s if src.partial_due else DROP_QUIET_S if src.drop else \
                    max(0.05, self.idle_s - (now - src.last_voice)) if src.holds else self.idle_s
                try:
                    async with asyncio.timeout(timeout):  # unlike wait_for, starts no task
                        await src.wake.wait()
                except TimeoutError:
                    pass
                src.wake.clear()
                while src.results:
                    result = src.results.popleft()
                    if isinstance(result, _Freed):
                        src.frees -= 1
                        src.partial, src.partial_due = "", False
                        if result.last is not None:
                            await self.on_event(Final(src.name, result.last))
                    else:
                        await self._deliver(src, result)
                await self._flush_partial(src)
                if src.release:
                    src.release = False
                    if src.holds:
                        self._free(src)
                await self._report_drops(src)
                if src.holds and (src.ended or time.monotonic() - src.last_voice > self.idle_s):
                    self._free(src)
                if src.ended and not src.holds and src.frees <= 0 and not src.results:
                    break
        except Exception:
            log.exception("transcription of a source failed", extra={"source": src.name})
        finally:
            self._sources.pop(src.name, None)

    def _arrived(self, src: _Source, result: Heard | _Freed) -> None:
        src.results.append(result)
        src.wake.set()

    # --- worker side --------------------------------------------------------------------------

    def _drain(self, src: _Source) -> None:
        """Recognise the source's backlog until it is empty (in a pool thread)."""
        assert self._loop is not None
        try:
            while True:
                with src.lock:
                    if not src.backlog:
                        src.draining = False
                        return
                    entries = list(src.backlog)
                    src.backlog.clear()
                    src.backlog_s = 0.0
                audio: list[tuple[bytes, float]] = []
                for item, time_s in entries:
                    if item is _FREE:
                        self._recognise(src, audio)
                        audio = []
                        self._loop.call_soon_threadsafe(self._arrived, src, _Freed(self._release(src)))
                    else:
                        audio.append((item if isinstance(item, bytes) else item(), time_s))
                self._recognise(src, audio)
        except Exception:
            log.exception("transcription of a source failed", extra={"source": src.name})
            with src.lock:
                src.backlog.clear()
                src.draining = False
            self._loop.call_soon_threadsafe(self._failed, src)

    def _failed(self, src: _Source) -> None:
        src.ended, src.holds, src.frees = True, False, 0
        src.wake.set()

    def _recognise(self, src: _Source, audio: list[tuple[bytes, float]]) -> None:
        if not audio:
            return
        if src.recognizer is None:
            src.recognizer = StreamRecognizer(self.model)
        heard = src.recognizer.accept(audio)
        if heard.rms_dbfs >= VOICE_DBFS:
            src.last_voice = max(src.last_voice, time.monotonic())
        if heard.finals or heard.partial != src.heard_partial:
            src.heard_partial = heard.partial
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._arrived, src, heard)

    def _release(self, src: _Source) -> Utterance | None:
        recognizer = src.recognizer
        if recognizer is None:
            return None
        last = recognizer.finish()
        with self._cpu_lock:
            self._freed_model_cpu_s += recognizer.model_cpu_s
            src.recognizer = None
        src.heard_partial = ""
        return last

    # --- delivery (event loop) ----------------------------------------------------------------

    async def _deliver(self, src: _Source, heard: Heard) -> None:
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
