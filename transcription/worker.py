"""The recognition process: decodes and recognises every microphone the media server sends it.

Why a process of its own: recognition in threads of the media server made the SFU's
forwarding tail longer (bench/sfu.py: p99 +14-23 % with 8 speakers) even at nice +10 and with
Python's thread switch interval cut to 0.2 ms. Threads of one process share its interpreter
lock, so a low-priority thread that holds the lock when the kernel takes its core away keeps
the forwarding loop waiting (priority inversion), and a thread of the media server cannot be
given the idle scheduling policy without risking exactly that; a process shares nothing. It also keeps the
model (hundreds of MB for vi) out of the media process and a crash in libvosk away from media:
the server starts this process again (transcription/pipeline.py).

The main thread reads messages (transcription/wire.py) from stdin. Each source's audio goes to
its backlog, drained by one pool job at a time (a recogniser is not thread-safe, a decoder
keeps state); a job decodes the Opus batches, gives them to the source's recogniser in order,
and writes back only what changed. A backlog beyond --max-backlog-s means recognition fell
behind: new audio is dropped and said so ("behind"). The whole process runs on idle CPU time
only (SCHED_IDLE, see `_lower_priority`), so forwarding wins whenever both want a core.

    python -m transcription.worker --model DIR [--workers N] [--max-backlog-s S]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

import vosk

from opuscodec import OpusDecoder
from transcription.recognizer import SAMPLE_RATE, StreamRecognizer, Utterance
from transcription.wire import BrokenStream, frame, read_message

log = logging.getLogger("hoinghi.transcription.worker")
BACKGROUND_NICE = 10  # how much nicer than the media server this process runs


@dataclass
class _Stream:
    """One source's audio and state. backlog/backlog_s/draining under Recognition._lock; the rest
    belongs to the job draining it."""

    backlog: deque[tuple[str, Any, float]] = field(default_factory=deque)
    backlog_s: float = 0.0
    draining: bool = False
    recognizer: StreamRecognizer | None = None
    decoder: OpusDecoder | None = None
    heard_partial: str = ""  # the last partial text told to the server
    forgotten: bool = False  # the server forgot the source and nothing came after


class Recognition:
    def __init__(self, model: vosk.Model, workers: int, max_backlog_s: float,
                 send: Callable[[tuple[Any, ...]], None]) -> None:
        self.model = model
        self.max_backlog_s = max_backlog_s
        self._send = send
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hoinghi-asr")
        self._cpu_lock = threading.Lock()
        self._freed_model_cpu_s = 0.0

    def model_cpu_s(self) -> float:
        with self._cpu_lock:
            live = [s.recognizer for s in list(self._streams.values()) if s.recognizer is not None]
            return self._freed_model_cpu_s + sum(r.model_cpu_s for r in live)

    def tell(self, *message: Any) -> None:
        self._send((*message, self.model_cpu_s()))

    def handle(self, message: tuple[Any, ...]) -> None:
        """One message from the server (main thread): queue it on its source, start a job if idle."""
        kind, source = message[0], message[1]
        if kind in ("pcm", "opus"):
            _, _, audio, seconds, time_s = message
            with self._lock:
                stream = self._streams.setdefault(source, _Stream())
                behind = stream.backlog_s + seconds > self.max_backlog_s
                if not behind:
                    stream.backlog.append((kind, audio, time_s))
                    stream.backlog_s += seconds
                start, stream.draining = not stream.draining and not behind, stream.draining or not behind
            if behind:
                self.tell("behind", source, time_s, seconds)
        elif kind in ("free", "forget"):
            with self._lock:
                stream = self._streams.get(source)
                if stream is not None:
                    stream.backlog.append((kind, None, 0.0))
                    start, stream.draining = not stream.draining, True
            if stream is None:
                if kind == "free":
                    self.tell("freed", source, None)
                return
        else:
            raise BrokenStream(f"unknown message {kind!r}")
        if start:
            self._pool.submit(self._drain, source, stream)

    def _drain(self, source: str, stream: _Stream) -> None:
        """Recognise the source's backlog until it is empty (in a pool thread)."""
        try:
            while True:
                with self._lock:
                    if not stream.backlog:
                        stream.draining = False
                        if stream.forgotten and self._streams.get(source) is stream:
                            del self._streams[source]
                        return
                    entries = list(stream.backlog)
                    stream.backlog.clear()
                    stream.backlog_s = 0.0
                audio: list[tuple[bytes, float]] = []
                for kind, data, time_s in entries:
                    if kind == "pcm":
                        audio.append((data, time_s))
                    elif kind == "opus":
                        stream.decoder = stream.decoder or OpusDecoder(SAMPLE_RATE)
                        audio.append((stream.decoder.decode(data), time_s))
                    else:  # free or forget: what came before is recognised first
                        self._recognise(source, stream, audio)
                        audio = []
                        last = self._release(stream)
                        if kind == "free":
                            self.tell("freed", source, last)
                        else:
                            stream.decoder = None
                    stream.forgotten = kind == "forget"
                self._recognise(source, stream, audio)
        except Exception:
            log.exception("transcription of a source failed (source %s)", source)
            with self._lock:
                stream.backlog.clear()
                stream.backlog_s = 0.0
                stream.draining = False
            stream.recognizer = stream.decoder = None
            self.tell("failed", source)

    def _recognise(self, source: str, stream: _Stream, audio: list[tuple[bytes, float]]) -> None:
        if not audio:
            return
        if stream.recognizer is None:
            stream.recognizer = StreamRecognizer(self.model)
        heard = stream.recognizer.accept(audio)
        if heard.finals or heard.partial != stream.heard_partial:
            stream.heard_partial = heard.partial
            self.tell("heard", source, heard)

    def _release(self, stream: _Stream) -> Utterance | None:
        recognizer = stream.recognizer
        if recognizer is None:
            return None
        last = recognizer.finish()
        with self._cpu_lock:
            self._freed_model_cpu_s += recognizer.model_cpu_s
            stream.recognizer = None
        stream.heard_partial = ""
        return last

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _writer(out: BinaryIO) -> Callable[[tuple[Any, ...]], None]:
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        data = frame(message)
        with lock:
            out.write(data)
            out.flush()

    return send


