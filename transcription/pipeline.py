"""Live recognition of every microphone of a server, in a process of its own, never in media's way.

`feed()` (PCM) and `feed_opus()` (a batch of the SFU's audio tap, undecoded) are called on the
event loop and only write a message to the recognition process (transcription/worker.py), which
decodes, recognises and writes back only what changed: a new partial text, a final, a freed
recogniser. So a 100 ms batch costs one pipe write here and no thread or task wake-up; the
decoding and the model's work, and their interpreter lock, are another process's, which runs on
idle CPU time only (docs/transcription.md has the figures that moved them out).

When recognition falls behind, new audio is dropped and reported once per stretch as a
`Dropped` event: the worker drops what exceeds `max_backlog_s` per source, and this side drops
what it cannot even hand over (the pipe's buffer is full, or the worker is starting again after
a crash). At most `max_recognizers` sources are recognised at once; above that, a louder source
takes the recogniser of the quietest one (one silent at the moment first). A recogniser is
freed after `idle_s` without voice and created again when the source speaks (silence alone
starts none).

Partials are what viewers read while someone speaks, so they go out at most once per
`partial_interval_s` per source (the latest text wins), except that a new text is sent at
once when the source has just gone quiet: the end of a sentence shows without waiting for
the limiter or for the model's endpoint (which makes the final).
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from transcription import wire
from transcription.recognizer import VOICE_DBFS, Heard, Utterance

log = logging.getLogger("hoinghi.transcription")

VOICE_LEVEL = 60  # RFC 6464 level (-dBov) at or above which a packet counts as voice (lower = louder)
LOUDER_DB = 6.0  # a source takes a recogniser from one at least this much quieter
DROP_QUIET_S = 1.0  # a stretch of dropped audio ends after this long without a drop
MAX_UNSENT_BYTES = 4 * 1024 * 1024  # messages the worker has not read yet; beyond, audio is dropped ("behind")
RESTART_AFTER_S = 5.0  # a worker that died is started again after this long (at once if it ran longer)
STOP_WAIT_S = 5.0  # how long a closing worker may take to finish what it was given


class RecognitionUnavailable(Exception):
    """The recognition process could not start (the model cannot be loaded, or it died at once)."""


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
    """Audio not recognised: `reason` is "behind" (recognition could not keep up, or was
    starting again) or "busy" (more sources spoke than there are recognisers)."""

    source: str
    start_s: float
    seconds: float
    reason: str


TranscriptEvent = Partial | Final | Dropped


def default_workers() -> int:
    """One recognition thread per core but one, so forwarding keeps a core (at least one)."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class _Freed:
    """The worker freed the source's recogniser; `last` is what its end still produced."""

    last: Utterance | None


@dataclass
class _Source:
    name: str
    holds: bool = False  # recognised: it has a recogniser, or will at its next audio
    frees: int = 0  # recogniser frees asked for and not yet reported back
    results: deque[Heard | _Freed] = field(default_factory=deque)
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


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    writer: asyncio.StreamWriter
    reader: asyncio.StreamReader
    started: float


