"""One source container (a device, a stream, a file) read in its own thread and handed to the loop.

Why not aiortc's MediaPlayer: after its first pass over a looped file it stops pacing (the
timestamps start over) and reads the file as fast as the disk allows, queueing every packet on
the event loop without bound. Each of those hand-overs writes a byte to the loop's wake-up
pipe, which stays full, and a signal's byte is then lost: the agent did not see SIGTERM. It
also queues the packets of a stream nobody consumes. Here a file is paced to real time in the
thread on every pass, with timestamps that keep rising, only the wanted streams are read, and
closing is bounded (a blocked read ends at the source's own timeout; the thread is a daemon).
"""
from __future__ import annotations

import asyncio
import errno
import fractions
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import av

log = logging.getLogger("hoinghi.bridge.reader")
AUDIO_RATE = 48000
AUDIO_FRAME = 960  # 20 ms, what aiortc's Opus encoder takes
PASS_THROUGH_AUDIO = ("opus",)  # the SFU takes Opus only
JOIN_LIMIT_S = 2.0

Deliver = Callable[[str, Any], None]  # (kind, frame or packet, or None at the end)


@dataclass(frozen=True)
class Opened:
    """What a source holds: the codec of its first video and audio stream (None: no such stream)."""

    video_codec: str | None
    audio_codec: str | None


class ContainerReader:
    """Reads the wanted streams of one container; video decoded or passed through, audio the same."""

    def __init__(self, file: str, format: str | None, options: dict[str, str], timeout: float | None, looped: bool) -> None:
        self._container = av.open(file, format=format, options=options or None, timeout=timeout)
        self._looped = looped
        self._streams: dict[str, Any] = {}
        for stream in self._container.streams:
            if stream.type in ("audio", "video") and stream.type not in self._streams:
                self._streams[stream.type] = stream
        self.opened = Opened(*(self._streams[k].codec_context.name if k in self._streams else None for k in ("video", "audio")))
        self._decode: dict[str, bool] = {}
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self, kind: str, decode: bool) -> None:
        """Ask for a stream (before start); decode=False hands its packets over as they are."""
        self._decode[kind] = decode

    def start(self, deliver: Deliver) -> None:
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, args=(loop, deliver), name="hoinghi-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._quit.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(JOIN_LIMIT_S)
        if self._thread is None:
            self._container.close()

    # ------------------------------------------------------------ the thread

    def _run(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        streams = [self._streams[k] for k in self._decode]
        clock = _Clock(self._quit) if self._looped else None
        rising = {k: _Rising() for k in self._decode}
        first_video_pts: int | None = None
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=AUDIO_FRAME)
        samples = 0
        try:
            while not self._quit.is_set():
                try:
                    packet = next(self._container.demux(*streams))
                    if packet.size == 0:
                        raise StopIteration
                except StopIteration:
                    if not self._looped:
                        break
                    self._container.seek(0)
                    continue
                except av.FFmpegError as error:
                    if error.errno == errno.EAGAIN:
                        time.sleep(0.01)
                        continue
                    log.warning("source read failed: %s", error)
                    break
                kind = packet.stream.type
                if packet.pts is None:
                    continue
                if not self._looped and kind == "video":  # a camera does not start at 0
                    first_video_pts = packet.pts if first_video_pts is None else first_video_pts
                    packet.pts -= first_video_pts
                    packet.dts = None
                items: list[Any] = [packet]
                if self._decode[kind]:
                    items = list(packet.decode())
                    if kind == "audio":
                        items = [f for frame in items for f in resampler.resample(frame)]
                for item in items:
                    if kind == "audio" and self._decode[kind]:
                        item.pts, item.time_base = samples, fractions.Fraction(1, AUDIO_RATE)
                        samples += item.samples
                    elif self._looped:
                        item.pts = rising[kind].pts(item.pts, getattr(item, "duration", None))
                    if clock is not None and item.time_base is not None and not clock.wait_for(float(item.pts * item.time_base)):
                        return
                    loop.call_soon_threadsafe(deliver, kind, item)
        except Exception:
            log.exception("source reader failed")
        finally:
            self._container.close()
            if not self._quit.is_set():  # the source ended by itself (not closed by the agent)
                for kind in self._decode:
                    loop.call_soon_threadsafe(deliver, kind, None)


class _Rising:
    """Timestamps of a looped file that keep rising from one pass to the next."""

    def __init__(self) -> None:
        self._offset, self._last = 0, None

    def pts(self, pts: int, duration: int | None) -> int:
        if self._last is not None and pts + self._offset <= self._last:
            self._offset = self._last + (duration or 1) - pts  # the file started over
        self._last = pts + self._offset
        return self._last


class _Clock:
    """Real-time pacing of a file: wait until a media time is due (False: asked to quit meanwhile)."""

    def __init__(self, quit: threading.Event) -> None:
        self._quit, self._start = quit, None

    def wait_for(self, media_time: float) -> bool:
        now = time.monotonic()
        if self._start is None:
            self._start = now - media_time
        delay = self._start + media_time - now
        return not (delay > 0 and self._quit.wait(delay))