def _lower_priority() -> None:
    """Every thread of this process runs only on CPU time nothing else wants (SCHED_IDLE), and
    BACKGROUND_NICE nicer than the server where that policy does not exist.

    Why idle and not just nicer: at nice +10 the SFU's forwarding p99 was still 31 % higher with
    8 speakers recognised beside 16 streams (every pair of runs higher; bench/sfu.py, figures in
    docs/transcription.md): a lightly loaded SFU sleeps between packets, and each wake-up had to
    take a core from a recogniser that the scheduler lets finish its slice first. A SCHED_IDLE
    thread gives way at once (ratio 1.04 in the same comparison). The price: on a machine with no
    idle CPU, recognition falls behind and drops audio, which is counted and marked in the
    transcript, and media keeps flowing. Linux keeps the policy and nice per thread and a new
    thread inherits its creator's, but numpy's OpenBLAS starts threads at import (before main
    runs), so every thread already there is set, not just this one."""
    target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # not Linux: the process's nice is all there is
        threads = [0]
    for tid in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, target)
            if hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # no permission or the thread ended: recognition still works
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transcription.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the Vosk model's directory")
    parser.add_argument("--workers", type=int, default=1, help="recognition threads")
    parser.add_argument("--max-backlog-s", type=float, default=2.0, help="audio a source may have waiting")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    inbox, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only: a stray print must not break the stream
    _lower_priority()
    send = _writer(out)
    vosk.SetLogLevel(-1)
    try:
        model = vosk.Model(args.model)
    except Exception as error:  # libvosk raises a bare Exception for a model it cannot read
        send(("error", f"{args.model}: {error}"))
        return 2
    recognition = Recognition(model, max(1, args.workers), args.max_backlog_s, send)
    send(("ready", max(1, args.workers)))
    try:
        while (message := read_message(inbox)) is not None:
            recognition.handle(message)
    except BrokenStream as error:
        log.error("the server sent a broken message: %s", error)
        return 3
    finally:
        recognition.close()  # the server closed our stdin (or went away): finish what is queued
    return 0


if __name__ == "__main__":
    sys.exit(main())