class Transcriber:
    """Recognition of a server's microphones. `await start()` before feeding; `aclose()` at the end."""

    def __init__(
        self, model: Path, on_event: Callable[[TranscriptEvent], Awaitable[None]], *,
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
        self.restarts = 0
        self._model_cpu_earlier_s = 0.0  # what workers that died had spent inside libvosk
        self._model_cpu_worker_s = 0.0  # what the running worker last said it has spent there
        self._sources: dict[str, _Source] = {}
        self._reserved_for: str | None = None
        self._worker: _Worker | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.worker_changed = asyncio.Condition()  # notified when the worker dies and when another starts
        self._closing = False

    @property
    def active(self) -> int:
        return sum(1 for s in self._sources.values() if s.holds)

    @property
    def model_cpu_s(self) -> float:
        """CPU seconds spent inside libvosk so far, as the worker last said (sizing; bench/asr.py)."""
        return self._model_cpu_earlier_s + self._model_cpu_worker_s

    @property
    def worker_pid(self) -> int | None:
        return self._worker.process.pid if self._worker is not None else None

    # --- the recognition process ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the recognition process and wait until its model is loaded; raises
        RecognitionUnavailable with the worker's reason when it cannot start."""
        self._worker = await self._spawn()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="hoinghi-asr-worker")

    async def _spawn(self) -> _Worker:
        package_root = str(Path(__file__).resolve().parent.parent)  # the worker runs this very code
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "transcription.worker", "--model", str(self.model),
            "--workers", str(self.workers), "--max-backlog-s", str(self.max_backlog_s),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        assert process.stdin is not None and process.stdout is not None
        try:
            first = await self._read(process.stdout)
        except wire.BrokenStream:
            process.kill()
            first = None
        if first is None or first[0] != "ready":
            if process.returncode is None:  # it said something else first: it is not a worker we can use
                process.kill()
            await process.wait()
            reason = first[1] if first is not None and first[0] == "error" else f"exit code {process.returncode}"
            raise RecognitionUnavailable(reason)
        return _Worker(process, process.stdin, process.stdout, time.monotonic())

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
        try:
            header = await reader.readexactly(wire.HEADER.size)
            return wire.message(await reader.readexactly(wire.frame_length(header)))
        except asyncio.IncompleteReadError:
            return None

    async def _supervise(self) -> None:
        """Deliver the worker's results; when it dies, fail its sources and start another."""
        while True:
            worker = self._worker
            if worker is not None:
                try:
                    while (message := await self._read(worker.reader)) is not None:
                        self._on_message(message)
                except wire.BrokenStream as error:
                    log.error("the recognition process sent a broken message", extra={"error": str(error)})
                    worker.process.kill()
                code = await worker.process.wait()
                if self._closing:
                    return
                self._worker = None
                self._model_cpu_earlier_s += self._model_cpu_worker_s
                self._model_cpu_worker_s = 0.0
                log.error("the recognition process stopped; starting it again",
                          extra={"exit_code": code, "sources_lost": len(self._sources)})
                for src in list(self._sources.values()):
                    self._failed(src)
                await self._notify_worker_changed()
                if time.monotonic() - worker.started < RESTART_AFTER_S:
                    await asyncio.sleep(RESTART_AFTER_S)  # it died at once: do not spin
            try:
                self._worker = await self._spawn()
                self.restarts += 1
                await self._notify_worker_changed()
            except (RecognitionUnavailable, OSError) as error:
                log.error("the recognition process did not start again", extra={"error": str(error)})
                await asyncio.sleep(RESTART_AFTER_S)

    async def _notify_worker_changed(self) -> None:
        async with self.worker_changed:
            self.worker_changed.notify_all()

    def _on_message(self, message: tuple[Any, ...]) -> None:
        kind, source = message[0], message[1]
        self._model_cpu_worker_s = message[-1]
        src = self._sources.get(source)
        if src is None:
            return
        if kind == "heard":
            self._arrived(src, message[2])
        elif kind == "freed":
            self._arrived(src, _Freed(message[2]))
        elif kind == "behind":
            self._count_drop(src, "behind", message[2], message[3])
        elif kind == "failed":
            log.error("transcription of a source failed in the recognition process", extra={"source": source})
            self._failed(src)

    def _send(self, message: tuple[Any, ...]) -> bool:
        """Hand a message to the worker without waiting; False when it cannot take it now."""
        worker = self._worker
        if worker is None or worker.writer.is_closing() or \
                worker.writer.transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            return False
        worker.writer.write(wire.frame(message))
        return True

    # --- event-loop side: cheap ---------------------------------------------------------------

    def feed(self, source: str, pcm: bytes, time_s: float, level: int | None = None) -> None:
        """One decoded chunk (16 kHz mono s16) of `source`; `level` as in RFC 6464."""
        seconds = len(pcm) / 2 / 16000
        self._feed(source, ("pcm", source, pcm, seconds, time_s), seconds, time_s, level)

    def feed_opus(self, source: str, payloads: tuple[bytes, ...], seconds: float, time_s: float,
                  level: int | None = None) -> None:
        """`seconds` of Opus packets of `source` starting at `time_s` (the SFU tap's batch), in
        order: the worker keeps one decoder per source."""
        self._feed(source, ("opus", source, payloads, seconds, time_s), seconds, time_s, level)

    def _feed(self, source: str, message: tuple[Any, ...], seconds: float, time_s: float, level: int | None) -> None:
        src = self._sources.get(source)
        if src is None:
            src = self._sources[source] = _Source(source)
            src.task = asyncio.get_running_loop().create_task(self._run(src), name=f"hoinghi-asr-{source}")
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
            # otherwise it goes to the worker: a recogniser is being freed for it
        if not self._send(message):
            self._count_drop(src, "behind", time_s, seconds)

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
        self._closing = True
        worker = self._worker
        if worker is not None:
            worker.writer.close()  # end of its input: it finishes and exits
            try:
                async with asyncio.timeout(STOP_WAIT_S):
                    await worker.process.wait()
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)

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
        """Ask the worker to free the source's recogniser after the audio already given to it."""
        src.holds = False
        claimant = self._sources.get(self._reserved_for or "")
        if claimant is not None:
            claimant.wake.set()
        if self._send(("free", src.name)):
            src.frees += 1

    def _failed(self, src: _Source) -> None:
        src.ended, src.holds, src.frees = True, False, 0
        src.wake.set()

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
            if self._sources.get(src.name) is src:
                del self._sources[src.name]
            self._send(("forget", src.name))  # the worker drops its decoder

    def _arrived(self, src: _Source, result: Heard | _Freed) -> None:
        src.results.append(result)
        src.wake.set()

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
        """A stretch of dropped audio is reported once nothing was dropped for a while, or at the
        end once the worker has answered for all the audio it was given (its drops come first)."""
        now = time.monotonic()
        for reason, (start_s, seconds, last) in list(src.drop.items()):
            if (src.ended and src.frees <= 0) or now - last >= DROP_QUIET_S:
                del src.drop[reason]
                await self.on_event(Dropped(src.name, start_s, round(seconds, 3), reason))
